/* videollm-gen-model: writes random-weight GGUF models in llama.cpp's
 * schema, for tests and benchmarks (no real weights needed).
 *
 *   videollm-gen-model --preset smollm2-135m --type Q8_0 -o text.gguf
 *   videollm-gen-model --preset siglip-512 -o mmproj.gguf
 *   videollm-gen-model --arch qwen2 --n-embd 64 --n-layer 2 ... -o t.gguf
 *
 * Text models (`llama`, `qwen2`) get a synthetic but valid byte-level BPE
 * tokenizer (tokenizer.ggml.model = gpt2): the 256 GPT-2 byte tokens,
 * seeded random merges of existing tokens up to the requested vocabulary
 * size (every merge result is a token, every merge part is a token), and
 * SmolVLM's special tokens at the end, laid out like the tiny-smolvlm2
 * fixture. mmprojs (`clip`) follow the idefics3 schema of that fixture
 * (tests/data/tiny-smolvlm2/README.md §1.3), or with --projector
 * qwen2.5vl_merger / qwen3vl_merger the schema of the tiny-qwen25vl /
 * tiny-qwen3vl fixtures (their READMEs §1.6 / §1.5: two temporal patch
 * kernels, RMSNorm + SwiGLU + windows, or LayerNorm + GELU + fused qkv +
 * learned positions + deepstack mergers).
 *
 * Weights are N(0,1)*0.02, norm weights 1 + 0.05*N(0,1), biases
 * N(0,1)*0.02, all from one seeded generator, like the fixtures (the
 * values themselves differ: a different generator). 2-D weights are
 * written in --type; where a row is not a whole number of the type's
 * blocks the tensor falls back like llama-quantize does (Q4_K -> Q5_0,
 * Q5_K -> Q5_1, Q6_K -> Q8_0, then F16). Norms and biases stay F32. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "gguf_writer.h"
#include "quantize_ref.h"

typedef struct gen_opts {
    const char *arch; /* llama, qwen2, clip */
    const char *name;
    const char *out;
    int32_t type;
    uint64_t seed;
    int tied;
    /* text */
    int64_t n_embd, n_layer, n_head, n_head_kv, n_ff, n_vocab, n_ctx;
    double rope_base, rms_eps;
    /* vision */
    int64_t v_image, v_patch, v_embd, v_layer, v_head, v_ff, v_scale, v_proj, v_preproc;
    double v_eps;
    const char *projector;  /* idefics3 (default), qwen2.5vl_merger, qwen3vl_merger */
    int64_t v_wa_pattern;   /* qwen2.5vl: full attention every n-th block */
    int64_t v_ds_every;     /* qwen3vl: a deepstack merger after blocks ds_every-1, 2·ds_every-1, ... (3 of them) */
} gen_opts;

/* ---- random numbers: splitmix64 + Box-Muller ---------------------------------- */

typedef struct rng {
    uint64_t s;
    int have;
    float spare;
} rng;

