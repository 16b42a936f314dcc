/* Context positions of the default video sampling (see media_plan.h). */
#include "media_plan.h"

#include "model.h"

vllm_status vl_media_plan_measure(const vllm_model *m, vl_media_plan *out)
{
    return m->family->measure(m, out);
}

int32_t vl_media_plan_default_ctx(const vllm_model *m)
{
    const int32_t train = m->llm->hp.n_ctx_train;
    const int32_t text_ctx = train < VL_MEDIA_PLAN_TEXT_CTX ? train : VL_MEDIA_PLAN_TEXT_CTX;
    /* a dynamic-resolution tower's tokens per frame follow the video */
    if (!m->vision || vl_vision_is_dynamic(m->vision)) return text_ctx;
    float fps;
    int32_t max_frames;
    m->family->video_defaults(m, &fps, &max_frames);
    const int64_t T = vl_vision_tokens_per_tile(m->vision);
    const int64_t units = ((int64_t)max_frames + m->family->frames_per_unit - 1) / m->family->frames_per_unit;
    int64_t need = units * (T + m->plan.frame_markers) + m->plan.video_overhead + VL_MEDIA_PLAN_QA_POSITIONS;
    need = (need + 255) / 256 * 256;
    if (need > train) need = train;
    return need > text_ctx ? (int32_t)need : text_ctx;
}

int32_t vl_media_plan_units_for_room(const vllm_model *m, int64_t room, int32_t T, int32_t keep)
{
    const int64_t M = m->plan.frame_markers;
    room -= m->plan.video_overhead;
    if (room < T + M) return 0;
    /* cost of n units: vl_budget_cost(n, T, keep) visual tokens + n·M */
    int64_t n = keep >= T ? room / (T + M) : 1 + (room - T - M) / (keep + M);
    return n > INT32_MAX ? INT32_MAX : (int32_t)n;
}
