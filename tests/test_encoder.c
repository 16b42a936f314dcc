/* Vision encoder parity against llama.cpp's dumps (tiny SmolVLM2 fixture).
 *
 * Input: ref/image/F32_ref_preproc.u8, the exact ViT inputs llama.cpp used
 * (n_tiles × 3 × S × S). Every shape comes from the GGUF hyper-parameters
 * and ref/image/F32_ref_info.json. Checks, per precision mode:
 *   F32   : projected embeddings within 1e-3 (llama.cpp's fp16 im2col and
 *           GELU table differ from exact math by ~5e-4), stages within
 *           the tolerances below;
 *   GGML  : fp16 emulation, embeddings and every stage within 1e-5;
 *   BF16  : the fast path, embeddings within a documented bound. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/gguf.h"
#include "core/threadpool.h"
#include "encoder/encoder.h"
#include "fixture_set.h"
#include "harness.h"

static char fixtures[1024];

static void *read_file(const char *rel, size_t *size)
{
    char path[1400];
    snprintf(path, sizeof path, "%s/%s", fixtures, rel);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    if (buf) buf[n] = 0;
    fclose(f);
    *size = (size_t)n;
    return buf;
}

/* Minimal JSON lookups: the integer after "key": / the integers of the
 * array after "key": [ (starting the search at `from`). */
static const char *json_key(const char *from, const char *key)
{
    char pat[128];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(from, pat);
    return p ? p + strlen(pat) : NULL;
}

static long json_int(const char *json, const char *key)
{
    const char *p = json_key(json, key);
    return p ? strtol(p, NULL, 10) : -1;
}

static int json_ints(const char *from, const char *key, long *out, int max)
{
    const char *p = json_key(from, key);
    if (!p) return 0;
    p = strchr(p, '[');
    if (!p) return 0;
    p++;
    int n = 0;
    while (n < max) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p) break;
        out[n++] = v;
        p = end;
        while (*p == ' ' || *p == ',') p++;
        if (*p == ']') break;
    }
    return n;
}

/* ---- tap: keep the first tile's stage outputs --------------------------- */

#define MAX_STAGES 16
typedef struct {
    char name[32];
    float *data;
    int rows, cols;
} stage;

typedef struct {
    stage st[MAX_STAGES];
    int n;
    int rows_per_tile_vit, rows_per_tile_tok;
} tap_state;

static void tap(void *ud, const char *name, int layer, int tile0, int n_tiles, const float *data, int rows, int cols)
{
    tap_state *s = ud;
    if (tile0 != 0 || s->n == MAX_STAGES) return;
    int per_tile = rows / n_tiles;
    stage *g = &s->st[s->n++];
    if (layer >= 0) snprintf(g->name, sizeof g->name, "%s-%d", name, layer);
    else snprintf(g->name, sizeof g->name, "%s", name);
    g->rows = per_tile;
    g->cols = cols;
    g->data = malloc((size_t)per_tile * cols * sizeof(float));
    memcpy(g->data, data, (size_t)per_tile * cols * sizeof(float));
}

static void tap_clear(tap_state *s)
{
    for (int i = 0; i < s->n; i++) free(s->st[i].data);
    s->n = 0;
}

static const stage *tap_find(const tap_state *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->st[i].name, name) == 0) return &s->st[i];
    return NULL;
}

static double max_abs_diff(const float *a, const float *b, size_t n, size_t *where)
{
    double m = 0;
    *where = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= m)) {
            m = d;
            *where = i;
        }
    }
    return m;
}

static double max_abs(const float *a, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fabs(a[i]) > m ? fabs(a[i]) : m;
    return m;
}

static const char *stage_names[] = {"patch_bias", "pos_embed", "layer_out-0", "layer_out-1", "layer_out-2",
                                    "layer_out-3", "norm_b", "pixel_shuffle"};

