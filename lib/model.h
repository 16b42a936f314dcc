/* What a vllm_model holds: the mapped GGUF, its tokenizer, the text
 * model's bound weights, and the chat format. Immutable after load. */
#ifndef VL_MODEL_H
#define VL_MODEL_H

#include "core/gguf.h"
#include "decoder/chat.h"
#include "decoder/llm.h"
#include "decoder/tokenizer.h"

struct vllm_model {
    vl_gguf *gguf;
    vl_tokenizer *tok;
    vl_llm *llm;          /* NULL when loaded vocab_only */
    vl_chat_format chat;
    char arch[32];
    char name[128];
};

#endif
