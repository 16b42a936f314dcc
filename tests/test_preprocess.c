/* Image decoding + preprocessing:
 *  1. llama.cpp-mode preprocessing of media/test-1.jpeg against llama.cpp's
 *     exact ViT inputs (ref/image/F32_ref_preproc.u8); the decode is checked
 *     against stb_image's md5 (ref/image/decoded_rgb_checksum.txt) and the
 *     difference it makes is measured and bounded;
 *  2. the prompt layout against the fixture's chunk list;
 *  3. transformers-mode tile grids for several aspect ratios (expected
 *     values worked out by hand from image_processing_smolvlm.py) and
 *     hand-computed resize cases;
 *  4. robustness: 1×1, grayscale, alpha, 16-bit, corrupt, truncated and
 *     absurd-size images give clean results or clean errors. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <jansson.h>
#include <libavutil/md5.h>

#include "decode/image.h"
#include "encoder/preprocess.h"
#include "fixture_set.h"
#include "harness.h"

static char fixtures[1024], media[1024];

static void *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    if (b) b[n] = 0;
    fclose(f);
    *size = (size_t)n;
    return b;
}

static long json_int(const char *json, const char *key)
{
    char pat[128];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(json, pat);
    return p ? strtol(p + strlen(pat), NULL, 10) : -1;
}

/* ---- PNG encoding with libavcodec (test inputs) --------------------------- */

static uint8_t *encode_png(int w, int h, enum AVPixelFormat fmt, const uint8_t *pixels, int bpp, size_t *size)
{
    const AVCodec *c = avcodec_find_encoder(AV_CODEC_ID_PNG);
    if (!c) return NULL;
    AVCodecContext *ctx = avcodec_alloc_context3(c);
    ctx->width = w;
    ctx->height = h;
    ctx->pix_fmt = fmt;
    ctx->time_base = (AVRational){1, 25};
    uint8_t *out = NULL;
    if (avcodec_open2(ctx, c, NULL) == 0) {
        AVFrame *fr = av_frame_alloc();
        fr->width = w;
        fr->height = h;
        fr->format = fmt;
        av_frame_get_buffer(fr, 0);
        for (int y = 0; y < h; y++) memcpy(fr->data[0] + (size_t)y * fr->linesize[0], pixels + (size_t)y * w * bpp, (size_t)w * bpp);
        AVPacket *pkt = av_packet_alloc();
        if (avcodec_send_frame(ctx, fr) == 0 && avcodec_send_frame(ctx, NULL) == 0 && avcodec_receive_packet(ctx, pkt) == 0) {
            out = malloc((size_t)pkt->size);
            memcpy(out, pkt->data, (size_t)pkt->size);
            *size = (size_t)pkt->size;
        }
        av_packet_free(&pkt);
        av_frame_free(&fr);
    }
    avcodec_free_context(&ctx);
    return out;
}

/* ---- 1. llama.cpp-mode parity on test-1.jpeg ------------------------------ */

/* What the set says about its image reference: the mmproj's longest edge
 * (config v_longest_edge), the clip the reference ran, and the tile grid
 * llama.cpp made (the largest <row_R_col_C> marker in its chunk list). */
typedef struct image_ref {
    int longest_edge, rows, cols;
    char media[256];
} image_ref;

static image_ref read_image_ref(void)
{
    image_ref r = {0};
    char path[4400];
    fx_require_model("-config.json", path, sizeof path);
    json_t *cfg = json_load_file(path, 0, NULL);
    r.longest_edge = (int)json_integer_value(json_object_get(json_object_get(cfg, "config"), "v_longest_edge"));
    json_decref(cfg);
    REQUIRE(r.longest_edge > 0, "%s: no config.v_longest_edge", path);
    snprintf(path, sizeof path, "%s/ref/image/F32_ref_info.json", fixtures);
    json_t *info = json_load_file(path, 0, NULL);
    const char *clip = json_string_value(json_object_get(info, "media"));
    REQUIRE(clip && strlen(clip) < sizeof r.media, "%s: no media", path);
    snprintf(r.media, sizeof r.media, "%s", clip);
    size_t i;
    json_t *ch;
    json_array_foreach(json_object_get(info, "chunks"), i, ch) {
        const char *text = json_string_value(json_object_get(ch, "text"));
        for (const char *p = text ? strstr(text, "<row_") : NULL; p; p = strstr(p + 1, "<row_")) {
            int row, col;
            if (sscanf(p, "<row_%d_col_%d>", &row, &col) != 2) continue;
            if (row > r.rows) r.rows = row;
            if (col > r.cols) r.cols = col;
        }
    }
    json_decref(info);
    REQUIRE(r.rows > 0 && r.cols > 0, "%s: no <row_R_col_C> marker in the chunk list", path);
    return r;
}