static uint64_t next_u64(rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double uniform01(rng *r) { return ((next_u64(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0); }

static float normal(rng *r)
{
    if (r->have) {
        r->have = 0;
        return r->spare;
    }
    double u = uniform01(r), v = uniform01(r);
    double m = sqrt(-2.0 * log(u));
    r->spare = (float)(m * sin(6.283185307179586 * v));
    r->have = 1;
    return (float)(m * cos(6.283185307179586 * v));
}

/* ---- tensors ------------------------------------------------------------------- */

enum init { INIT_WEIGHT, INIT_NORM };

/* The type a 2-D weight of row length ne0 is written in. */
static int32_t weight_type(int32_t want, int64_t ne0)
{
    int32_t t = want;
    for (int guard = 0; guard < 4; guard++) {
        const vl_type_traits *tr = vl_type_traits_of(t);
        if (tr && ne0 % tr->block_size == 0) return t;
        switch (t) {
        case VL_TYPE_Q4_K: t = VL_TYPE_Q5_0; break;
        case VL_TYPE_Q5_K: t = VL_TYPE_Q5_1; break;
        case VL_TYPE_Q6_K: t = VL_TYPE_Q8_0; break;
        default: t = VL_TYPE_F16; break;
        }
    }
    return VL_TYPE_F16;
}

static int add(vl_gw *w, rng *r, int32_t type, enum init init, const char *name, int n_dims, int64_t ne0,
               int64_t ne1, int64_t ne2, int64_t ne3)
{
    int64_t ne[4] = {ne0, ne1, ne2, ne3};
    size_t n = 1;
    for (int d = 0; d < n_dims; d++) n *= (size_t)ne[d];
    size_t bytes = vl_gw_tensor_bytes(type, n_dims, ne);
    float *x = malloc(n * sizeof *x);
    void *q = malloc(bytes ? bytes : 1);
    if (!x || !q || !bytes) {
        fprintf(stderr, "videollm-gen-model: cannot make tensor %s\n", name);
        free(x);
        free(q);
        return -1;
    }
    for (size_t i = 0; i < n; i++) x[i] = init == INIT_NORM ? 1.0f + 0.05f * normal(r) : 0.02f * normal(r);
    size_t row = vl_row_size(type, ne0);
    for (size_t i = 0; i < n / (size_t)ne0; i++) vl_qref_quantize(type, x + i * (size_t)ne0, (uint8_t *)q + i * row, ne0);
    free(x);
    if (vl_gw_add_tensor_owned(w, name, type, n_dims, ne, q) != 0) {
        fprintf(stderr, "videollm-gen-model: cannot add tensor %s\n", name);
        return -1;
    }
    return 0;
}

#define ADD(...) do { if (add(__VA_ARGS__) != 0) return -1; } while (0)

/* ---- tokenizer --------------------------------------------------------------------
 * GPT-2's byte-to-unicode table: printable bytes map to themselves, the
 * rest to U+0100 upwards, in GPT-2's vocabulary order. */

static int utf8_put(char *p, unsigned cp)
{
    if (cp < 0x80) { p[0] = (char)cp; return 1; }
    p[0] = (char)(0xC0 | (cp >> 6));
    p[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
}

typedef struct strset {
    char **slot;
    size_t mask;
} strset;

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    while (*s) h = (h ^ (unsigned char)*s++) * 1099511628211ull;
    return h;
}

/* Insert s; 1 if it was new, 0 if present. */
static int strset_add(strset *set, char *s)
{
    size_t h = fnv(s) & set->mask;
    for (; set->slot[h]; h = (h + 1) & set->mask)
        if (strcmp(set->slot[h], s) == 0) return 0;
    set->slot[h] = s;
    return 1;
}

static const char *const smolvlm_specials[] = {"<|endoftext|>", "<fake_token_around_image>", "<image>",
                                               "<global-img>"};

static int add_tokenizer(vl_gw *w, rng *r, int64_t n_vocab)
{
    const int n_special = 4 + 36 + 3;
    int64_t n_base = n_vocab - n_special;
    if (n_base < 256) {
        fprintf(stderr, "videollm-gen-model: vocab size %lld is below the minimum %d\n", (long long)n_vocab,
                256 + n_special);
        return -1;
    }
    char **tok = calloc((size_t)n_vocab, sizeof *tok);
    int32_t *type = malloc((size_t)n_vocab * sizeof *type);
    int64_t n_merges = n_base - 256;
    char **merges = calloc((size_t)(n_merges ? n_merges : 1), sizeof *merges);
    strset set = {0};
    size_t cap = 16;
    while (cap < 2 * (size_t)n_vocab) cap <<= 1;
    set.slot = calloc(cap, sizeof *set.slot);
    set.mask = cap - 1;
    int rc = -1;
    if (!tok || !type || !merges || !set.slot) goto out;

    int64_t n = 0;
    unsigned extra = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (unsigned b = 0; b < 256; b++) {
            int printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
            if (printable != (pass == 0)) continue;
            char buf[4] = {0};
            utf8_put(buf, printable ? b : 256 + extra++);
            tok[n] = strdup(buf);
            if (!tok[n]) goto out;
            strset_add(&set, tok[n]);
            type[n++] = 1; /* NORMAL */
        }
    }
    /* Merges of two existing tokens, biased towards early (short) ones so
     * the vocabulary looks like a BPE grown from frequent pairs; results
     * are capped at 24 bytes. */
    for (int64_t m = 0; m < n_merges;) {
        int64_t lim = n < 1024 ? n : 1024 + (n - 1024) / 4;
        int64_t a = (int64_t)(next_u64(r) % (uint64_t)lim), b = (int64_t)(next_u64(r) % (uint64_t)lim);
        size_t la = strlen(tok[a]), lb = strlen(tok[b]);
        if (la + lb > 24) continue;
        char *s = malloc(la + lb + 1);
        char *mg = malloc(la + lb + 2);
        if (!s || !mg) {
            free(s);
            free(mg);
            goto out;
        }
        memcpy(s, tok[a], la);
        memcpy(s + la, tok[b], lb + 1);
        if (!strset_add(&set, s)) {
            free(s);
            free(mg);
            continue;
        }
        memcpy(mg, tok[a], la);
        mg[la] = ' ';
        memcpy(mg + la + 1, tok[b], lb + 1);
        tok[n] = s;
        type[n++] = 1;
        merges[m++] = mg;
    }
    /* SmolVLM special tokens, in the fixture's order and types. */
    for (int i = 0; i < 4; i++) {
        tok[n] = strdup(smolvlm_specials[i]);
        type[n++] = i == 3 ? 4 : 3; /* <global-img> USER_DEFINED, the others CONTROL */
    }
    for (int rr = 1; rr <= 6; rr++)
        for (int cc = 1; cc <= 6; cc++) {
            char buf[32];
            snprintf(buf, sizeof buf, "<row_%d_col_%d>", rr, cc);
            tok[n] = strdup(buf);
            type[n++] = 4;
        }
    const char *tail[] = {"<end_of_utterance>", "<|im_start|>", "<|im_end|>"};
    for (int i = 0; i < 3; i++) {
        tok[n] = strdup(tail[i]);
        type[n++] = 3;
    }
    for (int64_t i = 0; i < n; i++)
        if (!tok[i]) goto out;

    if (vl_gw_add_str(w, "tokenizer.ggml.model", "gpt2") || vl_gw_add_str(w, "tokenizer.ggml.pre", "gpt-2") ||
        vl_gw_add_arr_str(w, "tokenizer.ggml.tokens", (uint64_t)n, (const char *const *)tok) ||
        vl_gw_add_arr(w, "tokenizer.ggml.token_type", VL_GGUF_INT32, (uint64_t)n, type) ||
        vl_gw_add_arr_str(w, "tokenizer.ggml.merges", (uint64_t)n_merges, (const char *const *)merges) ||
        vl_gw_add_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)(n_base + 41)) ||
        vl_gw_add_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)(n_base + 40)) ||
        vl_gw_add_u32(w, "tokenizer.ggml.padding_token_id", (uint32_t)n_base) ||
        vl_gw_add_bool(w, "tokenizer.ggml.add_bos_token", 0) || vl_gw_add_bool(w, "tokenizer.ggml.add_eos_token", 0) ||
        vl_gw_add_str(w, "tokenizer.chat_template",
                      "<|im_start|>{% for message in messages %}{{message['role'] | capitalize}}: "
                      "{{message['content']}}<end_of_utterance>\n{% endfor %}"
                      "{% if add_generation_prompt %}Assistant:{% endif %}"))
        goto out;
    rc = 0;
