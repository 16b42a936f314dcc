/* vllm_session_*: one conversation over a shared model — its KV cache,
 * thread pool, sampler and the state of the generation in progress.
 *
 * Generation is lazy by one token: next_token() samples from the current
 * logits and returns the token; the *next* call evaluates it. So an
 * end-of-generation token is never evaluated, and a token left pending
 * when generation stops (max_tokens) is evaluated at the next query, so
 * the context always holds the whole conversation. */
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "core/log.h"
#include "core/quant.h"
#include "session_internal.h"

double vl_now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

uintptr_t vl_thread_tag(void)
{
    static _Thread_local char tag;
    return (uintptr_t)&tag;
}

static void lock_acquired(vllm_session *s)
{
    if (s->lock_depth++ == 0) atomic_store(&s->lock_owner, vl_thread_tag());
}

void vl_session_lock_push(vllm_session *s)
{
    atomic_fetch_add(&s->pushers_waiting, 1);
    pthread_mutex_lock(&s->lock);
    atomic_fetch_sub(&s->pushers_waiting, 1);
    lock_acquired(s);
}

void vl_session_lock(vllm_session *s)
{
    if (atomic_load(&s->lock_owner) != vl_thread_tag())
        while (atomic_load(&s->pushers_waiting) > 0) sched_yield();
    pthread_mutex_lock(&s->lock);
    lock_acquired(s);
}

/* Copy the statistics for readers that do not take the lock. */
static void publish_stats(vllm_session *s)
{
    pthread_mutex_lock(&s->stats_mu);
    s->stats_pub = s->stats;
    s->stats_pub.n_past = s->st ? vl_llm_state_n_past(s->st) : 0;
    pthread_mutex_unlock(&s->stats_mu);
}

void vl_session_unlock(vllm_session *s)
{
    if (s->lock_depth == 1) publish_stats(s);
    if (--s->lock_depth == 0) atomic_store(&s->lock_owner, 0);
    pthread_mutex_unlock(&s->lock);
}

vllm_status vl_session_context_full(const vllm_session *s, const char *what, int64_t need)
{
    const int32_t n_ctx = vl_llm_state_n_ctx(s->st), used = vl_llm_state_n_past(s->st);
    return vl_error(VLLM_ERR_CONTEXT_FULL,
                    "%s needs %lld positions, but the context has %d (%d in use, %d free, nothing older can be evicted): "
                    "give the session a larger context (n_ctx; videollm -c), fewer visual tokens "
                    "(vllm_video_params.max_visual_tokens or fewer frames; videollm --video-max-tokens) "
                    "or compressed frames (videollm --fast)",
                    what, (long long)need, n_ctx, used, n_ctx - used);
}

/* Record the thread's error message in the session too. */
vllm_status vl_session_fail(vllm_session *s, vllm_status st)
{
    if (s) snprintf(s->err, sizeof s->err, "%s", vl_error_message());
    return st;
}

vllm_session_params vllm_session_default_params(void)
{
    vllm_session_params p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    p.kv_type = VLLM_KV_F16; /* half the memory and read traffic of f32, as llama.cpp */
    return p;
}

vllm_generate_params vllm_generate_default_params(void)
{
    vllm_generate_params p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    p.max_tokens = 256;
    p.temperature = 0.0f;
    p.top_k = 40;
    p.top_p = 0.95f;
    p.min_p = 0.05f;
    p.repeat_penalty = 1.0f;
    p.repeat_last_n = 64;
    return p;
}

/* Copy a caller's params struct of any known size over the defaults. */
static vllm_status copy_params(const void *in, size_t in_size, void *out, size_t out_size, size_t min_size,
                               const char *what)
{
    if (in_size < min_size || in_size > 4096)
        return vl_error(VLLM_ERR_INVALID_ARG, "%s.struct_size = %zu is not valid (start from the *_default_params() function)",
                        what, in_size);
    memcpy(out, in, in_size < out_size ? in_size : out_size);
    *(size_t *)out = out_size;
    return VLLM_OK;
}

