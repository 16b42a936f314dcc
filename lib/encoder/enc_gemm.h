/* F32 GEMM for the encoder, split over the thread pool.
 *
 * C[M][N] = A[M][K] · op(B), row-major; op(B) = Bᵀ (B is [N][K]) when
 * transB, else B ([K][N]). Each pool thread runs a single-threaded
 * OpenBLAS sgemm on its share of rows (or columns, when N is the larger
 * side), so the pool is the only source of parallelism.
 *
 * This is a local stand-in with the signature of core's vl_sgemm, used
 * until lib/core/gemm.h lands; switching is a one-line change here. */
#ifndef VL_ENCODER_ENC_GEMM_H
#define VL_ENCODER_ENC_GEMM_H

#include "core/threadpool.h"

void vl_enc_sgemm(vl_pool *pool, int transB, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                  float *C, int ldc);

/* Single-threaded, for calls made from inside a pool task. */
void vl_enc_sgemm_1t(int transB, int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C,
                     int ldc);

#endif
