#include "rope2d.h"

#include <math.h>

void vl_rope2d_rows(float *x, int64_t rows, int64_t ld, int n_head, int d, const int32_t *py, const int32_t *px,
                    float base)
{
    const int half = d / 2, quarter = d / 4;
    /* ggml: n_dims = d/2, theta_scale = base^(-2/n_dims) */
    const float theta_scale = powf(base, -2.0f / (float)half);
    float cs[512], sn[512];
    if (half > 512) return; /* head dims are bounded at load (E/heads <= 1024) */
    for (int64_t r = 0; r < rows; r++) {
        float ty = (float)py[r], tx = (float)px[r];
        for (int i = 0; i < half; i++) {
            if (i == quarter) tx = (float)px[r]; /* indep_sects: the x section restarts */
            const float t = i < quarter ? ty : tx;
            cs[i] = cosf(t);
            sn[i] = sinf(t);
            ty *= theta_scale;
            tx *= theta_scale;
        }
        for (int h = 0; h < n_head; h++) {
            float *v = x + r * ld + (int64_t)h * d;
            for (int i = 0; i < half; i++) {
                const float x0 = v[i], x1 = v[i + half];
                v[i] = x0 * cs[i] - x1 * sn[i];
                v[i + half] = x0 * sn[i] + x1 * cs[i];
            }
        }
    }
}
