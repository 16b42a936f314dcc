/* SigLIP-style pre-LN vision transformer over a batch of tiles.
 *
 * All linear layers run over every patch row of the batch at once (one
 * GEMM each); attention runs per (tile, head) with single-threaded GEMMs
 * spread over the pool. The math follows clip.cpp's graph for idefics3:
 *   x = conv(img) + b + pos
 *   x += out(attn(LN1(x)))     q/k/v/out with biases, no mask, 1/sqrt(hd)
 *   x += fc2(gelu(fc1(LN2(x))))
 *   x = post_LN(x) */
#include <math.h>
#include <string.h>

#include "core/dtype.h"
#include "core/quant.h"
#include "core/gemm.h"
#include "gemm_bf16.h"
#include "linear_lazy.h"
#include "vision_internal.h"
#include "vit_ops.h"

/* ---- parallel helpers -------------------------------------------------- */

typedef vl_range_fn range_fn;
typedef struct {
    range_fn fn;
    void *arg;
    int64_t n;
} range_job;

static void range_task(void *ctx, int ith, int nth)
{
    const range_job *j = ctx;
    long long b, e;
    vl_split_range(j->n, ith, nth, 1, &b, &e);
    if (e > b) j->fn(j->arg, b, e);
}

void vl_vit_parallel_for(vl_pool *pool, int64_t n, range_fn fn, void *arg)
{
    range_job j = {fn, arg, n};
    vl_pool_run(pool, range_task, &j);
}

#define parallel_for vl_vit_parallel_for

/* ---- linear layers ------------------------------------------------------- */

typedef struct {
    const float *x;
    float *y;
    const float *b;
    int n_in, n_out;
    int32_t vt;
} lin_args;

static void bias_rows(void *arg, int64_t r0, int64_t r1)
{
    const lin_args *a = arg;
    for (int64_t r = r0; r < r1; r++) {
        float *y = a->y + r * a->n_out;
        for (int i = 0; i < a->n_out; i++) y[i] += a->b[i];
    }
}

static void emulate_rows(void *arg, int64_t r0, int64_t r1)
{
    const lin_args *a = arg;
    for (int64_t r = r0; r < r1; r++) vl_activations_emulate(a->vt, a->x + r * a->n_in, a->y + r * a->n_in, a->n_in);
}

void vl_vit_linear(vl_vit_ctx *c, const vl_linear *l, const float *x, int M, float *y)
{
    vl_vision_precision prec = c->v->precision;
    if (prec == VL_VISION_BF16 && l->bf16) {
        vl_bf16_gemm(c->pool, M, x, l->n_in, l->bf16, l->b, y, l->n_out, c->bf16);
        return;
    }
    const float *xin = x;
    if (prec == VL_VISION_GGML && l->src_type != VL_TYPE_F32) {
        /* ggml converts activations to the weight's vec_dot type first */
        lin_args a = {x, c->act, NULL, l->n_in, l->n_out, vl_vec_dot_type(l->src_type)};
        parallel_for(c->pool, M, emulate_rows, &a);
        xin = c->act;
    }
    if (l->w)
        vl_sgemm(c->pool, 1, M, l->n_out, l->n_in, xin, l->n_in, l->w, l->n_in, y, l->n_out);
    else /* the weight stayed in the file */
        vl_linear_lazy_gemm(c->pool, l, xin, M, y, c->wconv);
    if (l->b) {
        lin_args a = {NULL, y, l->b, l->n_in, l->n_out, 0};
        parallel_for(c->pool, M, bias_rows, &a);
    }
}

/* ---- row-wise ops over the pool ----------------------------------------- */

typedef struct {
    const float *x;
    float *y;
    const float *w, *b;
    int n;
    float eps;
} ln_args;

static void ln_rows(void *arg, int64_t r0, int64_t r1)
{
    const ln_args *a = arg;
    vl_layernorm_rows(a->x + r0 * a->n, a->y + r0 * a->n, r1 - r0, a->n, a->w, a->b, a->eps);
}

static void layernorm(vl_vit_ctx *c, const float *x, float *y, const float *w, const float *b)
{
    ln_args a = {x, y, w, b, c->v->m->hp.n_embd, c->v->m->hp.eps};
    parallel_for(c->pool, c->M, ln_rows, &a);
}

typedef struct {
    float *x;
    const float *y;
    int mode; /* 0 gelu, 1 gelu ggml, 2 quick, 3 quick ggml, 4 add */
} ew_args;

static void ew_range(void *arg, int64_t b, int64_t e)
{
    const ew_args *a = arg;
    float *x = a->x + b;
    int64_t n = e - b;
    switch (a->mode) {
    case 0: vl_gelu_tanh(x, n); break;
    case 1: vl_gelu_tanh_ggml(x, n); break;
    case 2: vl_gelu_quick(x, n); break;
    case 3: vl_gelu_quick_ggml(x, n); break;
    default:
        for (int64_t i = 0; i < n; i++) x[i] += a->y[b + i];
        break;
    }
}

