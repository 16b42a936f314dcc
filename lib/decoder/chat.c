#include "chat.h"

#include <stdio.h>
#include <string.h>

static int contains(vl_str s, const char *needle)
{
    size_t n = strlen(needle);
    if (!s.ptr || s.len < n) return 0;
    for (uint64_t i = 0; i + n <= s.len; i++)
        if (memcmp(s.ptr + i, needle, n) == 0) return 1;
    return 0;
}

vl_chat_format vl_chat_detect(const vl_gguf *g)
{
    vl_str tmpl = {0}, arch = {0};
    if (vllm_is_error(vl_gguf_get_str(g, "tokenizer.chat_template", NULL, &tmpl))) tmpl.ptr = NULL;
    if (vllm_is_error(vl_gguf_get_str(g, "general.architecture", "", &arch))) arch.ptr = NULL;
    if (tmpl.ptr) {
        /* SmolVLM's Jinja template capitalizes the role and ends turns with
         * <end_of_utterance>; ChatML ends them with <|im_end|>. */
        if (contains(tmpl, "<end_of_utterance>") || (contains(tmpl, "<|im_start|>") && contains(tmpl, "User:")))
            return VL_CHAT_SMOLVLM;
        if (contains(tmpl, "<|im_start|>")) return VL_CHAT_CHATML;
        return VL_CHAT_RAW;
    }
    if (arch.ptr && vl_str_eq(arch, "qwen2")) return VL_CHAT_CHATML;
    return VL_CHAT_RAW;
}

const char *vl_chat_format_name(vl_chat_format f)
{
    switch (f) {
    case VL_CHAT_SMOLVLM: return "smolvlm";
    case VL_CHAT_CHATML: return "chatml";
    default: return "raw";
    }
}

size_t vl_chat_user_turn(vl_chat_format f, int first, const char *content, char *buf, size_t cap)
{
    int n;
    switch (f) {
    case VL_CHAT_SMOLVLM:
        n = snprintf(buf, cap, "%sUser: %s<end_of_utterance>\nAssistant:",
                     first ? "<|im_start|>" : "<end_of_utterance>\n", content);
        break;
    case VL_CHAT_CHATML:
        n = snprintf(buf, cap, "%s<|im_start|>user\n%s<|im_end|>\n<|im_start|>assistant\n",
                     first ? "" : "<|im_end|>\n", content);
        break;
    default:
        n = snprintf(buf, cap, "%s", content);
        break;
    }
    return n < 0 ? 0 : (size_t)n;
}
