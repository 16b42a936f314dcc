/* AVX2 + FMA + F16C dot kernels (compiled with -mavx2 -mfma -mf16c; only
 * called after vl_cpu() reports those features).
 *
 * Integer formats multiply int8 weights by int8 activations with
 * maddubs (unsigned x signed -> int16 pairs), so signed weights go through
 * the sign trick |w| * sign(y, w); 4-/6-bit unsigned quants multiply
 * directly and their offsets are folded in with the activation block sums. */
#include <immintrin.h>
#include <string.h>

#include "f16.h"
#include "kernels.h"
#include "igemm.h"
#include "quant.h"

#define ROWP(W, r, rb) ((const char *)(W) + (size_t)(r) * (rb))

static inline float hsum8(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline int hsum8i(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}

static inline float h2f(uint16_t h) { return _cvtsh_ss(h); }

/* 8 int32 partial sums of x*y for 32 signed bytes each. */
static inline __m256i dot_i8(__m256i x, __m256i y)
{
    const __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

/* 16 packed nibbles -> 32 bytes: low nibbles first, then high ones. */
static inline __m256i nibbles32(const uint8_t *p)
{
    const __m128i t = _mm_loadu_si128((const __m128i *)p);
    const __m256i b = _mm256_inserti128_si256(_mm256_castsi128_si256(t), _mm_srli_epi16(t, 4), 1);
    return _mm256_and_si256(b, _mm256_set1_epi8(0xF));
}

/* 32 bits -> 32 bytes of 0x10 where the bit is set (5th bit of Q5 quants). */
static inline __m256i bits32_to_0x10(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    const __m256i shuf = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0);
    __m256i b = _mm256_shuffle_epi8(_mm256_set1_epi32((int)v), shuf);
    const __m256i sel = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
    b = _mm256_cmpeq_epi8(_mm256_and_si256(b, sel), sel);
    return _mm256_and_si256(b, _mm256_set1_epi8(0x10));
}

/* ---- float formats ------------------------------------------------------------- */

static void gemv_f32(const void *W, size_t rb, const void *xq, int64_t n, float *y, int64_t nrows)
{
    const float *x = xq;
    for (int64_t r = 0; r < nrows; r++) {
        const float *w = (const float *)ROWP(W, r, rb);
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
        int64_t i = 0;
        for (; i + 16 <= n; i += 16) {
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i), a0);
            a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 8), _mm256_loadu_ps(x + i + 8), a1);
        }
        float s = hsum8(_mm256_add_ps(a0, a1));
        for (; i < n; i++) s += w[i] * x[i];
        y[r] = s;
    }
}

static void gemv_f16(const void *W, size_t rb, const void *xq, int64_t n, float *y, int64_t nrows)
{
    const uint16_t *x = xq;
    for (int64_t r = 0; r < nrows; r++) {
        const uint16_t *w = (const uint16_t *)ROWP(W, r, rb);
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
        int64_t i = 0;
        for (; i + 16 <= n; i += 16) {
            a0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i))),
                                 _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i))), a0);
            a1 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i + 8))),
                                 _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i + 8))), a1);
        }
        float s = hsum8(_mm256_add_ps(a0, a1));
        for (; i < n; i++) s += vl_f16_to_f32(w[i]) * vl_f16_to_f32(x[i]);
        y[r] = s;
    }
}

static inline __m256 bf16x8(const uint16_t *p)
{
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16));
}

static void gemv_bf16(const void *W, size_t rb, const void *xq, int64_t n, float *y, int64_t nrows)
{
    const uint16_t *x = xq;
    for (int64_t r = 0; r < nrows; r++) {
        const uint16_t *w = (const uint16_t *)ROWP(W, r, rb);
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
        int64_t i = 0;
        for (; i + 16 <= n; i += 16) {
            a0 = _mm256_fmadd_ps(bf16x8(w + i), bf16x8(x + i), a0);
            a1 = _mm256_fmadd_ps(bf16x8(w + i + 8), bf16x8(x + i + 8), a1);
        }
        float s = hsum8(_mm256_add_ps(a0, a1));
        for (; i < n; i++) s += vl_bf16_to_f32(w[i]) * vl_bf16_to_f32(x[i]);
        y[r] = s;
    }
}