vllm_status vllm_session_create(vllm_model *model, const vllm_session_params *params, vllm_session **out)
{
    if (!out) return vl_error(VLLM_ERR_INVALID_ARG, "vllm_session_create: out_session is NULL");
    *out = NULL;
    if (!model) return vl_error(VLLM_ERR_INVALID_ARG, "vllm_session_create: model is NULL");
    if (!model->llm) return vl_error(VLLM_ERR_STATE, "vllm_session_create: the model was loaded vocab_only");
    vllm_session_params p = vllm_session_default_params();
    if (params)
        VL_TRY(copy_params(params, params->struct_size, &p, sizeof p, offsetof(vllm_session_params, kv_type) + sizeof p.kv_type,
                           "vllm_session_params"));
    if (p.n_ctx < 0)
        return vl_error(VLLM_ERR_INVALID_ARG, "vllm_session_params.n_ctx = %d is negative (0 = the default)", p.n_ctx);
    if (p.n_threads < 0 || p.n_threads > 1024)
        return vl_error(VLLM_ERR_INVALID_ARG, "vllm_session_params.n_threads = %d is out of range (0..1024; 0 = one per CPU)",
                        p.n_threads);
    if (p.kv_type < VLLM_KV_F32 || p.kv_type > VLLM_KV_Q4_0)
        return vl_error(VLLM_ERR_INVALID_ARG, "vllm_session_params.kv_type = %d is not a vllm_kv_type", (int)p.kv_type);
    int32_t n_ctx = p.n_ctx;
    if (n_ctx == 0) n_ctx = vl_media_plan_default_ctx(model); /* holds the default video sampling */

    vllm_session *s = calloc(1, sizeof *s);
    if (!s) return vl_error(VLLM_ERR_NOMEM, "out of memory");
    s->model = model;
    s->pending = -1;
    s->turn_start = -1;
    s->last_frame_pts = -1;
    s->last_push_pts = -1;
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&s->lock, &attr);
    pthread_mutexattr_destroy(&attr);
    pthread_mutex_init(&s->stats_mu, NULL);
    vl_session_live_init(s);
    vllm_status st = vl_llm_state_new(model->llm, n_ctx, (vl_kv_type)p.kv_type, &s->st); /* the enums share their values */
    if (!vllm_is_error(st)) {
        s->pool = vl_pool_create(p.n_threads);
        if (!s->pool) st = vl_error(VLLM_ERR_NOMEM, "cannot start %d worker threads", p.n_threads);
    }
    if (!vllm_is_error(st)) st = vl_session_media_configure(s, &p); /* compression settings */
    if (!vllm_is_error(st) && p.system_prompt && *p.system_prompt) {
        /* a copy: the caller's string need not outlive this call */
        const size_t n = strnlen(p.system_prompt, VL_SYSTEM_PROMPT_MAX + 1);
        if (n > VL_SYSTEM_PROMPT_MAX)
            st = vl_error(VLLM_ERR_INVALID_ARG, "vllm_session_params.system_prompt is longer than %d bytes", VL_SYSTEM_PROMPT_MAX);
        else if (!(s->system_prompt = strdup(p.system_prompt)))
            st = vl_error(VLLM_ERR_NOMEM, "out of memory");
    }
    if (vllm_is_error(st)) {
        vllm_session_free(s);
        return st;
    }
    s->stats.struct_size = sizeof s->stats;
    s->stats.n_ctx = n_ctx;
    publish_stats(s);
    *out = s;
    return VLLM_OK;
}

static void disarm(vllm_session *s)
{
    for (size_t i = 0; i < s->n_stops; i++) free(s->stops[i]);
    free(s->stops);
    s->stops = NULL;
    s->n_stops = 0;
    vl_sampler_free(s->sampler);
    s->sampler = NULL;
    s->armed = 0;
    s->stop_hit = 0;
    s->hold_len = 0;
}

void vllm_session_free(vllm_session *s)
{
    if (!s) return;
    vl_session_live_free(s); /* first: the source's threads use the session */
    disarm(s);
    vl_session_media_free(s);
    vl_session_offload_free(s);
    vl_session_queue_free(s);
    free(s->hist);
    free(s->system_prompt);
    free(s->batch_embd);
    free(s->batch_ids);
    free(s->batch_pos);
    pthread_mutex_destroy(&s->lock);
    pthread_mutex_destroy(&s->stats_mu);
    vl_llm_state_free(s->st);
    vl_pool_free(s->pool);
    free(s->hold);
    free(s->piece);
    free(s);
}

