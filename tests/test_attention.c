/* The fused KV-cache attention (lib/decoder/attention.c) against a
 * straightforward double-precision reference computed here: random
 * queries, keys and values, the cache stored as f32, f16, q8_0 or q4_0
 * (the reference reads the stored values back through the reference
 * dequantizer, so it sees exactly what the kernels see), the causal mask by
 * cache row, one-row decoding (split over the (head, key) range across
 * threads: long contexts, several thread counts) and tiled prefill over
 * a cache that already holds rows. The prefill cases cover the edges of
 * its tiling (attn_tile.h: chunks of 24 query rows, tiles of whole
 * chunks, blocks of 32 keys): row counts and cache lengths just off those
 * sizes, group sizes 1, 2, 3, 4, 7 and 8 (a chunk then holds a fraction of
 * a position's heads, or a position's heads span two chunks), and prompts
 * whose first rows see nothing of a key block that later rows see part of.
 * Also the base-2 exponential the prefill's softmax uses (fastmath.h)
 * against exp2 in double. Run again with the SIMD level capped
 * (meson: test_attention_scalar / _avx2). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "core/error.h"
#include "core/f16.h"
#include "core/fastmath.h"
#include "core/quant.h"
#include "core/threadpool.h"
#include "decoder/attention.h"
#include "harness.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static float rnd_float(void) /* uniform in [-1, 1) */
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((rng >> 40) & 0xFFFFFF) / 8388608.0f - 1.0f;
}

static void store_row(int32_t type, const float *src, uint8_t *dst, int hd)
{
    if (type == VL_TYPE_F32) memcpy(dst, src, (size_t)hd * sizeof *src);
    else if (type == VL_TYPE_F16)
        for (int i = 0; i < hd; i++) ((uint16_t *)dst)[i] = vl_f32_to_f16(src[i]);
    else if (type == VL_TYPE_Q4_0) vl_quantize_row_q4_0(src, dst, hd);
    else vl_quantize_activations(type, src, dst, hd);
}

typedef struct shape {
    int n_head, n_head_kv, head_dim;
    int tiling_only; /* only the prefill tiling edges (keeps the sanitizer runs short) */
} shape;

/* One case: cache of n_past + n rows, n query rows. Returns the largest
 * |difference| from the reference over every thread count, relative to
 * the largest |value| stored. */
static void run_case(int32_t type, shape sh, int64_t n_past, int64_t n, vl_pool **pools, int n_pools)
{
    const int hd = sh.head_dim, G = sh.n_head / sh.n_head_kv;
    const int64_t rows = n_past + n, Dq = (int64_t)sh.n_head * hd;
    const size_t rb = vl_row_size(type, hd), head_stride = (size_t)rows * rb;
    uint8_t *k = malloc(head_stride * sh.n_head_kv), *v = malloc(head_stride * sh.n_head_kv);
    float *q = malloc((size_t)n * Dq * sizeof *q), *out = malloc((size_t)n * Dq * sizeof *out);
    float *kf = malloc((size_t)rows * hd * sizeof *kf), *vf = malloc((size_t)rows * hd * sizeof *vf);
    double *ref = malloc((size_t)n * Dq * sizeof *ref), *sc = malloc((size_t)rows * sizeof *sc);
    float row[1024];
    REQUIRE(k && v && q && out && kf && vf && ref && sc, "out of memory");
    for (int64_t i = 0; i < rows * sh.n_head_kv; i++) {
        for (int d = 0; d < hd; d++) row[d] = rnd_float();
        store_row(type, row, k + (size_t)i * rb, hd);
        for (int d = 0; d < hd; d++) row[d] = rnd_float();
        store_row(type, row, v + (size_t)i * rb, hd);
    }
    for (int64_t i = 0; i < n * Dq; i++) q[i] = 4.0f * rnd_float(); /* peaked softmax rows */

    /* reference: per KV head the stored values, per query row and head a
     * softmax over keys 0..n_past + t in double */
    double vmax = 0.0;
    for (int kvh = 0; kvh < sh.n_head_kv; kvh++) {
        vl_dequantize_row_ref(type, k + kvh * head_stride, kf, rows * hd);
        vl_dequantize_row_ref(type, v + kvh * head_stride, vf, rows * hd);
        for (int64_t i = 0; i < rows * hd; i++) vmax = fabs(vf[i]) > vmax ? fabs(vf[i]) : vmax;
        for (int g = 0; g < G; g++) {
            const int h = kvh * G + g;
            for (int64_t t = 0; t < n; t++) {
                const float *qr = q + t * Dq + (int64_t)h * hd;
                const int64_t nk = n_past + t + 1;
                double mx = -INFINITY, sum = 0.0;
                for (int64_t j = 0; j < nk; j++) {
                    double s = 0.0;
                    for (int d = 0; d < hd; d++) s += (double)qr[d] * kf[j * hd + d];
                    sc[j] = s / sqrt((double)hd);
                    mx = sc[j] > mx ? sc[j] : mx;
                }
                for (int64_t j = 0; j < nk; j++) sum += (sc[j] = exp(sc[j] - mx));
                double *o = ref + t * Dq + (int64_t)h * hd;
                for (int d = 0; d < hd; d++) o[d] = 0.0;
                for (int64_t j = 0; j < nk; j++)
                    for (int d = 0; d < hd; d++) o[d] += sc[j] / sum * vf[j * hd + d];
            }
        }
    }

    vl_attn_args a = {.n_head = sh.n_head, .n_head_kv = sh.n_head_kv, .head_dim = hd, .n = n, .n_past = n_past,
                      .q = q, .out = out, .k = k, .v = v, .head_stride = head_stride, .row_bytes = rb, .type = type};
    for (int pi = 0; pi < n_pools; pi++) {
        vl_attn_scratch *scr = vl_attn_scratch_new();
        REQUIRE(scr, "scratch");
        for (int64_t i = 0; i < n * Dq; i++) out[i] = NAN;
        vllm_status st = vl_attention(pools[pi], scr, &a);
        CHECK(st == VLLM_OK, "%s", vl_error_message());
        double worst = 0.0;
        int64_t at = 0;
        for (int64_t i = 0; i < n * Dq; i++) {
            const double e = fabs((double)out[i] - ref[i]);
            if (!(e <= worst)) worst = e, at = i; /* NaN counts as worst */
        }
        /* float accumulation over up to a few thousand keys and head_dim
         * products, fast exp (~2 ulp): well under 1e-4 of the values */
        CHECK(worst <= 2e-5 * vmax, "%s, %d/%d heads × %d dims, n_past %lld, n %lld, %d threads: |out - ref| = %g at %lld (out %g, ref %g)",
              vl_type_name(type), sh.n_head, sh.n_head_kv, hd, (long long)n_past, (long long)n, vl_pool_size(pools[pi]),
              worst, (long long)at, out[at], ref[at]);
        vl_attn_scratch_free(scr);
    }
    free(k), free(v), free(q), free(out), free(kf), free(vf), free(ref), free(sc);
}

