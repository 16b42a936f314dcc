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
#include "family/family.h"
#include "media_plan.h"

struct vllm_model {
    vl_gguf *gguf;
    vl_tokenizer *tok;
    vl_llm *llm;          /* NULL when loaded vocab_only */
    vl_chat_format chat;
    vl_gguf *mmproj;      /* NULL when text only */
    vl_vision *vision;
    vl_preproc_mode preproc; /* still-image preprocessing and prompt style */
    vl_media_plan plan;   /* positions of the default video sampling (with vision) */
    const vl_family *family; /* the model family's rules (lib/family), NULL when text only */
    int llamacpp_compat;  /* vllm_model_params.llamacpp_compat: llama.cpp's rules everywhere */
    /* Token limits per image or video frame of dynamic-resolution
     * families (vllm_model_params image_min_tokens / image_max_tokens;
     * 0 = the family's default), checked at load. */
    int32_t image_min_tokens, image_max_tokens;
    char arch[32];
    char name[128];
};

/* The vision tower's weights leave this process's resident memory (they
 * stay in the mmproj file's mapping and the page cache, and come back on
 * the next read): a video's frames are all encoded, and the text model
 * takes over the memory for prefill and the answer. A hint only; safe
 * while other sessions encode with the same model. */
void vl_model_release_vision_pages(const vllm_model *m);

#endif
