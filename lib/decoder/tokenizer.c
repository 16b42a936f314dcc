/* Loading a tokenizer from tokenizer.ggml.* metadata, with llama.cpp's
 * defaults and special-token rules (llama_vocab::impl::load), plus the
 * per-token queries (pieces, EOG, lookups). Encoding lives in
 * tokenizer_encode.c, tokenizer_bpe.c and tokenizer_spm.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/model_limits.h"
#include "tokenizer_internal.h"
#include "unicode.h"

#define KEY_PREFIX "tokenizer.ggml."

/* ---- hashing ------------------------------------------------------------- */

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h ^ (h >> 29);
}

static uint64_t hash_u64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

static size_t table_size(size_t n)
{
    size_t sz = 16;
    while (sz < n * 2) sz *= 2;
    return sz;
}

int32_t vl_tok_lookup(const vl_tokenizer *t, const char *s, size_t len)
{
    size_t i = (size_t)hash_bytes(s, len) & t->tok_mask;
    for (;;) {
        uint32_t v = t->tok_slot[i];
        if (!v) return -1;
        size_t n;
        const char *p = vl_tok_text(t, (int32_t)(v - 1), &n);
        if (n == len && memcmp(p, s, len) == 0) return (int32_t)(v - 1);
        i = (i + 1) & t->tok_mask;
    }
}

const vl_merge_slot *vl_merge_lookup(const vl_tokenizer *t, int32_t left, int32_t right)
{
    if (!t->merge) return NULL;
    uint64_t key = ((uint64_t)(uint32_t)left << 32) | (uint32_t)right;
    size_t i = (size_t)hash_u64(key) & t->merge_mask;
    for (;;) {
        const vl_merge_slot *m = &t->merge[i];
        if (m->key == UINT64_MAX) return NULL;
        if (m->key == key) return m;
        i = (i + 1) & t->merge_mask;
    }
}

vllm_status vl_tokens_push(vl_tokens *out, int32_t id)
{
    if (out->n == out->cap) {
        size_t cap = out->cap ? out->cap * 2 : 64;
        int32_t *v = realloc(out->ids, cap * sizeof *v);
        if (!v) return vl_error(VLLM_ERR_NOMEM, "tokenizer: cannot grow the token list to %zu", cap);
        out->ids = v;
        out->cap = cap;
    }
    out->ids[out->n++] = id;
    return VLLM_OK;
}

/* ---- small helpers --------------------------------------------------------- */

static int text_is(const vl_tokenizer *t, int32_t id, const char *s)
{
    size_t n;
    const char *p = vl_tok_text(t, id, &n);
    return n == strlen(s) && memcmp(p, s, n) == 0;
}

static int32_t find_cstr(const vl_tokenizer *t, const char *s) { return vl_tok_lookup(t, s, strlen(s)); }

static int in_list(const vl_tokenizer *t, int32_t id, const char *const *list)
{
    for (; *list; list++)
        if (text_is(t, id, *list)) return 1;
    return 0;
}

/* Lowest id whose text is in the list (llama.cpp takes whichever its hash
 * map yields first; with one candidate, as in real vocabularies, the same). */
static int32_t first_in_list(const vl_tokenizer *t, const char *const *list)
{
    int32_t best = -1;
    for (; *list; list++) {
        int32_t id = find_cstr(t, *list);
        if (id >= 0 && (best < 0 || id < best)) best = id;
    }
    return best;
}

/* ---- loading steps ------------------------------------------------------------ */

