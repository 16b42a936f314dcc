/* Qwen-VL patch merger (clip.cpp qwen2vl/qwen3vl graphs; transformers
 * Qwen2_5_VLPatchMerger / Qwen3VLVisionPatchMerger): the 4 consecutive
 * post-norm patches of each 2x2 unit are concatenated (4E) and projected,
 * y = mm2(GELU(mm0(x))): transformers' nn.GELU() (exact erf), or in
 * llama.cpp compat mode its tanh form (the fp16 table in GGML precision).
 * Deepstack features of
 * the same unit follow as extra columns. Rows come out in window order and
 * are put back in merged-grid row-major order (unit_src). */
#include <string.h>

#include "vision_internal.h"
#include "vit_ops.h"

void vl_merger_gelu(const vl_vit_ctx *c, float *x, int64_t n)
{
    if (!c->v->llamacpp_compat) vl_gelu_erf(x, n);
    else if (c->v->precision == VL_VISION_GGML) vl_gelu_tanh_ggml(x, n);
    else vl_gelu_tanh(x, n);
}

void vl_projector_merger(vl_vit_ctx *c, float *out)
{
    const vl_clip_model *m = c->v->m;
    const int E4 = 4 * m->hp.n_embd, D = m->hp.proj_dim, n = c->M / 4;
    const int width = D * (1 + m->n_ds);
    vl_vit_linear(c, &m->mm0, c->x, n, c->big);
    vl_merger_gelu(c, c->big, (int64_t)n * E4);
    vl_vit_linear(c, &m->mm2, c->big, n, c->h);
    vl_vit_tap(c, "merger_out_win", -1, c->h, n, D);
    for (int j = 0; j < n; j++) {
        float *row = out + (size_t)c->unit_src[j] * width;
        memcpy(row, c->h + (size_t)j * D, (size_t)D * sizeof(float));
        for (int k = 0; k < m->n_ds; k++)
            memcpy(row + (size_t)(k + 1) * D, c->ds_out + ((size_t)k * n + j) * D, (size_t)D * sizeof(float));
    }
}
