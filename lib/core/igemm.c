/* Integer GEMM: weight packing, activation preparation and the scalar
 * reference micro-kernel (see igemm.h for the layout and the math). */
#include "igemm.h"

#include <math.h>
#include <string.h>

#include "f16.h"
#include "kernels.h"
#include "quant.h"

int vl_igemm_supports(int32_t type)
{
    switch (type) {
    case VL_TYPE_Q8_0:
    case VL_TYPE_Q4_0:
    case VL_TYPE_Q5_0:
    case VL_TYPE_Q4_K:
    case VL_TYPE_Q5_K:
    case VL_TYPE_Q6_K: return 1;
    default: return 0;
    }
}

int vl_igemm_has_min(int32_t type) { return type == VL_TYPE_Q4_K || type == VL_TYPE_Q5_K; }

int vl_igemm_has_isc(int32_t type) { return type == VL_TYPE_Q6_K; }

int vl_igemm_qmax(int32_t type)
{
    switch (type) {
    case VL_TYPE_Q4_0: return 8;   /* -8..7 */
    case VL_TYPE_Q4_K: return 15;  /* 0..15 */
    case VL_TYPE_Q5_0: return 16;  /* -16..15 */
    case VL_TYPE_Q5_K: return 31;  /* 0..31 */
    case VL_TYPE_Q6_K: return 32;  /* -32..31 */
    default: return 128;           /* Q8_0: any int8 */
    }
}

/* Sub-block s (32 values) of one weight row as signed quants q, scale,
 * min and the integer scales of its two halves, with
 * value = (scale * isc) * q - min bit for bit as ggml dequantizes it. */
static void unpack_sub_block(int32_t type, const void *row, int64_t s, int8_t q[VL_IGEMM_SB], float *scale,
                             float *min, int isc[2])
{
    *min = 0.0f;
    isc[0] = isc[1] = 1;
    switch (type) {
    case VL_TYPE_Q8_0: {
        const vl_block_q8_0 *b = (const vl_block_q8_0 *)row + s;
        memcpy(q, b->qs, VL_QK);
        *scale = vl_f16_to_f32(b->d);
        break;
    }
    case VL_TYPE_Q4_0: {
        const vl_block_q4_0 *b = (const vl_block_q4_0 *)row + s;
        for (int j = 0; j < VL_QK / 2; j++) {
            q[j] = (int8_t)((b->qs[j] & 0xF) - 8);
            q[j + 16] = (int8_t)((b->qs[j] >> 4) - 8);
        }
        *scale = vl_f16_to_f32(b->d);
        break;
    }
    case VL_TYPE_Q5_0: {
        const vl_block_q5_0 *b = (const vl_block_q5_0 *)row + s;
        const uint32_t qh = (uint32_t)b->qh[0] | (uint32_t)b->qh[1] << 8 | (uint32_t)b->qh[2] << 16 |
                            (uint32_t)b->qh[3] << 24;
        for (int j = 0; j < VL_QK / 2; j++) {
            q[j] = (int8_t)(((b->qs[j] & 0xF) | (int)(((qh >> j) & 1) << 4)) - 16);
            q[j + 16] = (int8_t)(((b->qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4)) - 16);
        }
        *scale = vl_f16_to_f32(b->d);
        break;
    }
    case VL_TYPE_Q4_K:
    case VL_TYPE_Q5_K: {
        /* Super-block of 256: sub-block j uses nibble (j & 1) of the 32
         * bytes at (j / 2) * 32, plus for Q5_K bit j of qh. */
        const int j = (int)(s % 8), half = j & 1;
        const uint8_t *scales, *qs, *qh = NULL;
        uint16_t d, dmin;
        if (type == VL_TYPE_Q4_K) {
            const vl_block_q4_K *b = (const vl_block_q4_K *)row + s / 8;
            scales = b->scales, qs = b->qs, d = b->d, dmin = b->dmin;
        } else {
            const vl_block_q5_K *b = (const vl_block_q5_K *)row + s / 8;
            scales = b->scales, qs = b->qs, qh = b->qh, d = b->d, dmin = b->dmin;
        }
        const uint8_t *ql = qs + (j / 2) * 32;
        for (int l = 0; l < 32; l++) {
            int v = half ? ql[l] >> 4 : ql[l] & 0xF;
            if (qh) v += ((qh[l] >> j) & 1) << 4;
            q[l] = (int8_t)v;
        }
        uint8_t sc, m;
        vl_k4_scale_min(j, scales, &sc, &m);
        *scale = vl_f16_to_f32(d) * sc;
        *min = vl_f16_to_f32(dmin) * m;
        break;
    }
    case VL_TYPE_Q6_K: {
        /* Super-block of 256 in two halves of 128 (n); sub-block k of a
         * half takes nibble k / 2 of ql[l + 32 * (k & 1)] and bits 2k..2k+1
         * of qh[l], and scale 2k + (l / 16) of the half's 8. */
        const vl_block_q6_K *b = (const vl_block_q6_K *)row + s / 8;
        const int n = (int)(s % 8) / 4, k = (int)(s % 4);
        const uint8_t *ql = b->ql + n * 64 + 32 * (k & 1), *qh = b->qh + n * 32;
        for (int l = 0; l < 32; l++) {
            const int lo = k < 2 ? ql[l] & 0xF : ql[l] >> 4;
            q[l] = (int8_t)((lo | (((qh[l] >> (2 * k)) & 3) << 4)) - 32);
        }
        *scale = vl_f16_to_f32(b->d);
        isc[0] = b->scales[n * 8 + 2 * k];
        isc[1] = b->scales[n * 8 + 2 * k + 1];
        break;
    }
    default:
        memset(q, 0, VL_IGEMM_SB);
        *scale = 0.0f;
        break;
    }
}

