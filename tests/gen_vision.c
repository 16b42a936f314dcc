/* mmprojs (general.architecture = clip) in llama.cpp's converter schema:
 *
 *   idefics3          SmolVLM2's SigLIP tower + pixel-shuffle projector
 *                     (tiny-smolvlm2 README 1.3)
 *   qwen2.5vl_merger  Qwen2.5-VL: patch 14, the temporal conv as two kernels
 *                     (v.patch_embd.weight / .weight.1, no bias), RMSNorm,
 *                     SwiGLU, window attention (n_wa_pattern), 2x2 merger
 *                     (tiny-qwen25vl README 1.6)
 *   qwen3vl_merger    Qwen3-VL: patch 16, two kernels + bias, learned
 *                     position embedding on an (image/patch)^2 grid,
 *                     LayerNorm, fused qkv, GELU, deepstack mergers at the
 *                     listed ViT layers, 2x2 merger (tiny-qwen3vl README 1.5)
 *
 * Keys and tensors in the fixtures' order. The patch kernels are F32 or
 * F16 (ggml's im2col path needs one of them) and the position embedding
 * F32, as the converter keeps them; 2-D weights in --type. */
#include <stdio.h>
#include <string.h>

#include "core/dtype.h"
#include "gen_model.h"

static const float clip_mean[3] = {0.48145466f, 0.4578275f, 0.40821073f}; /* OpenAI CLIP, Qwen2.5-VL */
static const float clip_std[3] = {0.26862954f, 0.26130258f, 0.27577711f};
static const float half_mean[3] = {0.5f, 0.5f, 0.5f}; /* SigLIP, Qwen3-VL */

enum { QWEN_MERGE = 2 }; /* spatial_merge_size of every Qwen-VL tower */

static int common_keys(vl_gw *w, const gen_opts *o, const float *mean, const float *std)
{
    return vl_gw_add_str(w, "general.architecture", "clip") || vl_gw_add_str(w, "general.type", "mmproj") ||
                   vl_gw_add_str(w, "general.name", o->name) ||
                   vl_gw_add_u32(w, "general.file_type", gen_file_type(o->type)) ||
                   vl_gw_add_bool(w, "clip.has_vision_encoder", 1) ||
                   vl_gw_add_u32(w, "clip.vision.projection_dim", (uint32_t)o->v_proj) ||
                   vl_gw_add_u32(w, "clip.vision.image_size", (uint32_t)o->v_image) ||
                   vl_gw_add_u32(w, "clip.vision.patch_size", (uint32_t)o->v_patch) ||
                   vl_gw_add_u32(w, "clip.vision.embedding_length", (uint32_t)o->v_embd) ||
                   vl_gw_add_u32(w, "clip.vision.feed_forward_length", (uint32_t)o->v_ff) ||
                   vl_gw_add_u32(w, "clip.vision.block_count", (uint32_t)o->v_layer) ||
                   vl_gw_add_u32(w, "clip.vision.attention.head_count", (uint32_t)o->v_head) ||
                   vl_gw_add_arr(w, "clip.vision.image_mean", VL_GGUF_FLOAT32, 3, mean) ||
                   vl_gw_add_arr(w, "clip.vision.image_std", VL_GGUF_FLOAT32, 3, std)
               ? -1 : 0;
}

static int32_t conv_type(int32_t t) { return t == VL_TYPE_F32 ? VL_TYPE_F32 : VL_TYPE_F16; }

/* A linear layer: weight [in, out] in the file's type, bias [out] F32. */
static int linear(vl_gw *w, gen_rng *r, const gen_opts *o, const char *prefix, int64_t in, int64_t out)
{
    char n[128];
    snprintf(n, sizeof n, "%s.weight", prefix);
    GEN_T(w, r, gen_weight_type(o->type, in), GEN_WEIGHT, n, 2, in, out, 1, 1);
    snprintf(n, sizeof n, "%s.bias", prefix);
    GEN_T(w, r, VL_TYPE_F32, GEN_WEIGHT, n, 1, out, 1, 1, 1);
    return 0;
}

/* A norm over n: weight (and bias for LayerNorm). */
static int norm(vl_gw *w, gen_rng *r, const char *prefix, int64_t n, int with_bias)
{
    char nm[128];
    snprintf(nm, sizeof nm, "%s.weight", prefix);
    GEN_T(w, r, VL_TYPE_F32, GEN_NORM, nm, 1, n, 1, 1, 1);
    if (with_bias) {
        snprintf(nm, sizeof nm, "%s.bias", prefix);
        GEN_T(w, r, VL_TYPE_F32, GEN_WEIGHT, nm, 1, n, 1, 1, 1);
    }
    return 0;
}

