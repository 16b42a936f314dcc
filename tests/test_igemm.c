/* The integer GEMM (lib/core/igemm.c): packing, activation preparation
 * and every micro-kernel level this CPU runs.
 *
 * - packing: (scale * isc) * q - min of every packed value equals the
 *   reference dequantization (vl_dequantize_row_ref) bit for bit, and the
 *   packed correction is -128 * (sum over halves of isc * sum of q);
 * - preparation: the biased bytes minus 128 are the ggml activation quants
 *   (vl_quantize_activations), dx/mx their scales and sums;
 * - kernels: y equals this file's own evaluation of the specified math
 *   (int32 sum of q_w * q_x per sub-block, then the float steps in order)
 *   exactly, for every level and token count 1..8 and partial panels,
 *   also with every weight quant and activation at its extreme (the AVX2
 *   kernel adds int16 pair sums of several groups before widening them);
 * - the whole vl_matmul GEMM path against the GEMV path (ggml's integer
 *   dot products, vl_gemv_ref) and against f32 weights within tolerance. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/f16.h"
#include "core/igemm.h"
#include "core/kernels.h"
#include "core/matmul.h"
#include "core/quant.h"
#include "core/threadpool.h"
#include "core/vecdot.h"
#include "harness.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}
static float rnd_float(void) { return (float)((int)(rnd() % 200001) - 100000) / 50000.0f; }

/* Random blocks with sane fp16 scales (random bytes elsewhere). */
static uint8_t *random_weight(int32_t type, int64_t rows, int64_t n, size_t *rb_out)
{
    const vl_type_traits *t = vl_type_traits_of(type);
    const size_t rb = vl_row_size(type, n);
    uint8_t *p = malloc((size_t)rows * rb);
    for (size_t i = 0; i < (size_t)rows * rb; i++) p[i] = (uint8_t)rnd();
    for (int64_t b = 0; b < rows * (n / t->block_size); b++) {
        uint8_t *blk = p + (size_t)b * t->type_size;
        uint16_t d = vl_f32_to_f16((float)(1 + rnd() % 1000) / 20000.0f);
        uint16_t m = vl_f32_to_f16((float)(1 + rnd() % 1000) / 40000.0f);
        memcpy(blk + (type == VL_TYPE_Q6_K ? offsetof(vl_block_q6_K, d) : 0), &d, 2);
        if (type == VL_TYPE_Q4_K || type == VL_TYPE_Q5_K) memcpy(blk + 2, &m, 2);
    }
    *rb_out = rb;
    return p;
}

static const int32_t types[] = {VL_TYPE_Q8_0, VL_TYPE_Q4_0, VL_TYPE_Q5_0, VL_TYPE_Q4_K, VL_TYPE_Q5_K, VL_TYPE_Q6_K};

/* The integer scale of half h of row r in a packed sub-block (stored
 * twice as int16 in one int32). */
static int packed_isc(const uint8_t *p, int h, int r)
{
    int16_t v;
    memcpy(&v, p + VL_IGEMM_SB_ISC + 4 * (h * VL_IGEMM_ROWS + r), 2);
    return v;
}
#define N_TYPES (sizeof types / sizeof types[0])

