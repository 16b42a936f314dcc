/* AVX2 + FMA + F16C attention kernels (kernels.h; compiled with -mavx2
 * -mfma -mf16c, called only after vl_cpu() reports those features).
 *
 * Stored rows are widened to f32 in registers as they are read: keys four
 * rows at a time against one query (four sums reduced together), values
 * 32 dimensions at a time with the accumulators kept in registers over a
 * block of rows. */
#include <immintrin.h>
#include <math.h>
#include <stdint.h>

#include "attn_tile.h"
#include "f16.h"
#include "fastmath.h"
#include "kernels.h"
#include "quant.h"

#define ROWP(X, j, rb) ((const uint8_t *)(X) + (size_t)(j) * (rb))

/* The four horizontal sums of a..d as one vector. */
static inline __m128 hsum4x8(__m256 a, __m256 b, __m256 c, __m256 d)
{
    const __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));
    return _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
}

static inline float hsum8(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* 8 stored values at element d of a row, as f32. */
static inline __m256 ld_f32(const void *row, int64_t d) { return _mm256_loadu_ps((const float *)row + d); }
static inline __m256 ld_f16(const void *row, int64_t d)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)row + d)));
}
static inline __m256 ld_i8(const int8_t *p) { return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p))); }

/* The 32 values of a Q4_0 block as 32 signed bytes (low nibbles first). */
static inline __m256i q4_bytes(const uint8_t *qs)
{
    const __m128i t = _mm_loadu_si128((const __m128i *)qs);
    const __m256i b = _mm256_inserti128_si256(_mm256_castsi128_si256(t), _mm_srli_epi16(t, 4), 1);
    return _mm256_sub_epi8(_mm256_and_si256(b, _mm256_set1_epi8(0xF)), _mm256_set1_epi8(8));
}

/* ---- dots of one query with stored rows ---------------------------------------------- */

/* f32 / f16 rows: four rows per pass, 8 dimensions per step, the rest
 * (hd not a multiple of 8) scalar. */
#define KV_DOT_FLOAT(NAME, T, LD, CVT)                                                                      \
    static void NAME(const float *q, const void *K, size_t rb, int64_t hd, float *s, int64_t nk)             \
    {                                                                                                       \
        const int64_t hd8 = hd & ~(int64_t)7;                                                               \
        int64_t j = 0;                                                                                      \
        for (; j + 4 <= nk; j += 4) {                                                                       \
            const void *r0 = ROWP(K, j, rb), *r1 = ROWP(K, j + 1, rb), *r2 = ROWP(K, j + 2, rb),             \
                       *r3 = ROWP(K, j + 3, rb);                                                            \
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;                                     \
            for (int64_t d = 0; d < hd8; d += 8) {                                                          \
                const __m256 qv = _mm256_loadu_ps(q + d);                                                   \
                a0 = _mm256_fmadd_ps(LD(r0, d), qv, a0);                                                    \
                a1 = _mm256_fmadd_ps(LD(r1, d), qv, a1);                                                    \
                a2 = _mm256_fmadd_ps(LD(r2, d), qv, a2);                                                    \
                a3 = _mm256_fmadd_ps(LD(r3, d), qv, a3);                                                    \
            }                                                                                               \
            __m128 v = hsum4x8(a0, a1, a2, a3);                                                             \
            if (hd8 < hd) {                                                                                 \
                float t[4] = {0, 0, 0, 0};                                                                  \
                for (int u = 0; u < 4; u++)                                                                 \
                    for (int64_t d = hd8; d < hd; d++) t[u] += q[d] * CVT(((const T *)ROWP(K, j + u, rb))[d]); \
                v = _mm_add_ps(v, _mm_loadu_ps(t));                                                         \
            }                                                                                               \
            _mm_storeu_ps(s + j, v);                                                                        \
        }                                                                                                   \
        for (; j < nk; j++) {                                                                               \
            const void *r = ROWP(K, j, rb);                                                                 \
            __m256 a = _mm256_setzero_ps();                                                                 \
            for (int64_t d = 0; d < hd8; d += 8) a = _mm256_fmadd_ps(LD(r, d), _mm256_loadu_ps(q + d), a);  \
            float t = hsum8(a);                                                                             \
            for (int64_t d = hd8; d < hd; d++) t += q[d] * CVT(((const T *)r)[d]);                          \
            s[j] = t;                                                                                       \
        }                                                                                                   \
    }

