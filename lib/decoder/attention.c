/* Causal GQA attention over the KV cache (see attention.h). */
#include "attention.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>

#include "core/dtype.h"
#include "core/ops.h"
#include "core/quant.h"

#define QBLOCK 64 /* queries per work item (bounds score rows) */

struct vl_attn_scratch {
    float *buf;
    size_t per_thread; /* floats */
    int threads;
};

vl_attn_scratch *vl_attn_scratch_new(void) { return calloc(1, sizeof(vl_attn_scratch)); }

void vl_attn_scratch_free(vl_attn_scratch *s)
{
    if (!s) return;
    free(s->buf);
    free(s);
}

static vllm_status reserve(vl_attn_scratch *s, int nth, size_t per)
{
    if (s->buf && s->threads >= nth && s->per_thread >= per) return VLLM_OK;
    float *p = malloc((size_t)nth * per * sizeof(float));
    if (!p) return vl_error(VLLM_ERR_NOMEM, "out of memory for attention scratch (%zu floats per thread)", per);
    free(s->buf);
    s->buf = p;
    s->threads = nth;
    s->per_thread = per;
    return VLLM_OK;
}

typedef struct attn_task {
    const vl_attn_args *a;
    vl_attn_scratch *scr;
} attn_task;

/* Keys and values of one KV head as f32 matrices: the cache itself, or a
 * conversion into the thread's buffers, reused while the same head comes
 * up again. */
static void head_kv(const vl_attn_args *a, int kvh, int64_t n_keys, float *kf, float *vf, int *converted,
                    const float **K, const float **V)
{
    const uint8_t *k = a->k + (size_t)kvh * a->head_stride, *v = a->v + (size_t)kvh * a->head_stride;
    if (a->type == VL_TYPE_F32) {
        *K = (const float *)k;
        *V = (const float *)v;
        return;
    }
    if (*converted != kvh) {
        vl_dequantize_row(a->type, k, kf, n_keys * a->head_dim);
        vl_dequantize_row(a->type, v, vf, n_keys * a->head_dim);
        *converted = kvh;
    }
    *K = kf;
    *V = vf;
}

static void task_attention(void *p, int ith, int nth)
{
    attn_task *t = p;
    const vl_attn_args *a = t->a;
    const int hd = a->head_dim, group = a->n_head / a->n_head_kv;
    const int64_t Dq = (int64_t)a->n_head * hd;
    const int64_t n_keys_all = a->n_past + a->n;
    const int64_t n_qblocks = (a->n + QBLOCK - 1) / QBLOCK;
    const float scale = 1.0f / sqrtf((float)hd);
    float *scores = t->scr->buf + (size_t)ith * t->scr->per_thread;
    float *kf = scores + (size_t)QBLOCK * n_keys_all; /* f32 copies (non-f32 cache only) */
    float *vf = kf + (size_t)n_keys_all * hd;
    int converted_kvh = -1;

    /* One new token: one work item per query head (more items than KV
     * heads balance the threads; a KV head's second reader finds it in
     * cache). Several: items are (KV head, query block), all query heads
     * of the group, two GEMMs each. */
    if (a->n == 1) {
        /* contiguous heads per thread: the query heads sharing a KV head
         * run back to back on one core and find its keys in cache */
        long long h0, h1;
        vl_split_range(a->n_head, ith, nth, 1, &h0, &h1);
        for (int h = (int)h0; h < (int)h1; h++) {
            const int kvh = h / group;
            const float *K, *V;
            head_kv(a, kvh, n_keys_all, kf, vf, &converted_kvh, &K, &V);
            const float *Q = a->q + (int64_t)h * hd;
            float *O = a->out + (int64_t)h * hd;
            cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)n_keys_all, hd, 1.0f, K, hd, Q, 1, 0.0f, scores, 1);
            vl_softmax(scores, n_keys_all, n_keys_all, scale);
            cblas_sgemv(CblasRowMajor, CblasTrans, (int)n_keys_all, hd, 1.0f, V, hd, scores, 1, 0.0f, O, 1);
        }
        return;
    }
    for (int64_t item = ith; item < a->n_head_kv * n_qblocks; item += nth) {
        const int kvh = (int)(item / n_qblocks);
        const int64_t t0 = (item % n_qblocks) * QBLOCK;
        const int64_t nq = a->n - t0 < QBLOCK ? a->n - t0 : QBLOCK;
        const int64_t n_keys = a->n_past + t0 + nq; /* keys visible to the last query of the block */
        const float *K, *V;
        head_kv(a, kvh, n_keys_all, kf, vf, &converted_kvh, &K, &V);
        for (int g = 0; g < group; g++) {
            const int h = kvh * group + g;
            const float *Q = a->q + t0 * Dq + (int64_t)h * hd;
            float *O = a->out + t0 * Dq + (int64_t)h * hd;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nq, (int)n_keys, hd, 1.0f, Q, (int)Dq, K, hd,
                        0.0f, scores, (int)n_keys);
            for (int64_t i = 0; i < nq; i++) /* causal: query at n_past+t0+i sees keys 0..n_past+t0+i */
                vl_softmax(scores + i * n_keys, n_keys, a->n_past + t0 + i + 1, scale);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nq, hd, (int)n_keys, 1.0f, scores,
                        (int)n_keys, V, hd, 0.0f, O, (int)Dq);
        }
    }
}

vllm_status vl_attention(vl_pool *pool, vl_attn_scratch *scr, const vl_attn_args *a)
{
    const size_t n_keys = (size_t)(a->n_past + a->n);
    size_t per = (size_t)QBLOCK * n_keys;
    if (a->type != VL_TYPE_F32) per += 2 * n_keys * (size_t)a->head_dim;
    VL_TRY(reserve(scr, vl_pool_size(pool), per));
    attn_task t = {.a = a, .scr = scr};
    vl_pool_run(pool, task_attention, &t);
    return VLLM_OK;
}
