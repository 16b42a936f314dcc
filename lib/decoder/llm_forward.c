/* The text model's forward pass over a batch of new positions, and the
 * per-sequence state (KV cache + scratch) it runs in.
 *
 * KV cache layout, per layer: [kv_head][position][head_dim], so the keys
 * or values of one head are a contiguous run of rows (attention.c reads
 * them). */
#include <math.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "core/f16.h"
#include "core/ops.h"
#include "core/quant.h"
#include "attention.h"
#include "llm.h"

#define UBATCH 512 /* positions evaluated per forward pass (bounds scratch) */

struct vl_llm_state {
    vl_llm_hparams hp;
    int32_t n_ctx, n_past;
    int32_t *pos;        /* n_ctx × VL_POS_SECTIONS: the positions of each cached row */
    int32_t next_pos;    /* position of the next text token: 1 + the largest evaluated */
    vl_kv_type kv_type;
    int32_t dtype;       /* storage type of a cached row: F32, F16 or Q8_0 */
    size_t row_bytes;    /* one head's row (head_dim values) */
    uint8_t *k, *v;      /* n_layer × n_head_kv × n_ctx rows each */

    /* activations for one ubatch */
    float *x, *xb, *q, *kt, *vt, *att, *hb, *hb2;
    vl_attn_scratch *attn;

    float *logits;
    int64_t logits_rows, logits_cap;
    vl_matmul_scratch *ms;
    float *q_capture; /* vl_llm_state_capture_queries: n_layer × n_head × head_dim sums, or NULL */
};

/* Pointer to head `kvh` of layer `il` in cache `base`. */
static uint8_t *cache_head(const vl_llm_state *s, uint8_t *base, int il, int kvh)
{
    return base + ((size_t)il * s->hp.n_head_kv + (size_t)kvh) * (size_t)s->n_ctx * s->row_bytes;
}

/* One head_dim row into the cache's storage type. Q8_0 rows use the same
 * block quantizer as activations (per 32 values: fp16 scale + int8), Q4_0
 * ggml's 4-bit rule: per-token blocks, so a row is written once, when its
 * token arrives (per-channel scales would change as tokens are added). */
static void store_row(const vl_llm_state *s, const float *src, uint8_t *dst)
{
    const int hd = s->hp.head_dim;
    if (s->dtype == VL_TYPE_F32) {
        memcpy(dst, src, (size_t)hd * sizeof(float));
    } else if (s->dtype == VL_TYPE_F16) {
        uint16_t *h = (uint16_t *)dst;
        for (int i = 0; i < hd; i++) h[i] = vl_f32_to_f16(src[i]);
    } else if (s->dtype == VL_TYPE_Q4_0) {
        vl_quantize_row_q4_0(src, dst, hd);
    } else {
        vl_quantize_activations(s->dtype, src, dst, hd);
    }
}

/* ---- state ------------------------------------------------------------------ */

