#include "clip_model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "core/f16.h"
#include "core/quant.h"
#include "gemm_bf16.h"
#include "linear_lazy.h"
#include "core/model_limits.h"

/* ---- projector table --------------------------------------------------- */

typedef vllm_status (*proj_load_fn)(const vl_gguf *g, vl_clip_model *m);

static vllm_status idefics3_hparams(const vl_gguf *g, vl_clip_model *m);
static vllm_status load_idefics3(const vl_gguf *g, vl_clip_model *m);
static vllm_status load_dynamic_hparams(const vl_gguf *g, vl_clip_model *m);
static vllm_status load_qwen_merger(const vl_gguf *g, vl_clip_model *m);

/* The one place projector names map to loaders. clip.cpp's names. The
 * projector's hyper-parameters are read (and limited) before any tensor
 * of the tower is loaded. dynamic: any multiple of patch x merge instead
 * of fixed square tiles. */
static const struct {
    const char *name;
    vl_projector_type type;
    proj_load_fn hparams, load;
    int dynamic;
} projector_table[] = {
    {"idefics3", VL_PROJECTOR_IDEFICS3, idefics3_hparams, load_idefics3, 0},
    {"qwen2.5vl_merger", VL_PROJECTOR_QWEN25VL_MERGER, load_dynamic_hparams, load_qwen_merger, 1},
    {"qwen3vl_merger", VL_PROJECTOR_QWEN3VL_MERGER, load_dynamic_hparams, load_qwen_merger, 1},
};

vllm_status vl_projector_from_name(vl_str name, vl_projector_type *out)
{
    for (size_t i = 0; i < sizeof projector_table / sizeof projector_table[0]; i++) {
        if (vl_str_eq(name, projector_table[i].name)) {
            *out = projector_table[i].type;
            return VLLM_OK;
        }
    }
    int len = name.len > 64 ? 64 : (int)name.len;
    return vl_error(VLLM_ERR_UNSUPPORTED, "clip.projector_type '%.*s' is not supported (supported: idefics3, qwen2.5vl_merger, qwen3vl_merger)", len,
                    name.ptr ? name.ptr : "");
}

/* ---- tensor helpers ---------------------------------------------------- */

static vllm_status keep(vl_clip_model *m, float *p)
{
    if (m->n_owned == m->cap_owned) {
        int cap = m->cap_owned ? m->cap_owned * 2 : 64;
        float **n = realloc(m->owned, (size_t)cap * sizeof *n);
        if (!n) {
            free(p);
            return vl_error(VLLM_ERR_NOMEM, "mmproj: out of memory");
        }
        m->owned = n;
        m->cap_owned = cap;
    }
    m->owned[m->n_owned++] = p;
    return VLLM_OK;
}

/* Find `name` and check its shape is exactly ne[0..n-1] (remaining dims 1). */
static vllm_status find_shaped(const vl_gguf *g, const char *name, int n, const int64_t *ne, int required,
                               const vl_gguf_tensor **out)
{
    *out = NULL;
    const vl_gguf_tensor *t = vl_gguf_find_tensor(g, name);
    if (!t) {
        if (!required) return VLLM_OK;
        return vl_error(VLLM_ERR_FORMAT, "%s: mmproj tensor '%s' is missing", g->path, name);
    }
    int ok = 1;
    for (int d = 0; d < VL_GGUF_MAX_DIMS; d++) {
        int64_t want = d < n ? ne[d] : 1;
        if (t->ne[d] != want) ok = 0;
    }
    if (!ok) {
        char want[96], got[96];
        int w = 0, q = 0;
        for (int d = 0; d < n; d++)
            w += snprintf(want + w, sizeof want - (size_t)w, "%s%lld", d ? "," : "", (long long)ne[d]);
        for (int d = 0; d < t->n_dims && d < VL_GGUF_MAX_DIMS; d++)
            q += snprintf(got + q, sizeof got - (size_t)q, "%s%lld", d ? "," : "", (long long)t->ne[d]);
        return vl_error(VLLM_ERR_FORMAT, "%s: mmproj tensor '%s' has shape [%s], expected [%s]", g->path, name, got,
                        want);
    }
    const vl_type_traits *tr = vl_type_traits_of(t->type);
    if (!tr || !(t->type == VL_TYPE_F32 || t->type == VL_TYPE_F16 || t->type == VL_TYPE_BF16 || tr->can_dequantize))
        return vl_error(VLLM_ERR_UNSUPPORTED, "%s: mmproj tensor '%s' has unsupported type %s", g->path, name,
                        vl_type_name(t->type));
    *out = t;
    return VLLM_OK;
}

