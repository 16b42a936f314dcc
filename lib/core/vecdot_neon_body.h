/* The block-quantized GEMV kernels shared by the AArch64 levels
 * (vecdot_neon.c, vecdot_neon_dotprod.c). Include only from those files,
 * after defining
 *     static inline int32x4_t dot_i8x16(int32x4_t acc, int8x16_t a, int8x16_t b)
 * which adds the 16 products a[i]*b[i] into acc's four lanes (any split).
 *
 * Each block's integer dot product is exact, and the float accumulation
 * across blocks is the scalar reference's, in its order (vecdot.c), so
 * these kernels give the reference's result bit for bit. */
#ifndef VL_CORE_VECDOT_NEON_BODY_H
#define VL_CORE_VECDOT_NEON_BODY_H

#include <arm_neon.h>

#include "f16.h"
#include "kernels.h"
#include "quant.h"

#define ROWP(W, r, rb) ((const char *)(W) + (size_t)(r) * (rb))

/* The 32 weights of a 4-bit block (low nibbles are elements 0..15, high
 * nibbles 16..31) minus `offset`, as two int8x16. */
static inline void unpack_nibbles(const uint8_t *qs, int8_t offset, int8x16_t *lo, int8x16_t *hi)
{
    const uint8x16_t v = vld1q_u8(qs);
    const int8x16_t off = vdupq_n_s8(offset);
    *lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(v, vdupq_n_u8(0x0F))), off);
    *hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(v, 4)), off);
}

/* The fifth bits of a Q5 block (qh bit j belongs to element j) as 0x10
 * bytes: elements 0..15 in *lo, 16..31 in *hi. */
static inline void unpack_high_bits(const uint8_t qh[4], uint8x16_t *lo, uint8x16_t *hi)
{
    static const uint8_t bit[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    const uint8x16_t bits = vld1q_u8(bit), b4 = vdupq_n_u8(0x10);
    *lo = vandq_u8(vtstq_u8(vcombine_u8(vdup_n_u8(qh[0]), vdup_n_u8(qh[1])), bits), b4);
    *hi = vandq_u8(vtstq_u8(vcombine_u8(vdup_n_u8(qh[2]), vdup_n_u8(qh[3])), bits), b4);
}

/* The 32 five-bit weights of a Q5 block minus `offset`. */
static inline void unpack_q5(const uint8_t *qs, const uint8_t qh[4], int8_t offset, int8x16_t *lo, int8x16_t *hi)
{
    const uint8x16_t v = vld1q_u8(qs);
    uint8x16_t h0, h1;
    unpack_high_bits(qh, &h0, &h1);
    const int8x16_t off = vdupq_n_s8(offset);
    *lo = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(vandq_u8(v, vdupq_n_u8(0x0F)), h0)), off);
    *hi = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8(v, 4), h1)), off);
}

static inline int dot_block32(int8x16_t w0, int8x16_t w1, const int8_t *x)
{
    int32x4_t acc = dot_i8x16(vdupq_n_s32(0), w0, vld1q_s8(x));
    acc = dot_i8x16(acc, w1, vld1q_s8(x + 16));
    return vaddvq_s32(acc);
}

static float dot_q8_0(const vl_block_q8_0 *w, const vl_block_q8_0 *x, int64_t nb)
{
    float s = 0.0f;
    for (int64_t b = 0; b < nb; b++) {
        const int isum = dot_block32(vld1q_s8(w[b].qs), vld1q_s8(w[b].qs + 16), x[b].qs);
        s += (float)isum * (vl_f16_to_f32(w[b].d) * vl_f16_to_f32(x[b].d));
    }
    return s;
}

static float dot_q4_0(const vl_block_q4_0 *w, const vl_block_q8_0 *x, int64_t nb)
{
    float s = 0.0f;
    for (int64_t b = 0; b < nb; b++) {
        int8x16_t lo, hi;
        unpack_nibbles(w[b].qs, 8, &lo, &hi);
        const int isum = dot_block32(lo, hi, x[b].qs);
        s += (float)isum * (vl_f16_to_f32(w[b].d) * vl_f16_to_f32(x[b].d));
    }
    return s;
}

static float dot_q4_1(const vl_block_q4_1 *w, const vl_block_q8_1 *x, int64_t nb)
{
    float s = 0.0f;
    for (int64_t b = 0; b < nb; b++) {
        int8x16_t lo, hi;
        unpack_nibbles(w[b].qs, 0, &lo, &hi);
        const int isum = dot_block32(lo, hi, x[b].qs);
        s += (vl_f16_to_f32(w[b].d) * vl_f16_to_f32(x[b].d)) * (float)isum +
             vl_f16_to_f32(w[b].m) * vl_f16_to_f32(x[b].s);
    }
    return s;
}

static float dot_q5_0(const vl_block_q5_0 *w, const vl_block_q8_0 *x, int64_t nb)
{
    float s = 0.0f;
    for (int64_t b = 0; b < nb; b++) {
        int8x16_t lo, hi;
        unpack_q5(w[b].qs, w[b].qh, 16, &lo, &hi);
        const int isum = dot_block32(lo, hi, x[b].qs);
        s += (float)isum * (vl_f16_to_f32(w[b].d) * vl_f16_to_f32(x[b].d));
    }
    return s;
}

static float dot_q5_1(const vl_block_q5_1 *w, const vl_block_q8_1 *x, int64_t nb)
{
    float s = 0.0f;
    for (int64_t b = 0; b < nb; b++) {
        int8x16_t lo, hi;
        unpack_q5(w[b].qs, w[b].qh, 0, &lo, &hi);
        const int isum = dot_block32(lo, hi, x[b].qs);
        s += (vl_f16_to_f32(w[b].d) * vl_f16_to_f32(x[b].d)) * (float)isum +
             vl_f16_to_f32(w[b].m) * vl_f16_to_f32(x[b].s);
    }
    return s;
}

#define NEON_GEMV(name, dot, wt, xt, div)                                                              \
    static void name(const void *W, size_t rb, const void *xq, int64_t n, float *y, int64_t nrows)   \
    {                                                                                                \
        for (int64_t r = 0; r < nrows; r++) y[r] = dot((const wt *)ROWP(W, r, rb), (const xt *)xq, n / (div)); \
    }

NEON_GEMV(gemv_q8_0, dot_q8_0, vl_block_q8_0, vl_block_q8_0, VL_QK)
NEON_GEMV(gemv_q4_0, dot_q4_0, vl_block_q4_0, vl_block_q8_0, VL_QK)
NEON_GEMV(gemv_q4_1, dot_q4_1, vl_block_q4_1, vl_block_q8_1, VL_QK)
NEON_GEMV(gemv_q5_0, dot_q5_0, vl_block_q5_0, vl_block_q8_0, VL_QK)
NEON_GEMV(gemv_q5_1, dot_q5_1, vl_block_q5_1, vl_block_q8_1, VL_QK)

static void fill_block_kernels(vl_kernel_table *t)
{
    t->gemv[VL_TYPE_Q8_0] = gemv_q8_0;
    t->gemv[VL_TYPE_Q4_0] = gemv_q4_0;
    t->gemv[VL_TYPE_Q4_1] = gemv_q4_1;
    t->gemv[VL_TYPE_Q5_0] = gemv_q5_0;
    t->gemv[VL_TYPE_Q5_1] = gemv_q5_1;
}

#endif