/* vl_exp2_fast: ~2e-7 relative where the result is a normal float, exactly
 * 0 from -127 down (masked scores are -inf), NaN clamped the same way. */
static void check_exp2(void)
{
    double worst = 0.0;
    float at = 0.0f;
    for (int i = 0; i <= 1260000; i++) {
        const float x = -126.0f + (float)i * 1e-4f;
        const double want = exp2((double)x), e = fabs(vl_exp2_fast(x) / want - 1.0);
        if (e > worst) worst = e, at = x;
    }
    CHECK(worst <= 3e-7, "vl_exp2_fast: relative error %g at %g", worst, at);
    CHECK(vl_exp2_fast(0.0f) == 1.0000001192f || vl_exp2_fast(0.0f) == 1.0f, "vl_exp2_fast(0) = %.9g", vl_exp2_fast(0.0f));
    CHECK(vl_exp2_fast(-127.0f) == 0.0f && vl_exp2_fast(-1000.0f) == 0.0f && vl_exp2_fast(-INFINITY) == 0.0f &&
              vl_exp2_fast(NAN) == 0.0f,
          "vl_exp2_fast below -127 / of NaN: %g %g %g %g", vl_exp2_fast(-127.0f), vl_exp2_fast(-1000.0f),
          vl_exp2_fast(-INFINITY), vl_exp2_fast(NAN));
}

TEST_MAIN_BEGIN
    check_exp2();
    vl_pool *pools[4] = {NULL, vl_pool_create(2), vl_pool_create(3), vl_pool_create(5)};
    for (int i = 1; i < 4; i++) REQUIRE(pools[i], "thread pool");
    const int32_t types[] = {VL_TYPE_F32, VL_TYPE_F16, VL_TYPE_Q8_0, VL_TYPE_Q4_0};
    const shape shapes[] = {
        {9, 3, 64, 0},  /* SmolLM2-135M: groups of 3 */
        {8, 1, 128, 0}, /* one KV head: decoding must still split across threads */
        {4, 4, 40, 0},  /* no grouping; head_dim not a multiple of 16 or 32 (float types only) */
        {2, 2, 36, 0},  /* a head_dim tail of 4 (float types only) */
        {14, 2, 64, 1}, /* groups of 7 (Qwen2.5-VL): a position's heads straddle chunks */
        {8, 2, 32, 1},  /* groups of 4 */
        {4, 2, 96, 1},  /* groups of 2; head_dim 96 */
    };
    for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++)
        for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++) {
            const int32_t type = types[ti];
            const shape sh = shapes[si];
            if (vl_row_size(type, sh.head_dim) == 0) continue; /* block types need head_dim % 32 == 0 */
            if (!sh.tiling_only) {
                /* decoding: empty cache, short, crossing key blocks, long */
                const int64_t decode_past[] = {0, 5, 200, 4100};
                for (size_t i = 0; i < 4; i++) run_case(type, sh, decode_past[i], 1, pools, 4);
                /* prefill: tiles, key blocks, a cache that already holds rows */
                run_case(type, sh, 0, 2, pools, 2);
                run_case(type, sh, 0, 150, pools, 4);
                run_case(type, sh, 70, 37, pools, 2);
                run_case(type, sh, 1500, 90, pools, 2);
            }
            /* tiling edges: rows one off whole chunks and tiles, caches
             * one off whole key blocks, two rows over a long cache */
            const int64_t edge[][2] = {{31, 8}, {33, 25}, {0, 41}, {32, 23}, {1, 121}, {95, 2}, {0, 24}};
            for (size_t i = 0; i < sizeof edge / sizeof *edge; i++) run_case(type, sh, edge[i][0], edge[i][1], pools, 2);
        }
    for (int i = 1; i < 4; i++) vl_pool_free(pools[i]);
TEST_MAIN_END