static void test_llamacpp_jpeg(void)
{
    const image_ref ir = read_image_ref();
    char path[1400];
    snprintf(path, sizeof path, "%s/%s", media, ir.media);
    vl_image im;
    vllm_status st = vl_image_load(path, &im);
    REQUIRE(st == VLLM_OK, "load %s: %s", path, vl_error_message());
    CHECK(im.width == 640 && im.height == 488, "test-1.jpeg decoded as %dx%d", im.width, im.height);

    /* decode vs stb_image: compare md5 */
    size_t ck_size;
    snprintf(path, sizeof path, "%s/ref/image/decoded_rgb_checksum.txt", fixtures);
    char *ck = slurp(path, &ck_size);
    uint8_t md5[16];
    av_md5_sum(md5, im.data, (int)(im.stride * im.height));
    char hex[33];
    for (int i = 0; i < 16; i++) snprintf(hex + 2 * i, 3, "%02x", md5[i]);
    int same_decode = ck && strstr(ck, hex) != NULL;
    fprintf(stderr, "libavcodec decode md5 %s: %s stb_image's\n", hex, same_decode ? "equals" : "differs from");
    free(ck);

    /* preprocessing vs llama.cpp's ViT inputs */
    size_t info_size, pre_size;
    snprintf(path, sizeof path, "%s/ref/image/F32_ref_info.json", fixtures);
    char *info = slurp(path, &info_size);
    snprintf(path, sizeof path, "%s/ref/image/F32_ref_preproc.u8", fixtures);
    uint8_t *ref = slurp(path, &pre_size);
    REQUIRE(info && ref, "missing fixture files");
    long n_ref = json_int(info, "n_image_chunks");
    /* S and L of the tiny mmproj: from the preproc size and README §1.3
     * (64, 256); S is derived from the dump so nothing is assumed twice */
    int S = 0;
    for (int s = 1; s <= 1024; s++)
        if ((size_t)n_ref * 3 * s * s == pre_size) S = s;
    REQUIRE(S > 0, "cannot infer tile size from %zu bytes / %ld tiles", pre_size, n_ref);
    vl_tiles t;
    st = vl_preprocess_image(&(vl_rgb8){im.data, im.width, im.height, im.stride}, S, ir.longest_edge,
                             VL_PREPROC_LLAMACPP, &t);
    REQUIRE(st == VLLM_OK, "preprocess: %s", vl_error_message());
    CHECK(t.n_tiles == n_ref, "%d tiles, llama.cpp made %ld", t.n_tiles, n_ref);
    CHECK(t.rows == ir.rows && t.cols == ir.cols, "grid %dx%d, llama.cpp's %dx%d", t.rows, t.cols, ir.rows, ir.cols);
    if (t.n_tiles == n_ref) {
        const size_t per = (size_t)3 * S * S;
        int worst_tiles = 0, worst_ov = 0;
        size_t n_diff = 0;
        for (int k = 0; k < t.n_tiles; k++)
            for (size_t i = 0; i < per; i++) {
                int d = abs((int)t.u8[k * per + i] - (int)ref[k * per + i]);
                if (d) n_diff++;
                if (k == t.n_tiles - 1) worst_ov = d > worst_ov ? d : worst_ov;
                else worst_tiles = d > worst_tiles ? d : worst_tiles;
            }
        fprintf(stderr, "preproc vs llama.cpp: tiles max|diff| %d, overview max|diff| %d, %zu of %zu values differ\n",
                worst_tiles, worst_ov, n_diff, per * t.n_tiles);
        if (same_decode) {
            /* same pixels in: README §2 tolerance (±1 bicubic, exact overview) */
            CHECK(worst_tiles <= 1, "tiles differ by %d", worst_tiles);
            CHECK(worst_ov == 0, "overview differs by %d", worst_ov);
        } else {
            /* libavcodec's IDCT/chroma upsampling differ from stb_image's by a
             * few levels per pixel (measured: tiles 9, overview 6, a quarter of
             * the values differ); the bound leaves a little room for other
             * libavcodec versions. */
            CHECK(worst_tiles <= 12 && worst_ov <= 12, "preproc differs by %d/%d (decoder difference bound 12)",
                  worst_tiles, worst_ov);
            CHECK(n_diff < per * t.n_tiles / 2, "too many differing values: %zu", n_diff);
        }
    }
    vl_tiles_free(&t);

    /* 2. prompt layout vs the fixture's chunk list: the text between image
     * chunks must equal our text pieces between tiles */
    int np = vl_idefics3_layout_size(ir.rows, ir.cols);
    vl_prompt_piece *pc = calloc((size_t)np, sizeof *pc);
    int n = vl_idefics3_layout(ir.rows, ir.cols, pc, np);
    CHECK(n > 0 && n <= np, "layout returned %d", n);
    CHECK(vl_idefics3_layout(ir.rows, ir.cols, pc, 3) == -1, "layout must report a short buffer");
    char seg[256] = "";
    int seg_i = 0, tile_expect = 0;
    const char *p = strstr(info, "\"chunks\"");
    for (int i = 0; i < n && p; i++) {
        if (pc[i].tile < 0) {
            strncat(seg, pc[i].text, sizeof seg - strlen(seg) - 1);
            continue;
        }
        CHECK(pc[i].tile == tile_expect, "piece %d holds tile %d, expected %d", i, pc[i].tile, tile_expect);
        tile_expect++;
        /* the matching text chunk (before image chunk seg_i) */
        const char *tx = strstr(p, "\"text\": \"");
        REQUIRE(tx, "chunk text %d", seg_i);
        tx += 9;
        char got[256];
        size_t k = 0;
        for (; *tx && *tx != '"' && k + 1 < sizeof got; tx++) {
            if (*tx == '\\' && tx[1] == 'n') {
                got[k++] = '\n';
                tx++;
            } else {
                got[k++] = *tx;
            }
        }
        got[k] = 0;
        size_t ls = strlen(seg);
        int ok = seg_i == 0 ? (k >= ls && strcmp(got + k - ls, seg) == 0) : strcmp(got, seg) == 0;
        CHECK(ok, "text before image %d: fixture '%s', layout '%s'", seg_i, got, seg);
        p = tx;
        seg[0] = 0;
        seg_i++;
    }
    /* after the overview: the fixture's last chunk starts with our tail */
    const char *tx = p ? strstr(p, "\"text\": \"") : NULL;
    CHECK(tx && strncmp(tx + 9, seg, strlen(seg)) == 0, "tail after overview: '%s'", seg);
    CHECK(tile_expect == n_ref, "layout has %d tiles", tile_expect);
    free(pc);
    free(info);
    free(ref);
    vl_image_free(&im);
}

