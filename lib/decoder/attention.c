/* Causal GQA attention over the KV cache (see attention.h), reading the
 * cache in its storage type, with an online softmax (a running maximum m
 * and sum l per query row: a block of keys with scores s rescales what
 * came before by e^(m - m'), m' = max(m, max s), and adds e^(s - m')), so
 * no score row or converted head is ever as long as the context.
 *
 * One new row (decoding): the work is the flattened (KV head, key) range,
 * cut into one contiguous piece per thread ("flash-decoding"), so every
 * core works however few KV heads there are; each piece leaves a partial
 * (m, l, unnormalized output) per query head of its group and the partials
 * of a head are merged at the end. Keys and values are read in place by
 * the kernels of kernels.h (kv_dot, kv_axpy), a block of rows at a time
 * while it is in L1, once for all query heads of the group.
 *
 * Several rows (prefill): items are (KV head, tile of query positions ×
 * all query heads of the group), taken longest first from a shared
 * counter. An item walks the keys its last position may see in blocks,
 * converting each block of K and V to f32 once for all its query rows;
 * the rows go through attn_tile.h's chunk step 24 at a time (one query
 * row per vector lane: register-blocked products, the softmax without
 * horizontal reductions, base-2 exponentials), and a chunk skips the keys
 * none of its rows sees, so the causal mask costs work only on the
 * diagonal. */
#include "attention.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/attn_tile.h"
#include "core/dtype.h"
#include "core/fastmath.h"
#include "core/kernels.h"
#include "core/quant.h"

#define DECODE_KEYS 64   /* keys per step of a decode piece (a block of K rows stays in L1) */
#define PREFILL_KEYS 32  /* keys per block of a prefill item */
#define PREFILL_ROWS 120 /* query rows (positions × heads of a group) per prefill tile, about */

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

static int group_of(const vl_attn_args *a) { return a->n_head / a->n_head_kv; }

/* ---- decode: one query row, flash-decoding -------------------------------------------- */

/* The partial of one piece for one query head: m, l, then head_dim sums. */
static size_t partial_floats(const vl_attn_args *a) { return 2 + (size_t)a->head_dim; }

/* At most n_head_kv + 1 pieces per thread (a contiguous range of the
 * flattened (head, key) space crosses at most n_head_kv - 1 head borders). */
static size_t decode_floats(const vl_attn_args *a)
{
    const size_t G = (size_t)group_of(a), hd = (size_t)a->head_dim;
    return G * hd + G * DECODE_KEYS + ((size_t)a->n_head_kv + 1) * G * partial_floats(a) + 2 * ((size_t)a->n_head_kv + 1);
}

/* One block of scores s[0..nk) for a query row with running (m, l, acc):
 * fold it in (s is overwritten with the weights). */
static void online_rescale(const vl_kernel_table *kt, float *m, float *l, float *acc, int64_t hd, float *s, int64_t nk)
{
    float bmax = s[0];
    for (int64_t j = 1; j < nk; j++) bmax = s[j] > bmax ? s[j] : bmax;
    const float mnew = bmax > *m ? bmax : *m;
    const float sum = kt->exp_sub(s, &mnew, 0, nk);
    if (mnew > *m) {
        const float alpha = *m == -INFINITY ? 0.0f : vl_exp_fast(*m - mnew);
        for (int64_t d = 0; d < hd; d++) acc[d] *= alpha;
        *l *= alpha;
        *m = mnew;
    }
    *l += sum;
}

/* Keys [k0, k1) of KV head kvh for the group's query heads: partials
 * part[g] = (m, l, acc). */
