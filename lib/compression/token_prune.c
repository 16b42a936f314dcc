/* EVS-style token selection and within-frame merging (see token_prune.h). */
#include "compression/token_prune.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int vl_prune_keep_count(int n_tok, float rate)
{
    if (n_tok <= 0) return 0;
    if (!(rate > 0)) return n_tok;
    if (rate >= 1) return 1;
    int drop = (int)floor((double)rate * n_tok);
    return n_tok - drop < 1 ? 1 : n_tok - drop;
}

static double dot(const float *a, const float *b, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* cosine with zero-vector conventions: both zero = identical (1), one zero = unrelated (0) */
static double cosine(const float *a, const float *b, int n, double na, double nb)
{
    if (na == 0 && nb == 0) return 1;
    if (na == 0 || nb == 0) return 0;
    return dot(a, b, n) / (na * nb);
}

void vl_token_dissimilarity(const float *cur, const float *prev, int n_tok, int n_embd, float *d)
{
    for (int i = 0; i < n_tok; i++) {
        const float *a = cur + (size_t)i * n_embd, *b = prev + (size_t)i * n_embd;
        d[i] = (float)(1.0 - cosine(a, b, n_embd, sqrt(dot(a, a, n_embd)), sqrt(dot(b, b, n_embd))));
    }
}

/* Ranks score a before b: larger first, NaN last, ties by lower index. */
static int ranks_before(const float *d, int32_t a, int32_t b)
{
    const int na = d[a] != d[a], nb = d[b] != d[b];
    if (na != nb) return nb;
    if (!na && d[a] != d[b]) return d[a] > d[b];
    return a < b;
}

int vl_token_select(const float *d, int n_tok, int keep, int32_t *kept)
{
    if (keep <= 0 || n_tok <= 0) return 0;
    if (keep > n_tok) keep = n_tok;
    /* Partial selection by insertion into a sorted list of `keep`: frames
     * have tens to hundreds of tokens, so O(n·keep) is cheaper than
     * allocating for a heap. */
    int n = 0;
    for (int32_t i = 0; i < n_tok; i++) {
        if (n == keep && !ranks_before(d, i, kept[n - 1])) continue;
        int pos = n < keep ? n++ : keep - 1;
        while (pos > 0 && ranks_before(d, i, kept[pos - 1])) {
            kept[pos] = kept[pos - 1];
            pos--;
        }
        kept[pos] = i;
    }
    /* back to grid order */
    for (int a = 1; a < n; a++) {
        int32_t v = kept[a];
        int b = a;
        for (; b > 0 && kept[b - 1] > v; b--) kept[b] = kept[b - 1];
        kept[b] = v;
    }
    return n;
}

void vl_token_gather(const float *cur, int n_embd, const int32_t *kept, int n_kept, float *out)
{
    for (int j = 0; j < n_kept; j++)
        if (out + (size_t)j * n_embd != cur + (size_t)kept[j] * n_embd)
            memmove(out + (size_t)j * n_embd, cur + (size_t)kept[j] * n_embd, (size_t)n_embd * sizeof *out);
}

vllm_status vl_token_merge(const float *cur, int n_tok, int n_embd, const int32_t *kept, int n_kept, float *out,
                           int32_t *assign)
{
    if (n_tok <= 0 || n_embd <= 0 || n_kept <= 0 || n_kept > n_tok)
        return vl_error(VLLM_ERR_INVALID_ARG, "token merge: %d tokens of %d, %d kept", n_tok, n_embd, n_kept);
    double *norm = malloc((size_t)n_tok * sizeof *norm);
    int32_t *count = malloc((size_t)n_kept * sizeof *count);
    int32_t *slot = malloc((size_t)n_tok * sizeof *slot); /* token -> kept row, -1 if dropped */
    if (!norm || !count || !slot) {
        free(norm);
        free(count);
        free(slot);
        return vl_error(VLLM_ERR_NOMEM, "out of memory merging %d tokens", n_tok);
    }
    for (int i = 0; i < n_tok; i++) {
        const float *a = cur + (size_t)i * n_embd;
        norm[i] = sqrt(dot(a, a, n_embd));
        slot[i] = -1;
    }
    vllm_status st = VLLM_OK;
    for (int j = 0; j < n_kept; j++) {
        if (kept[j] < 0 || kept[j] >= n_tok || (j > 0 && kept[j] <= kept[j - 1])) {
            st = vl_error(VLLM_ERR_INVALID_ARG, "token merge: kept[%d] = %d is not ascending within 0..%d", j, kept[j],
                          n_tok - 1);
            goto done;
        }
        slot[kept[j]] = j;
        count[j] = 1;
        memcpy(out + (size_t)j * n_embd, cur + (size_t)kept[j] * n_embd, (size_t)n_embd * sizeof *out);
    }
    /* sums first (out holds the kept token itself), divided at the end;
     * similarity is measured against the kept token as projected, not
     * against the running mean, so the result does not depend on the
     * order dropped tokens are visited */
    for (int i = 0; i < n_tok; i++) {
        if (assign) assign[i] = slot[i];
        if (slot[i] >= 0) continue;
        const float *a = cur + (size_t)i * n_embd;
        int best = -1;
        double best_cos = 0;
        for (int j = 0; j < n_kept; j++) {
            const double c = cosine(a, cur + (size_t)kept[j] * n_embd, n_embd, norm[i], norm[kept[j]]);
            if (c > best_cos) best_cos = c, best = j;
        }
        if (best < 0) continue;
        float *o = out + (size_t)best * n_embd;
        for (int e = 0; e < n_embd; e++) o[e] += a[e];
        count[best]++;
        if (assign) assign[i] = best;
    }
    for (int j = 0; j < n_kept; j++)
        if (count[j] > 1) {
            const float inv = 1.0f / (float)count[j];
            float *o = out + (size_t)j * n_embd;
            for (int e = 0; e < n_embd; e++) o[e] *= inv;
        }
done:
    free(norm);
    free(count);
    free(slot);
    return st;
}
