/* Dot-product kernels and the matmul driver against double-precision
 * references computed here.
 *
 * The reference for a weight row uses the reference dequantization (checked
 * bit-exactly against hand-built blocks in test_quant) and the activation
 * values the kernels are specified to see, which this test derives with its
 * own re-implementation of ggml's activation conversion (q8_0/q8_1 blocks
 * of 32 with id = 127/amax, q8_K with iscale = -127/max, f16/bf16 rounding).
 * Every kernel level this CPU can run is checked (scalar, AVX2, AVX-512). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/f16.h"
#include "core/matmul.h"
#include "core/quant.h"
#include "core/threadpool.h"
#include "core/vecdot.h"
#include "harness.h"

static uint64_t rng = 0x243F6A8885A308D3ull;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}
static int rnd_int(int lo, int hi) { return lo + (int)(rnd() % (uint32_t)(hi - lo + 1)); }
static float rnd_float(void) { return (float)rnd_int(-100000, 100000) / 50000.0f; }

static void random_weights(int32_t type, uint8_t *p, int64_t rows, size_t row_bytes, int64_t n)
{
    const vl_type_traits *t = vl_type_traits_of(type);
    for (size_t i = 0; i < (size_t)rows * row_bytes; i++) p[i] = (uint8_t)rnd();
    for (int64_t r = 0; r < rows; r++) {
        uint8_t *row = p + (size_t)r * row_bytes;
        for (int64_t b = 0; b < n / t->block_size; b++) {
            uint8_t *blk = row + b * t->type_size;
            uint16_t d = vl_f32_to_f16((float)rnd_int(1, 1000) / 20000.0f);
            uint16_t m = vl_f32_to_f16((float)rnd_int(-1000, 1000) / 20000.0f);
            switch (type) {
            case VL_TYPE_F32: { float v = rnd_float(); memcpy(blk, &v, 4); break; }
            case VL_TYPE_F16: { uint16_t v = vl_f32_to_f16(rnd_float()); memcpy(blk, &v, 2); break; }
            case VL_TYPE_BF16: { uint16_t v = vl_f32_to_bf16(rnd_float()); memcpy(blk, &v, 2); break; }
            case VL_TYPE_Q4_0: case VL_TYPE_Q5_0: case VL_TYPE_Q8_0: memcpy(blk, &d, 2); break;
            case VL_TYPE_Q4_1: case VL_TYPE_Q5_1: memcpy(blk, &d, 2); memcpy(blk + 2, &m, 2); break;
            case VL_TYPE_Q4_K: case VL_TYPE_Q5_K: memcpy(blk, &d, 2); memcpy(blk + 2, &d, 2); break;
            case VL_TYPE_Q6_K: memcpy(blk + 208, &d, 2); break;
            default: break;
            }
        }
    }
}

/* The test's own model of the activation conversion: what each x[i] becomes
 * before the dot product. Also returns, for q8_1, the per-block s field. */
static void expected_activations(int32_t vdt, const float *x, double *out, double *s_out, int64_t n)
{
    if (vdt == VL_TYPE_F32) {
        for (int64_t i = 0; i < n; i++) out[i] = x[i];
    } else if (vdt == VL_TYPE_F16) {
        for (int64_t i = 0; i < n; i++) out[i] = vl_f16_to_f32(vl_f32_to_f16(x[i]));
    } else if (vdt == VL_TYPE_BF16) {
        for (int64_t i = 0; i < n; i++) out[i] = vl_bf16_to_f32(vl_f32_to_bf16(x[i]));
    } else if (vdt == VL_TYPE_Q8_0 || vdt == VL_TYPE_Q8_1) {
        for (int64_t b = 0; b < n / 32; b++) {
            float amax = 0;
            for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(x[32 * b + i]));
            const float id = amax ? 127.0f / amax : 0.0f;
            const double d = vl_f16_to_f32(vl_f32_to_f16(amax / 127.0f));
            int sum = 0;
            for (int i = 0; i < 32; i++) {
                const int q = (int)rintf(x[32 * b + i] * id);
                sum += q;
                out[32 * b + i] = q * d;
            }
            if (s_out) s_out[b] = vl_f16_to_f32(vl_f32_to_f16(amax / 127.0f * (float)sum));
        }
    } else if (vdt == VL_TYPE_Q8_K) {
        for (int64_t b = 0; b < n / 256; b++) {
            float amax = 0, max = 0;
            for (int i = 0; i < 256; i++)
                if (fabsf(x[256 * b + i]) > amax) {
                    amax = fabsf(x[256 * b + i]);
                    max = x[256 * b + i];
                }
            const float iscale = amax ? -127.0f / max : 0.0f;
            for (int i = 0; i < 256; i++) {
                int q = amax ? (int)rintf(iscale * x[256 * b + i]) : 0;
                if (q > 127) q = 127;
                out[256 * b + i] = amax ? q * (double)(1.0f / iscale) : 0.0;
            }
        }
    }
}