static inline float id_f32(float x) { return x; }
KV_DOT_FLOAT(kv_dot_f32, float, ld_f32, id_f32)
KV_DOT_FLOAT(kv_dot_f16, uint16_t, ld_f16, vl_f16_to_f32)

/* Block formats: per block of 32, the integer values widened to f32 and
 * dotted with q, then scaled by the block's d. */
static inline __m256 q8_block_dot(const vl_block_q8_0 *b, const float *q)
{
    __m256 t = _mm256_mul_ps(ld_i8(b->qs), _mm256_loadu_ps(q));
    t = _mm256_fmadd_ps(ld_i8(b->qs + 8), _mm256_loadu_ps(q + 8), t);
    t = _mm256_fmadd_ps(ld_i8(b->qs + 16), _mm256_loadu_ps(q + 16), t);
    return _mm256_fmadd_ps(ld_i8(b->qs + 24), _mm256_loadu_ps(q + 24), t);
}

static inline __m256 q4_block_dot(const vl_block_q4_0 *b, const float *q)
{
    int8_t v[32];
    _mm256_storeu_si256((__m256i *)v, q4_bytes(b->qs));
    __m256 t = _mm256_mul_ps(ld_i8(v), _mm256_loadu_ps(q));
    t = _mm256_fmadd_ps(ld_i8(v + 8), _mm256_loadu_ps(q + 8), t);
    t = _mm256_fmadd_ps(ld_i8(v + 16), _mm256_loadu_ps(q + 16), t);
    return _mm256_fmadd_ps(ld_i8(v + 24), _mm256_loadu_ps(q + 24), t);
}

#define KV_DOT_BLOCK(NAME, BT, BLOCK_DOT)                                                                   \
    static void NAME(const float *q, const void *K, size_t rb, int64_t hd, float *s, int64_t nk)             \
    {                                                                                                       \
        const int64_t nb = hd / VL_QK;                                                                      \
        int64_t j = 0;                                                                                      \
        for (; j + 4 <= nk; j += 4) {                                                                       \
            const BT *r0 = (const BT *)ROWP(K, j, rb), *r1 = (const BT *)ROWP(K, j + 1, rb),                 \
                     *r2 = (const BT *)ROWP(K, j + 2, rb), *r3 = (const BT *)ROWP(K, j + 3, rb);             \
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;                                     \
            for (int64_t b = 0; b < nb; b++) {                                                              \
                const float *qb = q + b * VL_QK;                                                            \
                a0 = _mm256_fmadd_ps(BLOCK_DOT(r0 + b, qb), _mm256_set1_ps(_cvtsh_ss(r0[b].d)), a0);        \
                a1 = _mm256_fmadd_ps(BLOCK_DOT(r1 + b, qb), _mm256_set1_ps(_cvtsh_ss(r1[b].d)), a1);        \
                a2 = _mm256_fmadd_ps(BLOCK_DOT(r2 + b, qb), _mm256_set1_ps(_cvtsh_ss(r2[b].d)), a2);        \
                a3 = _mm256_fmadd_ps(BLOCK_DOT(r3 + b, qb), _mm256_set1_ps(_cvtsh_ss(r3[b].d)), a3);        \
            }                                                                                               \
            _mm_storeu_ps(s + j, hsum4x8(a0, a1, a2, a3));                                                  \
        }                                                                                                   \
        for (; j < nk; j++) {                                                                               \
            const BT *r = (const BT *)ROWP(K, j, rb);                                                       \
            __m256 a = _mm256_setzero_ps();                                                                 \
            for (int64_t b = 0; b < nb; b++)                                                                \
                a = _mm256_fmadd_ps(BLOCK_DOT(r + b, q + b * VL_QK), _mm256_set1_ps(_cvtsh_ss(r[b].d)), a); \
            s[j] = hsum8(a);                                                                                \
        }                                                                                                   \
    }

KV_DOT_BLOCK(kv_dot_q8_0, vl_block_q8_0, q8_block_dot)
KV_DOT_BLOCK(kv_dot_q4_0, vl_block_q4_0, q4_block_dot)

