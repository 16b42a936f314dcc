/* AVX-512 dot kernels (compiled with -mavx512f -mavx512bw -mavx512vl
 * -mavx512vnni; only called after vl_cpu() reports them). Entries not set
 * here keep their AVX2 version (vecdot.c copies that table first).
 *
 * The int8 formats use VNNI vpdpbusd (unsigned x signed bytes summed in
 * groups of four straight into int32), which removes the int16 stage of
 * the AVX2 maddubs path. BF16 uses vdpbf16ps when the CPU has it. */
#include <immintrin.h>

#include "f16.h"
#include "kernels.h"
#include "quant.h"

#define ROWP(W, r, rb) ((const char *)(W) + (size_t)(r) * (rb))

static inline float hsum8(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline float h2f(uint16_t h) { return _cvtsh_ss(h); }

static void gemv_f32(const void *W, size_t rb, const void *xq, int64_t n, float *y, int64_t nrows)
{
    const float *x = xq;
    for (int64_t r = 0; r < nrows; r++) {
        const float *w = (const float *)ROWP(W, r, rb);
        __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
        int64_t i = 0;
        for (; i + 32 <= n; i += 32) {
            a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i), _mm512_loadu_ps(x + i), a0);
            a1 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i + 16), _mm512_loadu_ps(x + i + 16), a1);
        }
        if (i + 16 <= n) {
            a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i), _mm512_loadu_ps(x + i), a0);
            i += 16;
        }
        if (i < n) { /* masked tail */
            const __mmask16 k = (__mmask16)((1u << (n - i)) - 1);
            a1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, w + i), _mm512_maskz_loadu_ps(k, x + i), a1);
        }
        y[r] = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
    }
}

static void gemv_f16(const void *W, size_t rb, const void *xq, int64_t n, float *y, int64_t nrows)
{
    const uint16_t *x = xq;
    for (int64_t r = 0; r < nrows; r++) {
        const uint16_t *w = (const uint16_t *)ROWP(W, r, rb);
        __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
        int64_t i = 0;
        for (; i + 32 <= n; i += 32) {
            a0 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(w + i))),
                                 _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(x + i))), a0);
            a1 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(w + i + 16))),
                                 _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(x + i + 16))), a1);
        }
        if (i < n) {
            const int64_t left = n - i;
            const __mmask16 k0 = (__mmask16)(left >= 16 ? 0xFFFF : (1u << left) - 1);
            const __mmask16 k1 = (__mmask16)(left > 16 ? (1u << (left - 16)) - 1 : 0);
            a0 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_maskz_loadu_epi16(k0, w + i)),
                                 _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(k0, x + i)), a0);
            a1 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_maskz_loadu_epi16(k1, w + i + 16)),
                                 _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(k1, x + i + 16)), a1);
        }
        y[r] = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
    }
}

/* vdpbf16ps: each f32 lane accumulates the products of one pair of bf16. */
__attribute__((target("avx512bf16"))) static void gemv_bf16(const void *W, size_t rb, const void *xq, int64_t n,
                                                             float *y, int64_t nrows)
{
    const uint16_t *x = xq;
    for (int64_t r = 0; r < nrows; r++) {
        const uint16_t *w = (const uint16_t *)ROWP(W, r, rb);
        __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
        int64_t i = 0;
        for (; i + 64 <= n; i += 64) {
            a0 = _mm512_dpbf16_ps(a0, (__m512bh)_mm512_loadu_si512(w + i), (__m512bh)_mm512_loadu_si512(x + i));
            a1 = _mm512_dpbf16_ps(a1, (__m512bh)_mm512_loadu_si512(w + i + 32), (__m512bh)_mm512_loadu_si512(x + i + 32));
        }
        for (; i < n; i += 32) { /* masked tail; zero lanes add nothing */
            const int64_t left = n - i;
            const __mmask32 k = left >= 32 ? 0xFFFFFFFFu : (__mmask32)((1u << left) - 1);
            a0 = _mm512_dpbf16_ps(a0, (__m512bh)_mm512_maskz_loadu_epi16(k, w + i),
                                  (__m512bh)_mm512_maskz_loadu_epi16(k, x + i));
        }
        y[r] = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
    }
}

