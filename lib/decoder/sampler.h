/* Token sampling with llama.cpp's semantics and chain order:
 * penalties -> top-k -> top-p -> min-p -> temperature -> draw.
 * temperature <= 0 is greedy: argmax after penalties (first maximum). */
#ifndef VL_DECODER_SAMPLER_H
#define VL_DECODER_SAMPLER_H

#include <stdint.h>

#include "core/error.h"

typedef struct vl_sampler_params {
    float temperature;
    int32_t top_k;
    float top_p, min_p;
    float repeat_penalty;
    int32_t repeat_last_n;
    float frequency_penalty, presence_penalty;
    uint64_t seed;
} vl_sampler_params;

typedef struct vl_sampler vl_sampler;

vllm_status vl_sampler_new(int32_t n_vocab, const vl_sampler_params *p, vl_sampler **out);
void vl_sampler_free(vl_sampler *s);

/* Pick a token from n_vocab logits (not modified). */
int32_t vl_sampler_sample(vl_sampler *s, const float *logits);

/* Record a token in the penalty history (prompt tokens may be fed too). */
void vl_sampler_accept(vl_sampler *s, int32_t token);

#endif
