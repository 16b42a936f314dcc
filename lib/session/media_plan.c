/* Context positions of the default video sampling (see media_plan.h). */
#include "media_plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decoder/video_prompt.h"
#include "model.h"

/* Tokens of `text` as the session evaluates it (control tokens parsed). */
static vllm_status count_tokens(const vllm_model *m, const char *text, int32_t *n)
{
    vl_tokens toks = {0};
    vllm_status st = vl_tokenizer_encode(m->tok, text, strlen(text), 0, 1, &toks);
    free(toks.ids);
    if (!vllm_is_error(st)) *n = (int32_t)toks.n;
    return st;
}

vllm_status vl_media_plan_measure(const vllm_model *m, vl_media_plan *out)
{
    memset(out, 0, sizeof *out);
    /* The widest labels: two- and three-digit minutes. A frame's closing
     * marker is counted with it. */
    static const double label_at[] = {0.0, 3599.0, 35999.0};
    for (size_t i = 0; i < sizeof label_at / sizeof label_at[0]; i++) {
        char label[64], text[160];
        vl_video_frame_label(label_at[i], label, sizeof label);
        snprintf(text, sizeof text, "%s<fake_token_around_image><global-img><fake_token_around_image>", label);
        int32_t n = 0;
        VL_TRY(count_tokens(m, text, &n));
        if (n > out->frame_markers) out->frame_markers = n;
    }
    /* Intro for the default frame count and a long duration, the outro,
     * and the longer of the two turn openings. */
    char intro[256], text[512];
    vl_video_intro(VL_SMOLVLM_VIDEO_MAX_FRAMES, 99 * 3600 + 59 * 60 + 59, intro, sizeof intro);
    snprintf(text, sizeof text, "<end_of_utterance>\nUser: %s%s", intro, VL_VIDEO_OUTRO);
    VL_TRY(count_tokens(m, text, &out->video_overhead));
    out->video_overhead += 1; /* a BOS the first turn may carry */
    return VLLM_OK;
}

int32_t vl_media_plan_default_ctx(const vllm_model *m)
{
    const int32_t train = m->llm->hp.n_ctx_train;
    const int32_t text_ctx = train < VL_MEDIA_PLAN_TEXT_CTX ? train : VL_MEDIA_PLAN_TEXT_CTX;
    if (!m->vision) return text_ctx;
    const int64_t T = vl_vision_tokens_per_tile(m->vision);
    int64_t need = (int64_t)VL_SMOLVLM_VIDEO_MAX_FRAMES * (T + m->plan.frame_markers) + m->plan.video_overhead +
                   VL_MEDIA_PLAN_QA_POSITIONS;
    need = (need + 255) / 256 * 256;
    if (need > train) need = train;
    return need > text_ctx ? (int32_t)need : text_ctx;
}

int32_t vl_media_plan_frames_for_room(const vllm_model *m, int64_t room, int32_t keep)
{
    const int64_t T = vl_vision_tokens_per_tile(m->vision), M = m->plan.frame_markers;
    room -= m->plan.video_overhead;
    if (room < T + M) return 0;
    /* cost of n frames: vl_budget_cost(n, T, keep) visual tokens + n·M */
    int64_t n = keep >= T ? room / (T + M) : 1 + (room - T - M) / (keep + M);
    return n > INT32_MAX ? INT32_MAX : (int32_t)n;
}