static void decode_piece(const vl_kernel_table *kt, const vl_attn_args *a, int kvh, int64_t k0, int64_t k1,
                         float *qs, float *s, float *part)
{
    const int G = group_of(a), hd = a->head_dim;
    const size_t pf = partial_floats(a);
    const float scale = 1.0f / sqrtf((float)hd);
    for (int g = 0; g < G; g++) {
        const float *q = a->q + (size_t)(kvh * G + g) * hd;
        for (int d = 0; d < hd; d++) qs[(size_t)g * hd + d] = q[d] * scale;
        float *p = part + g * pf;
        p[0] = -INFINITY, p[1] = 0.0f;
        memset(p + 2, 0, (size_t)hd * sizeof *p);
    }
    const uint8_t *K = a->k + (size_t)kvh * a->head_stride, *V = a->v + (size_t)kvh * a->head_stride;
    for (int64_t j0 = k0; j0 < k1; j0 += DECODE_KEYS) {
        const int64_t nk = k1 - j0 < DECODE_KEYS ? k1 - j0 : DECODE_KEYS;
        const uint8_t *Kb = K + (size_t)j0 * a->row_bytes, *Vb = V + (size_t)j0 * a->row_bytes;
        for (int g = 0; g < G; g++) kt->kv_dot[a->type](qs + (size_t)g * hd, Kb, a->row_bytes, hd, s + g * DECODE_KEYS, nk);
        for (int g = 0; g < G; g++) {
            float *p = part + g * pf, *sg = s + g * DECODE_KEYS;
            online_rescale(kt, &p[0], &p[1], p + 2, hd, sg, nk);
            kt->kv_axpy[a->type](sg, Vb, a->row_bytes, hd, p + 2, nk);
        }
    }
}

typedef struct decode_task {
    const vl_attn_args *a;
    const vl_kernel_table *kt;
    vl_attn_scratch *scr;
} decode_task;

/* Per thread: [queries G×hd][scores G×DECODE_KEYS][partials][piece heads, piece count]. */
static float *decode_partials(const vl_attn_args *a, float *base)
{
    return base + (size_t)group_of(a) * a->head_dim + (size_t)group_of(a) * DECODE_KEYS;
}
static float *decode_meta(const vl_attn_args *a, float *base)
{
    return decode_partials(a, base) + ((size_t)a->n_head_kv + 1) * group_of(a) * partial_floats(a);
}

static void task_decode(void *ctx, int ith, int nth)
{
    decode_task *t = ctx;
    const vl_attn_args *a = t->a;
    const int64_t n_keys = a->n_past + 1;
    float *base = t->scr->buf + (size_t)ith * t->scr->per_thread;
    float *qs = base, *s = base + (size_t)group_of(a) * a->head_dim;
    float *part = decode_partials(a, base), *meta = decode_meta(a, base);
    long long w0, w1;
    vl_split_range((long long)a->n_head_kv * n_keys, ith, nth, 1, &w0, &w1);
    int pieces = 0;
    for (long long w = w0; w < w1;) {
        const int kvh = (int)(w / n_keys);
        const int64_t k0 = w % n_keys, k1 = w1 - (long long)kvh * n_keys < n_keys ? w1 - (long long)kvh * n_keys : n_keys;
        decode_piece(t->kt, a, kvh, k0, k1, qs, s, part + (size_t)pieces * group_of(a) * partial_floats(a));
        meta[pieces++] = (float)kvh;
        w += k1 - k0;
    }
    meta[a->n_head_kv + 1] = (float)pieces;
}

/* Merge the partials of every query head into its output row. */
static void decode_merge(const vl_attn_args *a, vl_attn_scratch *scr, int nth)
{
    const int G = group_of(a), hd = a->head_dim;
    const size_t pf = partial_floats(a);
    for (int h = 0; h < a->n_head; h++) {
        const int kvh = h / G, g = h % G;
        float M = -INFINITY;
        for (int th = 0; th < nth; th++) {
            float *base = scr->buf + (size_t)th * scr->per_thread, *meta = decode_meta(a, base);
            for (int pc = 0; pc < (int)meta[a->n_head_kv + 1]; pc++) {
                const float *p = decode_partials(a, base) + ((size_t)pc * G + g) * pf;
                if ((int)meta[pc] == kvh && p[0] > M) M = p[0];
            }
        }
        float *o = a->out + (size_t)h * hd;
        memset(o, 0, (size_t)hd * sizeof *o);
        double L = 0.0;
        for (int th = 0; th < nth; th++) {
            float *base = scr->buf + (size_t)th * scr->per_thread, *meta = decode_meta(a, base);
            for (int pc = 0; pc < (int)meta[a->n_head_kv + 1]; pc++) {
                const float *p = decode_partials(a, base) + ((size_t)pc * G + g) * pf;
                if ((int)meta[pc] != kvh || p[0] == -INFINITY) continue;
                const float w = vl_exp_fast(p[0] - M);
                L += (double)w * p[1];
                for (int d = 0; d < hd; d++) o[d] += w * p[2 + d];
            }
        }
        const float inv = L > 0.0 ? (float)(1.0 / L) : 0.0f;
        for (int d = 0; d < hd; d++) o[d] *= inv;
    }
}

