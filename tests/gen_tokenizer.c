/* Synthetic byte-level BPE tokenizers (tokenizer.ggml.model = gpt2) for
 * generated text models: the 256 GPT-2 byte tokens in GPT-2's order,
 * seeded random merges of existing tokens (every merge result is a token,
 * every merge part is a token) and the family's special tokens:
 *
 *  - llama, qwen2: SmolVLM's 43 specials at the end, laid out like the
 *    tiny-smolvlm2 fixture;
 *  - qwen2vl, qwen3, qwen3vl: Qwen's added tokens in Qwen's order. With a
 *    vocabulary of at least 151643 + the full list (the real models have
 *    151936 rows) they sit at Qwen's real ids (<|endoftext|> 151643,
 *    <|im_start|> 151644, <|vision_start|> 151652, <|image_pad|> 151655,
 *    <|video_pad|> 151656, ...) and the rows after them are "[PAD<id>]"
 *    UNUSED tokens, as llama.cpp's converter writes them; a smaller
 *    vocabulary ends with the subset the tiny-qwen25vl / tiny-qwen3vl
 *    fixtures carry (README 1.3), at the same ids as there. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen_model.h"

enum { TOK_NORMAL = 1, TOK_CONTROL = 3, TOK_USER_DEFINED = 4, TOK_UNUSED = 5 };

typedef struct special {
    const char *text;
    int32_t type;
    int in_fixture; /* also in the tiny fixtures' shorter list */
} special;

/* Qwen2.5's added tokens from id 151643 on; Qwen3 appends four more. */
static const special qwen_specials[] = {
    {"<|endoftext|>", TOK_CONTROL, 1},       {"<|im_start|>", TOK_CONTROL, 1},
    {"<|im_end|>", TOK_CONTROL, 1},          {"<|object_ref_start|>", TOK_CONTROL, 1},
    {"<|object_ref_end|>", TOK_CONTROL, 1},  {"<|box_start|>", TOK_CONTROL, 1},
    {"<|box_end|>", TOK_CONTROL, 1},         {"<|quad_start|>", TOK_CONTROL, 1},
    {"<|quad_end|>", TOK_CONTROL, 1},        {"<|vision_start|>", TOK_CONTROL, 1},
    {"<|vision_end|>", TOK_CONTROL, 1},      {"<|vision_pad|>", TOK_CONTROL, 1},
    {"<|image_pad|>", TOK_CONTROL, 1},       {"<|video_pad|>", TOK_CONTROL, 1},
    {"<tool_call>", TOK_USER_DEFINED, 1},    {"</tool_call>", TOK_USER_DEFINED, 1},
    {"<|fim_prefix|>", TOK_USER_DEFINED, 0}, {"<|fim_middle|>", TOK_USER_DEFINED, 0},
    {"<|fim_suffix|>", TOK_USER_DEFINED, 0}, {"<|fim_pad|>", TOK_USER_DEFINED, 0},
    {"<|repo_name|>", TOK_USER_DEFINED, 0},  {"<|file_sep|>", TOK_USER_DEFINED, 0},
    /* Qwen3 only */
    {"<tool_response>", TOK_USER_DEFINED, 0}, {"</tool_response>", TOK_USER_DEFINED, 0},
    {"<think>", TOK_USER_DEFINED, 1},        {"</think>", TOK_USER_DEFINED, 1},
};
enum { QWEN2_N_SPECIAL = 22, QWEN3_N_SPECIAL = 26, QWEN_FIRST_SPECIAL = 151643 };

/* A plain chatml template (llama.cpp and the library detect chatml from
 * <|im_start|>); not Qwen's own template, which adds a system prompt. */
static const char qwen_template[] =
    "{%- for message in messages %}{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}"
    "{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";

static const char smolvlm_template[] =
    "<|im_start|>{% for message in messages %}{{message['role'] | capitalize}}: "
    "{{message['content']}}<end_of_utterance>\n{% endfor %}"
    "{% if add_generation_prompt %}Assistant:{% endif %}";

