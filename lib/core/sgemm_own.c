/* The own f32 GEMM for the baseline instruction set, and the choice of
 * variant (sgemm_own.h). */
#include "sgemm_own.h"

#include "cpu.h"

#define VL_SGEMM_OWN_FN vl_sgemm_own_generic
#include "sgemm_own_body.h"

void vl_sgemm_own(int transB, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                  int64_t ldb, float *C, int64_t ldc)
{
#if defined(VL_HAVE_X86_KERNELS)
    const vl_cpu_features *f = vl_cpu();
    if (f->avx2 && f->fma) {
        vl_sgemm_own_avx2(transB, M, N, K, A, lda, B, ldb, C, ldc);
        return;
    }
#endif
    vl_sgemm_own_generic(transB, M, N, K, A, lda, B, ldb, C, ldc);
}
