/* Binding a text model's GGUF tensors, with every shape checked against
 * the hyper-parameters before anything is computed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "core/quant.h"
#include "llm.h"
#include "core/model_limits.h"

typedef struct arch_info {
    const char *name;
    vl_rope_kind rope;
    int qk_norm;          /* blk.N.attn_{q,k}_norm.weight required */
    double default_eps;   /* when the GGUF has no layer_norm_rms_epsilon */
    int eps_zero_compat;  /* llama.cpp never reads the epsilon: it is 0 there */
} arch_info;

/* Architectures whose graph is the one in llm_forward.c. */
static const arch_info archs[] = {
    {"llama", VL_ROPE_NORM, 0, 1e-5, 0},
    {"qwen2", VL_ROPE_NEOX, 0, 1e-6, 0},
    {"qwen3", VL_ROPE_NEOX, 1, 1e-6, 0},
    /* Qwen2-VL / Qwen2.5-VL text: Qwen2 + M-RoPE sections. llama.cpp's
     * llama_model_qwen2vl::load_arch_hparams reads only the sections, so
     * its RMSNorm epsilon is 0 (tiny-qwen25vl/README.md 1.4). */
    {"qwen2vl", VL_ROPE_MROPE, 0, 1e-6, 1},
    /* Qwen3-VL text: Qwen3 + interleaved M-RoPE + deepstack. */
    {"qwen3vl", VL_ROPE_IMROPE, 1, 1e-6, 0},
};

static const arch_info *find_arch(vl_str name)
{
    for (size_t i = 0; i < sizeof archs / sizeof archs[0]; i++)
        if (vl_str_eq(name, archs[i].name)) return &archs[i];
    return NULL;
}

static vllm_status key_i32(const vl_gguf *g, const char *arch, const char *suffix, int64_t def, int64_t lo,
                           int64_t hi, int32_t *out)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    if (def < 0 && !vl_gguf_find(g, key)) return vl_error(VLLM_ERR_FORMAT, "%s: required key '%s' is missing", g->path, key);
    return vl_gguf_get_i32_range(g, key, def, lo, hi, out);
}

static vllm_status key_f32(const vl_gguf *g, const char *arch, const char *suffix, double def, float *out)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    double v;
    VL_TRY(vl_gguf_get_float(g, key, def, &v));
    if (!(v == v) || v < 0 || v > 1e30) return vl_error(VLLM_ERR_FORMAT, "%s: key '%s' = %g is out of range", g->path, key, v);
    *out = (float)v;
    return VLLM_OK;
}

/* rope.dimension_sections: 4 non-negative section widths (pairs) that
 * sum to at most n_rot/2 (ggml asserts the same). */
static vllm_status read_sections(const vl_gguf *g, const char *arch, vl_rope_cfg *r)
{
    char key[128];
    snprintf(key, sizeof key, "%s.rope.dimension_sections", arch);
    const vl_gguf_value *arr;
    VL_TRY(vl_gguf_get_arr(g, key, VL_GGUF_VTYPE_COUNT, &arr));
    if (!arr) return vl_error(VLLM_ERR_FORMAT, "%s: required key '%s' is missing", g->path, key);
    const vl_gguf_vtype et = arr->v.arr.elem;
    const int integer = et == VL_GGUF_INT32 || et == VL_GGUF_UINT32 || et == VL_GGUF_INT64 || et == VL_GGUF_UINT64;
    if (!integer || arr->v.arr.n < 3 || arr->v.arr.n > 4)
        return vl_error(VLLM_ERR_FORMAT, "%s: key '%s' must be an array of 3 or 4 integers", g->path, key);
    int64_t sum = 0;
    memset(r->sections, 0, sizeof r->sections);
    for (uint64_t i = 0; i < arr->v.arr.n; i++) {
        const int64_t v = vl_gguf_arr_int(arr, i);
        if (v < 0 || v > r->n_rot)
            return vl_error(VLLM_ERR_FORMAT, "%s: %s[%d] = %lld is out of range 0..%d", g->path, key, (int)i,
                            (long long)v, r->n_rot);
        r->sections[i] = (int32_t)v;
        sum += v;
    }
    if (sum < 1 || sum > r->n_rot / 2)
        return vl_error(VLLM_ERR_FORMAT, "%s: %s sum to %lld pairs; expected 1..%d (rope dimensions / 2)", g->path, key,
                        (long long)sum, r->n_rot / 2);
    return VLLM_OK;
}