/* f32 view of a tensor: in place when it is F32 and aligned, else a
 * converted copy (kept in *owned, which the caller frees). */
static vllm_status as_f32(const vl_gguf_tensor *t, const float **view, float **owned)
{
    int64_t n = t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
    *owned = NULL;
    if (t->type == VL_TYPE_F32 && ((uintptr_t)t->data & 3) == 0) {
        *view = (const float *)t->data;
        return VLLM_OK;
    }
    float *dst = malloc((size_t)n * sizeof(float));
    if (!dst) return vl_error(VLLM_ERR_NOMEM, "mmproj: out of memory converting '%s' (%lld values)", t->name, (long long)n);
    const uint8_t *src = t->data;
    if (t->type == VL_TYPE_F32) {
        memcpy(dst, src, (size_t)n * sizeof(float));
    } else if (t->type == VL_TYPE_F16) {
        for (int64_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, src + 2 * i, 2);
            dst[i] = vl_f16_to_f32(h);
        }
    } else if (t->type == VL_TYPE_BF16) {
        for (int64_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, src + 2 * i, 2);
            dst[i] = vl_bf16_to_f32(h);
        }
    } else {
        /* rows of ne[0] values, each a whole number of blocks (checked by the reader) */
        int64_t rows = n / t->ne[0];
        size_t rs = vl_row_size(t->type, t->ne[0]);
        for (int64_t r = 0; r < rows; r++) vl_dequantize_row(t->type, src + (size_t)r * rs, dst + r * t->ne[0], t->ne[0]);
    }
    *view = dst;
    *owned = dst;
    return VLLM_OK;
}

static vllm_status load_vec(const vl_gguf *g, vl_clip_model *m, const char *name, int64_t n, int required,
                            const float **out)
{
    const vl_gguf_tensor *t;
    *out = NULL;
    VL_TRY(find_shaped(g, name, 1, &n, required, &t));
    if (!t) return VLLM_OK;
    float *owned;
    VL_TRY(as_f32(t, out, &owned));
    if (owned) VL_TRY(keep(m, owned));
    return VLLM_OK;
}

/* A linear layer "<prefix>.weight" with ggml ne [n_in, n_out] (+ optional bias). */
static vllm_status load_linear(const vl_gguf *g, const char *prefix, int64_t n_in, int64_t n_out, int want_bias,
                               vl_linear *l)
{
    char name[96];
    const vl_gguf_tensor *t;
    int64_t ne[2] = {n_in, n_out};
    memset(l, 0, sizeof *l);
    l->n_in = (int)n_in;
    l->n_out = (int)n_out;
    snprintf(name, sizeof name, "%s.weight", prefix);
    VL_TRY(find_shaped(g, name, 2, ne, 1, &t));
    l->src_type = t->type;
    if (t->type == VL_TYPE_F32) {
        VL_TRY(as_f32(t, &l->w, &l->w_owned));
    } else { /* stays in the file (linear_lazy.h) */
        l->src = t->data;
        l->src_row_bytes = vl_row_size(t->type, n_in);
    }
    if (want_bias) {
        snprintf(name, sizeof name, "%s.bias", prefix);
        VL_TRY(find_shaped(g, name, 1, &n_out, want_bias > 1, &t));
        if (t) VL_TRY(as_f32(t, &l->b, &l->b_owned));
    }
    return VLLM_OK;
}

