/* Text models in llama.cpp's converter schema:
 *
 *   llama    Llama/SmolLM2: no biases, rope.dimension_count
 *   qwen2    Qwen2: q/k/v biases, rope.dimension_count
 *   qwen2vl  Qwen2-VL / Qwen2.5-VL text: Qwen2 + rope.dimension_sections
 *            (i32[4]), no rope.dimension_count (tiny-qwen25vl README 1.1)
 *   qwen3    Qwen3: no biases, QK-norm (attn_{q,k}_norm over head_dim),
 *            attention.key_length / value_length
 *   qwen3vl  Qwen3-VL text: Qwen3 + rope.dimension_sections (interleaved
 *            by the loader) + n_deepstack_layers (tiny-qwen3vl README 1.1)
 *
 * The Qwen families also write general.quantization_version as the
 * converter does; keys are in the fixtures' order. */
#include <stdio.h>
#include <string.h>

#include "core/dtype.h"
#include "gen_model.h"

typedef struct text_arch {
    const char *name;
    int biases, qk_norm, sections, deepstack, key_length, rope_dims, qwen_keys;
} text_arch;

static const text_arch text_archs[] = {
    {"llama", 0, 0, 0, 0, 0, 1, 0},   {"qwen2", 1, 0, 0, 0, 0, 1, 0}, {"qwen2vl", 1, 0, 1, 0, 0, 0, 1},
    {"qwen3", 0, 1, 0, 0, 1, 0, 1},   {"qwen3vl", 0, 1, 1, 1, 1, 0, 1},
};

static const text_arch *find_text_arch(const char *name)
{
    for (size_t i = 0; i < sizeof text_archs / sizeof text_archs[0]; i++)
        if (!strcmp(text_archs[i].name, name)) return &text_archs[i];
    return NULL;
}

int gen_text_arch_known(const char *name) { return find_text_arch(name) != NULL; }

int64_t gen_text_head_dim(const gen_opts *o) { return o->head_dim > 0 ? o->head_dim : o->n_embd / o->n_head; }

/* Sections (t, h, w, e) in rotary pairs, summing to head_dim / 2: the given
 * ones, or Qwen2.5-VL's proportions [1/4, 3/8, 3/8] for qwen2vl and
 * Qwen3-VL's [24, 20, 20]/64 for qwen3vl. */
void gen_text_sections(const gen_opts *o, int32_t out[4])
{
    const int64_t half = gen_text_head_dim(o) / 2;
    if (o->sections[0] || o->sections[1] || o->sections[2] || o->sections[3]) {
        for (int i = 0; i < 4; i++) out[i] = (int32_t)o->sections[i];
        return;
    }
    int64_t t, h;
    if (!strcmp(o->arch, "qwen3vl")) {
        h = half * 5 / 16;
        t = half - 2 * h;
    } else {
        t = half / 4;
        h = (half - t) / 2;
    }
    out[0] = (int32_t)t, out[1] = (int32_t)h, out[2] = (int32_t)(half - t - h), out[3] = 0;
}

int64_t gen_text_n_deepstack(const gen_opts *o)
{
    if (o->n_deepstack >= 0) return o->n_deepstack;
    return o->n_layer < 3 ? o->n_layer : 3;
}

static int text_keys(vl_gw *w, const gen_opts *o, const text_arch *ta)
{
    char k[160];
    const char *a = o->arch;
    const int64_t hd = gen_text_head_dim(o);
#define KEY(s) (snprintf(k, sizeof k, "%s." s, a), k)
    if (!ta->qwen_keys) {
        return vl_gw_add_str(w, "general.architecture", a) || vl_gw_add_str(w, "general.name", o->name) ||
               vl_gw_add_str(w, "general.type", "model") ||
               vl_gw_add_u32(w, "general.file_type", gen_file_type(o->type)) ||
               vl_gw_add_u32(w, KEY("context_length"), (uint32_t)o->n_ctx) ||
               vl_gw_add_u32(w, KEY("embedding_length"), (uint32_t)o->n_embd) ||
               vl_gw_add_u32(w, KEY("block_count"), (uint32_t)o->n_layer) ||
               vl_gw_add_u32(w, KEY("feed_forward_length"), (uint32_t)o->n_ff) ||
               vl_gw_add_u32(w, KEY("attention.head_count"), (uint32_t)o->n_head) ||
               vl_gw_add_u32(w, KEY("attention.head_count_kv"), (uint32_t)o->n_head_kv) ||
               vl_gw_add_f32(w, KEY("rope.freq_base"), (float)o->rope_base) ||
               vl_gw_add_f32(w, KEY("attention.layer_norm_rms_epsilon"), (float)o->rms_eps) ||
               vl_gw_add_u32(w, KEY("rope.dimension_count"), (uint32_t)hd) ||
               vl_gw_add_u32(w, KEY("vocab_size"), (uint32_t)o->n_vocab)
            ? -1 : 0;
    }
    if (vl_gw_add_str(w, "general.architecture", a) || vl_gw_add_str(w, "general.type", "model") ||
        vl_gw_add_str(w, "general.name", o->name) || vl_gw_add_u32(w, KEY("block_count"), (uint32_t)o->n_layer) ||
        vl_gw_add_u32(w, KEY("context_length"), (uint32_t)o->n_ctx) ||
        vl_gw_add_u32(w, KEY("embedding_length"), (uint32_t)o->n_embd) ||
        vl_gw_add_u32(w, KEY("feed_forward_length"), (uint32_t)o->n_ff) ||
        vl_gw_add_u32(w, KEY("attention.head_count"), (uint32_t)o->n_head) ||
        vl_gw_add_u32(w, KEY("attention.head_count_kv"), (uint32_t)o->n_head_kv))
        return -1;
    if (ta->sections) {
        int32_t s[4];
        gen_text_sections(o, s);
        if (vl_gw_add_arr(w, KEY("rope.dimension_sections"), VL_GGUF_INT32, 4, s)) return -1;
    }
    if (vl_gw_add_f32(w, KEY("rope.freq_base"), (float)o->rope_base) ||
        vl_gw_add_f32(w, KEY("attention.layer_norm_rms_epsilon"), (float)o->rms_eps))
        return -1;
    if (ta->key_length && (vl_gw_add_u32(w, KEY("attention.key_length"), (uint32_t)hd) ||
                           vl_gw_add_u32(w, KEY("attention.value_length"), (uint32_t)hd)))
        return -1;
    if (ta->deepstack && vl_gw_add_u32(w, KEY("n_deepstack_layers"), (uint32_t)gen_text_n_deepstack(o))) return -1;
    return vl_gw_add_u32(w, "general.file_type", gen_file_type(o->type)) ||
                   vl_gw_add_u32(w, "general.quantization_version", 2) ||
                   vl_gw_add_u32(w, KEY("vocab_size"), (uint32_t)o->n_vocab)
               ? -1 : 0;
#undef KEY
}