vllm_status vl_sess_reset(vllm_session *s)
{
    if (!s) return vl_error(VLLM_ERR_INVALID_ARG, "vllm_session_reset: session is NULL");
    disarm(s);
    vl_session_media_reset(s);
    vl_session_queue_free(s); /* frames queued before the reset are not part of the new context */
    vl_llm_state_truncate(s->st, 0);
    s->pending = -1;
    s->has_logits = 0;
    s->turns = 0;
    s->stats.n_past = 0;
    return VLLM_OK;
}

const char *vllm_session_last_error(const vllm_session *s) { return s ? s->err : ""; }

void vllm_session_cancel(vllm_session *s)
{
    if (s) atomic_store(&s->cancel, 1);
}

/* `full` (n_past filled in) to the caller's struct, as long as it says. */
static vllm_status stats_out(vllm_session_stats full, vllm_session_stats *stats)
{
    if (!stats) return vl_error(VLLM_ERR_INVALID_ARG, "vllm_session_get_stats: NULL argument");
    if (stats->struct_size < sizeof(size_t) || stats->struct_size > 4096)
        return vl_error(VLLM_ERR_INVALID_ARG, "vllm_session_stats.struct_size = %zu is not valid", stats->struct_size);
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) full.peak_rss_bytes = (int64_t)ru.ru_maxrss * 1024;
    full.struct_size = stats->struct_size;
    memcpy(stats, &full, stats->struct_size < sizeof full ? stats->struct_size : sizeof full);
    return VLLM_OK;
}

vllm_status vl_sess_get_stats(const vllm_session *s, vllm_session_stats *stats)
{
    if (!s) return vl_error(VLLM_ERR_INVALID_ARG, "vllm_session_get_stats: NULL argument");
    vllm_session_stats full = s->stats;
    full.n_past = vl_llm_state_n_past(s->st);
    return stats_out(full, stats);
}

vllm_status vl_session_published_stats(vllm_session *s, vllm_session_stats *stats)
{
    pthread_mutex_lock(&s->stats_mu);
    const vllm_session_stats full = s->stats_pub;
    pthread_mutex_unlock(&s->stats_mu);
    return stats_out(full, stats);
}

/* Evaluate rows in chunks, honouring cancellation; on failure the
 * context is rolled back to where it was. */
static vllm_status eval_now(vllm_session *s, const vl_rows *r, int want_logits);

/* Floats per row of the batch: the text width, or a deepstack tower's
 * rows [main | ds_0 | ...] (text rows carry zeros there: adding them
 * changes nothing). */
static int64_t batch_width(const vllm_session *s)
{
    const int64_t E = s->model->llm->hp.n_embd;
    const int64_t V = s->model->vision ? vl_vision_n_embd_out(s->model->vision) : 0;
    return V > E ? V : E;
}

/* M-RoPE families give every row explicit positions. */
static int explicit_positions(const vllm_session *s)
{
    return s->model->family && (s->model->family->caps & VL_FAM_MROPE);
}

int32_t vl_session_next_pos(const vllm_session *s)
{
    return s->batch_n ? s->batch_next_pos : vl_llm_state_next_pos(s->st);
}

/* Positions gathered while batching (a video's frames and their text),
 * evaluated as one embedding batch: one pass over the weights per
 * PROMPT_CHUNK positions instead of one per frame. Text tokens become
 * their embedding rows, which is exactly what evaluating the ids does. */
vllm_status vl_session_flush(vllm_session *s)
{
    if (!s->batch_n) return VLLM_OK;
    const size_t n = s->batch_n;
    s->batch_n = 0;
    const int64_t W = batch_width(s);
    const vl_rows r = {.n = n,
                       .ids = s->batch_ids,
                       .embd = s->batch_embd,
                       .stride = W,
                       .pos = explicit_positions(s) ? s->batch_pos : NULL,
                       .deepstack = W > s->model->llm->hp.n_embd};
    vllm_status st = eval_now(s, &r, 0);
    if (vllm_is_error(st)) s->batch_n = n; /* still counted for the message; the video's rollback drops them */
    return st;
}