out:
    if (rc) fprintf(stderr, "videollm-gen-model: out of memory building the tokenizer\n");
    if (tok)
        for (int64_t i = 0; i < n_vocab; i++) free(tok[i]);
    if (merges)
        for (int64_t i = 0; i < n_merges; i++) free(merges[i]);
    free(tok);
    free(type);
    free(merges);
    free(set.slot);
    return rc;
}

/* ---- models ------------------------------------------------------------------------ */

static uint32_t file_type_of(int32_t t)
{
    switch (t) {
    case VL_TYPE_F32: return 0;
    case VL_TYPE_F16: return 1;
    case VL_TYPE_Q4_0: return 2;
    case VL_TYPE_Q4_1: return 3;
    case VL_TYPE_Q8_0: return 7;
    case VL_TYPE_Q5_0: return 8;
    case VL_TYPE_Q5_1: return 9;
    case VL_TYPE_Q4_K: return 15; /* Q4_K_M */
    case VL_TYPE_Q5_K: return 17; /* Q5_K_M */
    case VL_TYPE_Q6_K: return 18;
    case VL_TYPE_BF16: return 32;
    default: return 0;
    }
}

static int gen_text(vl_gw *w, const gen_opts *o, rng *r)
{
    const char *a = o->arch;
    char k[160];
    int64_t E = o->n_embd, hd = o->n_embd / o->n_head;
#define KEY(s) (snprintf(k, sizeof k, "%s." s, a), k)
    if (vl_gw_add_str(w, "general.architecture", a) || vl_gw_add_str(w, "general.name", o->name) ||
        vl_gw_add_str(w, "general.type", "model") || vl_gw_add_u32(w, "general.file_type", file_type_of(o->type)) ||
        vl_gw_add_u32(w, KEY("context_length"), (uint32_t)o->n_ctx) ||
        vl_gw_add_u32(w, KEY("embedding_length"), (uint32_t)E) ||
        vl_gw_add_u32(w, KEY("block_count"), (uint32_t)o->n_layer) ||
        vl_gw_add_u32(w, KEY("feed_forward_length"), (uint32_t)o->n_ff) ||
        vl_gw_add_u32(w, KEY("attention.head_count"), (uint32_t)o->n_head) ||
        vl_gw_add_u32(w, KEY("attention.head_count_kv"), (uint32_t)o->n_head_kv) ||
        vl_gw_add_f32(w, KEY("rope.freq_base"), (float)o->rope_base) ||
        vl_gw_add_f32(w, KEY("attention.layer_norm_rms_epsilon"), (float)o->rms_eps) ||
        vl_gw_add_u32(w, KEY("rope.dimension_count"), (uint32_t)hd) ||
        vl_gw_add_u32(w, KEY("vocab_size"), (uint32_t)o->n_vocab))
        return -1;
#undef KEY
    if (add_tokenizer(w, r, o->n_vocab) != 0) return -1;

    int32_t T = o->type;
    ADD(w, r, weight_type(T, E), INIT_WEIGHT, "token_embd.weight", 2, E, o->n_vocab, 1, 1);
    int qwen = strcmp(a, "qwen2") == 0;
    for (int64_t l = 0; l < o->n_layer; l++) {
        char n[96];
#define NAME(s) (snprintf(n, sizeof n, "blk.%lld." s, (long long)l), n)
        ADD(w, r, VL_TYPE_F32, INIT_NORM, NAME("attn_norm.weight"), 1, E, 1, 1, 1);
        ADD(w, r, weight_type(T, E), INIT_WEIGHT, NAME("attn_q.weight"), 2, E, o->n_head * hd, 1, 1);
        ADD(w, r, weight_type(T, E), INIT_WEIGHT, NAME("attn_k.weight"), 2, E, o->n_head_kv * hd, 1, 1);
        ADD(w, r, weight_type(T, E), INIT_WEIGHT, NAME("attn_v.weight"), 2, E, o->n_head_kv * hd, 1, 1);
        if (qwen) {
            ADD(w, r, VL_TYPE_F32, INIT_WEIGHT, NAME("attn_q.bias"), 1, o->n_head * hd, 1, 1, 1);
            ADD(w, r, VL_TYPE_F32, INIT_WEIGHT, NAME("attn_k.bias"), 1, o->n_head_kv * hd, 1, 1, 1);
            ADD(w, r, VL_TYPE_F32, INIT_WEIGHT, NAME("attn_v.bias"), 1, o->n_head_kv * hd, 1, 1, 1);
        }
        ADD(w, r, weight_type(T, o->n_head * hd), INIT_WEIGHT, NAME("attn_output.weight"), 2, o->n_head * hd, E, 1, 1);
        ADD(w, r, VL_TYPE_F32, INIT_NORM, NAME("ffn_norm.weight"), 1, E, 1, 1, 1);
        ADD(w, r, weight_type(T, E), INIT_WEIGHT, NAME("ffn_gate.weight"), 2, E, o->n_ff, 1, 1);
        ADD(w, r, weight_type(T, E), INIT_WEIGHT, NAME("ffn_up.weight"), 2, E, o->n_ff, 1, 1);
        ADD(w, r, weight_type(T, o->n_ff), INIT_WEIGHT, NAME("ffn_down.weight"), 2, o->n_ff, E, 1, 1);
#undef NAME
    }
    ADD(w, r, VL_TYPE_F32, INIT_NORM, "output_norm.weight", 1, E, 1, 1, 1);
    if (!o->tied) ADD(w, r, weight_type(T, E), INIT_WEIGHT, "output.weight", 2, E, o->n_vocab, 1, 1);
    return 0;
}

