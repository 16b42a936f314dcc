/* How many context positions the model's default video sampling takes,
 * so that a session's default context can hold it (session params
 * n_ctx = 0) and a default-sampled video can shrink to what is left.
 *
 * The model family measures the text around one temporal patch (its
 * labels, markers or timestamps, the widest case) and a video's fixed
 * text (intro, outro, the turn's opening) with the model's own
 * tokenizer, so the count is exact for any vocabulary. */
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
    int32_t frame_markers;  /* text around one temporal patch (widest) */
    int32_t video_overhead; /* a video's fixed text: intro (widest), outro, the turn's opening */
} vl_media_plan;

/* The family's measure (needs m->tok, m->vision and m->family). */
vllm_status vl_media_plan_measure(const struct vllm_model *m, vl_media_plan *out);

/* The default context of a session on this model: the family's default
 * video sampling (its frame cap, in temporal patches of visual tokens
 * plus their text, the video's fixed text) plus
 * VL_MEDIA_PLAN_QA_POSITIONS, rounded up to a multiple of 256, never
 * below min(train, VL_MEDIA_PLAN_TEXT_CTX) and never above the trained
 * context. Text-only models and dynamic-resolution towers (tokens follow
 * the video's size): min(train, VL_MEDIA_PLAN_TEXT_CTX). */
int32_t vl_media_plan_default_ctx(const struct vllm_model *m);

/* The most temporal patches of a video (of T tokens; patches after the
 * first keeping `keep` of them, as the token budget does) that fit in
 * `room` positions together with their text and the video's overhead.
 * 0 when not even one fits. */
int32_t vl_media_plan_units_for_room(const struct vllm_model *m, int64_t room, int32_t T, int32_t keep);

#endif
