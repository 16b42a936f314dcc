/* llama.cpp-compatible tokenizer built from a GGUF's tokenizer.ggml.* keys.
 *
 * Supported: tokenizer.ggml.model "gpt2" (byte-level BPE with merges and the
 * pre-tokenizer of tokenizer.ggml.pre, see pretokenize.h) and "llama"
 * (SentencePiece-style BPE over scores with <0xXX> byte fallback). Token ids,
 * special-token matching, BOS/EOS and end-of-generation detection follow
 * llama.cpp's llama-vocab.cpp so that ids match llama.cpp's exactly.
 *
 * Thread-safety: a loaded vl_tokenizer is immutable; any number of threads
 * may encode/decode with it at once. */
#ifndef VL_DECODER_TOKENIZER_H
#define VL_DECODER_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "core/gguf.h"

typedef struct vl_tokenizer vl_tokenizer;
typedef struct vl_tokens { int32_t *ids; size_t n, cap; } vl_tokens;   /* growable; free(ids) to release */

/* copies everything it needs: g may be closed afterwards */
vllm_status vl_tokenizer_load(const vl_gguf *g, vl_tokenizer **out);
void vl_tokenizer_free(vl_tokenizer *t);
int32_t vl_tokenizer_n_vocab(const vl_tokenizer *t);

/* Appends to out; add_special adds BOS/EOS per the vocab's add_bos/add_eos
 * flags; parse_special also matches CONTROL tokens written in the text
 * (USER_DEFINED tokens are always matched, as in llama.cpp). On error out
 * is left as it was. */
vllm_status vl_tokenizer_encode(const vl_tokenizer *t, const char *text, size_t len, int add_special,
                                int parse_special, vl_tokens *out);

/* Bytes of one token's text (not NUL-terminated); CONTROL/UNKNOWN tokens
 * are empty unless `special`. VLLM_ERR_BUFFER_TOO_SMALL with *len = needed
 * if cap too small; VLLM_ERR_INVALID_ARG for out-of-range id. buf may be
 * NULL when cap is 0. */
vllm_status vl_tokenizer_piece(const vl_tokenizer *t, int32_t id, int special, char *buf, size_t cap, size_t *len);

int vl_tokenizer_is_eog(const vl_tokenizer *t, int32_t id);
int vl_tokenizer_is_control(const vl_tokenizer *t, int32_t id);
int32_t vl_tokenizer_bos(const vl_tokenizer *t);   /* -1 if none */
int32_t vl_tokenizer_eos(const vl_tokenizer *t);   /* -1 if none */
int vl_tokenizer_add_bos(const vl_tokenizer *t);
int32_t vl_tokenizer_find(const vl_tokenizer *t, const char *text, size_t len);  /* exact token text -> id, -1 if absent */
const char *vl_tokenizer_model(const vl_tokenizer *t);  /* "gpt2" / "llama" */
const char *vl_tokenizer_pre(const vl_tokenizer *t);    /* "gpt-2", "smollm", ... or "default" */

#endif
