/* Rotary position embeddings, 1-D and multi-section (see llm_rope.h).
 * Angles are built the way ggml builds them (theta_s *= theta_scale pair
 * after pair, in float), so results match llama.cpp to rounding. */
#include "llm_rope.h"

#include <math.h>

#include "core/ops.h"

int vl_rope_section_of(const vl_rope_cfg *r, int i)
{
    if (r->kind == VL_ROPE_NORM || r->kind == VL_ROPE_NEOX) return 0;
    const int32_t *s = r->sections;
    const int sum = s[0] + s[1] + s[2] + s[3];
    const int sector = sum > 0 ? i % sum : 0;
    if (r->kind == VL_ROPE_IMROPE) { /* ggml_mrope_cache_init, is_imrope */
        if (sector % 3 == 1 && sector < 3 * s[1]) return 1;
        if (sector % 3 == 2 && sector < 3 * s[2]) return 2;
        if (sector % 3 == 0 && sector < 3 * s[0]) return 0;
        return 3;
    }
    if (sector < s[0]) return 0;
    if (sector < s[0] + s[1]) return 1;
    if (sector < s[0] + s[1] + s[2]) return 2;
    return 3;
}

void vl_rope_apply(const vl_rope_cfg *r, float *x, int n_heads, const int32_t pos[VL_POS_SECTIONS])
{
    if (r->kind == VL_ROPE_NORM || r->kind == VL_ROPE_NEOX) {
        vl_rope(x, n_heads, r->head_dim, r->n_rot, r->kind == VL_ROPE_NEOX, pos[0], r->base);
        return;
    }
    const float theta_scale = powf(r->base, -2.0f / (float)r->n_rot);
    float cs[512], sn[512]; /* n_rot/2 <= 512: checked at load */
    const int half = r->n_rot / 2 < 512 ? r->n_rot / 2 : 512;
    float theta[VL_POS_SECTIONS];
    for (int k = 0; k < VL_POS_SECTIONS; k++) theta[k] = (float)pos[k];
    for (int i = 0; i < half; i++) {
        const float t = theta[vl_rope_section_of(r, i)];
        cs[i] = cosf(t);
        sn[i] = sinf(t);
        for (int k = 0; k < VL_POS_SECTIONS; k++) theta[k] *= theta_scale;
    }
    for (int h = 0; h < n_heads; h++) {
        float *v = x + (int64_t)h * r->head_dim;
        for (int i = 0; i < half; i++) {
            const float x0 = v[i], x1 = v[i + r->n_rot / 2];
            v[i] = x0 * cs[i] - x1 * sn[i];
            v[i + r->n_rot / 2] = x0 * sn[i] + x1 * cs[i];
        }
    }
}
