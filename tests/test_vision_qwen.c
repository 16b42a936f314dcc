/* The dynamic-resolution vision towers (qwen2.5vl_merger, qwen3vl_merger)
 * against llama.cpp's dumps, feeding the exact ViT input pixels it used:
 *
 *  - window order (Qwen2.5-VL): unit order = the dump's inv_window_idx,
 *    its inverse = window_idx, 2-D rope positions = the `positions` input;
 *  - every dumped intermediate of the first image (patch embedding, window
 *    order, position embedding, block 0 stages with rope, every layer
 *    output, post norm, merger before the window restore) and the merger
 *    output with deepstack columns, for a still image and for the first
 *    single-frame and first frame-pair chunks of the video;
 *  - in GGML mode (fp16 im2col + GELU table) at the README's emulated
 *    tolerances, in F32 at its non-emulated ones, BF16 within a bound;
 *  - transformers' merger GELU (exact erf, the default after loading):
 *    the merger and deepstack outputs equal a float64 rebuild of
 *    LN -> fc1 -> erf GELU -> fc2 from the tower's own taps and the GGUF's
 *    weights, which tell it from llama.cpp's tanh form;
 *  - bad sizes and frame counts get clear errors; malformed mmprojs too.
 * Fixture sets: $VIDEOLLM_FIXTURES, or tests/data/tiny-qwen25vl and
 * tiny-qwen3vl; files found by pattern, shapes and names from the JSON. */
#include <dirent.h>
#include <pthread.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/gguf.h"
#include "core/threadpool.h"
#include "decode/image.h"
#include "encoder/preprocess_dynamic.h"
#include "encoder/encoder.h"
#include "encoder/patch_order.h"
#include "gguf_writer.h"
#include "fixture_set.h"
#include "harness.h"
#include "json.h"
#include "vllm/videollm.h"

typedef struct {
    double max_abs, max_ref, rel_l2;
} diff;

static diff compare(const float *a, const float *ref, size_t n)
{
    diff d = {0, 0, 0};
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        const double e = fabs((double)a[i] - (double)ref[i]);
        if (!(e <= d.max_abs)) d.max_abs = e; /* NaN sticks */
        if (fabs(ref[i]) > d.max_ref) d.max_ref = fabs(ref[i]);
        num += e * e;
        den += (double)ref[i] * ref[i];
    }
    d.rel_l2 = den > 0 ? sqrt(num / den) : sqrt(num);
    return d;
}

static size_t ne_count(const json *ne)
{
    size_t n = 1;
    for (size_t i = 0; ne && i < ne->n; i++) n *= (size_t)json_num(json_at(ne, i), 0);
    return ne ? n : 0;
}

/* ---- tap: keep every stage output ---------------------------------------------- */

typedef struct {
    char name[32];
    int layer;
    float *data;
    size_t n;
} stage;

typedef struct {
    stage s[128];
    int n;
} stages;

static void tap(void *ud, const char *name, int layer, int tile0, int n_tiles, const float *data, int rows, int cols)
{
    (void)tile0, (void)n_tiles;
    stages *st = ud;
    if (st->n == 128) return;
    stage *s = &st->s[st->n++];
    snprintf(s->name, sizeof s->name, "%s", name);
    s->layer = layer;
    s->n = (size_t)rows * cols;
    s->data = malloc(s->n * sizeof(float));
    memcpy(s->data, data, s->n * sizeof(float));
}

static void stages_clear(stages *st)
{
    for (int i = 0; i < st->n; i++) free(st->s[i].data);
    st->n = 0;
}

/* "layer_out-3" -> ("layer_out", 3); "post_ln" -> ("post_ln", -1) */
static const stage *find_stage(const stages *st, const char *ref_name)
{
    char base[32];
    int layer = -1;
    snprintf(base, sizeof base, "%s", ref_name);
    char *dash = strrchr(base, '-');
    if (dash && dash[1] >= '0' && dash[1] <= '9') {
        layer = atoi(dash + 1);
        *dash = 0;
    }
    for (int i = 0; i < st->n; i++)
        if (!strcmp(st->s[i].name, base) && st->s[i].layer == layer) return &st->s[i];
    return NULL;
}

/* ---- per-precision tolerances (README section 3/4 tables) ------------------------- */

typedef struct {
    const char *name;
    vl_vision_precision prec;
    double stage_abs;  /* intermediates, max|diff| (0: use stage_rel) */
    double stage_rel;  /* intermediates, rel_l2 */
    double embd_abs, embd_rel_l2;
} mode;

/* GGML (fp16 im2col + GELU-table emulation): Qwen2.5-VL README "< 1e-6 abs"
 * for intermediates, "< 2e-5, rel_l2 < 5e-5" for embeddings; Qwen3-VL (GELU
 * inside every block, so table flips) "< 2e-5" and "< 3e-5, rel_l2 < 5e-5".
 * F32 (no emulation): intermediates rel 5e-4, embeddings 1e-4 / rel_l2 1e-3.
 * BF16 linear layers (8-bit mantissas): rel_l2 bound, ~10x the 2.8e-3 seen. */
static const mode modes_qwen25[] = {
    {"ggml", VL_VISION_GGML, 1e-6, 0, 2e-5, 5e-5},
    {"f32", VL_VISION_F32, 0, 5e-4, 1e-4, 1e-3},
    {"bf16", VL_VISION_BF16, 0, 0, 0, 3e-2},
};
static const mode modes_qwen3[] = {
    {"ggml", VL_VISION_GGML, 2e-5, 0, 3e-5, 5e-5},
    {"f32", VL_VISION_F32, 0, 5e-4, 1e-4, 1e-3},
    {"bf16", VL_VISION_BF16, 0, 0, 0, 3e-2},
};
static const mode *modes = modes_qwen25;
#define N_MODES 3