/* ---- weighted sums of stored rows ---------------------------------------------------- */

/* f32 / f16 rows: 32 (then 8) dimensions of acc in registers while every
 * row adds its share; a tail of hd % 8 scalar. */
#define KV_AXPY_FLOAT(NAME, T, LD, CVT)                                                                     \
    static void NAME(const float *p, const void *V, size_t rb, int64_t hd, float *acc, int64_t nk)           \
    {                                                                                                       \
        int64_t d = 0;                                                                                      \
        for (; d + 32 <= hd; d += 32) {                                                                     \
            __m256 a0 = _mm256_loadu_ps(acc + d), a1 = _mm256_loadu_ps(acc + d + 8),                        \
                   a2 = _mm256_loadu_ps(acc + d + 16), a3 = _mm256_loadu_ps(acc + d + 24);                  \
            for (int64_t j = 0; j < nk; j++) {                                                              \
                const void *r = ROWP(V, j, rb);                                                             \
                const __m256 w = _mm256_set1_ps(p[j]);                                                      \
                a0 = _mm256_fmadd_ps(LD(r, d), w, a0);                                                      \
                a1 = _mm256_fmadd_ps(LD(r, d + 8), w, a1);                                                  \
                a2 = _mm256_fmadd_ps(LD(r, d + 16), w, a2);                                                 \
                a3 = _mm256_fmadd_ps(LD(r, d + 24), w, a3);                                                 \
            }                                                                                               \
            _mm256_storeu_ps(acc + d, a0);                                                                  \
            _mm256_storeu_ps(acc + d + 8, a1);                                                              \
            _mm256_storeu_ps(acc + d + 16, a2);                                                             \
            _mm256_storeu_ps(acc + d + 24, a3);                                                             \
        }                                                                                                   \
        for (; d + 8 <= hd; d += 8) {                                                                       \
            __m256 a = _mm256_loadu_ps(acc + d);                                                            \
            for (int64_t j = 0; j < nk; j++) a = _mm256_fmadd_ps(LD(ROWP(V, j, rb), d), _mm256_set1_ps(p[j]), a); \
            _mm256_storeu_ps(acc + d, a);                                                                   \
        }                                                                                                   \
        for (; d < hd; d++)                                                                                 \
            for (int64_t j = 0; j < nk; j++) acc[d] += p[j] * CVT(((const T *)ROWP(V, j, rb))[d]);          \
    }

KV_AXPY_FLOAT(kv_axpy_f32, float, ld_f32, id_f32)
KV_AXPY_FLOAT(kv_axpy_f16, uint16_t, ld_f16, vl_f16_to_f32)

static void kv_axpy_q8_0(const float *p, const void *V, size_t rb, int64_t hd, float *acc, int64_t nk)
{
    for (int64_t b = 0; b < hd / VL_QK; b++) {
        float *ab = acc + b * VL_QK;
        __m256 a0 = _mm256_loadu_ps(ab), a1 = _mm256_loadu_ps(ab + 8), a2 = _mm256_loadu_ps(ab + 16),
               a3 = _mm256_loadu_ps(ab + 24);
        for (int64_t j = 0; j < nk; j++) {
            const vl_block_q8_0 *v = (const vl_block_q8_0 *)ROWP(V, j, rb) + b;
            const __m256 w = _mm256_set1_ps(p[j] * _cvtsh_ss(v->d));
            a0 = _mm256_fmadd_ps(ld_i8(v->qs), w, a0);
            a1 = _mm256_fmadd_ps(ld_i8(v->qs + 8), w, a1);
            a2 = _mm256_fmadd_ps(ld_i8(v->qs + 16), w, a2);
            a3 = _mm256_fmadd_ps(ld_i8(v->qs + 24), w, a3);
        }
        _mm256_storeu_ps(ab, a0);
        _mm256_storeu_ps(ab + 8, a1);
        _mm256_storeu_ps(ab + 16, a2);
        _mm256_storeu_ps(ab + 24, a3);
    }
}

