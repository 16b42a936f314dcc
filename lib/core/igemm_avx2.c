/* The integer GEMM micro-kernel with AVX2 (compiled with -mavx2 -mfma
 * -mf16c; only called after vl_cpu() reports them). Without VNNI the
 * products go through vpmaddubsw (unsigned x signed bytes -> int16 pairs,
 * saturating) and vpmaddwd (int16 pairs -> int32). On Zen 2 both run on
 * the one vector multiply pipe, so the rate is set by how many of them a
 * 32-byte product costs:
 *
 * - weights with |q| <= 32 (every type but Q8_0): the biased activations
 *   (0..255) multiply the signed quants directly, since a pair stays
 *   within 2 * 255 * 32 = 16320; the int16 pair sums of `chunk` groups of
 *   4 values are added before one vpmaddwd turns them into int32, as long
 *   as chunk * 2 * 255 * qmax fits int16 (Q4_0: the whole sub-block of 8
 *   groups; Q4_K, Q5_0: 4; Q5_K, Q6_K: 2), so a 32-byte product costs
 *   1 + 1/chunk multiplies; the packed corr removes the bias. Q6_K's
 *   per-16 integer scales are the vpmaddwd operand (isc) instead of 1s.
 * - Q8_0 (any int8): 255 * 128 * 2 overflows int16, so the activation
 *   bytes are unbiased back to signed and ggml's sign trick applies,
 *   |w| * sign(x, w), one vpmaddubsw + one vpmaddwd per 32 bytes; the
 *   integer sums start at 0, not at corr.
 *
 * One ymm holds the sums of 8 rows (4 bytes each, the layout's 32-byte
 * half); the panel's two halves run one after the other so that 4 tokens'
 * int16, int32 and float accumulators fit the 16 registers.
 * The float steps are those of vl_igemm_kernel_ref, in the same order. */
#include <immintrin.h>
#include <string.h>

#include "igemm.h"

static inline __m256i bcast4(const uint8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

/* Rows 8h..8h+7 of the panel for mr (<= 4) tokens. chunk 0: the Q8_0
 * sign trick; else groups per vpmaddwd (1, 2, 4 or 8). */
static inline __attribute__((always_inline)) void half_mr(const uint8_t *panel, int64_t nsb, int h, const uint8_t *xu,
                                                          size_t xu_stride, const float *dx, const float *mx,
                                                          size_t s_stride, const int mr, const int chunk,
                                                          const int has_isc, const int has_min, float *y,
                                                          size_t y_stride, int ncols)
{
    const __m256i ones = _mm256_set1_epi16(1), bias = _mm256_set1_epi8((char)0x80);
    __m256 acc[4];
    for (int t = 0; t < mr; t++) acc[t] = _mm256_setzero_ps();
    for (int64_t s = 0; s < nsb; s++) {
        const uint8_t *p = panel + s * VL_IGEMM_SB_BYTES + h * 32;
        const uint8_t *xs = xu + (size_t)s * VL_IGEMM_SB;
        __m256i isum[4];
        if (chunk == 0) {
            for (int t = 0; t < mr; t++) isum[t] = _mm256_setzero_si256();
            for (int g = 0; g < VL_IGEMM_SB / 4; g++) {
                const __m256i w = _mm256_loadu_si256((const __m256i *)(p + VL_IGEMM_SB_Q + g * 64));
                const __m256i aw = _mm256_abs_epi8(w);
                for (int t = 0; t < mr; t++) {
                    const __m256i x = _mm256_xor_si256(bcast4(xs + (size_t)t * xu_stride + g * 4), bias);
                    const __m256i p16 = _mm256_maddubs_epi16(aw, _mm256_sign_epi8(x, w));
                    isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(p16, ones));
                }
            }
        } else {
            const __m256i corr = _mm256_loadu_si256((const __m256i *)(p + VL_IGEMM_SB_CORR));
            for (int t = 0; t < mr; t++) isum[t] = corr;
            for (int c0 = 0; c0 < VL_IGEMM_SB / 4; c0 += chunk) {
                __m256i s16[4];
                for (int t = 0; t < mr; t++) s16[t] = _mm256_setzero_si256();
                for (int g = c0; g < c0 + chunk; g++) {
                    const __m256i w = _mm256_loadu_si256((const __m256i *)(p + VL_IGEMM_SB_Q + g * 64));
                    for (int t = 0; t < mr; t++)
                        s16[t] = _mm256_add_epi16(
                            s16[t], _mm256_maddubs_epi16(bcast4(xs + (size_t)t * xu_stride + g * 4), w));
                }
                const __m256i m =
                    has_isc ? _mm256_loadu_si256((const __m256i *)(p + VL_IGEMM_SB_ISC + (c0 / 4) * 64)) : ones;
                for (int t = 0; t < mr; t++) isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(s16[t], m));
            }
        }
        const __m256 scale = _mm256_loadu_ps((const float *)(p + VL_IGEMM_SB_SCALE));
        for (int t = 0; t < mr; t++) {
            const __m256 sd = _mm256_mul_ps(scale, _mm256_set1_ps(dx[(size_t)t * s_stride + (size_t)s]));
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), sd, acc[t]);
        }
        if (has_min) {
            const __m256 min = _mm256_loadu_ps((const float *)(p + VL_IGEMM_SB_MIN));
            for (int t = 0; t < mr; t++)
                acc[t] = _mm256_fmadd_ps(min, _mm256_set1_ps(mx[(size_t)t * s_stride + (size_t)s]), acc[t]);
        }
    }
    const int n = ncols - h * 8;
    for (int t = 0; t < mr; t++) {
        float *yt = y + (size_t)t * y_stride + h * 8;
        if (n >= 8) {
            _mm256_storeu_ps(yt, acc[t]);
        } else if (n > 0) {
            float tmp[8];
            _mm256_storeu_ps(tmp, acc[t]);
            memcpy(yt, tmp, (size_t)n * sizeof(float));
        }
    }
}

