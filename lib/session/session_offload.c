/* The compressed KV offload tier of a session: live frames leaving a full
 * context go into a vl_kv_store (lib/compression/kv_offload.c) and come
 * back when a question resembles them or the host recalls their time.
 *
 * Layout rule: the context's live frames stay in time order. A reloaded
 * frame is inserted before the first resident frame that is newer (keys
 * of everything after it re-rotated up by its length), so the model sees
 * the stream as it happened, with gaps where frames are still offloaded. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "session_internal.h"

vllm_offload_params vllm_offload_default_params(void)
{
    return (vllm_offload_params){.struct_size = sizeof(vllm_offload_params),
                                 .enabled = 0,
                                 .retrieve_top_k = 4,
                                 .max_ram_bytes = 256ll << 20,
                                 .max_file_bytes = 0,
                                 .spill_dir = NULL};
}

static const vl_llm_hparams *hparams(const vllm_session *s) { return &s->model->llm->hp; }

static int32_t n_sum(const vllm_session *s)
{
    return s->n_sum_layers * hparams(s)->n_head_kv * hparams(s)->head_dim;
}

void vl_session_offload_free(vllm_session *s)
{
    if (s->kvs) vl_kv_store_free(s->kvs);
    free(s->kvs);
    s->kvs = NULL;
    free((char *)s->off.spill_dir);
    s->off.spill_dir = NULL;
    free(s->kv_buf);
    s->kv_buf = NULL;
    s->kv_buf_cap = 0;
}

static vllm_status open_store(vllm_session *s)
{
    const int es = vl_llm_state_kv_type(s->st) == VL_KV_F32 ? 4 : vl_llm_state_kv_type(s->st) == VL_KV_F16 ? 2 : 1;
    vl_kv_store_settings set = {.max_ram_bytes = s->off.max_ram_bytes,
                                .max_file_bytes = s->off.max_file_bytes,
                                .spill_dir = s->off.spill_dir,
                                .elem_size = es,
                                .zstd_level = 1};
    s->kvs = calloc(1, sizeof *s->kvs);
    if (!s->kvs) return vl_error(VLLM_ERR_NOMEM, "out of memory");
    vllm_status st = vl_kv_store_init(s->kvs, &set, n_sum(s));
    if (vllm_is_error(st)) {
        free(s->kvs);
        s->kvs = NULL;
    }
    return st;
}

void vl_session_offload_reset(vllm_session *s)
{
    if (!s->kvs) return;
    vl_kv_store_free(s->kvs);
    free(s->kvs);
    s->kvs = NULL;
    for (int i = 0; i < s->n_spans; i++) s->spans[i].block = -1;
    if (vllm_is_error(open_store(s))) s->off.enabled = 0; /* same settings as before: cannot fail but for memory */
}

vllm_status vl_sess_set_offload(vllm_session *s, const vllm_offload_params *in)
{
    if (!in) return vl_session_fail(s, vl_error(VLLM_ERR_INVALID_ARG, "vllm_session_set_offload: params is NULL"));
    if (in->struct_size < offsetof(vllm_offload_params, spill_dir) + sizeof in->spill_dir || in->struct_size > 4096)
        return vl_session_fail(s, vl_error(VLLM_ERR_INVALID_ARG,
                                           "vllm_offload_params.struct_size = %zu is not valid (start from "
                                           "vllm_offload_default_params())",
                                           in->struct_size));
    vllm_offload_params p = vllm_offload_default_params();
    memcpy(&p, in, in->struct_size < sizeof p ? in->struct_size : sizeof p);
    p.struct_size = sizeof p;
    if (p.enabled && p.max_ram_bytes <= 0)
        return vl_session_fail(s, vl_error(VLLM_ERR_INVALID_ARG, "vllm_offload_params.max_ram_bytes = %lld must be > 0",
                                           (long long)p.max_ram_bytes));
    if (p.enabled && p.max_file_bytes < 0)
        return vl_session_fail(s, vl_error(VLLM_ERR_INVALID_ARG, "vllm_offload_params.max_file_bytes = %lld must be >= 0 (0 = no cap)",
                                           (long long)p.max_file_bytes));
    if (p.enabled && p.retrieve_top_k < 0)
        return vl_session_fail(s, vl_error(VLLM_ERR_INVALID_ARG, "vllm_offload_params.retrieve_top_k = %d must be >= 0",
                                           p.retrieve_top_k));
    char *dir = NULL;
    if (p.enabled && p.spill_dir && !(dir = strdup(p.spill_dir)))
        return vl_session_fail(s, vl_error(VLLM_ERR_NOMEM, "out of memory"));
    vl_session_offload_free(s);
    for (int i = 0; i < s->n_spans; i++) s->spans[i].block = -1;
    p.spill_dir = dir;
    s->off = p;
    if (!p.enabled) {
        free(dir);
        s->off.spill_dir = NULL;
        return VLLM_OK;
    }
    /* summaries: the mean key of up to four layers spread over the depth */
    const int L = hparams(s)->n_layer;
    s->n_sum_layers = L < 4 ? L : 4;
    for (int i = 0; i < s->n_sum_layers; i++) s->sum_layers[i] = (int32_t)((int64_t)(2 * i + 1) * L / (2 * s->n_sum_layers));
    vllm_status st = open_store(s);
    if (vllm_is_error(st)) {
        s->off.enabled = 0;
        return vl_session_fail(s, st);
    }
    return VLLM_OK;
}

