/* Decoder-only text models (llama.cpp's `llama`, `qwen2`, `qwen3`,
 * `qwen2vl` and `qwen3vl` architectures) read from GGUF, and the
 * per-session state that runs them.
 *
 * The forward pass (llm_forward.c) reads top to bottom like the math:
 * embed -> for each layer { RMSNorm, Q/K/V (+bias), QK-norm (qwen3*),
 * RoPE (1-D or multi-section M-RoPE), causal GQA attention over the KV
 * cache, output projection, residual; RMSNorm, SwiGLU FFN, residual;
 * + deepstack features (qwen3vl, first layers, visual positions) } ->
 * RMSNorm -> logits. Every hyper-parameter comes from the GGUF.
 *
 * Positions: every cached row carries VL_POS_SECTIONS positions (t, h, w,
 * e). 1-D RoPE models use t only, and for them the position of a row is
 * its index. Multi-section models get explicit positions for visual rows
 * (vl_llm_batch.pos); text rows continue from the state's next position,
 * which is 1 + the largest position evaluated so far (the rule of both
 * llama.cpp's mtmd and transformers' get_rope_index). */
#ifndef VL_DECODER_LLM_H
#define VL_DECODER_LLM_H

#include <stdint.h>

#include "core/gguf.h"
#include "core/matmul.h"
#include "core/threadpool.h"
#include "llm_rope.h"

typedef struct vl_llm_hparams {
    char arch[16];
    int32_t n_vocab, n_ctx_train, n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff;
    float rms_eps;
    vl_rope_cfg rope;
    int32_t n_deepstack; /* qwen3vl: layers 0..n_deepstack-1 get visual features added to their output */
    /* Text positions (p, p, p, p_e): p_e = p (what transformers' models do:
     * Qwen3-VL's interleaved rope uses t where llama.cpp reads e), or 0
     * (llamacpp_compat: llama.cpp's llm_graph_input_pos pins it to 0). */
    int pin_e_to_zero;
    int llamacpp_compat; /* loaded with llama.cpp's quirks (vl_llm_options) */
} vl_llm_hparams;

