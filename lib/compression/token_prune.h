/* Visual-token pruning and merging after the projector, per frame and
 * causal (only the previous kept frame is consulted, so it works on live
 * streams and the KV cache of earlier frames is never touched).
 *
 * EVS-style selection (as vLLM's Efficient Video Sampling, but per frame
 * instead of over the whole video): token i of a frame scores
 *     d_i = 1 - cos(cur_i, prev_i)
 * against the token at the same grid position in the previous kept
 * frame's projected tokens; the `keep` tokens with the largest d are kept,
 * in their original order (ties: the lower index wins, so selection is
 * deterministic). The first frame of a stream has no reference and is
 * kept whole (the caller does that).
 *
 * Positions: with 1-D RoPE (SmolVLM2) the kept tokens are evaluated at
 * contiguous positions right after the frame's markers, exactly as if the
 * frame had produced fewer tokens. M-RoPE families (Qwen-VL) keep each
 * kept token's original (t, row, col): vl_token_select() returns the kept
 * grid cells (vl_compress.kept), and the session places token j at the
 * positions of cell kept[j] of its block (session_media.c sink_visual);
 * text after a pruned block continues at 1 + the largest position given. */
#ifndef VL_COMPRESSION_TOKEN_PRUNE_H
#define VL_COMPRESSION_TOKEN_PRUNE_H

#include <stdint.h>

#include "core/error.h"

/* Tokens kept per frame for pruning rate q in [0,1): n_tok - floor(q·n_tok),
 * at least 1. q <= 0 (or not a number) keeps all. */
int vl_prune_keep_count(int n_tok, float rate);

/* d[i] = 1 - cos(cur_i, prev_i) for n_tok rows of n_embd floats. A zero
 * row on either side has no direction: d = 1 unless both are zero (0). */
void vl_token_dissimilarity(const float *cur, const float *prev, int n_tok, int n_embd, float *d);

/* Indices of the `keep` largest scores, ascending; returns the count
 * (min(keep, n_tok), 0 if keep <= 0). Not-a-number scores rank lowest. */
int vl_token_select(const float *d, int n_tok, int keep, int32_t *kept);

/* out row j = cur row kept[j]. `out` may alias `cur` (kept ascending). */
void vl_token_gather(const float *cur, int n_embd, const int32_t *kept, int n_kept, float *out);

/* Merging variant. Every token not in `kept` is averaged into the kept
 * token of the SAME frame it is most similar to (largest cosine); out row
 * j = mean of cur[kept[j]] and the tokens assigned to it (each original
 * token weighs 1). A dropped token whose best cosine is <= 0 (nothing
 * alike) is dropped without merging rather than corrupt an unrelated
 * token. Why within the frame: in the causal setting the token it
 * duplicates (the previous frame's, same position) is already in the KV
 * cache, and changing it would mean recomputing every later position.
 * `assign` (optional, n_tok entries) receives, for each token, the output
 * row it went into, or -1. `out` must not alias `cur`. */
vllm_status vl_token_merge(const float *cur, int n_tok, int n_embd, const int32_t *kept, int n_kept, float *out,
                           int32_t *assign);

#endif
