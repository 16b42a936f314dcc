/* Per-video visual-token budget (`--video-max-tokens`): choose how many
 * frames to sample and how many tokens each keeps so the video's visual
 * tokens fit.
 *
 * Cost of n frames keeping k of T tokens each, with the first frame kept
 * whole (pruning needs a reference frame):  T + (n-1)·k  (n·T when k = T).
 * Policy, in order:
 *  1. fits as planned: nothing changes;
 *  2. fewer frames at the planned k, down to a floor of
 *     min(planned, VL_BUDGET_MIN_FRAMES) (temporal coverage matters more
 *     than detail for "what happens" questions, but below the floor whole
 *     events vanish between samples);
 *  3. at the floor, prune harder: the largest k >= 1 that fits;
 *  4. still too big (budget below floor frames at one token each): fewer
 *     frames than the floor at one token each.
 * A budget below one whole frame (T) is an error. Dedup is not counted in
 * advance (it can only lower the total). Only visual tokens count, not
 * the "Frame from MM:SS:" labels and markers around them. */
#ifndef VL_COMPRESSION_BUDGET_H
#define VL_COMPRESSION_BUDGET_H

#include <stdint.h>

#include "core/error.h"

#define VL_BUDGET_MIN_FRAMES 16

typedef struct vl_budget_plan {
    int32_t n_frames;       /* frames to sample */
    int32_t keep_per_frame; /* tokens kept per frame after the first (== T: no pruning) */
} vl_budget_plan;

/* Visual tokens of n frames keeping k of T (first frame whole). */
int64_t vl_budget_cost(int32_t n_frames, int32_t tokens_per_frame, int32_t keep);

/* planned >= 1 frames of T >= 1 tokens, keep in [1, T] from the prune
 * rate; max_tokens <= 0: no budget (plan unchanged). */
vllm_status vl_budget_plan_video(int32_t planned, int32_t tokens_per_frame, int32_t keep, int32_t max_tokens,
                                 vl_budget_plan *out);

#endif