static void test_pack_and_prepare(void)
{
    for (size_t k = 0; k < N_TYPES; k++) {
        const int32_t type = types[k];
        CHECK(vl_igemm_supports(type), "%s supported", vl_type_name(type));
        const int64_t n = 512, nsb = n / VL_IGEMM_SB;
        const int rows = 13; /* a partial panel */
        size_t rb;
        uint8_t *w = random_weight(type, rows, n, &rb);
        uint8_t *panel = malloc((size_t)nsb * VL_IGEMM_SB_BYTES);
        vl_igemm_pack_panel(type, w, rb, n, rows, panel);
        float deq[512];
        int bad = 0;
        for (int r = 0; r < VL_IGEMM_ROWS && bad < 3; r++) {
            if (r < rows) vl_dequantize_row_ref(type, w + (size_t)r * rb, deq, n);
            for (int64_t s = 0; s < nsb; s++) {
                const uint8_t *p = panel + s * VL_IGEMM_SB_BYTES;
                float scale, min;
                int32_t corr;
                memcpy(&scale, p + VL_IGEMM_SB_SCALE + 4 * r, 4);
                memcpy(&min, p + VL_IGEMM_SB_MIN + 4 * r, 4);
                memcpy(&corr, p + VL_IGEMM_SB_CORR + 4 * r, 4);
                int sum = 0;
                for (int i = 0; i < VL_IGEMM_SB; i++) {
                    const int q = ((const int8_t *)p)[((i / 4) * VL_IGEMM_ROWS + r) * 4 + i % 4];
                    const int isc = packed_isc(p, i / 16, r);
                    sum += isc * q;
                    const float v = scale * (float)isc * (float)q - min, want = r < rows ? deq[s * VL_IGEMM_SB + i] : 0.0f;
                    if (v != want && bad++ < 3)
                        CHECK(0, "%s row %d value %lld: packed %.9g, dequantized %.9g", vl_type_name(type), r,
                              (long long)(s * VL_IGEMM_SB + i), v, want);
                }
                if (type != VL_TYPE_Q6_K && (packed_isc(p, 0, r) != 1 || packed_isc(p, 1, r) != 1) && bad++ < 3)
                    CHECK(0, "%s integer scales %d %d want 1", vl_type_name(type), packed_isc(p, 0, r), packed_isc(p, 1, r));
                if (corr != -128 * sum && bad++ < 3) CHECK(0, "%s corr %d want %d", vl_type_name(type), corr, -128 * sum);
            }
        }
        free(w);
        free(panel);
    }

    /* activations: q8_0 and q8_K */
    const int32_t vdts[] = {VL_TYPE_Q8_0, VL_TYPE_Q8_K};
    for (int v = 0; v < 2; v++) {
        const int64_t n = 512, nsb = n / VL_IGEMM_SB;
        float x[512], dx[16], mx[16];
        uint8_t xu[512];
        for (int i = 0; i < n; i++) x[i] = rnd_float();
        void *xq = malloc(vl_activation_row_size(vdts[v], n));
        vl_quantize_activations(vdts[v], x, xq, n);
        vl_igemm_prepare_row(vdts[v], xq, n, xu, dx, mx);
        for (int64_t s = 0; s < nsb; s++) {
            const int8_t *q;
            float d;
            if (vdts[v] == VL_TYPE_Q8_0) {
                const vl_block_q8_0 *b = (const vl_block_q8_0 *)xq + s;
                q = b->qs, d = vl_f16_to_f32(b->d);
            } else {
                const vl_block_q8_K *b = (const vl_block_q8_K *)xq + s / 8;
                q = b->qs + (s % 8) * 32, d = b->d;
            }
            int sum = 0, ok = 1;
            for (int i = 0; i < VL_IGEMM_SB; i++) {
                ok &= (int)xu[s * VL_IGEMM_SB + i] - 128 == q[i];
                sum += q[i];
            }
            CHECK(ok, "%s sub-block %lld: biased bytes", vl_type_name(vdts[v]), (long long)s);
            CHECK(dx[s] == d && mx[s] == -d * (float)sum, "%s sub-block %lld: dx %g mx %g want %g %g",
                  vl_type_name(vdts[v]), (long long)s, dx[s], mx[s], d, -d * (float)sum);
        }
        free(xq);
    }
}

/* This test's evaluation of the kernel contract, straight from the layout. */
static float expected(const uint8_t *panel, int64_t nsb, const uint8_t *xu, const float *dx, const float *mx,
                      int has_min, int r)
{
    float acc = 0.0f;
    for (int64_t s = 0; s < nsb; s++) {
        const uint8_t *p = panel + s * VL_IGEMM_SB_BYTES;
        int32_t isum = 0;
        for (int i = 0; i < VL_IGEMM_SB; i++)
            isum += packed_isc(p, i / 16, r) * ((const int8_t *)p)[((i / 4) * VL_IGEMM_ROWS + r) * 4 + i % 4] *
                    ((int)xu[s * VL_IGEMM_SB + i] - 128);
        float scale, min;
        memcpy(&scale, p + VL_IGEMM_SB_SCALE + 4 * r, 4);
        memcpy(&min, p + VL_IGEMM_SB_MIN + 4 * r, 4);
        acc = fmaf((float)isum, scale * dx[s], acc);
        if (has_min) acc = fmaf(min, mx[s], acc);
    }
    return acc;
}