void vl_igemm_pack_panel(int32_t type, const void *W, size_t row_bytes, int64_t n_in, int rows, void *panel)
{
    const int64_t nsb = n_in / VL_IGEMM_SB;
    for (int64_t s = 0; s < nsb; s++) {
        uint8_t *p = (uint8_t *)panel + s * VL_IGEMM_SB_BYTES;
        int8_t *dq = (int8_t *)(p + VL_IGEMM_SB_Q);
        int32_t corr[VL_IGEMM_ROWS], isc2[2][VL_IGEMM_ROWS];
        float scale[VL_IGEMM_ROWS], min[VL_IGEMM_ROWS];
        for (int r = 0; r < VL_IGEMM_ROWS; r++) {
            int8_t q[VL_IGEMM_SB];
            int isc[2] = {1, 1};
            if (r < rows)
                unpack_sub_block(type, (const char *)W + (size_t)r * row_bytes, s, q, &scale[r], &min[r], isc);
            else memset(q, 0, sizeof q), scale[r] = min[r] = 0.0f;
            int sum[2] = {0, 0};
            for (int g = 0; g < VL_IGEMM_SB / 4; g++) {
                memcpy(dq + (g * VL_IGEMM_ROWS + r) * 4, q + g * 4, 4);
                sum[g / 4] += q[4 * g] + q[4 * g + 1] + q[4 * g + 2] + q[4 * g + 3];
            }
            corr[r] = -128 * (isc[0] * sum[0] + isc[1] * sum[1]);
            for (int h = 0; h < 2; h++) isc2[h][r] = (int32_t)((uint32_t)(uint16_t)isc[h] * 0x10001u);
        }
        memcpy(p + VL_IGEMM_SB_CORR, corr, sizeof corr);
        memcpy(p + VL_IGEMM_SB_SCALE, scale, sizeof scale);
        memcpy(p + VL_IGEMM_SB_MIN, min, sizeof min);
        memcpy(p + VL_IGEMM_SB_ISC, isc2, sizeof isc2);
    }
}

