/* Causal grouped-query attention of new query rows over a KV cache: the
 * attention step of the text model's forward pass (llm_forward.c).
 *
 * The cache of one layer holds n_head_kv heads, each a run of rows (one
 * row = head_dim values of one position in the cache's storage type);
 * query head h reads KV head h / (n_head / n_head_kv). Query row t of a
 * batch sits at cache row n_past + t and sees rows 0..n_past + t (the
 * causal mask is by row). */
#ifndef VL_DECODER_ATTENTION_H
#define VL_DECODER_ATTENTION_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/threadpool.h"

typedef struct vl_attn_args {
    int n_head, n_head_kv, head_dim;
    int64_t n;      /* new query rows */
    int64_t n_past; /* cache rows before the first of them */
    const float *q; /* n rows of n_head × head_dim (RoPE applied) */
    float *out;     /* n rows of n_head × head_dim */
    /* KV head h's keys start at k + h * head_stride bytes (values: v),
     * rows row_bytes apart, stored as `type` (VL_TYPE_F32/F16/Q8_0/Q4_0) */
    const uint8_t *k, *v;
    size_t head_stride, row_bytes;
    int32_t type;
} vl_attn_args;

/* Per-thread working memory, grown on demand and reused across calls. */
typedef struct vl_attn_scratch vl_attn_scratch;

vl_attn_scratch *vl_attn_scratch_new(void);
void vl_attn_scratch_free(vl_attn_scratch *s);

/* out = softmax(q K^T / sqrt(head_dim), causal) V for every query row and
 * head, on the pool's threads. Errors: VLLM_ERR_NOMEM (scratch). */
vllm_status vl_attention(vl_pool *pool, vl_attn_scratch *scr, const vl_attn_args *a);

#endif
