/* vl_vision: model lifetime, precision modes, and the batched encode loop. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/aligned_alloc.h"
#include "core/f16.h"
#include "gemm_bf16.h"
#include "linear_lazy.h"
#include "patch_order.h"
#include "vision_internal.h"

vllm_status vl_vision_load(const vl_gguf *g, vl_vision **out) { return vl_vision_load_ex(g, VL_VISION_F32, out); }

vllm_status vl_vision_load_ex(const vl_gguf *g, vl_vision_precision precision, vl_vision **out)
{
    return vl_vision_load_opts(g, precision, 0, out);
}

vllm_status vl_vision_load_opts(const vl_gguf *g, vl_vision_precision precision, int f32_copies, vl_vision **out)
{
    *out = NULL;
    if (!g) return vl_error(VLLM_ERR_INVALID_ARG, "vl_vision_load: no mmproj");
    vl_vision *v = calloc(1, sizeof *v);
    if (!v) return vl_error(VLLM_ERR_NOMEM, "vision: out of memory");
    vllm_status st = vl_clip_model_load(g, f32_copies, &v->m);
    if (!vllm_is_error(st)) st = vl_vision_set_precision(v, precision);
    if (vllm_is_error(st)) {
        vl_vision_free(v);
        return st;
    }
    *out = v;
    return VLLM_OK;
}

void vl_vision_free(vl_vision *v)
{
    if (!v) return;
    vl_clip_model_free(v->m);
    free(v->patch_w_f16);
    free(v->patch1_w_f16);
    free(v);
}

/* A weight kept in the file is converted for packing alone: one layer's
 * f32 at a time, never the whole tower's. */
static vllm_status pack(vl_linear *l)
{
    if (l->bf16) return VLLM_OK;
    float *tmp = NULL;
    const float *w = l->w;
    if (!w && !(w = tmp = vl_linear_to_f32(l)))
        return vl_error(VLLM_ERR_NOMEM, "vision: out of memory converting a %dx%d weight", l->n_out, l->n_in);
    vl_bf16_packed *p;
    vllm_status st = vl_bf16_pack(w, l->n_out, l->n_in, &p);
    free(tmp);
    VL_TRY(st);
    l->bf16 = p;
    return VLLM_OK;
}

/* Drop a packed layer's f32 copy; *gone counts layers left with no f32
 * source at all (an F32 file's view: the file still has a non-F32
 * layer's rows). */
static vllm_status release(void *ud, vl_linear *l)
{
    int *gone = ud;
    if (!l->bf16) return VLLM_OK;
    free(l->w_owned);
    l->w_owned = NULL;
    l->w = NULL;
    if (!l->src && gone) ++*gone;
    return VLLM_OK;
}

static vllm_status pack_one(void *ud, vl_linear *l)
{
    vl_vision *v = ud;
    VL_TRY(pack(l));
    if (v->lean) { /* keeps the load's peak memory down */
        int gone = 0;
        release(&gone, l);
        if (gone) v->f32_released = 1;
    }
    return VLLM_OK;
}

vllm_status vl_vision_release_f32(vl_vision *v)
{
    v->lean = 1; /* layers packed from now on drop their f32 copy at once */
    if (v->precision != VL_VISION_BF16) return VLLM_OK;
    int gone = 0;
    VL_TRY(vl_clip_model_for_each_linear(v->m, release, &gone));
    if (gone) v->f32_released = 1;
    return VLLM_OK;
}

/* fp16-rounded copy of a conv kernel (ggml's F16 im2col) */
static vllm_status round_kernel(const vl_linear *l, float **out)
{
    if (*out || !l->w) return VLLM_OK;
    size_t n = (size_t)l->n_in * l->n_out;
    *out = malloc(n * sizeof(float));
    if (!*out) return vl_error(VLLM_ERR_NOMEM, "vision: out of memory");
    for (size_t i = 0; i < n; i++) (*out)[i] = vl_round_f16(l->w[i]);
    return VLLM_OK;
}

vllm_status vl_vision_set_precision(vl_vision *v, vl_vision_precision precision)
{
    vl_clip_model *m = v->m;
    if (v->f32_released && precision != VL_VISION_BF16)
        return vl_error(VLLM_ERR_STATE, "vision: the f32 weights were released; only BF16 mode is available");
    switch (precision) {
    case VL_VISION_F32:
        break;
    case VL_VISION_GGML:
        VL_TRY(round_kernel(&m->patch, &v->patch_w_f16));
        VL_TRY(round_kernel(&m->patch1, &v->patch1_w_f16));
        break;
    case VL_VISION_BF16:
        VL_TRY(vl_clip_model_for_each_linear(m, pack_one, v));
        break;
    default:
        return vl_error(VLLM_ERR_INVALID_ARG, "vision: unknown precision mode %d", (int)precision);
    }
    v->precision = precision;
    return VLLM_OK;
}