static int gen_clip(vl_gw *w, const gen_opts *o, rng *r)
{
    int64_t E = o->v_embd, P = o->v_patch, FF = o->v_ff, sf = o->v_scale;
    int64_t grid = o->v_image / P;
    float mean[3] = {0.5f, 0.5f, 0.5f}, std[3] = {0.5f, 0.5f, 0.5f};
    if (vl_gw_add_str(w, "general.architecture", "clip") || vl_gw_add_str(w, "general.type", "mmproj") ||
        vl_gw_add_str(w, "general.name", o->name) || vl_gw_add_u32(w, "general.file_type", file_type_of(o->type)) ||
        vl_gw_add_bool(w, "clip.has_vision_encoder", 1) || vl_gw_add_str(w, "clip.projector_type", "idefics3") ||
        vl_gw_add_u32(w, "clip.vision.projection_dim", (uint32_t)o->v_proj) ||
        vl_gw_add_u32(w, "clip.vision.image_size", (uint32_t)o->v_image) ||
        vl_gw_add_u32(w, "clip.vision.patch_size", (uint32_t)P) ||
        vl_gw_add_u32(w, "clip.vision.embedding_length", (uint32_t)E) ||
        vl_gw_add_u32(w, "clip.vision.feed_forward_length", (uint32_t)FF) ||
        vl_gw_add_u32(w, "clip.vision.block_count", (uint32_t)o->v_layer) ||
        vl_gw_add_u32(w, "clip.vision.attention.head_count", (uint32_t)o->v_head) ||
        vl_gw_add_arr(w, "clip.vision.image_mean", VL_GGUF_FLOAT32, 3, mean) ||
        vl_gw_add_arr(w, "clip.vision.image_std", VL_GGUF_FLOAT32, 3, std) ||
        vl_gw_add_f32(w, "clip.vision.attention.layer_norm_epsilon", (float)o->v_eps) ||
        vl_gw_add_u32(w, "clip.vision.projector.scale_factor", (uint32_t)sf) || vl_gw_add_bool(w, "clip.use_gelu", 1) ||
        vl_gw_add_u32(w, "clip.vision.preproc_image_size", (uint32_t)o->v_preproc))
        return -1;
    int32_t T = o->type;
    /* The conv kernel stays F32/F16 (ggml's im2col path needs one of them). */
    int32_t conv_t = T == VL_TYPE_F32 ? VL_TYPE_F32 : VL_TYPE_F16;
    ADD(w, r, conv_t, INIT_WEIGHT, "v.patch_embd.weight", 4, P, P, 3, E);
    ADD(w, r, VL_TYPE_F32, INIT_WEIGHT, "v.patch_embd.bias", 1, E, 1, 1, 1);
    ADD(w, r, VL_TYPE_F32, INIT_WEIGHT, "v.position_embd.weight", 2, E, grid * grid, 1, 1);
    for (int64_t l = 0; l < o->v_layer; l++) {
        char n[96];
#define NAME(s) (snprintf(n, sizeof n, "v.blk.%lld." s, (long long)l), n)
        ADD(w, r, VL_TYPE_F32, INIT_NORM, NAME("ln1.weight"), 1, E, 1, 1, 1);
        ADD(w, r, VL_TYPE_F32, INIT_WEIGHT, NAME("ln1.bias"), 1, E, 1, 1, 1);
        static const char *const proj[] = {"attn_q", "attn_k", "attn_v", "attn_out"};
        for (int p = 0; p < 4; p++) {
            char wn[96], bn[96];
            snprintf(wn, sizeof wn, "v.blk.%lld.%s.weight", (long long)l, proj[p]);
            snprintf(bn, sizeof bn, "v.blk.%lld.%s.bias", (long long)l, proj[p]);
            ADD(w, r, weight_type(T, E), INIT_WEIGHT, wn, 2, E, E, 1, 1);
            ADD(w, r, VL_TYPE_F32, INIT_WEIGHT, bn, 1, E, 1, 1, 1);
        }
        ADD(w, r, VL_TYPE_F32, INIT_NORM, NAME("ln2.weight"), 1, E, 1, 1, 1);
        ADD(w, r, VL_TYPE_F32, INIT_WEIGHT, NAME("ln2.bias"), 1, E, 1, 1, 1);
        ADD(w, r, weight_type(T, E), INIT_WEIGHT, NAME("ffn_up.weight"), 2, E, FF, 1, 1);
        ADD(w, r, VL_TYPE_F32, INIT_WEIGHT, NAME("ffn_up.bias"), 1, FF, 1, 1, 1);
        ADD(w, r, weight_type(T, FF), INIT_WEIGHT, NAME("ffn_down.weight"), 2, FF, E, 1, 1);
        ADD(w, r, VL_TYPE_F32, INIT_WEIGHT, NAME("ffn_down.bias"), 1, E, 1, 1, 1);
#undef NAME
    }
    ADD(w, r, VL_TYPE_F32, INIT_NORM, "v.post_ln.weight", 1, E, 1, 1, 1);
    ADD(w, r, VL_TYPE_F32, INIT_WEIGHT, "v.post_ln.bias", 1, E, 1, 1, 1);
    ADD(w, r, weight_type(T, E * sf * sf), INIT_WEIGHT, "mm.model.fc.weight", 2, E * sf * sf, o->v_proj, 1, 1);
    return 0;
}

