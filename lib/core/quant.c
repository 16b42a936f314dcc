/* Reference dequantization (ggml-common.h block layouts, the math of
 * ggml-quants.c dequantize_row_*) and the activation conversions of
 * ggml's x86 CPU backend.
 *
 * Float expressions keep ggml's evaluation order (e.g. Q4_K is
 * `(d*sc) * q - dmin*m`), and this file is compiled without FP
 * contraction (-std=c11), so the SIMD dequantizers, which also avoid FMA,
 * can be bit-identical to these. */
#include "quant.h"

#include <math.h>
#include <string.h>

#include "f16.h"
#include "kernels.h"

_Static_assert(sizeof(vl_block_q4_0) == 18, "q4_0 layout");
_Static_assert(sizeof(vl_block_q4_1) == 20, "q4_1 layout");
_Static_assert(sizeof(vl_block_q5_0) == 22, "q5_0 layout");
_Static_assert(sizeof(vl_block_q5_1) == 24, "q5_1 layout");
_Static_assert(sizeof(vl_block_q8_0) == 34, "q8_0 layout");
_Static_assert(sizeof(vl_block_q8_1) == 36, "q8_1 layout");
_Static_assert(sizeof(vl_block_q4_K) == 144, "q4_K layout");
_Static_assert(sizeof(vl_block_q5_K) == 176, "q5_K layout");
_Static_assert(sizeof(vl_block_q6_K) == 210, "q6_K layout");
_Static_assert(sizeof(vl_block_q8_K) == 292, "q8_K layout");

/* ---- reference dequantizers ------------------------------------------------ */

static void deq_f32(const void *src, float *dst, int64_t n) { memcpy(dst, src, (size_t)n * sizeof(float)); }

static void deq_f16(const void *src, float *dst, int64_t n)
{
    const uint16_t *s = src;
    for (int64_t i = 0; i < n; i++) dst[i] = vl_f16_to_f32(s[i]);
}

static void deq_bf16(const void *src, float *dst, int64_t n)
{
    const uint16_t *s = src;
    for (int64_t i = 0; i < n; i++) dst[i] = vl_bf16_to_f32(s[i]);
}

static void deq_q4_0(const void *src, float *dst, int64_t n)
{
    const vl_block_q4_0 *b = src;
    for (int64_t i = 0; i < n / VL_QK; i++, dst += VL_QK) {
        const float d = vl_f16_to_f32(b[i].d);
        for (int j = 0; j < VL_QK / 2; j++) {
            dst[j] = (float)((b[i].qs[j] & 0xF) - 8) * d;
            dst[j + 16] = (float)((b[i].qs[j] >> 4) - 8) * d;
        }
    }
}

static void deq_q4_1(const void *src, float *dst, int64_t n)
{
    const vl_block_q4_1 *b = src;
    for (int64_t i = 0; i < n / VL_QK; i++, dst += VL_QK) {
        const float d = vl_f16_to_f32(b[i].d), m = vl_f16_to_f32(b[i].m);
        for (int j = 0; j < VL_QK / 2; j++) {
            dst[j] = (float)(b[i].qs[j] & 0xF) * d + m;
            dst[j + 16] = (float)(b[i].qs[j] >> 4) * d + m;
        }
    }
}

