/* Scalar reference dot kernels (the math of ggml's *_generic vec_dot
 * functions: integer dot per block, then scaled) and the run-time choice
 * of kernel level. */
#include "vecdot.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "f16.h"
#include "kernels.h"
#include "log.h"
#include "quant.h"

/* ---- scalar dots ------------------------------------------------------------ */

static float dot_f32(const float *w, const float *x, int64_t n)
{
    float s = 0.0f;
    for (int64_t i = 0; i < n; i++) s += w[i] * x[i];
    return s;
}

static float dot_f16(const uint16_t *w, const uint16_t *x, int64_t n)
{
    float s = 0.0f;
    for (int64_t i = 0; i < n; i++) s += vl_f16_to_f32(w[i]) * vl_f16_to_f32(x[i]);
    return s;
}

static float dot_bf16(const uint16_t *w, const uint16_t *x, int64_t n)
{
    float s = 0.0f;
    for (int64_t i = 0; i < n; i++) s += vl_bf16_to_f32(w[i]) * vl_bf16_to_f32(x[i]);
    return s;
}

static float dot_q8_0(const vl_block_q8_0 *w, const vl_block_q8_0 *x, int64_t nb)
{
    float s = 0.0f;
    for (int64_t b = 0; b < nb; b++) {
        int isum = 0;
        for (int j = 0; j < VL_QK; j++) isum += w[b].qs[j] * x[b].qs[j];
        s += (float)isum * (vl_f16_to_f32(w[b].d) * vl_f16_to_f32(x[b].d));
    }
    return s;
}

static float dot_q4_0(const vl_block_q4_0 *w, const vl_block_q8_0 *x, int64_t nb)
{
    float s = 0.0f;
    for (int64_t b = 0; b < nb; b++) {
        int isum = 0;
        for (int j = 0; j < VL_QK / 2; j++) {
            isum += ((w[b].qs[j] & 0xF) - 8) * x[b].qs[j];
            isum += ((w[b].qs[j] >> 4) - 8) * x[b].qs[j + 16];
        }
        s += (float)isum * (vl_f16_to_f32(w[b].d) * vl_f16_to_f32(x[b].d));
    }
    return s;
}