static float *normalize_u8(const uint8_t *u8, size_t n_frames, size_t plane, const vl_vision *v)
{
    float mean[3], std[3];
    vl_vision_norm(v, mean, std);
    float *f = malloc(n_frames * 3 * plane * sizeof(float));
    for (size_t fr = 0; fr < n_frames; fr++)
        for (int c = 0; c < 3; c++)
            for (size_t i = 0; i < plane; i++) {
                const size_t k = (fr * 3 + (size_t)c) * plane + i;
                f[k] = ((float)u8[k] / 255.0f - mean[c]) / std[c];
            }
    return f;
}

/* ---- window order and positions ----------------------------------------------- */

static void check_windows(const vl_vision *v, const json *info, int W, int H)
{
    const json *in = json_get(info, "vit_int_inputs_first_image");
    REQUIRE(in, "F32_ref_info.json has no vit_int_inputs_first_image");
    const int align = vl_vision_align(v), mh = H / align, mw = W / align, nu = mh * mw, n = 4 * nu;
    int32_t *unit_src = malloc(nu * sizeof *unit_src), *win_start = malloc((nu + 1) * sizeof *win_start);
    int32_t *py = malloc(n * sizeof *py), *px = malloc(n * sizeof *px);
    const int n_win = vl_vision_window_order(v, W, H, unit_src, win_start);
    const json *inv = json_get(in, "inv_window_idx"), *fwd = json_get(in, "window_idx");
    if (inv) {
        CHECK(inv->n == (size_t)nu, "inv_window_idx has %zu entries, grid %dx%d units", inv->n, mw, mh);
        int bad = 0;
        for (int j = 0; j < nu && j < (int)inv->n; j++) bad += unit_src[j] != (int)json_num(json_at(inv, j), -1);
        CHECK(bad == 0, "%d window-order slots differ from inv_window_idx", bad);
        int badf = 0;
        for (int j = 0; j < nu && fwd && j < (int)fwd->n; j++)
            badf += (int)json_num(json_at(fwd, unit_src[j]), -1) != j;
        CHECK(fwd && badf == 0, "%d slots differ from window_idx (the restore permutation)", badf);
        printf("  windows: %d windows over %dx%d units, unit order = llama.cpp's\n", n_win, mw, mh);
    } else {
        CHECK(n_win == 1, "a tower without window attention has %d windows", n_win);
        for (int j = 0; j < nu; j++) CHECK(unit_src[j] == j, "unit order %d = %d", j, unit_src[j]);
    }
    vl_patch_sequence(mh, mw, unit_src, NULL, py, px);
    const json *pos = json_get(in, "positions");
    REQUIRE(pos && pos->n == (size_t)4 * n, "positions: %zu entries, expected %d", pos ? pos->n : 0, 4 * n);
    int bad = 0;
    for (int s = 0; s < n; s++) {
        bad += (int)json_num(json_at(pos, s), -1) != py[s] || (int)json_num(json_at(pos, n + s), -1) != px[s];
        bad += (int)json_num(json_at(pos, 2 * n + s), -1) != py[s] || (int)json_num(json_at(pos, 3 * n + s), -1) != px[s];
    }
    CHECK(bad == 0, "%d rope positions differ from llama.cpp's [y|x|y|x]", bad);
    free(unit_src), free(win_start), free(py), free(px);
}

static void check_concurrent(vl_vision *v, int W, int H, const float *pix);

/* ---- image: intermediates and merger output ------------------------------------- */

