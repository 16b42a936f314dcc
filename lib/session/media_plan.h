/* How many context positions the model's default video sampling takes,
 * so that a session's default context can hold it (session params
 * n_ctx = 0) and a default-sampled video can shrink to what is left.
 *
 * One frame in SmolVLM2's layout is its label "\nFrame from MM:SS:", the
 * markers <fake_token_around_image><global-img>, its visual tokens and a
 * closing <fake_token_around_image>; a video adds the intro line and the
 * outro once. The text parts are measured with the model's own tokenizer
 * (the widest label), so the count is exact for any vocabulary. */
#ifndef VL_MEDIA_PLAN_H
#define VL_MEDIA_PLAN_H

#include <stdint.h>

#include "core/error.h"

struct vllm_model;

/* Positions kept free after a default-sampled video for the question
 * (with its chat-template markers) and the default 256-token answer
 * (vllm_generate_default_params().max_tokens). */
#define VL_MEDIA_PLAN_QA_POSITIONS 512

/* The old text-only default context: min(trained context, this). */
#define VL_MEDIA_PLAN_TEXT_CTX 4096

typedef struct vl_media_plan {
    int32_t frame_markers;  /* label + image markers of one frame (widest label) */
    int32_t video_overhead; /* intro line (widest) + outro + the turn's opening */
} vl_media_plan;

/* Measure the text around frames with the model's tokenizer (needs
 * m->tok and m->vision). */
vllm_status vl_media_plan_measure(const struct vllm_model *m, vl_media_plan *out);

/* The default context of a session on this model: the default video
 * sampling (VL_SMOLVLM_VIDEO_MAX_FRAMES frames of visual tokens plus
 * markers, intro and outro) plus VL_MEDIA_PLAN_QA_POSITIONS, rounded up
 * to a multiple of 256, never below min(train, VL_MEDIA_PLAN_TEXT_CTX)
 * and never above the trained context. Text-only models: min(train,
 * VL_MEDIA_PLAN_TEXT_CTX). */
int32_t vl_media_plan_default_ctx(const struct vllm_model *m);

/* The most frames of a video (frames after the first keeping `keep` of
 * their `tokens_per_frame` visual tokens, as the token budget does) that
 * fit in `room` positions together with their markers and the video's
 * overhead. 0 when not even one frame fits. */
int32_t vl_media_plan_frames_for_room(const struct vllm_model *m, int64_t room, int32_t keep);

#endif