static void free_linear(vl_linear *l)
{
    free(l->w_owned);
    free(l->b_owned);
    vl_bf16_packed_free(l->bf16);
    memset(l, 0, sizeof *l);
}

/* ---- hyper-parameters -------------------------------------------------- */

static vllm_status get_i32(const vl_gguf *g, const char *key, int64_t lo, int64_t hi, int *out)
{
    int64_t v;
    VL_TRY(vl_gguf_get_int_req(g, key, &v));
    if (v < lo || v > hi)
        return vl_error(VLLM_ERR_FORMAT, "%s: key '%s' = %lld is outside the supported range [%lld, %lld]", g->path, key, (long long)v,
                        (long long)lo, (long long)hi);
    *out = (int)v;
    return VLLM_OK;
}

static vllm_status get_rgb(const vl_gguf *g, const char *key, float *out)
{
    const vl_gguf_value *a;
    VL_TRY(vl_gguf_get_arr(g, key, VL_GGUF_VTYPE_COUNT, &a));
    if (!a) return vl_error(VLLM_ERR_FORMAT, "%s: key '%s' is missing", g->path, key);
    if (a->v.arr.n != 3 || !vl_gguf_vtype_size(a->v.arr.elem))
        return vl_error(VLLM_ERR_FORMAT, "%s: key '%s' must be an array of 3 numbers", g->path, key);
    for (int i = 0; i < 3; i++) {
        double v = vl_gguf_arr_float(a, (uint64_t)i);
        if (!isfinite(v)) return vl_error(VLLM_ERR_FORMAT, "%s: key '%s'[%d] is not finite", g->path, key, i);
        out[i] = (float)v;
    }
    return VLLM_OK;
}

