/* The causal compression state a session keeps between frames: the last
 * kept frame's signature (dedup) and projected tokens (pruning), plus the
 * settings in force. Pure of any session or model type so it is testable
 * on its own; session_media.c calls it at two hooks:
 *
 *   if (vl_compress_dedup(c, rgb, w, h, stride, &dup), dup) skip the frame;
 *   encode -> embd (T x E)
 *   vl_compress_tokens(c, embd, T, E, &n)   embd now holds n tokens to evaluate
 */
#ifndef VL_COMPRESSION_COMPRESS_H
#define VL_COMPRESSION_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

#include "compression/frame_sig.h"

typedef struct vl_compress_settings {
    float dedup_threshold;  /* 0 = off; else frame_sig distance (fraction of full-scale luma) */
    float prune_rate;       /* q in [0,1); 0 = off */
    int32_t merge;          /* 1: merge dropped tokens instead of dropping them */
    int32_t keep_override;  /* > 0: tokens kept per frame, instead of the rate (the budget sets it) */
} vl_compress_settings;

typedef struct vl_compress {
    vl_compress_settings set;
    int has_sig;
    vl_frame_sig last_sig;    /* last kept frame */
    float *prev;              /* last kept frame's projected tokens (all T, before pruning) */
    size_t prev_cap;
    int prev_tok, prev_embd;  /* shape of prev; 0 = no reference */
    float *scratch;           /* T x E merge output, T scores */
    size_t scratch_cap;
    int32_t *kept;            /* indices kept in the last frame (grid order) */
    int kept_cap;
    int n_kept;               /* of the last frame handed to vl_compress_tokens */
    int last_pruned;          /* tokens removed from the last frame */
} vl_compress;

/* Validate user-facing values (names appear in the message). */
vllm_status vl_compress_check(const vl_compress_settings *s, const char *who);

/* Forget the reference frame (new video, session reset); keeps settings. */
void vl_compress_reset(vl_compress *c);
void vl_compress_free(vl_compress *c);

/* Dedup hook: *dup = 1 when the frame is a near-duplicate of the last kept
 * one (and it is then NOT recorded); otherwise the frame becomes the last
 * kept one. With dedup off it only sets *dup = 0 (no signature work). */
vllm_status vl_compress_dedup(vl_compress *c, const uint8_t *rgb, int32_t width, int32_t height, size_t stride,
                              int *dup);
/* The same decision for a frame whose signature was computed elsewhere
 * (a decoding thread): only call it with dedup on. */
void vl_compress_dedup_sig(vl_compress *c, const vl_frame_sig *sig, int *dup);

/* Pruning hook on one frame's projected tokens (n_tok x n_embd, in place):
 * records them as the next reference, then, when pruning is on and a
 * reference of the same shape exists, keeps the most changed tokens (or
 * merges) and compacts them to the front. *n_out: tokens left.
 * c->kept / c->n_kept describe which grid cells survived. */
vllm_status vl_compress_tokens(vl_compress *c, float *embd, int n_tok, int n_embd, int *n_out);

#endif