static int gen_idefics3(vl_gw *w, const gen_opts *o, gen_rng *r)
{
    int64_t E = o->v_embd, P = o->v_patch, FF = o->v_ff, sf = o->v_scale;
    int64_t grid = o->v_image / P;
    if (vl_gw_add_str(w, "general.architecture", "clip") || vl_gw_add_str(w, "general.type", "mmproj") ||
        vl_gw_add_str(w, "general.name", o->name) || vl_gw_add_u32(w, "general.file_type", gen_file_type(o->type)) ||
        vl_gw_add_bool(w, "clip.has_vision_encoder", 1) || vl_gw_add_str(w, "clip.projector_type", "idefics3") ||
        vl_gw_add_u32(w, "clip.vision.projection_dim", (uint32_t)o->v_proj) ||
        vl_gw_add_u32(w, "clip.vision.image_size", (uint32_t)o->v_image) ||
        vl_gw_add_u32(w, "clip.vision.patch_size", (uint32_t)P) ||
        vl_gw_add_u32(w, "clip.vision.embedding_length", (uint32_t)E) ||
        vl_gw_add_u32(w, "clip.vision.feed_forward_length", (uint32_t)FF) ||
        vl_gw_add_u32(w, "clip.vision.block_count", (uint32_t)o->v_layer) ||
        vl_gw_add_u32(w, "clip.vision.attention.head_count", (uint32_t)o->v_head) ||
        vl_gw_add_arr(w, "clip.vision.image_mean", VL_GGUF_FLOAT32, 3, half_mean) ||
        vl_gw_add_arr(w, "clip.vision.image_std", VL_GGUF_FLOAT32, 3, half_mean) ||
        vl_gw_add_f32(w, "clip.vision.attention.layer_norm_epsilon", (float)o->v_eps) ||
        vl_gw_add_u32(w, "clip.vision.projector.scale_factor", (uint32_t)sf) || vl_gw_add_bool(w, "clip.use_gelu", 1) ||
        vl_gw_add_u32(w, "clip.vision.preproc_image_size", (uint32_t)o->v_preproc))
        return -1;
    GEN_T(w, r, conv_type(o->type), GEN_WEIGHT, "v.patch_embd.weight", 4, P, P, 3, E);
    GEN_T(w, r, VL_TYPE_F32, GEN_WEIGHT, "v.patch_embd.bias", 1, E, 1, 1, 1);
    GEN_T(w, r, VL_TYPE_F32, GEN_WEIGHT, "v.position_embd.weight", 2, E, grid * grid, 1, 1);
    for (int64_t l = 0; l < o->v_layer; l++) {
        char n[96];
#define NAME(s) (snprintf(n, sizeof n, "v.blk.%lld." s, (long long)l), n)
        if (norm(w, r, NAME("ln1"), E, 1)) return -1;
        static const char *const proj[] = {"attn_q", "attn_k", "attn_v", "attn_out"};
        for (int p = 0; p < 4; p++) {
            char pre[96];
            snprintf(pre, sizeof pre, "v.blk.%lld.%s", (long long)l, proj[p]);
            if (linear(w, r, o, pre, E, E)) return -1;
        }
        if (norm(w, r, NAME("ln2"), E, 1) || linear(w, r, o, NAME("ffn_up"), E, FF) ||
            linear(w, r, o, NAME("ffn_down"), FF, E))
            return -1;
#undef NAME
    }
    if (norm(w, r, "v.post_ln", E, 1)) return -1;
    GEN_T(w, r, gen_weight_type(o->type, E * sf * sf), GEN_WEIGHT, "mm.model.fc.weight", 2, E * sf * sf, o->v_proj, 1, 1);
    return 0;
}

static int gen_qwen25vl(vl_gw *w, const gen_opts *o, gen_rng *r)
{
    const int64_t E = o->v_embd, P = o->v_patch, FF = o->v_ff, M = E * QWEN_MERGE * QWEN_MERGE;
    if (common_keys(w, o, clip_mean, clip_std) || vl_gw_add_str(w, "clip.projector_type", "qwen2.5vl_merger") ||
        vl_gw_add_bool(w, "clip.use_silu", 1) || vl_gw_add_u32(w, "clip.vision.n_wa_pattern", (uint32_t)o->v_wa_pattern) ||
        vl_gw_add_f32(w, "clip.vision.attention.layer_norm_epsilon", (float)o->v_eps))
        return -1;
    GEN_T(w, r, conv_type(o->type), GEN_WEIGHT, "v.patch_embd.weight", 4, P, P, 3, E);
    GEN_T(w, r, conv_type(o->type), GEN_WEIGHT, "v.patch_embd.weight.1", 4, P, P, 3, E);
    for (int64_t l = 0; l < o->v_layer; l++) {
        char n[96];
#define NAME(s) (snprintf(n, sizeof n, "v.blk.%lld." s, (long long)l), n)
        if (norm(w, r, NAME("ln1"), E, 0)) return -1;
        /* q, k, v weights first, then their biases, as the converter splits attn.qkv */
        GEN_T(w, r, gen_weight_type(o->type, E), GEN_WEIGHT, NAME("attn_q.weight"), 2, E, E, 1, 1);
        GEN_T(w, r, gen_weight_type(o->type, E), GEN_WEIGHT, NAME("attn_k.weight"), 2, E, E, 1, 1);
        GEN_T(w, r, gen_weight_type(o->type, E), GEN_WEIGHT, NAME("attn_v.weight"), 2, E, E, 1, 1);
        GEN_T(w, r, VL_TYPE_F32, GEN_WEIGHT, NAME("attn_q.bias"), 1, E, 1, 1, 1);
        GEN_T(w, r, VL_TYPE_F32, GEN_WEIGHT, NAME("attn_k.bias"), 1, E, 1, 1, 1);
        GEN_T(w, r, VL_TYPE_F32, GEN_WEIGHT, NAME("attn_v.bias"), 1, E, 1, 1, 1);
        if (linear(w, r, o, NAME("attn_out"), E, E) || norm(w, r, NAME("ln2"), E, 0) ||
            linear(w, r, o, NAME("ffn_gate"), E, FF) || linear(w, r, o, NAME("ffn_up"), E, FF) ||
            linear(w, r, o, NAME("ffn_down"), FF, E))
            return -1;
#undef NAME
    }
    if (norm(w, r, "v.post_ln", E, 0) || linear(w, r, o, "mm.0", M, M) || linear(w, r, o, "mm.2", M, o->v_proj))
        return -1;
    return 0;
}