static vllm_status load_tokens(vl_tokenizer *t, const vl_gguf *g)
{
    const vl_gguf_kv *kv = vl_gguf_find(g, KEY_PREFIX "tokens");
    if (!kv) return vl_error(VLLM_ERR_FORMAT, "%s: tokenizer: missing key '" KEY_PREFIX "tokens'", g->path);
    if (kv->value.type != VL_GGUF_ARRAY || kv->value.v.arr.elem != VL_GGUF_STRING)
        return vl_error(VLLM_ERR_FORMAT, "%s: tokenizer: '" KEY_PREFIX "tokens' must be an array of strings, is %s",
                        g->path,
                        kv->value.type == VL_GGUF_ARRAY ? "an array of another type" : vl_gguf_vtype_name(kv->value.type));
    uint64_t n = kv->value.v.arr.n;
    if (n == 0) return vl_error(VLLM_ERR_FORMAT, "%s: tokenizer: '" KEY_PREFIX "tokens' is empty", g->path);
    if (n > VL_LIMIT_TEXT_VOCAB)
        return vl_error(VLLM_ERR_FORMAT, "%s: tokenizer: '" KEY_PREFIX "tokens' has %llu tokens, above the supported %d",
                        g->path, (unsigned long long)n, VL_LIMIT_TEXT_VOCAB);
    const vl_str *strs = kv->value.v.arr.strs;
    size_t total = 0;
    for (uint64_t i = 0; i < n; i++) {
        /* an empty token becomes "[EMPTY_<id>]", as in llama.cpp */
        total += strs[i].len ? (size_t)strs[i].len : 32;
    }
    t->n_vocab = (int32_t)n;
    t->text = malloc(total ? total : 1);
    t->text_off = malloc((n + 1) * sizeof *t->text_off);
    t->score = calloc(n, sizeof *t->score);
    t->attr = malloc(n * sizeof *t->attr);
    t->eog = calloc(n, 1);
    size_t slots = table_size(n);
    t->tok_slot = calloc(slots, sizeof *t->tok_slot);
    t->tok_mask = slots - 1;
    if (!t->text || !t->text_off || !t->score || !t->attr || !t->eog || !t->tok_slot)
        return vl_error(VLLM_ERR_NOMEM, "tokenizer: cannot allocate a vocabulary of %llu tokens",
                        (unsigned long long)n);
    size_t off = 0;
    for (uint64_t i = 0; i < n; i++) {
        t->text_off[i] = off;
        if (strs[i].len) {
            memcpy(t->text + off, strs[i].ptr, strs[i].len);
            off += strs[i].len;
        } else {
            off += (size_t)snprintf(t->text + off, 32, "[EMPTY_%llu]", (unsigned long long)i);
        }
        t->attr[i] = VL_ATTR_NORMAL;
    }
    t->text_off[n] = off;
    for (uint64_t i = 0; i < n; i++) {
        size_t len;
        const char *s = vl_tok_text(t, (int32_t)i, &len);
        size_t h = (size_t)hash_bytes(s, len) & t->tok_mask;
        for (;;) {
            uint32_t v = t->tok_slot[h];
            if (!v) break;
            size_t l2;
            const char *s2 = vl_tok_text(t, (int32_t)(v - 1), &l2);
            if (l2 == len && memcmp(s, s2, len) == 0)
                return vl_error(VLLM_ERR_FORMAT, "%s: tokenizer: duplicate token '%.*s' at ids %u and %llu", g->path,
                                (int)(len > 64 ? 64 : len), s, v - 1, (unsigned long long)i);
            h = (h + 1) & t->tok_mask;
        }
        t->tok_slot[h] = (uint32_t)(i + 1);
    }
    return VLLM_OK;
}

static vllm_status load_scores_types(vl_tokenizer *t, const vl_gguf *g)
{
    const vl_gguf_kv *kv = vl_gguf_find(g, KEY_PREFIX "scores");
    if (kv) {
        if (kv->value.type != VL_GGUF_ARRAY ||
            (kv->value.v.arr.elem != VL_GGUF_FLOAT32 && kv->value.v.arr.elem != VL_GGUF_INT32))
            return vl_error(VLLM_ERR_FORMAT, "%s: tokenizer: '" KEY_PREFIX "scores' must be an array of float32 or int32",
                            g->path);
        if (kv->value.v.arr.n != (uint64_t)t->n_vocab)
            return vl_error(VLLM_ERR_FORMAT, "%s: tokenizer: '" KEY_PREFIX "scores' has %llu entries for %d tokens",
                            g->path, (unsigned long long)kv->value.v.arr.n, t->n_vocab);
        for (int32_t i = 0; i < t->n_vocab; i++) t->score[i] = (float)vl_gguf_arr_float(&kv->value, (uint64_t)i);
    }
    kv = vl_gguf_find(g, KEY_PREFIX "token_type");
    if (kv) {
        if (kv->value.type != VL_GGUF_ARRAY || kv->value.v.arr.elem != VL_GGUF_INT32)
            return vl_error(VLLM_ERR_FORMAT, "%s: tokenizer: '" KEY_PREFIX "token_type' must be an array of int32",
                            g->path);
        if (kv->value.v.arr.n != (uint64_t)t->n_vocab)
            return vl_error(VLLM_ERR_FORMAT, "%s: tokenizer: '" KEY_PREFIX "token_type' has %llu entries for %d tokens",
                            g->path, (unsigned long long)kv->value.v.arr.n, t->n_vocab);
        for (int32_t i = 0; i < t->n_vocab; i++) {
            switch (vl_gguf_arr_int(&kv->value, (uint64_t)i)) {
            case 1: t->attr[i] = VL_ATTR_NORMAL; break;
            case 2: t->attr[i] = VL_ATTR_UNKNOWN; break;
            case 3: t->attr[i] = VL_ATTR_CONTROL; break;
            case 4: t->attr[i] = VL_ATTR_USER_DEFINED; break;
            case 5: t->attr[i] = VL_ATTR_UNUSED; break;
            case 6: t->attr[i] = VL_ATTR_BYTE; break;
            default: t->attr[i] = 0; break; /* undefined */
            }
        }
    }
    return VLLM_OK;
}

