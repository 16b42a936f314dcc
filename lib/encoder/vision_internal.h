/* Shared by the encoder's compute files (vit.c, projector_*.c, encoder.c). */
#ifndef VL_ENCODER_VISION_INTERNAL_H
#define VL_ENCODER_VISION_INTERNAL_H

#include "clip_model.h"
#include "encoder.h"

struct vl_vision {
    vl_clip_model *m;
    vl_vision_precision precision;
    float *patch_w_f16;    /* conv kernel rounded through fp16 (GGML mode) */
    float *patch1_w_f16;   /* the second temporal kernel, likewise */
    int llamacpp_compat;   /* merger GELU: tanh form as llama.cpp (1) or exact erf as transformers (0) */
    vl_vision_tap_fn tap;
    void *tap_ud;
    int lean;              /* drop f32 weights once packed (vl_vision_release_f32) */
    int f32_released;      /* some packed layer has no f32 weights left (an F32 file's, dropped) */
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
    float *wconv;                         /* a weight kept in the file, in f32 (linear_lazy.h) */

    /* dynamic-resolution towers: one temporal patch per call (T = 1) */
    float *ff2;                           /* M × FF: up branch of a gated FFN */
    float *ds_out;                        /* n_ds × M/4 × proj_dim deepstack features (window order) */
    int ph, pw;                           /* patch grid */
    int n_win;                            /* attention windows (spans of win_start) */
    int32_t *unit_src, *win_start;        /* see patch_order.h */
    int32_t *seq_grid, *pos_y, *pos_x;    /* per sequence row: grid index, coordinates */
} vl_vit_ctx;

/* Runs fn(arg, b, e) over [0, n) split across the pool. */
typedef void (*vl_range_fn)(void *arg, int64_t b, int64_t e);
void vl_vit_parallel_for(vl_pool *pool, int64_t n, vl_range_fn fn, void *arg);

/* y[M][n_out] = x[M][n_in]·Wᵀ + b in the context's precision. */
void vl_vit_linear(vl_vit_ctx *c, const vl_linear *l, const float *x, int M, float *y);

/* ViT over c->T tiles of pixels; the post-LN output is left in c->x. */
void vl_vit_forward(vl_vit_ctx *c, const float *pixels);

/* idefics3: pixel shuffle of c->x into c->big, then the projection into out. */
void vl_projector_idefics3(vl_vit_ctx *c, float *out);

/* Dynamic-resolution ViT (vit_dynamic.c) over one temporal patch of
 * n_frames (1: the frame through both temporal kernels, 2) planar frames
 * of pw·P × ph·P pixels; needs c->ph/pw and the order arrays filled. The
 * post-norm output is left in c->x (sequence order), deepstack features in
 * c->ds_out. */
void vl_vit_dynamic_forward(vl_vit_ctx *c, const float *frames, int n_frames);

/* Qwen patch merger: 2x2 concat of c->x -> mm0 -> GELU -> mm2, deepstack
 * columns appended, rows restored to merged-grid row-major into out. */
void vl_projector_merger(vl_vit_ctx *c, float *out);

/* The mergers' GELU in place (see vl_vision_set_llamacpp_compat). */
void vl_merger_gelu(const vl_vit_ctx *c, float *x, int64_t n);

static inline void vl_vit_tap(vl_vit_ctx *c, const char *name, int layer, const float *data, int rows, int cols)
{
    if (c->v->tap) c->v->tap(c->v->tap_ud, name, layer, c->tile0, c->T, data, rows, cols);
}

#endif
