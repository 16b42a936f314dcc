/* Dynamic-resolution vision transformer of the Qwen-VL towers
 * (clip.cpp clip_graph_qwen2vl / clip_graph_qwen3vl; transformers
 * Qwen2_5_VisionTransformerPretrainedModel / Qwen3VLVisionModel):
 *
 *   x = conv(W0, frame0) + conv(W1, frame1) [+ b]    temporal patch of 2 frames
 *   x = x in 2x2-unit order (window order for windowed towers) [+ positions]
 *   per block: x += out(attn(rope2d(q), rope2d(k), v))  on norm1(x),
 *              block-diagonal over windows unless a full-attention block
 *              x += FFN(norm2(x))     fc2(act(fc1)) or fc2(silu(gate)·fc1)
 *              deepstack layers: 2x2 concat -> LN -> fc1 -> GELU -> fc2
 *              (the mergers' GELU, vl_vision_set_llamacpp_compat)
 *   x = post_norm(x)
 * One temporal patch per call: its ph·pw patches are one sequence. */
#include <math.h>
#include <string.h>

#include "core/dtype.h"
#include "core/gemm.h"
#include "core/ops.h"
#include "pos_interp.h"
#include "rope2d.h"
#include "vision_internal.h"
#include "vit_ops.h"

/* ---- row-wise ops over the pool ------------------------------------------ */

typedef struct {
    const float *x;
    float *y;
    const float *w, *b;
    int n;
    float eps;
    vl_vit_norm kind;
} norm_args;

static void norm_rows(void *arg, int64_t r0, int64_t r1)
{
    const norm_args *a = arg;
    if (a->kind == VL_VIT_LAYERNORM) {
        vl_layernorm_rows(a->x + r0 * a->n, a->y + r0 * a->n, r1 - r0, a->n, a->w, a->b, a->eps);
        return;
    }
    for (int64_t r = r0; r < r1; r++) vl_rmsnorm(a->x + r * a->n, a->w, a->y + r * a->n, a->n, a->eps);
}

static void norm(vl_vit_ctx *c, vl_vit_norm kind, const float *x, float *y, int64_t rows, int n, const float *w,
                 const float *b)
{
    norm_args a = {x, y, w, b, n, c->v->m->hp.eps, kind};
    vl_vit_parallel_for(c->pool, rows, norm_rows, &a);
}

typedef struct {
    float *x;
    const float *y;
    int op; /* see OP_* */
} ew_args;

enum { OP_ADD, OP_GELU, OP_GELU_GGML, OP_QUICK, OP_QUICK_GGML, OP_SILU, OP_SWIGLU };

static void ew_range(void *arg, int64_t b, int64_t e)
{
    const ew_args *a = arg;
    float *x = a->x + b;
    const int64_t n = e - b;
    switch (a->op) {
    case OP_GELU: vl_gelu_tanh(x, n); break;
    case OP_GELU_GGML: vl_gelu_tanh_ggml(x, n); break;
    case OP_QUICK: vl_gelu_quick(x, n); break;
    case OP_QUICK_GGML: vl_gelu_quick_ggml(x, n); break;
    case OP_SILU:
        for (int64_t i = 0; i < n; i++) x[i] = x[i] / (1.0f + expf(-x[i]));
        break;
    case OP_SWIGLU: vl_swiglu(x, a->y + b, x, n); break; /* x = silu(x)·y */
    default: vl_add(x, a->y + b, n); break;
    }
}

static void elementwise(vl_vit_ctx *c, float *x, const float *y, int64_t n, int op)
{
    ew_args a = {x, y, op};
    vl_vit_parallel_for(c->pool, n, ew_range, &a);
}

/* GELU as the tower computes it: ggml's fp16 table in GGML mode */
static int gelu_op(const vl_vit_ctx *c) { return c->v->precision == VL_VISION_GGML ? OP_GELU_GGML : OP_GELU; }

/* ---- attention over windows --------------------------------------------- */

#define ATTN_QBLOCK 64 /* query rows per task: bounds the score scratch */

typedef struct {
    vl_vit_ctx *c;
    int full;          /* 1: one window over the whole sequence */
    int n_blocks;      /* query blocks per (window, head) */
    int max_span;
} attn_args;

