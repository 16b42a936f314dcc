/* Shared by the encoder's compute files (vit.c, projector_*.c, encoder.c). */
#ifndef VL_ENCODER_VISION_INTERNAL_H
#define VL_ENCODER_VISION_INTERNAL_H

#include "clip_model.h"
#include "encoder.h"

struct vl_vision {
    vl_clip_model *m;
    vl_vision_precision precision;
    float *patch_w_f16;    /* conv kernel rounded through fp16 (GGML mode) */
    vl_vision_tap_fn tap;
    void *tap_ud;
    int lean;              /* drop f32 weights once packed (vl_vision_release_f32) */
    int f32_released;      /* the f32 weights of packed layers are gone */
};

/* Per-call scratch for one batch of T tiles (M = T·n_patches rows). */
typedef struct vl_vit_ctx {
    vl_vision *v;
    vl_pool *pool;
    int nth;
    int T, M, tile0;
    float *x, *h, *q, *k, *val, *a, *big; /* M×E (big: M×max(FF, 3P², E·sf²)) */
    float *scores;                        /* nth × n_patches × n_patches */
    float *act;                           /* M × max(K) emulated activations (GGML mode) */
    void *bf16;                           /* BF16 activation scratch */
} vl_vit_ctx;

/* y[M][n_out] = x[M][n_in]·Wᵀ + b in the context's precision. */
void vl_vit_linear(vl_vit_ctx *c, const vl_linear *l, const float *x, int M, float *y);

/* ViT over c->T tiles of pixels; the post-LN output is left in c->x. */
void vl_vit_forward(vl_vit_ctx *c, const float *pixels);

/* idefics3: pixel shuffle of c->x into c->big, then the projection into out. */
void vl_projector_idefics3(vl_vit_ctx *c, float *out);

static inline void vl_vit_tap(vl_vit_ctx *c, const char *name, int layer, const float *data, int rows, int cols)
{
    if (c->v->tap) c->v->tap(c->v->tap_ud, name, layer, c->tile0, c->T, data, rows, cols);
}

#endif