static vllm_status read_hparams(const vl_gguf *g, const vl_llm_options *opts, vl_llm_hparams *hp)
{
    vl_str arch;
    VL_TRY(vl_gguf_get_str(g, "general.architecture", NULL, &arch));
    if (!arch.ptr) return vl_error(VLLM_ERR_FORMAT, "%s: key 'general.architecture' is missing", g->path);
    const arch_info *ai = find_arch(arch);
    if (!ai) {
        return vl_error(VLLM_ERR_UNSUPPORTED,
                        "%s: text architecture '%.*s' is not supported (supported: llama, qwen2, qwen3, qwen2vl, qwen3vl)",
                        g->path, (int)(arch.len < 64 ? arch.len : 64), arch.ptr);
    }
    snprintf(hp->arch, sizeof hp->arch, "%s", ai->name);
    hp->llamacpp_compat = opts && opts->llamacpp_compat;
    hp->rope.kind = ai->rope;
    hp->pin_e_to_zero = hp->llamacpp_compat;
    const char *a = ai->name;
    VL_TRY(key_i32(g, a, "embedding_length", -1, 1, VL_LIMIT_TEXT_N_EMBD, &hp->n_embd));
    VL_TRY(key_i32(g, a, "block_count", -1, 1, VL_LIMIT_TEXT_N_LAYER, &hp->n_layer));
    VL_TRY(key_i32(g, a, "feed_forward_length", -1, 1, VL_LIMIT_TEXT_N_FF, &hp->n_ff));
    VL_TRY(key_i32(g, a, "attention.head_count", -1, 1, VL_LIMIT_TEXT_N_HEAD, &hp->n_head));
    VL_TRY(key_i32(g, a, "attention.head_count_kv", hp->n_head, 1, hp->n_head, &hp->n_head_kv));
    VL_TRY(key_i32(g, a, "context_length", 2048, 1, VL_LIMIT_TEXT_CTX, &hp->n_ctx_train));
    if (hp->n_head % hp->n_head_kv != 0)
        return vl_error(VLLM_ERR_FORMAT, "%s: head_count %d is not a multiple of head_count_kv %d", g->path, hp->n_head,
                        hp->n_head_kv);
    int32_t hd_default = hp->n_embd / hp->n_head;
    VL_TRY(key_i32(g, a, "attention.key_length", hd_default, 1, VL_LIMIT_TEXT_HEAD_DIM, &hp->head_dim));
    int32_t vlen;
    VL_TRY(key_i32(g, a, "attention.value_length", hp->head_dim, 1, VL_LIMIT_TEXT_HEAD_DIM, &vlen));
    if (vlen != hp->head_dim)
        return vl_error(VLLM_ERR_UNSUPPORTED, "%s: key_length %d != value_length %d is not supported", g->path,
                        hp->head_dim, vlen);
    if (hp->head_dim % 2) return vl_error(VLLM_ERR_FORMAT, "%s: head dimension %d is odd", g->path, hp->head_dim);
    vl_rope_cfg *r = &hp->rope;
    r->head_dim = hp->head_dim;
    VL_TRY(key_i32(g, a, "rope.dimension_count", hp->head_dim, 2, hp->head_dim < 1024 ? hp->head_dim : 1024, &r->n_rot));
    if (r->n_rot % 2) return vl_error(VLLM_ERR_FORMAT, "%s: rope.dimension_count %d is odd", g->path, r->n_rot);
    VL_TRY(key_f32(g, a, "rope.freq_base", 10000.0, &r->base));
    if (r->base <= 0) return vl_error(VLLM_ERR_FORMAT, "%s: rope.freq_base must be positive", g->path);
    if (r->kind == VL_ROPE_MROPE || r->kind == VL_ROPE_IMROPE) VL_TRY(read_sections(g, a, r));
    VL_TRY(key_f32(g, a, "attention.layer_norm_rms_epsilon", ai->default_eps, &hp->rms_eps));
    if (ai->eps_zero_compat && hp->llamacpp_compat) hp->rms_eps = 0.0f;
    hp->n_deepstack = 0;
    if (r->kind == VL_ROPE_IMROPE)
        VL_TRY(key_i32(g, a, "n_deepstack_layers", 0, 0, hp->n_layer, &hp->n_deepstack));

    char key[128];
    snprintf(key, sizeof key, "%s.rope.scaling.type", a);
    vl_str scaling;
    VL_TRY(vl_gguf_get_str(g, key, "none", &scaling));
    if (!vl_str_eq(scaling, "none"))
        return vl_error(VLLM_ERR_UNSUPPORTED, "%s: rope scaling '%.*s' is not supported", g->path,
                        (int)(scaling.len < 32 ? scaling.len : 32), scaling.ptr);
    return VLLM_OK;
}