/* ---- block-32 formats ------------------------------------------------------------ */

static void gemv_q8_0(const void *W, size_t rb, const void *xq, int64_t n, float *y, int64_t nrows)
{
    const vl_block_q8_0 *x = xq;
    const int64_t nb = n / VL_QK;
    for (int64_t r = 0; r < nrows; r++) {
        const vl_block_q8_0 *w = (const vl_block_q8_0 *)ROWP(W, r, rb);
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
        int64_t b = 0;
        for (; b + 2 <= nb; b += 2) {
            const __m256i p0 = dot_i8(_mm256_loadu_si256((const __m256i *)w[b].qs), _mm256_loadu_si256((const __m256i *)x[b].qs));
            const __m256i p1 = dot_i8(_mm256_loadu_si256((const __m256i *)w[b + 1].qs), _mm256_loadu_si256((const __m256i *)x[b + 1].qs));
            a0 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(w[b].d) * h2f(x[b].d)), _mm256_cvtepi32_ps(p0), a0);
            a1 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(w[b + 1].d) * h2f(x[b + 1].d)), _mm256_cvtepi32_ps(p1), a1);
        }
        for (; b < nb; b++) {
            const __m256i p = dot_i8(_mm256_loadu_si256((const __m256i *)w[b].qs), _mm256_loadu_si256((const __m256i *)x[b].qs));
            a0 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(w[b].d) * h2f(x[b].d)), _mm256_cvtepi32_ps(p), a0);
        }
        y[r] = hsum8(_mm256_add_ps(a0, a1));
    }
}

static void gemv_q4_0(const void *W, size_t rb, const void *xq, int64_t n, float *y, int64_t nrows)
{
    const vl_block_q8_0 *x = xq;
    const int64_t nb = n / VL_QK;
    const __m256i eight = _mm256_set1_epi8(8);
    for (int64_t r = 0; r < nrows; r++) {
        const vl_block_q4_0 *w = (const vl_block_q4_0 *)ROWP(W, r, rb);
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
        int64_t b = 0;
        for (; b + 2 <= nb; b += 2) {
            const __m256i p0 = dot_i8(_mm256_sub_epi8(nibbles32(w[b].qs), eight), _mm256_loadu_si256((const __m256i *)x[b].qs));
            const __m256i p1 = dot_i8(_mm256_sub_epi8(nibbles32(w[b + 1].qs), eight), _mm256_loadu_si256((const __m256i *)x[b + 1].qs));
            a0 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(w[b].d) * h2f(x[b].d)), _mm256_cvtepi32_ps(p0), a0);
            a1 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(w[b + 1].d) * h2f(x[b + 1].d)), _mm256_cvtepi32_ps(p1), a1);
        }
        for (; b < nb; b++) {
            const __m256i p = dot_i8(_mm256_sub_epi8(nibbles32(w[b].qs), eight), _mm256_loadu_si256((const __m256i *)x[b].qs));
            a0 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(w[b].d) * h2f(x[b].d)), _mm256_cvtepi32_ps(p), a0);
        }
        y[r] = hsum8(_mm256_add_ps(a0, a1));
    }
}

static void gemv_q5_0(const void *W, size_t rb, const void *xq, int64_t n, float *y, int64_t nrows)
{
    const vl_block_q8_0 *x = xq;
    const int64_t nb = n / VL_QK;
    const __m256i sixteen = _mm256_set1_epi8(16);
    for (int64_t r = 0; r < nrows; r++) {
        const vl_block_q5_0 *w = (const vl_block_q5_0 *)ROWP(W, r, rb);
        __m256 acc = _mm256_setzero_ps();
        for (int64_t b = 0; b < nb; b++) {
            const __m256i q = _mm256_sub_epi8(_mm256_or_si256(nibbles32(w[b].qs), bits32_to_0x10(w[b].qh)), sixteen);
            const __m256i p = dot_i8(q, _mm256_loadu_si256((const __m256i *)x[b].qs));
            acc = _mm256_fmadd_ps(_mm256_set1_ps(h2f(w[b].d) * h2f(x[b].d)), _mm256_cvtepi32_ps(p), acc);
        }
        y[r] = hsum8(acc);
    }
}