vllm_status vl_llm_state_new(const vl_llm *m, int32_t n_ctx, vl_kv_type kv_type, vl_llm_state **out)
{
    *out = NULL;
    const vl_llm_hparams *hp = &m->hp;
    if (n_ctx < 1 || n_ctx > (1 << 22))
        return vl_error(VLLM_ERR_INVALID_ARG, "context size %d is out of range 1..%d", n_ctx, 1 << 22);
    vl_llm_state *s = calloc(1, sizeof *s);
    if (!s) return vl_error(VLLM_ERR_NOMEM, "out of memory");
    s->hp = *hp;
    s->n_ctx = n_ctx;
    s->kv_type = kv_type;
    s->dtype = kv_type == VL_KV_F16    ? VL_TYPE_F16
             : kv_type == VL_KV_Q8_0 ? VL_TYPE_Q8_0
             : kv_type == VL_KV_Q4_0 ? VL_TYPE_Q4_0
                                     : VL_TYPE_F32;
    s->row_bytes = vl_row_size(s->dtype, hp->head_dim);
    const int bad_type = kv_type < VL_KV_F32 || kv_type > VL_KV_Q4_0;
    if (bad_type || !s->row_bytes) {
        const int32_t dtype = s->dtype;
        free(s);
        return bad_type ? vl_error(VLLM_ERR_INVALID_ARG, "unknown KV cache type %d", (int)kv_type)
                        : vl_error(VLLM_ERR_UNSUPPORTED, "a %s KV cache needs a head dimension that is a multiple of 32 (this model's is %d)",
                                   vl_type_name(dtype), hp->head_dim);
    }
    const size_t kv_bytes = (size_t)hp->n_layer * hp->n_head_kv * (size_t)n_ctx * s->row_bytes;
    /* calloc: pages are committed only as positions are written */
    s->k = calloc(1, kv_bytes);
    s->v = calloc(1, kv_bytes);
    s->pos = malloc((size_t)n_ctx * VL_POS_SECTIONS * sizeof *s->pos);
    const size_t E = (size_t)hp->n_embd, Dq = (size_t)hp->n_head * hp->head_dim,
                 Dkv = (size_t)hp->n_head_kv * hp->head_dim, F = (size_t)hp->n_ff;
    s->x = malloc(UBATCH * E * sizeof(float));
    s->xb = malloc(UBATCH * E * sizeof(float));
    s->q = malloc(UBATCH * Dq * sizeof(float));
    s->kt = malloc(UBATCH * Dkv * sizeof(float));
    s->vt = malloc(UBATCH * Dkv * sizeof(float));
    s->att = malloc(UBATCH * Dq * sizeof(float));
    s->hb = malloc(UBATCH * F * sizeof(float));
    s->hb2 = malloc(UBATCH * F * sizeof(float));
    s->ms = vl_matmul_scratch_new();
    s->attn = vl_attn_scratch_new();
    if (!s->attn || !s->k || !s->v || !s->pos || !s->x || !s->xb || !s->q || !s->kt || !s->vt || !s->att || !s->hb || !s->hb2 || !s->ms) {
        vl_llm_state_free(s);
        return vl_error(VLLM_ERR_NOMEM, "out of memory for a %d-position context (%.1f MiB of KV cache)", n_ctx,
                        2.0 * (double)kv_bytes / (1024.0 * 1024.0));
    }
    *out = s;
    return VLLM_OK;
}

void vl_llm_state_free(vl_llm_state *s)
{
    if (!s) return;
    free(s->k);
    free(s->v);
    free(s->pos);
    free(s->x);
    free(s->xb);
    free(s->q);
    free(s->kt);
    free(s->vt);
    free(s->att);
    free(s->hb);
    free(s->hb2);
    vl_attn_scratch_free(s->attn);
    free(s->logits);
    vl_matmul_scratch_free(s->ms);
    free(s);
}

int32_t vl_llm_state_n_past(const vl_llm_state *s) { return s->n_past; }
int32_t vl_llm_state_n_ctx(const vl_llm_state *s) { return s->n_ctx; }

/* 1 + the largest position of rows [0, n_past): where text continues. */
static void update_next_pos(vl_llm_state *s)
{
    int32_t next = 0;
    for (int64_t i = 0; i < (int64_t)s->n_past * VL_POS_SECTIONS; i++)
        if (s->pos[i] + 1 > next) next = s->pos[i] + 1;
    s->next_pos = next;
}

/* The positions of a text token at p: (p, p, p, p or 0). */
static void text_pos(const vl_llm_hparams *hp, int32_t p, int32_t *out)
{
    out[0] = out[1] = out[2] = p;
    out[3] = hp->pin_e_to_zero ? 0 : p;
}

void vl_llm_state_truncate(vl_llm_state *s, int32_t n_past)
{
    if (n_past >= 0 && n_past < s->n_past) {
        s->n_past = n_past;
        update_next_pos(s);
    }
}

int32_t vl_llm_state_next_pos(const vl_llm_state *s) { return s->next_pos; }

void vl_llm_state_row_pos(const vl_llm_state *s, int32_t row, int32_t out[VL_POS_SECTIONS])
{
    memcpy(out, s->pos + (size_t)row * VL_POS_SECTIONS, VL_POS_SECTIONS * sizeof *out);
}

vllm_status vl_llm_state_set_positions(vl_llm_state *s, const int32_t *pos, int32_t n)
{
    if (n < 0 || n > s->n_past)
        return vl_error(VLLM_ERR_INVALID_ARG, "positions of %d rows given, %d rows are cached", n, s->n_past);
    for (int64_t i = 0; i < (int64_t)n * VL_POS_SECTIONS; i++)
        if (pos[i] < 0 || pos[i] >= INT32_MAX / 2)
            return vl_error(VLLM_ERR_INVALID_ARG, "position %d of row %lld is out of range", pos[i],
                            (long long)(i / VL_POS_SECTIONS));
    memcpy(s->pos, pos, (size_t)n * VL_POS_SECTIONS * sizeof *pos);
    update_next_pos(s);
    return VLLM_OK;
}