vl_vision_precision vl_vision_get_precision(const vl_vision *v) { return v->precision; }

void vl_vision_set_llamacpp_compat(vl_vision *v, int on) { v->llamacpp_compat = on != 0; }

int vl_vision_n_embd_out(const vl_vision *v)
{
    if (v->m->hp.dynamic) return v->m->hp.proj_dim * (1 + v->m->n_ds);
    return v->m->mm_fc.n_out;
}

int vl_vision_n_embd_text(const vl_vision *v) { return v->m->hp.dynamic ? v->m->hp.proj_dim : v->m->mm_fc.n_out; }
int vl_vision_n_deepstack(const vl_vision *v) { return v->m->n_ds; }
int vl_vision_is_dynamic(const vl_vision *v) { return v->m->hp.dynamic; }
int vl_vision_align(const vl_vision *v) { return v->m->hp.patch_size * (v->m->hp.dynamic ? v->m->hp.merge : 1); }

int vl_vision_tokens_per_tile(const vl_vision *v)
{
    /* dynamic towers: the nominal square image_size (clip.vision.image_size) */
    int g = v->m->hp.n_patches_side / v->m->hp.scale_factor;
    return g * g;
}

int vl_vision_image_size(const vl_vision *v) { return v->m->hp.image_size; }
int vl_vision_preproc_image_size(const vl_vision *v) { return v->m->hp.preproc_image_size; }
int vl_vision_scale_factor(const vl_vision *v) { return v->m->hp.scale_factor; }
const char *vl_vision_projector_name(const vl_vision *v) { return v->m->proj_name; }

void vl_vision_norm(const vl_vision *v, float mean[3], float std[3])
{
    memcpy(mean, v->m->hp.mean, 3 * sizeof(float));
    memcpy(std, v->m->hp.std, 3 * sizeof(float));
}

double vl_vision_flops_per_tile(const vl_vision *v)
{
    const vl_vision_hparams *hp = &v->m->hp;
    double np = hp->n_patches, E = hp->n_embd, FF = hp->n_ff, P = hp->patch_size;
    double per_layer = 2 * np * E * E * 4 + 2 * 2 * np * np * E + 2 * 2 * np * E * FF;
    double ntok = vl_vision_tokens_per_tile(v);
    return 2 * np * 3 * P * P * E + hp->n_layer * per_layer + 2 * ntok * v->m->mm_fc.n_in * v->m->mm_fc.n_out;
}

void vl_vision_set_tap(vl_vision *v, vl_vision_tap_fn fn, void *ud)
{
    v->tap = fn;
    v->tap_ud = ud;
}

/* ---- encode --------------------------------------------------------------- */

static float *alloc_floats(size_t a, size_t b, int *fail)
{
    if (b && a > SIZE_MAX / sizeof(float) / b) {
        *fail = 1;
        return NULL;
    }
    float *p = malloc(a * b * sizeof(float) + 64);
    if (!p) *fail = 1;
    return p;
}

static int imax(int a, int b) { return a > b ? a : b; }

