/* Per-session causal compression state (see compress.h). */
#include "compression/compress.h"

#include <stdlib.h>
#include <string.h>

#include "compression/token_prune.h"

vllm_status vl_compress_check(const vl_compress_settings *s, const char *who)
{
    if (!(s->dedup_threshold >= 0 && s->dedup_threshold <= 1))
        return vl_error(VLLM_ERR_INVALID_ARG, "%s.dedup_threshold = %g is outside [0, 1]", who, s->dedup_threshold);
    if (!(s->prune_rate >= 0 && s->prune_rate < 1))
        return vl_error(VLLM_ERR_INVALID_ARG, "%s.prune_rate = %g is outside [0, 1)", who, s->prune_rate);
    if (s->merge != 0 && s->merge != 1)
        return vl_error(VLLM_ERR_INVALID_ARG, "%s.prune_merge = %d is not 0 or 1", who, s->merge);
    if (s->keep_override < 0) return vl_error(VLLM_ERR_INVALID_ARG, "%s: negative tokens per frame", who);
    return VLLM_OK;
}

void vl_compress_reset(vl_compress *c)
{
    c->has_sig = 0;
    c->prev_tok = c->prev_embd = 0;
    c->n_kept = c->last_pruned = 0;
}

void vl_compress_free(vl_compress *c)
{
    free(c->prev);
    free(c->scratch);
    free(c->kept);
    c->prev = c->scratch = NULL;
    c->kept = NULL;
    c->prev_cap = c->scratch_cap = 0;
    c->kept_cap = 0;
    vl_compress_reset(c);
}

vllm_status vl_compress_dedup(vl_compress *c, const uint8_t *rgb, int32_t width, int32_t height, size_t stride,
                              int *dup)
{
    *dup = 0;
    if (!(c->set.dedup_threshold > 0)) return VLLM_OK;
    vl_frame_sig sig;
    VL_TRY(vl_frame_sig_compute(rgb, width, height, stride, &sig));
    vl_compress_dedup_sig(c, &sig, dup);
    return VLLM_OK;
}

void vl_compress_dedup_sig(vl_compress *c, const vl_frame_sig *sig, int *dup)
{
    *dup = c->has_sig && vl_frame_sig_is_duplicate(&c->last_sig, sig, c->set.dedup_threshold);
    if (*dup) return;
    c->last_sig = *sig;
    c->has_sig = 1;
}

static vllm_status grow(void **p, size_t *cap, size_t bytes, const char *what)
{
    if (bytes <= *cap) return VLLM_OK;
    void *q = realloc(*p, bytes);
    if (!q) return vl_error(VLLM_ERR_NOMEM, "out of memory for %s (%zu bytes)", what, bytes);
    *p = q;
    *cap = bytes;
    return VLLM_OK;
}

vllm_status vl_compress_tokens(vl_compress *c, float *embd, int n_tok, int n_embd, int *n_out)
{
    *n_out = n_tok;
    c->n_kept = n_tok;
    c->last_pruned = 0;
    if (n_tok <= 0 || n_embd <= 0) return VLLM_OK;
    const size_t bytes = (size_t)n_tok * n_embd * sizeof(float);
    size_t kcap = (size_t)c->kept_cap * sizeof *c->kept;
    VL_TRY(grow((void **)&c->kept, &kcap, (size_t)n_tok * sizeof *c->kept, "kept token indices"));
    c->kept_cap = (int)(kcap / sizeof *c->kept);
    for (int i = 0; i < n_tok; i++) c->kept[i] = i;

    const int keep = c->set.keep_override > 0 ? (c->set.keep_override < n_tok ? c->set.keep_override : n_tok)
                                              : vl_prune_keep_count(n_tok, c->set.prune_rate);
    const int have_ref = c->prev_tok == n_tok && c->prev_embd == n_embd;
    if (keep < n_tok && have_ref) {
        VL_TRY(grow((void **)&c->scratch, &c->scratch_cap, bytes + (size_t)n_tok * sizeof(float), "token scratch"));
        float *d = c->scratch + (size_t)n_tok * n_embd;
        vl_token_dissimilarity(embd, c->prev, n_tok, n_embd, d);
        c->n_kept = vl_token_select(d, n_tok, keep, c->kept);
    }
    /* the reference is this frame's full projection (EVS compares
     * consecutive kept frames, not what survived pruning) */
    VL_TRY(grow((void **)&c->prev, &c->prev_cap, bytes, "previous frame tokens"));
    memcpy(c->prev, embd, bytes);
    c->prev_tok = n_tok;
    c->prev_embd = n_embd;
    if (c->n_kept == n_tok) return VLLM_OK;

    if (c->set.merge) {
        VL_TRY(vl_token_merge(c->prev, n_tok, n_embd, c->kept, c->n_kept, c->scratch, NULL));
        memcpy(embd, c->scratch, (size_t)c->n_kept * n_embd * sizeof(float));
    } else {
        vl_token_gather(embd, n_embd, c->kept, c->n_kept, embd);
    }
    c->last_pruned = n_tok - c->n_kept;
    *n_out = c->n_kept;
    return VLLM_OK;
}