/* Qwen-VL patch-merger towers (fixture schema; see the header comment). */
static int gen_qwen_clip(vl_gw *w, const gen_opts *o, rng *r)
{
    const int q3 = strcmp(o->projector, "qwen3vl_merger") == 0;
    const int64_t E = o->v_embd, P = o->v_patch, FF = o->v_ff, E4 = 4 * E, grid = o->v_image / P;
    const float clip_mean[3] = {0.48145466f, 0.4578275f, 0.40821073f}, clip_std[3] = {0.26862954f, 0.26130258f, 0.27577711f};
    const float half[3] = {0.5f, 0.5f, 0.5f};
    if (vl_gw_add_str(w, "general.architecture", "clip") || vl_gw_add_str(w, "general.type", "mmproj") ||
        vl_gw_add_str(w, "general.name", o->name) || vl_gw_add_u32(w, "general.file_type", file_type_of(o->type)) ||
        vl_gw_add_bool(w, "clip.has_vision_encoder", 1) || vl_gw_add_str(w, "clip.projector_type", o->projector) ||
        vl_gw_add_bool(w, q3 ? "clip.use_gelu" : "clip.use_silu", 1) ||
        vl_gw_add_u32(w, "clip.vision.image_size", (uint32_t)o->v_image) ||
        vl_gw_add_u32(w, "clip.vision.patch_size", (uint32_t)P) ||
        vl_gw_add_u32(w, "clip.vision.embedding_length", (uint32_t)E) ||
        vl_gw_add_u32(w, "clip.vision.feed_forward_length", (uint32_t)FF) ||
        vl_gw_add_u32(w, "clip.vision.block_count", (uint32_t)o->v_layer) ||
        vl_gw_add_u32(w, "clip.vision.attention.head_count", (uint32_t)o->v_head) ||
        vl_gw_add_f32(w, "clip.vision.attention.layer_norm_epsilon", (float)o->v_eps) ||
        vl_gw_add_u32(w, "clip.vision.projection_dim", (uint32_t)o->v_proj) ||
        vl_gw_add_arr(w, "clip.vision.image_mean", VL_GGUF_FLOAT32, 3, q3 ? half : clip_mean) ||
        vl_gw_add_arr(w, "clip.vision.image_std", VL_GGUF_FLOAT32, 3, q3 ? half : clip_std))
        return -1;
    if (q3 ? vl_gw_add_u32(w, "clip.vision.spatial_merge_size", 2) : vl_gw_add_u32(w, "clip.vision.n_wa_pattern", (uint32_t)o->v_wa_pattern))
        return -1;
    const int32_t T = o->type, conv_t = T == VL_TYPE_F32 ? VL_TYPE_F32 : VL_TYPE_F16;
    ADD(w, r, conv_t, INIT_WEIGHT, "v.patch_embd.weight", 4, P, P, 3, E);
    ADD(w, r, conv_t, INIT_WEIGHT, "v.patch_embd.weight.1", 4, P, P, 3, E);
    if (q3) {
        ADD(w, r, VL_TYPE_F32, INIT_WEIGHT, "v.patch_embd.bias", 1, E, 1, 1, 1);
        ADD(w, r, VL_TYPE_F32, INIT_WEIGHT, "v.position_embd.weight", 2, E, grid * grid, 1, 1);
    }
    for (int64_t l = 0; l < o->v_layer; l++) {
        char n[96];
#define NAME(s) (snprintf(n, sizeof n, "v.blk.%lld." s, (long long)l), n)
        ADD(w, r, VL_TYPE_F32, INIT_NORM, NAME("ln1.weight"), 1, E, 1, 1, 1);
        if (q3) ADD(w, r, VL_TYPE_F32, INIT_WEIGHT, NAME("ln1.bias"), 1, E, 1, 1, 1);
        if (q3) {
            ADD(w, r, weight_type(T, E), INIT_WEIGHT, NAME("attn_qkv.weight"), 2, E, 3 * E, 1, 1);
            ADD(w, r, VL_TYPE_F32, INIT_WEIGHT, NAME("attn_qkv.bias"), 1, 3 * E, 1, 1, 1);
        } else {
            ADD(w, r, weight_type(T, E), INIT_WEIGHT, NAME("attn_q.weight"), 2, E, E, 1, 1);
            ADD(w, r, VL_TYPE_F32, INIT_WEIGHT, NAME("attn_q.bias"), 1, E, 1, 1, 1);
            ADD(w, r, weight_type(T, E), INIT_WEIGHT, NAME("attn_k.weight"), 2, E, E, 1, 1);
            ADD(w, r, VL_TYPE_F32, INIT_WEIGHT, NAME("attn_k.bias"), 1, E, 1, 1, 1);
            ADD(w, r, weight_type(T, E), INIT_WEIGHT, NAME("attn_v.weight"), 2, E, E, 1, 1);
            ADD(w, r, VL_TYPE_F32, INIT_WEIGHT, NAME("attn_v.bias"), 1, E, 1, 1, 1);
        }
        ADD(w, r, weight_type(T, E), INIT_WEIGHT, NAME("attn_out.weight"), 2, E, E, 1, 1);
        ADD(w, r, VL_TYPE_F32, INIT_WEIGHT, NAME("attn_out.bias"), 1, E, 1, 1, 1);
        ADD(w, r, VL_TYPE_F32, INIT_NORM, NAME("ln2.weight"), 1, E, 1, 1, 1);
        if (q3) ADD(w, r, VL_TYPE_F32, INIT_WEIGHT, NAME("ln2.bias"), 1, E, 1, 1, 1);
        if (!q3) {
            ADD(w, r, weight_type(T, E), INIT_WEIGHT, NAME("ffn_gate.weight"), 2, E, FF, 1, 1);
            ADD(w, r, VL_TYPE_F32, INIT_WEIGHT, NAME("ffn_gate.bias"), 1, FF, 1, 1, 1);
        }
        ADD(w, r, weight_type(T, E), INIT_WEIGHT, NAME("ffn_up.weight"), 2, E, FF, 1, 1);
        ADD(w, r, VL_TYPE_F32, INIT_WEIGHT, NAME("ffn_up.bias"), 1, FF, 1, 1, 1);
        ADD(w, r, weight_type(T, FF), INIT_WEIGHT, NAME("ffn_down.weight"), 2, FF, E, 1, 1);
        ADD(w, r, VL_TYPE_F32, INIT_WEIGHT, NAME("ffn_down.bias"), 1, E, 1, 1, 1);
#undef NAME
        if (q3 && o->v_ds_every > 0 && (l + 1) % o->v_ds_every == 0 && (l + 1) / o->v_ds_every <= 3) {
            char d[96];
#define DS(s) (snprintf(d, sizeof d, "v.deepstack.%lld." s, (long long)l), d)
            ADD(w, r, VL_TYPE_F32, INIT_NORM, DS("norm.weight"), 1, E4, 1, 1, 1);
            ADD(w, r, VL_TYPE_F32, INIT_WEIGHT, DS("norm.bias"), 1, E4, 1, 1, 1);
            ADD(w, r, weight_type(T, E4), INIT_WEIGHT, DS("fc1.weight"), 2, E4, E4, 1, 1);
            ADD(w, r, VL_TYPE_F32, INIT_WEIGHT, DS("fc1.bias"), 1, E4, 1, 1, 1);
            ADD(w, r, weight_type(T, E4), INIT_WEIGHT, DS("fc2.weight"), 2, E4, o->v_proj, 1, 1);
            ADD(w, r, VL_TYPE_F32, INIT_WEIGHT, DS("fc2.bias"), 1, o->v_proj, 1, 1, 1);
#undef DS
        }
    }
    ADD(w, r, VL_TYPE_F32, INIT_NORM, "v.post_ln.weight", 1, E, 1, 1, 1);
    if (q3) ADD(w, r, VL_TYPE_F32, INIT_WEIGHT, "v.post_ln.bias", 1, E, 1, 1, 1);
    ADD(w, r, weight_type(T, E4), INIT_WEIGHT, "mm.0.weight", 2, E4, E4, 1, 1);
    ADD(w, r, VL_TYPE_F32, INIT_WEIGHT, "mm.0.bias", 1, E4, 1, 1, 1);
    ADD(w, r, weight_type(T, E4), INIT_WEIGHT, "mm.2.weight", 2, E4, o->v_proj, 1, 1);
    ADD(w, r, VL_TYPE_F32, INIT_WEIGHT, "mm.2.bias", 1, o->v_proj, 1, 1, 1);
    return 0;
}