static void check_image(const char *set, vl_vision *v, vl_pool *pool)
{
    char path[1400];
    snprintf(path, sizeof path, "%s/ref/image/F32_ref_info.json", set);
    json *info = json_load(path);
    REQUIRE(info, "cannot read %s", path);
    const json *ne = json_get(info, "pixels_first_ggml_ne");
    REQUIRE(ne && ne->n == 4, "pixels_first_ggml_ne missing");
    const int W = (int)json_num(json_at(ne, 0), 0), H = (int)json_num(json_at(ne, 1), 0);
    const int B = (int)json_num(json_at(ne, 3), 0);
    snprintf(path, sizeof path, "%s/ref/image/%s", set, json_str(json_get(info, "pixels_first_file"), ""));
    float *pix = fx_load_raw(path, sizeof(float), ne_count(ne));
    REQUIRE(pix, "cannot read %s", path);
    const json *eshape = json_get(info, "embd_shape");
    const size_t n_tok = (size_t)json_num(json_at(eshape, 0), 0), width = (size_t)json_num(json_at(eshape, 1), 0);
    CHECK(width == (size_t)vl_vision_n_embd_out(v), "embd width %zu, tower gives %d", width, vl_vision_n_embd_out(v));
    const size_t n_first = (size_t)(W / vl_vision_align(v)) * (H / vl_vision_align(v));
    snprintf(path, sizeof path, "%s/ref/image/%s", set, json_str(json_get(info, "embd_file"), ""));
    float *ref = fx_load_raw(path, sizeof(float), n_tok * width);
    REQUIRE(ref && n_first <= n_tok, "cannot read %s (%zu tokens, first image %zu)", path, n_tok, n_first);
    printf("  image %dx%d, %d frame(s), %zu tokens x %zu\n", W, H, B, n_first, width);
    check_windows(v, info, W, H);

    float *out = malloc(n_first * width * sizeof(float));
    const json *ints = json_get(info, "vit_intermediates_first_image");
    const json *inv = json_get(json_get(info, "vit_int_inputs_first_image"), "window_idx");
    for (size_t mi = 0; mi < N_MODES; mi++) {
        const mode *md = &modes[mi];
        REQUIRE(vl_vision_set_precision(v, md->prec) == VLLM_OK, "%s", vllm_last_error());
        stages st = {0};
        vl_vision_set_tap(v, tap, &st);
        REQUIRE(vl_vision_encode_frames(v, pool, pix, B, W, H, out) == VLLM_OK, "%s", vllm_last_error());
        vl_vision_set_tap(v, NULL, NULL);
        if (md->stage_abs > 0 || md->stage_rel > 0) {
            int n_checked = 0;
            for (size_t i = 0; ints && i < ints->n; i++) {
                const json *it = json_at(ints, i);
                const char *name = json_str(json_get(it, "name"), "");
                const size_t n = ne_count(json_get(it, "ggml_ne"));
                snprintf(path, sizeof path, "%s/ref/image/%s", set, json_str(json_get(it, "file"), ""));
                float *r = fx_load_raw(path, sizeof(float), n);
                CHECK(r, "cannot read %s", path);
                /* the block-order patch embedding of a windowed tower: our window-order rows, unit by unit back */
                const int block_order = !strcmp(name, "patch_embd") && inv;
                const stage *s = find_stage(&st, block_order ? "patch_embd_win" : name);
                CHECK(s && r && s->n == n, "stage %s: %s (%zu values, ref %zu)", name, s ? "size differs" : "not produced",
                      s ? s->n : 0, n);
                if (s && r && s->n == n) {
                    float *mine = s->data, *tmp = NULL;
                    if (block_order) {
                        const size_t E4 = n / inv->n;
                        tmp = malloc(n * sizeof(float));
                        for (size_t u = 0; u < inv->n; u++)
                            memcpy(tmp + u * E4, mine + (size_t)json_num(json_at(inv, u), 0) * E4, E4 * sizeof(float));
                        mine = tmp;
                    }
                    const diff d = compare(mine, r, n);
                    printf("    %-5s %-15s max|diff| %.3g rel_l2 %.3g (max|ref| %.3g)\n", md->name, name, d.max_abs,
                           d.rel_l2, d.max_ref);
                    if (!strcmp(name, "merger_out_win")) /* = the embeddings, before the restore */
                        CHECK(d.rel_l2 < md->embd_rel_l2 && (md->embd_abs == 0 || d.max_abs < md->embd_abs),
                              "%s %s: max|diff| %.3g rel_l2 %.3g", md->name, name, d.max_abs, d.rel_l2);
                    else if (md->stage_abs > 0)
                        CHECK(d.max_abs <= md->stage_abs, "%s %s: max|diff| %.3g > %.3g", md->name, name, d.max_abs,
                              md->stage_abs);
                    else
                        CHECK(d.rel_l2 <= md->stage_rel, "%s %s: rel_l2 %.3g > %.3g", md->name, name, d.rel_l2,
                              md->stage_rel);
                    free(tmp);
                    n_checked++;
                }
                free(r);
            }
            CHECK(n_checked >= 8, "only %d intermediates compared", n_checked);
        }
        const diff d = compare(out, ref, n_first * width);
        printf("    %-5s embeddings      max|diff| %.3g rel_l2 %.3g\n", md->name, d.max_abs, d.rel_l2);
        if (md->embd_abs > 0) CHECK(d.max_abs < md->embd_abs, "%s embeddings: max|diff| %.3g", md->name, d.max_abs);
        CHECK(d.rel_l2 < md->embd_rel_l2, "%s embeddings: rel_l2 %.3g", md->name, d.rel_l2);
        stages_clear(&st);
    }
    /* three threads encoding a frame pair (the still twice) at once */
    float *pair = malloc((size_t)2 * 3 * W * H * sizeof(float));
    memcpy(pair, pix, (size_t)3 * W * H * sizeof(float));
    memcpy(pair + (size_t)3 * W * H, pix, (size_t)3 * W * H * sizeof(float));
    check_concurrent(v, W, H, pair);
    free(pair);
    free(out), free(ref), free(pix);
    json_free(info);
}

/* ---- video: a lone frame and a frame pair ------------------------------------------ */