void *vl_llm_state_kv_head(vl_llm_state *s, int layer, int kv_head, int which, size_t *row_bytes)
{
    if (row_bytes) *row_bytes = s->row_bytes;
    return cache_head(s, which ? s->v : s->k, layer, kv_head);
}

vl_kv_type vl_llm_state_kv_type(const vl_llm_state *s) { return s->kv_type; }

/* Rotate the key row at `kr` (cache storage) by `delta` positions per
 * section. */
static void rotate_key_row(const vl_llm_state *s, uint8_t *kr, const int32_t delta[VL_POS_SECTIONS])
{
    const int hd = s->hp.head_dim;
    if (!delta[0] && !delta[1] && !delta[2] && !delta[3]) return;
    if (s->dtype == VL_TYPE_F32) {
        vl_rope_apply(&s->hp.rope, (float *)kr, 1, delta);
    } else {
        float row[1024];
        vl_dequantize_row(s->dtype, kr, row, hd);
        vl_rope_apply(&s->hp.rope, row, 1, delta);
        store_row(s, row, kr);
    }
}

static int multi_section(const vl_llm_hparams *hp)
{
    return hp->rope.kind == VL_ROPE_MROPE || hp->rope.kind == VL_ROPE_IMROPE;
}

/* Removing rows [p0, p1) moves the later rows back by the positions the
 * span occupied: dt = pos_t(p1) - pos_t(p0), in every section (the e
 * section only when it is not pinned to 0). Text-only spans, and whole
 * visual blocks under llama.cpp's and transformers' layouts (where every
 * position after a block is offset from the block's start), then get
 * exactly the positions a fresh evaluation without the span gives.
 * Not covered (left for the family layer): removing part of a visual
 * block (a few frames of a video's grid) — a fresh layout would shift
 * only t of the remaining frames and recompute the text after the block
 * from the new maximum. */
vllm_status vl_llm_state_remove(vl_llm_state *s, int32_t p0, int32_t p1)
{
    if (p0 < 0 || p1 < p0 || p1 > s->n_past)
        return vl_error(VLLM_ERR_INVALID_ARG, "cannot remove positions %d..%d of %d", p0, p1, s->n_past);
    const int32_t d = p1 - p0, moved = s->n_past - p1;
    if (!d) return VLLM_OK;
    const int32_t dt = moved ? s->pos[(size_t)p1 * VL_POS_SECTIONS] - s->pos[(size_t)p0 * VL_POS_SECTIONS] : 0;
    const int32_t back[VL_POS_SECTIONS] = {-dt, -dt, -dt, s->hp.pin_e_to_zero ? 0 : -dt};
    for (int il = 0; il < s->hp.n_layer; il++)
        for (int h = 0; h < s->hp.n_head_kv; h++) {
            uint8_t *k = cache_head(s, s->k, il, h), *v = cache_head(s, s->v, il, h);
            const size_t rb = s->row_bytes;
            memmove(k + (size_t)p0 * rb, k + (size_t)p1 * rb, (size_t)moved * rb);
            memmove(v + (size_t)p0 * rb, v + (size_t)p1 * rb, (size_t)moved * rb);
            for (int32_t i = 0; i < moved; i++) rotate_key_row(s, k + (size_t)(p0 + i) * rb, back);
        }
    int32_t *pos = s->pos;
    memmove(pos + (size_t)p0 * VL_POS_SECTIONS, pos + (size_t)p1 * VL_POS_SECTIONS,
            (size_t)moved * VL_POS_SECTIONS * sizeof *pos);
    for (int32_t i = p0; i < p0 + moved; i++)
        for (int k = 0; k < VL_POS_SECTIONS; k++) pos[(size_t)i * VL_POS_SECTIONS + k] += back[k];
    s->n_past -= d;
    update_next_pos(s);
    s->logits_rows = 0;
    return VLLM_OK;
}

/* Bytes of the K/V part of a span (positions follow it). */
static size_t span_kv_bytes(const vl_llm_state *s, int32_t n)
{
    return 2 * (size_t)s->hp.n_layer * s->hp.n_head_kv * (size_t)n * s->row_bytes;
}

size_t vl_llm_state_span_bytes(const vl_llm_state *s, int32_t n)
{
    return span_kv_bytes(s, n) + (size_t)n * VL_POS_SECTIONS * sizeof(int32_t);
}

