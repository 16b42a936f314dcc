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

/* Write the text of a user turn into buf (NUL-terminated; returns the
 * length, or the length needed if it does not fit, like snprintf).
 * `first` is 1 for the first turn of a conversation; otherwise the text
 * also closes the previous assistant turn, whose end-of-turn token was
 * sampled but not evaluated. */
size_t vl_chat_user_turn(vl_chat_format f, int first, const char *content, char *buf, size_t cap);

#endif