/* Double reference of one weight row against prepared activations. For
 * Q4_1/Q5_1 the min term uses the q8_1 block sum s, as ggml does. */
static double ref_dot(int32_t type, const void *row, const double *xa, const double *s, int64_t n, double *absdot)
{
    float *w = malloc((size_t)n * sizeof(float));
    vl_dequantize_row_ref(type, row, w, n);
    double acc = 0, aacc = 0;
    if (type == VL_TYPE_Q4_1 || type == VL_TYPE_Q5_1) {
        const size_t bs = type == VL_TYPE_Q4_1 ? 20 : 24;
        for (int64_t b = 0; b < n / 32; b++) {
            uint16_t mh;
            memcpy(&mh, (const uint8_t *)row + b * bs + 2, 2);
            const double m = vl_f16_to_f32(mh);
            for (int i = 0; i < 32; i++) {
                acc += (w[32 * b + i] - m) * xa[32 * b + i];
                aacc += fabs(w[32 * b + i] * xa[32 * b + i]);
            }
            acc += m * s[b];
        }
    } else {
        for (int64_t i = 0; i < n; i++) {
            acc += (double)w[i] * xa[i];
            aacc += fabs((double)w[i] * xa[i]);
        }
    }
    free(w);
    *absdot = aacc;
    return acc;
}

static const int32_t types[] = {VL_TYPE_F32, VL_TYPE_F16, VL_TYPE_BF16, VL_TYPE_Q4_0, VL_TYPE_Q4_1, VL_TYPE_Q5_0,
                                VL_TYPE_Q5_1, VL_TYPE_Q8_0, VL_TYPE_Q4_K, VL_TYPE_Q5_K, VL_TYPE_Q6_K};
#define N_TYPES (sizeof types / sizeof types[0])

static int is_k(int32_t t) { return t == VL_TYPE_Q4_K || t == VL_TYPE_Q5_K || t == VL_TYPE_Q6_K; }

static void test_gemv_levels(void)
{
    for (size_t k = 0; k < N_TYPES; k++) {
        const int32_t type = types[k];
        const int32_t vdt = vl_vec_dot_type(type);
        /* shapes: odd block counts, float tails, padded rows */
        const int64_t ns[3] = {is_k(type) ? 768 : 96, is_k(type) ? 256 : 544, is_k(type) ? 1280 : (type <= VL_TYPE_F16 || type == VL_TYPE_BF16 ? 37 : 32)};
        for (int si = 0; si < 3; si++) {
            const int64_t n = ns[si], rows = 13 + si * 4;
            const size_t rb = vl_row_size(type, n) + (si == 1 ? 64 : 0);
            uint8_t *W = malloc((size_t)rows * rb);
            float *x = malloc((size_t)n * sizeof(float));
            double *xa = malloc((size_t)n * sizeof(double)), s[64];
            void *xq = malloc(vl_activation_row_size(vdt, n));
            random_weights(type, W, rows, rb, n);
            for (int64_t i = 0; i < n; i++) x[i] = rnd_float();
            vl_quantize_activations(vdt, x, xq, n);
            expected_activations(vdt, x, xa, s, n);
            for (int lvl = 0; lvl < VL_KERNEL_LEVEL_COUNT; lvl++) {
                if (!vl_kernel_level_available((vl_kernel_level)lvl)) continue;
                float y[32];
                for (int i = 0; i < 32; i++) y[i] = NAN;
                const int64_t r0 = 1, r1 = rows - 1; /* a sub-range, as the pool splits rows */
                vl_gemv_level((vl_kernel_level)lvl, type, W, rb, xq, n, y, r0, r1);
                for (int64_t r = r0; r < r1; r++) {
                    double ad;
                    const double want = ref_dot(type, W + (size_t)r * rb, xa, s, n, &ad);
                    const double err = fabs(y[r - r0] - want);
                    CHECK(err <= 1e-5 * ad + 1e-6, "%s level %d n=%lld row %lld: got %.9g want %.9g (|x||w| %.3g)",
                          vl_type_name(type), lvl, (long long)n, (long long)r, y[r - r0], want, ad);
                }
            }
            free(W);
            free(x);
            free(xa);
            free(xq);
        }
    }
    CHECK(strlen(vl_gemv_kernel_name()) > 0, "kernel name");
}

/* vl_matmul: forced GEMV path, forced GEMM path and AUTO against a double
 * reference, for several token counts and odd output sizes. */
