/* Preprocessing for the dynamic-resolution towers (preprocess_dynamic.h)
 * against llama.cpp's ViT inputs in the Qwen fixture sets:
 *
 *  1. compat mode, still image: media/test-1.jpeg decoded here
 *     (libavcodec), smart-resized with llama.cpp's limits (min 8 tokens,
 *     max = the JSON's image_max_tokens, -1 = its default 4096) -> the ViT
 *     input size of the reference and of the full-resolution reference
 *     exactly; pixels bit-exact where our decode equals stb_image's, else
 *     within the decoders' difference;
 *  2. compat mode, video: frames 0, 1, 2 of media/test-3.mp4 at ffmpeg's
 *     fps=4 selection (md5 = llama.cpp's frames) -> the exact uint8 ViT
 *     inputs of the first single-frame chunk and the first frame pair;
 *  3. transformers mode: smart_resize cases worked out by hand from
 *     transformers' formula (round half to even, floor/ceil by beta, the
 *     200 aspect limit), and a stretch with no black border;
 *  4. bad sizes and budgets get clear errors. */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavutil/md5.h>

#include "core/gguf.h"
#include "decode/image.h"
#include "decode/video.h"
#include "encoder/encoder.h"
#include "encoder/preprocess_dynamic.h"
#include "fixture_set.h"
#include "harness.h"
#include "json.h"

static void md5_hex(const uint8_t *p, size_t n, char hex[33])
{
    uint8_t md5[16];
    av_md5_sum(md5, p, (int)n);
    for (int i = 0; i < 16; i++) snprintf(hex + 2 * i, 3, "%02x", md5[i]);
}

/* llama.cpp's Qwen-VL defaults (hard-coded in mtmd for QWEN2VL/25VL/3VL) */
#define LLAMACPP_MIN_TOKENS 8
#define LLAMACPP_MAX_TOKENS 4096

static int64_t max_pixels_of(const json *info, int align)
{
    const int t = (int)json_num(json_get(info, "image_max_tokens"), -1);
    return (int64_t)(t > 0 ? t : LLAMACPP_MAX_TOKENS) * align * align;
}

/* ---- 1. still image ---------------------------------------------------------------- */

static void check_image(const char *set, int align, const float mean[3], const float std[3])
{
    char path[1400];
    snprintf(path, sizeof path, "%s/../media/test-1.jpeg", set);
    vl_image im;
    REQUIRE(vl_image_load(path, &im) == VLLM_OK, "%s: %s", path, vllm_last_error());
    char hex[33];
    md5_hex(im.data, im.stride * im.height, hex);
    snprintf(path, sizeof path, "%s/ref/image/decoded_rgb_checksum.txt", set);
    size_t n;
    char *ck = read_file_all(path, &n);
    const int same_decode = ck && strstr(ck, hex);
    free(ck);
    const vl_rgb8 view = {im.data, im.width, im.height, im.stride};
    static const char *const cfgs[2] = {"F32_ref", "F32_fullres_ref"};
    for (int k = 0; k < 2; k++) {
        snprintf(path, sizeof path, "%s/ref/image/%s_info.json", set, cfgs[k]);
        /* the fullres run (llama.cpp's default token limits) is made for the
         * main sets only (fixtures/tools/make_set.sh); held-back sets have none */
        if (k == 1 && access(path, F_OK) != 0) {
            printf("  %s: not in this set (no %s)\n", cfgs[k], path);
            continue;
        }
        json *info = json_load(path);
        REQUIRE(info, "cannot read %s", path);
        const json *ch = NULL, *chunks = json_get(info, "chunks");
        for (size_t i = 0; chunks && i < chunks->n && !ch; i++)
            if (!strcmp(json_str(json_get(json_at(chunks, i), "type"), ""), "image")) ch = json_at(chunks, i);
        REQUIRE(ch, "%s: no image chunk", path);
        const int rw = (int)json_num(json_get(ch, "vit_input_w"), 0), rh = (int)json_num(json_get(ch, "vit_input_h"), 0);
        vl_frame8 f;
        REQUIRE(vl_preprocess_dynamic(&view, align, (int64_t)LLAMACPP_MIN_TOKENS * align * align, max_pixels_of(info, align),
                                      VL_PREPROC_LLAMACPP, &f) == VLLM_OK,
                "%s", vllm_last_error());
        CHECK(f.width == rw && f.height == rh, "%s: %dx%d, llama.cpp's ViT input is %dx%d", cfgs[k], f.width, f.height, rw,
              rh);
        printf("  %s: %dx%d -> %dx%d (llama.cpp %dx%d)\n", cfgs[k], im.width, im.height, f.width, f.height, rw, rh);
        const char *pf = json_str(json_get(info, "pixels_first_file"), NULL);
        if (pf && f.width == rw && f.height == rh) {
            snprintf(path, sizeof path, "%s/ref/image/%s", set, pf);
            float *ref = (float *)read_file_all(path, &n);
            REQUIRE(ref && n == (size_t)3 * rw * rh * sizeof(float), "%s", path);
            int worst = 0;
            size_t n_diff = 0;
            for (int c = 0; c < 3; c++)
                for (size_t i = 0; i < (size_t)rw * rh; i++) {
                    const size_t j = (size_t)c * rw * rh + i;
                    const float mine = ((float)f.u8[j] / 255.0f - mean[c]) / std[c];
                    /* back to the level llama.cpp had: invert its normalization */
                    const int lvl = (int)lroundf((ref[j] * std[c] + mean[c]) * 255.0f);
                    const int d = abs(lvl - (int)f.u8[j]);
                    worst = d > worst ? d : worst;
                    n_diff += mine != ref[j];
                }
            printf("  %s %dx%d: %zu of %d values differ, max %d levels (decode %s stb_image's)\n", cfgs[k], rw, rh, n_diff,
                   3 * rw * rh, worst, same_decode ? "equals" : "differs from");
            if (same_decode) CHECK(n_diff == 0, "%s: %zu pixels differ with the same decode", cfgs[k], n_diff);
            /* libavcodec's and stb_image's JPEG decoders differ by a few levels (test_preprocess measures it) */
            else CHECK(worst <= 8, "%s: max %d levels from llama.cpp's input", cfgs[k], worst);
            free(ref);
        }
        vl_frame8_free(&f);
        json_free(info);
    }
    vl_image_free(&im);
}

