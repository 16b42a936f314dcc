#include "ops.h"

#include "cpu.h"
#include "fastmath.h"

#include <math.h>
#include <string.h>

void vl_rmsnorm(const float *x, const float *w, float *y, int64_t n, float eps)
{
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += (double)(x[i] * x[i]);
    const float mean = (float)(sum / (double)n);
    const float scale = 1.0f / sqrtf(mean + eps);
    if (w) {
        for (int64_t i = 0; i < n; i++) y[i] = (x[i] * scale) * w[i];
    } else {
        for (int64_t i = 0; i < n; i++) y[i] = x[i] * scale;
    }
}


/* x[i] = exp(x[i] - max), returning the sum. Compiled three times for the
 * vector widths the CPU may have and picked at run time (not with GCC's
 * target_clones: its ifunc resolvers run before sanitizer runtimes start). */
#define EXP_SUM_BODY                                                      \
    float part[16] = {0};                                                 \
    int64_t i = 0;                                                        \
    for (; i + 16 <= n; i += 16)                                          \
        for (int k = 0; k < 16; k++) {                                    \
            x[i + k] = vl_exp_fast(x[i + k] - max);                          \
            part[k] += x[i + k];                                          \
        }                                                                 \
    for (; i < n; i++) {                                                  \
        x[i] = vl_exp_fast(x[i] - max);                                      \
        part[0] += x[i];                                                  \
    }                                                                     \
    double sum = 0.0;                                                     \
    for (int k = 0; k < 16; k++) sum += part[k];                          \
    return sum;

static double exp_sum_generic(float *x, int64_t n, float max) { EXP_SUM_BODY }

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2,fma"))) static double exp_sum_avx2(float *x, int64_t n, float max) { EXP_SUM_BODY }
__attribute__((target("avx512f"))) static double exp_sum_avx512(float *x, int64_t n, float max) { EXP_SUM_BODY }
#endif

void vl_softmax(float *x, int64_t n, int64_t n_valid, float scale)
{
    float max = -INFINITY;
    for (int64_t i = 0; i < n_valid; i++) {
        x[i] *= scale;
        max = x[i] > max ? x[i] : max;
    }
    double sum;
#if defined(__x86_64__) && defined(__GNUC__)
    const vl_cpu_features *cpu = vl_cpu();
    if (cpu->avx512f) sum = exp_sum_avx512(x, n_valid, max);
    else if (cpu->avx2 && cpu->fma) sum = exp_sum_avx2(x, n_valid, max);
    else
#endif
        sum = exp_sum_generic(x, n_valid, max);
    const float inv = sum > 0.0 ? (float)(1.0 / sum) : 0.0f;
    for (int64_t j = 0; j < n_valid; j++) x[j] *= inv;
    for (int64_t j = n_valid; j < n; j++) x[j] = 0.0f;
}

void vl_swiglu(const float *gate, const float *up, float *out, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        const float g = gate[i];
        out[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

void vl_add(float *y, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] += x[i];
}

void vl_rope(float *x, int n_heads, int head_dim, int n_rot, int neox, int64_t pos, float freq_base)
{
    const float theta_scale = powf(freq_base, -2.0f / (float)n_rot);
    float cs[512], sn[512]; /* n_rot/2 <= 512: head dims are far smaller */
    const int half = n_rot / 2 < 512 ? n_rot / 2 : 512;
    float theta = (float)pos;
    for (int i = 0; i < half; i++) {
        cs[i] = cosf(theta);
        sn[i] = sinf(theta);
        theta *= theta_scale;
    }
    for (int h = 0; h < n_heads; h++) {
        float *v = x + (int64_t)h * head_dim;
        for (int i = 0; i < half; i++) {
            const int a = neox ? i : 2 * i;
            const int b = neox ? i + n_rot / 2 : 2 * i + 1;
            const float x0 = v[a], x1 = v[b];
            v[a] = x0 * cs[i] - x1 * sn[i];
            v[b] = x0 * sn[i] + x1 * cs[i];
        }
    }
}
