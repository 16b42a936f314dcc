/* vl_sgemm: the BLAS's sgemm (blas.h) split across the library's pool.
 *
 * Why OpenBLAS runs single-threaded: the library already owns one worker
 * per core (threadpool.h) and keeps them spinning between the many small
 * jobs of a forward pass. If OpenBLAS also started its own threads, every
 * GEMM would put two busy threads on each core (and OpenBLAS threads
 * spin-wait too), which on a 2-core machine halves throughput and makes
 * latency erratic. So OpenBLAS is told once, at first use, to use one
 * thread, and parallelism comes from splitting the output between pool
 * threads; each panel is an independent sgemm call on its own core. */
#include "gemm.h"

#include <pthread.h>

#include "blas.h"

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;

void vl_sgemm_init(void) { pthread_once(&blas_once, vl_blas_single_thread); }

typedef struct sgemm_job {
    int transB, split_n;
    int64_t M, N, K, lda, ldb, ldc;
    const float *A, *B;
    float *C;
} sgemm_job;

/* Panels are rounded to 16 columns (or rows) so each thread's OpenBLAS
 * kernel runs on full register tiles. */
static void sgemm_part(void *ctx, int ith, int nth)
{
    const sgemm_job *j = ctx;
    long long b, e;
    if (j->split_n) {
        vl_split_range(j->N, ith, nth, 16, &b, &e);
        if (e <= b) return;
        const float *Bp = j->transB ? j->B + b * j->ldb : j->B + b;
        vl_blas_sgemm(j->transB, j->M, e - b, j->K, j->A, j->lda, Bp, j->ldb, j->C + b, j->ldc);
    } else {
        vl_split_range(j->M, ith, nth, 16, &b, &e);
        if (e <= b) return;
        vl_blas_sgemm(j->transB, e - b, j->N, j->K, j->A + b * j->lda, j->lda, j->B, j->ldb, j->C + b * j->ldc,
                      j->ldc);
    }
}

void vl_sgemm(vl_pool *pool, int transB, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
              const float *B, int64_t ldb, float *C, int64_t ldc)
{
    if (M <= 0 || N <= 0) return;
    if (K <= 0) { /* empty sum; OpenBLAS would reject lda = 0 */
        for (int64_t i = 0; i < M; i++)
            for (int64_t k = 0; k < N; k++) C[i * ldc + k] = 0.0f;
        return;
    }
    vl_sgemm_init();
    sgemm_job j = {transB != 0, 1, M, N, K, lda, ldb, ldc, A, B, C};
    const int nth = vl_pool_size(pool);
    /* Split the dimension that gives every thread a sizeable panel; the
     * other operand is then shared (read by all threads from cache). */
    j.split_n = N >= 64LL * nth || N >= M;
    if (nth == 1 || M * N * K < 32LL * 32 * 32) {
        sgemm_part(&j, 0, 1);
        return;
    }
    vl_pool_run(pool, sgemm_part, &j);
}
