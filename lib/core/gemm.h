/* Large matrix products through the configured BLAS (blas.h; OpenBLAS by default), parallelized by the library's
 * own thread pool. */
#ifndef VL_CORE_GEMM_H
#define VL_CORE_GEMM_H

#include <stdint.h>

#include "threadpool.h"

/* C[M x N] = A[M x K] * op(B), all row-major; op(B) = B (K x N) when
 * transB == 0, B^T when transB != 0 (B stored N x K: the natural layout of
 * weights in y = x W^T). lda/ldb/ldc are row strides in floats.
 *
 * The output is split into column (or, for narrow outputs, row) panels
 * across the pool's threads, each running a single-threaded sgemm (vl_blas_sgemm).
 * OpenBLAS is pinned to one thread on first use (see gemm.c). */
void vl_sgemm(vl_pool *pool, int transB, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
              const float *B, int64_t ldb, float *C, int64_t ldc);

/* Pin OpenBLAS to one thread now (idempotent; vl_sgemm does it itself). */
void vl_sgemm_init(void);

#endif