/* Find tensor `name` and check it is n_in × n_out (ggml ne[0] = n_in). */
static vllm_status bind_weight(const vl_gguf *g, const char *name, int64_t n_in, int64_t n_out, int required,
                               vl_weight *w, vl_llm *m)
{
    memset(w, 0, sizeof *w);
    const vl_gguf_tensor *t = vl_gguf_find_tensor(g, name);
    if (!t) return required ? vl_error(VLLM_ERR_FORMAT, "%s: tensor '%s' is missing", g->path, name) : VLLM_OK;
    if (t->n_dims > 2 || t->ne[0] != n_in || t->ne[1] != n_out) {
        return vl_error(VLLM_ERR_FORMAT, "%s: tensor '%s' has shape [%lld, %lld, %lld, %lld], expected [%lld, %lld]",
                        g->path, name, (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2],
                        (long long)t->ne[3], (long long)n_in, (long long)n_out);
    }
    const vl_type_traits *tr = vl_type_traits_of(t->type);
    if (!tr || !tr->can_dequantize || vl_vec_dot_type(t->type) < 0) {
        return vl_error(VLLM_ERR_UNSUPPORTED, "%s: tensor '%s' has type %s, which is not supported", g->path, name,
                        vl_type_name(t->type));
    }
    w->type = t->type;
    w->n_in = n_in;
    w->n_out = n_out;
    w->row_bytes = vl_row_size(t->type, n_in);
    w->data = t->data;
    m->n_params += (uint64_t)(n_in * n_out);
    m->weight_bytes += t->size;
    return VLLM_OK;
}

/* Norm weights and biases are used as f32 vectors; files may store them in
 * another type, in which case they are converted once into m->owned. */
typedef struct vec_slot {
    const char *name;
    const float **dst;
    int64_t n;
    int required;
} vec_slot;

static vllm_status bind_vectors(const vl_gguf *g, vl_llm *m, vec_slot *slots, size_t n_slots)
{
    size_t need = 0;
    for (size_t i = 0; i < n_slots; i++) {
        *slots[i].dst = NULL;
        const vl_gguf_tensor *t = vl_gguf_find_tensor(g, slots[i].name);
        if (!t) {
            if (slots[i].required) return vl_error(VLLM_ERR_FORMAT, "%s: tensor '%s' is missing", g->path, slots[i].name);
            continue;
        }
        if (t->ne[0] != slots[i].n || t->ne[1] != 1 || t->ne[2] != 1 || t->ne[3] != 1)
            return vl_error(VLLM_ERR_FORMAT, "%s: tensor '%s' has %lld x %lld elements, expected a vector of %lld",
                            g->path, slots[i].name, (long long)t->ne[0], (long long)t->ne[1], (long long)slots[i].n);
        const vl_type_traits *tr = vl_type_traits_of(t->type);
        if (!tr || !tr->can_dequantize)
            return vl_error(VLLM_ERR_UNSUPPORTED, "%s: tensor '%s' has unsupported type %s", g->path, slots[i].name,
                            vl_type_name(t->type));
        m->n_params += (uint64_t)slots[i].n;
        m->weight_bytes += t->size;
        if (t->type == VL_TYPE_F32 && ((uintptr_t)t->data % sizeof(float)) == 0)
            *slots[i].dst = t->data;
        else
            need += (size_t)slots[i].n;
    }
    if (!need) return VLLM_OK;
    vl_f32_block *blk = malloc(sizeof *blk + need * sizeof(float));
    if (!blk) return vl_error(VLLM_ERR_NOMEM, "out of memory converting norm weights");
    blk->next = m->owned;
    m->owned = blk;
    float *buf = blk->data;
    size_t at = 0;
    for (size_t i = 0; i < n_slots; i++) {
        const vl_gguf_tensor *t = vl_gguf_find_tensor(g, slots[i].name);
        if (!t || *slots[i].dst) continue;
        vl_dequantize_row(t->type, t->data, buf + at, slots[i].n);
        *slots[i].dst = buf + at;
        at += (size_t)slots[i].n;
    }
    return VLLM_OK;
}