/* ---- prefill: tiles of query rows × blocks of keys ------------------------------------- */

typedef struct prefill_shape {
    int64_t tile_pos; /* positions per tile */
    int64_t lanes;    /* query rows per tile (positions × group), rounded up to whole chunks */
} prefill_shape;

static int64_t gcd64(int64_t a, int64_t b) { return b ? gcd64(b, a % b) : a; }

/* Tiles of about PREFILL_ROWS query rows, made of whole chunks of
 * VL_ATTN_LANES rows where the group allows (so only a batch's last tile
 * has padding lanes). */
static prefill_shape prefill_shape_of(const vl_attn_args *a)
{
    const int64_t G = group_of(a);
    const int64_t unit_pos = VL_ATTN_LANES / gcd64(VL_ATTN_LANES, G); /* positions filling whole chunks */
    const int64_t units = PREFILL_ROWS / (unit_pos * G) > 0 ? PREFILL_ROWS / (unit_pos * G) : 1;
    prefill_shape ps;
    ps.tile_pos = units * unit_pos < a->n ? units * unit_pos : a->n;
    ps.lanes = (ps.tile_pos * G + VL_ATTN_LANES - 1) / VL_ATTN_LANES * VL_ATTN_LANES;
    return ps;
}

/* Per thread: Qt and Ot (hd × lanes each), K and V tiles (PREFILL_KEYS ×
 * hd each), scores (PREFILL_KEYS × VL_ATTN_LANES), m, l (lanes each), the
 * last visible key per lane (VL_ATTN_LANES). */
static size_t prefill_floats(const vl_attn_args *a)
{
    const size_t hd = (size_t)a->head_dim, L = (size_t)prefill_shape_of(a).lanes;
    return 2 * hd * L + 2 * PREFILL_KEYS * hd + PREFILL_KEYS * VL_ATTN_LANES + 2 * L + VL_ATTN_LANES;
}

typedef struct prefill_task {
    const vl_attn_args *a;
    vl_attn_chunk_fn chunk;
    vl_attn_scratch *scr;
    prefill_shape ps;
    int64_t n_tiles;
    atomic_llong next; /* items are taken in order by whichever thread is free */
} prefill_task;

/* Rows kr0.. of a head as an f32 tile: the cache itself when it is f32. */
static const float *f32_rows(const vl_attn_args *a, const uint8_t *head, int64_t kr0, int64_t nk, float *tile)
{
    const uint8_t *src = head + (size_t)kr0 * a->row_bytes;
    if (a->type == VL_TYPE_F32) return (const float *)src;
    vl_dequantize_row(a->type, src, tile, nk * a->head_dim); /* rows are contiguous */
    return tile;
}

/* One tile of query positions of KV head kvh's group: lane i is position
 * t0 + i / G of query head kvh * G + i % G. The tile walks the keys its
 * last position sees in blocks, converting each block of K and V once for
 * all its chunks; a chunk skips the keys none of its lanes sees and is
 * masked only where some lane sees part of the block. */
