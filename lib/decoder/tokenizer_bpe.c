/* Byte-level BPE (tokenizer.ggml.model = "gpt2"), as llama.cpp's
 * llm_tokenizer_bpe_session: pre-tokenize into words, map every byte of a
 * word to its GPT-2 codepoint, then inside each word repeatedly merge the
 * adjacent pair with the lowest merge rank (leftmost first on ties). */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"
#include "bigram_queue.h"
#include "unicode.h"

typedef struct sym {
    int32_t prev, next;
    uint32_t off, n;     /* bytes in the encoded word */
    int32_t id;          /* token of this text, -1 if none */
} sym;

typedef struct bpe_work {
    uint32_t *cpt;
    uint16_t *flg;
    vl_sizes words, tmp;
    char *enc;          /* one encoded word */
    size_t enc_cap;
    sym *syms;
    size_t syms_cap;
    vl_bigram_queue heap;
} bpe_work;

static vllm_status add_bigram(const vl_tokenizer *t, bpe_work *w, int32_t l, int32_t r)
{
    if (l < 0 || r < 0) return VLLM_OK;
    const sym *a = &w->syms[l], *b = &w->syms[r];
    if (a->id < 0 || b->id < 0) return VLLM_OK;  /* merges only join tokens (checked at load) */
    const vl_merge_slot *m = vl_merge_lookup(t, a->id, b->id);
    if (!m) return VLLM_OK;
    vl_bigram g = {(double)m->rank, l, r, (uint32_t)(a->n + b->n), m->result};
    return vl_bigram_push(&w->heap, g);
}

static vllm_status encode_word(const vl_tokenizer *t, bpe_work *w, const uint32_t *cpt, size_t ncpt, vl_tokens *out)
{
    /* word -> UTF-8 -> one GPT-2 codepoint per byte */
    size_t need = ncpt * 4 * 2;
    if (need > w->enc_cap) {
        char *e = realloc(w->enc, need);
        if (!e) return vl_error(VLLM_ERR_NOMEM, "tokenizer: cannot allocate %zu bytes for a word", need);
        w->enc = e;
        w->enc_cap = need;
    }
    if (ncpt * 4 > w->syms_cap) {
        sym *s = realloc(w->syms, ncpt * 4 * sizeof *s);
        if (!s) return vl_error(VLLM_ERR_NOMEM, "tokenizer: cannot allocate BPE symbols");
        w->syms = s;
        w->syms_cap = ncpt * 4;
    }
    size_t elen = 0, ns = 0;
    for (size_t i = 0; i < ncpt; i++) {
        char u[4];
        size_t k = vl_utf8_encode(cpt[i], u);
        for (size_t j = 0; j < k; j++) {
            uint8_t byte = (uint8_t)u[j];
            size_t m = vl_utf8_encode(vl_gpt2_byte_to_cpt(byte), w->enc + elen);
            sym *s = &w->syms[ns];
            s->prev = (int32_t)ns - 1;
            s->next = (int32_t)ns + 1;
            s->off = (uint32_t)elen;
            s->n = (uint32_t)m;
            s->id = t->bpe_byte_sym[byte];
            ns++;
            elen += m;
        }
    }
    if (ns == 0) return VLLM_OK;
    w->syms[ns - 1].next = -1;

    if (t->pre_info.ignore_merges) {
        int32_t id = vl_tok_lookup(t, w->enc, elen);
        if (id >= 0) return vl_tokens_push(out, id);
    }

    w->heap.n = 0;
    for (size_t i = 1; i < ns; i++) VL_TRY(add_bigram(t, w, (int32_t)i - 1, (int32_t)i));
    while (w->heap.n) {
        vl_bigram g = vl_bigram_pop(&w->heap);
        sym *l = &w->syms[g.left], *r = &w->syms[g.right];
        /* stale entry: a side was merged away or grew since it was queued */
        if (l->n == 0 || r->n == 0 || l->n + r->n != g.size) continue;
        l->n += r->n;
        l->id = g.result;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) w->syms[r->next].prev = g.left;
        VL_TRY(add_bigram(t, w, l->prev, g.left));
        VL_TRY(add_bigram(t, w, g.left, l->next));
    }

    for (int32_t i = 0; i != -1; i = w->syms[i].next) {
        const sym *s = &w->syms[i];
        if (s->n == 0) continue;
        if (s->id >= 0) {
            VL_TRY(vl_tokens_push(out, s->id));
            continue;
        }
        /* llama.cpp falls back to tokens made of single raw bytes of the
         * encoded text, silently dropping bytes that have none */
        for (uint32_t j = 0; j < s->n; j++) {
            int32_t id = t->bpe_raw_byte[(uint8_t)w->enc[s->off + j]];
            if (id >= 0) VL_TRY(vl_tokens_push(out, id));
        }
    }
    return VLLM_OK;
}

vllm_status vl_bpe_encode(const vl_tokenizer *t, const char *text, size_t len, vl_tokens *out)
{
    bpe_work w;
    memset(&w, 0, sizeof w);
    vllm_status st = VLLM_OK;
    if (len == 0) return VLLM_OK;
    w.cpt = malloc(len * sizeof *w.cpt);
    w.flg = malloc(len * sizeof *w.flg);
    if (!w.cpt || !w.flg) {
        st = vl_error(VLLM_ERR_NOMEM, "tokenizer: cannot allocate %zu codepoints", len);
        goto done;
    }
    size_t n = 0, off = 0;
    while (off < len) {
        w.cpt[n] = vl_utf8_next(text, len, &off);
        w.flg[n] = vl_cpt_flags(w.cpt[n]);
        n++;
    }
    st = vl_pretokenize(t->pre_info.kind, w.cpt, w.flg, n, &w.words, &w.tmp);
    if (st != VLLM_OK) goto done;
    size_t start = 0;
    for (size_t i = 0; i < w.words.n && st == VLLM_OK; i++) {
        st = encode_word(t, &w, w.cpt + start, w.words.v[i], out);
        start += w.words.v[i];
    }
done:
    free(w.cpt);
    free(w.flg);
    free(w.words.v);
    free(w.tmp.v);
    free(w.enc);
    free(w.syms);
    free(w.heap.v);
    return st;
}
