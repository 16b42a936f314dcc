/* Block formats (ggml-common.h layouts), reference dequantization, and the
 * activation quantizers llama.cpp applies before each dot product.
 *
 * The dequantizers are exact (bit-identical to ggml's reference
 * dequantize_row_*). The activation quantizers reproduce what ggml's CPU
 * backend does at run time (e.g. quantize_row_q8_0 scales by 127/amax and
 * rounds to nearest-even, storing d = amax/127 as fp16), because matching
 * llama.cpp's numbers depends on it. */
#ifndef VL_CORE_QUANT_H
#define VL_CORE_QUANT_H

#include <stddef.h>
#include <stdint.h>

#include "dtype.h"

#define VL_QK 32     /* block size of the *_0 / *_1 formats */
#define VL_QK_K 256  /* super-block size of the k-quants */

typedef struct { uint16_t d; uint8_t qs[VL_QK / 2]; } vl_block_q4_0;
typedef struct { uint16_t d, m; uint8_t qs[VL_QK / 2]; } vl_block_q4_1;
typedef struct { uint16_t d; uint8_t qh[4]; uint8_t qs[VL_QK / 2]; } vl_block_q5_0;
typedef struct { uint16_t d, m; uint8_t qh[4]; uint8_t qs[VL_QK / 2]; } vl_block_q5_1;
typedef struct { uint16_t d; int8_t qs[VL_QK]; } vl_block_q8_0;
typedef struct { uint16_t d, s; int8_t qs[VL_QK]; } vl_block_q8_1;
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[VL_QK_K / 2]; } vl_block_q4_K;
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qh[VL_QK_K / 8]; uint8_t qs[VL_QK_K / 2]; } vl_block_q5_K;
typedef struct { uint8_t ql[VL_QK_K / 2]; uint8_t qh[VL_QK_K / 4]; int8_t scales[VL_QK_K / 16]; uint16_t d; } vl_block_q6_K;
typedef struct { float d; int8_t qs[VL_QK_K]; int16_t bsums[VL_QK_K / 16]; } vl_block_q8_K;

/* Dequantize n (a multiple of the block size) values of `type` to f32.
 * Supports every type whose traits say can_dequantize. Uses SIMD where
 * available; results are identical to the scalar reference. */
void vl_dequantize_row(int32_t type, const void *src, float *dst, int64_t n);

/* The scalar reference for the same (used by tests to check the fast path). */
void vl_dequantize_row_ref(int32_t type, const void *src, float *dst, int64_t n);

/* The activation type llama.cpp pairs with a weight type for dot products
 * (ggml's vec_dot_type): F32->F32, F16->F16, BF16->BF16, Q4_0/Q5_0/Q8_0 ->
 * Q8_0, Q4_1/Q5_1 -> Q8_1, Q4_K/Q5_K/Q6_K -> Q8_K. -1 if unsupported. */
int32_t vl_vec_dot_type(int32_t weight_type);

/* Bytes needed to hold n activations converted to `vec_dot_type`. */
size_t vl_activation_row_size(int32_t vec_dot_type, int64_t n);

/* Convert n f32 activations to `vec_dot_type` (n a multiple of its block). */
void vl_quantize_activations(int32_t vec_dot_type, const float *x, void *dst, int64_t n);

/* Q4_0 blocks for storage (the KV cache): ggml's reference rule — the
 * value of largest magnitude maps to -8, d = that value / -8, nibbles
 * round half up. n a multiple of 32. */
void vl_quantize_row_q4_0(const float *x, void *dst, int64_t n);

/* Round-trip activations through `vec_dot_type` in float form: what the
 * dot product against a weight row effectively sees. Lets a GEMM on
 * dequantized weights reproduce llama.cpp's quantized dot products. */
void vl_activations_emulate(int32_t vec_dot_type, const float *x, float *dst, int64_t n);

#endif
