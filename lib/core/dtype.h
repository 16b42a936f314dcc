/* Tensor element types, numbered exactly as ggml numbers them in GGUF.
 *
 * Block-quantized types store `block_size` weights in `type_size` bytes;
 * rows (ne[0]) must be a whole number of blocks. The layouts follow
 * ggml-common.h; dequantization lives in quant.c. */
#ifndef VL_CORE_DTYPE_H
#define VL_CORE_DTYPE_H

#include <stddef.h>
#include <stdint.h>

typedef enum vl_type {
    VL_TYPE_F32 = 0,
    VL_TYPE_F16 = 1,
    VL_TYPE_Q4_0 = 2,
    VL_TYPE_Q4_1 = 3,
    VL_TYPE_Q5_0 = 6,
    VL_TYPE_Q5_1 = 7,
    VL_TYPE_Q8_0 = 8,
    VL_TYPE_Q8_1 = 9,
    VL_TYPE_Q2_K = 10,
    VL_TYPE_Q3_K = 11,
    VL_TYPE_Q4_K = 12,
    VL_TYPE_Q5_K = 13,
    VL_TYPE_Q6_K = 14,
    VL_TYPE_Q8_K = 15,
    VL_TYPE_IQ2_XXS = 16,
    VL_TYPE_IQ2_XS = 17,
    VL_TYPE_IQ3_XXS = 18,
    VL_TYPE_IQ1_S = 19,
    VL_TYPE_IQ4_NL = 20,
    VL_TYPE_IQ3_S = 21,
    VL_TYPE_IQ2_S = 22,
    VL_TYPE_IQ4_XS = 23,
    VL_TYPE_I8 = 24,
    VL_TYPE_I16 = 25,
    VL_TYPE_I32 = 26,
    VL_TYPE_I64 = 27,
    VL_TYPE_F64 = 28,
    VL_TYPE_IQ1_M = 29,
    VL_TYPE_BF16 = 30,
    VL_TYPE_TQ1_0 = 34,
    VL_TYPE_TQ2_0 = 35,
    VL_TYPE_MXFP4 = 39,
    VL_TYPE_COUNT = 40
} vl_type;

typedef struct vl_type_traits {
    const char *name;      /* "Q8_0" */
    int32_t block_size;    /* weights per block (1 for plain types) */
    int32_t type_size;     /* bytes per block */
    int can_dequantize;    /* 1 when quant.c can turn it into f32 */
} vl_type_traits;

/* Traits of a ggml type id, or NULL for ids ggml never assigned. */
const vl_type_traits *vl_type_traits_of(int32_t type);

/* Name of a type id ("Q4_K"), "?" when unknown. */
const char *vl_type_name(int32_t type);

/* Bytes of one row of `n` elements; 0 if `n` is not a multiple of the
 * block size or the type is unknown. */
size_t vl_row_size(int32_t type, int64_t n);

#endif
