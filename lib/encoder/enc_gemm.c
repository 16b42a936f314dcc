#include "enc_gemm.h"

#include <cblas.h>
#include <pthread.h>

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;

/* All parallelism comes from the pool: OpenBLAS's own threads would
 * oversubscribe the cores when two pool threads call it at once. */
static void pin_blas(void) { openblas_set_num_threads(1); }

void vl_enc_sgemm_1t(int transB, int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C,
                     int ldc)
{
    if (M <= 0 || N <= 0) return;
    pthread_once(&blas_once, pin_blas);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, transB ? CblasTrans : CblasNoTrans, M, N, K, 1.0f, A, lda, B, ldb, 0.0f,
                C, ldc);
}

typedef struct {
    int transB, M, N, K, lda, ldb, ldc;
    const float *A, *B;
    float *C;
} job;

static void run(void *ctx, int ith, int nth)
{
    const job *j = ctx;
    long long b, e;
    if (j->M >= j->N) {
        vl_split_range(j->M, ith, nth, 8, &b, &e);
        if (e > b)
            vl_enc_sgemm_1t(j->transB, (int)(e - b), j->N, j->K, j->A + b * j->lda, j->lda, j->B, j->ldb,
                            j->C + b * j->ldc, j->ldc);
    } else {
        vl_split_range(j->N, ith, nth, 16, &b, &e);
        if (e > b) {
            const float *Bp = j->transB ? j->B + b * j->ldb : j->B + b;
            vl_enc_sgemm_1t(j->transB, j->M, (int)(e - b), j->K, j->A, j->lda, Bp, j->ldb, j->C + b, j->ldc);
        }
    }
}

void vl_enc_sgemm(vl_pool *pool, int transB, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                  float *C, int ldc)
{
    pthread_once(&blas_once, pin_blas);
    job j = {transB, M, N, K, lda, ldb, ldc, A, B, C};
    vl_pool_run(pool, run, &j);
}