typedef struct vl_llm_layer {
    const float *attn_norm, *ffn_norm;
    const float *bq, *bk, *bv; /* optional (qwen2, qwen2vl) */
    const float *q_norm, *k_norm; /* QK-norm over head_dim, shared by all heads (qwen3, qwen3vl) */
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

/* How to load: llamacpp_compat reproduces llama.cpp's numerical quirks
 * (qwen2vl: text RMSNorm epsilon 0 instead of the GGUF's value; Qwen-VL:
 * text positions (p, p, p, 0)) so outputs can be compared with it number
 * for number; the default is the model-correct computation. */
typedef struct vl_llm_options {
    int llamacpp_compat;
} vl_llm_options;

/* Bind the model's tensors in `g` (which must outlive the model). opts may
 * be NULL (defaults). */
vllm_status vl_llm_load_ex(const vl_gguf *g, const vl_llm_options *opts, vl_llm **out);
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
/* Remove rows [p0, p1) from the cache: later rows move down by p1 - p0,
 * and their positions move back by d = pos_t(p1) - pos_t(p0) (the
 * t-position where the removed span ended minus where it began; = p1 - p0
 * for text) in every section (e only when it is not pinned to 0), their
 * keys rotated back accordingly (RoPE is a rotation, so this re-positions
 * them exactly up to rounding). For 1-D models and for text or whole
 * visual blocks under M-RoPE this equals a fresh evaluation without the
 * span; see llm_forward.c for what a partial visual block would need. */
vllm_status vl_llm_state_remove(vl_llm_state *s, int32_t p0, int32_t p1);

/* Offloading spans of positions (the compressed KV tier): bytes of n
 * positions' K and V over all layers and heads plus their positions; a
 * copy of rows [p0, p1) in that layout (per layer, per KV head: K rows then
 * V rows, in the cache's storage type, keys rotated for their positions;
 * then n × VL_POS_SECTIONS int32 positions); and the reverse, inserting n
 * such rows at row p, later rows moving up. 1-D models: positions are
 * rows, the inserted keys re-rotated from src_p0 to p and later ones by n.
 * M-RoPE models: the span keeps its (t, h, w) layout, starting at row p's
 * old position; later rows move by the positions it spans, so inserting
 * what a remove took out restores the layout exactly.
 * VLLM_ERR_CONTEXT_FULL when they do not fit. */
size_t vl_llm_state_span_bytes(const vl_llm_state *s, int32_t n);
vllm_status vl_llm_state_read(const vl_llm_state *s, int32_t p0, int32_t p1, void *dst);
vllm_status vl_llm_state_insert(vl_llm_state *s, int32_t p, int32_t n, const void *src, int32_t src_p0);
/* Mean key of positions [p0, p1) in `layer`, un-rotated (position-free),
 * per KV head: n_head_kv × head_dim floats. For retrieval. */
void vl_llm_state_key_mean(const vl_llm_state *s, int32_t p0, int32_t p1, int layer, float *out);
/* While `sum` is set, every evaluated position adds its un-rotated query
 * rows to sum[layer][n_head × head_dim] (zeroed here). NULL stops it. */
void vl_llm_state_capture_queries(vl_llm_state *s, float *sum);

/* Declare rows [0, n_past) valid (after their KV was restored); their
 * positions become the 1-D text positions 0..n_past-1. */
void vl_llm_state_set_n_past(vl_llm_state *s, int32_t n_past);
/* The positions of row `row` (< n_past) into out[VL_POS_SECTIONS]. */
void vl_llm_state_row_pos(const vl_llm_state *s, int32_t row, int32_t out[VL_POS_SECTIONS]);
/* Replace the positions of rows [0, n) (n <= n_past; n × VL_POS_SECTIONS
 * values, e.g. restored from a snapshot) and recompute the next position. */
vllm_status vl_llm_state_set_positions(vl_llm_state *s, const int32_t *pos, int32_t n);
/* The position the next text token gets (its t, h and w). */
int32_t vl_llm_state_next_pos(const vl_llm_state *s);

/* One batch of new rows. Exactly one of tokens / embd. */
typedef struct vl_llm_batch {
    int64_t n;
    const int32_t *tokens; /* n token ids, or NULL */
    const float *embd;     /* n rows of n_embd floats (visual tokens), or NULL */
    int64_t embd_stride;   /* floats from one embd row to the next; 0 = n_embd */
    /* n × VL_POS_SECTIONS positions (t, h, w, e), or NULL: text positions
     * next_pos, next_pos + 1, ... (e per hparams.pin_e_to_zero) */
    const int32_t *pos;
    /* qwen3vl deepstack: row i's features for layer k are the n_embd floats
     * at deepstack + i*embd_stride + k*n_embd (k < hparams.n_deepstack),
     * added to the output of layer k. NULL = none (text). llama.cpp's
     * mmproj rows [main | ds_0 | ds_1 ...] are embd = row, deepstack =
     * row + n_embd. */
    const float *deepstack;
} vl_llm_batch;

/* Append a batch (see vl_llm_eval for `logits` and errors). */
vllm_status vl_llm_eval_batch(const vl_llm *m, vl_llm_state *s, vl_pool *pool, const vl_llm_batch *b, int logits);

/* Append n positions: token ids (embd == NULL) or embedding rows (tokens ==
 * NULL, n × n_embd floats, e.g. visual tokens). logits: 0 = none, 1 = of the
 * last position only, 2 = of every position. VLLM_ERR_CONTEXT_FULL when the
 * positions do not fit (nothing is evaluated then). */
vllm_status vl_llm_eval(const vl_llm *m, vl_llm_state *s, vl_pool *pool, const int32_t *tokens,
                        const float *embd, int64_t n, int logits);

/* Logits written by the last vl_llm_eval: row i of n_rows × n_vocab. */
const float *vl_llm_logits(const vl_llm_state *s, int64_t *n_rows);

#endif
