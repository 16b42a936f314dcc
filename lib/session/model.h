/* What a vllm_model holds: the mapped GGUF, its tokenizer, the text
 * model's bound weights, and the chat format. Immutable after load. */
#ifndef VL_MODEL_H
#define VL_MODEL_H

#include "core/gguf.h"
#include "decoder/chat.h"
#include "decoder/llm.h"
#include "decoder/tokenizer.h"
#include "encoder/encoder.h"
#include "encoder/preprocess.h"
#include "media_plan.h"

/* SmolVLM2 Video-Instruct sampling defaults (its video processor config:
 * fps 1, at most 64 frames). */
#define VL_SMOLVLM_VIDEO_FPS 1.0f
#define VL_SMOLVLM_VIDEO_MAX_FRAMES 64

struct vllm_model {
    vl_gguf *gguf;
    vl_tokenizer *tok;
    vl_llm *llm;          /* NULL when loaded vocab_only */
    vl_chat_format chat;
    vl_gguf *mmproj;      /* NULL when text only */
    vl_vision *vision;
    vl_preproc_mode preproc; /* still-image preprocessing and prompt style */
    vl_media_plan plan;   /* positions of the default video sampling (with vision) */
    /* vllm_model_params' bounds on the visual tokens per image or frame of
     * dynamic-resolution families, checked at load: 0 = the family's own */
    int32_t image_min_tokens, image_max_tokens;
    char arch[32];
    char name[128];
};

/* The public family name ("smolvlm2", "qwen2.5-vl", "qwen3-vl") of an
 * mmproj's clip.projector_type, or NULL for a projector of no family.
 * (Until the family layer names its families itself.) */
const char *vl_model_family_of_projector(const char *projector_type);

#endif
