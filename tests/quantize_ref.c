#include "quantize_ref.h"

#include <math.h>
#include <string.h>
#include <strings.h>

#include "core/dtype.h"
#include "core/f16.h"

#define QK 32
#define QK_K 256

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

static void put_f16(uint8_t *p, float f)
{
    uint16_t h = vl_f32_to_f16(f);
    memcpy(p, &h, 2);
}

/* The value with the largest magnitude, sign kept (the *_0 formats map
 * it to the most negative code so the full range is used). */
static float signed_absmax(const float *x, int n)
{
    float m = 0;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > fabsf(m)) m = x[i];
    return m;
}

static void minmax(const float *x, int n, float *lo, float *hi)
{
    *lo = *hi = x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < *lo) *lo = x[i];
        if (x[i] > *hi) *hi = x[i];
    }
}

/* ---- 32-element formats ---------------------------------------------------- */

static void q8_0(const float *x, uint8_t *b)
{
    float amax = fabsf(signed_absmax(x, QK));
    float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
    put_f16(b, d);
    for (int j = 0; j < QK; j++) b[2 + j] = (uint8_t)(int8_t)clampi((int)lrintf(x[j] * id), -127, 127);
}

/* Pack 32 codes of 4 low bits: byte j holds code j (low nibble) and
 * code j+16 (high nibble). */
static void pack_nibbles(const int *q, uint8_t *qs)
{
    for (int j = 0; j < QK / 2; j++) qs[j] = (uint8_t)((q[j] & 0xF) | ((q[j + 16] & 0xF) << 4));
}

static void q4_0(const float *x, uint8_t *b)
{
    float d = signed_absmax(x, QK) / -8.0f, id = d ? 1.0f / d : 0.0f;
    int q[QK];
    for (int j = 0; j < QK; j++) q[j] = clampi((int)floorf(x[j] * id + 8.5f), 0, 15);
    put_f16(b, d);
    pack_nibbles(q, b + 2);
}

static void q4_1(const float *x, uint8_t *b)
{
    float lo, hi;
    minmax(x, QK, &lo, &hi);
    float d = (hi - lo) / 15.0f, id = d ? 1.0f / d : 0.0f;
    int q[QK];
    for (int j = 0; j < QK; j++) q[j] = clampi((int)floorf((x[j] - lo) * id + 0.5f), 0, 15);
    put_f16(b, d);
    put_f16(b + 2, lo);
    pack_nibbles(q, b + 4);
}

/* Fifth bits: bit j of the little-endian u32 qh is bit 4 of code j. */
static void put_qh(const int *q, uint8_t *qh)
{
    uint32_t h = 0;
    for (int j = 0; j < QK; j++) h |= (uint32_t)((q[j] >> 4) & 1) << j;
    for (int k = 0; k < 4; k++) qh[k] = (uint8_t)(h >> (8 * k));
}

static void q5_0(const float *x, uint8_t *b)
{
    float d = signed_absmax(x, QK) / -16.0f, id = d ? 1.0f / d : 0.0f;
    int q[QK];
    for (int j = 0; j < QK; j++) q[j] = clampi((int)floorf(x[j] * id + 16.5f), 0, 31);
    put_f16(b, d);
    put_qh(q, b + 2);
    pack_nibbles(q, b + 6);
}

static void q5_1(const float *x, uint8_t *b)
{
    float lo, hi;
    minmax(x, QK, &lo, &hi);
    float d = (hi - lo) / 31.0f, id = d ? 1.0f / d : 0.0f;
    int q[QK];
    for (int j = 0; j < QK; j++) q[j] = clampi((int)floorf((x[j] - lo) * id + 0.5f), 0, 31);
    put_f16(b, d);
    put_f16(b + 2, lo);
    put_qh(q, b + 4);
    pack_nibbles(q, b + 8);
}