/* Run one precision mode and compare. tol_embd / tol_stage: max abs. */
static void run_mode(vl_vision *v, vl_pool *pool, vl_vision_precision prec, const char *label, const float *pix,
                     int n_tiles, const float *ref_embd, size_t n_embd_vals, const char *info, double tol_embd,
                     double tol_stage)
{
    REQUIRE(vl_vision_set_precision(v, prec) == VLLM_OK, "set_precision %s: %s", label, vl_error_message());
    tap_state ts = {0};
    vl_vision_set_tap(v, tap, &ts);
    float *out = malloc(n_embd_vals * sizeof(float));
    REQUIRE(out, "oom");
    vllm_status st = vl_vision_encode(v, pool, pix, n_tiles, out);
    CHECK(st == VLLM_OK, "%s encode: %s", label, vl_error_message());
    size_t where;
    double d = max_abs_diff(out, ref_embd, n_embd_vals, &where);
    fprintf(stderr, "[%s] embeddings: max|diff| = %.3g (at %zu; ref max|x| %.3g), tolerance %.1g\n", label, d, where,
            max_abs(ref_embd, n_embd_vals), tol_embd);
    CHECK(d <= tol_embd, "[%s] embeddings max|diff| %.3g > %.1g at %zu (got %g want %g)", label, d, tol_embd, where,
          out[where], ref_embd[where]);

    /* first tile's stages, shapes from the JSON */
    const char *list = strstr(info, "\"vit_intermediates_first_image\"");
    REQUIRE(list, "info.json has no vit_intermediates_first_image");
    for (size_t i = 0; i < sizeof stage_names / sizeof stage_names[0]; i++) {
        char pat[96];
        snprintf(pat, sizeof pat, "\"name\": \"%s\"", stage_names[i]);
        const char *p = strstr(list, pat);
        if (!p) continue;
        long ne[4] = {0};
        REQUIRE(json_ints(p, "ggml_ne", ne, 4) >= 2, "ggml_ne of %s", stage_names[i]);
        char rel[256];
        snprintf(rel, sizeof rel, "ref/image/F32_ref_vit_%s.f32", stage_names[i]);
        size_t sz;
        float *ref = read_file(rel, &sz);
        REQUIRE(ref, "missing %s", rel);
        CHECK(sz == (size_t)ne[0] * ne[1] * 4, "%s: %zu bytes for ne [%ld,%ld]", rel, sz, ne[0], ne[1]);
        const stage *g = tap_find(&ts, stage_names[i]);
        CHECK(g != NULL, "[%s] encoder produced no stage '%s'", label, stage_names[i]);
        if (g && g->rows == ne[1] && g->cols == ne[0]) {
            double ds = max_abs_diff(g->data, ref, (size_t)ne[0] * ne[1], &where);
            fprintf(stderr, "[%s]   %-14s max|diff| = %.3g (ref max|x| %.3g)\n", label, stage_names[i], ds,
                    max_abs(ref, (size_t)ne[0] * ne[1]));
            CHECK(ds <= tol_stage, "[%s] stage %s max|diff| %.3g > %.1g at %zu", label, stage_names[i], ds, tol_stage,
                  where);
        } else if (g) {
            CHECK(0, "[%s] stage %s shape %dx%d, reference [%ld,%ld]", label, stage_names[i], g->rows, g->cols, ne[1],
                  ne[0]);
        }
        free(ref);
    }
    vl_vision_set_tap(v, NULL, NULL);
    tap_clear(&ts);
    free(out);
}