static vllm_status load_hparams(const vl_gguf *g, vl_vision_hparams *hp)
{
    int has_vision;
    VL_TRY(vl_gguf_get_bool(g, "clip.has_vision_encoder", 1, &has_vision));
    if (!has_vision) return vl_error(VLLM_ERR_UNSUPPORTED, "%s: mmproj has no vision encoder (clip.has_vision_encoder = false)", g->path);
    VL_TRY(get_i32(g, "clip.vision.image_size", 1, VL_LIMIT_VISION_IMAGE_SIZE, &hp->image_size));
    VL_TRY(get_i32(g, "clip.vision.patch_size", 1, VL_LIMIT_VISION_PATCH_SIZE, &hp->patch_size));
    VL_TRY(get_i32(g, "clip.vision.embedding_length", 1, VL_LIMIT_VISION_N_EMBD, &hp->n_embd));
    VL_TRY(get_i32(g, "clip.vision.feed_forward_length", 1, VL_LIMIT_VISION_N_FF, &hp->n_ff));
    VL_TRY(get_i32(g, "clip.vision.block_count", 1, VL_LIMIT_VISION_N_LAYER, &hp->n_layer));
    VL_TRY(get_i32(g, "clip.vision.attention.head_count", 1, VL_LIMIT_VISION_N_HEAD, &hp->n_head));
    VL_TRY(get_i32(g, "clip.vision.projection_dim", 1, VL_LIMIT_VISION_PROJ_DIM, &hp->proj_dim));
    int64_t pre;
    VL_TRY(vl_gguf_get_int(g, "clip.vision.preproc_image_size", 0, &pre));
    if (pre < 0 || pre > VL_LIMIT_VISION_PREPROC_SIZE)
        return vl_error(VLLM_ERR_FORMAT, "%s: key 'clip.vision.preproc_image_size' = %lld is outside the supported range [0, %d]",
                        g->path, (long long)pre, VL_LIMIT_VISION_PREPROC_SIZE);
    if (pre > (int64_t)VL_LIMIT_VISION_TILES_SIDE * hp->image_size)
        return vl_error(VLLM_ERR_FORMAT,
                        "%s: key 'clip.vision.preproc_image_size' = %lld is more than %d times clip.vision.image_size %d "
                        "(an image would be split into more than %d x %d tiles)",
                        g->path, (long long)pre, VL_LIMIT_VISION_TILES_SIDE, hp->image_size, VL_LIMIT_VISION_TILES_SIDE,
                        VL_LIMIT_VISION_TILES_SIDE);
    hp->preproc_image_size = (int)pre;
    double eps;
    VL_TRY(vl_gguf_get_float(g, "clip.vision.attention.layer_norm_epsilon", 1e-6, &eps));
    if (!(eps >= 0 && eps < 1))
        return vl_error(VLLM_ERR_FORMAT, "%s: key 'clip.vision.attention.layer_norm_epsilon' = %g is out of range", g->path, eps);
    hp->eps = (float)eps;
    VL_TRY(get_rgb(g, "clip.vision.image_mean", hp->mean));
    VL_TRY(get_rgb(g, "clip.vision.image_std", hp->std));
    for (int c = 0; c < 3; c++)
        if (!(hp->std[c] != 0))
            return vl_error(VLLM_ERR_FORMAT, "%s: key 'clip.vision.image_std'[%d] is zero", g->path, c);
    int use_silu;
    VL_TRY(vl_gguf_get_bool(g, "clip.use_gelu", 0, &hp->use_gelu));
    VL_TRY(vl_gguf_get_bool(g, "clip.use_silu", 0, &use_silu));
    /* clip.cpp's order: use_gelu wins, then use_silu, else quick GELU */
    hp->act = hp->use_gelu ? VL_VIT_GELU_TANH : use_silu ? VL_VIT_SILU : VL_VIT_GELU_QUICK;

    if (hp->image_size % hp->patch_size != 0)
        return vl_error(VLLM_ERR_FORMAT, "%s: clip.vision.image_size %d is not a multiple of clip.vision.patch_size %d",
                        g->path, hp->image_size, hp->patch_size);
    if (hp->n_embd % hp->n_head != 0)
        return vl_error(VLLM_ERR_FORMAT, "%s: clip.vision.embedding_length %d is not a multiple of head_count %d", g->path,
                        hp->n_embd, hp->n_head);
    hp->n_patches_side = hp->image_size / hp->patch_size;
    hp->n_patches = hp->n_patches_side * hp->n_patches_side; /* <= 2048^2: no overflow */
    if (hp->n_patches > VL_LIMIT_VISION_N_PATCHES)
        return vl_error(VLLM_ERR_FORMAT,
                        "%s: clip.vision.image_size %d / patch_size %d gives %d x %d = %d patches, above the supported %d "
                        "(the attention scratch grows with its square)",
                        g->path, hp->image_size, hp->patch_size, hp->n_patches_side, hp->n_patches_side, hp->n_patches,
                        VL_LIMIT_VISION_N_PATCHES);
    return VLLM_OK;
}

/* ---- Qwen patch mergers (qwen2.5vl_merger, qwen3vl_merger) --------------- */

/* Keys of the dynamic-resolution towers; clip.cpp's defaults where the
 * converter writes nothing (spatial merge 2, window 112 px). */
static vllm_status load_dynamic_hparams(const vl_gguf *g, vl_clip_model *m)
{
    vl_vision_hparams *hp = &m->hp;
    int64_t v;
    VL_TRY(vl_gguf_get_int(g, "clip.vision.spatial_merge_size", 2, &v));
    if (v != 2)
        return vl_error(VLLM_ERR_UNSUPPORTED, "%s: clip.vision.spatial_merge_size = %lld (only 2 is supported)", g->path,
                        (long long)v);
    hp->merge = 2;
    const int hd = hp->n_embd / hp->n_head;
    if (hd % 4 != 0 || hd > 1024) /* the 2-D rotary embedding splits each head in quarters */
        return vl_error(VLLM_ERR_FORMAT, "%s: vision head dim %d (embedding_length / head_count) must be a multiple of 4 and <= 1024",
                        g->path, hd);
    VL_TRY(vl_gguf_get_int(g, "clip.vision.n_wa_pattern", 0, &v));
    if (v < 0 || v > hp->n_layer)
        return vl_error(VLLM_ERR_FORMAT, "%s: clip.vision.n_wa_pattern = %lld is outside [0, %d]", g->path, (long long)v,
                        hp->n_layer);
    hp->n_wa_pattern = (int)v;
    VL_TRY(vl_gguf_get_int(g, "clip.vision.window_size", 112, &v));
    if (hp->n_wa_pattern && (v < (int64_t)hp->patch_size * hp->merge || v > 65536 || v % ((int64_t)hp->patch_size * hp->merge) != 0))
        return vl_error(VLLM_ERR_FORMAT, "%s: clip.vision.window_size = %lld is not a positive multiple of %d (patch x merge)",
                        g->path, (long long)v, hp->patch_size * hp->merge);
    hp->window_px = (int)v;
    if (m->proj_type == VL_PROJECTOR_QWEN25VL_MERGER && hp->n_wa_pattern == 0)
        return vl_error(VLLM_ERR_FORMAT, "%s: key 'clip.vision.n_wa_pattern' is missing (required for qwen2.5vl_merger)",
                        g->path);
    hp->scale_factor = hp->merge;
    return VLLM_OK;
}

