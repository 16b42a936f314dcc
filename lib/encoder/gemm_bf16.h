/* BF16 GEMM for the vision tower's linear layers (AVX-512 BF16).
 *
 * C[M][N] = A[M][K] · Wᵀ (+ bias), W [N][K]. W is packed once (at model
 * load) into panels of VL_BF16_NR output columns, K taken in pairs, the
 * layout vdpbf16ps consumes: panel p, pair kp holds, for each of the NR
 * columns n, (W[n][2kp], W[n][2kp+1]) as two bf16. A is converted to bf16
 * per call (round to nearest even). Accumulation is f32.
 *
 * The kernel needs avx512bf16 (vl_cpu()); elsewhere vl_bf16_gemm runs a
 * scalar version of the same arithmetic (slow; for tests and fallbacks). */
#ifndef VL_ENCODER_GEMM_BF16_H
#define VL_ENCODER_GEMM_BF16_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/threadpool.h"

#define VL_BF16_NR 64 /* columns per packed panel */
#define VL_BF16_MR 6  /* rows per micro-kernel call */

typedef struct vl_bf16_packed {
    int n, k;        /* W is [n][k] */
    int kp;          /* ceil(k/2) pairs */
    int n_panels;    /* ceil(n / NR) */
    uint16_t *data;  /* n_panels × kp × NR × 2, 64-byte aligned */
} vl_bf16_packed;

/* 1 when the AVX-512 BF16 kernel can run on this CPU. */
int vl_bf16_gemm_available(void);

vllm_status vl_bf16_pack(const float *w, int n, int k, vl_bf16_packed **out);
void vl_bf16_packed_free(void *p);

/* Bytes of scratch vl_bf16_gemm needs for an M×k activation block. */
size_t vl_bf16_scratch_size(int M, int k);

/* C = A·Wᵀ + bias (bias may be NULL). scratch: vl_bf16_scratch_size(M, k)
 * bytes, 64-byte aligned. */
void vl_bf16_gemm(vl_pool *pool, int M, const float *A, int lda, const vl_bf16_packed *W, const float *bias, float *C,
                  int ldc, void *scratch);

/* ---- internal to the module: the AVX-512 parts (gemm_bf16_avx512.c) ---- */
void vl_bf16_convert_rows_avx512(const float *A, int lda, int rows, int k, uint16_t *dst, int ldd);
void vl_bf16_kernel_avx512(const uint16_t *A, int lda, int M, const vl_bf16_packed *W, int panel0, int panel1,
                           const float *bias, float *C, int ldc);

#endif