vllm_status vl_llm_state_read(const vl_llm_state *s, int32_t p0, int32_t p1, void *dst)
{
    if (p0 < 0 || p1 < p0 || p1 > s->n_past)
        return vl_error(VLLM_ERR_INVALID_ARG, "cannot read positions %d..%d of %d", p0, p1, s->n_past);
    const size_t rb = s->row_bytes, n = (size_t)(p1 - p0);
    uint8_t *o = dst;
    for (int il = 0; il < s->hp.n_layer; il++)
        for (int h = 0; h < s->hp.n_head_kv; h++)
            for (int which = 0; which < 2; which++) {
                memcpy(o, cache_head(s, which ? s->v : s->k, il, h) + (size_t)p0 * rb, n * rb);
                o += n * rb;
            }
    memcpy(o, s->pos + (size_t)p0 * VL_POS_SECTIONS, n * VL_POS_SECTIONS * sizeof *s->pos);
    return VLLM_OK;
}

/* How an inserted span and the rows after it move. 1-D models: positions
 * are rows, so the span moves by p - src_p0 and later rows by n. M-RoPE:
 * the span keeps its own (t, h, w) layout and starts where row p started
 * (the next position at the end); later rows move by the positions the
 * span spans (1 + its largest position - its first t: n for text, max(w,
 * h) for a llama.cpp image chunk), which restores exactly the layout a
 * remove took it out of. The e section moves only when not pinned to 0. */
static vllm_status insert_moves(const vl_llm_state *s, int32_t p, int32_t n, const int32_t *span_pos, int32_t src_p0,
                                int32_t up[VL_POS_SECTIONS], int32_t by[VL_POS_SECTIONS])
{
    if (!multi_section(&s->hp)) {
        for (int k = 0; k < VL_POS_SECTIONS; k++) up[k] = n, by[k] = p - src_p0;
        return VLLM_OK;
    }
    int32_t mx = 0;
    for (int64_t i = 0; i < (int64_t)n * VL_POS_SECTIONS; i++) {
        if (span_pos[i] < 0 || span_pos[i] >= INT32_MAX / 2)
            return vl_error(VLLM_ERR_INVALID_ARG, "inserted span: position %d is out of range", span_pos[i]);
        if (i % VL_POS_SECTIONS < 3 && span_pos[i] > mx) mx = span_pos[i];
    }
    const int32_t t0 = n ? span_pos[0] : 0, at = p < s->n_past ? s->pos[(size_t)p * VL_POS_SECTIONS] : s->next_pos;
    const int32_t extent = n ? mx + 1 - t0 : 0, shift = at - t0, pin = s->hp.pin_e_to_zero;
    for (int k = 0; k < VL_POS_SECTIONS; k++) {
        up[k] = k == 3 && pin ? 0 : extent;
        by[k] = k == 3 && pin ? 0 : shift;
    }
    return VLLM_OK;
}

vllm_status vl_llm_state_insert(vl_llm_state *s, int32_t p, int32_t n, const void *src, int32_t src_p0)
{
    if (p < 0 || p > s->n_past || n < 0 || n > s->n_ctx - s->n_past)
        return vl_error(VLLM_ERR_CONTEXT_FULL, "cannot insert %d positions at %d: %d of %d are used", n, p, s->n_past,
                        s->n_ctx);
    const size_t pos_bytes = (size_t)n * VL_POS_SECTIONS * sizeof(int32_t);
    int32_t *span_pos = malloc(pos_bytes ? pos_bytes : 1); /* copied: the K/V part leaves it unaligned */
    if (!span_pos) return vl_error(VLLM_ERR_NOMEM, "out of memory");
    memcpy(span_pos, (const uint8_t *)src + span_kv_bytes(s, n), pos_bytes);
    int32_t up[VL_POS_SECTIONS], by[VL_POS_SECTIONS];
    vllm_status st = insert_moves(s, p, n, span_pos, src_p0, up, by);
    if (vllm_is_error(st)) {
        free(span_pos);
        return st;
    }
    const size_t rb = s->row_bytes;
    const int32_t moved = s->n_past - p;
    const uint8_t *in = src;
    for (int il = 0; il < s->hp.n_layer; il++)
        for (int h = 0; h < s->hp.n_head_kv; h++) {
            uint8_t *k = cache_head(s, s->k, il, h), *v = cache_head(s, s->v, il, h);
            memmove(k + (size_t)(p + n) * rb, k + (size_t)p * rb, (size_t)moved * rb);
            memmove(v + (size_t)(p + n) * rb, v + (size_t)p * rb, (size_t)moved * rb);
            for (int32_t i = 0; i < moved && n; i++) rotate_key_row(s, k + (size_t)(p + n + i) * rb, up);
            memcpy(k + (size_t)p * rb, in, (size_t)n * rb);
            in += (size_t)n * rb;
            memcpy(v + (size_t)p * rb, in, (size_t)n * rb);
            in += (size_t)n * rb;
            for (int32_t i = 0; i < n; i++) rotate_key_row(s, k + (size_t)(p + i) * rb, by);
        }
    int32_t *pos = s->pos;
    memmove(pos + (size_t)(p + n) * VL_POS_SECTIONS, pos + (size_t)p * VL_POS_SECTIONS,
            (size_t)moved * VL_POS_SECTIONS * sizeof *pos);
    s->n_past += n;
    if (multi_section(&s->hp)) {
        for (int32_t i = 0; i < n; i++)
            for (int k = 0; k < VL_POS_SECTIONS; k++)
                pos[(size_t)(p + i) * VL_POS_SECTIONS + k] = span_pos[(size_t)i * VL_POS_SECTIONS + k] + by[k];
        for (int32_t i = p + n; i < s->n_past; i++)
            for (int k = 0; k < VL_POS_SECTIONS; k++) pos[(size_t)i * VL_POS_SECTIONS + k] += up[k];
    } else { /* 1-D models: a row's position is its index */
        for (int32_t i = p; i < s->n_past; i++) text_pos(&s->hp, i, pos + (size_t)i * VL_POS_SECTIONS);
    }
    free(span_pos);
    update_next_pos(s);
    s->logits_rows = 0;
    return VLLM_OK;
}