static void kv_axpy_q4_0(const float *p, const void *V, size_t rb, int64_t hd, float *acc, int64_t nk)
{
    for (int64_t b = 0; b < hd / VL_QK; b++) {
        float *ab = acc + b * VL_QK;
        __m256 a0 = _mm256_loadu_ps(ab), a1 = _mm256_loadu_ps(ab + 8), a2 = _mm256_loadu_ps(ab + 16),
               a3 = _mm256_loadu_ps(ab + 24);
        for (int64_t j = 0; j < nk; j++) {
            const vl_block_q4_0 *v = (const vl_block_q4_0 *)ROWP(V, j, rb) + b;
            const __m256 w = _mm256_set1_ps(p[j] * _cvtsh_ss(v->d));
            const __m256i x = q4_bytes(v->qs);
            const __m128i lo = _mm256_castsi256_si128(x), hi = _mm256_extracti128_si256(x, 1);
            a0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo)), w, a0);
            a1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8))), w, a1);
            a2 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi)), w, a2);
            a3 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8))), w, a3);
        }
        _mm256_storeu_ps(ab, a0);
        _mm256_storeu_ps(ab + 8, a1);
        _mm256_storeu_ps(ab + 16, a2);
        _mm256_storeu_ps(ab + 24, a3);
    }
}

/* ---- small tile product ---------------------------------------------------------------- */

/* C[MR rows x NV*8 cols] += A B over k, accumulators in registers.
 * Inlined with constant MR/NV, so the arrays below become registers. */
static inline __attribute__((always_inline)) void tile(int MR, int NV, int64_t k, const float *a, int64_t ars,
                                                       int64_t acs, const float *b, int64_t ldb, float *c,
                                                       int64_t ldc)
{
    __m256 acc[4][2];
    for (int r = 0; r < MR; r++)
        for (int v = 0; v < NV; v++) acc[r][v] = _mm256_setzero_ps();
    for (int64_t l = 0; l < k; l++) {
        __m256 bv[2];
        for (int v = 0; v < NV; v++) bv[v] = _mm256_loadu_ps(b + l * ldb + v * 8);
        for (int r = 0; r < MR; r++) {
            const __m256 x = _mm256_broadcast_ss(a + r * ars + l * acs);
            for (int v = 0; v < NV; v++) acc[r][v] = _mm256_fmadd_ps(x, bv[v], acc[r][v]);
        }
    }
    for (int r = 0; r < MR; r++)
        for (int v = 0; v < NV; v++) {
            float *cp = c + r * ldc + v * 8;
            _mm256_storeu_ps(cp, _mm256_add_ps(_mm256_loadu_ps(cp), acc[r][v]));
        }
}

static void sgemm_acc(int64_t m, int64_t n, int64_t k, const float *a, int64_t ars, int64_t acs, const float *b,
                      int64_t ldb, float *c, int64_t ldc)
{
    int64_t j = 0;
    for (; j + 16 <= n; j += 16) {
        int64_t i = 0;
        for (; i + 4 <= m; i += 4) tile(4, 2, k, a + i * ars, ars, acs, b + j, ldb, c + i * ldc + j, ldc);
        for (; i < m; i++) tile(1, 2, k, a + i * ars, ars, acs, b + j, ldb, c + i * ldc + j, ldc);
    }
    for (; j + 8 <= n; j += 8) {
        int64_t i = 0;
        for (; i + 4 <= m; i += 4) tile(4, 1, k, a + i * ars, ars, acs, b + j, ldb, c + i * ldc + j, ldc);
        for (; i < m; i++) tile(1, 1, k, a + i * ars, ars, acs, b + j, ldb, c + i * ldc + j, ldc);
    }
    for (; j < n; j++) /* columns past a multiple of 8 */
        for (int64_t i = 0; i < m; i++) {
            float s = 0.0f;
            for (int64_t l = 0; l < k; l++) s += a[i * ars + l * acs] * b[l * ldb + j];
            c[i * ldc + j] += s;
        }
}

/* ---- exponentials ------------------------------------------------------------------ */

/* vl_exp_fast (fastmath.h) on 8 lanes, operation for operation (no fused
 * multiply-adds: the file is built with -ffp-contract=off and the scalar
 * formula has none), so a lane equals the scalar result. */