vllm_status vl_vision_encode(vl_vision *v, vl_pool *pool, const float *pixels, int n_tiles, float *out)
{
    if (!v || !pixels || !out) return vl_error(VLLM_ERR_INVALID_ARG, "vl_vision_encode: NULL argument");
    if (n_tiles < 1) return vl_error(VLLM_ERR_INVALID_ARG, "vl_vision_encode: n_tiles = %d", n_tiles);
    if (v->m->hp.dynamic)
        return vl_error(VLLM_ERR_UNSUPPORTED, "vision: the %s projector encodes frames of any size (vl_vision_encode_frames), not square tiles",
                        v->m->proj_name);
    const vl_vision_hparams *hp = &v->m->hp;
    const int np = hp->n_patches, E = hp->n_embd, P = hp->patch_size;
    const int nth = pool ? vl_pool_size(pool) : 1;

    /* Tiles per batch: enough rows (~1024) for efficient GEMMs, no more. */
    int T = 1024 / np;
    if (T < 1) T = 1;
    if (T > n_tiles) T = n_tiles;
    const size_t M = (size_t)T * np;
    const int wide = imax(imax(hp->n_ff, 3 * P * P), E);
    const int max_in = imax(wide, v->m->mm_fc.n_in);

    vl_vit_ctx c = {0};
    c.v = v;
    c.pool = pool;
    c.nth = nth;
    int fail = 0;
    c.x = alloc_floats(M, E, &fail);
    c.h = alloc_floats(M, E, &fail);
    c.q = alloc_floats(M, E, &fail);
    c.k = alloc_floats(M, E, &fail);
    c.val = alloc_floats(M, E, &fail);
    c.a = alloc_floats(M, E, &fail);
    c.big = alloc_floats(M, (size_t)wide, &fail);
    c.wconv = alloc_floats(1, vl_linear_lazy_scratch_floats(v->m), &fail); /* weights kept in the file */
    c.scores = alloc_floats((size_t)nth * np, (size_t)np, &fail);
    if (v->precision == VL_VISION_GGML) c.act = alloc_floats(M, (size_t)max_in, &fail);
    if (v->precision == VL_VISION_BF16) {
        c.bf16 = vl_aligned_alloc(64, (vl_bf16_scratch_size((int)M, max_in) + 63) & ~(size_t)63);
        if (!c.bf16) fail = 1;
    }
    vllm_status st = VLLM_OK;
    if (fail) {
        st = vl_error(VLLM_ERR_NOMEM, "vision: out of memory for a batch of %d tiles (%zu patch rows)", T, M);
    } else {
        const size_t img = (size_t)3 * hp->image_size * hp->image_size;
        const size_t out_tile = (size_t)vl_vision_tokens_per_tile(v) * vl_vision_n_embd_out(v);
        for (int t0 = 0; t0 < n_tiles; t0 += T) {
            c.tile0 = t0;
            c.T = n_tiles - t0 < T ? n_tiles - t0 : T;
            c.M = c.T * np;
            vl_vit_forward(&c, pixels + (size_t)t0 * img);
            switch (v->m->proj_type) { /* one case per projector (see clip_model.c's table) */
            case VL_PROJECTOR_IDEFICS3:
            default:
                vl_projector_idefics3(&c, out + (size_t)t0 * out_tile);
                break;
            }
        }
    }
    free(c.x);
    free(c.h);
    free(c.q);
    free(c.k);
    free(c.val);
    free(c.a);
    free(c.big);
    free(c.scores);
    free(c.act);
    free(c.bf16);
    free(c.wconv);
    return st;
}

/* ---- dynamic resolution ---------------------------------------------------- */

#define MAX_DYNAMIC_PATCHES (1 << 20) /* 4096 x 4096 patches: far beyond any model's max_pixels */

