/* Body of the own f32 GEMM (sgemm_own.h), included once per instruction
 * set with VL_SGEMM_OWN_FN naming the function. Goto-style blocking: a
 * KC x NC block of op(B) is packed into NR-column panels, an MC x KC block
 * of A into MR-row panels, and a micro-kernel keeps an MR x NR tile of C
 * in registers over the KC products. Edges are zero-padded in the packs,
 * so the kernel never branches on shape; only the store is clipped. */
#include <stdlib.h>
#include <string.h>

#include "aligned_alloc.h"

#define MR 6
#define NR 16
#define KC 256
#define MC 96 /* a multiple of MR */
#define NC 512

/* GCC/Clang vector extension: 8 floats, one AVX register, two SSE/NEON
 * registers; the compiler emits the instruction set it is building for. */
typedef float vl_v8f __attribute__((vector_size(32)));

/* Bp[panel][k][j]: columns j0.. of op(B), rows k0.. */
static void pack_b(int transB, const float *B, int64_t ldb, int64_t k0, int64_t kc, int64_t j0, int64_t nc, float *Bp)
{
    for (int64_t jp = 0; jp < nc; jp += NR) {
        float *dst = Bp + (jp / NR) * kc * NR;
        const int64_t nr = nc - jp < NR ? nc - jp : NR;
        if (transB) { /* B is N x K: read each column of op(B) as a contiguous row */
            for (int64_t j = 0; j < NR; j++) {
                const float *src = B + (j0 + jp + j) * ldb + k0;
                for (int64_t k = 0; k < kc; k++) dst[k * NR + j] = j < nr ? src[k] : 0.0f;
            }
        } else {
            for (int64_t k = 0; k < kc; k++) {
                const float *src = B + (k0 + k) * ldb + j0 + jp;
                for (int64_t j = 0; j < NR; j++) dst[k * NR + j] = j < nr ? src[j] : 0.0f;
            }
        }
    }
}

/* Ap[panel][k][i]: rows i0.. of A, columns k0.. */
static void pack_a(const float *A, int64_t lda, int64_t i0, int64_t mc, int64_t k0, int64_t kc, float *Ap)
{
    for (int64_t ip = 0; ip < mc; ip += MR) {
        float *dst = Ap + (ip / MR) * kc * MR;
        const int64_t mr = mc - ip < MR ? mc - ip : MR;
        for (int64_t i = 0; i < MR; i++) {
            const float *src = A + (i0 + ip + i) * lda + k0;
            for (int64_t k = 0; k < kc; k++) dst[k * MR + i] = i < mr ? src[k] : 0.0f;
        }
    }
}

/* C tile (mr x nr valid of MR x NR) = (accumulate ? C : 0) + Ap . Bp;
 * the MR x NR accumulators (12 vectors) stay in registers. Bp is 64-byte
 * aligned, each k step one NR row of it. */
static void micro_kernel(int64_t kc, const float *restrict a, const float *restrict b, float *restrict c, int64_t ldc,
                         int64_t mr, int64_t nr, int accumulate)
{
    vl_v8f acc[MR][2];
    memset(acc, 0, sizeof acc);
    for (int64_t k = 0; k < kc; k++) {
        const vl_v8f b0 = *(const vl_v8f *)(b + k * NR), b1 = *(const vl_v8f *)(b + k * NR + 8);
        for (int i = 0; i < MR; i++) {
            const float ai = a[k * MR + i];
            acc[i][0] += b0 * ai;
            acc[i][1] += b1 * ai;
        }
    }
    float tile[MR][NR];
    memcpy(tile, acc, sizeof tile);
    for (int64_t i = 0; i < mr; i++) {
        float *ci = c + i * ldc;
        if (accumulate)
            for (int64_t j = 0; j < nr; j++) ci[j] += tile[i][j];
        else
            for (int64_t j = 0; j < nr; j++) ci[j] = tile[i][j];
    }
}

/* Unpacked fallback when the pack buffers cannot be allocated. */
static void plain_gemm(int transB, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                       int64_t ldb, float *C, int64_t ldc)
{
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            float s = 0.0f;
            for (int64_t k = 0; k < K; k++) s += A[i * lda + k] * (transB ? B[j * ldb + k] : B[k * ldb + j]);
            C[i * ldc + j] = s;
        }
}

void VL_SGEMM_OWN_FN(int transB, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                     int64_t ldb, float *C, int64_t ldc)
{
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        for (int64_t i = 0; i < M; i++) memset(C + i * ldc, 0, (size_t)N * sizeof *C);
        return;
    }
    float *Bp = vl_aligned_alloc(64, sizeof(float) * KC * NC), *Ap = vl_aligned_alloc(64, sizeof(float) * MC * KC);
    if (!Bp || !Ap) {
        free(Bp);
        free(Ap);
        plain_gemm(transB, M, N, K, A, lda, B, ldb, C, ldc);
        return;
    }
    for (int64_t j0 = 0; j0 < N; j0 += NC) {
        const int64_t nc = N - j0 < NC ? N - j0 : NC;
        for (int64_t k0 = 0; k0 < K; k0 += KC) {
            const int64_t kc = K - k0 < KC ? K - k0 : KC;
            pack_b(transB, B, ldb, k0, kc, j0, nc, Bp);
            for (int64_t i0 = 0; i0 < M; i0 += MC) {
                const int64_t mc = M - i0 < MC ? M - i0 : MC;
                pack_a(A, lda, i0, mc, k0, kc, Ap);
                for (int64_t jp = 0; jp < nc; jp += NR)
                    for (int64_t ip = 0; ip < mc; ip += MR)
                        micro_kernel(kc, Ap + (ip / MR) * kc * MR, Bp + (jp / NR) * kc * NR,
                                     C + (i0 + ip) * ldc + j0 + jp, ldc, mc - ip < MR ? mc - ip : MR,
                                     nc - jp < NR ? nc - jp : NR, k0 > 0);
            }
        }
    }
    free(Bp);
    free(Ap);
}