/* ---- k-quants ----------------------------------------------------------------
 * Q4_K / Q5_K: 8 sub-blocks of 32, value = d*sc[j]*q - dmin*m[j] with
 * 6-bit sc/m packed into 12 bytes (inverse of ggml's get_scale_min_k4):
 * bytes 0..3 hold sc[0..3], bytes 4..7 m[0..3] (low 6 bits); bytes 8..11
 * hold the low nibbles of sc[4..7] and m[4..7]; their top 2 bits sit in
 * bits 6..7 of bytes 0..3 (sc) and 4..7 (m). */
static void pack_scales_k4(const int *sc, const int *m, uint8_t *s)
{
    memset(s, 0, 12);
    for (int j = 0; j < 4; j++) {
        s[j] = (uint8_t)(sc[j] & 63);
        s[j + 4] = (uint8_t)(m[j] & 63);
    }
    for (int j = 4; j < 8; j++) {
        s[j + 4] = (uint8_t)((sc[j] & 0xF) | ((m[j] & 0xF) << 4));
        s[j - 4] |= (uint8_t)((sc[j] >> 4) << 6);
        s[j] |= (uint8_t)((m[j] >> 4) << 6);
    }
}

/* Shared scale search for Q4_K (qmax 15) and Q5_K (qmax 31): per
 * sub-block min/max, then 6-bit scales relative to the fp16 d/dmin. */
static void k_scales(const float *x, int qmax, uint8_t *dd, uint8_t *scales, int *q)
{
    float scale[8], mn[8], max_scale = 0, max_mn = 0;
    for (int j = 0; j < 8; j++) {
        float lo, hi;
        minmax(x + 32 * j, 32, &lo, &hi);
        if (lo > 0) lo = 0; /* the offset only subtracts */
        scale[j] = (hi - lo) / (float)qmax;
        mn[j] = -lo;
        if (scale[j] > max_scale) max_scale = scale[j];
        if (mn[j] > max_mn) max_mn = mn[j];
    }
    float d = vl_round_f16(max_scale / 63.0f), dmin = vl_round_f16(max_mn / 63.0f);
    int sc[8], m[8];
    for (int j = 0; j < 8; j++) {
        sc[j] = d ? clampi((int)lrintf(scale[j] / d), 0, 63) : 0;
        m[j] = dmin ? clampi((int)lrintf(mn[j] / dmin), 0, 63) : 0;
        float ds = d * (float)sc[j], off = dmin * (float)m[j];
        for (int l = 0; l < 32; l++) {
            float v = x[32 * j + l] + off;
            q[32 * j + l] = ds ? clampi((int)lrintf(v / ds), 0, qmax) : 0;
        }
    }
    put_f16(dd, d);
    put_f16(dd + 2, dmin);
    pack_scales_k4(sc, m, scales);
}

/* Codes of a 256 block into the 4-bit planes: chunk c (64 values) uses
 * qs[32c..32c+31], value 64c+l in the low nibble, 64c+32+l in the high. */
static void pack_k_nibbles(const int *q, uint8_t *qs)
{
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++)
            qs[32 * c + l] = (uint8_t)((q[64 * c + l] & 0xF) | ((q[64 * c + 32 + l] & 0xF) << 4));
}

static void q4_K(const float *x, uint8_t *b)
{
    int q[QK_K];
    k_scales(x, 15, b, b + 4, q);
    pack_k_nibbles(q, b + 16);
}

static void q5_K(const float *x, uint8_t *b)
{
    int q[QK_K];
    k_scales(x, 31, b, b + 4, q);
    uint8_t *qh = b + 16, *qs = b + 48;
    memset(qh, 0, 32);
    /* fifth bit of value 64c+l is bit 2c of qh[l]; of 64c+32+l bit 2c+1 */
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++) {
            qh[l] |= (uint8_t)(((q[64 * c + l] >> 4) & 1) << (2 * c));
            qh[l] |= (uint8_t)(((q[64 * c + 32 + l] >> 4) & 1) << (2 * c + 1));
        }
    pack_k_nibbles(q, qs);
}

/* Q6_K: 16 sub-blocks of 16, value = d*scales[j]*(q-32), q 6 bits, int8
 * scales. Layout per 128-value half h: ql[64h..64h+63], qh[32h..32h+31];
 * value 128h+32k+l (k=0..3, l<32) takes its low nibble from
 * ql[64h + l + 32*(k&1)] (low nibble for k<2, high for k>=2) and its top
 * two bits from bits 2k..2k+1 of qh[32h+l]. */