static uint32_t qh32(const uint8_t qh[4])
{
    return (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24;
}

static float dot_q5_0(const vl_block_q5_0 *w, const vl_block_q8_0 *x, int64_t nb)
{
    float s = 0.0f;
    for (int64_t b = 0; b < nb; b++) {
        const uint32_t qh = qh32(w[b].qh);
        int isum = 0;
        for (int j = 0; j < VL_QK / 2; j++) {
            int lo = ((w[b].qs[j] & 0xF) | (int)(((qh >> j) & 1) << 4)) - 16;
            int hi = ((w[b].qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4)) - 16;
            isum += lo * x[b].qs[j] + hi * x[b].qs[j + 16];
        }
        s += (float)isum * (vl_f16_to_f32(w[b].d) * vl_f16_to_f32(x[b].d));
    }
    return s;
}

static float dot_q4_1(const vl_block_q4_1 *w, const vl_block_q8_1 *x, int64_t nb)
{
    float s = 0.0f;
    for (int64_t b = 0; b < nb; b++) {
        int isum = 0;
        for (int j = 0; j < VL_QK / 2; j++)
            isum += (w[b].qs[j] & 0xF) * x[b].qs[j] + (w[b].qs[j] >> 4) * x[b].qs[j + 16];
        s += (vl_f16_to_f32(w[b].d) * vl_f16_to_f32(x[b].d)) * (float)isum +
             vl_f16_to_f32(w[b].m) * vl_f16_to_f32(x[b].s);
    }
    return s;
}

static float dot_q5_1(const vl_block_q5_1 *w, const vl_block_q8_1 *x, int64_t nb)
{
    float s = 0.0f;
    for (int64_t b = 0; b < nb; b++) {
        const uint32_t qh = qh32(w[b].qh);
        int isum = 0;
        for (int j = 0; j < VL_QK / 2; j++) {
            int lo = (w[b].qs[j] & 0xF) | (int)(((qh >> j) & 1) << 4);
            int hi = (w[b].qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
            isum += lo * x[b].qs[j] + hi * x[b].qs[j + 16];
        }
        s += (vl_f16_to_f32(w[b].d) * vl_f16_to_f32(x[b].d)) * (float)isum +
             vl_f16_to_f32(w[b].m) * vl_f16_to_f32(x[b].s);
    }
    return s;
}

/* Q4_K/Q5_K: sum over 8 sub-blocks of 32: d*sc_j*dot(q, y) - dmin*m_j*sum(y),
 * sum(y) coming from the activation's 16-wide bsums. */
static float dot_q4_K(const vl_block_q4_K *w, const vl_block_q8_K *x, int64_t nb)
{
    float s = 0.0f;
    for (int64_t b = 0; b < nb; b++) {
        int sumi = 0, summ = 0;
        for (int j = 0; j < 8; j++) {
            uint8_t sc, m;
            vl_k4_scale_min(j, w[b].scales, &sc, &m);
            const uint8_t *q = w[b].qs + 32 * (j / 2);
            const int8_t *y = x[b].qs + 32 * j;
            int isum = 0;
            for (int l = 0; l < 32; l++) isum += ((j & 1) ? (q[l] >> 4) : (q[l] & 0xF)) * y[l];
            sumi += sc * isum;
            summ += m * (x[b].bsums[2 * j] + x[b].bsums[2 * j + 1]);
        }
        s += x[b].d * vl_f16_to_f32(w[b].d) * (float)sumi - x[b].d * vl_f16_to_f32(w[b].dmin) * (float)summ;
    }
    return s;
}

static float dot_q5_K(const vl_block_q5_K *w, const vl_block_q8_K *x, int64_t nb)
{
    float s = 0.0f;
    for (int64_t b = 0; b < nb; b++) {
        int sumi = 0, summ = 0;
        for (int j = 0; j < 8; j++) {
            uint8_t sc, m;
            vl_k4_scale_min(j, w[b].scales, &sc, &m);
            const uint8_t *q = w[b].qs + 32 * (j / 2);
            const int8_t *y = x[b].qs + 32 * j;
            int isum = 0;
            for (int l = 0; l < 32; l++) {
                int v = ((j & 1) ? (q[l] >> 4) : (q[l] & 0xF)) | (((w[b].qh[l] >> j) & 1) << 4);
                isum += v * y[l];
            }
            sumi += sc * isum;
            summ += m * (x[b].bsums[2 * j] + x[b].bsums[2 * j + 1]);
        }
        s += x[b].d * vl_f16_to_f32(w[b].d) * (float)sumi - x[b].d * vl_f16_to_f32(w[b].dmin) * (float)summ;
    }
    return s;
}

static float dot_q6_K(const vl_block_q6_K *w, const vl_block_q8_K *x, int64_t nb)
{
    float s = 0.0f;
    for (int64_t b = 0; b < nb; b++) {
        int sumi = 0;
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = w[b].ql + 64 * h, *qh = w[b].qh + 32 * h;
            const int8_t *sc = w[b].scales + 8 * h, *y = x[b].qs + 128 * h;
            for (int k = 0; k < 4; k++) { /* 32 weights at offset 32k */
                int is0 = 0, is1 = 0;
                for (int l = 0; l < 32; l++) {
                    const uint8_t lo = ql[l + 32 * (k & 1)];
                    const int v = ((k < 2 ? lo & 0xF : lo >> 4) | (((qh[l] >> (2 * k)) & 3) << 4)) - 32;
                    if (l < 16) is0 += v * y[32 * k + l];
                    else is1 += v * y[32 * k + l];
                }
                sumi += sc[2 * k] * is0 + sc[2 * k + 1] * is1;
            }
        }
        s += vl_f16_to_f32(w[b].d) * x[b].d * (float)sumi;
    }
    return s;
}

/* ---- scalar row loops ---------------------------------------------------------- */

#define ROW(W, r, rb) ((const void *)((const char *)(W) + (size_t)(r) * (rb)))

#define SCALAR_GEMV(name, dot, wt, xt, div)                                                          \
    static void name(const void *W, size_t rb, const void *xq, int64_t n, float *y, int64_t nrows)   \
    {                                                                                                \
        for (int64_t r = 0; r < nrows; r++) y[r] = dot((const wt *)ROW(W, r, rb), (const xt *)xq, n / (div)); \
    }

SCALAR_GEMV(gemv_f32, dot_f32, float, float, 1)
SCALAR_GEMV(gemv_f16, dot_f16, uint16_t, uint16_t, 1)
SCALAR_GEMV(gemv_bf16, dot_bf16, uint16_t, uint16_t, 1)
SCALAR_GEMV(gemv_q8_0, dot_q8_0, vl_block_q8_0, vl_block_q8_0, VL_QK)
SCALAR_GEMV(gemv_q4_0, dot_q4_0, vl_block_q4_0, vl_block_q8_0, VL_QK)
SCALAR_GEMV(gemv_q5_0, dot_q5_0, vl_block_q5_0, vl_block_q8_0, VL_QK)
SCALAR_GEMV(gemv_q4_1, dot_q4_1, vl_block_q4_1, vl_block_q8_1, VL_QK)
SCALAR_GEMV(gemv_q5_1, dot_q5_1, vl_block_q5_1, vl_block_q8_1, VL_QK)
SCALAR_GEMV(gemv_q4_K, dot_q4_K, vl_block_q4_K, vl_block_q8_K, VL_QK_K)
SCALAR_GEMV(gemv_q5_K, dot_q5_K, vl_block_q5_K, vl_block_q8_K, VL_QK_K)
SCALAR_GEMV(gemv_q6_K, dot_q6_K, vl_block_q6_K, vl_block_q8_K, VL_QK_K)

void vl_kernels_fill_scalar(vl_kernel_table *t)
{
    t->gemv[VL_TYPE_F32] = gemv_f32;
    t->gemv[VL_TYPE_F16] = gemv_f16;
    t->gemv[VL_TYPE_BF16] = gemv_bf16;
    t->gemv[VL_TYPE_Q8_0] = gemv_q8_0;
    t->gemv[VL_TYPE_Q4_0] = gemv_q4_0;
    t->gemv[VL_TYPE_Q5_0] = gemv_q5_0;
    t->gemv[VL_TYPE_Q4_1] = gemv_q4_1;
    t->gemv[VL_TYPE_Q5_1] = gemv_q5_1;
    t->gemv[VL_TYPE_Q4_K] = gemv_q4_K;
    t->gemv[VL_TYPE_Q5_K] = gemv_q5_K;
    t->gemv[VL_TYPE_Q6_K] = gemv_q6_K;
}

/* ---- level selection ------------------------------------------------------------- */

static vl_kernel_table tables[VL_KERNEL_LEVEL_COUNT];
static int available[VL_KERNEL_LEVEL_COUNT];
static int best;
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void build_tables(void)
{
    const vl_cpu_features *f = vl_cpu();
    tables[0].name = "scalar";
    vl_kernels_fill_scalar(&tables[0]);
    vl_dequant_fill_scalar(&tables[0]);
    vl_attn_fill_scalar(&tables[0]);
    available[0] = 1;
#if defined(VL_HAVE_X86_KERNELS)
    tables[1] = tables[0];
    tables[1].name = "avx2";
    vl_kernels_fill_avx2(&tables[1]);
    vl_dequant_fill_avx2(&tables[1]);
    vl_attn_fill_avx2(&tables[1]);
    available[1] = f->avx2 && f->fma && f->f16c;
    tables[2] = tables[1];
    tables[2].name = f->avx512bf16 ? "avx512-vnni-bf16" : "avx512-vnni";
    vl_kernels_fill_avx512(&tables[2], f->avx512bf16);
    available[2] = available[1] && f->avx512f && f->avx512bw && f->avx512vl && f->avx512vnni;
#elif defined(VL_HAVE_ARM_KERNELS)
    tables[VL_KERNEL_NEON] = tables[0];
    tables[VL_KERNEL_NEON].name = "neon";
    vl_kernels_fill_neon(&tables[VL_KERNEL_NEON]);
    available[VL_KERNEL_NEON] = f->neon;
    tables[VL_KERNEL_NEON_DOTPROD] = tables[VL_KERNEL_NEON];
    tables[VL_KERNEL_NEON_DOTPROD].name = "neon-dotprod";
    vl_kernels_fill_neon_dotprod(&tables[VL_KERNEL_NEON_DOTPROD]);
    available[VL_KERNEL_NEON_DOTPROD] = f->neon && f->dotprod;
#else
    (void)f;
#endif
    best = 0; /* levels are numbered so that a higher available one is better */
    for (int l = 1; l < VL_KERNEL_LEVEL_COUNT; l++)
        if (available[l]) best = l;
    VL_LOG_INFO("kernels: %s", tables[best].name);
    /* VIDEOLLM_IGEMM=1|0 forces the integer GEMM on or off for prefill at
     * every level that has a kernel (A/B measurements, see kernels.h). */
    const char *ig = getenv("VIDEOLLM_IGEMM");
    if (ig && (strcmp(ig, "1") == 0 || strcmp(ig, "0") == 0))
        for (int l = 0; l < VL_KERNEL_LEVEL_COUNT; l++)
            for (int32_t t = 0; t < VL_TYPE_COUNT; t++)
                tables[l].igemm_preferred[t] = (uint8_t)(ig[0] == '1' && tables[l].igemm && vl_igemm_supports(t));
}

const vl_kernel_table *vl_kernels_for_level(int level)
{
    pthread_once(&tables_once, build_tables);
    if (level < 0 || level >= VL_KERNEL_LEVEL_COUNT || !available[level]) return NULL;
    return &tables[level];
}

const vl_kernel_table *vl_kernels_active(void)
{
    pthread_once(&tables_once, build_tables);
    return &tables[best];
}

int vl_kernel_level_available(vl_kernel_level level) { return vl_kernels_for_level((int)level) != NULL; }

static void run_gemv(const vl_kernel_table *t, int32_t type, const void *W, size_t row_bytes, const void *xq,
                     int64_t n, float *y, int64_t r0, int64_t r1)
{
    if (!t || type < 0 || type >= VL_TYPE_COUNT || !t->gemv[type] || r1 <= r0) return;
    t->gemv[type](ROW(W, r0, row_bytes), row_bytes, xq, n, y, r1 - r0);
}

void vl_gemv(int32_t weight_type, const void *W, size_t row_bytes, const void *xq, int64_t n, float *y, int64_t r0,
             int64_t r1)
{
    run_gemv(vl_kernels_active(), weight_type, W, row_bytes, xq, n, y, r0, r1);
}

void vl_gemv_ref(int32_t weight_type, const void *W, size_t row_bytes, const void *xq, int64_t n, float *y,
                 int64_t r0, int64_t r1)
{
    run_gemv(vl_kernels_for_level(0), weight_type, W, row_bytes, xq, n, y, r0, r1);
}

void vl_gemv_level(vl_kernel_level level, int32_t weight_type, const void *W, size_t row_bytes, const void *xq,
                   int64_t n, float *y, int64_t r0, int64_t r1)
{
    run_gemv(vl_kernels_for_level((int)level), weight_type, W, row_bytes, xq, n, y, r0, r1);
}

void vl_dequantize_row_level(vl_kernel_level level, int32_t type, const void *src, float *dst, int64_t n)
{
    const vl_kernel_table *t = vl_kernels_for_level((int)level);
    if (t && type >= 0 && type < VL_TYPE_COUNT && t->dequant[type]) t->dequant[type](src, dst, n);
}

const char *vl_gemv_kernel_name(void) { return vl_kernels_active()->name; }