static inline __m256 exp8(__m256 x)
{
    x = _mm256_max_ps(x, _mm256_set1_ps(-87.3f)); /* NaN -> -87.3, as the scalar clamp */
    x = _mm256_min_ps(x, _mm256_set1_ps(88.3f));
    const __m256 magic = _mm256_set1_ps(12582912.0f);
    const __m256 k = _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)), magic), magic);
    __m256 r = _mm256_sub_ps(x, _mm256_mul_ps(k, _mm256_set1_ps(0.693359375f)));
    r = _mm256_sub_ps(r, _mm256_mul_ps(k, _mm256_set1_ps(-2.12194440e-4f)));
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(5.0000001201e-1f));
    const __m256 e = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(_mm256_mul_ps(p, r), r), r), _mm256_set1_ps(1.0f));
    const __m256i pow2 = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(k), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(e, _mm256_castsi256_ps(pow2));
}

static float exp_sub(float *x, const float *sub, int64_t sub_step, int64_t n)
{
    __m256 acc = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 s = sub_step ? _mm256_loadu_ps(sub + i) : _mm256_set1_ps(sub[0]);
        const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), s));
        _mm256_storeu_ps(x + i, e);
        acc = _mm256_add_ps(acc, e);
    }
    float sum = hsum8(acc);
    for (; i < n; i++) {
        x[i] = vl_exp_fast(x[i] - sub[i * sub_step]);
        sum += x[i];
    }
    return sum;
}

/* ---- prefill chunk step (attn_tile.h) ------------------------------------------------- */

/* vl_exp2_fast on 8 lanes with fused multiply-adds (not bit-identical to
 * the scalar one; the same polynomial, so the same accuracy). -127 and
 * below (and NaN: max returns its second operand) give exactly 0. */
static inline __m256 exp2v(__m256 x)
{
    x = _mm256_max_ps(x, _mm256_set1_ps(-127.0f));
    const __m256 n = _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m256 f = _mm256_sub_ps(x, n);
    __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(VL_EXP2_C5), f, _mm256_set1_ps(VL_EXP2_C4));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(VL_EXP2_C3));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(VL_EXP2_C2));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(VL_EXP2_C1));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(VL_EXP2_C0));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

#define LANES VL_ATTN_LANES
#define LV (LANES / 8) /* vectors per lane row */

/* Scores of NR keys (rows of K) for the chunk's lanes: S[r][lanes] =
 * sum over d of K[r][d] * Qt[d][lanes]; each loaded vector of queries
 * serves NR keys. */
static inline __attribute__((always_inline)) void qk_keys(int NR, int64_t hd, const float *K, int64_t ldk,
                                                          const float *Qt, int64_t ldq, float *S)
{
    __m256 acc[4][LV];
    for (int r = 0; r < NR; r++)
        for (int v = 0; v < LV; v++) acc[r][v] = _mm256_setzero_ps();
    for (int64_t d = 0; d < hd; d++) {
        __m256 q[LV];
        for (int v = 0; v < LV; v++) q[v] = _mm256_loadu_ps(Qt + d * ldq + v * 8);
        for (int r = 0; r < NR; r++) {
            const __m256 kv = _mm256_broadcast_ss(K + r * ldk + d);
            for (int v = 0; v < LV; v++) acc[r][v] = _mm256_fmadd_ps(kv, q[v], acc[r][v]);
        }
    }
    for (int r = 0; r < NR; r++)
        for (int v = 0; v < LV; v++) _mm256_storeu_ps(S + r * LANES + v * 8, acc[r][v]);
}

/* NR output dimensions d.. of the chunk: Ot[d + r][lanes] = Ot * alpha +
 * sum over keys k of V[k][d + r] * P[k][lanes]; each loaded vector of
 * weights serves NR dimensions. */