/* ---- 3. transformers mode ------------------------------------------------- */

static void grid_case(int w, int h, int S, int L, int rows, int cols, int n_tiles)
{
    uint8_t *px = calloc((size_t)w * h * 3, 1);
    vl_tiles t;
    vllm_status st = vl_preprocess_image(&(vl_rgb8){px, w, h, (size_t)w * 3}, S, L, VL_PREPROC_HF, &t);
    CHECK(st == VLLM_OK, "HF %dx%d: %s", w, h, vl_error_message());
    CHECK(t.rows == rows && t.cols == cols && t.n_tiles == n_tiles, "HF %dx%d S=%d L=%d: %dx%d/%d tiles, expected %dx%d/%d",
          w, h, S, L, t.rows, t.cols, t.n_tiles, rows, cols, n_tiles);
    vl_tiles_free(&t);
    free(px);
}

static void test_hf(void)
{
    /* 640x488, S 64, L 256: long side 256, short int(256/(640/488)) = 195 -> 196
     * (odd +1); to multiples of 64: 256 x ceil(int(256/(256/196))/64)*64 = 256
     * -> 4x4 + global */
    grid_case(640, 488, 64, 256, 4, 4, 17);
    /* 128x64: 256x128 -> 256x128 -> 2 rows x 4 cols + global */
    grid_case(128, 64, 64, 256, 2, 4, 9);
    /* portrait 64x200: h 256, w int(256*0.32) = 81 -> 82; h2 256, w2
     * int(256*82/256) = 82 -> 128: 4 rows x 2 cols + global */
    grid_case(64, 200, 64, 256, 4, 2, 9);
    /* tiny square 10x10 is upscaled: 256x256 -> 4x4 + global */
    grid_case(10, 10, 64, 256, 4, 4, 17);
    /* L = S: an image resized to exactly SxS is not split */
    grid_case(300, 300, 64, 64, 0, 0, 1);
    /* SmolVLM2-256M shape: S 512, L 2048, 1920x1080 -> 2048x1152 -> 2048x1536: 3x4 */
    grid_case(1920, 1080, 512, 2048, 3, 4, 13);

    /* hand-computed resizes: a constant image stays constant through every
     * filter (weights are normalized) */
    uint8_t *c = malloc(37 * 23 * 3);
    for (int i = 0; i < 37 * 23 * 3; i++) c[i] = (uint8_t)(i % 3 == 0 ? 200 : i % 3 == 1 ? 17 : 99);
    vl_tiles t;
    CHECK(vl_preprocess_image(&(vl_rgb8){c, 37, 23, 37 * 3}, 16, 64, VL_PREPROC_HF, &t) == VLLM_OK, "const HF");
    int bad = 0;
    for (int k = 0; k < t.n_tiles; k++)
        for (int ch = 0; ch < 3; ch++)
            for (int i = 0; i < 16 * 16; i++) {
                int v = t.u8[((size_t)k * 3 + ch) * 256 + i];
                int want = ch == 0 ? 200 : ch == 1 ? 17 : 99;
                /* padding never happens in HF mode: every pixel is image */
                if (v != want) bad++;
            }
    CHECK(bad == 0, "constant image changed in %d values", bad);
    vl_tiles_free(&t);
    uint8_t frame[3 * 16 * 16];
    CHECK(vl_preprocess_video_frame(&(vl_rgb8){c, 37, 23, 37 * 3}, 16, 0, frame) == VLLM_OK, "video frame");
    CHECK(frame[0] == 200 && frame[256] == 17 && frame[512 + 255] == 99, "video frame constant: %d %d %d", frame[0],
          frame[256], frame[767]);
    free(c);

    /* llama.cpp bilinear, hand-computed: 3x3 -> overview 2x2 uses ratios
     * (3-1)/(2-1) = 2, so samples land exactly on the corners (0,0),(2,0),(0,2),(2,2) */
    uint8_t g[27];
    for (int i = 0; i < 9; i++) g[3 * i] = g[3 * i + 1] = g[3 * i + 2] = (uint8_t)(10 * i + 5);
    CHECK(vl_preprocess_image(&(vl_rgb8){g, 3, 3, 9}, 2, 4, VL_PREPROC_LLAMACPP, &t) == VLLM_OK, "3x3");
    if (t.u8) {
        const uint8_t *ov = t.u8 + (size_t)(t.n_tiles - 1) * 12;
        CHECK(ov[0] == 5 && ov[1] == 25 && ov[2] == 65 && ov[3] == 85, "bilinear overview %d %d %d %d", ov[0], ov[1], ov[2], ov[3]);
        /* L=4, S=2: refined 4x4 = 2x2 grid */
        CHECK(t.rows == 2 && t.cols == 2 && t.n_tiles == 5, "3x3 grid %dx%d", t.rows, t.cols);
    }
    vl_tiles_free(&t);

    /* normalization */
    uint8_t u[3] = {0, 255, 51};
    float f[3], mean[3] = {0.5f, 0.5f, 0.5f}, sd[3] = {0.5f, 0.5f, 0.5f};
    vl_normalize_planar(u, 1, 1, mean, sd, f);
    CHECK(f[0] == -1.0f && f[1] == 1.0f && f[2] > -0.6001f && f[2] < -0.5999f, "normalize %g %g %g", f[0], f[1], f[2]);

    /* unsplit layout */
    vl_prompt_piece pc[4];
    CHECK(vl_idefics3_layout(0, 0, pc, 4) == 4 && pc[2].tile == 0 && strcmp(pc[1].text, "<global-img>") == 0, "unsplit layout");
}

