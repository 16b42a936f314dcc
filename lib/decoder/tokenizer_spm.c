/* SentencePiece-style BPE (tokenizer.ggml.model = "llama"), as llama.cpp's
 * llm_tokenizer_spm_session: start from UTF-8 characters, repeatedly merge
 * the adjacent pair whose concatenation is the highest-scoring token
 * (leftmost first on ties), then emit each symbol as its token or, failing
 * that, as <0xXX> byte tokens. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"
#include "bigram_queue.h"
#include "unicode.h"

typedef struct sym {
    int32_t prev, next;
    size_t off, n;
} sym;

static vllm_status add_bigram(const vl_tokenizer *t, const char *text, sym *s, vl_bigram_queue *h, int32_t l, int32_t r)
{
    if (l < 0 || r < 0) return VLLM_OK;
    /* neighbours are contiguous, so the pair's text is one span */
    size_t size = s[l].n + s[r].n;
    int32_t id = vl_tok_lookup(t, text + s[l].off, size);
    if (id < 0) return VLLM_OK;
    vl_bigram g = {-(double)t->score[id], l, r, (uint32_t)size, -1};
    return vl_bigram_push(h, g);
}

vllm_status vl_spm_encode(const vl_tokenizer *t, const char *text, size_t len, vl_tokens *out)
{
    if (len == 0) return VLLM_OK;
    vllm_status st = VLLM_OK;
    vl_bigram_queue h = { 0, 0, 0 };
    sym *s = malloc(len * sizeof *s);
    if (!s) return vl_error(VLLM_ERR_NOMEM, "tokenizer: cannot allocate %zu SPM symbols", len);
    int32_t ns = 0;
    for (size_t off = 0; off < len; ns++) {
        size_t n = vl_utf8_len((unsigned char)text[off]);
        if (n > len - off) n = len - off;
        s[ns].off = off;
        s[ns].n = n;
        s[ns].prev = ns - 1;
        off += n;
        s[ns].next = off == len ? -1 : ns + 1;
    }
    for (int32_t i = 1; i < ns && st == VLLM_OK; i++) st = add_bigram(t, text, s, &h, i - 1, i);
    while (h.n && st == VLLM_OK) {
        vl_bigram g = vl_bigram_pop(&h);
        sym *l = &s[g.left], *r = &s[g.right];
        /* stale entry: a side was merged away or grew since it was queued */
        if (l->n == 0 || r->n == 0 || l->n + r->n != g.size) continue;
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) s[r->next].prev = g.left;
        st = add_bigram(t, text, s, &h, l->prev, g.left);
        if (st == VLLM_OK) st = add_bigram(t, text, s, &h, g.left, l->next);
    }
    for (int32_t i = 0; i != -1 && st == VLLM_OK; i = s[i].next) {
        int32_t id = vl_tok_lookup(t, text + s[i].off, s[i].n);
        if (id >= 0) {
            st = vl_tokens_push(out, id);
            continue;
        }
        for (size_t j = 0; j < s[i].n && st == VLLM_OK; j++) {
            uint8_t b = (uint8_t)text[s[i].off + j];
            id = t->byte_token[b];
            if (id < 0) id = t->unk; /* llama.cpp would throw here: no byte token */
            if (id < 0) {
                st = vl_error(VLLM_ERR_FORMAT,
                              "tokenizer: vocabulary has no byte token <0x%02X> and no unknown token", b);
                break;
            }
            st = vl_tokens_push(out, id);
        }
    }
    free(s);
    free(h.v);
    return st;
}