static vllm_status load_merges(vl_tokenizer *t, const vl_gguf *g)
{
    const vl_gguf_kv *kv = vl_gguf_find(g, KEY_PREFIX "merges");
    if (!kv) return vl_error(VLLM_ERR_FORMAT, "%s: tokenizer: missing key '" KEY_PREFIX "merges' (model gpt2)", g->path);
    if (kv->value.type != VL_GGUF_ARRAY || kv->value.v.arr.elem != VL_GGUF_STRING)
        return vl_error(VLLM_ERR_FORMAT, "%s: tokenizer: '" KEY_PREFIX "merges' must be an array of strings", g->path);
    uint64_t n = kv->value.v.arr.n;
    if (n > (uint64_t)INT32_MAX)
        return vl_error(VLLM_ERR_FORMAT, "%s: tokenizer: too many merges (%llu)", g->path, (unsigned long long)n);
    size_t slots = table_size((size_t)n);
    t->merge = malloc(slots * sizeof *t->merge);
    if (!t->merge) return vl_error(VLLM_ERR_NOMEM, "tokenizer: cannot allocate %llu merges", (unsigned long long)n);
    t->merge_mask = slots - 1;
    for (size_t i = 0; i < slots; i++) t->merge[i].key = UINT64_MAX;
    for (uint64_t i = 0; i < n; i++) {
        vl_str s = kv->value.v.arr.strs[i];
        /* llama.cpp splits at the first space after the first byte */
        const char *sp = s.len > 1 ? memchr(s.ptr + 1, ' ', s.len - 1) : NULL;
        if (!sp || (size_t)(sp - s.ptr) + 1 >= s.len)
            return vl_error(VLLM_ERR_FORMAT, "%s: tokenizer: merge %llu '%.*s' is not of the form \"left right\"",
                            g->path, (unsigned long long)i, (int)(s.len > 64 ? 64 : s.len), s.ptr);
        size_t la = (size_t)(sp - s.ptr), lb = s.len - la - 1;
        int32_t a = vl_tok_lookup(t, s.ptr, la), b = vl_tok_lookup(t, sp + 1, lb);
        if (a < 0 || b < 0)
            return vl_error(VLLM_ERR_FORMAT, "%s: tokenizer: merge %llu '%.*s' uses '%.*s', which is not a token", g->path,
                            (unsigned long long)i, (int)(s.len > 64 ? 64 : s.len), s.ptr,
                            (int)(a < 0 ? (la > 64 ? 64 : la) : (lb > 64 ? 64 : lb)), a < 0 ? s.ptr : sp + 1);
        uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
        size_t h = (size_t)hash_u64(key) & t->merge_mask;
        while (t->merge[h].key != UINT64_MAX && t->merge[h].key != key) h = (h + 1) & t->merge_mask;
        if (t->merge[h].key == key) continue; /* duplicate merge: the first (lowest rank) wins */
        /* the merged text as a token id (it always is one in real files) */
        size_t na, nb;
        const char *ta = vl_tok_text(t, a, &na), *tb = vl_tok_text(t, b, &nb);
        char stackbuf[256];
        char *cat = na + nb <= sizeof stackbuf ? stackbuf : malloc(na + nb);
        if (!cat) return vl_error(VLLM_ERR_NOMEM, "tokenizer: out of memory reading merges");
        memcpy(cat, ta, na);
        memcpy(cat + na, tb, nb);
        int32_t res = vl_tok_lookup(t, cat, na + nb);
        if (cat != stackbuf) free(cat);
        t->merge[h].key = key;
        t->merge[h].rank = (int32_t)i;
        t->merge[h].result = res;
    }
    return VLLM_OK;
}