int gen_text(vl_gw *w, const gen_opts *o, gen_rng *r)
{
    const text_arch *ta = find_text_arch(o->arch);
    if (!ta) return -1;
    if (text_keys(w, o, ta) != 0 || gen_tokenizer(w, r, o) != 0) return -1;
    const int32_t T = o->type;
    const int64_t E = o->n_embd, hd = gen_text_head_dim(o), q_dim = o->n_head * hd, kv_dim = o->n_head_kv * hd;
    GEN_T(w, r, gen_weight_type(T, E), GEN_WEIGHT, "token_embd.weight", 2, E, o->n_vocab, 1, 1);
    for (int64_t l = 0; l < o->n_layer; l++) {
        char n[96];
#define NAME(s) (snprintf(n, sizeof n, "blk.%lld." s, (long long)l), n)
        GEN_T(w, r, VL_TYPE_F32, GEN_NORM, NAME("attn_norm.weight"), 1, E, 1, 1, 1);
        GEN_T(w, r, gen_weight_type(T, E), GEN_WEIGHT, NAME("attn_q.weight"), 2, E, q_dim, 1, 1);
        GEN_T(w, r, gen_weight_type(T, E), GEN_WEIGHT, NAME("attn_k.weight"), 2, E, kv_dim, 1, 1);
        GEN_T(w, r, gen_weight_type(T, E), GEN_WEIGHT, NAME("attn_v.weight"), 2, E, kv_dim, 1, 1);
        if (ta->biases) {
            GEN_T(w, r, VL_TYPE_F32, GEN_WEIGHT, NAME("attn_q.bias"), 1, q_dim, 1, 1, 1);
            GEN_T(w, r, VL_TYPE_F32, GEN_WEIGHT, NAME("attn_k.bias"), 1, kv_dim, 1, 1, 1);
            GEN_T(w, r, VL_TYPE_F32, GEN_WEIGHT, NAME("attn_v.bias"), 1, kv_dim, 1, 1, 1);
        }
        if (ta->qk_norm) {
            GEN_T(w, r, VL_TYPE_F32, GEN_NORM, NAME("attn_q_norm.weight"), 1, hd, 1, 1, 1);
            GEN_T(w, r, VL_TYPE_F32, GEN_NORM, NAME("attn_k_norm.weight"), 1, hd, 1, 1, 1);
        }
        GEN_T(w, r, gen_weight_type(T, q_dim), GEN_WEIGHT, NAME("attn_output.weight"), 2, q_dim, E, 1, 1);
        GEN_T(w, r, VL_TYPE_F32, GEN_NORM, NAME("ffn_norm.weight"), 1, E, 1, 1, 1);
        GEN_T(w, r, gen_weight_type(T, E), GEN_WEIGHT, NAME("ffn_gate.weight"), 2, E, o->n_ff, 1, 1);
        GEN_T(w, r, gen_weight_type(T, E), GEN_WEIGHT, NAME("ffn_up.weight"), 2, E, o->n_ff, 1, 1);
        GEN_T(w, r, gen_weight_type(T, o->n_ff), GEN_WEIGHT, NAME("ffn_down.weight"), 2, o->n_ff, E, 1, 1);
#undef NAME
    }
    GEN_T(w, r, VL_TYPE_F32, GEN_NORM, "output_norm.weight", 1, E, 1, 1, 1);
    if (!o->tied) GEN_T(w, r, gen_weight_type(T, E), GEN_WEIGHT, "output.weight", 2, E, o->n_vocab, 1, 1);
    return 0;
}
