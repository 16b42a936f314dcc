/* AVX2 dequantizers for the formats whose dequantization is on a hot path
 * (weight tiles of the prefill GEMM, embedding lookups). Each computes
 * exactly the reference expression of quant.c, lane by lane, with separate
 * multiply and add (this file is built with -ffp-contract=off), so results
 * are bit-identical to the scalar reference. */
#include <immintrin.h>
#include <string.h>

#include "kernels.h"
#include "quant.h"

static inline float h2f(uint16_t h) { return _cvtsh_ss(h); }

static void deq_f16(const void *src, float *dst, int64_t n)
{
    const uint16_t *s = src;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(s + i))));
    for (; i < n; i++) dst[i] = h2f(s[i]);
}

static void deq_bf16(const void *src, float *dst, int64_t n)
{
    const uint16_t *s = src;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256i v = _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(s + i))), 16);
        _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(v));
    }
    for (; i < n; i++) {
        uint32_t u = (uint32_t)s[i] << 16;
        memcpy(dst + i, &u, 4);
    }
}

/* 8 signed bytes at p -> 8 floats times d */
static inline void store8_i8(float *dst, __m128i bytes8, __m256 d)
{
    _mm256_storeu_ps(dst, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(bytes8)), d));
}

static inline void store32_i8(float *dst, __m256i q, __m256 d)
{
    const __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
    store8_i8(dst, lo, d);
    store8_i8(dst + 8, _mm_srli_si128(lo, 8), d);
    store8_i8(dst + 16, hi, d);
    store8_i8(dst + 24, _mm_srli_si128(hi, 8), d);
}

static void deq_q8_0(const void *src, float *dst, int64_t n)
{
    const vl_block_q8_0 *b = src;
    for (int64_t i = 0; i < n / VL_QK; i++, dst += VL_QK)
        store32_i8(dst, _mm256_loadu_si256((const __m256i *)b[i].qs), _mm256_set1_ps(h2f(b[i].d)));
}

static inline __m256i nibbles32(const uint8_t *p)
{
    const __m128i t = _mm_loadu_si128((const __m128i *)p);
    const __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(t), _mm_srli_epi16(t, 4), 1);
    return _mm256_and_si256(v, _mm256_set1_epi8(0xF));
}

static void deq_q4_0(const void *src, float *dst, int64_t n)
{
    const vl_block_q4_0 *b = src;
    const __m256i eight = _mm256_set1_epi8(8);
    for (int64_t i = 0; i < n / VL_QK; i++, dst += VL_QK)
        store32_i8(dst, _mm256_sub_epi8(nibbles32(b[i].qs), eight), _mm256_set1_ps(h2f(b[i].d)));
}

/* 32 unsigned bytes -> d*q - m, 8 at a time */
static inline void store32_affine(float *dst, __m256i q, __m256 d, __m256 m)
{
    const __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
    const __m128i parts[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
    for (int k = 0; k < 4; k++) {
        const __m256 f = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(parts[k]));
        _mm256_storeu_ps(dst + 8 * k, _mm256_sub_ps(_mm256_mul_ps(d, f), m));
    }
}

static void deq_q4_K(const void *src, float *dst, int64_t n)
{
    const vl_block_q4_K *b = src;
    const __m256i m4 = _mm256_set1_epi8(0xF);
    for (int64_t i = 0; i < n / VL_QK_K; i++) {
        const float d = h2f(b[i].d), dmin = h2f(b[i].dmin);
        for (int j = 0; j < 4; j++, dst += 64) {
            uint8_t sc, m;
            const __m256i q = _mm256_loadu_si256((const __m256i *)(b[i].qs + 32 * j));
            vl_k4_scale_min(2 * j, b[i].scales, &sc, &m);
            store32_affine(dst, _mm256_and_si256(q, m4), _mm256_set1_ps(d * sc), _mm256_set1_ps(dmin * m));
            vl_k4_scale_min(2 * j + 1, b[i].scales, &sc, &m);
            store32_affine(dst + 32, _mm256_and_si256(_mm256_srli_epi16(q, 4), m4), _mm256_set1_ps(d * sc),
                           _mm256_set1_ps(dmin * m));
        }
    }
}

static void deq_q6_K(const void *src, float *dst, int64_t n)
{
    const vl_block_q6_K *b = src;
    const __m256i m4 = _mm256_set1_epi8(0xF), m2 = _mm256_set1_epi8(3), off = _mm256_set1_epi8(32);
    for (int64_t i = 0; i < n / VL_QK_K; i++) {
        const float d = h2f(b[i].d);
        for (int h = 0; h < 2; h++, dst += 128) {
            const __m256i l0 = _mm256_loadu_si256((const __m256i *)(b[i].ql + 64 * h));
            const __m256i l1 = _mm256_loadu_si256((const __m256i *)(b[i].ql + 64 * h + 32));
            const __m256i qh = _mm256_loadu_si256((const __m256i *)(b[i].qh + 32 * h));
            const __m256i u[4] = {
                _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(qh, m2), 4)),
                _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m2), 4)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m2), 4)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m2), 4)),
            };
            const int8_t *sc = b[i].scales + 8 * h;
            for (int k = 0; k < 4; k++) {
                const __m256i q = _mm256_sub_epi8(u[k], off);
                const __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
                const __m256 s0 = _mm256_set1_ps(d * (float)sc[2 * k]), s1 = _mm256_set1_ps(d * (float)sc[2 * k + 1]);
                float *o = dst + 32 * k;
                store8_i8(o, lo, s0);
                store8_i8(o + 8, _mm_srli_si128(lo, 8), s0);
                store8_i8(o + 16, hi, s1);
                store8_i8(o + 24, _mm_srli_si128(hi, 8), s1);
            }
        }
    }
}

void vl_dequant_fill_avx2(vl_kernel_table *t)
{
    t->dequant[VL_TYPE_F16] = deq_f16;
    t->dequant[VL_TYPE_BF16] = deq_bf16;
    t->dequant[VL_TYPE_Q8_0] = deq_q8_0;
    t->dequant[VL_TYPE_Q4_0] = deq_q4_0;
    t->dequant[VL_TYPE_Q4_K] = deq_q4_K;
    t->dequant[VL_TYPE_Q6_K] = deq_q6_K;
}