/* ---- command line ---------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: videollm-gen-model [--preset NAME] [options] -o FILE\n"
            "presets: smollm2-135m, smollm2-360m (llama text), siglip-512 (idefics3 mmproj),\n"
            "         tiny (the tiny-smolvlm2 text shape), tiny-mmproj,\n"
            "         qwen25vl-3b-mmproj, qwen3vl-2b-mmproj (the Qwen towers' shapes)\n"
            "  --arch llama|qwen2|clip   --type F32|F16|BF16|Q8_0|Q4_0|Q4_1|Q5_0|Q5_1|Q4_K|Q5_K|Q6_K\n"
            "  --seed N  --name S  --tied | --untied\n"
            "  text:   --n-embd --n-layer --n-head --n-head-kv --n-ff --n-vocab --n-ctx --rope-base --rms-eps\n"
            "  vision: --v-image-size --v-patch --v-embd --v-layer --v-head --v-ff --v-scale --v-proj\n"
            "          --v-preproc --v-eps  --projector idefics3|qwen2.5vl_merger|qwen3vl_merger\n"
            "          --v-wa-pattern N (qwen2.5vl)  --v-ds-every N (qwen3vl)\n");
}

static void preset_tiny(gen_opts *o)
{
    o->arch = "llama";
    o->n_embd = 64, o->n_layer = 2, o->n_head = 4, o->n_head_kv = 2, o->n_ff = 192, o->n_vocab = 4139;
    o->n_ctx = 2048, o->rope_base = 100000, o->rms_eps = 1e-5, o->tied = 0;
}

static void preset_tiny_mmproj(gen_opts *o)
{
    o->arch = "clip";
    o->v_image = 64, o->v_patch = 16, o->v_embd = 32, o->v_layer = 2, o->v_head = 4, o->v_ff = 64;
    o->v_scale = 2, o->v_proj = 64, o->v_preproc = 256, o->v_eps = 1e-6;
}

static int apply_preset(gen_opts *o, const char *p)
{
    if (strcmp(p, "tiny") == 0) {
        preset_tiny(o);
    } else if (strcmp(p, "tiny-mmproj") == 0) {
        preset_tiny_mmproj(o);
    } else if (strcmp(p, "smollm2-135m") == 0) {
        preset_tiny(o);
        o->n_embd = 576, o->n_layer = 30, o->n_head = 9, o->n_head_kv = 3, o->n_ff = 1536, o->n_vocab = 49152;
        o->n_ctx = 8192, o->tied = 1;
    } else if (strcmp(p, "smollm2-360m") == 0) {
        preset_tiny(o);
        o->n_embd = 960, o->n_layer = 32, o->n_head = 15, o->n_head_kv = 5, o->n_ff = 2560, o->n_vocab = 49152;
        o->n_ctx = 8192, o->tied = 1;
    } else if (strcmp(p, "qwen25vl-3b-mmproj") == 0) { /* Qwen2.5-VL-3B-Instruct vision_config */
        preset_tiny_mmproj(o);
        o->projector = "qwen2.5vl_merger";
        o->v_image = 560, o->v_patch = 14, o->v_embd = 1280, o->v_layer = 32, o->v_head = 16, o->v_ff = 3420;
        o->v_proj = 2048, o->v_wa_pattern = 8; /* fullatt_block_indexes 7, 15, 23, 31 */
    } else if (strcmp(p, "qwen3vl-2b-mmproj") == 0) { /* Qwen3-VL-2B-Instruct vision_config */
        preset_tiny_mmproj(o);
        o->projector = "qwen3vl_merger";
        o->v_image = 768, o->v_patch = 16, o->v_embd = 1024, o->v_layer = 24, o->v_head = 16, o->v_ff = 4096;
        o->v_proj = 2048, o->v_ds_every = 6; /* deepstack_visual_indexes 5, 11, 17 */
    } else if (strcmp(p, "siglip-512") == 0) {
        preset_tiny_mmproj(o);
        o->v_image = 512, o->v_patch = 16, o->v_embd = 768, o->v_layer = 12, o->v_head = 12, o->v_ff = 3072;
        o->v_scale = 4, o->v_proj = 576, o->v_preproc = 2048;
    } else {
        return -1;
    }
    o->name = p;
    return 0;
}