static vllm_status kv_buf(vllm_session *s, size_t n)
{
    if (n <= s->kv_buf_cap) return VLLM_OK;
    uint8_t *p = realloc(s->kv_buf, n);
    if (!p) return vl_error(VLLM_ERR_NOMEM, "out of memory for %zu bytes of KV rows", n);
    s->kv_buf = p;
    s->kv_buf_cap = n;
    return VLLM_OK;
}

/* Compress span `sp` into the store (once: a reloaded frame keeps its block). */
static vllm_status offload(vllm_session *s, vl_span *sp)
{
    if (sp->block >= 0) {
        s->kvs->b[sp->block].resident = 0;
        return VLLM_OK;
    }
    const int32_t n = sp->end - sp->start;
    const size_t bytes = vl_llm_state_span_bytes(s->st, n);
    VL_TRY(kv_buf(s, bytes));
    VL_TRY(vl_llm_state_read(s->st, sp->start, sp->end, s->kv_buf));
    float *sum = malloc((size_t)(n_sum(s) > 0 ? n_sum(s) : 1) * sizeof *sum);
    if (!sum) return vl_error(VLLM_ERR_NOMEM, "out of memory");
    const int per_layer = hparams(s)->n_head_kv * hparams(s)->head_dim;
    for (int i = 0; i < s->n_sum_layers; i++)
        vl_llm_state_key_mean(s->st, sp->start, sp->end, s->sum_layers[i], sum + (size_t)i * per_layer);
    int32_t id;
    vllm_status st = vl_kv_store_put(s->kvs, s->kv_buf, bytes, sp->pts, n, sp->start, s->hist + sp->start, sum, &id);
    free(sum);
    VL_TRY(st);
    sp->block = id;
    return VLLM_OK;
}

vllm_status vl_session_evict_span(vllm_session *s, int i)
{
    vl_span ev = s->spans[i];
    /* a frame leaves the context once for n_frames_evicted: a reloaded
     * one leaving again is not counted again */
    const int first_time = ev.kind == VL_SPAN_FRAME && !ev.returned;
    if (s->kvs && ev.kind == VL_SPAN_FRAME) VL_TRY(offload(s, &ev)); /* turns are dropped */
    const int32_t d = ev.end - ev.start, n_past = vl_llm_state_n_past(s->st);
    VL_TRY(vl_llm_state_remove(s->st, ev.start, ev.end));
    memmove(s->hist + ev.start, s->hist + ev.end, (size_t)(n_past - ev.end) * sizeof *s->hist);
    memmove(s->spans + i, s->spans + i + 1, (size_t)(s->n_spans - i - 1) * sizeof *s->spans);
    s->n_spans--;
    for (int j = i; j < s->n_spans; j++) s->spans[j].start -= d, s->spans[j].end -= d;
    if (s->turn_start >= ev.end) s->turn_start -= d;
    if (ev.kind == VL_SPAN_TURN) s->stats.n_turns_evicted++;
    else if (first_time) s->stats.n_frames_evicted++;
    s->has_logits = 0;
    return VLLM_OK;
}

/* Bring block `id` back into the context at its place in time. Returns
 * VLLM_OK with *done = 0 when it cannot be placed (no live frame to
 * place it by, or no room). */
