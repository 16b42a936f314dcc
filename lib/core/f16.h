/* IEEE half and bfloat16 conversions (scalar, exact, round-to-nearest-even),
 * bit-compatible with ggml's GGML_FP32_TO_FP16 / GGML_FP32_TO_BF16. */
#ifndef VL_CORE_F16_H
#define VL_CORE_F16_H

#include <stdint.h>
#include <string.h>

static inline uint32_t vl_f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline float vl_bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

static inline float vl_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    if (exp == 0x1f) return vl_bits_f32(sign | 0x7f800000u | (man << 13)); /* inf / nan */
    if (exp == 0) {
        if (man == 0) return vl_bits_f32(sign);
        /* subnormal: value = man * 2^-24 */
        float f = (float)man * (1.0f / 16777216.0f);
        return sign ? -f : f;
    }
    return vl_bits_f32(sign | ((exp + 112) << 23) | (man << 13));
}

static inline uint16_t vl_f32_to_f16(float f)
{
    uint32_t x = vl_f32_bits(f);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) /* inf or nan (keep nan quiet) */
        return (uint16_t)(sign | 0x7c00 | (ax > 0x7f800000u ? 0x200 | ((ax >> 13) & 0x3ff) : 0));
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00); /* rounds to >= 65520: inf */
    if (ax < 0x38800000u) {
        /* result is subnormal or zero: round ax * 2^24 to an integer, ties to even */
        if (ax < 0x33000000u) return (uint16_t)sign; /* < 2^-25: rounds to 0 */
        uint32_t e = ax >> 23;
        uint32_t m = (ax & 0x7fffff) | 0x800000;
        uint32_t shift = 126 - e; /* 14..24 */
        uint32_t q = m >> shift;
        uint32_t rem = m & ((1u << shift) - 1);
        uint32_t half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1))) q++;
        return (uint16_t)(sign | q);
    }
    uint32_t r = ax + 0xfffu + ((ax >> 13) & 1u); /* round to nearest even at bit 13 */
    return (uint16_t)(sign | ((r - 0x38000000u) >> 13));
}

/* Round a float through half precision and back. */
static inline float vl_round_f16(float f) { return vl_f16_to_f32(vl_f32_to_f16(f)); }

static inline float vl_bf16_to_f32(uint16_t h) { return vl_bits_f32((uint32_t)h << 16); }

static inline uint16_t vl_f32_to_bf16(float f)
{
    uint32_t u = vl_f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 64); /* quiet nan */
    return (uint16_t)((u + (0x7fffu + ((u >> 16) & 1u))) >> 16);
}

#endif