static vllm_status bind_all(const vl_gguf *g, vl_llm *m)
{
    vl_llm_hparams *hp = &m->hp;
    const vl_gguf_tensor *te = vl_gguf_find_tensor(g, "token_embd.weight");
    if (!te) return vl_error(VLLM_ERR_FORMAT, "%s: tensor 'token_embd.weight' is missing", g->path);
    int64_t vocab = te->ne[1];
    int64_t vocab_key;
    char key[128];
    snprintf(key, sizeof key, "%s.vocab_size", hp->arch);
    VL_TRY(vl_gguf_get_int(g, key, vocab, &vocab_key));
    if (vocab > VL_LIMIT_TEXT_VOCAB)
        return vl_error(VLLM_ERR_FORMAT, "%s: token_embd.weight has %lld rows: a vocabulary above the supported %d",
                        g->path, (long long)vocab, VL_LIMIT_TEXT_VOCAB);
    if (vocab_key != vocab || vocab < 1)
        return vl_error(VLLM_ERR_FORMAT, "%s: token_embd.weight has %lld rows but the vocabulary size is %lld", g->path,
                        (long long)vocab, (long long)vocab_key);
    hp->n_vocab = (int32_t)vocab;

    const int64_t E = hp->n_embd, Dq = (int64_t)hp->n_head * hp->head_dim, Dkv = (int64_t)hp->n_head_kv * hp->head_dim;
    VL_TRY(bind_weight(g, "token_embd.weight", E, vocab, 1, &m->tok_embd, m));
    VL_TRY(bind_weight(g, "output.weight", E, vocab, 0, &m->output, m));
    if (!m->output.data) m->output = m->tok_embd; /* tied embeddings */

    vec_slot top[] = {{"output_norm.weight", &m->output_norm, E, 1}};
    VL_TRY(bind_vectors(g, m, top, 1));

    vl_str arch_name = {hp->arch, strlen(hp->arch)};
    const int qk_norm = find_arch(arch_name)->qk_norm;
    m->layers = calloc((size_t)hp->n_layer, sizeof *m->layers);
    if (!m->layers) return vl_error(VLLM_ERR_NOMEM, "out of memory");
    for (int il = 0; il < hp->n_layer; il++) {
        vl_llm_layer *L = &m->layers[il];
        char n[12][64];
        const char *suffix[12] = {"attn_q",      "attn_k",      "attn_v",      "attn_output",         "ffn_gate",
                                  "ffn_up",      "ffn_down",    "attn_q.bias", "attn_k.bias",         "attn_v.bias",
                                  "attn_q_norm.weight", "attn_k_norm.weight"};
        for (int i = 0; i < 12; i++)
            snprintf(n[i], sizeof n[i], i < 7 ? "blk.%d.%s.weight" : "blk.%d.%s", il, suffix[i]);
        VL_TRY(bind_weight(g, n[0], E, Dq, 1, &L->wq, m));
        VL_TRY(bind_weight(g, n[1], E, Dkv, 1, &L->wk, m));
        VL_TRY(bind_weight(g, n[2], E, Dkv, 1, &L->wv, m));
        VL_TRY(bind_weight(g, n[3], Dq, E, 1, &L->wo, m));
        VL_TRY(bind_weight(g, n[4], E, hp->n_ff, 1, &L->w_gate, m));
        VL_TRY(bind_weight(g, n[5], E, hp->n_ff, 1, &L->w_up, m));
        VL_TRY(bind_weight(g, n[6], hp->n_ff, E, 1, &L->w_down, m));
        char an[64], fn[64];
        snprintf(an, sizeof an, "blk.%d.attn_norm.weight", il);
        snprintf(fn, sizeof fn, "blk.%d.ffn_norm.weight", il);
        vec_slot v[] = {
            {an, &L->attn_norm, E, 1},
            {fn, &L->ffn_norm, E, 1},
            {n[7], &L->bq, Dq, 0},
            {n[8], &L->bk, Dkv, 0},
            {n[9], &L->bv, Dkv, 0},
            {n[10], &L->q_norm, hp->head_dim, 1},
            {n[11], &L->k_norm, hp->head_dim, 1},
        };
        /* QK-norm only where the architecture has it (the tensors of another
         * architecture's file are not silently applied) */
        VL_TRY(bind_vectors(g, m, v, qk_norm ? 7 : 5));
    }
    return VLLM_OK;
}

vllm_status vl_llm_load(const vl_gguf *g, vl_llm **out) { return vl_llm_load_ex(g, NULL, out); }

vllm_status vl_llm_load_ex(const vl_gguf *g, const vl_llm_options *opts, vl_llm **out)
{
    *out = NULL;
    vl_llm *m = calloc(1, sizeof *m);
    if (!m) return vl_error(VLLM_ERR_NOMEM, "out of memory");
    vllm_status st = read_hparams(g, opts, &m->hp);
    if (!vllm_is_error(st)) st = bind_all(g, m);
    if (vllm_is_error(st)) {
        vl_llm_free(m);
        return st;
    }
    *out = m;
    return VLLM_OK;
}

void vl_llm_free(vl_llm *m)
{
    if (!m) return;
    while (m->owned) {
        vl_f32_block *next = m->owned->next;
        free(m->owned);
        m->owned = next;
    }
    free(m->layers);
    free(m);
}
