/* Row-wise operations of the transformer forward passes. They follow the
 * numerics of ggml's CPU backend where it matters for matching llama.cpp
 * (sums of squares and softmax denominators accumulate in double). */
#ifndef VL_CORE_OPS_H
#define VL_CORE_OPS_H

#include <stdint.h>

/* y = x / sqrt(mean(x^2) + eps) * w   (w may be NULL; y may alias x) */
void vl_rmsnorm(const float *x, const float *w, float *y, int64_t n, float eps);

/* In-place softmax of n values, with x scaled by `scale` first and entries
 * at index >= n_valid masked out (set to 0). */
void vl_softmax(float *x, int64_t n, int64_t n_valid, float scale);

/* out[i] = silu(gate[i]) * up[i] */
void vl_swiglu(const float *gate, const float *up, float *out, int64_t n);

/* y[i] += x[i] */
void vl_add(float *y, const float *x, int64_t n);

/* Rotary embeddings for one token: rotates the first n_rot dims of each of
 * n_heads heads of head_dim floats at position pos.
 * neox = 0: pairs (2i, 2i+1) (LLAMA_ROPE_TYPE_NORM); neox = 1: pairs
 * (i, i + n_rot/2) (NEOX, used by qwen2). theta_i = pos * base^(-2i/n_rot),
 * computed as ggml does (iterated products in float). */
void vl_rope(float *x, int n_heads, int head_dim, int n_rot, int neox, int64_t pos, float freq_base);

#endif