/* Unsigned quants (0..31) times signed activations, 8 int32 partial sums. */
static inline __m256i dot_u8(__m256i u, __m256i s)
{
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

static void gemv_q4_1(const void *W, size_t rb, const void *xq, int64_t n, float *y, int64_t nrows)
{
    const vl_block_q8_1 *x = xq;
    const int64_t nb = n / VL_QK;
    for (int64_t r = 0; r < nrows; r++) {
        const vl_block_q4_1 *w = (const vl_block_q4_1 *)ROWP(W, r, rb);
        __m256 acc = _mm256_setzero_ps();
        float summs = 0.0f;
        for (int64_t b = 0; b < nb; b++) {
            summs += h2f(w[b].m) * h2f(x[b].s);
            const __m256i p = dot_u8(nibbles32(w[b].qs), _mm256_loadu_si256((const __m256i *)x[b].qs));
            acc = _mm256_fmadd_ps(_mm256_set1_ps(h2f(w[b].d) * h2f(x[b].d)), _mm256_cvtepi32_ps(p), acc);
        }
        y[r] = hsum8(acc) + summs;
    }
}

static void gemv_q5_1(const void *W, size_t rb, const void *xq, int64_t n, float *y, int64_t nrows)
{
    const vl_block_q8_1 *x = xq;
    const int64_t nb = n / VL_QK;
    for (int64_t r = 0; r < nrows; r++) {
        const vl_block_q5_1 *w = (const vl_block_q5_1 *)ROWP(W, r, rb);
        __m256 acc = _mm256_setzero_ps();
        float summs = 0.0f;
        for (int64_t b = 0; b < nb; b++) {
            summs += h2f(w[b].m) * h2f(x[b].s);
            const __m256i q = _mm256_or_si256(nibbles32(w[b].qs), bits32_to_0x10(w[b].qh));
            const __m256i p = dot_u8(q, _mm256_loadu_si256((const __m256i *)x[b].qs));
            acc = _mm256_fmadd_ps(_mm256_set1_ps(h2f(w[b].d) * h2f(x[b].d)), _mm256_cvtepi32_ps(p), acc);
        }
        y[r] = hsum8(acc) + summs;
    }
}

/* ---- k-quants ------------------------------------------------------------------- */

/* The 12 packed scale bytes of Q4_K/Q5_K -> sc[0..7] and m[0..7] (6 bits each):
 * entries 0-3 are the low 6 bits of bytes 0-3 (scales) and 4-7 (mins);
 * entries 4-7 take their low 4 bits from bytes 8-11 and their top 2 bits
 * from the spare top bits of bytes 0-3 / 4-7. */
static inline void k4_unpack(const uint8_t *scales, uint8_t sc[8], uint8_t m[8])
{
    uint32_t w0, w1, w2;
    memcpy(&w0, scales, 4);
    memcpy(&w1, scales + 4, 4);
    memcpy(&w2, scales + 8, 4);
    const uint32_t lo6 = 0x3f3f3f3fu, lo4 = 0x0f0f0f0fu, lo2 = 0x03030303u;
    const uint32_t s0 = w0 & lo6, s1 = (w2 & lo4) | (((w0 >> 6) & lo2) << 4);
    const uint32_t m0 = w1 & lo6, m1 = ((w2 >> 4) & lo4) | (((w1 >> 6) & lo2) << 4);
    memcpy(sc, &s0, 4);
    memcpy(sc + 4, &s1, 4);
    memcpy(m, &m0, 4);
    memcpy(m + 4, &m1, 4);
}

/* sum_j m[j] * (bsums[2j] + bsums[2j+1]) */
static inline int k4_min_sum(const uint8_t m[8], const int16_t *bsums)
{
    const __m128i mv = _mm_loadl_epi64((const __m128i *)m);
    const __m256i m16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(mv, mv));
    return hsum8i(_mm256_madd_epi16(m16, _mm256_loadu_si256((const __m256i *)bsums)));
}