static void attn_task(void *ctx, int ith, int nth)
{
    const attn_args *a = ctx;
    vl_vit_ctx *c = a->c;
    const vl_vision_hparams *hp = &c->v->m->hp;
    const int E = hp->n_embd, H = hp->n_head, hd = E / H;
    const float scale = 1.0f / sqrtf((float)hd);
    const int n_win = a->full ? 1 : c->n_win;
    float *S = c->scores + (size_t)ith * ATTN_QBLOCK * a->max_span;
    const int n_tasks = n_win * H * a->n_blocks;
    for (int task = ith; task < n_tasks; task += nth) {
        const int w = task / (H * a->n_blocks), h = task / a->n_blocks % H, blk = task % a->n_blocks;
        /* window w covers units [win_start[w], win_start[w+1]) = rows ×4 */
        const int s0 = a->full ? 0 : 4 * c->win_start[w], s1 = a->full ? c->M : 4 * c->win_start[w + 1];
        const int q0 = s0 + blk * ATTN_QBLOCK;
        if (q0 >= s1) continue;
        const int nq = s1 - q0 < ATTN_QBLOCK ? s1 - q0 : ATTN_QBLOCK, nk = s1 - s0;
        const size_t hoff = (size_t)h * hd;
        vl_sgemm(NULL, 1, nq, nk, hd, c->q + (size_t)q0 * E + hoff, E, c->k + (size_t)s0 * E + hoff, E, S, nk);
        for (int i = 0; i < nq; i++) vl_softmax_scaled(S + (size_t)i * nk, nk, scale);
        vl_sgemm(NULL, 0, nq, hd, nk, S, nk, c->val + (size_t)s0 * E + hoff, E, c->a + (size_t)q0 * E + hoff, E);
    }
}

static void attention(vl_vit_ctx *c, int full)
{
    int max_span = c->M;
    if (!full) {
        max_span = 0;
        for (int w = 0; w < c->n_win; w++) {
            const int n = 4 * (c->win_start[w + 1] - c->win_start[w]);
            max_span = n > max_span ? n : max_span;
        }
    }
    attn_args a = {c, full, (max_span + ATTN_QBLOCK - 1) / ATTN_QBLOCK, max_span};
    vl_pool_run(c->pool, attn_task, &a);
}

/* ---- pieces of the tower ------------------------------------------------- */

typedef struct {
    vl_vit_ctx *c;
    const float *frame;
} im2col_args;

static void im2col_rows(void *arg, int64_t r0, int64_t r1)
{
    const im2col_args *a = arg;
    const vl_vit_ctx *c = a->c;
    const int P = c->v->m->hp.patch_size, K = 3 * P * P, W = c->pw * P, Hh = c->ph * P;
    const int f16 = c->v->precision == VL_VISION_GGML;
    for (int64_t r = r0; r < r1; r++) {
        const int py = (int)(r / c->pw), px = (int)(r % c->pw);
        float *row = c->big + (size_t)r * K;
        for (int ch = 0; ch < 3; ch++)
            for (int ky = 0; ky < P; ky++)
                memcpy(row + (ch * P + ky) * P, a->frame + ((size_t)ch * Hh + (size_t)py * P + ky) * W + (size_t)px * P,
                       (size_t)P * sizeof(float));
        if (f16) vl_round_f16_n(row, row, K);
    }
}

typedef struct {
    const float *cols, *w;
    float *y;
    int K, E;
} dot_args;

/* Products of two fp16 values are exact in f32; summing them in double
 * leaves only llama.cpp's own rounding between us and it (an f32 GEMM adds
 * ~1e-6 of its own on these 600-1200-term sums). */
static void dot_f64_rows(void *arg, int64_t r0, int64_t r1)
{
    const dot_args *a = arg;
    for (int64_t r = r0; r < r1; r++) {
        const float *x = a->cols + r * a->K;
        for (int e = 0; e < a->E; e++) {
            const float *w = a->w + (size_t)e * a->K;
            double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            int k = 0;
            for (; k + 4 <= a->K; k += 4) {
                s0 += (double)(x[k] * w[k]);
                s1 += (double)(x[k + 1] * w[k + 1]);
                s2 += (double)(x[k + 2] * w[k + 2]);
                s3 += (double)(x[k + 3] * w[k + 3]);
            }
            for (; k < a->K; k++) s0 += (double)(x[k] * w[k]);
            a->y[r * a->E + e] = (float)((s0 + s1) + (s2 + s3));
        }
    }
}