static int utf8_put(char *p, unsigned cp)
{
    if (cp < 0x80) {
        p[0] = (char)cp;
        return 1;
    }
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

/* The byte tokens and n_base - 256 merges into tok[0..n_base); 0 or -1. */
static int grow_bpe(gen_rng *r, int64_t n_base, char **tok, int32_t *type, char **merges, strset *set)
{
    int64_t n = 0;
    unsigned extra = 0;
    /* GPT-2's byte-to-unicode table: printable bytes map to themselves,
     * the rest to U+0100 upwards, in GPT-2's vocabulary order. */
    for (int pass = 0; pass < 2; pass++) {
        for (unsigned b = 0; b < 256; b++) {
            int printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
            if (printable != (pass == 0)) continue;
            char buf[4] = {0};
            utf8_put(buf, printable ? b : 256 + extra++);
            tok[n] = strdup(buf);
            if (!tok[n]) return -1;
            strset_add(set, tok[n]);
            type[n++] = TOK_NORMAL;
        }
    }
    /* Merges of two existing tokens, biased towards early (short) ones so
     * the vocabulary looks like a BPE grown from frequent pairs; results
     * are capped at 24 bytes. */
    for (int64_t m = 0; n < n_base;) {
        int64_t lim = n < 1024 ? n : 1024 + (n - 1024) / 4;
        int64_t a = (int64_t)(gen_next_u64(r) % (uint64_t)lim), b = (int64_t)(gen_next_u64(r) % (uint64_t)lim);
        size_t la = strlen(tok[a]), lb = strlen(tok[b]);
        if (la + lb > 24) continue;
        char *s = malloc(la + lb + 1);
        char *mg = malloc(la + lb + 2);
        if (!s || !mg) {
            free(s);
            free(mg);
            return -1;
        }
        memcpy(s, tok[a], la);
        memcpy(s + la, tok[b], lb + 1);
        if (!strset_add(set, s)) {
            free(s);
            free(mg);
            continue;
        }
        memcpy(mg, tok[a], la);
        mg[la] = ' ';
        memcpy(mg + la + 1, tok[b], lb + 1);
        tok[n] = s;
        type[n++] = TOK_NORMAL;
        merges[m++] = mg;
    }
    return 0;
}

static int is_qwen_family(const char *arch)
{
    return !strcmp(arch, "qwen2vl") || !strcmp(arch, "qwen3") || !strcmp(arch, "qwen3vl");
}

int gen_tokenizer(vl_gw *w, gen_rng *r, const gen_opts *o)
{
    const int64_t n_vocab = o->n_vocab;
    const int qwen = is_qwen_family(o->arch);
    const int n_qwen = strcmp(o->arch, "qwen2vl") ? QWEN3_N_SPECIAL : QWEN2_N_SPECIAL;
    int real_ids = 0, n_special = 4 + 36 + 3;
    if (qwen) {
        real_ids = n_vocab >= QWEN_FIRST_SPECIAL + n_qwen;
        n_special = 0;
        for (int i = 0; i < n_qwen; i++) n_special += real_ids || qwen_specials[i].in_fixture;
    }
    const int64_t n_base = real_ids ? QWEN_FIRST_SPECIAL : n_vocab - n_special;
    if (n_base < 256) {
        fprintf(stderr, "videollm-gen-model: vocab size %lld is below the minimum %d\n", (long long)n_vocab,
                256 + n_special);
        return -1;
    }
    char **tok = calloc((size_t)n_vocab, sizeof *tok);
    int32_t *type = malloc((size_t)n_vocab * sizeof *type);
    const int64_t n_merges = n_base - 256;
    char **merges = calloc((size_t)(n_merges ? n_merges : 1), sizeof *merges);
    strset set = {0};
    size_t cap = 16;
    while (cap < 2 * (size_t)n_vocab) cap <<= 1;
    set.slot = calloc(cap, sizeof *set.slot);
    set.mask = cap - 1;
    int rc = -1;
    if (!tok || !type || !merges || !set.slot || grow_bpe(r, n_base, tok, type, merges, &set) != 0) goto out;

    int64_t n = n_base;
    uint32_t bos, eos, pad;
    if (qwen) {
        for (int i = 0; i < n_qwen; i++) {
            if (!real_ids && !qwen_specials[i].in_fixture) continue;
            tok[n] = strdup(qwen_specials[i].text);
            type[n++] = qwen_specials[i].type;
        }
        for (; n < n_vocab; n++) { /* rows of the embedding no token uses */
            char buf[32];
            snprintf(buf, sizeof buf, "[PAD%lld]", (long long)n);
            tok[n] = strdup(buf);
            type[n] = TOK_UNUSED;
        }
        bos = pad = (uint32_t)n_base; /* <|endoftext|> */
        eos = (uint32_t)n_base + 2;   /* <|im_end|> */
    } else {
        /* SmolVLM special tokens, in the fixture's order and types. */
        static const char *const head[] = {"<|endoftext|>", "<fake_token_around_image>", "<image>", "<global-img>"};
        for (int i = 0; i < 4; i++) {
            tok[n] = strdup(head[i]);
            type[n++] = i == 3 ? TOK_USER_DEFINED : TOK_CONTROL;
        }
        for (int rr = 1; rr <= 6; rr++)
            for (int cc = 1; cc <= 6; cc++) {
                char buf[32];
                snprintf(buf, sizeof buf, "<row_%d_col_%d>", rr, cc);
                tok[n] = strdup(buf);
                type[n++] = TOK_USER_DEFINED;
            }
        static const char *const tail[] = {"<end_of_utterance>", "<|im_start|>", "<|im_end|>"};
        for (int i = 0; i < 3; i++) {
            tok[n] = strdup(tail[i]);
            type[n++] = TOK_CONTROL;
        }
        bos = (uint32_t)(n_base + 41), eos = (uint32_t)(n_base + 40), pad = (uint32_t)n_base;
    }
    for (int64_t i = 0; i < n_vocab; i++)
        if (!tok[i]) goto out;

    /* keys in the order of the fixtures of each family */
    if (vl_gw_add_str(w, "tokenizer.ggml.model", "gpt2") ||
        vl_gw_add_str(w, "tokenizer.ggml.pre", qwen ? "qwen2" : "gpt-2") ||
        vl_gw_add_arr_str(w, "tokenizer.ggml.tokens", (uint64_t)n_vocab, (const char *const *)tok) ||
        vl_gw_add_arr(w, "tokenizer.ggml.token_type", VL_GGUF_INT32, (uint64_t)n_vocab, type) ||
        vl_gw_add_arr_str(w, "tokenizer.ggml.merges", (uint64_t)n_merges, (const char *const *)merges))
        goto out;
    if (qwen) {
        if (vl_gw_add_u32(w, "tokenizer.ggml.eos_token_id", eos) ||
            vl_gw_add_u32(w, "tokenizer.ggml.padding_token_id", pad) ||
            vl_gw_add_u32(w, "tokenizer.ggml.bos_token_id", bos) || vl_gw_add_bool(w, "tokenizer.ggml.add_bos_token", 0) ||
            vl_gw_add_str(w, "tokenizer.chat_template", qwen_template))
            goto out;
    } else if (vl_gw_add_u32(w, "tokenizer.ggml.bos_token_id", bos) ||
               vl_gw_add_u32(w, "tokenizer.ggml.eos_token_id", eos) ||
               vl_gw_add_u32(w, "tokenizer.ggml.padding_token_id", pad) ||
               vl_gw_add_bool(w, "tokenizer.ggml.add_bos_token", 0) ||
               vl_gw_add_bool(w, "tokenizer.ggml.add_eos_token", 0) ||
               vl_gw_add_str(w, "tokenizer.chat_template", smolvlm_template)) {
        goto out;
    }
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