void vl_llm_state_key_mean(const vl_llm_state *s, int32_t p0, int32_t p1, int layer, float *out)
{
    const int hd = s->hp.head_dim;
    float row[1024];
    for (int h = 0; h < s->hp.n_head_kv; h++) {
        float *o = out + (size_t)h * hd;
        memset(o, 0, (size_t)hd * sizeof *o);
        const uint8_t *k = cache_head(s, s->k, layer, h);
        for (int32_t i = p0; i < p1; i++) {
            vl_dequantize_row(s->dtype, k + (size_t)i * s->row_bytes, row, hd);
            int32_t back[VL_POS_SECTIONS];
            for (int j = 0; j < VL_POS_SECTIONS; j++) back[j] = -s->pos[(size_t)i * VL_POS_SECTIONS + j];
            vl_rope_apply(&s->hp.rope, row, 1, back); /* un-rotated */
            for (int d = 0; d < hd; d++) o[d] += row[d];
        }
        if (p1 > p0)
            for (int d = 0; d < hd; d++) o[d] /= (float)(p1 - p0);
    }
}

void vl_llm_state_capture_queries(vl_llm_state *s, float *sum)
{
    s->q_capture = sum;
    if (sum) memset(sum, 0, (size_t)s->hp.n_layer * s->hp.n_head * s->hp.head_dim * sizeof *sum);
}

/* Add the layer's new (un-rotated) query rows to the capture buffer. */
static void capture_queries(vl_llm_state *s, int il, int64_t n, int64_t row0)
{
    const int64_t Dq = (int64_t)s->hp.n_head * s->hp.head_dim;
    float *acc = s->q_capture + il * Dq, *row = s->att; /* att is free until attention runs */
    for (int64_t r = 0; r < n; r++) {
        memcpy(row, s->q + r * Dq, (size_t)Dq * sizeof *row);
        int32_t back[VL_POS_SECTIONS];
        for (int j = 0; j < VL_POS_SECTIONS; j++) back[j] = -s->pos[(size_t)(row0 + r) * VL_POS_SECTIONS + j];
        vl_rope_apply(&s->hp.rope, row, s->hp.n_head, back);
        for (int64_t d = 0; d < Dq; d++) acc[d] += row[d];
    }
}

void vl_llm_state_set_n_past(vl_llm_state *s, int32_t n_past)
{
    if (n_past >= 0 && n_past <= s->n_ctx) {
        s->n_past = n_past;
        for (int32_t i = 0; i < n_past; i++) text_pos(&s->hp, i, s->pos + (size_t)i * VL_POS_SECTIONS);
        update_next_pos(s);
    }
    s->logits_rows = 0;
}

const float *vl_llm_logits(const vl_llm_state *s, int64_t *n_rows)
{
    if (n_rows) *n_rows = s->logits_rows;
    return s->logits_rows ? s->logits : NULL;
}

/* ---- row-parallel elementwise steps ---------------------------------------- */