/* y = conv(kernel, frame), one row per patch in grid order */
static void patch_conv(vl_vit_ctx *c, const vl_linear *kernel, const float *kernel_f16, const float *frame, float *y)
{
    im2col_args ia = {c, frame};
    vl_vit_parallel_for(c->pool, c->M, im2col_rows, &ia);
    if (c->v->precision == VL_VISION_GGML) { /* fp16 im2col and kernel, as ggml_conv_2d */
        dot_args da = {c->big, kernel_f16, y, kernel->n_in, kernel->n_out};
        vl_vit_parallel_for(c->pool, c->M, dot_f64_rows, &da);
        return;
    }
    vl_linear l = *kernel;
    l.b = NULL;    /* the bias is added after the two kernels, as clip.cpp does */
    l.bf16 = NULL; /* the patch GEMM stays f32 in every mode */
    vl_vit_linear(c, &l, c->big, c->M, y);
}

/* dst[s] = src[seq_grid[s]] for E-wide rows */
static void gather_rows(const vl_vit_ctx *c, const float *src, float *dst, int E)
{
    for (int s = 0; s < c->M; s++)
        memcpy(dst + (size_t)s * E, src + (size_t)c->seq_grid[s] * E, (size_t)E * sizeof(float));
}

static void ffn(vl_vit_ctx *c, const vl_vit_layer *L)
{
    const vl_vision_hparams *hp = &c->v->m->hp;
    const int64_t n = (int64_t)c->M * hp->n_ff;
    const int ggml = c->v->precision == VL_VISION_GGML;
    vl_vit_linear(c, &L->fc1, c->h, c->M, c->big);
    if (L->gate.n_out) {
        vl_vit_linear(c, &L->gate, c->h, c->M, c->ff2);
        if (hp->act == VL_VIT_SILU) {
            elementwise(c, c->ff2, c->big, n, OP_SWIGLU); /* ff2 = silu(gate)·up */
        } else {
            elementwise(c, c->ff2, NULL, n, hp->act == VL_VIT_GELU_TANH ? gelu_op(c) : ggml ? OP_QUICK_GGML : OP_QUICK);
            for (int64_t i = 0; i < n; i++) c->ff2[i] *= c->big[i];
        }
        vl_vit_linear(c, &L->fc2, c->ff2, c->M, c->h);
        return;
    }
    const int op = hp->act == VL_VIT_SILU         ? OP_SILU
                   : hp->act == VL_VIT_GELU_TANH ? gelu_op(c)
                   : ggml                        ? OP_QUICK_GGML
                                                 : OP_QUICK;
    elementwise(c, c->big, NULL, n, op);
    vl_vit_linear(c, &L->fc2, c->big, c->M, c->h);
}

/* Deepstack merger k on the current x: 2x2 concat (4 consecutive rows),
 * LayerNorm over 4E, fc1, GELU, fc2 -> c->ds_out slice k. */
static void deepstack(vl_vit_ctx *c, int k)
{
    const vl_clip_model *m = c->v->m;
    const vl_deepstack *d = &m->ds[k];
    const int E4 = 4 * m->hp.n_embd, n = c->M / 4;
    float *dst = c->ds_out + (size_t)k * n * m->hp.proj_dim;
    norm(c, VL_VIT_LAYERNORM, c->x, c->h, n, E4, d->norm_w, d->norm_b);
    vl_vit_linear(c, &d->fc1, c->h, n, c->big);
    vl_merger_gelu(c, c->big, (int64_t)n * E4); /* a patch merger: transformers' exact GELU */
    vl_vit_linear(c, &d->fc2, c->big, n, dst);
    vl_vit_tap(c, "deepstack", d->layer, dst, n, m->hp.proj_dim);
}