static void check_video(const char *set, vl_vision *v, vl_pool *pool)
{
    char path[1400];
    snprintf(path, sizeof path, "%s/ref/video/F32_ref_info.json", set);
    json *info = json_load(path);
    if (!info) {
        printf("  no video reference in %s\n", set);
        return;
    }
    const json *eshape = json_get(info, "embd_shape");
    const size_t n_tok = (size_t)json_num(json_at(eshape, 0), 0), width = (size_t)json_num(json_at(eshape, 1), 0);
    snprintf(path, sizeof path, "%s/ref/video/%s", set, json_str(json_get(info, "embd_file"), ""));
    float *ref = fx_load_raw(path, sizeof(float), n_tok * width);
    REQUIRE(ref, "cannot read %s", path);
    static const char *const which[2] = {"first", "second"};
    const json *chunks = json_get(info, "chunks");
    for (int k = 0; k < 2; k++) {
        char key[64];
        snprintf(key, sizeof key, "pixels_%s_ggml_ne", which[k]);
        const json *ne = json_get(info, key);
        snprintf(key, sizeof key, "pixels_%s_file", which[k]);
        const char *file = json_str(json_get(info, key), NULL);
        REQUIRE(ne && ne->n == 4 && file, "%s missing", key);
        const int W = (int)json_num(json_at(ne, 0), 0), H = (int)json_num(json_at(ne, 1), 0);
        const int B = (int)json_num(json_at(ne, 3), 0);
        /* the k-th image chunk of the prompt holds these pixels */
        const json *ch = NULL;
        for (size_t i = 0, seen = 0; chunks && i < chunks->n && !ch; i++)
            if (!strcmp(json_str(json_get(json_at(chunks, i), "type"), ""), "image") && seen++ == (size_t)k)
                ch = json_at(chunks, i);
        REQUIRE(ch, "no image chunk %d", k);
        CHECK((int)json_num(json_get(ch, "n_frames_in_temporal_patch"), 0) == B, "chunk %d frames", k);
        const size_t off = (size_t)json_num(json_get(ch, "embd_row_offset"), 0);
        const size_t n = (size_t)json_num(json_get(ch, "n_tokens"), 0);
        REQUIRE(off + n <= n_tok, "chunk rows");
        snprintf(path, sizeof path, "%s/ref/video/%s", set, file);
        uint8_t *u8 = fx_load_raw(path, 1, ne_count(ne));
        REQUIRE(u8, "cannot read %s", path);
        float *pix = normalize_u8(u8, (size_t)B, (size_t)W * H, v);
        float *out = malloc(n * width * sizeof(float));
        for (size_t mi = 0; mi < N_MODES; mi++) {
            const mode *md = &modes[mi];
            REQUIRE(vl_vision_set_precision(v, md->prec) == VLLM_OK, "%s", vllm_last_error());
            REQUIRE(vl_vision_encode_frames(v, pool, pix, B, W, H, out) == VLLM_OK, "%s", vllm_last_error());
            const diff d = compare(out, ref + off * width, n * width);
            printf("    %-5s video chunk %d (%d frame%s %dx%d): max|diff| %.3g rel_l2 %.3g\n", md->name, k, B,
                   B > 1 ? "s" : "", W, H, d.max_abs, d.rel_l2);
            if (md->embd_abs > 0) CHECK(d.max_abs < md->embd_abs, "%s video chunk %d: max|diff| %.3g", md->name, k, d.max_abs);
            CHECK(d.rel_l2 < md->embd_rel_l2, "%s video chunk %d: rel_l2 %.3g", md->name, k, d.rel_l2);
        }
        free(out), free(pix), free(u8);
    }
    free(ref);
    json_free(info);
}

/* ---- full resolution, from our own decode ------------------------------------------------ */

/* llama.cpp's default limits give a large grid (Qwen2.5-VL: 23x17 units in
 * 30 windows, edge windows truncated both ways; Qwen3-VL: the 8x8 position
 * table stretched to 40x30). Its ViT input is not dumped, so the input here
 * is test-1.jpeg decoded by libavcodec (a few levels from stb_image's):
 * the bound is loose, but a wrong window order, restore or position layout
 * is an O(1) error. */
static void check_fullres(const char *set, vl_vision *v, vl_pool *pool)
{
    char path[1400];
    snprintf(path, sizeof path, "%s/ref/image/F32_fullres_ref_info.json", set);
    json *info = json_load(path);
    if (!info) return;
    const json *es = json_get(info, "embd_shape");
    const size_t n_tok = (size_t)json_num(json_at(es, 0), 0), width = (size_t)json_num(json_at(es, 1), 0);
    snprintf(path, sizeof path, "%s/ref/image/%s", set, json_str(json_get(info, "embd_file"), ""));
    float *ref = fx_load_raw(path, sizeof(float), n_tok * width);
    snprintf(path, sizeof path, "%s/../media/%s", set, json_str(json_get(info, "media"), "test-1.jpeg"));
    vl_image im;
    REQUIRE(ref && vl_image_load(path, &im) == VLLM_OK, "fullres inputs: %s", vllm_last_error());
    const int a = vl_vision_align(v);
    vl_frame8 f;
    REQUIRE(vl_preprocess_dynamic(&(vl_rgb8){im.data, im.width, im.height, im.stride}, a, 8LL * a * a, 4096LL * a * a,
                                  VL_PREPROC_LLAMACPP, &f) == VLLM_OK,
            "%s", vllm_last_error());
    REQUIRE((size_t)(f.width / a) * (f.height / a) == n_tok, "fullres %dx%d for %zu tokens", f.width, f.height, n_tok);
    float mean[3], std[3];
    vl_vision_norm(v, mean, std);
    const size_t plane = (size_t)f.width * f.height;
    float *pix = malloc(3 * plane * sizeof(float)), *out = malloc(n_tok * width * sizeof(float));
    for (int c = 0; c < 3; c++)
        for (size_t i = 0; i < plane; i++) pix[c * plane + i] = ((float)f.u8[c * plane + i] / 255.0f - mean[c]) / std[c];
    REQUIRE(vl_vision_set_precision(v, VL_VISION_GGML) == VLLM_OK &&
                vl_vision_encode_frames(v, pool, pix, 1, f.width, f.height, out) == VLLM_OK,
            "%s", vllm_last_error());
    const diff d = compare(out, ref, n_tok * width);
    printf("  fullres %dx%d (%zu tokens) from our decode: max|diff| %.3g rel_l2 %.3g\n", f.width, f.height, n_tok,
           d.max_abs, d.rel_l2);
    CHECK(d.rel_l2 < 2e-2, "fullres embeddings rel_l2 %.3g", d.rel_l2);
    free(pix), free(out), free(ref);
    vl_frame8_free(&f);
    vl_image_free(&im);
    json_free(info);
}

/* ---- transformers' merger GELU ----------------------------------------------------------- */

static const float *f32_tensor(const vl_gguf *g, const char *name, int64_t n)
{
    const vl_gguf_tensor *t = vl_gguf_find_tensor(g, name);
    REQUIRE(t && t->type == 0 /* F32 */ && t->ne[0] * t->ne[1] == n, "tensor %s (F32, %lld values)", name, (long long)n);
    return t->data;
}