static vllm_status reload(vllm_session *s, int32_t id, int *done)
{
    *done = 0;
    if (s->kvs->b[id].resident || s->kvs->b[id].tier == VL_KV_DROPPED) return VLLM_OK;
    /* room first: evicting may move the place where it goes, and offloads
     * blocks (the block array may move: `b` is taken after) */
    vllm_status st = vl_session_make_room(s, s->kvs->b[id].n_tok);
    if (st == VLLM_ERR_CONTEXT_FULL) return VLLM_OK;
    VL_TRY(st);
    vl_kv_block *b = &s->kvs->b[id];
    if (b->tier == VL_KV_DROPPED) return VLLM_OK; /* the evictions pushed it past the RAM cap */
    /* only frames reloaded for this question are left: the reserve for the
     * question and its answer is not given up for more of them */
    if (vl_llm_state_n_past(s->st) + b->n_tok + vl_session_reserve(s) > vl_llm_state_n_ctx(s->st)) return VLLM_OK;
    int at = 0;
    while (at < s->n_spans && s->spans[at].pts <= b->pts) at++;
    int32_t p;
    if (at < s->n_spans) p = s->spans[at].start;
    else if (s->n_spans > 0) p = s->spans[s->n_spans - 1].end;
    else if (s->turn_open) p = vl_llm_state_n_past(s->st); /* the open turn holds no frame now */
    else return VLLM_OK;
    VL_TRY(kv_buf(s, b->raw_bytes));
    VL_TRY(vl_kv_store_get(s->kvs, id, s->kv_buf));
    const int32_t n_past = vl_llm_state_n_past(s->st), n = b->n_tok;
    VL_TRY(vl_session_hist_reserve(s, (size_t)(n_past + n)));
    VL_TRY(vl_session_spans_reserve(s));
    VL_TRY(vl_llm_state_insert(s->st, p, n, s->kv_buf, b->src_p0));
    memmove(s->hist + p + n, s->hist + p, (size_t)(n_past - p) * sizeof *s->hist);
    memcpy(s->hist + p, b->hist, (size_t)n * sizeof *s->hist);
    memmove(s->spans + at + 1, s->spans + at, (size_t)(s->n_spans - at) * sizeof *s->spans);
    s->n_spans++;
    for (int j = at + 1; j < s->n_spans; j++) s->spans[j].start += n, s->spans[j].end += n;
    if (s->turn_start >= p) s->turn_start += n;
    s->spans[at] = (vl_span){.start = p, .end = p + n, .pts = b->pts, .block = id, .pinned = 1, .returned = 1,
                            .kind = VL_SPAN_FRAME};
    b->resident = 1;
    s->has_logits = 0;
    *done = 1;
    return VLLM_OK;
}

static void unpin_all(vllm_session *s)
{
    for (int i = 0; i < s->n_spans; i++) s->spans[i].pinned = 0;
}

vllm_status vl_sess_recall(vllm_session *s, double t0, double t1, int32_t *n_reloaded)
{
    if (n_reloaded) *n_reloaded = 0;
    if (!(t0 <= t1))
        return vl_session_fail(s, vl_error(VLLM_ERR_INVALID_ARG,
                                           "vllm_session_recall: the range starts at %g s, after its end %g s", t0, t1));
    if (!s->kvs) return vl_session_fail(s, vl_error(VLLM_ERR_STATE, "vllm_session_recall: offload is off"));
    if (s->armed) return vl_session_fail(s, vl_error(VLLM_ERR_STATE, "vllm_session_recall: an answer is being generated"));
    int32_t got = 0;
    vllm_status st = VLLM_OK;
    /* frames offloaded to make room while recalling are not candidates */
    const int32_t n_blocks = s->kvs->n;
    for (int32_t id = 0; id < n_blocks && !vllm_is_error(st); id++) {
        const vl_kv_block *b = &s->kvs->b[id];
        if (b->pts < t0 || b->pts >= t1) continue;
        int done;
        st = reload(s, id, &done);
        got += done;
    }
    /* recalled frames stay pinned until the next question has used them */
    if (n_reloaded) *n_reloaded = got;
    return vllm_is_error(st) ? vl_session_fail(s, st) : VLLM_OK;
}

static float cosine(const float *a, const float *b, int n)
{
    double ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < n; i++) ab += (double)a[i] * b[i], aa += (double)a[i] * a[i], bb += (double)b[i] * b[i];
    return aa > 0 && bb > 0 ? (float)(ab / sqrt(aa * bb)) : 0.0f;
}

static vllm_status retrieve(vllm_session *s, const int32_t *ids, size_t n);

vllm_status vl_session_retrieve(vllm_session *s, const int32_t *ids, size_t n)
{
    vllm_status st = retrieve(s, ids, n);
    unpin_all(s); /* this question has what it needs: recalled and retrieved frames age normally again */
    return st;
}