typedef struct rows_task {
    const vl_llm_hparams *hp;
    int64_t n;
    const int32_t *pos; /* n × VL_POS_SECTIONS positions of the rows */
    float *x, *y, *a, *b;
    const float *w;
} rows_task;

static void task_rmsnorm(void *p, int ith, int nth)
{
    rows_task *t = p;
    long long r0, r1;
    vl_split_range(t->n, ith, nth, 1, &r0, &r1);
    const int64_t E = t->hp->n_embd;
    for (long long r = r0; r < r1; r++) vl_rmsnorm(t->x + r * E, t->w, t->y + r * E, E, t->hp->rms_eps);
}

static void task_swiglu(void *p, int ith, int nth)
{
    rows_task *t = p;
    long long r0, r1;
    vl_split_range(t->n * t->hp->n_ff, ith, nth, 16, &r0, &r1);
    vl_swiglu(t->a + r0, t->b + r0, t->a + r0, r1 - r0);
}

/* RMSNorm of each head vector (QK-norm), in place. */
static void norm_heads(float *x, int n_heads, int hd, const float *w, float eps)
{
    for (int h = 0; h < n_heads; h++) vl_rmsnorm(x + (int64_t)h * hd, w, x + (int64_t)h * hd, hd, eps);
}

/* Biases, QK-norm, RoPE on q and k (positions of the rows from pos). */
static void task_qk_post(void *p, int ith, int nth)
{
    rows_task *t = p;
    const vl_llm_hparams *hp = t->hp;
    const int64_t Dq = (int64_t)hp->n_head * hp->head_dim, Dkv = (int64_t)hp->n_head_kv * hp->head_dim;
    long long r0, r1;
    vl_split_range(t->n, ith, nth, 1, &r0, &r1);
    const vl_llm_layer *L = (const vl_llm_layer *)t->w;
    for (long long r = r0; r < r1; r++) {
        float *q = t->x + r * Dq, *k = t->a + r * Dkv, *v = t->b + r * Dkv;
        if (L->bq) vl_add(q, L->bq, Dq);
        if (L->bk) vl_add(k, L->bk, Dkv);
        if (L->bv) vl_add(v, L->bv, Dkv);
        if (L->q_norm) norm_heads(q, hp->n_head, hp->head_dim, L->q_norm, hp->rms_eps);
        if (L->k_norm) norm_heads(k, hp->n_head_kv, hp->head_dim, L->k_norm, hp->rms_eps);
        const int32_t *pos = t->pos + r * VL_POS_SECTIONS;
        vl_rope_apply(&hp->rope, q, hp->n_head, pos);
        vl_rope_apply(&hp->rope, k, hp->n_head_kv, pos);
    }
}

static void store_kv(vl_llm_state *s, int il, int64_t n, int64_t pos0)
{
    const int hd = s->hp.head_dim, nkv = s->hp.n_head_kv;
    for (int kvh = 0; kvh < nkv; kvh++) {
        uint8_t *kd = cache_head(s, s->k, il, kvh) + (size_t)pos0 * s->row_bytes;
        uint8_t *vd = cache_head(s, s->v, il, kvh) + (size_t)pos0 * s->row_bytes;
        for (int64_t t = 0; t < n; t++) {
            store_row(s, s->kt + (t * nkv + kvh) * hd, kd + (size_t)t * s->row_bytes);
            store_row(s, s->vt + (t * nkv + kvh) * hd, vd + (size_t)t * s->row_bytes);
        }
    }
}

/* ---- the forward pass -------------------------------------------------------------- */

/* Deepstack (qwen3vl): add each row's features for layer il to x. */
static void add_deepstack(const vl_llm_hparams *hp, float *x, const float *ds, int64_t stride, int64_t n, int il)
{
    const int64_t E = hp->n_embd;
    for (int64_t t = 0; t < n; t++) vl_add(x + t * E, ds + t * stride + (int64_t)il * E, E);
}