/* rows of in (n × K, 4 consecutive patches concatenated) -> [LN] -> fc1 -> erf GELU -> fc2, in double */
static double merger_f64_diff(const vl_gguf *g, const char *pre, const char *norm, const float *in, int n, int K,
                              int D, const float *out, int out_stride)
{
    char name[96];
    snprintf(name, sizeof name, "%s%s.weight", pre, norm ? "fc1" : "0");
    const float *w0 = f32_tensor(g, name, (int64_t)K * K);
    snprintf(name, sizeof name, "%s%s.bias", pre, norm ? "fc1" : "0");
    const float *b0 = f32_tensor(g, name, K);
    snprintf(name, sizeof name, "%s%s.weight", pre, norm ? "fc2" : "2");
    const float *w2 = f32_tensor(g, name, (int64_t)K * D);
    snprintf(name, sizeof name, "%s%s.bias", pre, norm ? "fc2" : "2");
    const float *b2 = f32_tensor(g, name, D);
    const float *nw = NULL, *nb = NULL;
    if (norm) {
        snprintf(name, sizeof name, "%snorm.weight", pre);
        nw = f32_tensor(g, name, K);
        snprintf(name, sizeof name, "%snorm.bias", pre);
        nb = f32_tensor(g, name, K);
    }
    double *x = malloc((size_t)K * sizeof *x), *h = malloc((size_t)K * sizeof *h), worst = 0;
    for (int r = 0; r < n; r++) {
        const float *xr = in + (size_t)r * K;
        double mean = 0, var = 0;
        for (int k = 0; k < K; k++) mean += xr[k];
        mean /= K;
        for (int k = 0; k < K; k++) var += (xr[k] - mean) * (xr[k] - mean);
        var /= K;
        for (int k = 0; k < K; k++) x[k] = norm ? (xr[k] - mean) / sqrt(var + 1e-6) * nw[k] + nb[k] : xr[k];
        for (int o = 0; o < K; o++) {
            double a = b0[o];
            for (int k = 0; k < K; k++) a += (double)w0[(size_t)o * K + k] * x[k];
            h[o] = 0.5 * a * (1 + erf(a / sqrt(2.0)));
        }
        for (int o = 0; o < D; o++) {
            double a = b2[o];
            for (int k = 0; k < K; k++) a += (double)w2[(size_t)o * K + k] * h[k];
            const double d = fabs(a - out[(size_t)r * out_stride + o]);
            if (!(d <= worst)) worst = d;
        }
    }
    free(x), free(h);
    return worst;
}

static void check_exact_gelu(const char *set, const vl_gguf *g, vl_vision *v, vl_pool *pool)
{
    char path[1400];
    snprintf(path, sizeof path, "%s/ref/image/F32_ref_info.json", set);
    json *info = json_load(path);
    REQUIRE(info, "%s", path);
    const json *ne = json_get(info, "pixels_first_ggml_ne");
    const int W = (int)json_num(json_at(ne, 0), 0), H = (int)json_num(json_at(ne, 1), 0);
    snprintf(path, sizeof path, "%s/ref/image/%s", set, json_str(json_get(info, "pixels_first_file"), ""));
    float *pix = fx_load_raw(path, sizeof(float), (size_t)3 * W * H);
    const int n_tok = (W / vl_vision_align(v)) * (H / vl_vision_align(v)), width = vl_vision_n_embd_out(v);
    REQUIRE(pix, "pixels");
    float *out = malloc((size_t)n_tok * width * sizeof(float));
    vl_vision_set_llamacpp_compat(v, 0);
    REQUIRE(vl_vision_set_precision(v, VL_VISION_F32) == VLLM_OK, "%s", vllm_last_error());
    stages st = {0};
    vl_vision_set_tap(v, tap, &st);
    REQUIRE(vl_vision_encode_frames(v, pool, pix, 1, W, H, out) == VLLM_OK, "%s", vllm_last_error());
    vl_vision_set_tap(v, NULL, NULL);
    const int D = vl_vision_n_embd_text(v), K = (int)(find_stage(&st, "post_ln")->n / (size_t)n_tok);
    const stage *post = find_stage(&st, "post_ln"), *mo = find_stage(&st, "merger_out_win");
    REQUIRE(post && mo, "taps");
    const double dm = merger_f64_diff(g, "mm.", NULL, post->data, n_tok, K, D, mo->data, D);
    /* the same rebuild against the tanh form (compat mode): it must tell the two apart */
    stages st2 = {0};
    vl_vision_set_llamacpp_compat(v, 1);
    vl_vision_set_tap(v, tap, &st2);
    REQUIRE(vl_vision_encode_frames(v, pool, pix, 1, W, H, out) == VLLM_OK, "%s", vllm_last_error());
    vl_vision_set_tap(v, NULL, NULL);
    const double dt = merger_f64_diff(g, "mm.", NULL, find_stage(&st2, "post_ln")->data, n_tok, K, D,
                                      find_stage(&st2, "merger_out_win")->data, D);
    stages_clear(&st2);
    printf("  merger vs a float64 erf-GELU rebuild: exact mode %.3g, llama.cpp's tanh form %.3g\n", dm, dt);
    CHECK(dm < 1e-6, "exact-GELU merger differs from its float64 rebuild by %.3g", dm);
    CHECK(dt > 10 * dm, "the rebuild does not tell erf (%.3g) from tanh (%.3g)", dm, dt);
    for (int k = 0; k < vl_vision_n_deepstack(v); k++) {
        /* the k-th deepstack tap and the layer output it was made from */
        const stage *ds = NULL, *lo = NULL;
        int seen = 0;
        for (int i = 0; i < st.n && !ds; i++)
            if (!strcmp(st.s[i].name, "deepstack") && seen++ == k) ds = &st.s[i];
        REQUIRE(ds, "deepstack tap %d", k);
        for (int i = 0; i < st.n; i++)
            if (!strcmp(st.s[i].name, "layer_out") && st.s[i].layer == ds->layer) lo = &st.s[i];
        char pre[64];
        snprintf(pre, sizeof pre, "v.deepstack.%d.", ds->layer);
        const double dd = merger_f64_diff(g, pre, "norm", lo->data, n_tok, K, D, ds->data, D);
        printf("  exact-GELU deepstack merger after block %d vs float64 rebuild: %.3g\n", ds->layer, dd);
        CHECK(dd < 1e-6, "deepstack %d differs from its float64 rebuild by %.3g", k, dd);
    }
    stages_clear(&st);
    vl_vision_set_llamacpp_compat(v, 1);
    free(out), free(pix);
    json_free(info);
}