/* ---- 2. video frames ---------------------------------------------------------------- */

static void check_video(const char *set, int align)
{
    char path[1400];
    snprintf(path, sizeof path, "%s/ref/video/F32_ref_info.json", set);
    json *info = json_load(path);
    if (!info) return;
    snprintf(path, sizeof path, "%s/ref/video/frames_md5.txt", set);
    size_t n;
    char *md5s = read_file_all(path, &n);
    REQUIRE(md5s, "cannot read %s", path);
    snprintf(path, sizeof path, "%s/../media/test-3.mp4", set);
    vl_video *vid = NULL;
    REQUIRE(vl_video_open(path, &vid) == VLLM_OK, "%s: %s", path, vllm_last_error());
    vl_sampling s = vl_sampling_default();
    s.policy = VL_SAMPLE_FFMPEG_FPS;
    s.fps = 4.0; /* llama.cpp's video helper default */
    s.max_frames = 0;
    REQUIRE(vl_video_sample_begin(vid, &s) == VLLM_OK, "%s", vllm_last_error());
    vl_frame8 fr[3] = {0};
    int same = 1;
    for (int i = 0; i < 3; i++) {
        vl_rgb_frame f;
        REQUIRE(vl_video_sample_next(vid, &f) == VLLM_OK, "frame %d: %s", i, vllm_last_error());
        /* frames_md5 hashes packed rows */
        uint8_t *packed = malloc((size_t)f.width * f.height * 3);
        for (int y = 0; y < f.height; y++) memcpy(packed + (size_t)y * f.width * 3, f.rgb + (size_t)y * f.stride, (size_t)f.width * 3);
        char hex[33], line[64];
        md5_hex(packed, (size_t)f.width * f.height * 3, hex);
        snprintf(line, sizeof line, "\n%d %s", i, hex);
        same &= strstr(md5s, line) != NULL;
        const vl_rgb8 view = {packed, f.width, f.height, (size_t)f.width * 3};
        REQUIRE(vl_preprocess_dynamic(&view, align, (int64_t)LLAMACPP_MIN_TOKENS * align * align, max_pixels_of(info, align),
                                      VL_PREPROC_LLAMACPP, &fr[i]) == VLLM_OK,
                "%s", vllm_last_error());
        free(packed);
    }
    vl_video_close(vid);
    CHECK(same, "decoded frames 0..2 differ from llama.cpp's (frames_md5.txt)");
    static const char *const which[2] = {"first", "second"};
    for (int k = 0; k < 2; k++) {
        char key[64];
        snprintf(key, sizeof key, "pixels_%s_ggml_ne", which[k]);
        const json *ne = json_get(info, key);
        snprintf(key, sizeof key, "pixels_%s_file", which[k]);
        snprintf(path, sizeof path, "%s/ref/video/%s", set, json_str(json_get(info, key), ""));
        uint8_t *ref = (uint8_t *)read_file_all(path, &n);
        REQUIRE(ref && ne && ne->n == 4, "%s", path);
        const int W = (int)json_num(json_at(ne, 0), 0), H = (int)json_num(json_at(ne, 1), 0);
        const int B = (int)json_num(json_at(ne, 3), 0);
        const size_t frame = (size_t)3 * W * H;
        REQUIRE(n == frame * B && B >= 1 && B <= 2, "%s: %zu bytes", path, n);
        /* chunk 0 = frame 0 alone, chunk 1 = frames 1 and 2 */
        size_t n_diff = 0;
        for (int b = 0; b < B; b++) {
            const vl_frame8 *f = &fr[k == 0 ? 0 : 1 + b];
            CHECK(f->width == W && f->height == H, "frame %dx%d, llama.cpp %dx%d", f->width, f->height, W, H);
            if (f->width == W && f->height == H)
                for (size_t i = 0; i < frame; i++) n_diff += f->u8[i] != ref[b * frame + i];
        }
        printf("  video chunk %d (%d frame%s %dx%d): %zu values differ\n", k, B, B > 1 ? "s" : "", W, H, n_diff);
        CHECK(n_diff == 0, "video chunk %d: %zu pixel values differ from llama.cpp's", k, n_diff);
        free(ref);
    }
    for (int i = 0; i < 3; i++) vl_frame8_free(&fr[i]);
    free(md5s);
    json_free(info);
}

