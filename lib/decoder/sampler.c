#include "sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct cand {
    int32_t id;
    float logit;
    float p;
} cand;

struct vl_sampler {
    vl_sampler_params p;
    int32_t n_vocab;
    uint64_t rng[4];
    int32_t *history; /* ring of the last repeat_last_n tokens */
    int32_t hist_len, hist_pos;
    int32_t *counts;  /* occurrences in the window, per token */
    cand *cands;
};

/* xoshiro256** seeded through splitmix64: small, fast, reproducible. */
static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t next_u64(uint64_t s[4])
{
    const uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}

static double next_unit(uint64_t s[4]) { return (double)(next_u64(s) >> 11) * (1.0 / 9007199254740992.0); }

vllm_status vl_sampler_new(int32_t n_vocab, const vl_sampler_params *p, vl_sampler **out)
{
    *out = NULL;
    if (n_vocab < 1) return vl_error(VLLM_ERR_INVALID_ARG, "sampler: empty vocabulary");
    if (!isfinite(p->temperature) || !isfinite(p->top_p) || !isfinite(p->min_p) || !isfinite(p->frequency_penalty) ||
        !isfinite(p->presence_penalty) || !(p->repeat_penalty > 0.0f) || !isfinite(p->repeat_penalty) ||
        p->repeat_last_n < 0 || p->repeat_last_n > (1 << 20))
        return vl_error(VLLM_ERR_INVALID_ARG,
                        "sampler: invalid parameters (a non-finite value, repeat_penalty <= 0, or repeat_last_n outside 0..%d)",
                        1 << 20);
    vl_sampler *s = calloc(1, sizeof *s);
    if (!s) return vl_error(VLLM_ERR_NOMEM, "out of memory");
    s->p = *p;
    s->n_vocab = n_vocab;
    uint64_t seed = p->seed;
    for (int i = 0; i < 4; i++) s->rng[i] = splitmix64(&seed);
    s->history = calloc((size_t)p->repeat_last_n + 1, sizeof *s->history);
    s->counts = calloc((size_t)n_vocab, sizeof *s->counts);
    s->cands = malloc((size_t)n_vocab * sizeof *s->cands);
    if (!s->history || !s->counts || !s->cands) {
        vl_sampler_free(s);
        return vl_error(VLLM_ERR_NOMEM, "out of memory");
    }
    *out = s;
    return VLLM_OK;
}

void vl_sampler_free(vl_sampler *s)
{
    if (!s) return;
    free(s->history);
    free(s->counts);
    free(s->cands);
    free(s);
}

void vl_sampler_accept(vl_sampler *s, int32_t token)
{
    if (token < 0 || token >= s->n_vocab || s->p.repeat_last_n == 0) return;
    if (s->hist_len == s->p.repeat_last_n) {
        s->counts[s->history[s->hist_pos]]--;
    } else {
        s->hist_len++;
    }
    s->history[s->hist_pos] = token;
    s->counts[token]++;
    s->hist_pos = (s->hist_pos + 1) % s->p.repeat_last_n;
}

static int penalties_on(const vl_sampler_params *p)
{
    return p->repeat_last_n > 0 && (p->repeat_penalty != 1.0f || p->frequency_penalty != 0.0f || p->presence_penalty != 0.0f);
}

static void apply_penalties(vl_sampler *s, cand *c, int32_t n)
{
    for (int32_t i = 0; i < n; i++) {
        const int32_t cnt = s->counts[c[i].id];
        if (!cnt) continue;
        float l = c[i].logit;
        l = l <= 0 ? l * s->p.repeat_penalty : l / s->p.repeat_penalty;
        l -= (float)cnt * s->p.frequency_penalty + s->p.presence_penalty;
        c[i].logit = l;
    }
}

static int by_logit_desc(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->logit != y->logit) return x->logit < y->logit ? 1 : -1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Move the k largest candidates to the front, sorted (heap selection). */
static void top_k_select(cand *c, int32_t n, int32_t k)
{
    if (k >= n) {
        qsort(c, (size_t)n, sizeof *c, by_logit_desc);
        return;
    }
    /* partial selection: keep a sorted prefix of size k by insertion while
     * scanning; O(n log k) in the typical case via a min at the end. */
    qsort(c, (size_t)k, sizeof *c, by_logit_desc);
    for (int32_t i = k; i < n; i++) {
        if (by_logit_desc(&c[i], &c[k - 1]) >= 0) continue;
        cand x = c[i];
        int32_t j = k - 1;
        while (j > 0 && by_logit_desc(&x, &c[j - 1]) < 0) {
            c[j] = c[j - 1];
            j--;
        }
        c[j] = x;
    }
}

int32_t vl_sampler_sample(vl_sampler *s, const float *logits)
{
    const vl_sampler_params *p = &s->p;
    cand *c = s->cands;
    int32_t n = s->n_vocab;
    for (int32_t i = 0; i < n; i++) c[i] = (cand){i, logits[i], 0};
    if (penalties_on(p)) apply_penalties(s, c, n);

    if (p->temperature <= 0.0f) {
        int32_t best = 0;
        for (int32_t i = 1; i < n; i++)
            if (c[i].logit > c[best].logit) best = i;
        return c[best].id;
    }

    /* top-k (also sorts the survivors, which top-p needs) */
    top_k_select(c, n, p->top_k > 0 ? p->top_k : n);
    if (p->top_k > 0 && p->top_k < n) n = p->top_k;

    /* probabilities at temperature 1 for the filters, as llama.cpp does */
    double sum = 0.0;
    for (int32_t i = 0; i < n; i++) sum += exp((double)(c[i].logit - c[0].logit));
    for (int32_t i = 0; i < n; i++) c[i].p = (float)(exp((double)(c[i].logit - c[0].logit)) / sum);

    if (p->top_p < 1.0f) {
        double cum = 0.0;
        int32_t keep = n;
        for (int32_t i = 0; i < n; i++) {
            cum += c[i].p;
            if (cum >= p->top_p) {
                keep = i + 1;
                break;
            }
        }
        n = keep;
    }
    if (p->min_p > 0.0f) {
        const float floor_p = c[0].p * p->min_p;
        int32_t keep = 1;
        while (keep < n && c[keep].p >= floor_p) keep++;
        n = keep;
    }

    /* temperature, softmax, draw */
    sum = 0.0;
    for (int32_t i = 0; i < n; i++) {
        const double e = exp((double)(c[i].logit - c[0].logit) / (double)p->temperature);
        c[i].p = (float)e;
        sum += e;
    }
    double r = next_unit(s->rng) * sum, acc = 0.0;
    for (int32_t i = 0; i < n; i++) {
        acc += c[i].p;
        if (r < acc) return c[i].id;
    }
    return c[n - 1].id;
}