/* Rows [n_past, n_past + n) of the batch (positions already in s->pos). */
static vllm_status forward_ubatch(const vl_llm *m, vl_llm_state *s, vl_pool *pool, const vl_llm_batch *b,
                                  int64_t n, float *logits_out, int all_logits)
{
    const vl_llm_hparams *hp = &m->hp;
    const int64_t E = hp->n_embd;
    const int64_t pos0 = s->n_past; /* first row (the causal mask is by row) */
    const int64_t stride = b->embd_stride ? b->embd_stride : E;

    /* embeddings */
    if (b->tokens) {
        for (int64_t t = 0; t < n; t++)
            vl_dequantize_row(m->tok_embd.type,
                              (const uint8_t *)m->tok_embd.data + (size_t)b->tokens[t] * m->tok_embd.row_bytes,
                              s->x + t * E, E);
    } else {
        for (int64_t t = 0; t < n; t++) memcpy(s->x + t * E, b->embd + t * stride, (size_t)E * sizeof(float));
    }

    /* Row-wise steps on a few tokens are too small to be worth a trip
     * through the pool (a barrier costs more than the work). */
    vl_pool *rows_pool = n >= 8 ? pool : NULL;
    rows_task rt = {.hp = hp, .n = n, .pos = s->pos + (size_t)pos0 * VL_POS_SECTIONS};
    vl_attn_args at = {.n_head = hp->n_head, .n_head_kv = hp->n_head_kv, .head_dim = hp->head_dim, .n = n,
                       .n_past = pos0, .q = s->q, .out = s->att, .head_stride = (size_t)s->n_ctx * s->row_bytes,
                       .row_bytes = s->row_bytes, .type = s->dtype};
    for (int il = 0; il < hp->n_layer; il++) {
        const vl_llm_layer *L = &m->layers[il];

        /* attention block */
        rt.x = s->x, rt.y = s->xb, rt.w = L->attn_norm;
        vl_pool_run(rows_pool, task_rmsnorm, &rt);
        const vl_weight *qkv[3] = {&L->wq, &L->wk, &L->wv};
        float *qkv_out[3] = {s->q, s->kt, s->vt};
        VL_TRY(vl_matmul_multi(pool, s->ms, qkv, 3, s->xb, n, qkv_out));
        rt.x = s->q, rt.a = s->kt, rt.b = s->vt, rt.w = (const float *)(const void *)L;
        vl_pool_run(rows_pool, task_qk_post, &rt);
        if (s->q_capture) capture_queries(s, il, n, pos0);
        store_kv(s, il, n, pos0);
        at.k = cache_head(s, s->k, il, 0), at.v = cache_head(s, s->v, il, 0);
        VL_TRY(vl_attention(pool, s->attn, &at));
        VL_TRY(vl_matmul(pool, s->ms, &L->wo, s->att, n, s->xb));
        vl_add(s->x, s->xb, n * E);

        /* feed-forward block */
        rt.x = s->x, rt.y = s->xb, rt.w = L->ffn_norm;
        vl_pool_run(rows_pool, task_rmsnorm, &rt);
        const vl_weight *gate_up[2] = {&L->w_gate, &L->w_up};
        float *gate_up_out[2] = {s->hb, s->hb2};
        VL_TRY(vl_matmul_multi(pool, s->ms, gate_up, 2, s->xb, n, gate_up_out));
        rt.a = s->hb, rt.b = s->hb2;
        vl_pool_run(rows_pool, task_swiglu, &rt);
        VL_TRY(vl_matmul(pool, s->ms, &L->w_down, s->hb, n, s->xb));
        vl_add(s->x, s->xb, n * E);

        /* deepstack: visual features of the first layers, at visual rows */
        if (b->deepstack && il < hp->n_deepstack) add_deepstack(hp, s->x, b->deepstack, stride, n, il);
    }
    s->n_past += (int32_t)n;

    if (!logits_out) return VLLM_OK;
    const int64_t first = all_logits ? 0 : n - 1, rows = n - first;
    rt.x = s->x + first * E, rt.y = s->xb, rt.w = m->output_norm, rt.n = rows;
    vl_pool_run(rows_pool, task_rmsnorm, &rt);
    return vl_matmul(pool, s->ms, &m->output, s->xb, rows, logits_out);
}

/* Write the positions of the batch's rows into s->pos (explicit ones
 * checked, text ones continuing from next_pos). */
static vllm_status place_positions(const vl_llm *m, vl_llm_state *s, const vl_llm_batch *b)
{
    int32_t *dst = s->pos + (size_t)s->n_past * VL_POS_SECTIONS;
    if (!b->pos) {
        for (int64_t i = 0; i < b->n; i++) text_pos(&m->hp, s->next_pos + (int32_t)i, dst + i * VL_POS_SECTIONS);
        return VLLM_OK;
    }
    if (!multi_section(&m->hp))
        return vl_error(VLLM_ERR_INVALID_ARG, "explicit positions need an M-RoPE model; %s uses 1-D positions", m->hp.arch);
    for (int64_t i = 0; i < b->n * VL_POS_SECTIONS; i++)
        if (b->pos[i] < 0 || b->pos[i] >= INT32_MAX / 2)
            return vl_error(VLLM_ERR_INVALID_ARG, "position %d of batch row %lld is out of range", b->pos[i],
                            (long long)(i / VL_POS_SECTIONS));
    memcpy(dst, b->pos, (size_t)b->n * VL_POS_SECTIONS * sizeof *dst);
    return VLLM_OK;
}