static void elementwise(vl_vit_ctx *c, float *x, const float *y, int64_t n, int mode)
{
    ew_args a = {x, y, mode};
    parallel_for(c->pool, n, ew_range, &a);
}

/* ---- attention ----------------------------------------------------------- */

static void attn_task(void *ctx, int ith, int nth)
{
    vl_vit_ctx *c = ctx;
    const vl_vision_hparams *hp = &c->v->m->hp;
    const int E = hp->n_embd, H = hp->n_head, hd = E / H, np = hp->n_patches;
    const float scale = 1.0f / sqrtf((float)hd);
    float *S = c->scores + (size_t)ith * np * np;
    for (int task = ith; task < c->T * H; task += nth) {
        int t = task / H, h = task % H;
        size_t off = (size_t)t * np * E + (size_t)h * hd;
        /* S = Q_h·K_hᵀ, softmax(S·scale) row-wise, A_h = S·V_h */
        vl_sgemm(NULL, 1, np, np, hd, c->q + off, E, c->k + off, E, S, np);
        for (int i = 0; i < np; i++) vl_softmax_scaled(S + (size_t)i * np, np, scale);
        vl_sgemm(NULL, 0, np, hd, np, S, np, c->val + off, E, c->a + off, E);
    }
}

/* ---- the tower ------------------------------------------------------------- */

typedef struct {
    vl_vit_ctx *c;
    const float *pixels;
} im2col_args;

static void im2col_range(void *arg, int64_t t0, int64_t t1)
{
    const im2col_args *a = arg;
    const vl_vision_hparams *hp = &a->c->v->m->hp;
    const int S = hp->image_size, P = hp->patch_size;
    const size_t K = (size_t)3 * P * P;
    for (int64_t t = t0; t < t1; t++)
        vl_im2col_patches(a->pixels + (size_t)t * 3 * S * S, S, P, a->c->big + (size_t)t * hp->n_patches * K,
                          a->c->v->precision == VL_VISION_GGML);
}

void vl_vit_forward(vl_vit_ctx *c, const float *pixels)
{
    const vl_clip_model *m = c->v->m;
    const vl_vision_hparams *hp = &m->hp;
    const int E = hp->n_embd, np = hp->n_patches, M = c->M;
    const int ggml = c->v->precision == VL_VISION_GGML;

    /* patch embedding: im2col + GEMM (conv with stride = kernel = P) */
    im2col_args ia = {c, pixels};
    parallel_for(c->pool, c->T, im2col_range, &ia);
    vl_linear patch = m->patch;
    patch.bf16 = NULL; /* the patch GEMM stays f32 in every mode */
    if (ggml) {
        patch.w = c->v->patch_w_f16;
        patch.src_type = VL_TYPE_F32; /* already rounded: no further emulation */
    }
    vl_vit_linear(c, &patch, c->big, M, c->x);
    vl_vit_tap(c, "patch_bias", -1, c->x, M, E);
    for (int t = 0; t < c->T; t++) elementwise(c, c->x + (size_t)t * np * E, m->pos_embd, (int64_t)np * E, 4);
    vl_vit_tap(c, "pos_embed", -1, c->x, M, E);

    const int gelu_mode = (hp->use_gelu ? 0 : 2) + (ggml ? 1 : 0);
    for (int il = 0; il < hp->n_layer; il++) {
        const vl_vit_layer *L = &m->layers[il];
        layernorm(c, c->x, c->h, L->ln1_w, L->ln1_b);
        vl_vit_linear(c, &L->q, c->h, M, c->q);
        vl_vit_linear(c, &L->k, c->h, M, c->k);
        vl_vit_linear(c, &L->v, c->h, M, c->val);
        vl_pool_run(c->pool, attn_task, c);
        vl_vit_linear(c, &L->o, c->a, M, c->h);
        elementwise(c, c->x, c->h, (int64_t)M * E, 4);

        layernorm(c, c->x, c->h, L->ln2_w, L->ln2_b);
        vl_vit_linear(c, &L->fc1, c->h, M, c->big);
        elementwise(c, c->big, NULL, (int64_t)M * hp->n_ff, gelu_mode);
        vl_vit_linear(c, &L->fc2, c->big, M, c->h);
        elementwise(c, c->x, c->h, (int64_t)M * E, 4);
        vl_vit_tap(c, "layer_out", il, c->x, M, E);
    }
    if (m->post_ln_w) {
        layernorm(c, c->x, c->x, m->post_ln_w, m->post_ln_b);
        vl_vit_tap(c, "norm_b", -1, c->x, M, E);
    }
}
