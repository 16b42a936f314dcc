/* The integer GEMM micro-kernel with AVX-512 VNNI (compiled with
 * -mavx512f -mavx512bw -mavx512vl -mavx512vnni; only called after vl_cpu()
 * reports them). One zmm holds one int32 (then float) accumulator per
 * weight row of the 16-row panel, so no horizontal sums are needed: per
 * 4 activation bytes, one broadcast and one vpdpbusd per token. Q6_K
 * (integer scales per 16-value half) sums each half on its own and
 * multiplies it by the half's scale (vpmulld), as the layout specifies.
 * The float steps are those of vl_igemm_kernel_ref, in the same order,
 * so both give identical results. */
#include <immintrin.h>
#include <string.h>

#include "igemm.h"

static inline __attribute__((always_inline)) void kernel_mr(const uint8_t *panel, int64_t nsb, const uint8_t *xu,
                                                            size_t xu_stride, const float *dx, const float *mx,
                                                            size_t s_stride, const int mr, const int has_isc,
                                                            const int has_min, float *y, size_t y_stride, int ncols)
{
    __m512 acc[VL_IGEMM_TOKS];
    for (int t = 0; t < mr; t++) acc[t] = _mm512_setzero_ps();
    for (int64_t s = 0; s < nsb; s++) {
        const uint8_t *p = panel + s * VL_IGEMM_SB_BYTES;
        const __m512i corr = _mm512_loadu_si512(p + VL_IGEMM_SB_CORR);
        __m512i isum[VL_IGEMM_TOKS];
        for (int t = 0; t < mr; t++) isum[t] = corr;
        for (int hh = 0; hh < 2; hh++) {
            __m512i hsum[VL_IGEMM_TOKS];
            for (int t = 0; t < mr; t++) hsum[t] = has_isc ? _mm512_setzero_si512() : isum[t];
            for (int g = 4 * hh; g < 4 * hh + 4; g++) {
                const __m512i w = _mm512_loadu_si512(p + VL_IGEMM_SB_Q + g * 64);
                for (int t = 0; t < mr; t++) {
                    int32_t x4;
                    memcpy(&x4, xu + (size_t)t * xu_stride + (size_t)s * VL_IGEMM_SB + g * 4, 4);
                    hsum[t] = _mm512_dpbusd_epi32(hsum[t], _mm512_set1_epi32(x4), w);
                }
            }
            if (has_isc) { /* the int16 scale sign-extended from the high half of each int32 */
                const __m512i isc = _mm512_srai_epi32(_mm512_loadu_si512(p + VL_IGEMM_SB_ISC + hh * 64), 16);
                for (int t = 0; t < mr; t++) isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(hsum[t], isc));
            } else {
                for (int t = 0; t < mr; t++) isum[t] = hsum[t];
            }
        }
        const __m512 scale = _mm512_loadu_ps((const float *)(p + VL_IGEMM_SB_SCALE));
        for (int t = 0; t < mr; t++) {
            const __m512 sd = _mm512_mul_ps(scale, _mm512_set1_ps(dx[(size_t)t * s_stride + (size_t)s]));
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]), sd, acc[t]);
        }
        if (has_min) {
            const __m512 min = _mm512_loadu_ps((const float *)(p + VL_IGEMM_SB_MIN));
            for (int t = 0; t < mr; t++)
                acc[t] = _mm512_fmadd_ps(min, _mm512_set1_ps(mx[(size_t)t * s_stride + (size_t)s]), acc[t]);
        }
    }
    const __mmask16 k = (__mmask16)(ncols >= 16 ? 0xFFFF : (1u << ncols) - 1);
    for (int t = 0; t < mr; t++) _mm512_mask_storeu_ps(y + (size_t)t * y_stride, k, acc[t]);
}

#define CASE(MR)                                                                                                  \
    case MR:                                                                                                      \
        if (has_isc) kernel_mr(panel, nsb, xu, xu_stride, dx, mx, s_stride, MR, 1, 0, y, y_stride, ncols);       \
        else if (has_min) kernel_mr(panel, nsb, xu, xu_stride, dx, mx, s_stride, MR, 0, 1, y, y_stride, ncols);  \
        else kernel_mr(panel, nsb, xu, xu_stride, dx, mx, s_stride, MR, 0, 0, y, y_stride, ncols);               \
        break;

void vl_igemm_kernel_avx512(const void *panel, int64_t nsb, const uint8_t *xu, size_t xu_stride, const float *dx,
                            const float *mx, size_t s_stride, int mr, int32_t type, float *y, size_t y_stride,
                            int ncols)
{
    const int has_isc = vl_igemm_has_isc(type), has_min = vl_igemm_has_min(type);
    switch (mr) {
        CASE(1)
        CASE(2)
        CASE(3)
        CASE(4)
        CASE(5)
        CASE(6)
        CASE(7)
        CASE(8)
    default: break;
    }
}