static void q6_K(const float *x, uint8_t *b)
{
    uint8_t *ql = b, *qh = b + 128;
    int8_t *scales = (int8_t *)(b + 192);
    float sub[16], max_abs = 0;
    for (int j = 0; j < 16; j++) {
        sub[j] = fabsf(signed_absmax(x + 16 * j, 16)) / 31.0f;
        if (sub[j] > max_abs) max_abs = sub[j];
    }
    float d = vl_round_f16(max_abs / 127.0f);
    int q[QK_K];
    for (int j = 0; j < 16; j++) {
        int s = d ? clampi((int)lrintf(sub[j] / d), -127, 127) : 0;
        scales[j] = (int8_t)s;
        float ds = d * (float)s;
        for (int l = 0; l < 16; l++) q[16 * j + l] = (ds ? clampi((int)lrintf(x[16 * j + l] / ds), -32, 31) : 0) + 32;
    }
    memset(ql, 0, 128);
    memset(qh, 0, 64);
    for (int h = 0; h < 2; h++)
        for (int k = 0; k < 4; k++)
            for (int l = 0; l < 32; l++) {
                int v = q[128 * h + 32 * k + l];
                uint8_t *p = &ql[64 * h + l + 32 * (k & 1)];
                *p |= (uint8_t)(k < 2 ? (v & 0xF) : (v & 0xF) << 4);
                qh[32 * h + l] |= (uint8_t)(((v >> 4) & 3) << (2 * k));
            }
    put_f16(b + 208, d);
}

/* ---- dispatch ------------------------------------------------------------------ */

int vl_qref_supported(int32_t type)
{
    switch (type) {
    case VL_TYPE_F32: case VL_TYPE_F16: case VL_TYPE_BF16: case VL_TYPE_Q8_0: case VL_TYPE_Q4_0:
    case VL_TYPE_Q4_1: case VL_TYPE_Q5_0: case VL_TYPE_Q5_1: case VL_TYPE_Q4_K: case VL_TYPE_Q5_K:
    case VL_TYPE_Q6_K: return 1;
    default: return 0;
    }
}

size_t vl_qref_quantize(int32_t type, const float *src, void *dst, int64_t n)
{
    if (!vl_qref_supported(type)) return 0;
    size_t bytes = vl_row_size(type, n);
    if (!bytes && n) return 0;
    const vl_type_traits *tr = vl_type_traits_of(type);
    int64_t nb = n / tr->block_size;
    uint8_t *out = dst;
    for (int64_t i = 0; i < nb; i++) {
        const float *x = src + i * tr->block_size;
        uint8_t *b = out + i * tr->type_size;
        switch (type) {
        case VL_TYPE_F32: memcpy(b, x, 4); break;
        case VL_TYPE_F16: put_f16(b, x[0]); break;
        case VL_TYPE_BF16: { uint16_t h = vl_f32_to_bf16(x[0]); memcpy(b, &h, 2); break; }
        case VL_TYPE_Q8_0: q8_0(x, b); break;
        case VL_TYPE_Q4_0: q4_0(x, b); break;
        case VL_TYPE_Q4_1: q4_1(x, b); break;
        case VL_TYPE_Q5_0: q5_0(x, b); break;
        case VL_TYPE_Q5_1: q5_1(x, b); break;
        case VL_TYPE_Q4_K: q4_K(x, b); break;
        case VL_TYPE_Q5_K: q5_K(x, b); break;
        case VL_TYPE_Q6_K: q6_K(x, b); break;
        default: return 0;
        }
    }
    return bytes;
}

int32_t vl_qref_type_from_name(const char *name)
{
    for (int32_t t = 0; t < VL_TYPE_COUNT; t++) {
        const vl_type_traits *tr = vl_type_traits_of(t);
        if (tr && strcasecmp(tr->name, name) == 0) return t;
    }
    return -1;
}