TEST_MAIN_BEGIN
    snprintf(fixtures, sizeof fixtures, "%s", fx_set_dir());

    size_t info_size;
    char *info = read_file("ref/image/F32_ref_info.json", &info_size);
    if (!info) TEST_SKIP("no fixtures at %s", fixtures);

    char path[4400];
    fx_require_model("-mmproj-F32.gguf", path, sizeof path);
    vl_gguf *g;
    REQUIRE(vl_gguf_open(path, 1, &g) == VLLM_OK, "open %s: %s", path, vl_error_message());
    vl_vision *v;
    REQUIRE(vl_vision_load(g, &v) == VLLM_OK, "load: %s", vl_error_message());

    const int S = vl_vision_image_size(v);
    const int n_tok = vl_vision_tokens_per_tile(v), n_out = vl_vision_n_embd_out(v);
    const long n_tiles = json_int(info, "n_image_chunks");
    long embd_shape[2] = {0};
    REQUIRE(json_ints(info, "embd_shape", embd_shape, 2) == 2, "embd_shape");
    REQUIRE(n_tiles > 0, "n_image_chunks");
    CHECK(embd_shape[0] == n_tiles * n_tok, "embd rows %ld vs %ld tiles x %d tokens", embd_shape[0], n_tiles, n_tok);
    CHECK(embd_shape[1] == n_out, "embd width %ld vs projector %d", embd_shape[1], n_out);
    CHECK(json_int(info, "n_embd_text") == n_out, "n_embd_text");

    size_t pre_size, embd_size;
    uint8_t *pre = read_file("ref/image/F32_ref_preproc.u8", &pre_size);
    float *ref_embd = read_file("ref/image/F32_ref_embd.f32", &embd_size);
    REQUIRE(pre && ref_embd, "missing preproc/embd dumps");
    const size_t per_tile = (size_t)3 * S * S;
    REQUIRE(pre_size == per_tile * (size_t)n_tiles, "preproc: %zu bytes, expected %ld x 3 x %d x %d", pre_size, n_tiles,
            S, S);
    const size_t n_vals = (size_t)embd_shape[0] * embd_shape[1];
    REQUIRE(embd_size == n_vals * 4, "embd: %zu bytes", embd_size);

    /* the float input llama.cpp used: (u8/255 - mean)/std in f32 */
    float mean[3], std[3];
    vl_vision_norm(v, mean, std);
    float *pix = malloc(pre_size * sizeof(float));
    for (size_t t = 0; t < (size_t)n_tiles; t++)
        for (int c = 0; c < 3; c++)
            for (size_t i = 0; i < (size_t)S * S; i++) {
                size_t idx = t * per_tile + (size_t)c * S * S + i;
                pix[idx] = ((float)pre[idx] / 255.0f - mean[c]) / std[c];
            }

    vl_pool *pool = vl_pool_create(2);
    REQUIRE(pool, "pool");

    /* exact f32: the stage tolerance covers the fp16 im2col (≈5e-4) carried
     * through the blocks */
    run_mode(v, pool, VL_VISION_F32, "F32", pix, (int)n_tiles, ref_embd, n_vals, info, 1e-3, 2e-3);
    run_mode(v, pool, VL_VISION_GGML, "GGML", pix, (int)n_tiles, ref_embd, n_vals, info, 1e-5, 1e-5);
    /* BF16 linear layers: 8-bit mantissa inputs, f32 accumulation */
    run_mode(v, pool, VL_VISION_BF16, "BF16", pix, (int)n_tiles, ref_embd, n_vals, info, 3e-2, 3e-2);

    /* batching must not change results: encode tile 0 alone vs in the batch */
    {
        REQUIRE(vl_vision_set_precision(v, VL_VISION_F32) == VLLM_OK, "prec");
        float *all = malloc(n_vals * sizeof(float)), *one = malloc((size_t)n_tok * n_out * sizeof(float));
        CHECK(vl_vision_encode(v, pool, pix, (int)n_tiles, all) == VLLM_OK, "encode all");
        CHECK(vl_vision_encode(v, NULL, pix + per_tile * (size_t)(n_tiles - 1), 1, one) == VLLM_OK, "encode one");
        size_t where;
        double d = max_abs_diff(one, all + (size_t)(n_tiles - 1) * n_tok * n_out, (size_t)n_tok * n_out, &where);
        CHECK(d <= 1e-5, "last tile alone vs batched: %.3g", d);
        free(all);
        free(one);
    }

    /* argument errors */
    float dummy[4];
    CHECK(vl_vision_encode(v, pool, NULL, 1, dummy) == VLLM_ERR_INVALID_ARG, "NULL pixels");
    CHECK(vl_vision_encode(v, pool, pix, 0, dummy) == VLLM_ERR_INVALID_ARG, "0 tiles");

    vl_pool_free(pool);
    free(pix);
    free(pre);
    free(ref_embd);
    free(info);
    vl_vision_free(v);
    vl_gguf_close(g);
TEST_MAIN_END