/* The reference kernel and every SIMD level this CPU runs. */
static int kernel_list(vl_igemm_fn fns[4], const char *names[4])
{
    int nf = 1;
    fns[0] = vl_igemm_kernel_ref, names[0] = "ref";
    for (int lvl = VL_KERNEL_AVX2; lvl <= VL_KERNEL_AVX512; lvl++) {
        const vl_kernel_table *t = vl_kernels_for_level(lvl);
        if (t && t->igemm) fns[nf] = t->igemm, names[nf++] = t->name;
    }
    return nf;
}

static void test_kernels(void)
{
    vl_igemm_fn fns[4];
    const char *names[4];
    const int nf = kernel_list(fns, names);
    for (size_t k = 0; k < N_TYPES; k++) {
        const int32_t type = types[k], vdt = vl_vec_dot_type(type);
        const int has_min = vl_igemm_has_min(type);
        const int64_t n = 768, nsb = n / VL_IGEMM_SB;
        size_t rb;
        uint8_t *w = random_weight(type, VL_IGEMM_ROWS, n, &rb);
        uint8_t *panel = malloc((size_t)nsb * VL_IGEMM_SB_BYTES);
        vl_igemm_pack_panel(type, w, rb, n, VL_IGEMM_ROWS, panel);
        uint8_t xu[VL_IGEMM_TOKS][768];
        float dx[VL_IGEMM_TOKS][24], mx[VL_IGEMM_TOKS][24];
        void *xq = malloc(vl_activation_row_size(vdt, n));
        for (int t = 0; t < VL_IGEMM_TOKS; t++) {
            float x[768];
            /* token 0 saturates: every activation quant at +-127 (q8_K: -128) */
            for (int i = 0; i < n; i++) x[i] = t == 0 ? (i % 2 ? 1.0f : -1.0f) : rnd_float();
            vl_quantize_activations(vdt, x, xq, n);
            vl_igemm_prepare_row(vdt, xq, n, xu[t], dx[t], mx[t]);
        }
        for (int f = 0; f < nf; f++)
            for (int mr = 1; mr <= VL_IGEMM_TOKS; mr++)
                for (int ncols = 16; ncols >= 5; ncols -= 11) {
                    float y[VL_IGEMM_TOKS][VL_IGEMM_ROWS + 1];
                    for (int t = 0; t < VL_IGEMM_TOKS; t++)
                        for (int r = 0; r <= VL_IGEMM_ROWS; r++) y[t][r] = -7.0f;
                    fns[f](panel, nsb, xu[0], sizeof xu[0], dx[0], mx[0], 24, mr, type, y[0], VL_IGEMM_ROWS + 1,
                           ncols);
                    int bad = 0;
                    for (int t = 0; t < VL_IGEMM_TOKS; t++)
                        for (int r = 0; r <= VL_IGEMM_ROWS; r++) {
                            const float want = t < mr && r < ncols ? expected(panel, nsb, xu[t], dx[t], mx[t], has_min, r)
                                                                   : -7.0f;
                            if (y[t][r] != want && bad++ < 3)
                                CHECK(0, "%s kernel %s mr=%d ncols=%d [%d][%d]: %.9g want %.9g", vl_type_name(type),
                                      names[f], mr, ncols, t, r, y[t][r], want);
                        }
                }
        free(xq);
        free(w);
        free(panel);
    }
}

/* Every weight quant at one end of its type's range (all bits 0 or all 1;
 * Q8_0: -128 or 127) and every activation at +127 (biased 255) or -128:
 * the AVX2 kernel adds the int16 pair sums of several groups before
 * widening them (Q4_0: 8 groups, 8 * 2 * 255 * -8 = -32640), so these
 * sums sit at their bound and must neither saturate nor wrap. */