/* ---- 3. transformers' smart_resize ---------------------------------------------------- */

static void check_hf(void)
{
    /* {W, H, factor, min, max, expected w, h}: worked by hand from
     * h_bar = round(H/f)*f (half to even), w_bar likewise, then
     * beta = sqrt(H*W/max) -> floor(H/beta/f)*f, or sqrt(min/(H*W)) -> ceil */
    static const struct {
        int W, H, f;
        long long mn, mx;
        int w, h;
    } cases[] = {
        {640, 488, 28, 3136, 12845056, 644, 476}, /* 22.857 -> 23, 17.43 -> 17: no limit hit */
        {70, 42, 28, 3136, 12845056, 56, 56},     /* 2.5 -> 2 (even), 1.5 -> 2 (even) */
        {98, 42, 28, 3136, 12845056, 112, 56},    /* 3.5 -> 4, 1.5 -> 2 */
        /* 644x476 > 28224: beta = sqrt(312320/28224) = 3.32652; 488/beta/28 = 5.239 -> 140, 640/beta/28 = 6.871 -> 168 */
        {640, 488, 28, 3136, 36 * 784, 168, 140},
        {20, 20, 28, 3136, 12845056, 56, 56},     /* round -> 28x28 = 784 < 3136: beta 2.8 -> ceil(2)*28 */
        {720, 358, 32, 8 * 1024, 40 * 1024, 256, 128},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int w = 0, h = 0;
        vllm_status st = vl_smart_size(cases[i].W, cases[i].H, cases[i].f, cases[i].mn, cases[i].mx, VL_PREPROC_HF, &w, &h);
        CHECK(st == VLLM_OK && w == cases[i].w && h == cases[i].h, "HF smart_resize %dx%d/%d: %dx%d, expected %dx%d",
              cases[i].W, cases[i].H, cases[i].f, w, h, cases[i].w, cases[i].h);
    }
    int w, h;
    CHECK(vl_smart_size(201 * 2, 2, 28, 0, 1 << 20, VL_PREPROC_HF, &w, &h) == VLLM_ERR_INVALID_ARG &&
              strstr(vllm_last_error(), "aspect"),
          "aspect 201: %s", vllm_last_error());
    CHECK(vl_smart_size(200 * 2, 2, 28, 0, 1 << 20, VL_PREPROC_HF, &w, &h) == VLLM_OK, "aspect 200 is allowed");
    /* stretched, not letterboxed: a uniform image stays uniform to the borders */
    uint8_t *px = malloc(100 * 50 * 3);
    memset(px, 200, 100 * 50 * 3);
    vl_frame8 f;
    REQUIRE(vl_preprocess_dynamic(&(vl_rgb8){px, 100, 50, 300}, 28, 3136, 12845056, VL_PREPROC_HF, &f) == VLLM_OK, "%s",
            vllm_last_error());
    CHECK(f.width == 112 && f.height == 56, "HF 100x50 -> %dx%d", f.width, f.height);
    int off = 0;
    for (size_t i = 0; i < (size_t)3 * f.width * f.height; i++) off += f.u8[i] != 200;
    CHECK(off == 0, "HF resize left %d values off a uniform 200 (black border?)", off);
    vl_frame8_free(&f);
    /* the compat mode letterboxes the same input (PAD_CEIL) */
    REQUIRE(vl_preprocess_dynamic(&(vl_rgb8){px, 100, 50, 300}, 28, 3136, 112 * 112, VL_PREPROC_LLAMACPP, &f) == VLLM_OK,
            "%s", vllm_last_error());
    CHECK(f.width == 112 && f.height == 56 && f.u8[0] == 200, "llama.cpp 100x50 -> %dx%d", f.width, f.height);
    vl_frame8_free(&f);
    free(px);
}

