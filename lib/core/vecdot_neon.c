/* AArch64 AdvSIMD (ARMv8.0, every arm64 CPU) GEMV kernels: f32, f16 and
 * bf16 rows with four-way float accumulators, and the 4-/8-bit block
 * formats with widening int8 multiplies (vecdot_neon_body.h). Types not
 * filled in here keep the scalar kernels. */
#include <arm_neon.h>

/* 16 int8 products a[i]*b[i] added into four int32 lanes: widening
 * multiply to int16 (|a*b| <= 128*128 fits), then pairwise add-accumulate. */
static inline int32x4_t dot_i8x16(int32x4_t acc, int8x16_t a, int8x16_t b)
{
    acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(a), vget_low_s8(b)));
    return vpadalq_s16(acc, vmull_high_s8(a, b));
}

#include "vecdot_neon_body.h"

/* ---- float rows: 16 elements per step, scalar tail ------------------------------ */

static float dot_f32(const float *w, const float *x, int64_t n)
{
    float32x4_t a0 = vdupq_n_f32(0), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = vfmaq_f32(a0, vld1q_f32(w + i), vld1q_f32(x + i));
        a1 = vfmaq_f32(a1, vld1q_f32(w + i + 4), vld1q_f32(x + i + 4));
        a2 = vfmaq_f32(a2, vld1q_f32(w + i + 8), vld1q_f32(x + i + 8));
        a3 = vfmaq_f32(a3, vld1q_f32(w + i + 12), vld1q_f32(x + i + 12));
    }
    for (; i + 4 <= n; i += 4) a0 = vfmaq_f32(a0, vld1q_f32(w + i), vld1q_f32(x + i));
    float s = vaddvq_f32(vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3)));
    for (; i < n; i++) s += w[i] * x[i];
    return s;
}

/* f16 -> f32 with FCVTL (exact, subnormals included; baseline ARMv8). */
static float dot_f16(const uint16_t *w, const uint16_t *x, int64_t n)
{
    float32x4_t a0 = vdupq_n_f32(0), a1 = a0;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const float16x8_t wv = vreinterpretq_f16_u16(vld1q_u16(w + i));
        const float16x8_t xv = vreinterpretq_f16_u16(vld1q_u16(x + i));
        a0 = vfmaq_f32(a0, vcvt_f32_f16(vget_low_f16(wv)), vcvt_f32_f16(vget_low_f16(xv)));
        a1 = vfmaq_f32(a1, vcvt_high_f32_f16(wv), vcvt_high_f32_f16(xv));
    }
    float s = vaddvq_f32(vaddq_f32(a0, a1));
    for (; i < n; i++) s += vl_f16_to_f32(w[i]) * vl_f16_to_f32(x[i]);
    return s;
}

/* bf16 -> f32 is a 16-bit left shift (vl_bf16_to_f32). */
static inline float32x4_t bf16_lo(uint16x8_t v) { return vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(v), 16)); }
static inline float32x4_t bf16_hi(uint16x8_t v) { return vreinterpretq_f32_u32(vshll_high_n_u16(v, 16)); }

static float dot_bf16(const uint16_t *w, const uint16_t *x, int64_t n)
{
    float32x4_t a0 = vdupq_n_f32(0), a1 = a0;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const uint16x8_t wv = vld1q_u16(w + i), xv = vld1q_u16(x + i);
        a0 = vfmaq_f32(a0, bf16_lo(wv), bf16_lo(xv));
        a1 = vfmaq_f32(a1, bf16_hi(wv), bf16_hi(xv));
    }
    float s = vaddvq_f32(vaddq_f32(a0, a1));
    for (; i < n; i++) s += vl_bf16_to_f32(w[i]) * vl_bf16_to_f32(x[i]);
    return s;
}

NEON_GEMV(gemv_f32, dot_f32, float, float, 1)
NEON_GEMV(gemv_f16, dot_f16, uint16_t, uint16_t, 1)
NEON_GEMV(gemv_bf16, dot_bf16, uint16_t, uint16_t, 1)

void vl_kernels_fill_neon(vl_kernel_table *t)
{
    t->gemv[VL_TYPE_F32] = gemv_f32;
    t->gemv[VL_TYPE_F16] = gemv_f16;
    t->gemv[VL_TYPE_BF16] = gemv_bf16;
    fill_block_kernels(t);
}