static void test_extremes(void)
{
    vl_igemm_fn fns[4];
    const char *names[4];
    const int nf = kernel_list(fns, names);
    for (size_t k = 0; k < N_TYPES; k++) {
        const int32_t type = types[k];
        const vl_type_traits *tr = vl_type_traits_of(type);
        const int64_t n = 512, nsb = n / VL_IGEMM_SB;
        const size_t rb = vl_row_size(type, n);
        for (int e = 0; e < 2; e++) {
            const int fill = type == VL_TYPE_Q8_0 ? (e ? 0x7F : 0x80) : (e ? 0xFF : 0x00);
            uint8_t *w = malloc(rb * VL_IGEMM_ROWS);
            memset(w, fill, rb * VL_IGEMM_ROWS);
            const uint16_t d = vl_f32_to_f16(1.0f / 64.0f), dmin = vl_f32_to_f16(1.0f / 128.0f);
            for (int64_t b = 0; b < VL_IGEMM_ROWS * (n / tr->block_size); b++) {
                uint8_t *blk = w + (size_t)b * tr->type_size;
                if (type == VL_TYPE_Q6_K) {
                    memcpy(blk + offsetof(vl_block_q6_K, d), &d, 2);
                    memset(blk + offsetof(vl_block_q6_K, scales), e ? 127 : 0x80, 16); /* +127 / -128 */
                } else {
                    memcpy(blk, &d, 2);
                    if (type == VL_TYPE_Q4_K || type == VL_TYPE_Q5_K) memcpy(blk + 2, &dmin, 2);
                }
            }
            uint8_t *panel = malloc((size_t)nsb * VL_IGEMM_SB_BYTES);
            vl_igemm_pack_panel(type, w, rb, n, VL_IGEMM_ROWS, panel);
            /* biased activations at both ends (q8 quants 127 and -128; Q8_0's
             * activations never reach -128, ggml quantizes them to +-127) */
            uint8_t xu[4][512];
            float dx[4][16], mx[4][16];
            for (int t = 0; t < 4; t++) {
                memset(xu[t], t % 2 ? 255 : type == VL_TYPE_Q8_0 ? 1 : 0, sizeof xu[t]);
                for (int64_t s = 0; s < nsb; s++) dx[t][s] = 1.0f / 256.0f, mx[t][s] = t % 2 ? -0.5f : 0.5f;
            }
            for (int f = 0; f < nf; f++) {
                float y[4][VL_IGEMM_ROWS];
                fns[f](panel, nsb, xu[0], sizeof xu[0], dx[0], mx[0], 16, 4, type, y[0], VL_IGEMM_ROWS, VL_IGEMM_ROWS);
                int bad = 0;
                for (int t = 0; t < 4; t++)
                    for (int r = 0; r < VL_IGEMM_ROWS; r++) {
                        const float want = expected(panel, nsb, xu[t], dx[t], mx[t], vl_igemm_has_min(type), r);
                        if (y[t][r] != want && bad++ < 3)
                            CHECK(0, "%s extreme fill 0x%02x kernel %s token %d row %d: %.9g want %.9g",
                                  vl_type_name(type), fill, names[f], t, r, y[t][r], want);
                    }
            }
            free(panel);
            free(w);
        }
    }
}

/* The integer GEMM driver (VL_MATMUL_GEMM_INT8: packing per thread, token
 * blocks, partial panels and token tails, the pool split) with the best
 * kernel of this run's level (the suite runs this test again under
 * VIDEOLLM_CPU=avx2 and =scalar) against ggml's integer dot products (the
 * scalar GEMV reference) and against the dequantized f32 matrix. */
