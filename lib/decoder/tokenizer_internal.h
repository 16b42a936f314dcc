/* Private layout of vl_tokenizer, shared by tokenizer*.c only. */
#ifndef VL_DECODER_TOKENIZER_INTERNAL_H
#define VL_DECODER_TOKENIZER_INTERNAL_H

#include "pretokenize.h"
#include "tokenizer.h"

/* Token attributes, as llama.cpp derives them from tokenizer.ggml.token_type
 * (NORMAL=1, UNKNOWN=2, CONTROL=3, USER_DEFINED=4, UNUSED=5, BYTE=6; any
 * other value is "undefined": never special, renders as nothing). */
enum {
    VL_ATTR_UNKNOWN = 1 << 0,
    VL_ATTR_UNUSED = 1 << 1,
    VL_ATTR_NORMAL = 1 << 2,
    VL_ATTR_CONTROL = 1 << 3,
    VL_ATTR_USER_DEFINED = 1 << 4,
    VL_ATTR_BYTE = 1 << 5,
    VL_ATTR_LSTRIP = 1 << 7,
    VL_ATTR_RSTRIP = 1 << 8,
};

/* BPE merge table entry: (left id, right id) -> rank and the merged id. */
typedef struct vl_merge_slot {
    uint64_t key;       /* (left << 32) | right; UINT64_MAX = empty */
    int32_t rank;
    int32_t result;     /* id of left+right, -1 if that text is no token */
} vl_merge_slot;

struct vl_tokenizer {
    int spm;                     /* 1: "llama" (SPM), 0: "gpt2" (BPE) */
    char model[8];
    char pre[64];
    vl_pre_info pre_info;

    int32_t n_vocab;
    char *text;                  /* all token texts, back to back */
    size_t *text_off;            /* n_vocab + 1 offsets into text */
    float *score;
    uint16_t *attr;

    uint32_t *tok_slot;          /* open addressing: id + 1, 0 = empty */
    size_t tok_mask;

    vl_merge_slot *merge;
    size_t merge_mask;

    int32_t *special;            /* CONTROL/USER_DEFINED/UNKNOWN ids, longest text first */
    size_t n_special;

    char *piece;                 /* rendering with special = true */
    size_t *piece_off;

    uint8_t *eog;                /* per id */

    int32_t bos, eos, eot, eom, unk, pad;
    int add_bos, add_eos, add_space_prefix;

    int32_t byte_token[256];     /* SPM: <0xXX> (or the raw byte) token per byte */
    int32_t bpe_byte_sym[256];   /* BPE: token of the GPT-2 image of each byte */
    int32_t bpe_raw_byte[256];   /* BPE: token whose text is that single raw byte */
};

static inline const char *vl_tok_text(const vl_tokenizer *t, int32_t id, size_t *len)
{
    *len = t->text_off[id + 1] - t->text_off[id];
    return t->text + t->text_off[id];
}

/* Hash lookup of an exact token text; -1 if absent. */
int32_t vl_tok_lookup(const vl_tokenizer *t, const char *s, size_t len);

/* Merge lookup; NULL if the pair is not a merge. */
const vl_merge_slot *vl_merge_lookup(const vl_tokenizer *t, int32_t left, int32_t right);

vllm_status vl_tokens_push(vl_tokens *out, int32_t id);

/* Tokenize one raw-text fragment (no special tokens inside). */
vllm_status vl_bpe_encode(const vl_tokenizer *t, const char *text, size_t len, vl_tokens *out);
/* `text` is already space-escaped (U+2581) and prefixed as llama.cpp does. */
vllm_status vl_spm_encode(const vl_tokenizer *t, const char *text, size_t len, vl_tokens *out);

#endif