static void test_matmul(vl_pool *pool)
{
    vl_matmul_scratch *s = vl_matmul_scratch_new();
    REQUIRE(s, "scratch");
    const int64_t toks[] = {1, 2, 7, 64};
    for (size_t k = 0; k < N_TYPES; k++) {
        const int32_t type = types[k], vdt = vl_vec_dot_type(type);
        const int64_t n_in = is_k(type) ? 512 : 160;
        const int64_t n_out = k % 2 ? 37 : 131;
        const size_t rb = vl_row_size(type, n_in);
        vl_weight W = {type, n_in, n_out, rb, NULL};
        uint8_t *wd = malloc((size_t)n_out * rb);
        random_weights(type, wd, n_out, rb, n_in);
        W.data = wd;
        const int64_t maxt = 64;
        float *x = malloc((size_t)(maxt * n_in) * sizeof(float));
        float *y = malloc((size_t)(maxt * n_out) * sizeof(float));
        double *want = malloc((size_t)(maxt * n_out) * sizeof(double)), *ad = malloc((size_t)(maxt * n_out) * sizeof(double));
        double *xa = malloc((size_t)n_in * sizeof(double)), sb[64];
        for (int64_t i = 0; i < maxt * n_in; i++) x[i] = rnd_float();
        for (size_t ti = 0; ti < sizeof toks / sizeof toks[0]; ti++) {
            const int64_t nt = toks[ti];
            for (int64_t t = 0; t < nt; t++) {
                expected_activations(vdt, x + t * n_in, xa, sb, n_in);
                for (int64_t o = 0; o < n_out; o++)
                    want[t * n_out + o] = ref_dot(type, wd + (size_t)o * rb, xa, sb, n_in, &ad[t * n_out + o]);
            }
            for (int path = VL_MATMUL_AUTO; path <= VL_MATMUL_GEMM; path++) {
                for (int64_t i = 0; i < nt * n_out; i++) y[i] = NAN;
                vllm_status st = vl_matmul_path_run(pool, s, &W, x, nt, y, (vl_matmul_path)path);
                CHECK(st == VLLM_OK, "%s path %d: %s", vl_type_name(type), path, vl_error_message());
                /* The GEMM path cannot reproduce q8_1's rounded block sums (see matmul.h). */
                const double rel = (path != VL_MATMUL_GEMV && (type == VL_TYPE_Q4_1 || type == VL_TYPE_Q5_1)) ? 2e-3 : 1e-5;
                int bad = 0;
                for (int64_t i = 0; i < nt * n_out && bad < 3; i++)
                    if (!(fabs(y[i] - want[i]) <= rel * ad[i] + 1e-5)) {
                        bad++;
                        CHECK(0, "%s path %d n_tok=%lld [%lld,%lld]: got %.9g want %.9g", vl_type_name(type), path,
                              (long long)nt, (long long)(i / n_out), (long long)(i % n_out), y[i], want[i]);
                    }
            }
        }
        free(wd);
        free(x);
        free(y);
        free(want);
        free(ad);
        free(xa);
    }

    /* bad input is reported, never crashes */
    float xv[64] = {0}, yv[64];
    uint8_t blob[1024] = {0};
    vl_weight bad = {VL_TYPE_Q2_K, 256, 1, 84, blob};
    CHECK(vl_matmul(pool, s, &bad, xv, 1, yv) == VLLM_ERR_UNSUPPORTED, "Q2_K unsupported");
    vl_weight odd = {VL_TYPE_Q8_0, 33, 1, 64, blob};
    CHECK(vl_matmul(pool, s, &odd, xv, 1, yv) == VLLM_ERR_FORMAT, "n_in not a multiple of 32");
    vl_weight shortrow = {VL_TYPE_Q8_0, 64, 2, 40, blob};
    CHECK(vl_matmul(pool, s, &shortrow, xv, 1, yv) == VLLM_ERR_INVALID_ARG, "row_bytes too small");
    CHECK(strstr(vl_error_message(), "row_bytes") != NULL, "message names row_bytes: %s", vl_error_message());
    vl_weight nodata = {VL_TYPE_F32, 4, 2, 16, NULL};
    CHECK(vl_matmul(pool, s, &nodata, xv, 1, yv) == VLLM_ERR_INVALID_ARG, "NULL data");
    vl_weight ok = {VL_TYPE_F32, 4, 2, 16, blob};
    CHECK(vl_matmul(pool, s, &ok, xv, -1, yv) == VLLM_ERR_INVALID_ARG, "negative n_tok");
    CHECK(vl_matmul(pool, s, &ok, xv, 0, yv) == VLLM_OK, "zero tokens is a no-op");
    vl_matmul_scratch_free(s);
}

TEST_MAIN_BEGIN
test_gemv_levels();
vl_pool *pool = vl_pool_create(2);
REQUIRE(pool, "pool");
test_matmul(pool);
vl_pool_free(pool);
TEST_MAIN_END
