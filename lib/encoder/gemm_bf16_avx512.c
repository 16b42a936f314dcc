/* AVX-512 BF16 micro-kernel of vl_bf16_gemm (built with -mavx512bf16; only
 * called when vl_bf16_gemm_available()).
 *
 * Register blocking: MR = 6 rows × NR = 64 columns = 24 zmm accumulators.
 * Per K pair: 4 panel loads (64 columns × 2 bf16) and 6 broadcasts of an
 * A pair feed 24 vdpbf16ps, so the loop is bound by the dot-product unit,
 * not by loads. A panel (kp × 256 bytes) stays in L2 while every row
 * block of A streams past it. */
#include <immintrin.h>
#include <string.h>

#include "gemm_bf16.h"

void vl_bf16_convert_rows_avx512(const float *A, int lda, int rows, int k, uint16_t *dst, int ldd)
{
    for (int r = 0; r < rows; r++) {
        const float *a = A + (size_t)r * lda;
        uint16_t *d = dst + (size_t)r * ldd;
        int i = 0;
        for (; i + 32 <= k; i += 32) {
            __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(a + i));
            _mm512_storeu_si512((void *)(d + i), (__m512i)v);
        }
        for (; i < ldd; i += 16) {
            int left = k - i;
            __mmask16 m = left >= 16 ? 0xffff : left > 0 ? (__mmask16)((1u << left) - 1) : 0;
            __m256bh v = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, a + i));
            int n = ldd - i < 16 ? ldd - i : 16;
            __mmask16 sm = n >= 16 ? 0xffff : (__mmask16)((1u << n) - 1);
            _mm256_mask_storeu_epi16(d + i, sm, (__m256i)v); /* zeros past k */
        }
    }
}

static inline __attribute__((always_inline)) void
kern(const int mr, const uint16_t *A, int lda, const uint16_t *B, int kp, const float *bias, float *C, int ldc,
     int nvalid)
{
    __m512 acc[VL_BF16_MR][4];
#pragma GCC unroll 6
    for (int m = 0; m < VL_BF16_MR; m++)
#pragma GCC unroll 4
        for (int v = 0; v < 4; v++) acc[m][v] = _mm512_setzero_ps();

    const uint16_t *ar[VL_BF16_MR];
#pragma GCC unroll 6
    for (int m = 0; m < VL_BF16_MR; m++) ar[m] = A + (size_t)(m < mr ? m : 0) * lda;

    for (int p = 0; p < kp; p++) {
        __m512bh b0 = (__m512bh)_mm512_load_si512((const void *)(B + 0));
        __m512bh b1 = (__m512bh)_mm512_load_si512((const void *)(B + 32));
        __m512bh b2 = (__m512bh)_mm512_load_si512((const void *)(B + 64));
        __m512bh b3 = (__m512bh)_mm512_load_si512((const void *)(B + 96));
        B += VL_BF16_NR * 2;
#pragma GCC unroll 6
        for (int m = 0; m < VL_BF16_MR; m++) {
            if (m < mr) {
                int32_t pair;
                memcpy(&pair, ar[m] + 2 * p, sizeof pair); /* (A[m][2p], A[m][2p+1]) */
                __m512bh a = (__m512bh)_mm512_set1_epi32(pair);
                acc[m][0] = _mm512_dpbf16_ps(acc[m][0], a, b0);
                acc[m][1] = _mm512_dpbf16_ps(acc[m][1], a, b1);
                acc[m][2] = _mm512_dpbf16_ps(acc[m][2], a, b2);
                acc[m][3] = _mm512_dpbf16_ps(acc[m][3], a, b3);
            }
        }
    }

#pragma GCC unroll 4
    for (int v = 0; v < 4; v++) {
        int col = v * 16;
        int left = nvalid - col;
        if (left <= 0) break;
        __mmask16 mk = left >= 16 ? 0xffff : (__mmask16)((1u << left) - 1);
        __m512 bv = bias ? _mm512_maskz_loadu_ps(mk, bias + col) : _mm512_setzero_ps();
#pragma GCC unroll 6
        for (int m = 0; m < VL_BF16_MR; m++)
            if (m < mr) _mm512_mask_storeu_ps(C + (size_t)m * ldc + col, mk, _mm512_add_ps(acc[m][v], bv));
    }
}

void vl_bf16_kernel_avx512(const uint16_t *A, int lda, int M, const vl_bf16_packed *W, int panel0, int panel1,
                           const float *bias, float *C, int ldc)
{
    const size_t panel_elems = (size_t)W->kp * VL_BF16_NR * 2;
    for (int pn = panel0; pn < panel1; pn++) {
        const uint16_t *B = W->data + (size_t)pn * panel_elems;
        int col0 = pn * VL_BF16_NR;
        int nvalid = W->n - col0 < VL_BF16_NR ? W->n - col0 : VL_BF16_NR;
        const float *bp = bias ? bias + col0 : NULL;
        int m = 0;
        for (; m + VL_BF16_MR <= M; m += VL_BF16_MR)
            kern(VL_BF16_MR, A + (size_t)m * lda, lda, B, W->kp, bp, C + (size_t)m * ldc + col0, ldc, nvalid);
        switch (M - m) {
        case 1: kern(1, A + (size_t)m * lda, lda, B, W->kp, bp, C + (size_t)m * ldc + col0, ldc, nvalid); break;
        case 2: kern(2, A + (size_t)m * lda, lda, B, W->kp, bp, C + (size_t)m * ldc + col0, ldc, nvalid); break;
        case 3: kern(3, A + (size_t)m * lda, lda, B, W->kp, bp, C + (size_t)m * ldc + col0, ldc, nvalid); break;
        case 4: kern(4, A + (size_t)m * lda, lda, B, W->kp, bp, C + (size_t)m * ldc + col0, ldc, nvalid); break;
        case 5: kern(5, A + (size_t)m * lda, lda, B, W->kp, bp, C + (size_t)m * ldc + col0, ldc, nvalid); break;
        default: break;
        }
    }
}
