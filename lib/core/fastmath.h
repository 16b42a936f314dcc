/* Branch-free float math for the vectorizable loops of the forward passes. */
#ifndef VL_CORE_FASTMATH_H
#define VL_CORE_FASTMATH_H

#include <stdint.h>

#include "f16.h"

/* exp(x) to ~2 ulp: x = k·ln2 + r with |r| <= ln2/2 (ln2 split in two for
 * accuracy), Cephes' degree-6 polynomial for e^r, and 2^k put into the
 * exponent field. Branch-free so loops over it vectorize. Inputs are
 * clamped to where 2^k is a normal float; NaN is clamped too (to the low
 * end: the result is ~0, never undefined behaviour). */
static inline float vl_exp_fast(float x)
{
    x = x > -87.3f ? x : -87.3f;
    x = x < 88.3f ? x : 88.3f;
    const float magic = 12582912.0f; /* 1.5·2^23: adding it rounds to an integer */
    const float k = (x * 1.44269504088896341f + magic) - magic;
    float r = x - k * 0.693359375f;
    r = r - k * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    const float e = p * r * r + r + 1.0f;
    return e * vl_bits_f32((uint32_t)((int32_t)k + 127) << 23);
}

/* 2^x to ~2e-7 relative (about 2 ulp): x = n + f with n = round(x),
 * |f| <= 1/2, a degree-5 polynomial for 2^f (interpolated at Chebyshev
 * nodes: 2.1e-7 relative over [-1/2, 1/2] in float), times 2^n built in
 * the exponent field. For x <= -127 (and NaN) the result is exactly 0:
 * n = -127 gives the bit pattern 0, so masked scores (-inf) weigh
 * nothing. Meant for x <= 0 (softmax weights e^(s - max) with the scores
 * kept in base 2); x is clamped to 127 above (and the result is wrong
 * from 128 on). The attention kernels' vector version uses the same
 * coefficients. */
#define VL_EXP2_C0 1.000000119e+00f
#define VL_EXP2_C1 6.931471825e-01f
#define VL_EXP2_C2 2.402210683e-01f
#define VL_EXP2_C3 5.550356954e-02f
#define VL_EXP2_C4 9.676031768e-03f
#define VL_EXP2_C5 1.339086331e-03f

static inline float vl_exp2_fast(float x)
{
    x = x > -127.0f ? x : -127.0f;
    x = x < 127.0f ? x : 127.0f;
    const float magic = 12582912.0f; /* 1.5·2^23: adding it rounds to an integer */
    const float n = (x + magic) - magic;
    const float f = x - n;
    float p = VL_EXP2_C5;
    p = p * f + VL_EXP2_C4;
    p = p * f + VL_EXP2_C3;
    p = p * f + VL_EXP2_C2;
    p = p * f + VL_EXP2_C1;
    p = p * f + VL_EXP2_C0;
    return p * vl_bits_f32((uint32_t)((int32_t)n + 127) << 23);
}

#endif