static vllm_status batch_add(vllm_session *s, const vl_rows *r)
{
    const vl_llm *m = s->model->llm;
    const int64_t E = m->hp.n_embd, W = batch_width(s), in_w = r->stride ? r->stride : E;
    if (!s->batch_embd) {
        s->batch_embd = malloc((size_t)PROMPT_CHUNK * W * sizeof *s->batch_embd);
        s->batch_ids = malloc(PROMPT_CHUNK * sizeof *s->batch_ids);
        s->batch_pos = malloc((size_t)PROMPT_CHUNK * VL_POS_SECTIONS * sizeof *s->batch_pos);
        if (!s->batch_embd || !s->batch_ids || !s->batch_pos)
            return vl_error(VLLM_ERR_NOMEM, "out of memory for the prompt batch");
    }
    const int mrope = explicit_positions(s);
    for (size_t i = 0; i < r->n; i++) {
        if (s->batch_n == PROMPT_CHUNK) VL_TRY(vl_session_flush(s));
        if (s->batch_n == 0) s->batch_next_pos = vl_llm_state_next_pos(s->st);
        float *row = s->batch_embd + s->batch_n * W;
        if (!r->embd) {
            const int32_t id = r->ids[i];
            if (id < 0 || id >= m->hp.n_vocab) return vl_error(VLLM_ERR_INVALID_ARG, "token id %d is outside the vocabulary", id);
            vl_dequantize_row(m->tok_embd.type, (const uint8_t *)m->tok_embd.data + (size_t)id * m->tok_embd.row_bytes,
                              row, E);
            if (W > E) memset(row + E, 0, (size_t)(W - E) * sizeof *row);
        } else {
            const int64_t w = in_w < W ? in_w : W;
            memcpy(row, r->embd + i * in_w, (size_t)w * sizeof *row);
            if (w < W) memset(row + w, 0, (size_t)(W - w) * sizeof *row);
        }
        if (mrope) {
            int32_t *p = s->batch_pos + s->batch_n * VL_POS_SECTIONS;
            if (r->pos) {
                memcpy(p, r->pos + i * VL_POS_SECTIONS, VL_POS_SECTIONS * sizeof *p);
            } else { /* a text row: (p, p, p, p or 0) as the text model places it */
                p[0] = p[1] = p[2] = s->batch_next_pos;
                p[3] = m->hp.pin_e_to_zero ? 0 : s->batch_next_pos;
            }
            for (int k = 0; k < VL_POS_SECTIONS; k++)
                if (p[k] + 1 > s->batch_next_pos) s->batch_next_pos = p[k] + 1;
        }
        s->batch_ids[s->batch_n++] = r->ids ? r->ids[i] : -1;
    }
    return VLLM_OK;
}

vllm_status vl_session_eval_rows(vllm_session *s, const vl_rows *r, int want_logits)
{
    if (s->batching && !want_logits) return batch_add(s, r);
    VL_TRY(vl_session_flush(s));
    return eval_now(s, r, want_logits);
}

vllm_status vl_session_eval(vllm_session *s, const int32_t *ids, const float *embd, size_t n, int want_logits)
{
    const vl_rows r = {.n = n, .ids = ids, .embd = embd};
    return vl_session_eval_rows(s, &r, want_logits);
}

vllm_status vl_session_hist_reserve(vllm_session *s, size_t n)
{
    if (n <= s->hist_cap) return VLLM_OK;
    size_t cap = s->hist_cap ? s->hist_cap : 256;
    while (cap < n) cap *= 2;
    int32_t *h = realloc(s->hist, cap * sizeof *h);
    if (!h) return vl_error(VLLM_ERR_NOMEM, "out of memory for the token history");
    s->hist = h;
    s->hist_cap = cap;
    return VLLM_OK;
}

static vllm_status eval_chunks(vllm_session *s, const vl_rows *r, int want_logits, int32_t start);

/* embd rows may carry token ids in `ids` too (-1 = visual): the history records them. */
static vllm_status eval_now(vllm_session *s, const vl_rows *r, int want_logits)
{
    const int32_t start = vl_llm_state_n_past(s->st);
    VL_TRY(vl_session_hist_reserve(s, (size_t)start + r->n));
    if ((int64_t)start + (int64_t)r->n > vl_llm_state_n_ctx(s->st))
        return vl_session_context_full(s, s->media_depth ? "the media" : "the input", (int64_t)r->n);
    const double t0 = vl_now_seconds();
    vllm_status st = eval_chunks(s, r, want_logits, start);
    /* media ingestion is timed here, where its batches are really evaluated
     * (a video's frames are gathered and evaluated in big batches) */
    if (s->media_depth) s->stats.media_prefill_seconds += vl_now_seconds() - t0;
    return st;
}