void vl_igemm_prepare_row(int32_t vec_dot_type, const void *xq, int64_t n_in, uint8_t *xu, float *dx, float *mx)
{
    const int64_t nsb = n_in / VL_IGEMM_SB;
    if (vec_dot_type == VL_TYPE_Q8_0) {
        const vl_block_q8_0 *b = xq;
        for (int64_t s = 0; s < nsb; s++) {
            int sum = 0;
            for (int j = 0; j < VL_QK; j++) {
                xu[s * VL_QK + j] = (uint8_t)(b[s].qs[j] ^ 0x80); /* q + 128 */
                sum += b[s].qs[j];
            }
            dx[s] = vl_f16_to_f32(b[s].d);
            mx[s] = -dx[s] * (float)sum;
        }
    } else { /* VL_TYPE_Q8_K */
        const vl_block_q8_K *b = xq;
        for (int64_t s = 0; s < nsb; s++) {
            const vl_block_q8_K *k = &b[s / 8];
            const int j = (int)(s % 8);
            for (int l = 0; l < VL_IGEMM_SB; l++) xu[s * VL_IGEMM_SB + l] = (uint8_t)(k->qs[j * 32 + l] ^ 0x80);
            dx[s] = k->d;
            mx[s] = -k->d * (float)(k->bsums[2 * j] + k->bsums[2 * j + 1]);
        }
    }
}

void vl_igemm_kernel_ref(const void *panel, int64_t nsb, const uint8_t *xu, size_t xu_stride, const float *dx,
                         const float *mx, size_t s_stride, int mr, int32_t type, float *y, size_t y_stride,
                         int ncols)
{
    const int has_min = vl_igemm_has_min(type);
    for (int t = 0; t < mr; t++) {
        const uint8_t *xt = xu + (size_t)t * xu_stride;
        for (int r = 0; r < ncols; r++) {
            float acc = 0.0f;
            for (int64_t s = 0; s < nsb; s++) {
                const uint8_t *p = (const uint8_t *)panel + s * VL_IGEMM_SB_BYTES;
                const int8_t *q = (const int8_t *)(p + VL_IGEMM_SB_Q);
                int32_t isum;
                float scale, min;
                memcpy(&isum, p + VL_IGEMM_SB_CORR + 4 * r, 4);
                memcpy(&scale, p + VL_IGEMM_SB_SCALE + 4 * r, 4);
                memcpy(&min, p + VL_IGEMM_SB_MIN + 4 * r, 4);
                for (int h = 0; h < 2; h++) {
                    int32_t isc, half = 0;
                    memcpy(&isc, p + VL_IGEMM_SB_ISC + 4 * (h * VL_IGEMM_ROWS + r), 4);
                    for (int g = 4 * h; g < 4 * h + 4; g++)
                        for (int k = 0; k < 4; k++)
                            half += (int32_t)xt[s * VL_IGEMM_SB + g * 4 + k] * q[(g * VL_IGEMM_ROWS + r) * 4 + k];
                    isum += (int16_t)isc * half; /* isc holds the scale in both int16 halves */
                }
                const float sd = scale * dx[(size_t)t * s_stride + (size_t)s];
                acc = fmaf((float)isum, sd, acc);
                if (has_min) acc = fmaf(min, mx[(size_t)t * s_stride + (size_t)s], acc);
            }
            y[(size_t)t * y_stride + (size_t)r] = acc;
        }
    }
}

/* ---- driver --------------------------------------------------------------------- */

/* Packed panels kept per thread and re-used by every token block: about a
 * quarter of the 1 MB L2, next to the activations streaming through. */
#define GROUP_BYTES (256u * 1024u)

static int64_t panels_per_group(int64_t n_in)
{
    const size_t pb = (size_t)(n_in / VL_IGEMM_SB) * VL_IGEMM_SB_BYTES;
    const int64_t p = (int64_t)(GROUP_BYTES / pb);
    return p < 1 ? 1 : p;
}

void vl_igemm_buffer_sizes(const vl_weight *W, int64_t n_tok, int n_threads, vl_igemm_sizes *sz)
{
    const int64_t nsb = W->n_in / VL_IGEMM_SB;
    sz->xq = vl_activation_row_size(vl_vec_dot_type(W->type), W->n_in) * (size_t)n_tok;
    sz->xu = (size_t)W->n_in * (size_t)n_tok;
    sz->dx = 2 * sizeof(float) * (size_t)nsb * (size_t)n_tok;
    sz->panels = (size_t)n_threads * (size_t)panels_per_group(W->n_in) * (size_t)nsb * VL_IGEMM_SB_BYTES;
}