static void gemv_q4_K(const void *W, size_t rb, const void *xq, int64_t n, float *y, int64_t nrows)
{
    const vl_block_q8_K *x = xq;
    const int64_t nb = n / VL_QK_K;
    const __m256i m4 = _mm256_set1_epi8(0xF);
    for (int64_t r = 0; r < nrows; r++) {
        const vl_block_q4_K *w = (const vl_block_q4_K *)ROWP(W, r, rb);
        __m256 acc = _mm256_setzero_ps();
        float mins = 0.0f;
        for (int64_t b = 0; b < nb; b++) {
            uint8_t sc[8], m[8];
            k4_unpack(w[b].scales, sc, m);
            const float dy = x[b].d;
            mins += dy * h2f(w[b].dmin) * (float)k4_min_sum(m, x[b].bsums);
            __m256i sumi = _mm256_setzero_si256();
            for (int j = 0; j < 4; j++) {
                const __m256i q = _mm256_loadu_si256((const __m256i *)(w[b].qs + 32 * j));
                const __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
                __m256i p0 = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)(x[b].qs + 64 * j)));
                __m256i p1 = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(x[b].qs + 64 * j + 32)));
                p0 = _mm256_madd_epi16(p0, _mm256_set1_epi16(sc[2 * j]));
                p1 = _mm256_madd_epi16(p1, _mm256_set1_epi16(sc[2 * j + 1]));
                sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p0, p1));
            }
            acc = _mm256_fmadd_ps(_mm256_set1_ps(dy * h2f(w[b].d)), _mm256_cvtepi32_ps(sumi), acc);
        }
        y[r] = hsum8(acc) - mins;
    }
}

static void gemv_q5_K(const void *W, size_t rb, const void *xq, int64_t n, float *y, int64_t nrows)
{
    const vl_block_q8_K *x = xq;
    const int64_t nb = n / VL_QK_K;
    const __m256i m4 = _mm256_set1_epi8(0xF), one = _mm256_set1_epi8(1);
    for (int64_t r = 0; r < nrows; r++) {
        const vl_block_q5_K *w = (const vl_block_q5_K *)ROWP(W, r, rb);
        __m256 acc = _mm256_setzero_ps();
        float mins = 0.0f;
        for (int64_t b = 0; b < nb; b++) {
            uint8_t sc[8], m[8];
            k4_unpack(w[b].scales, sc, m);
            const float dy = x[b].d;
            mins += dy * h2f(w[b].dmin) * (float)k4_min_sum(m, x[b].bsums);
            const __m256i qh = _mm256_loadu_si256((const __m256i *)w[b].qh);
            __m256i sumi = _mm256_setzero_si256();
            for (int j = 0; j < 4; j++) {
                const __m256i q = _mm256_loadu_si256((const __m256i *)(w[b].qs + 32 * j));
                const __m256i h0 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * j), one), 4);
                const __m256i h1 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * j + 1), one), 4);
                const __m256i lo = _mm256_or_si256(_mm256_and_si256(q, m4), h0);
                const __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4), h1);
                __m256i p0 = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)(x[b].qs + 64 * j)));
                __m256i p1 = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(x[b].qs + 64 * j + 32)));
                p0 = _mm256_madd_epi16(p0, _mm256_set1_epi16(sc[2 * j]));
                p1 = _mm256_madd_epi16(p1, _mm256_set1_epi16(sc[2 * j + 1]));
                sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p0, p1));
            }
            acc = _mm256_fmadd_ps(_mm256_set1_ps(dy * h2f(w[b].d)), _mm256_cvtepi32_ps(sumi), acc);
        }
        y[r] = hsum8(acc) - mins;
    }
}