vllm_status vl_vision_encode_frames(vl_vision *v, vl_pool *pool, const float *pixels, int n_frames, int width,
                                    int height, float *out)
{
    if (!v || !pixels || !out) return vl_error(VLLM_ERR_INVALID_ARG, "vl_vision_encode_frames: NULL argument");
    const vl_clip_model *m = v->m;
    const vl_vision_hparams *hp = &m->hp;
    if (!hp->dynamic)
        return vl_error(VLLM_ERR_UNSUPPORTED, "vision: the %s projector encodes square tiles (vl_vision_encode)",
                        m->proj_name);
    if (n_frames != 1 && n_frames != 2)
        return vl_error(VLLM_ERR_INVALID_ARG, "vl_vision_encode_frames: n_frames = %d (a temporal patch has 1 or 2)",
                        n_frames);
    const int align = vl_vision_align(v), P = hp->patch_size;
    if (width < align || height < align || width % align || height % align)
        return vl_error(VLLM_ERR_INVALID_ARG, "vl_vision_encode_frames: %dx%d is not a positive multiple of %d", width,
                        height, align);
    const int64_t n_patch = (int64_t)(width / P) * (height / P);
    if (n_patch > MAX_DYNAMIC_PATCHES)
        return vl_error(VLLM_ERR_INVALID_ARG, "vl_vision_encode_frames: %dx%d gives %lld patches (at most %d)", width,
                        height, (long long)n_patch, MAX_DYNAMIC_PATCHES);
    const int E = hp->n_embd, M = (int)n_patch, nth = pool ? vl_pool_size(pool) : 1;
    const int K = 3 * P * P, wide = imax(imax(hp->n_ff, 3 * E), imax(K, E)), max_in = imax(imax(E, hp->n_ff), imax(4 * E, K));

    vl_vit_ctx c = {0};
    c.v = v;
    c.pool = pool;
    c.nth = nth;
    c.T = 1;
    c.M = M;
    c.ph = height / P;
    c.pw = width / P;
    int fail = 0;
    c.x = alloc_floats((size_t)M, (size_t)E, &fail);
    c.h = alloc_floats((size_t)M, (size_t)E, &fail);
    c.q = alloc_floats((size_t)M, (size_t)E, &fail);
    c.k = alloc_floats((size_t)M, (size_t)E, &fail);
    c.val = alloc_floats((size_t)M, (size_t)E, &fail);
    c.a = alloc_floats((size_t)M, (size_t)E, &fail);
    c.big = alloc_floats((size_t)M, (size_t)wide, &fail);
    c.wconv = alloc_floats(1, vl_linear_lazy_scratch_floats(v->m), &fail);
    c.scores = alloc_floats((size_t)nth * 64, (size_t)M, &fail);
    if (m->layers[0].gate.n_out) c.ff2 = alloc_floats((size_t)M, (size_t)hp->n_ff, &fail);
    if (m->n_ds) c.ds_out = alloc_floats((size_t)m->n_ds * (M / 4), (size_t)hp->proj_dim, &fail);
    if (v->precision == VL_VISION_GGML) c.act = alloc_floats((size_t)M, (size_t)max_in, &fail);
    if (v->precision == VL_VISION_BF16) {
        c.bf16 = vl_aligned_alloc(64, (vl_bf16_scratch_size(M, max_in) + 63) & ~(size_t)63);
        if (!c.bf16) fail = 1;
    }
    c.unit_src = malloc((size_t)M / 4 * sizeof(int32_t));
    c.win_start = malloc(((size_t)M / 4 + 1) * sizeof(int32_t));
    c.seq_grid = malloc((size_t)M * sizeof(int32_t));
    c.pos_y = malloc((size_t)M * sizeof(int32_t));
    c.pos_x = malloc((size_t)M * sizeof(int32_t));
    if (!c.unit_src || !c.win_start || !c.seq_grid || !c.pos_y || !c.pos_x) fail = 1;
    vllm_status st = VLLM_OK;
    if (fail) {
        st = vl_error(VLLM_ERR_NOMEM, "vision: out of memory for a %dx%d frame (%d patches)", width, height, M);
    } else {
        const int mh = c.ph / 2, mw = c.pw / 2;
        /* windows in merge units; towers without windows keep row-major units */
        const int win = hp->n_wa_pattern ? hp->window_px / (P * hp->merge) : 0;
        c.n_win = vl_window_order(mh, mw, win, c.unit_src, c.win_start);
        vl_patch_sequence(mh, mw, c.unit_src, c.seq_grid, c.pos_y, c.pos_x);
        vl_vit_dynamic_forward(&c, pixels, n_frames);
        vl_projector_merger(&c, out);
    }
    free(c.x);
    free(c.h);
    free(c.q);
    free(c.k);
    free(c.val);
    free(c.a);
    free(c.big);
    free(c.scores);
    free(c.ff2);
    free(c.ds_out);
    free(c.act);
    free(c.bf16);
    free(c.wconv);
    free(c.unit_src);
    free(c.win_start);
    free(c.seq_grid);
    free(c.pos_y);
    free(c.pos_x);
    return st;
}

double vl_vision_flops_frames(const vl_vision *v, int width, int height)
{
    const vl_clip_model *m = v->m;
    const vl_vision_hparams *hp = &m->hp;
    const double P = hp->patch_size, E = hp->n_embd, FF = hp->n_ff, D = hp->proj_dim;
    const double n = (double)(width / hp->patch_size) * (height / hp->patch_size), E4 = 4 * E;
    /* attention span: the whole sequence, or windows of window_px² pixels in windowed blocks */
    const double win = hp->n_wa_pattern ? (double)hp->window_px * hp->window_px / (P * P) : n;
    const double n_full = hp->n_wa_pattern ? hp->n_layer / hp->n_wa_pattern : hp->n_layer;
    const double ffn = 2 * n * E * FF * (m->layers[0].gate.n_out ? 3 : 2);
    double f = 2 * 2 * n * 3 * P * P * E;                   /* two temporal kernels */
    f += hp->n_layer * (2 * n * E * E * 4 + ffn);           /* qkv, out, FFN */
    f += n_full * 4 * n * n * E;                            /* full attention: QKᵀ and ·V */
    f += (hp->n_layer - n_full) * 4 * n * (win < n ? win : n) * E;
    f += (1 + m->n_ds) * 2 * (n / 4) * (E4 * E4 + E4 * D);  /* merger + deepstack mergers */
    return f;
}

int vl_vision_window_order(const vl_vision *v, int width, int height, int32_t *unit_src, int32_t *win_start)
{
    const vl_vision_hparams *hp = &v->m->hp;
    const int P = hp->patch_size, win = hp->n_wa_pattern ? hp->window_px / (P * hp->merge) : 0;
    return vl_window_order(height / P / 2, width / P / 2, win, unit_src, win_start);
}