/* ---- 4. robustness --------------------------------------------------------- */

static void test_robustness(void)
{
    size_t sz;
    vl_image im;
    vllm_status st;
    /* 1x1 RGB */
    uint8_t one[3] = {250, 10, 128};
    uint8_t *png = encode_png(1, 1, AV_PIX_FMT_RGB24, one, 3, &sz);
    REQUIRE(png, "png encoder unavailable");
    st = vl_image_decode(png, sz, 0, &im);
    CHECK(st == VLLM_OK && im.width == 1 && im.height == 1 && im.data[0] == 250 && im.data[1] == 10 && im.data[2] == 128,
          "1x1 png: %s", vl_error_message());
    if (st == VLLM_OK) {
        vl_tiles t;
        CHECK(vl_preprocess_image(&(vl_rgb8){im.data, 1, 1, im.stride}, 64, 256, VL_PREPROC_LLAMACPP, &t) == VLLM_OK,
              "1x1 llama.cpp preprocess: %s", vl_error_message());
        vl_tiles_free(&t);
        CHECK(vl_preprocess_image(&(vl_rgb8){im.data, 1, 1, im.stride}, 64, 256, VL_PREPROC_HF, &t) == VLLM_OK,
              "1x1 HF preprocess: %s", vl_error_message());
        CHECK(t.u8 && t.u8[0] == 250, "1x1 HF tile value %d", t.u8 ? t.u8[0] : -1);
        vl_tiles_free(&t);
        uint8_t fr[3 * 8 * 8];
        CHECK(vl_preprocess_video_frame(&(vl_rgb8){im.data, 1, 1, im.stride}, 8, 0, fr) == VLLM_OK && fr[0] == 250,
              "1x1 video frame");
    }
    vl_image_free(&im);
    free(png);

    /* grayscale */
    uint8_t gray[4 * 3];
    for (int i = 0; i < 12; i++) gray[i] = (uint8_t)(i * 20);
    png = encode_png(4, 3, AV_PIX_FMT_GRAY8, gray, 1, &sz);
    st = vl_image_decode(png, sz, 0, &im);
    CHECK(st == VLLM_OK && im.width == 4 && im.height == 3, "gray: %s", vl_error_message());
    if (st == VLLM_OK)
        CHECK(im.data[3 * 5] == 100 && im.data[3 * 5 + 1] == 100 && im.data[3 * 5 + 2] == 100, "gray pixel 5 -> %d,%d,%d",
              im.data[15], im.data[16], im.data[17]);
    vl_image_free(&im);
    free(png);

    /* RGBA: drop (llama.cpp) vs over white (transformers) */
    uint8_t rgba[2 * 4] = {200, 100, 0, 0, 200, 100, 0, 128};
    png = encode_png(2, 1, AV_PIX_FMT_RGBA, rgba, 4, &sz);
    st = vl_image_decode(png, sz, VL_IMAGE_ALPHA_DROP, &im);
    CHECK(st == VLLM_OK && im.data[0] == 200 && im.data[1] == 100 && im.data[2] == 0, "rgba drop: %s", vl_error_message());
    vl_image_free(&im);
    st = vl_image_decode(png, sz, VL_IMAGE_ALPHA_WHITE, &im);
    /* pixel 0 fully transparent -> white; pixel 1: 200*128/255 + 255*127/255 = 227.4 -> 227 */
    CHECK(st == VLLM_OK && im.data[0] == 255 && im.data[2] == 255 && im.data[3] == 227 && im.data[5] == 127,
          "rgba white: %d %d %d / %d %d %d", im.data ? im.data[0] : -1, im.data ? im.data[1] : -1, im.data ? im.data[2] : -1,
          im.data ? im.data[3] : -1, im.data ? im.data[4] : -1, im.data ? im.data[5] : -1);
    vl_image_free(&im);
    free(png);

    /* 16-bit RGB (big-endian samples): 0x1234 -> 0x12 (+rounding) */
    uint8_t rgb48[6] = {0xff, 0xff, 0x80, 0x00, 0x00, 0x00};
    png = encode_png(1, 1, AV_PIX_FMT_RGB48BE, rgb48, 6, &sz);
    st = vl_image_decode(png, sz, 0, &im);
    CHECK(st == VLLM_OK && im.data[0] == 255 && (im.data[1] == 128 || im.data[1] == 127) && im.data[2] == 0,
          "rgb48: %s %d %d %d", vl_error_message(), im.data ? im.data[0] : -1, im.data ? im.data[1] : -1,
          im.data ? im.data[2] : -1);
    vl_image_free(&im);
    free(png);

    /* corrupt: random bytes, empty input, truncated JPEG, missing file */
    uint8_t junk[512];
    for (int i = 0; i < 512; i++) junk[i] = (uint8_t)(i * 37 + 11);
    CHECK(vl_image_decode(junk, sizeof junk, 0, &im) != VLLM_OK, "junk decoded");
    CHECK(im.data == NULL, "junk left data");
    CHECK(vl_image_decode(junk, 0, 0, &im) != VLLM_OK, "empty decoded");
    char path[1400];
    snprintf(path, sizeof path, "%s/test-1.jpeg", media);
    uint8_t *jpg = slurp(path, &sz);
    if (jpg) {
        st = vl_image_decode(jpg, sz / 2, 0, &im);
        CHECK(st == VLLM_ERR_DECODE, "truncated jpeg: status %d (%s)", st, vl_error_message());
        vl_image_free(&im);
        st = vl_image_decode(jpg, 600, 0, &im); /* headers only */
        CHECK(st != VLLM_OK, "600-byte jpeg decoded");
        vl_image_free(&im);
        free(jpg);
    }
    CHECK(vl_image_load("/nonexistent/x.png", &im) == VLLM_ERR_IO, "missing file");

    /* absurd size: a BMP header announcing 20000x20000 24-bit with no data */
    uint8_t bmp[54] = {'B', 'M'};
    uint32_t v;
    v = 54 + 20000u * 60000u; memcpy(bmp + 2, &v, 4);
    v = 54; memcpy(bmp + 10, &v, 4);
    v = 40; memcpy(bmp + 14, &v, 4);
    v = 20000; memcpy(bmp + 18, &v, 4); memcpy(bmp + 22, &v, 4);
    bmp[26] = 1; bmp[28] = 24;
    st = vl_image_decode(bmp, sizeof bmp, 0, &im);
    CHECK(st == VLLM_ERR_UNSUPPORTED || st == VLLM_ERR_DECODE, "20000x20000 bmp: status %d", st);
    fprintf(stderr, "20000x20000 header: %s\n", vl_error_message());
    vl_image_free(&im);

    /* preprocessing argument checks */
    vl_tiles t;
    uint8_t px[3] = {0};
    CHECK(vl_preprocess_image(&(vl_rgb8){px, 0, 1, 3}, 64, 256, VL_PREPROC_HF, &t) == VLLM_ERR_INVALID_ARG, "0 width");
    CHECK(vl_preprocess_image(&(vl_rgb8){px, 1, 1, 2}, 64, 256, VL_PREPROC_HF, &t) == VLLM_ERR_INVALID_ARG, "short stride");
    CHECK(vl_preprocess_image(&(vl_rgb8){px, 1, 1, 3}, 64, 0, VL_PREPROC_HF, &t) == VLLM_ERR_INVALID_ARG, "HF without L");
    CHECK(vl_preprocess_image(&(vl_rgb8){px, 40000, 1, 120000}, 64, 256, VL_PREPROC_HF, &t) == VLLM_ERR_INVALID_ARG,
          "huge width");
    /* many tiles: 1 x 30000 strip at S=1 -> refused by the tile limit, not allocated */
    uint8_t *strip = calloc(30000 * 3, 1);
    CHECK(vl_preprocess_image(&(vl_rgb8){strip, 30000, 1, 90000}, 1, 0, VL_PREPROC_LLAMACPP, &t) == VLLM_ERR_INVALID_ARG,
          "tile limit");
    free(strip);
}

TEST_MAIN_BEGIN
    const char *fx = getenv("VIDEOLLM_FIXTURES"), *td = getenv("VIDEOLLM_TEST_DATA");
    if (!td) TEST_SKIP("VIDEOLLM_TEST_DATA not set");
    if (fx) snprintf(fixtures, sizeof fixtures, "%s", fx);
    else snprintf(fixtures, sizeof fixtures, "%s/tiny-smolvlm2", td);
    snprintf(media, sizeof media, "%s/media", td);
    test_llamacpp_jpeg();
    test_hf();
    test_robustness();
TEST_MAIN_END
