/* Scalar reference kernels of attention over a KV cache (kernels.h):
 * dot products of an f32 query with stored key rows, weighted sums of
 * stored value rows, the small tile product, and the prefill chunk step
 * (attn_tile.h) with the choice of its version. */
#include <math.h>
#include <stdint.h>

#include "attn_tile.h"
#include "f16.h"
#include "fastmath.h"
#include "kernels.h"
#include "quant.h"
#include "vecdot.h"

#define ROWP(X, j, rb) ((const uint8_t *)(X) + (size_t)(j) * (rb))

static void kv_dot_f32(const float *q, const void *K, size_t rb, int64_t hd, float *s, int64_t nk)
{
    for (int64_t j = 0; j < nk; j++) {
        const float *k = (const float *)ROWP(K, j, rb);
        float acc = 0.0f;
        for (int64_t d = 0; d < hd; d++) acc += q[d] * k[d];
        s[j] = acc;
    }
}

static void kv_dot_f16(const float *q, const void *K, size_t rb, int64_t hd, float *s, int64_t nk)
{
    for (int64_t j = 0; j < nk; j++) {
        const uint16_t *k = (const uint16_t *)ROWP(K, j, rb);
        float acc = 0.0f;
        for (int64_t d = 0; d < hd; d++) acc += q[d] * vl_f16_to_f32(k[d]);
        s[j] = acc;
    }
}

static void kv_dot_q8_0(const float *q, const void *K, size_t rb, int64_t hd, float *s, int64_t nk)
{
    for (int64_t j = 0; j < nk; j++) {
        const vl_block_q8_0 *k = (const vl_block_q8_0 *)ROWP(K, j, rb);
        float acc = 0.0f;
        for (int64_t b = 0; b < hd / VL_QK; b++) {
            float part = 0.0f;
            for (int i = 0; i < VL_QK; i++) part += q[b * VL_QK + i] * (float)k[b].qs[i];
            acc += part * vl_f16_to_f32(k[b].d);
        }
        s[j] = acc;
    }
}

static void kv_dot_q4_0(const float *q, const void *K, size_t rb, int64_t hd, float *s, int64_t nk)
{
    for (int64_t j = 0; j < nk; j++) {
        const vl_block_q4_0 *k = (const vl_block_q4_0 *)ROWP(K, j, rb);
        float acc = 0.0f;
        for (int64_t b = 0; b < hd / VL_QK; b++) {
            const float *qb = q + b * VL_QK;
            float part = 0.0f;
            for (int i = 0; i < VL_QK / 2; i++)
                part += qb[i] * (float)((k[b].qs[i] & 0xF) - 8) + qb[i + VL_QK / 2] * (float)((k[b].qs[i] >> 4) - 8);
            acc += part * vl_f16_to_f32(k[b].d);
        }
        s[j] = acc;
    }
}

static void kv_axpy_f32(const float *p, const void *V, size_t rb, int64_t hd, float *acc, int64_t nk)
{
    for (int64_t j = 0; j < nk; j++) {
        const float *v = (const float *)ROWP(V, j, rb);
        for (int64_t d = 0; d < hd; d++) acc[d] += p[j] * v[d];
    }
}

static void kv_axpy_f16(const float *p, const void *V, size_t rb, int64_t hd, float *acc, int64_t nk)
{
    for (int64_t j = 0; j < nk; j++) {
        const uint16_t *v = (const uint16_t *)ROWP(V, j, rb);
        for (int64_t d = 0; d < hd; d++) acc[d] += p[j] * vl_f16_to_f32(v[d]);
    }
}

static void kv_axpy_q8_0(const float *p, const void *V, size_t rb, int64_t hd, float *acc, int64_t nk)
{
    for (int64_t j = 0; j < nk; j++) {
        const vl_block_q8_0 *v = (const vl_block_q8_0 *)ROWP(V, j, rb);
        for (int64_t b = 0; b < hd / VL_QK; b++) {
            const float w = p[j] * vl_f16_to_f32(v[b].d);
            for (int i = 0; i < VL_QK; i++) acc[b * VL_QK + i] += w * (float)v[b].qs[i];
        }
    }
}

