/* vl_blas_*: the BLAS chosen at configure time (see blas.h). */
#include "blas.h"

#if defined(VL_BLAS_NONE)
#include "sgemm_own.h"
#elif defined(VL_BLAS_ACCELERATE)
#include <Accelerate/Accelerate.h> /* with ACCELERATE_NEW_LAPACK (meson.build): the cblas_* of macOS 13.3+ */
#else
#include <cblas.h>
#endif

void vl_blas_sgemm(int transB, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                   int64_t ldb, float *C, int64_t ldc)
{
#if defined(VL_BLAS_NONE)
    vl_sgemm_own(transB, M, N, K, A, lda, B, ldb, C, ldc);
#else
    cblas_sgemm(CblasRowMajor, CblasNoTrans, transB ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K, 1.0f, A,
                (int)lda, B, (int)ldb, 0.0f, C, (int)ldc);
#endif
}

void vl_blas_single_thread(void)
{
#if !defined(VL_BLAS_NONE) && !defined(VL_BLAS_ACCELERATE)
    openblas_set_num_threads(1);
#endif
}

const char *vl_blas_name(void)
{
#if defined(VL_BLAS_NONE)
    return "own";
#elif defined(VL_BLAS_ACCELERATE)
    return "accelerate";
#else
    return "openblas";
#endif
}
