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

/* snprintf into buf at *len, keeping the needed length when it does not fit. */
static void put(char *buf, size_t cap, size_t *len, const char *a, const char *b, const char *c)
{
    const int n = snprintf(*len < cap ? buf + *len : NULL, *len < cap ? cap - *len : 0, "%s%s%s", a, b, c);
    if (n > 0) *len += (size_t)n;
}

size_t vl_chat_opening(vl_chat_format f, const char *system, char *buf, size_t cap)
{
    const int sys = system && *system;
    size_t len = 0;
    if (cap) buf[0] = '\0';
    switch (f) {
    case VL_CHAT_SMOLVLM: /* the template's "{{role | capitalize}}: {{text}}<end_of_utterance>\n" */
        put(buf, cap, &len, "<|im_start|>", "", "");
        if (sys) put(buf, cap, &len, "System: ", system, "<end_of_utterance>\n");
        break;
    case VL_CHAT_CHATML:
        if (sys) put(buf, cap, &len, "<|im_start|>system\n", system, "<|im_end|>\n");
        break;
    default:
        break;
    }
    return len;
}

size_t vl_chat_user_turn(vl_chat_format f, int first, const char *system, const char *content, char *buf, size_t cap)
{
    size_t len = 0;
    if (cap) buf[0] = '\0';
    if (f == VL_CHAT_RAW) {
        put(buf, cap, &len, content, "", "");
        return len;
    }
    if (first) len = vl_chat_opening(f, system, buf, cap);
    if (f == VL_CHAT_SMOLVLM)
        put(buf, cap, &len, first ? "" : "<end_of_utterance>\n", "User: ", content),
            put(buf, cap, &len, "<end_of_utterance>\nAssistant:", "", "");
    else
        put(buf, cap, &len, first ? "" : "<|im_end|>\n", "<|im_start|>user\n", content),
            put(buf, cap, &len, "<|im_end|>\n<|im_start|>assistant\n", "", "");
    return len;
}