/* Q6_K: unsigned 6-bit quants u = q + 32; sum sc*(u*y) - 32*sum sc*bsum. */
static void gemv_q6_K(const void *W, size_t rb, const void *xq, int64_t n, float *y, int64_t nrows)
{
    const vl_block_q8_K *x = xq;
    const int64_t nb = n / VL_QK_K;
    const __m256i m4 = _mm256_set1_epi8(0xF), m2 = _mm256_set1_epi8(3);
    for (int64_t r = 0; r < nrows; r++) {
        const vl_block_q6_K *w = (const vl_block_q6_K *)ROWP(W, r, rb);
        __m256 acc = _mm256_setzero_ps();
        for (int64_t b = 0; b < nb; b++) {
            const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)w[b].scales));
            const int corr = hsum8i(_mm256_madd_epi16(sc16, _mm256_loadu_si256((const __m256i *)x[b].bsums)));
            __m256i sumi = _mm256_setzero_si256();
            for (int h = 0; h < 2; h++) {
                const __m256i l0 = _mm256_loadu_si256((const __m256i *)(w[b].ql + 64 * h));
                const __m256i l1 = _mm256_loadu_si256((const __m256i *)(w[b].ql + 64 * h + 32));
                const __m256i qh = _mm256_loadu_si256((const __m256i *)(w[b].qh + 32 * h));
                const __m256i u[4] = {
                    _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(qh, m2), 4)),
                    _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m2), 4)),
                    _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m2), 4)),
                    _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m2), 4)),
                };
                const int8_t *sc = w[b].scales + 8 * h;
                for (int k = 0; k < 4; k++) {
                    const __m256i p = _mm256_maddubs_epi16(u[k], _mm256_loadu_si256((const __m256i *)(x[b].qs + 128 * h + 32 * k)));
                    const __m256i s = _mm256_set_m128i(_mm_set1_epi16(sc[2 * k + 1]), _mm_set1_epi16(sc[2 * k]));
                    sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, s));
                }
            }
            const float dd = h2f(w[b].d) * x[b].d;
            acc = _mm256_fmadd_ps(_mm256_set1_ps(dd), _mm256_cvtepi32_ps(_mm256_sub_epi32(sumi, _mm256_setr_epi32(32 * corr, 0, 0, 0, 0, 0, 0, 0))), acc);
        }
        y[r] = hsum8(acc);
    }
}

void vl_kernels_fill_avx2(vl_kernel_table *t)
{
    t->igemm = vl_igemm_kernel_avx2;
    /* The integer GEMM where it beats dequantized tiles + sgemm on Zen 2
     * (EPYC, AVX2 only): `bench_gemm 1 prefill`, prefill_cpu_1t lines (512
     * tokens, 1-thread pool, CPU time, the two paths alternating, best of
     * 5; the machine was shared, load average ~13-17, so wall time was
     * useless), int8 / f32-tiles speed for 576->1536, 1536->576,
     * 960->2560, 2560->960:
     *   Q4_0 1.39 1.49 1.46 1.48   Q5_0 1.34 1.42 1.39 1.41
     *   Q4_K  -   1.34  -   1.35   Q5_K  -   1.17  -   1.20
     *   Q6_K  -   1.22  -   1.21   (K-quants: n_in a multiple of 256)
     *   Q8_0 0.89 0.98 0.90 0.93 -> off: its int8 weights need the sign
     *   trick and a vpmaddwd per vpmaddubsw, both on Zen 2's one vector
     *   multiply pipe, so it runs at the f32 FMA rate (~26 GOP/s per
     *   thread here) and OpenBLAS is a little better at that.
     * Whole-model check (bench_llm -t 1 -p 128, CPU time of the run):
     * SmolLM2-135M Q4_K 3.98 s int8 vs 4.30 s f32; Q8_0 4.62 vs 3.94. */
    static const int32_t igemm_types[] = {VL_TYPE_Q4_0, VL_TYPE_Q5_0, VL_TYPE_Q4_K, VL_TYPE_Q5_K, VL_TYPE_Q6_K};
    for (size_t i = 0; i < sizeof igemm_types / sizeof igemm_types[0]; i++) t->igemm_preferred[igemm_types[i]] = 1;
    t->gemv[VL_TYPE_F32] = gemv_f32;
    t->gemv[VL_TYPE_F16] = gemv_f16;
    t->gemv[VL_TYPE_BF16] = gemv_bf16;
    t->gemv[VL_TYPE_Q8_0] = gemv_q8_0;
    t->gemv[VL_TYPE_Q4_0] = gemv_q4_0;
    t->gemv[VL_TYPE_Q5_0] = gemv_q5_0;
    t->gemv[VL_TYPE_Q4_1] = gemv_q4_1;
    t->gemv[VL_TYPE_Q5_1] = gemv_q5_1;
    t->gemv[VL_TYPE_Q4_K] = gemv_q4_K;
    t->gemv[VL_TYPE_Q5_K] = gemv_q5_K;
    t->gemv[VL_TYPE_Q6_K] = gemv_q6_K;
}
