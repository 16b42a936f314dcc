/* The library's own single-threaded f32 GEMM, used instead of a BLAS when
 * the library is configured with -Dblas=none (blas.h). Packed panels and a
 * 4x16 register-tile kernel in plain C that the compiler vectorizes; on
 * x86-64 a copy built with AVX2+FMA runs where the CPU has them. */
#ifndef VL_CORE_SGEMM_OWN_H
#define VL_CORE_SGEMM_OWN_H

#include <stdint.h>

/* C[M x N] = A[M x K] * op(B), row-major (blas.h's contract). */
void vl_sgemm_own(int transB, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                  int64_t ldb, float *C, int64_t ldc);

/* The variants vl_sgemm_own picks from (same contract). */
void vl_sgemm_own_generic(int transB, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                          int64_t ldb, float *C, int64_t ldc);
void vl_sgemm_own_avx2(int transB, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                       int64_t ldb, float *C, int64_t ldc);

#endif