static void kv_axpy_q4_0(const float *p, const void *V, size_t rb, int64_t hd, float *acc, int64_t nk)
{
    for (int64_t j = 0; j < nk; j++) {
        const vl_block_q4_0 *v = (const vl_block_q4_0 *)ROWP(V, j, rb);
        for (int64_t b = 0; b < hd / VL_QK; b++) {
            const float w = p[j] * vl_f16_to_f32(v[b].d);
            float *a = acc + b * VL_QK;
            for (int i = 0; i < VL_QK / 2; i++) {
                a[i] += w * (float)((v[b].qs[i] & 0xF) - 8);
                a[i + VL_QK / 2] += w * (float)((v[b].qs[i] >> 4) - 8);
            }
        }
    }
}

static void sgemm_acc(int64_t m, int64_t n, int64_t k, const float *a, int64_t ars, int64_t acs, const float *b,
                      int64_t ldb, float *c, int64_t ldc)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t l = 0; l < k; l++) {
            const float x = a[i * ars + l * acs];
            for (int64_t j = 0; j < n; j++) c[i * ldc + j] += x * b[l * ldb + j];
        }
}

static float exp_sub(float *x, const float *sub, int64_t sub_step, int64_t n)
{
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        x[i] = vl_exp_fast(x[i] - sub[i * sub_step]);
        sum += x[i];
    }
    return sum;
}

/* attn_tile.h's chunk step, lane by lane. */
static void attn_chunk_scalar(int64_t hd, int64_t nk, const float *K, const float *V, int64_t ldkv, const float *Qt,
                              float *Ot, int64_t ldq, float *m, float *l, const float *lim, float *S)
{
    enum { L = VL_ATTN_LANES };
    for (int64_t k = 0; k < nk; k++) {
        float *s = S + k * L;
        for (int i = 0; i < L; i++) s[i] = 0.0f;
        for (int64_t d = 0; d < hd; d++)
            for (int i = 0; i < L; i++) s[i] += K[k * ldkv + d] * Qt[d * ldq + i];
        if (lim)
            for (int i = 0; i < L; i++)
                if ((float)k > lim[i]) s[i] = -INFINITY;
    }
    float alpha[L];
    for (int i = 0; i < L; i++) {
        float mx = m[i];
        for (int64_t k = 0; k < nk; k++) mx = S[k * L + i] > mx ? S[k * L + i] : mx;
        alpha[i] = vl_exp2_fast(m[i] - mx); /* 0 while m is -inf: NaN and -inf clamp to 2^-127 -> 0 */
        float sum = 0.0f;
        for (int64_t k = 0; k < nk; k++) sum += (S[k * L + i] = vl_exp2_fast(S[k * L + i] - mx));
        l[i] = l[i] * alpha[i] + sum;
        m[i] = mx;
    }
    for (int64_t d = 0; d < hd; d++) {
        float acc[L] = {0};
        for (int64_t k = 0; k < nk; k++)
            for (int i = 0; i < L; i++) acc[i] += V[k * ldkv + d] * S[k * L + i];
        for (int i = 0; i < L; i++) Ot[d * ldq + i] = Ot[d * ldq + i] * alpha[i] + acc[i];
    }
}

vl_attn_chunk_fn vl_attn_chunk_kernel(const vl_kernel_table *kt)
{
#if defined(VL_HAVE_X86_KERNELS)
    /* every x86 level above scalar has AVX2 + FMA + F16C (cpu.c, vecdot.c) */
    if (kt != vl_kernels_for_level(VL_KERNEL_SCALAR)) return vl_attn_chunk_avx2;
#endif
    (void)kt;
    return attn_chunk_scalar;
}

void vl_attn_fill_scalar(vl_kernel_table *t)
{
    t->kv_dot[VL_TYPE_F32] = kv_dot_f32;
    t->kv_dot[VL_TYPE_F16] = kv_dot_f16;
    t->kv_dot[VL_TYPE_Q8_0] = kv_dot_q8_0;
    t->kv_dot[VL_TYPE_Q4_0] = kv_dot_q4_0;
    t->kv_axpy[VL_TYPE_F32] = kv_axpy_f32;
    t->kv_axpy[VL_TYPE_F16] = kv_axpy_f16;
    t->kv_axpy[VL_TYPE_Q8_0] = kv_axpy_q8_0;
    t->kv_axpy[VL_TYPE_Q4_0] = kv_axpy_q4_0;
    t->sgemm_acc = sgemm_acc;
    t->exp_sub = exp_sub;
}