/* ---- concurrent encodes on one model ---------------------------------------------------- */

typedef struct {
    vl_vision *v;
    const float *pix;
    int W, H, B;
    float *out;
    vllm_status st;
} encode_job;

static void *encode_thread(void *arg)
{
    encode_job *j = arg;
    for (int rep = 0; rep < 3 && j->st == VLLM_OK; rep++) j->st = vl_vision_encode_frames(j->v, NULL, j->pix, j->B, j->W, j->H, j->out);
    return NULL;
}

/* encoder.h: encodes may run concurrently on one model (per-call scratch) */
static void check_concurrent(vl_vision *v, int W, int H, const float *pix)
{
    const size_t n = (size_t)(W / vl_vision_align(v)) * (H / vl_vision_align(v)) * vl_vision_n_embd_out(v);
    float *serial = malloc(n * sizeof(float));
    REQUIRE(vl_vision_set_precision(v, VL_VISION_GGML) == VLLM_OK &&
                vl_vision_encode_frames(v, NULL, pix, 2, W, H, serial) == VLLM_OK,
            "%s", vllm_last_error());
    encode_job jobs[3];
    pthread_t th[3];
    for (int t = 0; t < 3; t++) {
        jobs[t] = (encode_job){v, pix, W, H, 2, malloc(n * sizeof(float)), VLLM_OK};
        REQUIRE(pthread_create(&th[t], NULL, encode_thread, &jobs[t]) == 0, "pthread_create");
    }
    for (int t = 0; t < 3; t++) {
        pthread_join(th[t], NULL);
        CHECK(jobs[t].st == VLLM_OK && !memcmp(jobs[t].out, serial, n * sizeof(float)),
              "thread %d: %s, output %s the serial run", t, jobs[t].st == VLLM_OK ? "ok" : vllm_last_error(),
              memcmp(jobs[t].out, serial, n * sizeof(float)) ? "differs from" : "equals");
        free(jobs[t].out);
    }
    free(serial);
}

/* ---- misuse --------------------------------------------------------------------------- */

static void check_errors(vl_vision *v)
{
    const int a = vl_vision_align(v);
    float *pix = calloc((size_t)2 * 3 * (2 * a) * (2 * a), sizeof(float));
    float *out = malloc((size_t)4 * vl_vision_n_embd_out(v) * sizeof(float));
    CHECK(vl_vision_encode_frames(v, NULL, pix, 1, 2 * a - 2, 2 * a, out) == VLLM_ERR_INVALID_ARG &&
              strstr(vllm_last_error(), "multiple of"),
          "width not a multiple of %d: %s", a, vllm_last_error());
    CHECK(vl_vision_encode_frames(v, NULL, pix, 3, 2 * a, 2 * a, out) == VLLM_ERR_INVALID_ARG &&
              strstr(vllm_last_error(), "n_frames = 3"),
          "3 frames: %s", vllm_last_error());
    CHECK(vl_vision_encode_frames(v, NULL, pix, 1, 0, 2 * a, out) == VLLM_ERR_INVALID_ARG, "zero width");
    CHECK(vl_vision_encode_frames(v, NULL, pix, 1, 40000 * a, 40000 * a, out) == VLLM_ERR_INVALID_ARG &&
              strstr(vllm_last_error(), "patches"),
          "huge frame: %s", vllm_last_error());
    CHECK(vl_vision_encode(v, NULL, pix, 1, out) == VLLM_ERR_UNSUPPORTED, "tile API on a dynamic tower");
    /* the smallest input: one 2x2 unit, both frame counts */
    CHECK(vl_vision_encode_frames(v, NULL, pix, 2, a, a, out) == VLLM_OK, "%dx%d pair: %s", a, a, vllm_last_error());
    free(pix), free(out);
}

/* ---- malformed mmprojs ------------------------------------------------------------------ */

/* The source mmproj with one change: key `drop_key` left out, or `int_key`
 * set to int_val (u32), tensor `drop_tensor` left out, or tensor `add_tensor`
 * added as a copy of `copy_of`. */
typedef struct {
    const char *drop_key, *int_key;
    int64_t int_val;
    const char *drop_tensor, *add_tensor, *copy_of;
    vllm_status want;
    const char *msg; /* must appear in the error */
} mmproj_edit;