static vllm_status eval_chunks(vllm_session *s, const vl_rows *r, int want_logits, int32_t start)
{
    const int64_t E = s->model->llm->hp.n_embd, W = r->stride ? r->stride : E;
    const size_t n = r->n;
    for (size_t done = 0; done < n; done += PROMPT_CHUNK) {
        if (atomic_load(&s->cancel)) {
            vl_llm_state_truncate(s->st, start);
            return vl_error(VLLM_ERR_CANCELLED, "cancelled");
        }
        const size_t nb = n - done < PROMPT_CHUNK ? n - done : PROMPT_CHUNK;
        const float *e = r->embd ? r->embd + (int64_t)done * W : NULL;
        const vl_llm_batch b = {.n = (int64_t)nb,
                                .tokens = r->embd ? NULL : r->ids + done,
                                .embd = e,
                                .embd_stride = r->embd ? W : 0,
                                .pos = r->pos ? r->pos + done * VL_POS_SECTIONS : NULL,
                                .deepstack = e && r->deepstack ? e + E : NULL};
        vllm_status st = vl_llm_eval_batch(s->model->llm, s->st, s->pool, &b, want_logits && done + nb == n ? 1 : 0);
        if (vllm_is_error(st)) {
            vl_llm_state_truncate(s->st, start);
            return st;
        }
    }
    for (size_t i = 0; i < n; i++) s->hist[start + i] = r->ids ? r->ids[i] : -1;
    s->has_logits = want_logits;
    return VLLM_OK;
}

/* Room for the question and the start of its answer (up to the reserve),
 * evicting the oldest frames and finished turns. */
static vllm_status room_for_question(vllm_session *s, size_t n_question, const vllm_generate_params *gp)
{
    const int32_t n_ctx = vl_llm_state_n_ctx(s->st);
    int32_t answer = vl_session_reserve(s);
    if (gp->max_tokens >= 0 && gp->max_tokens < answer) answer = gp->max_tokens + 1;
    if (n_question <= (size_t)n_ctx) VL_TRY(vl_session_evict_until(s, (int32_t)n_question + answer));
    const int32_t n_past = vl_llm_state_n_past(s->st);
    if ((size_t)n_past + n_question > (size_t)n_ctx)
        return vl_session_context_full(s, "the question (with the text of its turn)", (int64_t)n_question);
    return VLLM_OK;
}

