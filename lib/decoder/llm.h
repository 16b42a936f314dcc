/* Decoder-only text models (llama.cpp's `llama` and `qwen2` architectures)
 * read from GGUF, and the per-session state that runs them.
 *
 * The forward pass (llm_forward.c) reads top to bottom like the math:
 * embed -> for each layer { RMSNorm, Q/K/V (+bias), RoPE, causal GQA
 * attention over the KV cache, output projection, residual; RMSNorm,
 * SwiGLU FFN, residual } -> RMSNorm -> logits. Every hyper-parameter comes
 * from the GGUF. */
#ifndef VL_DECODER_LLM_H
#define VL_DECODER_LLM_H

#include <stdint.h>

#include "core/gguf.h"
#include "core/matmul.h"
#include "core/threadpool.h"

typedef struct vl_llm_hparams {
    char arch[16];
    int32_t n_vocab, n_ctx_train, n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff, n_rot;
    float rms_eps, rope_base;
    int rope_neox; /* 0: pairs (2i,2i+1) (llama); 1: halves (qwen2) */
} vl_llm_hparams;

typedef struct vl_llm_layer {
    const float *attn_norm, *ffn_norm;
    const float *bq, *bk, *bv; /* optional (qwen2) */
    vl_weight wq, wk, wv, wo, w_gate, w_up, w_down;
} vl_llm_layer;

/* f32 copies of vectors stored in other types, freed with the model. */
typedef struct vl_f32_block {
    struct vl_f32_block *next;
    float data[];
} vl_f32_block;

typedef struct vl_llm {
    vl_llm_hparams hp;
    vl_weight tok_embd;
    vl_weight output; /* = tok_embd when tied */
    const float *output_norm;
    vl_llm_layer *layers;
    vl_f32_block *owned;
    uint64_t n_params, weight_bytes;
} vl_llm;

/* Bind the model's tensors in `g` (which must outlive the model). */
vllm_status vl_llm_load(const vl_gguf *g, vl_llm **out);
void vl_llm_free(vl_llm *m);

typedef enum vl_kv_type { VL_KV_F32 = 0, VL_KV_F16 = 1, VL_KV_Q8_0 = 2, VL_KV_Q4_0 = 3 } vl_kv_type;

/* One sequence's KV cache and scratch buffers. */
typedef struct vl_llm_state vl_llm_state;

vllm_status vl_llm_state_new(const vl_llm *m, int32_t n_ctx, vl_kv_type kv_type, vl_llm_state **out);
void vl_llm_state_free(vl_llm_state *s);
int32_t vl_llm_state_n_past(const vl_llm_state *s);
int32_t vl_llm_state_n_ctx(const vl_llm_state *s);
/* Forget positions >= n_past (n_past <= current). */
void vl_llm_state_truncate(vl_llm_state *s, int32_t n_past);

/* The cache of one KV head: n_ctx rows of head_dim values of K (which =
 * 0) or V (which = 1) in the state's storage type; *row_bytes gets the
 * size of one row. For snapshots. */
void *vl_llm_state_kv_head(vl_llm_state *s, int layer, int kv_head, int which, size_t *row_bytes);
vl_kv_type vl_llm_state_kv_type(const vl_llm_state *s);
/* Remove positions [p0, p1) from the cache: later positions move down by
 * d = p1 - p0 and their keys are rotated back by d positions (RoPE is a
 * rotation, so this re-positions them exactly up to rounding). */
vllm_status vl_llm_state_remove(vl_llm_state *s, int32_t p0, int32_t p1);

/* Offloading spans of positions (the compressed KV tier): bytes of n
 * positions' K and V over all layers and heads; a copy of positions
 * [p0, p1) in that layout (per layer, per KV head: K rows then V rows, in
 * the cache's storage type, keys rotated for their positions); and the
 * reverse, inserting n such positions at p (later positions move up by n,
 * their keys re-rotated; the inserted keys are re-rotated from src_p0 to
 * p). VLLM_ERR_CONTEXT_FULL when they do not fit. */
size_t vl_llm_state_span_bytes(const vl_llm_state *s, int32_t n);
vllm_status vl_llm_state_read(const vl_llm_state *s, int32_t p0, int32_t p1, void *dst);
vllm_status vl_llm_state_insert(vl_llm_state *s, int32_t p, int32_t n, const void *src, int32_t src_p0);
/* Mean key of positions [p0, p1) in `layer`, un-rotated (position-free),
 * per KV head: n_head_kv × head_dim floats. For retrieval. */
void vl_llm_state_key_mean(const vl_llm_state *s, int32_t p0, int32_t p1, int layer, float *out);
/* While `sum` is set, every evaluated position adds its un-rotated query
 * rows to sum[layer][n_head × head_dim] (zeroed here). NULL stops it. */
void vl_llm_state_capture_queries(vl_llm_state *s, float *sum);

/* Declare positions [0, n_past) valid (after their KV was restored). */
void vl_llm_state_set_n_past(vl_llm_state *s, int32_t n_past);

/* Append n positions: token ids (embd == NULL) or embedding rows (tokens ==
 * NULL, n × n_embd floats, e.g. visual tokens). logits: 0 = none, 1 = of the
 * last position only, 2 = of every position. VLLM_ERR_CONTEXT_FULL when the
 * positions do not fit (nothing is evaluated then). */
vllm_status vl_llm_eval(const vl_llm *m, vl_llm_state *s, vl_pool *pool, const int32_t *tokens,
                        const float *embd, int64_t n, int logits);

/* Logits written by the last vl_llm_eval: row i of n_rows × n_vocab. */
const float *vl_llm_logits(const vl_llm_state *s, int64_t *n_rows);

#endif