static vllm_status load_qwen_merger(const vl_gguf *g, vl_clip_model *m)
{
    const vl_vision_hparams *hp = &m->hp;
    const int64_t E = hp->n_embd, E4 = 4 * E;
    VL_TRY(load_linear(g, "mm.0", E4, E4, 2, &m->mm0));
    VL_TRY(load_linear(g, "mm.2", E4, hp->proj_dim, 2, &m->mm2));
    if (!m->post_ln_w)
        return vl_error(VLLM_ERR_FORMAT, "%s: mmproj tensor 'v.post_ln.weight' is missing (the merger's norm)", g->path);

    /* deepstack mergers: found by tensor name, as clip.cpp does */
    char name[96];
    int n = 0;
    for (int il = 0; il < hp->n_layer; il++) {
        snprintf(name, sizeof name, "v.deepstack.%d.fc1.weight", il);
        n += vl_gguf_find_tensor(g, name) != NULL;
    }
    if (n && m->proj_type != VL_PROJECTOR_QWEN3VL_MERGER)
        return vl_error(VLLM_ERR_FORMAT, "%s: deepstack tensors in a %s mmproj", g->path, m->proj_name);
    if (n) {
        m->ds = calloc((size_t)n, sizeof *m->ds);
        if (!m->ds) return vl_error(VLLM_ERR_NOMEM, "mmproj: out of memory");
    }
    for (int il = 0; il < hp->n_layer; il++) {
        snprintf(name, sizeof name, "v.deepstack.%d.fc1.weight", il);
        if (!vl_gguf_find_tensor(g, name)) continue;
        vl_deepstack *d = &m->ds[m->n_ds++];
        d->layer = il;
        snprintf(name, sizeof name, "v.deepstack.%d.norm.weight", il);
        VL_TRY(load_vec(g, m, name, E4, 1, &d->norm_w));
        snprintf(name, sizeof name, "v.deepstack.%d.norm.bias", il);
        VL_TRY(load_vec(g, m, name, E4, 1, &d->norm_b));
        snprintf(name, sizeof name, "v.deepstack.%d.fc1", il);
        VL_TRY(load_linear(g, name, E4, E4, 2, &d->fc1));
        snprintf(name, sizeof name, "v.deepstack.%d.fc2", il);
        VL_TRY(load_linear(g, name, E4, hp->proj_dim, 2, &d->fc2));
    }
    return VLLM_OK;
}

/* ---- idefics3 projector ------------------------------------------------ */

