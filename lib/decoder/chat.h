/* Chat prompt formats. A user turn becomes one string that is tokenized
 * with special tokens parsed, exactly as llama.cpp's built-in templates do
 * (the fixtures were made that way, and it is what the models saw). */
#ifndef VL_DECODER_CHAT_H
#define VL_DECODER_CHAT_H

#include <stddef.h>

#include "core/gguf.h"

typedef enum vl_chat_format {
    VL_CHAT_RAW = 0,   /* no template: the prompt is used as is */
    VL_CHAT_SMOLVLM,   /* <|im_start|>User: ...<end_of_utterance>\nAssistant: */
    VL_CHAT_CHATML     /* <|im_start|>user\n...<|im_end|>\n<|im_start|>assistant\n */
} vl_chat_format;

/* From tokenizer.chat_template (and the architecture when it is absent). */
vl_chat_format vl_chat_detect(const vl_gguf *g);

const char *vl_chat_format_name(vl_chat_format f);

/* The conversation's opening before the first user turn's role marker:
 * the template's start and, when `system` is neither NULL nor "", the
 * system turn as the model's template writes it (SmolVLM2/Idefics3:
 * "<|im_start|>System: S<end_of_utterance>\n"; ChatML:
 * "<|im_start|>system\nS<|im_end|>\n"). RAW: nothing. snprintf-like. */
size_t vl_chat_opening(vl_chat_format f, const char *system, char *buf, size_t cap);

/* Write the text of a user turn into buf (NUL-terminated; returns the
 * length, or the length needed if it does not fit, like snprintf).
 * `first` is 1 for the first turn of a conversation: it starts with the
 * opening (vl_chat_opening with `system`); otherwise the text also closes
 * the previous assistant turn, whose end-of-turn token was sampled but not
 * evaluated. RAW: the content as is (no system turn). */
size_t vl_chat_user_turn(vl_chat_format f, int first, const char *system, const char *content, char *buf, size_t cap);

#endif
