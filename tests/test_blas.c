/* The library's f32 GEMM backend (lib/core/blas.h: OpenBLAS, Accelerate or
 * the own GEMM of -Dblas=none) against a double-precision reference on
 * ragged shapes, both layouts of B, padded leading dimensions (whose
 * padding must stay untouched), directly and split across a thread pool
 * (vl_sgemm). Each element must lie within the rounding bound of a float
 * sum, K * 2^-23 * sum|a*b|. With -Dblas=none every variant of the own
 * GEMM the CPU can run is checked too. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/blas.h"
#include "core/cpu.h"
#include "core/gemm.h"
#include "core/threadpool.h"
#if defined(VL_BLAS_NONE)
#include "core/sgemm_own.h"
#endif
#include "harness.h"

typedef void (*gemm_fn)(int transB, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                        int64_t ldb, float *C, int64_t ldc);

static uint32_t rng = 2463534242u;
static float rndf(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return (float)((int)(rng % 20001) - 10000) / 10000.0f;
}

static vl_pool *pool;

/* One shape: returns the number of elements outside the bound. */
static int check_shape(const char *name, gemm_fn fn, int transB, int64_t M, int64_t N, int64_t K)
{
    const int64_t lda = K + 3, ldb = (transB ? K : N) + 5, ldc = N + 7;
    const int64_t brows = transB ? N : K;
    float *A = malloc(sizeof(float) * (size_t)(M * lda)), *B = malloc(sizeof(float) * (size_t)(brows * ldb));
    float *C = malloc(sizeof(float) * (size_t)(M * ldc));
    REQUIRE(A && B && C, "out of memory");
    for (int64_t i = 0; i < M * lda; i++) A[i] = rndf();
    for (int64_t i = 0; i < brows * ldb; i++) B[i] = rndf();
    for (int64_t i = 0; i < M * ldc; i++) C[i] = 12345.0f; /* sentinel in the padding, garbage in the output */
    if (fn)
        fn(transB, M, N, K, A, lda, B, ldb, C, ldc);
    else
        vl_sgemm(pool, transB, M, N, K, A, lda, B, ldb, C, ldc);
    int bad = 0;
    for (int64_t i = 0; i < M; i++) {
        for (int64_t j = 0; j < N; j++) {
            double ref = 0, mag = 0;
            for (int64_t k = 0; k < K; k++) {
                const double p = (double)A[i * lda + k] * (transB ? B[j * ldb + k] : B[k * ldb + j]);
                ref += p;
                mag += fabs(p);
            }
            const double err = fabs((double)C[i * ldc + j] - ref), bound = (double)K * 0x1p-23 * mag + 1e-30;
            if (!(err <= bound) && bad++ < 3)
                fprintf(stderr, "%s transB=%d %lldx%lldx%lld: C[%lld][%lld] = %.9g, reference %.9g (bound %.3g)\n", name,
                        transB, (long long)M, (long long)N, (long long)K, (long long)i, (long long)j,
                        (double)C[i * ldc + j], ref, bound);
        }
        for (int64_t j = N; j < ldc; j++)
            if (C[i * ldc + j] != 12345.0f && bad++ < 3)
                fprintf(stderr, "%s transB=%d %lldx%lldx%lld: padding C[%lld][%lld] overwritten\n", name, transB,
                        (long long)M, (long long)N, (long long)K, (long long)i, (long long)j);
    }
    free(A);
    free(B);
    free(C);
    return bad;
}

static void check_all(const char *name, gemm_fn fn)
{
    /* around the own GEMM's tile (4x16) and block (64 x 512 x 256) edges */
    static const int64_t ms[] = {1, 3, 4, 5, 17, 64, 65, 130};
    static const int64_t ns[] = {1, 15, 16, 17, 100, 513};
    static const int64_t ks[] = {1, 7, 256, 257, 600};
    int bad = 0, shapes = 0;
    for (int t = 0; t < 2; t++)
        for (size_t a = 0; a < sizeof ms / sizeof *ms; a++)
            for (size_t b = 0; b < sizeof ns / sizeof *ns; b++)
                for (size_t c = 0; c < sizeof ks / sizeof *ks; c++) {
                    if (ms[a] * ns[b] * ks[c] > 130LL * 513 * 257) continue; /* keep the double reference quick */
                    bad += check_shape(name, fn, t, ms[a], ns[b], ks[c]) > 0;
                    shapes++;
                }
    CHECK(bad == 0, "%s: %d of %d shapes outside the float rounding bound", name, bad, shapes);
}

TEST_MAIN_BEGIN
    pool = vl_pool_create(3);
    REQUIRE(pool, "thread pool");
    fprintf(stderr, "blas: %s\n", vl_blas_name());
    vl_sgemm_init();
    check_all(vl_blas_name(), vl_blas_sgemm);
    check_all("vl_sgemm (3 threads)", NULL);
#if defined(VL_BLAS_NONE)
    check_all("own generic", vl_sgemm_own_generic);
#if defined(__x86_64__)
    if (vl_cpu()->avx2 && vl_cpu()->fma) check_all("own avx2", vl_sgemm_own_avx2);
#endif
#endif
    vl_pool_free(pool);
TEST_MAIN_END