static void prefill_item(const prefill_task *t, int kvh, int64_t tile, float *base)
{
    const vl_attn_args *a = t->a;
    const int G = group_of(a), hd = a->head_dim;
    const int64_t L = t->ps.lanes, Dq = (int64_t)a->n_head * hd;
    const int64_t t0 = tile * t->ps.tile_pos;
    const int64_t npos = a->n - t0 < t->ps.tile_pos ? a->n - t0 : t->ps.tile_pos, rows = npos * G;
    float *Qt = base, *Ot = Qt + (size_t)hd * L, *Kt = Ot + (size_t)hd * L, *Vt = Kt + (size_t)PREFILL_KEYS * hd;
    float *S = Vt + (size_t)PREFILL_KEYS * hd, *m = S + (size_t)PREFILL_KEYS * VL_ATTN_LANES, *l = m + L, *lim = l + L;
    const float scale = 1.4426950408889634f / sqrtf((float)hd); /* log2(e): the kernels use 2^x */

    /* Qt[d][i], padding lanes zero */
    memset(Qt, 0, (size_t)hd * L * sizeof *Qt);
    for (int64_t i = 0; i < rows; i++) {
        const float *q = a->q + (t0 + i / G) * Dq + (int64_t)(kvh * G + i % G) * hd;
        for (int d = 0; d < hd; d++) Qt[(size_t)d * L + i] = q[d] * scale;
    }
    memset(Ot, 0, (size_t)hd * L * sizeof *Ot);
    for (int64_t i = 0; i < L; i++) m[i] = -INFINITY, l[i] = 0.0f;

    const uint8_t *Kh = a->k + (size_t)kvh * a->head_stride, *Vh = a->v + (size_t)kvh * a->head_stride;
    const int64_t row0 = a->n_past + t0; /* cache row of the tile's first query: the last key it sees */
    const int64_t n_keys = row0 + npos;  /* keys the tile's last query sees */
    for (int64_t kb = 0; kb < n_keys; kb += PREFILL_KEYS) {
        const int64_t nk = n_keys - kb < PREFILL_KEYS ? n_keys - kb : PREFILL_KEYS;
        const float *Kf = f32_rows(a, Kh, kb, nk, Kt), *Vf = f32_rows(a, Vh, kb, nk, Vt);
        for (int64_t c0 = 0; c0 < rows; c0 += VL_ATTN_LANES) {
            const int64_t c1 = rows - c0 < VL_ATTN_LANES ? rows : c0 + VL_ATTN_LANES; /* real lanes [c0, c1) */
            const int64_t first = row0 + c0 / G, last = row0 + (c1 - 1) / G; /* last keys they see */
            if (last < kb) continue; /* the whole block lies after every lane of the chunk */
            const int64_t nkc = last - kb + 1 < nk ? last - kb + 1 : nk;
            const int masked = kb + nkc - 1 > first;
            if (masked)
                for (int64_t i = 0; i < VL_ATTN_LANES; i++)
                    lim[i] = (float)(row0 + (c0 + i < c1 ? c0 + i : c1 - 1) / G - kb);
            t->chunk(hd, nkc, Kf, Vf, hd, Qt + c0, Ot + c0, L, m + c0, l + c0, masked ? lim : NULL, S);
        }
    }
    for (int64_t i = 0; i < rows; i++) {
        float *o = a->out + (t0 + i / G) * Dq + (int64_t)(kvh * G + i % G) * hd;
        const float inv = l[i] > 0.0f ? 1.0f / l[i] : 0.0f;
        for (int d = 0; d < hd; d++) o[d] = Ot[(size_t)d * L + i] * inv;
    }
}

static void task_prefill(void *ctx, int ith, int nth)
{
    (void)nth;
    prefill_task *t = ctx;
    float *base = t->scr->buf + (size_t)ith * t->scr->per_thread;
    const long long n_items = (long long)t->n_tiles * t->a->n_head_kv;
    /* the last tiles (the longest) first, so the short ones fill in the end */
    for (long long item; (item = atomic_fetch_add_explicit(&t->next, 1, memory_order_relaxed)) < n_items;) {
        const int64_t tile = t->n_tiles - 1 - item / t->a->n_head_kv;
        prefill_item(t, (int)(item % t->a->n_head_kv), tile, base);
    }
}

/* ---- entry -------------------------------------------------------------------------------- */

vllm_status vl_attention(vl_pool *pool, vl_attn_scratch *scr, const vl_attn_args *a)
{
    const vl_kernel_table *kt = vl_kernels_active();
    const int known_type = a->type >= 0 && a->type < VL_TYPE_COUNT && kt->kv_dot[a->type];
    if (a->n_head_kv < 1 || a->n_head % a->n_head_kv || a->head_dim < 1 || a->n < 1 || !known_type)
        return vl_error(VLLM_ERR_INVALID_ARG, "attention: %d heads over %d KV heads of %d dims (type %s), %lld rows",
                        a->n_head, a->n_head_kv, a->head_dim, vl_type_name(a->type), (long long)a->n);
    const int nth = vl_pool_size(pool);
    if (a->n == 1) {
        VL_TRY(reserve(scr, nth, decode_floats(a)));
        decode_task t = {.a = a, .kt = kt, .scr = scr};
        vl_pool_run(pool, task_decode, &t);
        decode_merge(a, scr, nth);
        return VLLM_OK;
    }
    VL_TRY(reserve(scr, nth, prefill_floats(a)));
    prefill_task t = {.a = a, .chunk = vl_attn_chunk_kernel(kt), .scr = scr, .ps = prefill_shape_of(a)};
    t.n_tiles = (a->n + t.ps.tile_pos - 1) / t.ps.tile_pos;
    atomic_init(&t.next, 0);
    vl_pool_run(pool, task_prefill, &t);
    return VLLM_OK;
}