/* ---- 4. misuse -------------------------------------------------------------------------- */

static void check_errors(void)
{
    int w, h;
    uint8_t px[12] = {0};
    vl_frame8 f;
    CHECK(vl_smart_size(0, 10, 28, 0, 1 << 20, VL_PREPROC_LLAMACPP, &w, &h) == VLLM_ERR_INVALID_ARG, "0 width");
    CHECK(vl_smart_size(10, 10, 28, 0, 100, VL_PREPROC_LLAMACPP, &w, &h) == VLLM_ERR_INVALID_ARG &&
              strstr(vllm_last_error(), "budget"),
          "budget below one unit: %s", vllm_last_error());
    CHECK(vl_smart_size(10, 10, 28, 5000, 4000, VL_PREPROC_LLAMACPP, &w, &h) == VLLM_ERR_INVALID_ARG, "min > max");
    CHECK(vl_smart_size(30000, 30000, 28, 1LL << 40, 1LL << 41, VL_PREPROC_LLAMACPP, &w, &h) == VLLM_ERR_INVALID_ARG,
          "huge target: %s", vllm_last_error());
    CHECK(vl_preprocess_dynamic(&(vl_rgb8){px, 2, 2, 3}, 28, 0, 1 << 20, VL_PREPROC_LLAMACPP, &f) == VLLM_ERR_INVALID_ARG,
          "short stride");
    CHECK(vl_preprocess_dynamic(&(vl_rgb8){px, 2, 2, 6}, 28, 0, 1 << 20, VL_PREPROC_LLAMACPP, &f) == VLLM_OK &&
              f.width == 28 && f.height == 28,
          "2x2 -> one unit");
    vl_frame8_free(&f);
}

TEST_MAIN_BEGIN
    char sets[FX_MAX_SETS][FX_SET_PATH];
    const size_t n_sets = fx_qwen_sets(sets);
    int ran = 0;
    for (size_t i = 0; i < n_sets; i++) {
        char models[1100], path[2200];
        const char *set = sets[i];
        snprintf(models, sizeof models, "%s/models", set);
        REQUIRE(fx_find_in(models, "-mmproj-F32.gguf", path, sizeof path), "no models/*-mmproj-F32.gguf in %s", set);
        vl_gguf *g = NULL;
        vl_vision *v = NULL;
        REQUIRE(vl_gguf_open(path, 1, &g) == VLLM_OK && vl_vision_load(g, &v) == VLLM_OK, "%s", vllm_last_error());
        if (vl_vision_is_dynamic(v)) {
            float mean[3], std[3];
            vl_vision_norm(v, mean, std);
            printf("fixture set %s (align %d)\n", set, vl_vision_align(v));
            check_image(set, vl_vision_align(v), mean, std);
            check_video(set, vl_vision_align(v));
            ran++;
        }
        vl_vision_free(v);
        vl_gguf_close(g);
    }
    check_hf();
    check_errors();
    REQUIRE(ran > 0, "no dynamic-resolution fixture set found");
TEST_MAIN_END
