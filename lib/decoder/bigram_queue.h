/* The merge queue both BPE and SentencePiece tokenizers drain: adjacent
 * symbol pairs ordered as llama.cpp orders them — lowest key first, then
 * lowest left index (BPE: key = merge rank; SPM: key = -score, so the
 * highest score comes first). */
#ifndef VL_DECODER_BIGRAM_QUEUE_H
#define VL_DECODER_BIGRAM_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct vl_bigram {
    double key;          /* exact for int32 ranks and negated float scores */
    int32_t left, right; /* symbol indices */
    uint32_t size;       /* bytes of the merged text (stale entries are detected by it) */
    int32_t result;      /* BPE: the merged token; SPM: unused */
} vl_bigram;

typedef struct vl_bigram_queue {
    vl_bigram *v;
    size_t n, cap;
} vl_bigram_queue;

vllm_status vl_bigram_push(vl_bigram_queue *q, vl_bigram b);
vl_bigram vl_bigram_pop(vl_bigram_queue *q); /* q->n > 0 */
void vl_bigram_queue_free(vl_bigram_queue *q);

#endif