vllm_status vl_llm_eval(const vl_llm *m, vl_llm_state *s, vl_pool *pool, const int32_t *tokens, const float *embd,
                        int64_t n, int logits)
{
    const vl_llm_batch b = {.n = n, .tokens = tokens, .embd = embd};
    return vl_llm_eval_batch(m, s, pool, &b, logits);
}

vllm_status vl_llm_eval_batch(const vl_llm *m, vl_llm_state *s, vl_pool *pool, const vl_llm_batch *b, int logits)
{
    const int32_t *tokens = b->tokens;
    const float *embd = b->embd;
    const int64_t n = b->n;
    if (n <= 0) return vl_error(VLLM_ERR_INVALID_ARG, "nothing to evaluate");
    if ((tokens == NULL) == (embd == NULL)) return vl_error(VLLM_ERR_INVALID_ARG, "pass either tokens or embeddings");
    if (b->embd_stride && b->embd_stride < m->hp.n_embd)
        return vl_error(VLLM_ERR_INVALID_ARG, "embedding row stride %lld is below the model's %d dimensions",
                        (long long)b->embd_stride, m->hp.n_embd);
    if (b->deepstack && (!embd || m->hp.n_deepstack < 1))
        return vl_error(VLLM_ERR_INVALID_ARG, "deepstack features need embedding rows and a deepstack model (%s has %d layers)",
                        m->hp.arch, m->hp.n_deepstack);
    if (b->deepstack && (b->embd_stride ? b->embd_stride : m->hp.n_embd) < (int64_t)m->hp.n_deepstack * m->hp.n_embd)
        return vl_error(VLLM_ERR_INVALID_ARG, "embedding row stride %lld cannot hold %d deepstack feature rows",
                        (long long)b->embd_stride, m->hp.n_deepstack);
    if (n > s->n_ctx - s->n_past)
        return vl_error(VLLM_ERR_CONTEXT_FULL, "%lld new positions do not fit: %d of %d context positions are used",
                        (long long)n, s->n_past, s->n_ctx);
    if (tokens) {
        for (int64_t i = 0; i < n; i++)
            if (tokens[i] < 0 || tokens[i] >= m->hp.n_vocab)
                return vl_error(VLLM_ERR_INVALID_ARG, "token id %d at index %lld is outside the vocabulary (0..%d)",
                                tokens[i], (long long)i, m->hp.n_vocab - 1);
    }
    VL_TRY(place_positions(m, s, b));
    const int64_t V = m->hp.n_vocab;
    const int64_t want_rows = logits == 2 ? n : (logits == 1 ? 1 : 0);
    if (want_rows > s->logits_cap) {
        float *p = realloc(s->logits, (size_t)(want_rows * V) * sizeof(float));
        if (!p) return vl_error(VLLM_ERR_NOMEM, "out of memory for %lld rows of logits", (long long)want_rows);
        s->logits = p;
        s->logits_cap = want_rows;
    }
    s->logits_rows = 0;

    const int32_t start = s->n_past;
    for (int64_t done = 0; done < n; done += UBATCH) {
        const int64_t nb = n - done < UBATCH ? n - done : UBATCH;
        const int last = done + nb == n;
        float *out = NULL;
        if (logits == 2) out = s->logits + done * V;
        else if (logits == 1 && last) out = s->logits;
        const int64_t stride = b->embd_stride ? b->embd_stride : m->hp.n_embd;
        vl_llm_batch part = *b;
        part.tokens = tokens ? tokens + done : NULL;
        part.embd = embd ? embd + done * stride : NULL;
        part.deepstack = b->deepstack ? b->deepstack + done * stride : NULL;
        vllm_status st = forward_ubatch(m, s, pool, &part, nb, out, logits == 2);
        if (vllm_is_error(st)) {
            s->n_past = start; /* positions of a failed call are not kept */
            return st;
        }
    }
    for (int64_t i = (int64_t)start * VL_POS_SECTIONS; i < (int64_t)s->n_past * VL_POS_SECTIONS; i++)
        if (s->pos[i] + 1 > s->next_pos) s->next_pos = s->pos[i] + 1; /* new rows only: cheap per token */
    s->logits_rows = want_rows;
    return VLLM_OK;
}
