/* Text -> token ids: special-token partitioning (llama.cpp's
 * tokenizer_st_partition), BOS/EOS, and dispatch of the remaining raw text
 * to the BPE or SPM tokenizer. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

/* A piece of the input: either a matched special token or raw text. */
typedef struct frag {
    int32_t token;   /* -1 for raw text */
    size_t off, len;
} frag;

typedef struct frags {
    frag *v;
    size_t n, cap;
} frags;

static vllm_status frag_push(frags *f, int32_t token, size_t off, size_t len)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        frag *v = realloc(f->v, cap * sizeof *v);
        if (!v) return vl_error(VLLM_ERR_NOMEM, "tokenizer: cannot grow the fragment list");
        f->v = v;
        f->cap = cap;
    }
    f->v[f->n].token = token;
    f->v[f->n].off = off;
    f->v[f->n].len = len;
    f->n++;
    return VLLM_OK;
}

/* C-locale isspace, as llama.cpp's lstrip/rstrip use it */
static int c_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }

/* Split every raw fragment at every occurrence of one special token (left
 * to right, non-overlapping), honouring its lstrip/rstrip attributes. */
static vllm_status split_on(const vl_tokenizer *t, const char *text, int32_t id, const frags *in, frags *out)
{
    size_t tl;
    const char *tok = vl_tok_text(t, id, &tl);
    uint16_t attr = t->attr[id];
    out->n = 0;
    for (size_t i = 0; i < in->n; i++) {
        frag f = in->v[i];
        if (f.token >= 0 || f.len < tl) {
            VL_TRY(frag_push(out, f.token, f.off, f.len));
            continue;
        }
        size_t off = f.off, len = f.len;
        for (;;) {
            const char *m = len >= tl ? memmem(text + off, len, tok, tl) : NULL;
            if (!m) {
                if (len > 0) VL_TRY(frag_push(out, -1, off, len));
                break;
            }
            size_t at = (size_t)(m - text);
            if (at > off) {
                size_t ll = at - off;
                if (attr & VL_ATTR_LSTRIP)
                    while (ll > 0 && c_space(text[off + ll - 1])) ll--;
                if (ll > 0) VL_TRY(frag_push(out, -1, off, ll));
            }
            VL_TRY(frag_push(out, id, 0, 0));
            size_t end = off + len;
            off = at + tl;
            len = end - off;
            if (len > 0 && (attr & VL_ATTR_RSTRIP))
                while (len > 0 && c_space(text[off])) off++, len--;
        }
    }
    return VLLM_OK;
}

static vllm_status partition(const vl_tokenizer *t, const char *text, size_t len, int parse_special, frags *a, frags *b)
{
    a->n = 0;
    if (len == 0) return VLLM_OK;
    VL_TRY(frag_push(a, -1, 0, len));
    for (size_t s = 0; s < t->n_special; s++) {
        int32_t id = t->special[s];
        /* without parse_special only USER_DEFINED tokens are matched */
        if (!parse_special && (t->attr[id] & (VL_ATTR_CONTROL | VL_ATTR_UNKNOWN))) continue;
        VL_TRY(split_on(t, text, id, a, b));
        frags tmp = *a;
        *a = *b;
        *b = tmp;
    }
    return VLLM_OK;
}

static vllm_status encode_spm_fragment(const vl_tokenizer *t, const char *s, size_t n, int prefix, vl_tokens *out)
{
    /* " " prefix (after BOS/start or a special token) and every space as
     * U+2581, exactly as llama.cpp prepares SPM text */
    size_t spaces = prefix;
    for (size_t i = 0; i < n; i++) spaces += s[i] == ' ';
    size_t m = n + prefix + spaces * 2;
    char *buf = malloc(m ? m : 1);
    if (!buf) return vl_error(VLLM_ERR_NOMEM, "tokenizer: cannot allocate %zu bytes", m);
    size_t k = 0;
    if (prefix) {
        memcpy(buf, "\xe2\x96\x81", 3);
        k = 3;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ') {
            memcpy(buf + k, "\xe2\x96\x81", 3);
            k += 3;
        } else {
            buf[k++] = s[i];
        }
    }
    vllm_status st = vl_spm_encode(t, buf, k, out);
    free(buf);
    return st;
}

static vllm_status encode(const vl_tokenizer *t, const char *text, size_t len, int add_special, int parse_special,
                          vl_tokens *out, frags *a, frags *b)
{
    VL_TRY(partition(t, text, len, parse_special, a, b));
    if (add_special && t->add_bos) VL_TRY(vl_tokens_push(out, t->bos));
    int prev_special = 1; /* SPM: a space prefix at the start and after specials */
    for (size_t i = 0; i < a->n; i++) {
        const frag *f = &a->v[i];
        if (f->token >= 0) {
            VL_TRY(vl_tokens_push(out, f->token));
            prev_special = 1;
            continue;
        }
        if (t->spm) {
            VL_TRY(encode_spm_fragment(t, text + f->off, f->len, t->add_space_prefix && prev_special, out));
            prev_special = 0;
        } else {
            VL_TRY(vl_bpe_encode(t, text + f->off, f->len, out));
        }
    }
    if (add_special && t->add_eos) VL_TRY(vl_tokens_push(out, t->eos));
    return VLLM_OK;
}

vllm_status vl_tokenizer_encode(const vl_tokenizer *t, const char *text, size_t len, int add_special,
                                int parse_special, vl_tokens *out)
{
    if (!t || !out || (!text && len)) return vl_error(VLLM_ERR_INVALID_ARG, "vl_tokenizer_encode: NULL argument");
    /* keeps every internal index (int32 symbol links, escaped SPM text)
     * far from overflow */
    if (len > ((size_t)1 << 28))
        return vl_error(VLLM_ERR_INVALID_ARG, "tokenizer: text of %zu bytes is too long to tokenize at once", len);
    frags a = { 0, 0, 0 }, b = { 0, 0, 0 };
    size_t n0 = out->n;
    vllm_status st = encode(t, text ? text : "", len, add_special, parse_special, out, &a, &b);
    free(a.v);
    free(b.v);
    if (vllm_is_error(st)) out->n = n0;
    return st;
}