static vllm_status idefics3_hparams(const vl_gguf *g, vl_clip_model *m)
{
    vl_vision_hparams *hp = &m->hp;
    VL_TRY(get_i32(g, "clip.vision.projector.scale_factor", 1, VL_LIMIT_VISION_SCALE_FACTOR, &hp->scale_factor));
    if (hp->n_patches_side % hp->scale_factor != 0)
        return vl_error(VLLM_ERR_FORMAT, "%s: patch grid %d is not a multiple of clip.vision.projector.scale_factor %d",
                        g->path, hp->n_patches_side, hp->scale_factor);
    const int tokens = hp->n_patches / (hp->scale_factor * hp->scale_factor);
    if (tokens > VL_LIMIT_VISION_TOKENS_PER_FRAME)
        return vl_error(VLLM_ERR_FORMAT,
                        "%s: %d patches with clip.vision.projector.scale_factor %d give %d visual tokens per frame, above "
                        "the supported %d", g->path, hp->n_patches, hp->scale_factor, tokens, VL_LIMIT_VISION_TOKENS_PER_FRAME);
    return VLLM_OK;
}

static vllm_status load_idefics3(const vl_gguf *g, vl_clip_model *m)
{
    const vl_vision_hparams *hp = &m->hp;
    int64_t in = (int64_t)hp->n_embd * hp->scale_factor * hp->scale_factor;
    VL_TRY(load_linear(g, "mm.model.fc", in, hp->proj_dim, 0, &m->mm_fc));
    return VLLM_OK;
}

/* ---- the tower --------------------------------------------------------- */