static vllm_status load_edited(const vl_gguf *src, const mmproj_edit *e, vl_vision **out)
{
    vl_gw *w = vl_gw_new();
    int int_done = 0;
    for (uint64_t i = 0; i < src->n_kv; i++) {
        const vl_gguf_kv *kv = &src->kv[i];
        char key[128];
        snprintf(key, sizeof key, "%.*s", (int)kv->key.len, kv->key.ptr);
        if (e->drop_key && !strcmp(key, e->drop_key)) continue;
        if (e->int_key && !strcmp(key, e->int_key)) {
            vl_gw_add_u32(w, key, (uint32_t)e->int_val);
            int_done = 1;
            continue;
        }
        const vl_gguf_value *v = &kv->value;
        int r = 0;
        switch (v->type) {
        case VL_GGUF_STRING: {
            char str[256];
            snprintf(str, sizeof str, "%.*s", (int)v->v.s.len, v->v.s.ptr);
            r = vl_gw_add_str(w, key, str);
            break;
        }
        case VL_GGUF_ARRAY:
            REQUIRE(vl_gguf_vtype_size(v->v.arr.elem), "array key %s of strings/arrays in an mmproj", key);
            r = vl_gw_add_arr(w, key, v->v.arr.elem, v->v.arr.n, v->v.arr.raw);
            break;
        case VL_GGUF_BOOL: r = vl_gw_add_bool(w, key, (int)v->v.u); break;
        case VL_GGUF_FLOAT32: r = vl_gw_add_f32(w, key, (float)v->v.f); break;
        case VL_GGUF_FLOAT64: r = vl_gw_add_f64(w, key, v->v.f); break;
        case VL_GGUF_INT8: case VL_GGUF_INT16: case VL_GGUF_INT32: case VL_GGUF_INT64: r = vl_gw_add_i64(w, key, v->v.i); break;
        default: r = vl_gw_add_u64(w, key, v->v.u); break;
        }
        REQUIRE(r == 0, "copy key %s", key);
    }
    if (e->int_key && !int_done) vl_gw_add_u32(w, e->int_key, (uint32_t)e->int_val);
    for (uint64_t i = 0; i < src->n_tensors; i++) {
        const vl_gguf_tensor *t = &src->tensors[i];
        if (e->drop_tensor && !strcmp(t->name, e->drop_tensor)) continue;
        REQUIRE(vl_gw_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data) == 0, "tensor %s", t->name);
    }
    if (e->add_tensor) {
        const vl_gguf_tensor *t = vl_gguf_find_tensor(src, e->copy_of);
        REQUIRE(t, "no tensor %s to copy", e->copy_of);
        REQUIRE(vl_gw_add_tensor(w, e->add_tensor, t->type, t->n_dims, t->ne, t->data) == 0, "tensor %s", e->add_tensor);
    }
    uint8_t *file;
    size_t size;
    REQUIRE(vl_gw_to_memory(w, &file, &size) == 0, "serialize");
    vl_gw_free(w);
    vl_gguf *g = NULL;
    REQUIRE(vl_gguf_open_memory(file, size, &g) == VLLM_OK, "%s", vllm_last_error());
    *out = NULL;
    vllm_status st = vl_vision_load(g, out);
    vl_vision_free(*out);
    *out = NULL;
    vl_gguf_close(g);
    free(file);
    return st;
}

/* The name of the set's last deepstack merger norm bias ("" when none):
 * which ViT layers feed deepstack mergers is the set's choice. */
static void last_deepstack_bias(const vl_gguf *src, char *out, size_t cap)
{
    out[0] = '\0';
    for (uint64_t i = 0; i < src->n_tensors; i++) {
        const char *n = src->tensors[i].name;
        const size_t len = strlen(n);
        if (!strncmp(n, "v.deepstack.", 12) && len > 10 && !strcmp(n + len - 10, ".norm.bias"))
            snprintf(out, cap, "%s", n);
    }
}

static void check_bad_mmproj(const vl_gguf *src, int is_qwen3)
{
    /* head_count = the tower's width: head dim 1, whatever width the set has */
    int64_t width = 0;
    REQUIRE(vl_gguf_get_int_req(src, "clip.vision.embedding_length", &width) == VLLM_OK, "%s", vllm_last_error());
    char ds_bias[96], ds_missing[128];
    last_deepstack_bias(src, ds_bias, sizeof ds_bias);
    snprintf(ds_missing, sizeof ds_missing, "'%s' is missing", ds_bias);
    REQUIRE(!is_qwen3 || ds_bias[0], "a qwen3vl mmproj without v.deepstack.*.norm.bias");
    const mmproj_edit common[] = {
        {.drop_tensor = "v.patch_embd.weight.1", .want = VLLM_ERR_FORMAT, .msg = "'v.patch_embd.weight.1' is missing"},
        {.int_key = "clip.vision.spatial_merge_size", .int_val = 3, .want = VLLM_ERR_UNSUPPORTED, .msg = "spatial_merge_size = 3"},
        {.int_key = "clip.vision.attention.head_count", .int_val = width, .want = VLLM_ERR_FORMAT, .msg = "head dim 1"},
        {.drop_tensor = "mm.2.bias", .want = VLLM_ERR_FORMAT, .msg = "'mm.2.bias' is missing"},
        {.drop_tensor = "v.post_ln.weight", .want = VLLM_ERR_FORMAT, .msg = "v.post_ln"},
    };
    static const mmproj_edit only_qwen25[] = {
        {.drop_key = "clip.vision.n_wa_pattern", .want = VLLM_ERR_FORMAT, .msg = "'clip.vision.n_wa_pattern' is missing"},
        {.int_key = "clip.vision.n_wa_pattern", .int_val = 99, .want = VLLM_ERR_FORMAT, .msg = "n_wa_pattern = 99"},
        {.int_key = "clip.vision.window_size", .int_val = 100, .want = VLLM_ERR_FORMAT, .msg = "window_size = 100"},
        {.add_tensor = "v.deepstack.0.fc1.weight", .copy_of = "mm.0.weight", .want = VLLM_ERR_FORMAT, .msg = "deepstack"},
        {.drop_tensor = "v.blk.1.ffn_gate.weight", .want = VLLM_ERR_FORMAT, .msg = "block 1 differs from block 0"},
    };
    const mmproj_edit only_qwen3[] = {
        {.drop_tensor = ds_bias, .want = VLLM_ERR_FORMAT, .msg = ds_missing},
        {.drop_tensor = "v.position_embd.weight", .want = VLLM_ERR_FORMAT, .msg = "'v.position_embd.weight' is missing"},
        {.add_tensor = "v.blk.1.ffn_gate.weight", .copy_of = "v.blk.1.ffn_up.weight", .want = VLLM_ERR_FORMAT,
         .msg = "block 1 differs from block 0"},
    };
    const mmproj_edit *lists[2] = {common, is_qwen3 ? only_qwen3 : only_qwen25};
    const size_t counts[2] = {sizeof common / sizeof *common,
                              is_qwen3 ? sizeof only_qwen3 / sizeof *only_qwen3 : sizeof only_qwen25 / sizeof *only_qwen25};
    for (int l = 0; l < 2; l++)
        for (size_t i = 0; i < counts[l]; i++) {
            const mmproj_edit *e = &lists[l][i];
            vl_vision *v;
            const vllm_status st = load_edited(src, e, &v);
            CHECK(st == e->want && strstr(vllm_last_error(), e->msg), "edit %d.%zu: status %d, error '%s', expected '%s'", l,
                  i, (int)st, vllm_last_error(), e->msg);
        }
    /* no edit: the copy loads (the copier itself is sound) */
    vl_vision *v;
    CHECK(load_edited(src, &(mmproj_edit){0}, &v) == VLLM_OK, "unedited copy: %s", vllm_last_error());
}

