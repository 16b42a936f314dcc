/* Qwen-VL patch merger (clip.cpp qwen2vl/qwen3vl graphs; transformers
 * Qwen2_5_VLPatchMerger / Qwen3VLVisionPatchMerger): the 4 consecutive
 * post-norm patches of each 2x2 unit are concatenated (4E) and projected,
 * y = mm2(GELU(mm0(x))) with llama.cpp's tanh GELU (transformers uses the
 * exact erf form here; llama.cpp's outputs are the reference we match, so
 * the tanh form is used in every mode for now). Deepstack features of
 * the same unit follow as extra columns. Rows come out in window order and
 * are put back in merged-grid row-major order (unit_src). */
#include <string.h>

#include "vision_internal.h"
#include "vit_ops.h"

void vl_projector_merger(vl_vit_ctx *c, float *out)
{
    const vl_clip_model *m = c->v->m;
    const int E4 = 4 * m->hp.n_embd, D = m->hp.proj_dim, n = c->M / 4;
    const int width = D * (1 + m->n_ds);
    vl_vit_linear(c, &m->mm0, c->x, n, c->big);
    if (c->v->precision == VL_VISION_GGML) vl_gelu_tanh_ggml(c->big, (int64_t)n * E4);
    else vl_gelu_tanh(c->big, (int64_t)n * E4);
    vl_vit_linear(c, &m->mm2, c->big, n, c->h);
    vl_vit_tap(c, "merger_out_win", -1, c->h, n, D);
    for (int j = 0; j < n; j++) {
        float *row = out + (size_t)c->unit_src[j] * width;
        memcpy(row, c->h + (size_t)j * D, (size_t)D * sizeof(float));
        for (int k = 0; k < m->n_ds; k++)
            memcpy(row + (size_t)(k + 1) * D, c->ds_out + ((size_t)k * n + j) * D, (size_t)D * sizeof(float));
    }
}