static vllm_status load_tower(const vl_gguf *g, vl_clip_model *m)
{
    vl_vision_hparams *hp = &m->hp;
    const int64_t E = hp->n_embd, FF = hp->n_ff, P = hp->patch_size;
    const int ln = hp->norm == VL_VIT_LAYERNORM;
    char name[96];

    if (!hp->dynamic && hp->act == VL_VIT_SILU)
        return vl_error(VLLM_ERR_UNSUPPORTED, "%s: clip.use_silu (SiLU vision FFN) is not supported by the %s projector",
                        g->path, m->proj_name);
    /* conv kernel ggml ne [P,P,3,E] = row-major [E][3][P][P]: a linear layer
     * over im2col rows ordered (c, ky, kx). */
    {
        const vl_gguf_tensor *t;
        int64_t ne[4] = {P, P, 3, E};
        VL_TRY(find_shaped(g, "v.patch_embd.weight", 4, ne, 1, &t));
        vl_linear *l = &m->patch;
        l->n_in = (int)(3 * P * P);
        l->n_out = (int)E;
        l->src_type = t->type;
        VL_TRY(as_f32(t, &l->w, &l->w_owned));
        VL_TRY(find_shaped(g, "v.patch_embd.bias", 1, &E, 0, &t));
        if (t) VL_TRY(as_f32(t, &l->b, &l->b_owned));
        /* the temporal patch: frame 0 through weight, frame 1 through weight.1 */
        VL_TRY(find_shaped(g, "v.patch_embd.weight.1", 4, ne, hp->dynamic, &t));
        if (t && !hp->dynamic)
            return vl_error(VLLM_ERR_UNSUPPORTED, "%s: temporal patch kernel 'v.patch_embd.weight.1' is not supported by the %s projector",
                            g->path, m->proj_name);
        if (t) {
            m->patch1.n_in = l->n_in;
            m->patch1.n_out = l->n_out;
            m->patch1.src_type = t->type;
            VL_TRY(as_f32(t, &m->patch1.w, &m->patch1.w_owned));
        }
    }
    /* learned positions: the tile grid (idefics3) or a square table that
     * qwen3vl interpolates to each input's grid; qwen2.5vl has none */
    if (m->proj_type != VL_PROJECTOR_QWEN25VL_MERGER) {
        const vl_gguf_tensor *t;
        int64_t ne[2] = {E, hp->n_patches};
        VL_TRY(find_shaped(g, "v.position_embd.weight", 2, ne, 1, &t));
        VL_TRY(as_f32(t, &m->pos_embd, &m->pos_owned));
        hp->pos_side = hp->n_patches_side;
    }

    m->layers = calloc((size_t)hp->n_layer, sizeof *m->layers);
    if (!m->layers) return vl_error(VLLM_ERR_NOMEM, "mmproj: out of memory");
    for (int il = 0; il < hp->n_layer; il++) {
        vl_vit_layer *L = &m->layers[il];
#define VEC(field, suffix)                                                     \
        snprintf(name, sizeof name, "v.blk.%d." suffix, il);                   \
        VL_TRY(load_vec(g, m, name, E, 1, &L->field));
        VEC(ln1_w, "ln1.weight")
        VEC(ln2_w, "ln2.weight")
        if (ln) {
            VEC(ln1_b, "ln1.bias")
            VEC(ln2_b, "ln2.bias")
        }
#undef VEC
#define LIN(field, suffix, nin, nout)                                          \
        snprintf(name, sizeof name, "v.blk.%d." suffix, il);                   \
        VL_TRY(load_linear(g, name, nin, nout, 1, &L->field));
        snprintf(name, sizeof name, "v.blk.%d.attn_qkv.weight", il);
        if (vl_gguf_find_tensor(g, name)) {
            LIN(qkv, "attn_qkv", E, 3 * E)
        } else {
            LIN(q, "attn_q", E, E)
            LIN(k, "attn_k", E, E)
            LIN(v, "attn_v", E, E)
        }
        LIN(o, "attn_out", E, E)
        /* clip.cpp fixes legacy idefics3 files whose ffn_up/ffn_down names
         * are swapped: detect by shape, as it does. */
        const char *up = "ffn_up", *down = "ffn_down";
        snprintf(name, sizeof name, "v.blk.%d.ffn_down.weight", il);
        const vl_gguf_tensor *td = vl_gguf_find_tensor(g, name);
        if (!hp->dynamic && td && FF != E && td->ne[0] == E && td->ne[1] == FF) {
            up = "ffn_down";
            down = "ffn_up";
        }
        snprintf(name, sizeof name, "v.blk.%d.%s", il, up);
        VL_TRY(load_linear(g, name, E, FF, 1, &L->fc1));
        snprintf(name, sizeof name, "v.blk.%d.%s", il, down);
        VL_TRY(load_linear(g, name, FF, E, 1, &L->fc2));
        snprintf(name, sizeof name, "v.blk.%d.ffn_gate.weight", il);
        if (vl_gguf_find_tensor(g, name)) {
            if (!hp->dynamic)
                return vl_error(VLLM_ERR_UNSUPPORTED, "%s: gated vision FFN ('%s') is not supported by the %s projector",
                                g->path, name, m->proj_name);
            LIN(gate, "ffn_gate", E, FF)
        }
        if (il > 0 && (!L->gate.n_out != !m->layers[0].gate.n_out || !L->qkv.n_out != !m->layers[0].qkv.n_out))
            return vl_error(VLLM_ERR_FORMAT, "%s: ViT block %d differs from block 0 in ffn_gate / attn_qkv tensors", g->path,
                            il);
#undef LIN
    }
    VL_TRY(load_vec(g, m, "v.post_ln.weight", E, 0, &m->post_ln_w));
    if (ln) {
        VL_TRY(load_vec(g, m, "v.post_ln.bias", E, 0, &m->post_ln_b));
        if (!m->post_ln_w != !m->post_ln_b)
            return vl_error(VLLM_ERR_FORMAT, "%s: mmproj has only one of v.post_ln.weight / v.post_ln.bias", g->path);
    }
    return VLLM_OK;
}