static inline __attribute__((always_inline)) void pv_dims(int NR, int64_t nk, const float *V, int64_t ldv,
                                                          const float *P, const float *alpha, float *Ot, int64_t ldq)
{
    __m256 acc[4][LV];
    for (int r = 0; r < NR; r++)
        for (int v = 0; v < LV; v++) acc[r][v] = _mm256_setzero_ps();
    for (int64_t k = 0; k < nk; k++) {
        __m256 p[LV];
        for (int v = 0; v < LV; v++) p[v] = _mm256_loadu_ps(P + k * LANES + v * 8);
        for (int r = 0; r < NR; r++) {
            const __m256 vv = _mm256_broadcast_ss(V + k * ldv + r);
            for (int v = 0; v < LV; v++) acc[r][v] = _mm256_fmadd_ps(vv, p[v], acc[r][v]);
        }
    }
    for (int r = 0; r < NR; r++)
        for (int v = 0; v < LV; v++) {
            float *o = Ot + r * ldq + v * 8;
            _mm256_storeu_ps(o, _mm256_fmadd_ps(_mm256_loadu_ps(o), _mm256_loadu_ps(alpha + v * 8), acc[r][v]));
        }
}

void vl_attn_chunk_avx2(int64_t hd, int64_t nk, const float *K, const float *V, int64_t ldkv, const float *Qt,
                        float *Ot, int64_t ldq, float *m, float *l, const float *lim, float *S)
{
    int64_t k = 0;
    for (; k + 4 <= nk; k += 4) qk_keys(4, hd, K + k * ldkv, ldkv, Qt, ldq, S + k * LANES);
    for (; k < nk; k++) qk_keys(1, hd, K + k * ldkv, ldkv, Qt, ldq, S + k * LANES);

    /* mask, block maximum, then the weights and their sums, per lane */
    __m256 mx[LV], mold[LV], sum[LV];
    float alpha[LANES];
    for (int v = 0; v < LV; v++) mold[v] = mx[v] = _mm256_loadu_ps(m + v * 8), sum[v] = _mm256_setzero_ps();
    const __m256 ninf = _mm256_set1_ps(-INFINITY);
    for (k = 0; k < nk; k++) {
        const __m256 kf = _mm256_set1_ps((float)k);
        for (int v = 0; v < LV; v++) {
            float *s = S + k * LANES + v * 8;
            __m256 x = _mm256_loadu_ps(s);
            if (lim) {
                x = _mm256_blendv_ps(x, ninf, _mm256_cmp_ps(kf, _mm256_loadu_ps(lim + v * 8), _CMP_GT_OQ));
                _mm256_storeu_ps(s, x);
            }
            mx[v] = _mm256_max_ps(x, mx[v]);
        }
    }
    for (int v = 0; v < LV; v++) {
        _mm256_storeu_ps(alpha + v * 8, exp2v(_mm256_sub_ps(mold[v], mx[v]))); /* 0 while m is -inf */
        _mm256_storeu_ps(m + v * 8, mx[v]);
    }
    for (k = 0; k < nk; k++)
        for (int v = 0; v < LV; v++) {
            float *s = S + k * LANES + v * 8;
            const __m256 p = exp2v(_mm256_sub_ps(_mm256_loadu_ps(s), mx[v]));
            _mm256_storeu_ps(s, p);
            sum[v] = _mm256_add_ps(sum[v], p);
        }
    for (int v = 0; v < LV; v++)
        _mm256_storeu_ps(l + v * 8, _mm256_fmadd_ps(_mm256_loadu_ps(l + v * 8), _mm256_loadu_ps(alpha + v * 8), sum[v]));

    int64_t d = 0;
    for (; d + 4 <= hd; d += 4) pv_dims(4, nk, V + d, ldkv, S, alpha, Ot + d * ldq, ldq);
    for (; d < hd; d++) pv_dims(1, nk, V + d, ldkv, S, alpha, Ot + d * ldq, ldq);
}

void vl_attn_fill_avx2(vl_kernel_table *t)
{
    t->kv_dot[VL_TYPE_F32] = kv_dot_f32;
    t->kv_dot[VL_TYPE_F16] = kv_dot_f16;
    t->kv_dot[VL_TYPE_Q8_0] = kv_dot_q8_0;
    t->kv_dot[VL_TYPE_Q4_0] = kv_dot_q4_0;
    t->kv_axpy[VL_TYPE_F32] = kv_axpy_f32;
    t->kv_axpy[VL_TYPE_F16] = kv_axpy_f16;
    t->kv_axpy[VL_TYPE_Q8_0] = kv_axpy_q8_0;
    t->kv_axpy[VL_TYPE_Q4_0] = kv_axpy_q4_0;
    t->sgemm_acc = sgemm_acc;
    t->exp_sub = exp_sub;
}