void vl_vit_dynamic_forward(vl_vit_ctx *c, const float *frames, int n_frames)
{
    vl_vision *v = c->v;
    const vl_clip_model *m = v->m;
    const vl_vision_hparams *hp = &m->hp;
    const int E = hp->n_embd, M = c->M, P = hp->patch_size;
    const size_t frame_floats = (size_t)3 * c->ph * P * c->pw * P;

    /* temporal patch: frame 0 through kernel 0, frame 1 (or frame 0 again) through kernel 1 */
    patch_conv(c, &m->patch, v->patch_w_f16, frames, c->h);
    patch_conv(c, &m->patch1, v->patch1_w_f16, n_frames > 1 ? frames + frame_floats : frames, c->a);
    elementwise(c, c->h, c->a, (int64_t)M * E, OP_ADD);
    if (m->patch.b)
        for (int r = 0; r < M; r++) vl_add(c->h + (size_t)r * E, m->patch.b, E);
    gather_rows(c, c->h, c->x, E);
    /* windowed towers have no pos table: this is already the window order */
    vl_vit_tap(c, hp->n_wa_pattern ? "patch_embd_win" : m->patch.b ? "patch_bias" : "patch_embd", -1, c->x, M, E);
    if (m->pos_embd) {
        vl_pos_interp_bilinear(m->pos_embd, hp->pos_side, E, c->ph, c->pw, c->h);
        gather_rows(c, c->h, c->a, E);
        elementwise(c, c->x, c->a, (int64_t)M * E, OP_ADD);
        vl_vit_tap(c, "inp_pos_emb", -1, c->x, M, E);
    }

    int next_ds = 0;
    for (int il = 0; il < hp->n_layer; il++) {
        const vl_vit_layer *L = &m->layers[il];
        norm(c, hp->norm, c->x, c->h, M, E, L->ln1_w, L->ln1_b);
        vl_vit_tap(c, "ln1", il, c->h, M, E);
        if (L->qkv.n_out) {
            vl_vit_linear(c, &L->qkv, c->h, M, c->big);
            for (int r = 0; r < M; r++) {
                const float *src = c->big + (size_t)r * 3 * E;
                memcpy(c->q + (size_t)r * E, src, (size_t)E * sizeof(float));
                memcpy(c->k + (size_t)r * E, src + E, (size_t)E * sizeof(float));
                memcpy(c->val + (size_t)r * E, src + 2 * E, (size_t)E * sizeof(float));
            }
        } else {
            vl_vit_linear(c, &L->q, c->h, M, c->q);
            vl_vit_linear(c, &L->k, c->h, M, c->k);
            vl_vit_linear(c, &L->v, c->h, M, c->val);
        }
        vl_rope2d_rows(c->q, M, E, hp->n_head, E / hp->n_head, c->pos_y, c->pos_x, 10000.0f);
        vl_rope2d_rows(c->k, M, E, hp->n_head, E / hp->n_head, c->pos_y, c->pos_x, 10000.0f);
        vl_vit_tap(c, "Qcur_rope", il, c->q, M, E);
        vl_vit_tap(c, "Kcur_rope", il, c->k, M, E);
        /* clip.cpp: windowed unless (il + 1) % n_wa_pattern == 0 */
        attention(c, hp->n_wa_pattern == 0 || (il + 1) % hp->n_wa_pattern == 0);
        vl_vit_linear(c, &L->o, c->a, M, c->h);
        vl_vit_tap(c, "attn_out", il, c->h, M, E);
        elementwise(c, c->x, c->h, (int64_t)M * E, OP_ADD);
        vl_vit_tap(c, "ffn_inp", il, c->x, M, E);

        norm(c, hp->norm, c->x, c->h, M, E, L->ln2_w, L->ln2_b);
        ffn(c, L);
        vl_vit_tap(c, "ffn_out", il, c->h, M, E);
        elementwise(c, c->x, c->h, (int64_t)M * E, OP_ADD);
        vl_vit_tap(c, "layer_out", il, c->x, M, E);
        if (next_ds < m->n_ds && m->ds[next_ds].layer == il) deepstack(c, next_ds++);
    }
    norm(c, hp->norm, c->x, c->x, M, E, m->post_ln_w, m->post_ln_b);
    vl_vit_tap(c, "post_ln", -1, c->x, M, E);
}
