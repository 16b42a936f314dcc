/* The matrix-product driver of the text model and the vision encoder:
 * y = x W^T for a weight of any supported type, choosing per call between
 * the GEMV kernels (few tokens: weights streamed once, bandwidth bound)
 * and a GEMM (many tokens: compute bound): the integer GEMM of igemm.h
 * for Q8_0/Q4_0/Q5_0/Q4_K/Q5_K/Q6_K weights where it is the faster path,
 * otherwise dequantized tiles through OpenBLAS sgemm.
 *
 * Numerics follow llama.cpp: activations are converted to
 * vl_vec_dot_type(W->type) first (q8_0 / q8_1 / q8_K / f16 / bf16); the
 * integer GEMM then has ggml's own int32 sums, the sgemm path emulates
 * that rounding in float (vl_activations_emulate).
 * The one difference: for Q4_1/Q5_1, ggml's min term uses the q8_1 block
 * sum s = fp16(d*sum q) with the unrounded d, which a float GEMM cannot
 * reproduce; the GEMM path uses the exact sum (difference ~1e-3 of that
 * term). */
#ifndef VL_CORE_MATMUL_H
#define VL_CORE_MATMUL_H

#include <stddef.h>
#include <stdint.h>

#include "threadpool.h"
#include "vllm/videollm.h"

/* n_out rows of n_in elements (ggml: ne[0] = n_in, ne[1] = n_out), rows
 * row_bytes apart (>= vl_row_size(type, n_in)). */
typedef struct vl_weight {
    int32_t type;
    int64_t n_in, n_out;
    size_t row_bytes;
    const void *data;
} vl_weight;

/* Reusable buffers (quantized activations, dequantized tiles); grows as
 * needed, so the 1-token path allocates nothing once warm. One per
 * session / thread of control: not shareable between concurrent calls. */
typedef struct vl_matmul_scratch vl_matmul_scratch;

vl_matmul_scratch *vl_matmul_scratch_new(void);
void vl_matmul_scratch_free(vl_matmul_scratch *s);

/* y[t][o] = sum_i W[o][i] * x[t][i] for t < n_tok; x is n_tok x n_in
 * row-major, y is n_tok x n_out row-major (must not overlap x).
 * Errors: VLLM_ERR_INVALID_ARG (NULL pointers, negative sizes, row_bytes
 * too small), VLLM_ERR_UNSUPPORTED (weight type), VLLM_ERR_FORMAT (n_in not
 * a whole number of blocks), VLLM_ERR_NOMEM. */
vllm_status vl_matmul(vl_pool *pool, vl_matmul_scratch *s, const vl_weight *W, const float *x, int64_t n_tok,
                      float *y);

/* y[i] = x W[i]^T for nw weights sharing the input (Q/K/V, gate/up).
 * When they share type and n_in and the GEMV path applies, the input is
 * converted once and all rows run in one pool job; otherwise this is nw
 * vl_matmul calls. */
vllm_status vl_matmul_multi(vl_pool *pool, vl_matmul_scratch *s, const vl_weight *const *W, int nw, const float *x,
                            int64_t n_tok, float *const *y);

/* Same with the path forced (tests and benchmarks compare them).
 * VL_MATMUL_GEMM is the integer GEMM (igemm.h) for the weight types and
 * CPUs where it is the faster one, else dequantized tiles through sgemm;
 * VL_MATMUL_GEMM_F32 always the latter; VL_MATMUL_GEMM_INT8 always the
 * integer GEMM with the best kernel this CPU has (VLLM_ERR_UNSUPPORTED
 * for other weight types or without SIMD kernels). */
typedef enum vl_matmul_path {
    VL_MATMUL_AUTO = 0,
    VL_MATMUL_GEMV = 1,
    VL_MATMUL_GEMM = 2,
    VL_MATMUL_GEMM_F32 = 3,
    VL_MATMUL_GEMM_INT8 = 4,
} vl_matmul_path;
vllm_status vl_matmul_path_run(vl_pool *pool, vl_matmul_scratch *s, const vl_weight *W, const float *x,
                               int64_t n_tok, float *y, vl_matmul_path path);

/* Token count from which VL_MATMUL_AUTO uses the GEMM path for `type`. */
int64_t vl_matmul_gemm_min_tokens(int32_t type);

#endif
