/* The one place the library reaches a BLAS (meson option `blas`):
 *   openblas    cblas_sgemm from OpenBLAS (default)
 *   accelerate  cblas_sgemm from Apple's Accelerate (macOS/iOS only)
 *   none        the library's own f32 GEMM (sgemm_own.h), for platforms
 *               where no BLAS is packaged (Android, a bare embedded Linux)
 * Callers split work across the library's pool themselves, so every call
 * here is single-threaded (vl_blas_single_thread pins OpenBLAS). */
#ifndef VL_CORE_BLAS_H
#define VL_CORE_BLAS_H

#include <stdint.h>

/* C[M x N] = A[M x K] * op(B), row-major, alpha 1, beta 0; op(B) = B
 * (K x N) when transB == 0, B^T (B stored N x K) otherwise. */
void vl_blas_sgemm(int transB, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                   int64_t ldb, float *C, int64_t ldc);

/* Make the BLAS run on the calling thread only (OpenBLAS: one thread;
 * the others need nothing). Not thread-safe: call once (gemm.c does). */
void vl_blas_single_thread(void);

/* "openblas", "accelerate" or "own" (bench and log output). */
const char *vl_blas_name(void);

#endif