vllm_status vl_sess_query(vllm_session *s, const char *prompt, const vllm_generate_params *params)
{
    if (!s) return vl_error(VLLM_ERR_INVALID_ARG, "vllm_session_query: session is NULL");
    if (!prompt) return vl_session_fail(s, vl_error(VLLM_ERR_INVALID_ARG, "vllm_session_query: prompt is NULL"));
    vllm_generate_params gp = vllm_generate_default_params();
    if (params && vllm_is_error(copy_params(params, params->struct_size, &gp, sizeof gp,
                                            offsetof(vllm_generate_params, user_data) + sizeof gp.user_data,
                                            "vllm_generate_params")))
        return vl_session_fail(s, VLLM_ERR_INVALID_ARG);
    if (gp.n_stop_strings && !gp.stop_strings)
        return vl_session_fail(s, vl_error(VLLM_ERR_INVALID_ARG, "vllm_session_query: n_stop_strings > 0 but stop_strings is NULL"));
    atomic_store(&s->cancel, 0);
    disarm(s);

    const double t0 = vl_now_seconds();
    s->t_query = t0;
    vllm_model *m = s->model;
    /* a live frame waiting for its temporal partner is encoded alone now:
     * a question never waits for the next frame */
    vllm_status fst = vl_session_flush_pair(s);
    if (vllm_is_error(fst)) return vl_session_fail(s, fst);
    vl_sampler_params sp = {gp.temperature, gp.top_k, gp.top_p, gp.min_p, gp.repeat_penalty,
                            gp.repeat_last_n < 0 ? 0 : gp.repeat_last_n, gp.frequency_penalty, gp.presence_penalty, gp.seed};
    vllm_status st = vl_sampler_new(vl_tokenizer_n_vocab(m->tok), &sp, &s->sampler);
    if (vllm_is_error(st)) return vl_session_fail(s, st);
    if (gp.n_stop_strings) {
        s->stops = calloc(gp.n_stop_strings, sizeof *s->stops);
        if (!s->stops) return vl_session_fail(s, vl_error(VLLM_ERR_NOMEM, "out of memory"));
        s->n_stops = gp.n_stop_strings;
        for (size_t i = 0; i < gp.n_stop_strings; i++) {
            if (!gp.stop_strings[i] || !gp.stop_strings[i][0]) {
                disarm(s);
                return vl_session_fail(s, vl_error(VLLM_ERR_INVALID_ARG, "stop string %zu is NULL or empty", i));
            }
            s->stops[i] = strdup(gp.stop_strings[i]);
            if (!s->stops[i]) {
                disarm(s);
                return vl_session_fail(s, vl_error(VLLM_ERR_NOMEM, "out of memory"));
            }
        }
    }
    gp.stop_strings = NULL; /* the copies above are used instead */

    /* The prompt text: the question closing a turn that already holds
     * media, or a whole user turn of the chat template, or raw. */
    const int first = vl_llm_state_n_past(s->st) == 0;
    vl_chat_format fmt = gp.raw ? VL_CHAT_RAW : m->chat;
    char *text = NULL;
    const int closes_media_turn = s->turn_open;
    if (closes_media_turn) {
        st = vl_session_media_close_turn(s, prompt, &text);
    } else {
        /* the session's system prompt, else the family's default (a model
         * loaded with its mmproj follows its template's) */
        const char *sys = s->system_prompt ? s->system_prompt : m->family ? m->family->default_system(m) : NULL;
        size_t need = vl_chat_user_turn(fmt, first || s->turns == 0, sys, prompt, NULL, 0) + 1;
        text = malloc(need);
        if (text) vl_chat_user_turn(fmt, first || s->turns == 0, sys, prompt, text, need);
        else st = vl_error(VLLM_ERR_NOMEM, "out of memory");
    }
    if (vllm_is_error(st)) {
        free(text);
        disarm(s);
        return vl_session_fail(s, st);
    }

    vl_tokens toks = {0};
    if (s->pending >= 0) { /* the last generation's final token enters the context first */
        toks.ids = malloc(sizeof *toks.ids);
        if (toks.ids) {
            toks.ids[0] = s->pending;
            toks.n = toks.cap = 1;
        }
    }
    /* special tokens are parsed, as llama.cpp does: the template is made of them */
    st = vl_tokenizer_encode(m->tok, text, strlen(text), first, 1, &toks);
    free(text);
    if (!vllm_is_error(st) && toks.n == 0) st = vl_error(VLLM_ERR_INVALID_ARG, "vllm_session_query: the prompt is empty");
    /* old frames and turns leave first, then [offload] stored frames like
     * the question come back */
    if (!vllm_is_error(st)) st = room_for_question(s, toks.n, &gp);
    if (!vllm_is_error(st)) st = vl_session_retrieve(s, toks.ids, toks.n);
    /* where this turn starts: after the last answer's final token */
    const int32_t turn0 = vl_llm_state_n_past(s->st) + (s->pending >= 0 ? 1 : 0);
    if (!vllm_is_error(st)) st = vl_session_eval(s, toks.ids, NULL, toks.n, 1);
    /* the previous turn is finished and may leave the context from now on;
     * this one is open until the next frame or question (the first turn
     * of a conversation stays: it holds the template's opening) */
    if (!vllm_is_error(st)) st = vl_session_close_turn_span(s, turn0);
    if (vllm_is_error(st)) {
        free(toks.ids);
        disarm(s);
        return vl_session_fail(s, st);
    }
    if (turn0 > 0) s->turn_start = turn0;
    if (closes_media_turn) vl_session_media_turn_closed(s);
    for (size_t i = 0; i < toks.n; i++) vl_sampler_accept(s->sampler, toks.ids[i]);
    s->stats.n_prompt_tokens += (int64_t)toks.n;
    free(toks.ids);
    s->pending = -1;
    s->turns++;
    s->gp = gp;
    s->armed = 1;
    s->n_generated = 0;
    s->stats.prompt_seconds += vl_now_seconds() - t0;
    s->stats.last_stop = VLLM_STOP_NONE;
    return VLLM_OK;
}

/* ---- text hand-out: UTF-8 completeness and stop strings ---------------- */