/* Bit j of the 32-bit little-endian qh field is the 5th bit of weight j. */
static uint32_t load_qh(const uint8_t qh[4])
{
    return (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24;
}

static void deq_q5_0(const void *src, float *dst, int64_t n)
{
    const vl_block_q5_0 *b = src;
    for (int64_t i = 0; i < n / VL_QK; i++, dst += VL_QK) {
        const float d = vl_f16_to_f32(b[i].d);
        const uint32_t qh = load_qh(b[i].qh);
        for (int j = 0; j < VL_QK / 2; j++) {
            int lo = (b[i].qs[j] & 0xF) | (int)(((qh >> j) & 1) << 4);
            int hi = (b[i].qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
            dst[j] = (float)(lo - 16) * d;
            dst[j + 16] = (float)(hi - 16) * d;
        }
    }
}

static void deq_q5_1(const void *src, float *dst, int64_t n)
{
    const vl_block_q5_1 *b = src;
    for (int64_t i = 0; i < n / VL_QK; i++, dst += VL_QK) {
        const float d = vl_f16_to_f32(b[i].d), m = vl_f16_to_f32(b[i].m);
        const uint32_t qh = load_qh(b[i].qh);
        for (int j = 0; j < VL_QK / 2; j++) {
            int lo = (b[i].qs[j] & 0xF) | (int)(((qh >> j) & 1) << 4);
            int hi = (b[i].qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
            dst[j] = (float)lo * d + m;
            dst[j + 16] = (float)hi * d + m;
        }
    }
}

static void deq_q8_0(const void *src, float *dst, int64_t n)
{
    const vl_block_q8_0 *b = src;
    for (int64_t i = 0; i < n / VL_QK; i++, dst += VL_QK) {
        const float d = vl_f16_to_f32(b[i].d);
        for (int j = 0; j < VL_QK; j++) dst[j] = (float)b[i].qs[j] * d;
    }
}

static void deq_q4_K(const void *src, float *dst, int64_t n)
{
    const vl_block_q4_K *b = src;
    for (int64_t i = 0; i < n / VL_QK_K; i++) {
        const float d = vl_f16_to_f32(b[i].d), dmin = vl_f16_to_f32(b[i].dmin);
        const uint8_t *q = b[i].qs;
        for (int j = 0; j < 4; j++, q += 32) { /* 64 weights: low nibbles, then high */
            uint8_t sc, m;
            vl_k4_scale_min(2 * j, b[i].scales, &sc, &m);
            const float d1 = d * sc, m1 = dmin * m;
            vl_k4_scale_min(2 * j + 1, b[i].scales, &sc, &m);
            const float d2 = d * sc, m2 = dmin * m;
            for (int l = 0; l < 32; l++) *dst++ = d1 * (float)(q[l] & 0xF) - m1;
            for (int l = 0; l < 32; l++) *dst++ = d2 * (float)(q[l] >> 4) - m2;
        }
    }
}

static void deq_q5_K(const void *src, float *dst, int64_t n)
{
    const vl_block_q5_K *b = src;
    for (int64_t i = 0; i < n / VL_QK_K; i++) {
        const float d = vl_f16_to_f32(b[i].d), dmin = vl_f16_to_f32(b[i].dmin);
        const uint8_t *ql = b[i].qs, *qh = b[i].qh;
        for (int j = 0; j < 4; j++, ql += 32) { /* qh bit 2j = low half, 2j+1 = high half */
            uint8_t sc, m;
            vl_k4_scale_min(2 * j, b[i].scales, &sc, &m);
            const float d1 = d * sc, m1 = dmin * m;
            vl_k4_scale_min(2 * j + 1, b[i].scales, &sc, &m);
            const float d2 = d * sc, m2 = dmin * m;
            for (int l = 0; l < 32; l++) *dst++ = d1 * (float)((ql[l] & 0xF) + (((qh[l] >> (2 * j)) & 1) << 4)) - m1;
            for (int l = 0; l < 32; l++) *dst++ = d2 * (float)((ql[l] >> 4) + (((qh[l] >> (2 * j + 1)) & 1) << 4)) - m2;
        }
    }
}

static void deq_q6_K(const void *src, float *dst, int64_t n)
{
    const vl_block_q6_K *b = src;
    for (int64_t i = 0; i < n / VL_QK_K; i++) {
        const float d = vl_f16_to_f32(b[i].d);
        const uint8_t *ql = b[i].ql, *qh = b[i].qh;
        const int8_t *sc = b[i].scales;
        /* Two halves of 128: weight l + 32*k takes nibble (k/2) of ql[l + 32*(k&1)]
         * and bits 2k..2k+1 of qh[l]; 16-weight groups have their own scale. */
        for (int h = 0; h < 2; h++, dst += 128, ql += 64, qh += 32, sc += 8) {
            for (int l = 0; l < 32; l++) {
                const int is = l / 16;
                const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                dst[l] = d * (float)sc[is] * (float)q1;
                dst[l + 32] = d * (float)sc[is + 2] * (float)q2;
                dst[l + 64] = d * (float)sc[is + 4] * (float)q3;
                dst[l + 96] = d * (float)sc[is + 6] * (float)q4;
            }
        }
    }
}

void vl_dequant_fill_scalar(vl_kernel_table *t)
{
    t->dequant[VL_TYPE_F32] = deq_f32;
    t->dequant[VL_TYPE_F16] = deq_f16;
    t->dequant[VL_TYPE_BF16] = deq_bf16;
    t->dequant[VL_TYPE_Q4_0] = deq_q4_0;
    t->dequant[VL_TYPE_Q4_1] = deq_q4_1;
    t->dequant[VL_TYPE_Q5_0] = deq_q5_0;
    t->dequant[VL_TYPE_Q5_1] = deq_q5_1;
    t->dequant[VL_TYPE_Q8_0] = deq_q8_0;
    t->dequant[VL_TYPE_Q4_K] = deq_q4_K;
    t->dequant[VL_TYPE_Q5_K] = deq_q5_K;
    t->dequant[VL_TYPE_Q6_K] = deq_q6_K;
}

void vl_dequantize_row(int32_t type, const void *src, float *dst, int64_t n)
{
    const vl_kernel_table *t = vl_kernels_active();
    if (type >= 0 && type < VL_TYPE_COUNT && t->dequant[type]) t->dequant[type](src, dst, n);
}

void vl_dequantize_row_ref(int32_t type, const void *src, float *dst, int64_t n)
{
    const vl_kernel_table *t = vl_kernels_for_level(0);
    if (type >= 0 && type < VL_TYPE_COUNT && t->dequant[type]) t->dequant[type](src, dst, n);
}

/* ---- activation conversion --------------------------------------------------- */

int32_t vl_vec_dot_type(int32_t weight_type)
{
    switch (weight_type) {
    case VL_TYPE_F32: return VL_TYPE_F32;
    case VL_TYPE_F16: return VL_TYPE_F16;
    case VL_TYPE_BF16: return VL_TYPE_BF16;
    case VL_TYPE_Q4_0:
    case VL_TYPE_Q5_0:
    case VL_TYPE_Q8_0: return VL_TYPE_Q8_0;
    case VL_TYPE_Q4_1:
    case VL_TYPE_Q5_1: return VL_TYPE_Q8_1;
    case VL_TYPE_Q4_K:
    case VL_TYPE_Q5_K:
    case VL_TYPE_Q6_K: return VL_TYPE_Q8_K;
    default: return -1;
    }
}

size_t vl_activation_row_size(int32_t vec_dot_type, int64_t n) { return vl_row_size(vec_dot_type, n); }

/* Round to nearest, ties to even, like _mm256_round_ps(_MM_ROUND_NEAREST) +
 * cvtps_epi32 + saturating packs: out-of-range and NaN give -128 or 127
 * without undefined float->int conversion. */
static int8_t round_q8(float v)
{
    if (!(v >= -128.0f)) return -128; /* also NaN: cvtps_epi32 gives INT_MIN, packs saturate */
    if (v >= 127.5f) return 127;
    float r = (v + 12582912.0f) - 12582912.0f; /* RNE for |v| < 2^22 */
    return (int8_t)(int)r;
}

/* The block-32 quantizer of ggml's AVX/AVX2 quantize_row_q8_0/q8_1: amax
 * from the unrounded floats, id = 127/amax (not 1/fp16(d)), RNE rounding,
 * d = fp16(amax/127). Returns the sum of the quants (for q8_1). */
static int quantize_block_q8(const float *x, uint16_t *d_out, int8_t *qs, float *d_unrounded)
{
    float amax = 0.0f;
    for (int j = 0; j < VL_QK; j++) {
        float a = fabsf(x[j]);
        amax = a > amax ? a : amax; /* maxps keeps the second operand on NaN */
    }
    const float d = amax / 127.0f;
    *d_out = vl_f32_to_f16(d);
    if (d_unrounded) *d_unrounded = d;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    int sum = 0;
    for (int j = 0; j < VL_QK; j++) {
        qs[j] = round_q8(x[j] * id);
        sum += qs[j];
    }
    return sum;
}

static void quantize_q8_0(const float *x, vl_block_q8_0 *y, int64_t n)
{
    for (int64_t i = 0; i < n / VL_QK; i++) quantize_block_q8(x + i * VL_QK, &y[i].d, y[i].qs, NULL);
}

static void quantize_q8_1(const float *x, vl_block_q8_1 *y, int64_t n)
{
    for (int64_t i = 0; i < n / VL_QK; i++) {
        float d;
        int sum = quantize_block_q8(x + i * VL_QK, &y[i].d, y[i].qs, &d);
        y[i].s = vl_f32_to_f16(d * (float)sum); /* the unrounded d times the quant sum */
    }
}

/* ggml's nearest_int: round-to-nearest-even through the float mantissa
 * (valid for |v| < 2^22, which the callers guarantee). */
static int nearest_int(float v)
{
    float f = v + 12582912.0f;
    int32_t i;
    memcpy(&i, &f, 4);
    return (i & 0x007fffff) - 0x00400000;
}

/* quantize_row_q8_K_ref (x86 uses the reference): scale by -127/max where
 * max is the signed value of largest magnitude, d = 1/iscale kept in f32. */
static void quantize_q8_K(const float *x, vl_block_q8_K *y, int64_t n)
{
    for (int64_t i = 0; i < n / VL_QK_K; i++, x += VL_QK_K) {
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < VL_QK_K; j++) {
            float a = fabsf(x[j]);
            if (a > amax) {
                amax = a;
                max = x[j];
            }
        }
        if (amax == 0.0f || !isfinite(amax)) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        const float iscale = -127.0f / max;
        for (int j = 0; j < VL_QK_K; j++) {
            int v = nearest_int(iscale * x[j]);
            y[i].qs[j] = (int8_t)(v > 127 ? 127 : v < -128 ? -128 : v);
        }
        for (int g = 0; g < VL_QK_K / 16; g++) {
            int s = 0;
            for (int l = 0; l < 16; l++) s += y[i].qs[16 * g + l];
            y[i].bsums[g] = (int16_t)s;
        }
        y[i].d = 1.0f / iscale;
    }
}

void vl_quantize_activations(int32_t vec_dot_type, const float *x, void *dst, int64_t n)
{
    switch (vec_dot_type) {
    case VL_TYPE_F32: memcpy(dst, x, (size_t)n * sizeof(float)); break;
    case VL_TYPE_F16: {
        uint16_t *h = dst;
        for (int64_t i = 0; i < n; i++) h[i] = vl_f32_to_f16(x[i]);
        break;
    }
    case VL_TYPE_BF16: {
        uint16_t *h = dst;
        for (int64_t i = 0; i < n; i++) h[i] = vl_f32_to_bf16(x[i]);
        break;
    }
    case VL_TYPE_Q8_0: quantize_q8_0(x, dst, n); break;
    case VL_TYPE_Q8_1: quantize_q8_1(x, dst, n); break;
    case VL_TYPE_Q8_K: quantize_q8_K(x, dst, n); break;
    default: break;
    }
}

void vl_quantize_row_q4_0(const float *x, void *dst, int64_t n)
{
    vl_block_q4_0 *y = dst;
    for (int64_t b = 0; b < n / VL_QK; b++) {
        const float *v = x + b * VL_QK;
        float amax = 0.0f, max = 0.0f; /* the value of largest magnitude, with its sign */
        for (int j = 0; j < VL_QK; j++)
            if (fabsf(v[j]) > amax) amax = fabsf(v[j]), max = v[j];
        const float d = max / -8.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = vl_f32_to_f16(d);
        for (int j = 0; j < VL_QK / 2; j++) {
            const int q0 = (int)(v[j] * id + 8.5f), q1 = (int)(v[j + VL_QK / 2] * id + 8.5f);
            y[b].qs[j] = (uint8_t)((q0 > 15 ? 15 : q0) | (q1 > 15 ? 15 : q1) << 4);
        }
    }
}

void vl_activations_emulate(int32_t vec_dot_type, const float *x, float *dst, int64_t n)
{
    switch (vec_dot_type) {
    case VL_TYPE_F16:
        for (int64_t i = 0; i < n; i++) dst[i] = vl_round_f16(x[i]);
        break;
    case VL_TYPE_BF16:
        for (int64_t i = 0; i < n; i++) dst[i] = vl_bf16_to_f32(vl_f32_to_bf16(x[i]));
        break;
    case VL_TYPE_Q8_0:
    case VL_TYPE_Q8_1: /* the s field of q8_1 is not representable here; see quant.h */
        for (int64_t i = 0; i < n / VL_QK; i++) {
            vl_block_q8_0 b;
            quantize_block_q8(x + i * VL_QK, &b.d, b.qs, NULL);
            const float d = vl_f16_to_f32(b.d);
            for (int j = 0; j < VL_QK; j++) dst[i * VL_QK + j] = (float)b.qs[j] * d;
        }
        break;
    case VL_TYPE_Q8_K:
        for (int64_t i = 0; i < n / VL_QK_K; i++) {
            vl_block_q8_K b;
            quantize_q8_K(x + i * VL_QK_K, &b, VL_QK_K);
            for (int j = 0; j < VL_QK_K; j++) dst[i * VL_QK_K + j] = (float)b.qs[j] * b.d;
        }
        break;
    default:
        if (dst != x) memmove(dst, x, (size_t)n * sizeof(float));
        break;
    }
}
