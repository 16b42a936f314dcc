#include "bigram_queue.h"

#include <stdlib.h>

static int before(const vl_bigram *a, const vl_bigram *b)
{
    return a->key < b->key || (a->key == b->key && a->left < b->left);
}

vllm_status vl_bigram_push(vl_bigram_queue *q, vl_bigram b)
{
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 64;
        vl_bigram *v = realloc(q->v, cap * sizeof *v);
        if (!v) return vl_error(VLLM_ERR_NOMEM, "tokenizer: cannot grow the merge queue");
        q->v = v;
        q->cap = cap;
    }
    size_t i = q->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(&b, &q->v[p])) break;
        q->v[i] = q->v[p];
        i = p;
    }
    q->v[i] = b;
    return VLLM_OK;
}

vl_bigram vl_bigram_pop(vl_bigram_queue *q)
{
    vl_bigram top = q->v[0];
    vl_bigram last = q->v[--q->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const vl_bigram *best = &last;
        if (l < q->n && before(&q->v[l], best)) m = l, best = &q->v[l];
        if (r < q->n && before(&q->v[r], best)) m = r;
        if (m == i) break;
        q->v[i] = q->v[m];
        i = m;
    }
    if (q->n) q->v[i] = last;
    return top;
}

void vl_bigram_queue_free(vl_bigram_queue *q)
{
    free(q->v);
    q->v = NULL;
    q->n = q->cap = 0;
}