static int parse_i64(const char *s, int64_t *v)
{
    char *end;
    long long x = strtoll(s, &end, 10);
    if (*s == '\0' || *end != '\0' || x < 0) return -1;
    *v = x;
    return 0;
}

static int parse_f64(const char *s, double *v)
{
    char *end;
    *v = strtod(s, &end);
    return *s == '\0' || *end != '\0' ? -1 : 0;
}

static int check_opts(const gen_opts *o)
{
    if (strcmp(o->arch, "clip") == 0 && strcmp(o->projector, "idefics3") != 0) {
        if (strcmp(o->projector, "qwen2.5vl_merger") && strcmp(o->projector, "qwen3vl_merger")) {
            fprintf(stderr, "videollm-gen-model: unknown --projector %s\n", o->projector);
            return -1;
        }
        if (o->v_patch <= 0 || o->v_image % o->v_patch || o->v_embd <= 0 || o->v_head <= 0 || o->v_embd % o->v_head ||
            (o->v_embd / o->v_head) % 4 || o->v_ff <= 0 || o->v_proj <= 0 || o->v_layer < 0 ||
            (!strcmp(o->projector, "qwen2.5vl_merger") && (o->v_wa_pattern <= 0 || o->v_wa_pattern > o->v_layer))) {
            fprintf(stderr, "videollm-gen-model: inconsistent Qwen vision shape (image %% patch, embd %% heads, "
                            "head dim %% 4 must be 0; 0 < --v-wa-pattern <= --v-layer)\n");
            return -1;
        }
        return 0;
    }
    if (strcmp(o->arch, "clip") == 0) {
        if (o->v_patch <= 0 || o->v_image % o->v_patch || o->v_embd <= 0 || o->v_head <= 0 ||
            o->v_embd % o->v_head || o->v_ff <= 0 || o->v_scale <= 0 || (o->v_image / o->v_patch) % o->v_scale ||
            o->v_proj <= 0 || o->v_layer < 0) {
            fprintf(stderr, "videollm-gen-model: inconsistent vision shape (image %% patch, embd %% heads, "
                            "grid %% scale factor must be 0)\n");
            return -1;
        }
        return 0;
    }
    if (strcmp(o->arch, "llama") && strcmp(o->arch, "qwen2")) {
        fprintf(stderr, "videollm-gen-model: unknown --arch %s\n", o->arch);
        return -1;
    }
    if (o->n_embd <= 0 || o->n_head <= 0 || o->n_embd % o->n_head || o->n_head_kv <= 0 ||
        o->n_head % o->n_head_kv || o->n_ff <= 0 || o->n_layer < 0 || o->n_ctx <= 0) {
        fprintf(stderr, "videollm-gen-model: inconsistent text shape (n_embd %% n_head, n_head %% n_head_kv "
                        "must be 0)\n");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    gen_opts o = {0};
    preset_tiny(&o);
    preset_tiny_mmproj(&o);
    o.arch = "llama";
    o.name = "videollm-gen-model";
    o.type = VL_TYPE_F32;
    o.seed = 1234;
    o.projector = "idefics3";

    /* presets first, so explicit options override them in any order */
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--preset") == 0 && apply_preset(&o, argv[i + 1]) != 0) {
            fprintf(stderr, "videollm-gen-model: unknown preset %s\n", argv[i + 1]);
            return 2;
        }
    struct { const char *name; int64_t *v; } ints[] = {
        {"--n-embd", &o.n_embd}, {"--n-layer", &o.n_layer}, {"--n-head", &o.n_head},
        {"--n-head-kv", &o.n_head_kv}, {"--n-ff", &o.n_ff}, {"--n-vocab", &o.n_vocab}, {"--n-ctx", &o.n_ctx},
        {"--v-image-size", &o.v_image}, {"--v-patch", &o.v_patch}, {"--v-embd", &o.v_embd},
        {"--v-layer", &o.v_layer}, {"--v-head", &o.v_head}, {"--v-ff", &o.v_ff}, {"--v-scale", &o.v_scale},
        {"--v-proj", &o.v_proj}, {"--v-preproc", &o.v_preproc}, {"--v-wa-pattern", &o.v_wa_pattern},
        {"--v-ds-every", &o.v_ds_every}};
    struct { const char *name; double *v; } dbls[] = {
        {"--rope-base", &o.rope_base}, {"--rms-eps", &o.rms_eps}, {"--v-eps", &o.v_eps}};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "--tied") == 0) { o.tied = 1; continue; }
        if (strcmp(a, "--untied") == 0) { o.tied = 0; continue; }
        if (i + 1 >= argc) {
            fprintf(stderr, "videollm-gen-model: %s needs a value (or is unknown)\n", a);
            usage(stderr);
            return 2;
        }
        const char *v = argv[++i];
        int ok = 0, known = 0;
        if (strcmp(a, "--preset") == 0) known = ok = 1;
        else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) known = ok = 1, o.out = v;
        else if (strcmp(a, "--arch") == 0) known = ok = 1, o.arch = v;
        else if (strcmp(a, "--name") == 0) known = ok = 1, o.name = v;
        else if (strcmp(a, "--projector") == 0) known = ok = 1, o.projector = v;
        else if (strcmp(a, "--seed") == 0) {
            int64_t s;
            known = 1, ok = parse_i64(v, &s) == 0;
            o.seed = (uint64_t)s;
        } else if (strcmp(a, "--type") == 0) {
            known = 1;
            o.type = vl_qref_type_from_name(v);
            ok = vl_qref_supported(o.type);
        }
        for (size_t k = 0; !known && k < sizeof ints / sizeof ints[0]; k++)
            if (strcmp(a, ints[k].name) == 0) known = 1, ok = parse_i64(v, ints[k].v) == 0;
        for (size_t k = 0; !known && k < sizeof dbls / sizeof dbls[0]; k++)
            if (strcmp(a, dbls[k].name) == 0) known = 1, ok = parse_f64(v, dbls[k].v) == 0;
        if (!known || !ok) {
            fprintf(stderr, "videollm-gen-model: %s %s: %s\n", a, v, known ? "bad value" : "unknown option");
            usage(stderr);
            return 2;
        }
    }
    if (!o.out) {
        usage(stderr);
        return 2;
    }
    if (check_opts(&o) != 0) return 2;

    vl_gw *w = vl_gw_new();
    rng r = {.s = o.seed};
    int rc = !w || (strcmp(o.arch, "clip") != 0                 ? gen_text(w, &o, &r)
                            : strcmp(o.projector, "idefics3") == 0 ? gen_clip(w, &o, &r)
                                                                  : gen_qwen_clip(w, &o, &r)) != 0;
    if (!rc && vl_gw_write_file(w, o.out) != 0) {
        fprintf(stderr, "videollm-gen-model: cannot write %s\n", o.out);
        rc = 1;
    }
    vl_gw_free(w);
    return rc;
}
