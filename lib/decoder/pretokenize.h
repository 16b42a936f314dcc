/* Pre-tokenization for byte-level BPE vocabularies: split text into words
 * exactly as llama.cpp's unicode_regex_split does for each
 * tokenizer.ggml.pre type, before BPE merges run inside each word.
 *
 * llama.cpp evaluates most patterns with std::regex over a "collapsed"
 * text (one byte per codepoint class) and two of them (gpt2, llama3) with
 * hand-written splitters; we implement every pattern we support as a
 * direct matcher with the same leftmost, ordered-alternation semantics, so
 * no regex engine is needed and the cost stays linear. */
#ifndef VL_DECODER_PRETOKENIZE_H
#define VL_DECODER_PRETOKENIZE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef enum vl_pre_kind {
    VL_PRE_DEFAULT = 0,    /* llama.cpp LLAMA_VOCAB_PRE_TYPE_DEFAULT regex list */
    VL_PRE_GPT2,           /* gpt-2, mpt, olmo, ... */
    VL_PRE_LLAMA3,         /* llama3 / llama-bpe, dbrx, smaug, chatglm */
    VL_PRE_QWEN2,          /* qwen2, stablelm2, ... (single digits) */
    VL_PRE_STARCODER,      /* starcoder, refact, smollm, ... (digits split first) */
    VL_PRE_FALCON,
    VL_PRE_DEEPSEEK_LLM,
    VL_PRE_DEEPSEEK_CODER,
} vl_pre_kind;

/* What a tokenizer.ggml.pre name means to llama.cpp. */
typedef struct vl_pre_info {
    vl_pre_kind kind;
    int ignore_merges;     /* a word that is already a token skips BPE */
    int add_bos;           /* default of add_bos_token for this pre type */
    int no_bos;            /* the pre type clears the default BOS id */
} vl_pre_info;

/* Look up a pre-tokenizer name; 0 if llama.cpp would not accept it (or it
 * is a type this library does not implement). */
int vl_pre_lookup(const char *name, size_t len, vl_pre_info *out);

/* Growable array of word lengths, in codepoints. */
typedef struct vl_sizes {
    size_t *v;
    size_t n, cap;
} vl_sizes;

vllm_status vl_sizes_push(vl_sizes *s, size_t x);

/* Split cpts[0..n) (flags[i] = vl_cpt_flags(cpts[i])) into words; the
 * word lengths replace the content of *out. `tmp` is scratch space that
 * the caller keeps (and frees) across calls. */
vllm_status vl_pretokenize(vl_pre_kind kind, const uint32_t *cpts, const uint16_t *flags, size_t n,
                           vl_sizes *out, vl_sizes *tmp);

#endif