static int gen_qwen3vl(vl_gw *w, const gen_opts *o, gen_rng *r)
{
    const int64_t E = o->v_embd, P = o->v_patch, FF = o->v_ff, M = E * QWEN_MERGE * QWEN_MERGE;
    const int64_t grid = o->v_image / P;
    uint8_t is_ds[GEN_MAX_LAYERS] = {0};
    for (int64_t i = 0; i < o->v_n_deepstack; i++) is_ds[o->v_deepstack[i]] = 1;
    if (common_keys(w, o, half_mean, half_mean) || vl_gw_add_str(w, "clip.projector_type", "qwen3vl_merger") ||
        vl_gw_add_bool(w, "clip.use_gelu", 1) || vl_gw_add_u32(w, "clip.vision.spatial_merge_size", QWEN_MERGE) ||
        vl_gw_add_f32(w, "clip.vision.attention.layer_norm_epsilon", (float)o->v_eps) ||
        vl_gw_add_arr(w, "clip.vision.is_deepstack_layers", VL_GGUF_BOOL, (uint64_t)o->v_layer, is_ds))
        return -1;
    GEN_T(w, r, conv_type(o->type), GEN_WEIGHT, "v.patch_embd.weight", 4, P, P, 3, E);
    GEN_T(w, r, conv_type(o->type), GEN_WEIGHT, "v.patch_embd.weight.1", 4, P, P, 3, E);
    GEN_T(w, r, VL_TYPE_F32, GEN_WEIGHT, "v.patch_embd.bias", 1, E, 1, 1, 1);
    GEN_T(w, r, VL_TYPE_F32, GEN_WEIGHT, "v.position_embd.weight", 2, E, grid * grid, 1, 1);
    for (int64_t l = 0; l < o->v_layer; l++) {
        char n[96];
#define NAME(s) (snprintf(n, sizeof n, "v.blk.%lld." s, (long long)l), n)
        if (norm(w, r, NAME("ln1"), E, 1) || linear(w, r, o, NAME("attn_qkv"), E, 3 * E) ||
            linear(w, r, o, NAME("attn_out"), E, E) || norm(w, r, NAME("ln2"), E, 1) ||
            linear(w, r, o, NAME("ffn_up"), E, FF) || linear(w, r, o, NAME("ffn_down"), FF, E))
            return -1;
#undef NAME
    }
    for (int64_t i = 0; i < o->v_n_deepstack; i++) {
        char pre[96];
        const long long l = (long long)o->v_deepstack[i];
        snprintf(pre, sizeof pre, "v.deepstack.%lld.norm", l);
        if (norm(w, r, pre, M, 1)) return -1;
        snprintf(pre, sizeof pre, "v.deepstack.%lld.fc1", l);
        if (linear(w, r, o, pre, M, M)) return -1;
        snprintf(pre, sizeof pre, "v.deepstack.%lld.fc2", l);
        if (linear(w, r, o, pre, M, o->v_proj)) return -1;
    }
    if (norm(w, r, "v.post_ln", E, 1) || linear(w, r, o, "mm.0", M, M) || linear(w, r, o, "mm.2", M, o->v_proj))
        return -1;
    return 0;
}

int gen_clip(vl_gw *w, const gen_opts *o, gen_rng *r)
{
    if (!strcmp(o->projector, "qwen2.5vl_merger")) return gen_qwen25vl(w, o, r);
    if (!strcmp(o->projector, "qwen3vl_merger")) return gen_qwen3vl(w, o, r);
    return gen_idefics3(w, o, r);
}
