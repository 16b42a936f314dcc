/* Simple reference quantizers for writing test models (test-side code).
 *
 * Round-to-nearest with each format's scale rules, producing valid blocks
 * in ggml's layouts (see lib/core/quant.h). They are not llama.cpp's
 * quantizers (no error-minimizing search for the k-quants), so the bytes
 * differ from llama-quantize's; the dequantized values are close to the
 * input, which is all a random-weight test model needs. */
#ifndef VL_TESTS_QUANTIZE_REF_H
#define VL_TESTS_QUANTIZE_REF_H

#include <stddef.h>
#include <stdint.h>

/* 1 if `type` is one vl_qref_quantize can write: F32, F16, BF16, Q8_0,
 * Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K. */
int vl_qref_supported(int32_t type);

/* Quantize n values (a multiple of the type's block size) into dst, which
 * holds vl_row_size(type, n) bytes. Returns the bytes written, 0 if the
 * type is unsupported or n is not a whole number of blocks. */
size_t vl_qref_quantize(int32_t type, const float *src, void *dst, int64_t n);

/* Type id from a name ("Q8_0", case-insensitive), -1 if unknown. */
int32_t vl_qref_type_from_name(const char *name);

#endif