/* One special-id key: absent keeps the default (disabled when the default
 * is outside the vocabulary, as llama.cpp does); present must be a valid id. */
static vllm_status special_id(const vl_tokenizer *t, const vl_gguf *g, const char *key, int32_t *id)
{
    if (*id >= t->n_vocab) *id = -1;
    const vl_gguf_kv *kv = vl_gguf_find(g, key);
    if (!kv) return VLLM_OK;
    int64_t v;
    VL_TRY(vl_gguf_get_int(g, key, -1, &v));
    if (v < 0 || v >= t->n_vocab)
        return vl_error(VLLM_ERR_FORMAT, "%s: tokenizer: '%s' = %lld is outside the vocabulary (0..%d)", g->path, key,
                        (long long)v, t->n_vocab - 1);
    *id = (int32_t)v;
    return VLLM_OK;
}

static void force_control(vl_tokenizer *t, int32_t id)
{
    if (id >= 0) t->attr[id] |= VL_ATTR_CONTROL;
}

static const char *const k_eot_texts[] = { "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
                                           "<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]",
                                           "<\xef\xbd\x9c" "end\xe2\x96\x81" "of\xe2\x96\x81" "sentence\xef\xbd\x9c>",
                                           "<end_of_utterance>", NULL };
static const char *const k_eom_texts[] = { "<|eom_id|>", NULL };
static const char *const k_fim_pre[] = { "<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>",
                                         "<\xef\xbd\x9c" "fim\xe2\x96\x81" "begin\xef\xbd\x9c>", "<PRE>",
                                         "\xe2\x96\x81<PRE>", "<|code_prefix|>", "<|prefix|>", NULL };
static const char *const k_fim_suf[] = { "<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>",
                                         "<\xef\xbd\x9c" "fim\xe2\x96\x81" "hole\xef\xbd\x9c>", "<SUF>",
                                         "\xe2\x96\x81<SUF>", "<|code_suffix|>", "<|suffix|>", NULL };
static const char *const k_fim_mid[] = { "<|fim_middle|>", "<fim-middle>", "<fim_middle>",
                                         "<\xef\xbd\x9c" "fim\xe2\x96\x81" "end\xef\xbd\x9c>", "<MID>",
                                         "\xe2\x96\x81<MID>", "<|code_middle|>", "<|middle|>", NULL };
static const char *const k_fim_pad[] = { "<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]", NULL };
static const char *const k_fim_rep[] = { "<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>", NULL };
static const char *const k_fim_sep[] = { "<|file_sep|>", NULL };
static const char *const k_eog_texts[] = { "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>",
                                           "<|calls|>", "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>",
                                           "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>", "<end_of_utterance>", "<eos>",
                                           "<turn|>", "<|tool_response>",
                                           "<\xef\xbd\x9c" "end\xe2\x96\x81" "of\xe2\x96\x81" "sentence\xef\xbd\x9c>",
                                           "[e~[", NULL };

/* The auto-detection block of llama_vocab::impl::load: EOT/EOM/FIM tokens
 * found by text, the end-of-generation set, and their workarounds. */
