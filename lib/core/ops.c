#include "ops.h"

#include <math.h>

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

void vl_softmax(float *x, int64_t n, int64_t n_valid, float scale)
{
    float max = -INFINITY;
    for (int64_t i = 0; i < n_valid; i++) {
        x[i] *= scale;
        if (x[i] > max) max = x[i];
    }
    double sum = 0.0;
    for (int64_t i = 0; i < n_valid; i++) {
        float e = expf(x[i] - max);
        x[i] = e;
        sum += (double)e;
    }
    const float inv = sum > 0.0 ? (float)(1.0 / sum) : 0.0f;
    for (int64_t i = 0; i < n_valid; i++) x[i] *= inv;
    for (int64_t i = n_valid; i < n; i++) x[i] = 0.0f;
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