/* ---- pairing with the text model (lib/session/model.c) ----------------------------------------- */

static vllm_status load_pair(const char *text, const char *mmproj)
{
    vllm_model_params p = vllm_model_default_params();
    p.mmproj_path = mmproj;
    vllm_model *m = NULL;
    vllm_status st = vllm_model_load(text, &p, &m);
    vllm_model_free(m);
    return st;
}

static void check_pairing(const char *data)
{
    char t25[1400], m25[1400], t3[1400], m3[1400], dir[1100];
    snprintf(dir, sizeof dir, "%s/tiny-qwen25vl/models", data);
    int ok = fx_find_in(dir, "-text-F32.gguf", t25, sizeof t25) && fx_find_in(dir, "-mmproj-F32.gguf", m25, sizeof m25);
    snprintf(dir, sizeof dir, "%s/tiny-qwen3vl/models", data);
    ok = ok && fx_find_in(dir, "-text-F32.gguf", t3, sizeof t3) && fx_find_in(dir, "-mmproj-F32.gguf", m3, sizeof m3);
    if (!ok) return;
    CHECK(load_pair(t25, m25) == VLLM_OK, "qwen2.5vl pair: %s", vllm_last_error());
    /* qwen3vl: the tower's 192-wide rows = 64 x (1 + 2 deepstack) */
    CHECK(load_pair(t3, m3) == VLLM_OK, "qwen3vl pair: %s", vllm_last_error());
    CHECK(load_pair(t3, m25) == VLLM_ERR_FORMAT && strstr(vllm_last_error(), "0 deepstack mergers"),
          "qwen3vl text + qwen2.5vl mmproj: %s", vllm_last_error());
    CHECK(load_pair(t25, m3) == VLLM_ERR_FORMAT && strstr(vllm_last_error(), "2 deepstack mergers"),
          "qwen2.5vl text + qwen3vl mmproj: %s", vllm_last_error());
}

TEST_MAIN_BEGIN
    char sets[FX_MAX_SETS][FX_SET_PATH];
    const size_t n_sets = fx_qwen_sets(sets);
    vl_pool *pool = vl_pool_create(2);
    int ran = 0;
    for (size_t i = 0; i < n_sets; i++) {
        char models[1100], path[2200];
        const char *set = sets[i];
        snprintf(models, sizeof models, "%s/models", set);
        if (!fx_find_in(models, "-mmproj-F32.gguf", path, sizeof path)) {
            CHECK(0, "no models/*-mmproj-F32.gguf in %s", set);
            continue;
        }
        vl_gguf *g = NULL;
        REQUIRE(vl_gguf_open(path, 1, &g) == VLLM_OK, "%s", vllm_last_error());
        vl_vision *v = NULL;
        REQUIRE(vl_vision_load(g, &v) == VLLM_OK, "%s", vllm_last_error());
        if (!vl_vision_is_dynamic(v)) {
            printf("%s: projector %s is not a dynamic-resolution tower, skipped\n", set, vl_vision_projector_name(v));
        } else {
            printf("fixture set %s (%s, %d deepstack)\n", set, vl_vision_projector_name(v), vl_vision_n_deepstack(v));
            modes = strcmp(vl_vision_projector_name(v), "qwen3vl_merger") ? modes_qwen25 : modes_qwen3;
            vl_vision_set_llamacpp_compat(v, 1); /* llama.cpp's merger GELU for the parity checks */
            check_image(set, v, pool);
            check_video(set, v, pool);
            check_fullres(set, v, pool);
            check_exact_gelu(set, g, v, pool);
            check_errors(v);
            check_bad_mmproj(g, vl_vision_n_deepstack(v) > 0);
            ran++;
        }
        vl_vision_free(v);
        vl_gguf_close(g);
    }
    vl_pool_free(pool);
    const char *one = getenv("VIDEOLLM_FIXTURES");
    if (!(one && *one)) check_pairing(fx_data_dir());
    REQUIRE(ran > 0, "no dynamic-resolution fixture set found");
TEST_MAIN_END
