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

#endif