static void detect_specials(vl_tokenizer *t, int32_t fim[6])
{
    const char *const *fim_lists[6] = { k_fim_pre, k_fim_suf, k_fim_mid, k_fim_pad, k_fim_rep, k_fim_sep };
    if (t->eot < 0) {
        t->eot = first_in_list(t, k_eot_texts);
        force_control(t, t->eot);
    }
    if (t->eom < 0) {
        t->eom = first_in_list(t, k_eom_texts);
        force_control(t, t->eom);
    }
    for (int k = 0; k < 6; k++) {
        if (fim[k] < 0) {
            fim[k] = first_in_list(t, fim_lists[k]);
            force_control(t, fim[k]);
        }
    }
    for (int k = 3; k < 6; k++) /* FIM pad, repo and file separator end generation */
        if (fim[k] >= 0) t->eog[fim[k]] = 1;
    for (int32_t id = 0; id < t->n_vocab; id++) {
        if (in_list(t, id, k_eog_texts)) {
            t->eog[id] = 1;
            force_control(t, id);
        }
    }
    /* gpt-oss: these always render */
    static const char *const always_render[] = { "<|channel|>", "<|message|>", "<|start|>", "<|constrain|>", NULL };
    for (const char *const *s = always_render; *s; s++) {
        int32_t id = find_cstr(t, *s);
        if (id >= 0) t->attr[id] = VL_ATTR_USER_DEFINED;
    }
    if (t->eos >= 0) t->eog[t->eos] = 1;
    if (t->eot >= 0) t->eog[t->eot] = 1;
    if (t->eom >= 0) t->eog[t->eom] = 1;
    /* o200k_harmony / solar-open: <|end|> is not EOG when <|return|>+<|call|>
     * (or <|calls|>+<|flush|>) are */
    int32_t end_id = find_cstr(t, "<|end|>");
    int32_t ret = find_cstr(t, "<|return|>"), call = find_cstr(t, "<|call|>"), calls = find_cstr(t, "<|calls|>");
    int32_t flush = find_cstr(t, "<|flush|>");
    int has_call = (call >= 0 && t->eog[call]) || (calls >= 0 && t->eog[calls]);
    int has_return = ret >= 0 && t->eog[ret], has_flush = flush >= 0 && t->eog[flush];
    if (end_id >= 0 && t->eog[end_id] && ((has_return && has_call) || (has_call && has_flush))) {
        t->eog[end_id] = 0;
        t->attr[end_id] = VL_ATTR_USER_DEFINED;
    }
    /* gemma4 / paddleocr: </s> is not EOG when <|tool_response> is */
    int32_t tool = find_cstr(t, "<|tool_response>"), s_id = find_cstr(t, "</s>");
    if (tool >= 0 && t->eog[tool] && s_id >= 0 && t->eog[s_id]) {
        t->eog[s_id] = 0;
        t->attr[s_id] = VL_ATTR_NORMAL;
    }
}

/* Special tokens are matched longest first (ties by id). The text length
 * travels with the id because plain qsort has no context argument:
 * qsort_r is glibc's (BSD and macOS swap its arguments; bionic lacks it). */
typedef struct special_key {
    size_t len;
    int32_t id;
} special_key;

