/* AVX-512 versions of the exp-heavy ViT ops (softmax rows, GELU): on a
 * SigLIP-512 frame they evaluate ~190M exponentials, a third of the F32
 * encode time when left to 4-wide baseline code. Same Cephes polynomial as
 * vit_ops.c; 2^k applied with vscalefps. Built with -mavx512f, called only
 * when vl_cpu()->avx512f. */
#include <immintrin.h>
#include <math.h>

#include "vit_ops.h"

static inline __m512 exp16(__m512 x)
{
    x = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(88.3f)), _mm512_set1_ps(-87.3f));
    __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(k, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    __m512 e = _mm512_add_ps(_mm512_fmadd_ps(_mm512_mul_ps(p, r), r, r), _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(e, k);
}

void vl_softmax_scaled_avx512(float *x, int n, float scale)
{
    const __m512 vs = _mm512_set1_ps(scale);
    __m512 vmax = _mm512_set1_ps(-INFINITY);
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_mul_ps(_mm512_loadu_ps(x + i), vs);
        _mm512_storeu_ps(x + i, v);
        vmax = _mm512_max_ps(vmax, v);
    }
    float mx = _mm512_reduce_max_ps(vmax);
    for (; i < n; i++) {
        x[i] *= scale;
        mx = x[i] > mx ? x[i] : mx;
    }
    const __m512 vm = _mm512_set1_ps(mx);
    __m512 vsum = _mm512_setzero_ps();
    for (i = 0; i + 16 <= n; i += 16) {
        __m512 e = exp16(_mm512_sub_ps(_mm512_loadu_ps(x + i), vm));
        _mm512_storeu_ps(x + i, e);
        vsum = _mm512_add_ps(vsum, e);
    }
    double sum = _mm512_reduce_add_ps(vsum);
    for (; i < n; i++) {
        __m512 e = exp16(_mm512_set1_ps(x[i] - mx));
        x[i] = _mm512_cvtss_f32(e);
        sum += x[i];
    }
    const __m512 inv = _mm512_set1_ps((float)(1.0 / sum));
    for (i = 0; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, _mm512_mul_ps(_mm512_loadu_ps(x + i), inv));
    for (; i < n; i++) x[i] *= (float)(1.0 / sum);
}

/* x / (1 + exp(-c·x)) with c·x = 2u (tanh GELU) or 1.702x (quick GELU). */
void vl_gelu_avx512(float *x, int64_t n, int quick)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    int64_t i = 0;
    for (; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? 0xffff : (__mmask16)((1u << (n - i)) - 1);
        __m512 v = _mm512_maskz_loadu_ps(m, x + i);
        __m512 z;
        if (quick) {
            z = _mm512_mul_ps(v, _mm512_set1_ps(-1.702f));
        } else {
            __m512 v2 = _mm512_mul_ps(v, v);
            __m512 u = _mm512_mul_ps(_mm512_mul_ps(v, _mm512_set1_ps(0.79788456080286535588f)),
                                     _mm512_fmadd_ps(v2, _mm512_set1_ps(0.044715f), one));
            z = _mm512_mul_ps(u, _mm512_set1_ps(-2.0f));
        }
        __m512 y = _mm512_div_ps(v, _mm512_add_ps(one, exp16(z)));
        _mm512_mask_storeu_ps(x + i, m, y);
    }
}
