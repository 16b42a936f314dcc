/* The integer GEMM micro-kernel with AVX2 (compiled with -mavx2 -mfma
 * -mf16c; only called after vl_cpu() reports them). Without VNNI the
 * products go through vpmaddubsw, which multiplies unsigned by signed
 * bytes into saturating int16 pairs, so the biased activations cannot be
 * used as they are (255 * 128 * 2 overflows int16): the activation bytes
 * are unbiased back to signed and ggml's sign trick applies,
 * |w| * sign(x, w), whose pairs stay within int16 (128 * 127 * 2). Hence
 * the integer sums start at 0, not at the packed bias correction.
 * One ymm holds the sums of 8 rows; the panel's two 8-row halves run one
 * after the other so that 4 tokens' accumulators fit the 16 registers.
 * The float steps are those of vl_igemm_kernel_ref, in the same order. */
#include <immintrin.h>
#include <string.h>

#include "igemm.h"

static inline __attribute__((always_inline)) void half_mr(const uint8_t *panel, int64_t nsb, int h, const uint8_t *xu,
                                                          size_t xu_stride, const float *dx, const float *mx,
                                                          size_t s_stride, const int mr, const int has_min, float *y,
                                                          size_t y_stride, int ncols)
{
    const __m256i ones = _mm256_set1_epi16(1), bias = _mm256_set1_epi8((char)0x80);
    __m256 acc[4];
    for (int t = 0; t < mr; t++) acc[t] = _mm256_setzero_ps();
    for (int64_t s = 0; s < nsb; s++) {
        const uint8_t *p = panel + s * VL_IGEMM_SB_BYTES;
        __m256i isum[4];
        for (int t = 0; t < mr; t++) isum[t] = _mm256_setzero_si256();
        for (int g = 0; g < VL_IGEMM_SB / 4; g++) {
            const __m256i w = _mm256_loadu_si256((const __m256i *)(p + VL_IGEMM_SB_Q + g * 64 + h * 32));
            const __m256i aw = _mm256_abs_epi8(w);
            for (int t = 0; t < mr; t++) {
                int32_t x4;
                memcpy(&x4, xu + (size_t)t * xu_stride + (size_t)s * VL_IGEMM_SB + g * 4, 4);
                const __m256i x = _mm256_xor_si256(_mm256_set1_epi32(x4), bias);
                const __m256i p16 = _mm256_maddubs_epi16(aw, _mm256_sign_epi8(x, w));
                isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(p16, ones));
            }
        }
        const __m256 scale = _mm256_loadu_ps((const float *)(p + VL_IGEMM_SB_SCALE) + h * 8);
        for (int t = 0; t < mr; t++) {
            const __m256 sd = _mm256_mul_ps(scale, _mm256_set1_ps(dx[(size_t)t * s_stride + (size_t)s]));
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), sd, acc[t]);
        }
        if (has_min) {
            const __m256 min = _mm256_loadu_ps((const float *)(p + VL_IGEMM_SB_MIN) + h * 8);
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

static void half(const uint8_t *panel, int64_t nsb, int h, const uint8_t *xu, size_t xu_stride, const float *dx,
                 const float *mx, size_t s_stride, int mr, int has_min, float *y, size_t y_stride, int ncols)
{
#define CASE(MR)                                                                                                  \
    case MR:                                                                                                      \
        if (has_min) half_mr(panel, nsb, h, xu, xu_stride, dx, mx, s_stride, MR, 1, y, y_stride, ncols);         \
        else half_mr(panel, nsb, h, xu, xu_stride, dx, mx, s_stride, MR, 0, y, y_stride, ncols);                 \
        break;
    switch (mr) {
        CASE(1)
        CASE(2)
        CASE(3)
        CASE(4)
    default: break;
    }
#undef CASE
}

void vl_igemm_kernel_avx2(const void *panel, int64_t nsb, const uint8_t *xu, size_t xu_stride, const float *dx,
                          const float *mx, size_t s_stride, int mr, int has_min, float *y, size_t y_stride, int ncols)
{
    for (int h = 0; h < 2 && h * 8 < ncols; h++)
        for (int t0 = 0; t0 < mr; t0 += 4)
            half(panel, nsb, h, xu + (size_t)t0 * xu_stride, xu_stride, dx + (size_t)t0 * s_stride,
                 mx + (size_t)t0 * s_stride, s_stride, mr - t0 < 4 ? mr - t0 : 4, has_min, y + (size_t)t0 * y_stride,
                 y_stride, ncols);
}
