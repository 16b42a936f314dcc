#include "gemm_bf16.h"

#include <stdlib.h>
#include <string.h>

#include "core/aligned_alloc.h"
#include "core/cpu.h"
#include "core/f16.h"

int vl_bf16_gemm_available(void)
{
#ifdef VL_HAVE_ENCODER_AVX512
    const vl_cpu_features *f = vl_cpu();
    return f->avx512f && f->avx512bw && f->avx512vl && f->avx512bf16;
#else
    return 0; /* no AVX-512 objects in this build (non-x86 targets) */
#endif
}

vllm_status vl_bf16_pack(const float *w, int n, int k, vl_bf16_packed **out)
{
    *out = NULL;
    if (n <= 0 || k <= 0) return vl_error(VLLM_ERR_INVALID_ARG, "bf16 pack: bad shape %d x %d", n, k);
    vl_bf16_packed *p = calloc(1, sizeof *p);
    if (!p) return vl_error(VLLM_ERR_NOMEM, "bf16 pack: out of memory");
    p->n = n;
    p->k = k;
    p->kp = (k + 1) / 2;
    p->n_panels = (n + VL_BF16_NR - 1) / VL_BF16_NR;
    size_t count = (size_t)p->n_panels * (size_t)p->kp * VL_BF16_NR * 2;
    size_t bytes = (count * sizeof(uint16_t) + 63) & ~(size_t)63;
    p->data = vl_aligned_alloc(64, bytes);
    if (!p->data) {
        free(p);
        return vl_error(VLLM_ERR_NOMEM, "bf16 pack: out of memory (%zu bytes)", bytes);
    }
    memset(p->data, 0, bytes); /* padding columns and the odd-k tail stay zero */
    for (int pn = 0; pn < p->n_panels; pn++) {
        uint16_t *panel = p->data + (size_t)pn * p->kp * VL_BF16_NR * 2;
        for (int j = 0; j < VL_BF16_NR; j++) {
            int col = pn * VL_BF16_NR + j;
            if (col >= n) break;
            const float *row = w + (size_t)col * k;
            for (int kk = 0; kk < k; kk++)
                panel[((size_t)(kk >> 1) * VL_BF16_NR + j) * 2 + (kk & 1)] = vl_f32_to_bf16(row[kk]);
        }
    }
    *out = p;
    return VLLM_OK;
}

void vl_bf16_packed_free(void *pv)
{
    vl_bf16_packed *p = pv;
    if (!p) return;
    free(p->data);
    free(p);
}

static int a_stride(int k) { return ((k + 1) / 2 * 2 + 31) & ~31; } /* bf16 elements per converted row */

size_t vl_bf16_scratch_size(int M, int k) { return (size_t)M * (size_t)a_stride(k) * sizeof(uint16_t) + 64; }

/* ---- scalar version of the same arithmetic ------------------------------ */

static void convert_rows_scalar(const float *A, int lda, int rows, int k, uint16_t *dst, int ldd)
{
    for (int r = 0; r < rows; r++) {
        for (int i = 0; i < k; i++) dst[(size_t)r * ldd + i] = vl_f32_to_bf16(A[(size_t)r * lda + i]);
        for (int i = k; i < ldd; i++) dst[(size_t)r * ldd + i] = 0;
    }
}

static void kernel_scalar(const uint16_t *A, int lda, int M, const vl_bf16_packed *W, int panel0, int panel1,
                          const float *bias, float *C, int ldc)
{
    for (int pn = panel0; pn < panel1; pn++) {
        const uint16_t *panel = W->data + (size_t)pn * W->kp * VL_BF16_NR * 2;
        for (int j = 0; j < VL_BF16_NR; j++) {
            int col = pn * VL_BF16_NR + j;
            if (col >= W->n) break;
            for (int m = 0; m < M; m++) {
                const uint16_t *a = A + (size_t)m * lda;
                float acc = 0;
                for (int kp = 0; kp < W->kp; kp++) {
                    const uint16_t *b = panel + ((size_t)kp * VL_BF16_NR + j) * 2;
                    acc += vl_bf16_to_f32(a[2 * kp]) * vl_bf16_to_f32(b[0]) +
                           vl_bf16_to_f32(a[2 * kp + 1]) * vl_bf16_to_f32(b[1]);
                }
                C[(size_t)m * ldc + col] = acc + (bias ? bias[col] : 0.0f);
            }
        }
    }
}

/* ---- threading ------------------------------------------------------------ */

typedef struct {
    int M, lda, ldc, ldA16, simd;
    const float *A;
    const vl_bf16_packed *W;
    const float *bias;
    float *C;
    uint16_t *A16;
} job;

/* The AVX-512 objects exist only in x86-64 builds (lib/encoder/meson.build);
 * elsewhere simd is always 0 (vl_bf16_gemm_available). */
static void convert_rows(int simd, const float *A, int lda, int rows, int k, uint16_t *dst, int ldd)
{
#ifdef VL_HAVE_ENCODER_AVX512
    if (simd) {
        vl_bf16_convert_rows_avx512(A, lda, rows, k, dst, ldd);
        return;
    }
#endif
    (void)simd;
    convert_rows_scalar(A, lda, rows, k, dst, ldd);
}

static void kernel(int simd, const uint16_t *A, int lda, int M, const vl_bf16_packed *W, int panel0, int panel1,
                   const float *bias, float *C, int ldc)
{
#ifdef VL_HAVE_ENCODER_AVX512
    if (simd) {
        vl_bf16_kernel_avx512(A, lda, M, W, panel0, panel1, bias, C, ldc);
        return;
    }
#endif
    (void)simd;
    kernel_scalar(A, lda, M, W, panel0, panel1, bias, C, ldc);
}

static void convert_task(void *ctx, int ith, int nth)
{
    const job *j = ctx;
    long long b, e;
    vl_split_range(j->M, ith, nth, 1, &b, &e);
    if (e <= b) return;
    convert_rows(j->simd, j->A + b * j->lda, j->lda, (int)(e - b), j->W->k, j->A16 + b * j->ldA16, j->ldA16);
}

static void gemm_task(void *ctx, int ith, int nth)
{
    const job *j = ctx;
    long long b, e;
    if (j->W->n_panels >= nth) {
        /* split the weights: each thread keeps its panels hot in its own L2 */
        vl_split_range(j->W->n_panels, ith, nth, 1, &b, &e);
        if (e <= b) return;
        kernel(j->simd, j->A16, j->ldA16, j->M, j->W, (int)b, (int)e, j->bias, j->C, j->ldc);
    } else {
        vl_split_range(j->M, ith, nth, VL_BF16_MR, &b, &e);
        if (e <= b) return;
        const uint16_t *A = j->A16 + b * j->ldA16;
        float *C = j->C + b * j->ldc;
        kernel(j->simd, A, j->ldA16, (int)(e - b), j->W, 0, j->W->n_panels, j->bias, C, j->ldc);
    }
}

void vl_bf16_gemm(vl_pool *pool, int M, const float *A, int lda, const vl_bf16_packed *W, const float *bias, float *C,
                  int ldc, void *scratch)
{
    if (M <= 0) return;
    uint16_t *A16 = (uint16_t *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    job j = {M, lda, ldc, a_stride(W->k), vl_bf16_gemm_available(), A, W, bias, C, A16};
    vl_pool_run(pool, convert_task, &j);
    vl_pool_run(pool, gemm_task, &j);
}
