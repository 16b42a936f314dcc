/* Frame count / pruning choice for a visual-token budget (see budget.h). */
#include "compression/budget.h"

int64_t vl_budget_cost(int32_t n_frames, int32_t tokens_per_frame, int32_t keep)
{
    if (n_frames <= 0) return 0;
    if (keep >= tokens_per_frame) return (int64_t)n_frames * tokens_per_frame;
    return tokens_per_frame + (int64_t)(n_frames - 1) * keep;
}

vllm_status vl_budget_plan_video(int32_t planned, int32_t tokens_per_frame, int32_t keep, int32_t max_tokens,
                                 vl_budget_plan *out)
{
    if (planned < 1 || tokens_per_frame < 1 || keep < 1 || keep > tokens_per_frame)
        return vl_error(VLLM_ERR_INVALID_ARG, "token budget: %d frames of %d tokens keeping %d is not a valid plan",
                        planned, tokens_per_frame, keep);
    out->n_frames = planned;
    out->keep_per_frame = keep;
    if (max_tokens <= 0 || vl_budget_cost(planned, tokens_per_frame, keep) <= max_tokens) return VLLM_OK;
    if (max_tokens < tokens_per_frame)
        return vl_error(VLLM_ERR_INVALID_ARG, "video_max_tokens = %d is below one frame's %d visual tokens", max_tokens,
                        tokens_per_frame);
    const int32_t floor_n = planned < VL_BUDGET_MIN_FRAMES ? planned : VL_BUDGET_MIN_FRAMES;
    /* 2. fewer frames at this k: cost is monotonic in n, solve directly */
    int64_t n = keep >= tokens_per_frame ? max_tokens / tokens_per_frame
                                         : 1 + (int64_t)(max_tokens - tokens_per_frame) / keep;
    if (n >= floor_n) {
        out->n_frames = (int32_t)(n < planned ? n : planned);
        return VLLM_OK;
    }
    /* 3. at the floor, the largest k that fits */
    out->n_frames = floor_n;
    if (floor_n == 1) return VLLM_OK; /* one whole frame fits (max_tokens >= T) */
    int64_t k = (int64_t)(max_tokens - tokens_per_frame) / (floor_n - 1);
    if (k >= 1) {
        out->keep_per_frame = (int32_t)(k < keep ? k : keep);
        return VLLM_OK;
    }
    /* 4. one token per frame, fewer frames */
    out->keep_per_frame = tokens_per_frame > 1 ? 1 : tokens_per_frame;
    out->n_frames = 1 + (max_tokens - tokens_per_frame);
    return VLLM_OK;
}