static int reserve(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap) return 1;
    size_t n = *cap ? *cap : 64;
    while (n < need) n *= 2;
    char *p = realloc(*buf, n);
    if (!p) return 0;
    *buf = p;
    *cap = n;
    return 1;
}

/* Bytes at the end of buf[0..n) that start an incomplete UTF-8 sequence. */
static size_t incomplete_utf8_tail(const char *buf, size_t n)
{
    for (size_t back = 1; back <= 3 && back <= n; back++) {
        unsigned char c = (unsigned char)buf[n - back];
        if ((c & 0xc0) == 0x80) continue; /* continuation byte */
        size_t want = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 1;
        return want > back ? back : 0;
    }
    return 0;
}

/* Move what can be handed out from s->hold to s->piece. Returns 1 when a
 * stop string was found (the text before it is handed out). */
static int release_text(vllm_session *s, int final)
{
    size_t emit = s->hold_len;
    int stopped = 0;
    for (size_t i = 0; i < s->n_stops; i++) {
        const size_t L = strlen(s->stops[i]);
        for (size_t at = 0; at + L <= s->hold_len; at++) {
            if (memcmp(s->hold + at, s->stops[i], L) == 0) {
                if (at < emit) emit = at;
                stopped = 1;
                break;
            }
        }
    }
    if (!stopped && !final) {
        /* hold back a tail that could still grow into a stop string */
        size_t keep = 0;
        for (size_t i = 0; i < s->n_stops; i++) {
            const size_t L = strlen(s->stops[i]);
            for (size_t k = L - 1; k > keep; k--)
                if (k <= s->hold_len && memcmp(s->hold + s->hold_len - k, s->stops[i], k) == 0) {
                    keep = k;
                    break;
                }
        }
        emit = s->hold_len - keep;
        emit -= incomplete_utf8_tail(s->hold, emit);
    }
    s->piece_len = 0;
    if (emit && reserve(&s->piece, &s->piece_cap, emit)) {
        memcpy(s->piece, s->hold, emit);
        s->piece_len = emit;
    }
    memmove(s->hold, s->hold + emit, s->hold_len - emit);
    s->hold_len -= emit;
    if (stopped) s->hold_len = 0;
    return stopped;
}

static vllm_status finish(vllm_session *s, vllm_stop_reason why, int32_t *token, const char **piece, size_t *piece_len)
{
    release_text(s, 1);
    s->stats.last_stop = why;
    s->armed = 0;
    s->stop_hit = 0;
    if (token) *token = -1;
    if (piece) *piece = s->piece;
    if (piece_len) *piece_len = s->piece_len;
    return VLLM_DONE; /* the caller hands the last piece to on_token (vl_session_deliver) */
}