/* 8 int32 partial sums of x*y for 32 signed bytes: vpdpbusd(|x|, sign(y, x)). */
static inline __m256i dot_i8(__m256i x, __m256i y)
{
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(x), _mm256_sign_epi8(y, x));
}

/* One row at a time, two accumulators. Interleaving several rows to share
 * the activation loads was tried and streams at a third of the bandwidth:
 * the hardware prefetcher does not follow four interleaved rows 612 bytes
 * apart, and this loop is bound by the memory bus anyway. */
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
        if (b < nb) {
            const __m256i p = dot_i8(_mm256_loadu_si256((const __m256i *)w[b].qs), _mm256_loadu_si256((const __m256i *)x[b].qs));
            a0 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(w[b].d) * h2f(x[b].d)), _mm256_cvtepi32_ps(p), a0);
        }
        y[r] = hsum8(_mm256_add_ps(a0, a1));
    }
}

static inline __m256i nibbles32(const uint8_t *p)
{
    const __m128i t = _mm_loadu_si128((const __m128i *)p);
    const __m256i b = _mm256_inserti128_si256(_mm256_castsi128_si256(t), _mm_srli_epi16(t, 4), 1);
    return _mm256_and_si256(b, _mm256_set1_epi8(0xF));
}

/* Q4_0: dpbusd(nibble, y) - 8*sum(y), with sum(y) from dpbusd(8, y). */
static void gemv_q4_0(const void *W, size_t rb, const void *xq, int64_t n, float *y, int64_t nrows)
{
    const vl_block_q8_0 *x = xq;
    const int64_t nb = n / VL_QK;
    const __m256i eight = _mm256_set1_epi8(8);
    for (int64_t r = 0; r < nrows; r++) {
        const vl_block_q4_0 *w = (const vl_block_q4_0 *)ROWP(W, r, rb);
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
        for (int64_t b = 0; b < nb; b++) {
            const __m256i xv = _mm256_loadu_si256((const __m256i *)x[b].qs);
            const __m256i off = _mm256_dpbusd_epi32(_mm256_setzero_si256(), eight, xv);
            const __m256i p = _mm256_sub_epi32(_mm256_dpbusd_epi32(_mm256_setzero_si256(), nibbles32(w[b].qs), xv), off);
            const __m256 v = _mm256_cvtepi32_ps(p), d = _mm256_set1_ps(h2f(w[b].d) * h2f(x[b].d));
            if (b & 1) a1 = _mm256_fmadd_ps(d, v, a1);
            else a0 = _mm256_fmadd_ps(d, v, a0);
        }
        y[r] = hsum8(_mm256_add_ps(a0, a1));
    }
}

void vl_kernels_fill_avx512(vl_kernel_table *t, int has_bf16)
{
    t->gemv[VL_TYPE_F32] = gemv_f32;
    t->gemv[VL_TYPE_F16] = gemv_f16;
    if (has_bf16) t->gemv[VL_TYPE_BF16] = gemv_bf16;
    t->gemv[VL_TYPE_Q8_0] = gemv_q8_0;
    t->gemv[VL_TYPE_Q4_0] = gemv_q4_0;
    t->igemm = vl_igemm_kernel_avx512;
    /* igemm_preferred stays the AVX2 level's (kernels.h): the VNNI kernel
     * does the same work with one vpdpbusd per 64 byte products where the
     * AVX2 one needs two vpmaddubsw plus vpmaddwd, but its speed has not
     * been measured on a VNNI machine yet (the sessions that wrote it had
     * AVX2 only). VIDEOLLM_IGEMM=0|1 overrides. */
}