static vllm_status load_all(const vl_gguf *g, vl_clip_model *m)
{
    vl_str arch, ptype;
    VL_TRY(vl_gguf_get_str(g, "general.architecture", NULL, &arch));
    if (arch.ptr && !vl_str_eq(arch, "clip")) {
        int len = arch.len > 64 ? 64 : (int)arch.len;
        return vl_error(VLLM_ERR_FORMAT, "%s: general.architecture is '%.*s', expected 'clip' (is this an mmproj file?)",
                        g->path, len, arch.ptr);
    }
    VL_TRY(vl_gguf_get_str(g, "clip.projector_type", NULL, &ptype));
    if (!ptype.ptr) return vl_error(VLLM_ERR_FORMAT, "%s: key 'clip.projector_type' is missing", g->path);
    VL_TRY(vl_projector_from_name(ptype, &m->proj_type));
    proj_load_fn hparams = NULL, load = NULL;
    for (size_t i = 0; i < sizeof projector_table / sizeof projector_table[0]; i++)
        if (projector_table[i].type == m->proj_type) {
            hparams = projector_table[i].hparams;
            load = projector_table[i].load;
            m->proj_name = projector_table[i].name;
            m->hp.dynamic = projector_table[i].dynamic;
        }
    VL_TRY(load_hparams(g, &m->hp));
    /* clip.cpp: Qwen2.5-VL's ViT uses RMSNorm, the others LayerNorm */
    m->hp.norm = m->proj_type == VL_PROJECTOR_QWEN25VL_MERGER ? VL_VIT_RMSNORM : VL_VIT_LAYERNORM;
    VL_TRY(hparams(g, m));
    VL_TRY(load_tower(g, m));
    VL_TRY(load(g, m));
    return VLLM_OK;
}

vllm_status vl_clip_model_for_each_linear(vl_clip_model *m, vllm_status (*fn)(void *ud, vl_linear *l), void *ud)
{
    for (int il = 0; il < m->hp.n_layer; il++) {
        vl_vit_layer *L = &m->layers[il];
        vl_linear *ls[] = {&L->q, &L->k, &L->v, &L->qkv, &L->o, &L->fc1, &L->gate, &L->fc2};
        for (size_t i = 0; i < sizeof ls / sizeof *ls; i++)
            if (ls[i]->n_out) VL_TRY(fn(ud, ls[i]));
    }
    for (int i = 0; i < m->n_ds; i++) {
        VL_TRY(fn(ud, &m->ds[i].fc1));
        VL_TRY(fn(ud, &m->ds[i].fc2));
    }
    vl_linear *ps[] = {&m->mm_fc, &m->mm0, &m->mm2};
    for (size_t i = 0; i < sizeof ps / sizeof *ps; i++)
        if (ps[i]->n_out) VL_TRY(fn(ud, ps[i]));
    return VLLM_OK;
}

static vllm_status copy_f32(void *ud, vl_linear *l)
{
    (void)ud;
    if (l->w) return VLLM_OK;
    if (!(l->w_owned = vl_linear_to_f32(l)))
        return vl_error(VLLM_ERR_NOMEM, "mmproj: out of memory converting a %dx%d weight", l->n_out, l->n_in);
    l->w = l->w_owned;
    return VLLM_OK;
}

vllm_status vl_clip_model_load(const vl_gguf *g, int f32_copies, vl_clip_model **out)
{
    *out = NULL;
    vl_clip_model *m = calloc(1, sizeof *m);
    if (!m) return vl_error(VLLM_ERR_NOMEM, "mmproj: out of memory");
    vllm_status st = load_all(g, m);
    if (!vllm_is_error(st) && f32_copies) st = vl_clip_model_for_each_linear(m, copy_f32, NULL);
    if (vllm_is_error(st)) {
        vl_clip_model_free(m);
        return st;
    }
    *out = m;
    return VLLM_OK;
}

void vl_clip_model_free(vl_clip_model *m)
{
    if (!m) return;
    free_linear(&m->patch);
    free_linear(&m->patch1);
    free(m->pos_owned);
    if (m->layers) {
        for (int il = 0; il < m->hp.n_layer; il++) {
            vl_vit_layer *L = &m->layers[il];
            free_linear(&L->q);
            free_linear(&L->k);
            free_linear(&L->v);
            free_linear(&L->o);
            free_linear(&L->fc1);
            free_linear(&L->fc2);
            free_linear(&L->qkv);
            free_linear(&L->gate);
        }
        free(m->layers);
    }
    free_linear(&m->mm_fc);
    free_linear(&m->mm0);
    free_linear(&m->mm2);
    for (int i = 0; i < m->n_ds; i++) {
        free_linear(&m->ds[i].fc1);
        free_linear(&m->ds[i].fc2);
    }
    free(m->ds);
    for (int i = 0; i < m->n_owned; i++) free(m->owned[i]);
    free(m->owned);
    free(m);
}
