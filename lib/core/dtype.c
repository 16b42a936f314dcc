#include "dtype.h"

/* Sizes from ggml-common.h (block structs) and ggml.c (type_traits). */
static const vl_type_traits traits[VL_TYPE_COUNT] = {
    [VL_TYPE_F32] = {"F32", 1, 4, 1},
    [VL_TYPE_F16] = {"F16", 1, 2, 1},
    [VL_TYPE_Q4_0] = {"Q4_0", 32, 18, 1},
    [VL_TYPE_Q4_1] = {"Q4_1", 32, 20, 1},
    [VL_TYPE_Q5_0] = {"Q5_0", 32, 22, 1},
    [VL_TYPE_Q5_1] = {"Q5_1", 32, 24, 1},
    [VL_TYPE_Q8_0] = {"Q8_0", 32, 34, 1},
    [VL_TYPE_Q8_1] = {"Q8_1", 32, 36, 0},
    [VL_TYPE_Q2_K] = {"Q2_K", 256, 84, 0},
    [VL_TYPE_Q3_K] = {"Q3_K", 256, 110, 0},
    [VL_TYPE_Q4_K] = {"Q4_K", 256, 144, 1},
    [VL_TYPE_Q5_K] = {"Q5_K", 256, 176, 1},
    [VL_TYPE_Q6_K] = {"Q6_K", 256, 210, 1},
    [VL_TYPE_Q8_K] = {"Q8_K", 256, 292, 0},
    [VL_TYPE_IQ2_XXS] = {"IQ2_XXS", 256, 66, 0},
    [VL_TYPE_IQ2_XS] = {"IQ2_XS", 256, 74, 0},
    [VL_TYPE_IQ3_XXS] = {"IQ3_XXS", 256, 98, 0},
    [VL_TYPE_IQ1_S] = {"IQ1_S", 256, 50, 0},
    [VL_TYPE_IQ4_NL] = {"IQ4_NL", 32, 18, 0},
    [VL_TYPE_IQ3_S] = {"IQ3_S", 256, 110, 0},
    [VL_TYPE_IQ2_S] = {"IQ2_S", 256, 82, 0},
    [VL_TYPE_IQ4_XS] = {"IQ4_XS", 256, 136, 0},
    [VL_TYPE_I8] = {"I8", 1, 1, 0},
    [VL_TYPE_I16] = {"I16", 1, 2, 0},
    [VL_TYPE_I32] = {"I32", 1, 4, 0},
    [VL_TYPE_I64] = {"I64", 1, 8, 0},
    [VL_TYPE_F64] = {"F64", 1, 8, 0},
    [VL_TYPE_IQ1_M] = {"IQ1_M", 256, 56, 0},
    [VL_TYPE_BF16] = {"BF16", 1, 2, 1},
    [VL_TYPE_TQ1_0] = {"TQ1_0", 256, 54, 0},
    [VL_TYPE_TQ2_0] = {"TQ2_0", 256, 66, 0},
    [VL_TYPE_MXFP4] = {"MXFP4", 32, 17, 0},
};

const vl_type_traits *vl_type_traits_of(int32_t type)
{
    if (type < 0 || type >= VL_TYPE_COUNT || traits[type].name == NULL) return NULL;
    return &traits[type];
}

const char *vl_type_name(int32_t type)
{
    const vl_type_traits *t = vl_type_traits_of(type);
    return t ? t->name : "?";
}

size_t vl_row_size(int32_t type, int64_t n)
{
    const vl_type_traits *t = vl_type_traits_of(type);
    if (!t || n < 0 || n % t->block_size != 0) return 0;
    return (size_t)(n / t->block_size) * (size_t)t->type_size;
}