/* One instance per (type class, token count): the loops above unroll
 * completely with constant mr and chunk. */
#define DEFINE_CLASS(NAME, CHUNK, ISC, MIN)                                                                        \
    static void NAME(const uint8_t *panel, int64_t nsb, int h, const uint8_t *xu, size_t xu_stride,             \
                     const float *dx, const float *mx, size_t s_stride, int mr, float *y, size_t y_stride,      \
                     int ncols)                                                                                 \
    {                                                                                                           \
        switch (mr) {                                                                                           \
        case 1: half_mr(panel, nsb, h, xu, xu_stride, dx, mx, s_stride, 1, CHUNK, ISC, MIN, y, y_stride, ncols); break; \
        case 2: half_mr(panel, nsb, h, xu, xu_stride, dx, mx, s_stride, 2, CHUNK, ISC, MIN, y, y_stride, ncols); break; \
        case 3: half_mr(panel, nsb, h, xu, xu_stride, dx, mx, s_stride, 3, CHUNK, ISC, MIN, y, y_stride, ncols); break; \
        default: half_mr(panel, nsb, h, xu, xu_stride, dx, mx, s_stride, 4, CHUNK, ISC, MIN, y, y_stride, ncols); break; \
        }                                                                                                       \
    }

DEFINE_CLASS(half_q8_0, 0, 0, 0)
DEFINE_CLASS(half_c8, 8, 0, 0)
DEFINE_CLASS(half_c4, 4, 0, 0)
DEFINE_CLASS(half_c4_min, 4, 0, 1)
DEFINE_CLASS(half_c2_min, 2, 0, 1)
DEFINE_CLASS(half_c2_isc, 2, 1, 0)

typedef void (*half_fn)(const uint8_t *, int64_t, int, const uint8_t *, size_t, const float *, const float *, size_t,
                        int, float *, size_t, int);

/* The class of a weight type: its int16 chunk from vl_igemm_qmax (a pair
 * is at most 2 * 255 * qmax), its integer scales and min term. */
static half_fn class_of(int32_t type)
{
    const int qmax = vl_igemm_qmax(type);
    if (qmax > 32) return half_q8_0;
    const int chunk = 32767 / (2 * 255 * qmax) >= 8 ? 8 : 32767 / (2 * 255 * qmax) >= 4 ? 4 : 2;
    if (vl_igemm_has_isc(type)) return half_c2_isc; /* qmax 32: chunk 2 */
    if (vl_igemm_has_min(type)) return chunk >= 4 ? half_c4_min : half_c2_min;
    return chunk == 8 ? half_c8 : half_c4;
}

void vl_igemm_kernel_avx2(const void *panel, int64_t nsb, const uint8_t *xu, size_t xu_stride, const float *dx,
                          const float *mx, size_t s_stride, int mr, int32_t type, float *y, size_t y_stride, int ncols)
{
    const half_fn f = class_of(type);
    for (int h = 0; h < 2 && h * 8 < ncols; h++)
        for (int t0 = 0; t0 < mr; t0 += 4)
            f(panel, nsb, h, xu + (size_t)t0 * xu_stride, xu_stride, dx + (size_t)t0 * s_stride,
              mx + (size_t)t0 * s_stride, s_stride, mr - t0 < 4 ? mr - t0 : 4, y + (size_t)t0 * y_stride, y_stride,
              ncols);
}