typedef struct igemm_job {
    vl_igemm_fn kernel;
    const vl_weight *W;
    int32_t vdt;
    const float *x;
    int64_t n_tok, nsb;
    char *xq;
    size_t xq_stride;
    uint8_t *xu;
    float *dx, *mx;
    uint8_t *panels;
    float *y;
} igemm_job;

static void prepare_part(void *ctx, int ith, int nth)
{
    const igemm_job *j = ctx;
    const int64_t n = j->W->n_in;
    long long b, e;
    vl_split_range(j->n_tok, ith, nth, 1, &b, &e);
    for (long long t = b; t < e; t++) {
        char *q = j->xq + (size_t)t * j->xq_stride;
        vl_quantize_activations(j->vdt, j->x + t * n, q, n);
        vl_igemm_prepare_row(j->vdt, q, n, j->xu + (size_t)t * (size_t)n, j->dx + t * j->nsb, j->mx + t * j->nsb);
    }
}

static void gemm_part(void *ctx, int ith, int nth)
{
    const igemm_job *j = ctx;
    const vl_weight *W = j->W;
    const int64_t n_panels = (W->n_out + VL_IGEMM_ROWS - 1) / VL_IGEMM_ROWS, group = panels_per_group(W->n_in);
    const size_t pb = (size_t)j->nsb * VL_IGEMM_SB_BYTES;
    uint8_t *mine = j->panels + (size_t)ith * (size_t)group * pb;
    long long b, e;
    vl_split_range(n_panels, ith, nth, 1, &b, &e);
    for (int64_t g0 = b; g0 < e; g0 += group) {
        const int64_t g1 = g0 + group < e ? g0 + group : e;
        for (int64_t p = g0; p < g1; p++) {
            const int64_t r0 = p * VL_IGEMM_ROWS;
            const int rows = (int)(W->n_out - r0 < VL_IGEMM_ROWS ? W->n_out - r0 : VL_IGEMM_ROWS);
            vl_igemm_pack_panel(W->type, (const char *)W->data + (size_t)r0 * W->row_bytes, W->row_bytes, W->n_in,
                                rows, mine + (size_t)(p - g0) * pb);
        }
        for (int64_t t0 = 0; t0 < j->n_tok; t0 += VL_IGEMM_TOKS) {
            const int mr = (int)(j->n_tok - t0 < VL_IGEMM_TOKS ? j->n_tok - t0 : VL_IGEMM_TOKS);
            for (int64_t p = g0; p < g1; p++) {
                const int64_t r0 = p * VL_IGEMM_ROWS;
                const int rows = (int)(W->n_out - r0 < VL_IGEMM_ROWS ? W->n_out - r0 : VL_IGEMM_ROWS);
                j->kernel(mine + (size_t)(p - g0) * pb, j->nsb, j->xu + (size_t)t0 * (size_t)W->n_in,
                          (size_t)W->n_in, j->dx + t0 * j->nsb, j->mx + t0 * j->nsb, (size_t)j->nsb, mr, W->type,
                          j->y + t0 * W->n_out + r0, (size_t)W->n_out, rows);
            }
        }
    }
}

void vl_igemm_matmul(vl_pool *pool, vl_igemm_fn kernel, const vl_weight *W, const float *x, int64_t n_tok, float *y,
                     void *xq, uint8_t *xu, float *dx, uint8_t *panels)
{
    const int64_t nsb = W->n_in / VL_IGEMM_SB;
    const int32_t vdt = vl_vec_dot_type(W->type);
    igemm_job j = {kernel, W, vdt, x, n_tok, nsb, xq, vl_activation_row_size(vdt, W->n_in), xu, dx,
                   dx + nsb * n_tok, panels, y};
    vl_pool_run(n_tok * W->n_in >= 16384 ? pool : NULL, prepare_part, &j);
    vl_pool_run(pool, gemm_part, &j);
}