static int cmp_special(const void *a, const void *b)
{
    const special_key *x = a, *y = b;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static vllm_status sort_specials(vl_tokenizer *t)
{
    if (t->n_special < 2) return VLLM_OK;
    special_key *keys = malloc(t->n_special * sizeof *keys);
    if (!keys) return vl_error(VLLM_ERR_NOMEM, "tokenizer: cannot sort %zu special tokens", t->n_special);
    for (size_t i = 0; i < t->n_special; i++) {
        int32_t id = t->special[i];
        keys[i] = (special_key){t->text_off[id + 1] - t->text_off[id], id};
    }
    qsort(keys, t->n_special, sizeof *keys, cmp_special);
    for (size_t i = 0; i < t->n_special; i++) t->special[i] = keys[i].id;
    free(keys);
    return VLLM_OK;
}

static int contains(const char *s, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    return n >= k && memmem(s, n, needle, k) != NULL;
}

/* llama.cpp sets a few per-token strip attributes from names (phi-3's
 * specials eat the whitespace after them, some BERT-likes' <mask> eats the
 * whitespace before it). */
static vllm_status name_attributes(vl_tokenizer *t, const vl_gguf *g)
{
    vl_str name = { 0, 0 }, arch = { 0, 0 };
    VL_TRY(vl_gguf_get_str(g, "general.name", NULL, &name));
    VL_TRY(vl_gguf_get_str(g, "general.architecture", NULL, &arch));
    char lname[256];
    size_t nl = name.ptr ? (name.len < sizeof lname ? (size_t)name.len : sizeof lname) : 0;
    for (size_t i = 0; i < nl; i++) {
        char c = name.ptr[i];
        lname[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    size_t pl = strlen(t->pre);
    if (contains(t->pre, pl, "jina-v2-de") || contains(t->pre, pl, "jina-v2-es") || contains(t->pre, pl, "jina-v2-code") ||
        (arch.ptr && (contains(arch.ptr, arch.len, "nomic-bert-moe") || contains(arch.ptr, arch.len, "jina-bert-v3")))) {
        int32_t id = find_cstr(t, "<mask>");
        if (id >= 0) t->attr[id] |= VL_ATTR_LSTRIP;
    } else if (contains(lname, nl, "phi-3") || contains(lname, nl, "phi3")) {
        for (size_t i = 0; i < t->n_special; i++) t->attr[t->special[i]] |= VL_ATTR_RSTRIP;
        int32_t id = find_cstr(t, "</s>");
        if (id >= 0) t->attr[id] |= VL_ATTR_RSTRIP;
        static const char *const keep[] = { "<unk>", "<s>", "<|endoftext|>", NULL };
        for (const char *const *s = keep; *s; s++) {
            id = find_cstr(t, *s);
            if (id >= 0) t->attr[id] &= (uint16_t)~VL_ATTR_RSTRIP;
        }
    } else if (contains(lname, nl, "modern-bert")) {
        int32_t id = find_cstr(t, "[MASK]");
        if (id >= 0) t->attr[id] |= VL_ATTR_LSTRIP;
    }
    return VLLM_OK;
}

/* strtol(text.substr(3, 2), 16) of llama.cpp's token_to_byte */
static uint8_t byte_of_token(const char *s, size_t n)
{
    char buf[3] = { 0, 0, 0 };
    for (size_t i = 0; i < 2 && 3 + i < n; i++) buf[i] = s[3 + i];
    return (uint8_t)strtol(buf, NULL, 16);
}

/* Rendering with special = true (llama.cpp's token_to_piece cache). */
static size_t render(const vl_tokenizer *t, int32_t id, char *out)
{
    size_t n;
    const char *s = vl_tok_text(t, id, &n);
    uint16_t a = t->attr[id];
    if (a & (VL_ATTR_UNKNOWN | VL_ATTR_CONTROL | VL_ATTR_USER_DEFINED)) {
        if (out) memcpy(out, s, n);
        return n;
    }
    if (a & VL_ATTR_NORMAL) {
        size_t k = 0;
        if (t->spm) { /* U+2581 -> ' ' */
            for (size_t i = 0; i < n;) {
                if (n - i >= 3 && memcmp(s + i, "\xe2\x96\x81", 3) == 0) {
                    if (out) out[k] = ' ';
                    k++;
                    i += 3;
                } else {
                    if (out) out[k] = s[i];
                    k++;
                    i++;
                }
            }
            return k;
        }
        /* GPT-2 codepoints -> bytes; llama.cpp writes unmappable ones as
         * "[UNK_BYTE_0x<hex>" + the whole token text + "]" */
        for (size_t off = 0; off < n;) {
            uint32_t c = vl_utf8_next(s, n, &off);
            int b = vl_gpt2_cpt_to_byte(c);
            if (b >= 0) {
                if (out) out[k] = (char)b;
                k++;
                continue;
            }
            char u[4];
            size_t m = vl_utf8_encode(c, u);
            char head[64];
            int hl = snprintf(head, sizeof head, "[UNK_BYTE_0x");
            for (size_t j = 0; j < m; j++) hl += snprintf(head + hl, sizeof head - (size_t)hl, "%02x", (unsigned char)u[j]);
            if (out) {
                memcpy(out + k, head, (size_t)hl);
                memcpy(out + k + (size_t)hl, s, n);
                out[k + (size_t)hl + n] = ']';
            }
            k += (size_t)hl + n + 1;
        }
        return k;
    }
    if (a & VL_ATTR_BYTE) {
        if (out) out[0] = (char)byte_of_token(s, n);
        return 1;
    }
    return 0;
}

static vllm_status build_pieces(vl_tokenizer *t)
{
    size_t total = 0;
    t->piece_off = malloc(((size_t)t->n_vocab + 1) * sizeof *t->piece_off);
    if (!t->piece_off) return vl_error(VLLM_ERR_NOMEM, "tokenizer: cannot allocate token pieces");
    for (int32_t id = 0; id < t->n_vocab; id++) {
        t->piece_off[id] = total;
        total += render(t, id, NULL);
    }
    t->piece_off[t->n_vocab] = total;
    t->piece = malloc(total ? total : 1);
    if (!t->piece) return vl_error(VLLM_ERR_NOMEM, "tokenizer: cannot allocate %zu bytes of token pieces", total);
    for (int32_t id = 0; id < t->n_vocab; id++) render(t, id, t->piece + t->piece_off[id]);
    return VLLM_OK;
}

static vllm_status load(vl_tokenizer *t, const vl_gguf *g)
{
    vl_str model, pre;
    VL_TRY(vl_gguf_get_str(g, KEY_PREFIX "model", NULL, &model));
    if (!model.ptr) return vl_error(VLLM_ERR_FORMAT, "%s: tokenizer: missing key '" KEY_PREFIX "model'", g->path);
    if (vl_str_eq(model, "llama"))
        t->spm = 1;
    else if (vl_str_eq(model, "gpt2"))
        t->spm = 0;
    else
        return vl_error(VLLM_ERR_UNSUPPORTED, "%s: tokenizer: model '%.*s' is not supported (only gpt2 and llama)",
                        g->path, (int)(model.len > 64 ? 64 : model.len), model.ptr);
    snprintf(t->model, sizeof t->model, "%s", t->spm ? "llama" : "gpt2");

    VL_TRY(vl_gguf_get_str(g, KEY_PREFIX "pre", NULL, &pre));
    memset(&t->pre_info, 0, sizeof t->pre_info);
    if (t->spm || !pre.ptr || pre.len == 0) {
        /* SPM has no pre-tokenizer; a BPE file without one gets llama.cpp's
         * "default" regexes */
        snprintf(t->pre, sizeof t->pre, "default");
        t->pre_info.kind = VL_PRE_DEFAULT;
    } else {
        if (!vl_pre_lookup(pre.ptr, (size_t)pre.len, &t->pre_info))
            return vl_error(VLLM_ERR_UNSUPPORTED, "%s: tokenizer: pre-tokenizer '%.*s' is not supported", g->path,
                            (int)(pre.len > 64 ? 64 : pre.len), pre.ptr);
        snprintf(t->pre, sizeof t->pre, "%.*s", (int)pre.len, pre.ptr);
    }

    VL_TRY(load_tokens(t, g));
    VL_TRY(load_scores_types(t, g));
    if (!t->spm) VL_TRY(load_merges(t, g));

    /* defaults of llama.cpp per model type */
    t->eot = t->eom = t->pad = -1;
    if (t->spm) {
        t->bos = 1, t->eos = 2, t->unk = 0;
        t->add_bos = 1, t->add_eos = 0, t->add_space_prefix = 1;
    } else {
        t->bos = 11, t->eos = 11, t->unk = -1;
        t->add_bos = t->pre_info.add_bos, t->add_eos = 0, t->add_space_prefix = 0;
        if (t->pre_info.no_bos) t->bos = -1;
    }
    int32_t fim[6] = { -1, -1, -1, -1, -1, -1 }, sep = -1, mask = -1;
    VL_TRY(special_id(t, g, KEY_PREFIX "bos_token_id", &t->bos));
    VL_TRY(special_id(t, g, KEY_PREFIX "eos_token_id", &t->eos));
    VL_TRY(special_id(t, g, KEY_PREFIX "eot_token_id", &t->eot));
    VL_TRY(special_id(t, g, KEY_PREFIX "eom_token_id", &t->eom));
    VL_TRY(special_id(t, g, KEY_PREFIX "unknown_token_id", &t->unk));
    VL_TRY(special_id(t, g, KEY_PREFIX "seperator_token_id", &sep));
    VL_TRY(special_id(t, g, KEY_PREFIX "padding_token_id", &t->pad));
    VL_TRY(special_id(t, g, KEY_PREFIX "mask_token_id", &mask));
    VL_TRY(special_id(t, g, KEY_PREFIX "fim_pre_token_id", &fim[0]));
    VL_TRY(special_id(t, g, KEY_PREFIX "fim_suf_token_id", &fim[1]));
    VL_TRY(special_id(t, g, KEY_PREFIX "fim_mid_token_id", &fim[2]));
    VL_TRY(special_id(t, g, KEY_PREFIX "fim_pad_token_id", &fim[3]));
    VL_TRY(special_id(t, g, KEY_PREFIX "fim_rep_token_id", &fim[4]));
    VL_TRY(special_id(t, g, KEY_PREFIX "fim_sep_token_id", &fim[5]));
    VL_TRY(special_id(t, g, KEY_PREFIX "prefix_token_id", &fim[0]));
    VL_TRY(special_id(t, g, KEY_PREFIX "suffix_token_id", &fim[1]));
    VL_TRY(special_id(t, g, KEY_PREFIX "middle_token_id", &fim[2]));

    VL_TRY(vl_gguf_get_bool(g, KEY_PREFIX "add_space_prefix", t->add_space_prefix, &t->add_space_prefix));
    VL_TRY(vl_gguf_get_bool(g, KEY_PREFIX "add_bos_token", t->add_bos, &t->add_bos));
    VL_TRY(vl_gguf_get_bool(g, KEY_PREFIX "add_eos_token", t->add_eos, &t->add_eos));
    if (t->add_bos && t->bos < 0)
        return vl_error(VLLM_ERR_FORMAT, "%s: tokenizer: add_bos_token is true but there is no BOS token", g->path);
    if (t->add_eos && t->eos < 0)
        return vl_error(VLLM_ERR_FORMAT, "%s: tokenizer: add_eos_token is true but there is no EOS token", g->path);

    detect_specials(t, fim);

    /* special-token matching order: longest text first */
    t->special = malloc((size_t)t->n_vocab * sizeof *t->special);
    if (!t->special) return vl_error(VLLM_ERR_NOMEM, "tokenizer: cannot allocate the special-token list");
    for (int32_t id = 0; id < t->n_vocab; id++)
        if (t->attr[id] & (VL_ATTR_CONTROL | VL_ATTR_USER_DEFINED | VL_ATTR_UNKNOWN)) t->special[t->n_special++] = id;
    VL_TRY(sort_specials(t));

    VL_TRY(build_pieces(t));
    VL_TRY(name_attributes(t, g));

    for (int b = 0; b < 256; b++) {
        char hex[8], raw[1] = { (char)b }, sym[4];
        snprintf(hex, sizeof hex, "<0x%02X>", b);
        int32_t id = find_cstr(t, hex);
        t->byte_token[b] = id >= 0 ? id : vl_tok_lookup(t, raw, 1);
        t->bpe_byte_sym[b] = vl_tok_lookup(t, sym, vl_utf8_encode(vl_gpt2_byte_to_cpt((uint8_t)b), sym));
        t->bpe_raw_byte[b] = vl_tok_lookup(t, raw, 1);
    }
    return VLLM_OK;
}

vllm_status vl_tokenizer_load(const vl_gguf *g, vl_tokenizer **out)
{
    if (!g || !out) return vl_error(VLLM_ERR_INVALID_ARG, "vl_tokenizer_load: NULL argument");
    *out = NULL;
    vl_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return vl_error(VLLM_ERR_NOMEM, "tokenizer: out of memory");
    vllm_status st = load(t, g);
    if (vllm_is_error(st)) {
        vl_tokenizer_free(t);
        return st;
    }
    *out = t;
    return VLLM_OK;
}

void vl_tokenizer_free(vl_tokenizer *t)
{
    if (!t) return;
    free(t->text);
    free(t->text_off);
    free(t->score);
    free(t->attr);
    free(t->tok_slot);
    free(t->merge);
    free(t->special);
    free(t->piece);
    free(t->piece_off);
    free(t->eog);
    free(t);
}

/* ---- queries --------------------------------------------------------------------- */

int32_t vl_tokenizer_n_vocab(const vl_tokenizer *t) { return t->n_vocab; }

vllm_status vl_tokenizer_piece(const vl_tokenizer *t, int32_t id, int special, char *buf, size_t cap, size_t *len)
{
    if (!t || !len) return vl_error(VLLM_ERR_INVALID_ARG, "vl_tokenizer_piece: NULL argument");
    if (id < 0 || id >= t->n_vocab)
        return vl_error(VLLM_ERR_INVALID_ARG, "tokenizer: token id %d is outside the vocabulary (0..%d)", id,
                        t->n_vocab - 1);
    size_t n = 0;
    if (special || !(t->attr[id] & (VL_ATTR_UNKNOWN | VL_ATTR_CONTROL))) n = t->piece_off[id + 1] - t->piece_off[id];
    *len = n;
    if (n > cap)
        return vl_error(VLLM_ERR_BUFFER_TOO_SMALL, "tokenizer: token %d needs %zu bytes, buffer has %zu", id, n, cap);
    if (n) memcpy(buf, t->piece + t->piece_off[id], n);
    return VLLM_OK;
}

int vl_tokenizer_is_eog(const vl_tokenizer *t, int32_t id) { return id >= 0 && id < t->n_vocab && t->eog[id]; }

int vl_tokenizer_is_control(const vl_tokenizer *t, int32_t id)
{
    return id >= 0 && id < t->n_vocab && (t->attr[id] & VL_ATTR_CONTROL) != 0;
}

int32_t vl_tokenizer_bos(const vl_tokenizer *t) { return t->bos; }
int32_t vl_tokenizer_eos(const vl_tokenizer *t) { return t->eos; }
int vl_tokenizer_add_bos(const vl_tokenizer *t) { return t->add_bos; }

int32_t vl_tokenizer_find(const vl_tokenizer *t, const char *text, size_t len)
{
    if (!t || (!text && len)) return -1;
    return vl_tok_lookup(t, text ? text : "", len);
}

const char *vl_tokenizer_model(const vl_tokenizer *t) { return t->model; }
const char *vl_tokenizer_pre(const vl_tokenizer *t) { return t->pre; }