static vllm_status retrieve(vllm_session *s, const int32_t *ids, size_t n)
{
    if (!s->kvs || s->off.retrieve_top_k <= 0 || n == 0) return VLLM_OK;
    int32_t candidates = 0;
    for (int32_t id = 0; id < s->kvs->n; id++)
        candidates += !s->kvs->b[id].resident && s->kvs->b[id].tier != VL_KV_DROPPED;
    if (!candidates) return VLLM_OK;
    const vl_llm_hparams *hp = hparams(s);
    const int hd = hp->head_dim, group = hp->n_head / hp->n_head_kv;
    const size_t qn = (size_t)hp->n_layer * hp->n_head * hd;
    float *q = malloc(qn * sizeof *q);
    float *score = malloc((size_t)s->kvs->n * sizeof *score);
    if (!q || !score) {
        free(q);
        free(score);
        return vl_error(VLLM_ERR_NOMEM, "out of memory");
    }
    /* the question's queries, from a trial evaluation that is then undone */
    const int32_t n0 = vl_llm_state_n_past(s->st);
    vl_llm_state_capture_queries(s->st, q);
    vllm_status st = vl_session_eval(s, ids, NULL, n, 0);
    vl_llm_state_capture_queries(s->st, NULL);
    vl_llm_state_truncate(s->st, n0);
    s->has_logits = 0;
    if (vllm_is_error(st)) {
        free(q);
        free(score);
        return st;
    }
    for (int32_t id = 0; id < s->kvs->n; id++) {
        const vl_kv_block *b = &s->kvs->b[id];
        score[id] = -INFINITY;
        if (b->resident || b->tier == VL_KV_DROPPED) continue;
        double sum = 0;
        for (int li = 0; li < s->n_sum_layers; li++)
            for (int h = 0; h < hp->n_head; h++)
                sum += cosine(q + ((size_t)s->sum_layers[li] * hp->n_head + h) * hd,
                              b->key_mean + ((size_t)li * hp->n_head_kv + h / group) * hd, hd);
        score[id] = (float)(sum / (s->n_sum_layers * hp->n_head));
    }
    free(q);
    /* the top k, reloaded oldest first so each lands before the next */
    const int32_t k = s->off.retrieve_top_k < candidates ? s->off.retrieve_top_k : candidates;
    uint8_t *pick = calloc((size_t)s->kvs->n, 1);
    if (!pick) {
        free(score);
        return vl_error(VLLM_ERR_NOMEM, "out of memory");
    }
    for (int32_t r = 0; r < k; r++) {
        int32_t best = -1;
        for (int32_t id = 0; id < s->kvs->n; id++)
            if (!pick[id] && score[id] > -INFINITY && (best < 0 || score[id] > score[best])) best = id;
        if (best < 0) break;
        pick[best] = 1;
    }
    free(score);
    s->kvs->c.retrievals++;
    const int32_t n_blocks = s->kvs->n; /* reloading offloads others: those are not candidates */
    for (int32_t id = 0; id < n_blocks && !vllm_is_error(st); id++) {
        int done;
        if (pick[id]) st = reload(s, id, &done);
    }
    free(pick);
    return st;
}

vllm_status vl_sess_get_offload_stats(const vllm_session *s, vllm_offload_stats *out)
{
    if (!out) return vl_error(VLLM_ERR_INVALID_ARG, "vllm_session_get_offload_stats: stats is NULL");
    if (out->struct_size < offsetof(vllm_offload_stats, frames_offloaded) + sizeof out->frames_offloaded ||
        out->struct_size > 4096)
        return vl_error(VLLM_ERR_INVALID_ARG, "vllm_offload_stats.struct_size = %zu is not valid", out->struct_size);
    vllm_offload_stats o = {.struct_size = sizeof o};
    if (s->kvs) {
        const vl_kv_store_counters *c = &s->kvs->c;
        o.frames_offloaded = c->blocks_offloaded;
        o.frames_reloaded = c->blocks_reloaded;
        o.retrievals = c->retrievals;
        o.raw_bytes = c->raw_bytes;
        o.compressed_bytes = c->compressed_bytes;
        o.ram_bytes = c->ram_bytes;
        o.file_bytes = c->file_bytes;
        o.offload_seconds = c->offload_seconds;
        o.reload_seconds = c->reload_seconds;
        for (int32_t id = 0; id < s->kvs->n; id++) {
            const vl_kv_block *b = &s->kvs->b[id];
            o.frames_in_ram += b->tier == VL_KV_IN_RAM;
            o.frames_in_file += b->tier == VL_KV_IN_FILE;
            o.frames_dropped += b->tier == VL_KV_DROPPED;
            o.frames_resident += b->resident;
        }
    }
    const size_t n = out->struct_size < sizeof o ? out->struct_size : sizeof o;
    const size_t caller = out->struct_size;
    memcpy(out, &o, n);
    out->struct_size = caller;
    return VLLM_OK;
}
