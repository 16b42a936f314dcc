/* idefics3 connector (SmolVLM / SmolVLM2 / Idefics3): pixel shuffle then a
 * bias-free linear projection into the text model's embedding space.
 *
 * Pixel shuffle (clip.cpp build_patch_merge_permute = HF Idefics3
 * pixel_shuffle): the G×G patch grid becomes (G/sf)² tokens in row-major
 * order; token (yb, xb) is the concatenation over i < sf, j < sf (i outer)
 * of the patch vector at (yb·sf + i, xb·sf + j). */
#include <string.h>

#include "vision_internal.h"

void vl_projector_idefics3(vl_vit_ctx *c, float *out)
{
    const vl_clip_model *m = c->v->m;
    const vl_vision_hparams *hp = &m->hp;
    const int E = hp->n_embd, G = hp->n_patches_side, sf = hp->scale_factor, Gt = G / sf;
    const size_t D = (size_t)E * sf * sf;
    const int n_tok = Gt * Gt;
    for (int t = 0; t < c->T; t++) {
        const float *x = c->x + (size_t)t * hp->n_patches * E;
        for (int yb = 0; yb < Gt; yb++)
            for (int xb = 0; xb < Gt; xb++) {
                float *dst = c->big + ((size_t)t * n_tok + (size_t)yb * Gt + xb) * D;
                for (int i = 0; i < sf; i++)
                    for (int j = 0; j < sf; j++)
                        memcpy(dst + (size_t)(i * sf + j) * E, x + ((size_t)(yb * sf + i) * G + (size_t)xb * sf + j) * E,
                               (size_t)E * sizeof(float));
            }
    }
    vl_vit_tap(c, "pixel_shuffle", -1, c->big, c->T * n_tok, (int)D);
    vl_vit_linear(c, &m->mm_fc, c->big, c->T * n_tok, out);
    vl_vit_tap(c, "proj", -1, out, c->T * n_tok, m->mm_fc.n_out);
}