static void test_matmul(vl_pool *pool)
{
    vl_matmul_scratch *sc = vl_matmul_scratch_new();
    REQUIRE(sc, "scratch");
    for (size_t k = 0; k < N_TYPES; k++) {
        const int32_t type = types[k], vdt = vl_vec_dot_type(type);
        const int64_t n_in = 512, n_out = 45, n_tok = 37; /* 3 panels (the last partial), 4 blocks + 5 tokens */
        size_t rb;
        uint8_t *w = random_weight(type, n_out, n_in, &rb);
        float *wf = malloc(sizeof(float) * (size_t)(n_out * n_in));
        for (int64_t o = 0; o < n_out; o++) vl_dequantize_row_ref(type, w + (size_t)o * rb, wf + o * n_in, n_in);
        float *x = malloc(sizeof(float) * (size_t)(n_tok * n_in));
        for (int64_t i = 0; i < n_tok * n_in; i++) x[i] = rnd_float();
        float *y = malloc(sizeof(float) * (size_t)(n_tok * n_out)), *yf = malloc(sizeof(float) * (size_t)(n_tok * n_out));
        const vl_weight W = {type, n_in, n_out, rb, w}, Wf = {VL_TYPE_F32, n_in, n_out, n_in * sizeof(float), wf};
        const vllm_status st = vl_matmul_path_run(pool, sc, &W, x, n_tok, y, VL_MATMUL_GEMM_INT8);
        if (!vl_kernels_active()->igemm) { /* scalar level: no integer GEMM to run */
            CHECK(st == VLLM_ERR_UNSUPPORTED && strstr(vl_error_message(), vl_type_name(type)),
                  "%s without SIMD: status %d, %s", vl_type_name(type), (int)st, vl_error_message());
            CHECK(vl_matmul_path_run(pool, sc, &W, x, n_tok, y, VL_MATMUL_GEMM) == VLLM_OK, "%s", vl_error_message());
        } else {
            CHECK(st == VLLM_OK, "%s: %s", vl_type_name(type), vl_error_message());
        }
        CHECK(vl_matmul_path_run(pool, sc, &Wf, x, n_tok, yf, VL_MATMUL_GEMM) == VLLM_OK, "f32: %s", vl_error_message());
        void *xq = malloc(vl_activation_row_size(vdt, n_in));
        double err_ggml = 0, err_f32 = 0, norm = 0;
        for (int64_t t = 0; t < n_tok; t++) {
            float g[45];
            vl_quantize_activations(vdt, x + t * n_in, xq, n_in);
            vl_gemv_ref(type, w, rb, xq, n_in, g, 0, n_out);
            for (int64_t o = 0; o < n_out; o++) {
                const double v = y[t * n_out + o];
                err_ggml = fmax(err_ggml, fabs(v - g[o]));
                err_f32 = fmax(err_f32, fabs(v - yf[t * n_out + o]));
                norm = fmax(norm, fabs(yf[t * n_out + o]));
            }
        }
        /* Same integers as ggml: only float rounding of the scales and sums
         * differs. f32: the activation quantization error (~1/254 of amax
         * per value, averaging out over 512 terms). */
        CHECK(err_ggml <= 2e-5 * norm, "%s: GEMM vs ggml integer dots max diff %g (scale %g)", vl_type_name(type),
              err_ggml, norm);
        CHECK(err_f32 <= 2e-2 * norm && err_f32 > 0, "%s: GEMM vs f32 max diff %g (scale %g)", vl_type_name(type),
              err_f32, norm);
        free(xq);
        free(w);
        free(wf);
        free(x);
        free(y);
        free(yf);
    }
    /* types without an integer GEMM are refused on the forced path */
    float xv[32] = {0}, yv[1];
    uint8_t blob[64] = {0};
    const vl_weight q41 = {VL_TYPE_Q4_1, 32, 1, 20, blob};
    CHECK(vl_matmul_path_run(pool, sc, &q41, xv, 1, yv, VL_MATMUL_GEMM_INT8) == VLLM_ERR_UNSUPPORTED, "Q4_1 refused");
    vl_matmul_scratch_free(sc);
}

TEST_MAIN_BEGIN
test_pack_and_prepare();
test_kernels();
test_extremes();
vl_pool *pool = vl_pool_create(2);
REQUIRE(pool, "pool");
test_matmul(pool);
vl_pool_free(pool);
TEST_MAIN_END