vllm_status vl_sess_next_token(vllm_session *s, int32_t *token, const char **piece, size_t *piece_len)
{
    if (!s) return vl_error(VLLM_ERR_INVALID_ARG, "vllm_session_next_token: session is NULL");
    if (token) *token = -1;
    if (piece) *piece = "";
    if (piece_len) *piece_len = 0;
    if (!s->armed) return vl_session_fail(s, vl_error(VLLM_ERR_STATE, "vllm_session_next_token: no generation in progress (call vllm_session_query first)"));
    if (s->stop_hit) return finish(s, VLLM_STOP_STRING, token, piece, piece_len);
    const double t0 = vl_now_seconds();
    if (atomic_load(&s->cancel)) {
        s->stats.last_stop = VLLM_STOP_CANCELLED;
        s->armed = 0;
        return vl_session_fail(s, vl_error(VLLM_ERR_CANCELLED, "generation cancelled"));
    }
    if (s->pending >= 0) {
        if (vl_llm_state_n_past(s->st) >= vl_llm_state_n_ctx(s->st)) {
            s->pending = -1; /* it can never enter this context */
            return finish(s, VLLM_STOP_CONTEXT_FULL, token, piece, piece_len);
        }
        vllm_status st = vl_session_eval(s, &s->pending, NULL, 1, 1);
        if (vllm_is_error(st)) {
            s->armed = 0;
            return vl_session_fail(s, st);
        }
        s->pending = -1;
    }
    if (s->gp.max_tokens >= 0 && s->n_generated >= s->gp.max_tokens)
        return finish(s, VLLM_STOP_MAX_TOKENS, token, piece, piece_len);

    int64_t rows;
    const float *logits = vl_llm_logits(s->st, &rows);
    if (!logits || !s->has_logits) {
        s->armed = 0;
        return vl_session_fail(s, vl_error(VLLM_ERR_INTERNAL, "no logits to sample from"));
    }
    const int32_t id = vl_sampler_sample(s->sampler, logits);
    if (s->n_generated == 0) s->stats.first_token_seconds = vl_now_seconds() - s->t_query;
    vl_sampler_accept(s->sampler, id);
    s->n_generated++;
    s->stats.n_generated_tokens++;
    if (vl_tokenizer_is_eog(s->model->tok, id)) {
        s->stats.generate_seconds += vl_now_seconds() - t0;
        return finish(s, VLLM_STOP_EOG, token, piece, piece_len);
    }
    s->pending = id;

    /* append the token's bytes and hand out what is safe */
    size_t n = 0;
    vllm_status st = vl_tokenizer_piece(s->model->tok, id, 0, NULL, 0, &n);
    if (st == VLLM_ERR_BUFFER_TOO_SMALL || (st == VLLM_OK && n)) {
        if (!reserve(&s->hold, &s->hold_cap, s->hold_len + n))
            return vl_session_fail(s, vl_error(VLLM_ERR_NOMEM, "out of memory"));
        st = vl_tokenizer_piece(s->model->tok, id, 0, s->hold + s->hold_len, n, &n);
    }
    if (vllm_is_error(st)) {
        s->armed = 0;
        return vl_session_fail(s, st);
    }
    s->hold_len += n;
    const int stopped = release_text(s, 0);
    if (token) *token = id;
    if (piece) *piece = s->piece;
    if (piece_len) *piece_len = s->piece_len;
    s->stats.generate_seconds += vl_now_seconds() - t0;
    if (stopped) s->stop_hit = 1; /* the next call reports the end */
    return VLLM_OK;
}

vllm_status vl_session_deliver(vllm_session *s, vllm_status st, int32_t token)
{
    /* s->gp and s->piece change only in this thread's own calls: pushers never touch them */
    const vllm_token_fn fn = s->gp.on_token;
    if (!fn || (st != VLLM_OK && st != VLLM_DONE)) return st;
    if (st == VLLM_DONE) {
        if (s->piece_len) fn(s->gp.user_data, -1, s->piece, s->piece_len);
        return st;
    }
    if (!fn(s->gp.user_data, token, s->piece, s->piece_len)) return VLLM_OK;
    vl_session_lock(s);
    s->stats.last_stop = VLLM_STOP_CANCELLED;
    s->armed = 0;
    s->stop_hit = 0;
    st = vl_session_fail(s, vl_error(VLLM_ERR_CANCELLED, "generation stopped by the token callback"));
    vl_session_unlock(s);
    return st;
}


/* ---- experimental ------------------------------------------------------------ */

vllm_status vl_sess_eval_tokens(vllm_session *s, const int32_t *tokens, size_t n)
{
    if (!s || (!tokens && n)) return vl_error(VLLM_ERR_INVALID_ARG, "vllm_session_eval_tokens: NULL argument");
    if (!n) return VLLM_OK;
    disarm(s);
    atomic_store(&s->cancel, 0);
    const double t0 = vl_now_seconds();
    if (s->pending >= 0) {
        vllm_status st = vl_session_eval(s, &s->pending, NULL, 1, 0);
        if (vllm_is_error(st)) return vl_session_fail(s, st);
        s->pending = -1;
    }
    vllm_status st = vl_session_eval(s, tokens, NULL, n, 1);
    if (vllm_is_error(st)) return vl_session_fail(s, st);
    s->stats.n_prompt_tokens += (int64_t)n;
    s->stats.prompt_seconds += vl_now_seconds() - t0;
    return VLLM_OK;
}

const float *vllm_session_logits(const vllm_session *s)
{
    if (!s || !s->has_logits) return NULL;
    return vl_llm_logits(s->st, NULL);
}

vllm_status vl_sess_history(const vllm_session *s, const int32_t **tokens, size_t *n)
{
    if (!s || !tokens || !n) return vl_error(VLLM_ERR_INVALID_ARG, "vllm_session_history: NULL argument");
    *tokens = s->hist;
    *n = (size_t)vl_llm_state_n_past(s->st);
    return VLLM_OK;
}
