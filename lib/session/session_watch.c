/* Standing questions (watches): questions that stay open while a live
 * source feeds the session, evaluated on the source's ingester thread
 * after a frame entered the context — periodically in stream time and/or
 * when the frame-change signal jumps — and reported when the answer
 * changes.
 *
 * An evaluation must not disturb the context. It is a query that is
 * taken back: the question is laid out exactly as vllm_session_query
 * would (closing an open media turn, or a whole user turn of the chat
 * template), evaluated after the context, the answer read (greedy text,
 * or for yes/no questions the probability of the yes tokens against the
 * no tokens from the question's logits, with nothing decoded), and the KV
 * cache truncated back to where it was. The media turn stays open, a
 * pending answer token stays pending, and the history beyond the
 * truncation is dead. It runs under the session lock only when the host is
 * not in a call and no answer is armed, so it never interleaves with one;
 * otherwise the trigger stays pending and the next frame retries.
 *
 * Locking: watch_mu (recursive) guards the list and is held across an
 * evaluation and its callback (so unwatch returning means no more calls;
 * the callback may unwatch on the same thread); the session lock is taken
 * inside it only for the evaluation itself, never across the callback. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "decoder/chat.h"
#include "session_internal.h"

#define WATCH_MAX_TOKENS 1024
#define WATCH_YES_NO_IDS 8

typedef struct vl_watch {
    int32_t id;
    char *question;
    vllm_watch_params p;
    vllm_watch_fn fn;
    void *user;
    int64_t evaluations;
    double last_eval_t;   /* stream time of the last evaluation, -1 before the first */
    int pending;          /* a vllm_watch_trigger waiting for the session to be free, -1 if none */
    char *last_answer;    /* NULL before the first evaluation */
    int32_t yes[WATCH_YES_NO_IDS], no[WATCH_YES_NO_IDS];
    int n_yes, n_no;
} vl_watch;

struct vl_watches {
    vl_watch **w;
    int n, cap;
    int32_t next_id;
};

vllm_watch_params vllm_watch_default_params(void)
{
    vllm_watch_params p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    p.every_s = 10.0;
    p.change_threshold = 0.1f;
    p.yes_threshold = 0.5f;
    p.max_tokens = 32;
    return p;
}

static vllm_status check_params(const vllm_watch_params *in, vllm_watch_params *p)
{
    *p = vllm_watch_default_params();
    if (in) {
        if (in->struct_size < offsetof(vllm_watch_params, notify_all) + sizeof in->notify_all || in->struct_size > 4096)
            return vl_error(VLLM_ERR_INVALID_ARG, "vllm_watch_params.struct_size = %zu is not valid (start from "
                                                  "vllm_watch_default_params())", in->struct_size);
        memcpy(p, in, in->struct_size < sizeof *p ? in->struct_size : sizeof *p);
        p->struct_size = sizeof *p;
    }
    if (!(p->every_s >= 0 && p->every_s <= 1e6))
        return vl_error(VLLM_ERR_INVALID_ARG, "vllm_watch_params.every_s = %g is outside 0..1e6", p->every_s);
    if (!(p->change_threshold >= 0 && p->change_threshold <= 1))
        return vl_error(VLLM_ERR_INVALID_ARG, "vllm_watch_params.change_threshold = %g is outside 0..1",
                        p->change_threshold);
    if (p->every_s == 0 && p->change_threshold == 0)
        return vl_error(VLLM_ERR_INVALID_ARG, "vllm_watch_params: every_s and change_threshold are both 0: the watch "
                                              "would never be evaluated");
    if (p->yes_no != 0 && p->yes_no != 1)
        return vl_error(VLLM_ERR_INVALID_ARG, "vllm_watch_params.yes_no = %d is not 0 or 1", p->yes_no);
    if (!(p->yes_threshold >= 0 && p->yes_threshold <= 1))
        return vl_error(VLLM_ERR_INVALID_ARG, "vllm_watch_params.yes_threshold = %g is outside 0..1", p->yes_threshold);
    if (p->max_tokens < 1 || p->max_tokens > WATCH_MAX_TOKENS)
        return vl_error(VLLM_ERR_INVALID_ARG, "vllm_watch_params.max_tokens = %d is outside 1..%d", p->max_tokens,
                        WATCH_MAX_TOKENS);
    return VLLM_OK;
}

/* The single-token spellings of a word ("Yes", " yes", ...) in the vocabulary. */
static void word_tokens(const vl_tokenizer *tok, const char *const *forms, int n_forms, int32_t *ids, int *n)
{
    *n = 0;
    for (int i = 0; i < n_forms && *n < WATCH_YES_NO_IDS; i++) {
        vl_tokens t = {0};
        if (!vllm_is_error(vl_tokenizer_encode(tok, forms[i], strlen(forms[i]), 0, 0, &t)) && t.n == 1) {
            int seen = 0;
            for (int k = 0; k < *n; k++) seen |= ids[k] == t.ids[0];
            if (!seen) ids[(*n)++] = t.ids[0];
        }
        free(t.ids);
    }
}

static void watch_free(vl_watch *w)
{
    if (!w) return;
    free(w->question);
    free(w->last_answer);
    free(w);
}

vllm_status vllm_session_watch(vllm_session *s, const char *question, const vllm_watch_params *params,
                               vllm_watch_fn callback, void *user_data, int32_t *watch_id)
{
    if (!s || !question || !callback || !watch_id)
        return vl_error(VLLM_ERR_INVALID_ARG, "vllm_session_watch: session, question, callback and watch_id must not be NULL");
    *watch_id = 0;
    if (!*question) return vl_error(VLLM_ERR_INVALID_ARG, "vllm_session_watch: the question is empty");
    vllm_watch_params p;
    VL_TRY(check_params(params, &p));
    vl_watch *w = calloc(1, sizeof *w);
    if (!w || !(w->question = strdup(question))) {
        watch_free(w);
        return vl_error(VLLM_ERR_NOMEM, "out of memory");
    }
    w->p = p;
    w->fn = callback;
    w->user = user_data;
    w->last_eval_t = -1;
    w->pending = -1;
    if (p.yes_no) {
        static const char *const yes[] = {"Yes", "yes", " Yes", " yes", "YES"};
        static const char *const no[] = {"No", "no", " No", " no", "NO"};
        word_tokens(s->model->tok, yes, 5, w->yes, &w->n_yes);
        word_tokens(s->model->tok, no, 5, w->no, &w->n_no);
        if (!w->n_yes || !w->n_no) {
            const char *missing = !w->n_yes ? "yes" : "no";
            watch_free(w);
            return vl_error(VLLM_ERR_UNSUPPORTED, "vllm_session_watch: the vocabulary has no single-token \"%s\": a "
                                                  "yes/no watch cannot read its probability (use a text watch)",
                            missing);
        }
    }
    pthread_mutex_lock(&s->watch_mu);
    vl_watches *ws = s->watches;
    if (!ws && (ws = s->watches = calloc(1, sizeof *ws))) ws->next_id = 1;
    vllm_status st = VLLM_OK;
    if (!ws) {
        st = vl_error(VLLM_ERR_NOMEM, "out of memory");
    } else if (ws->n == ws->cap) {
        const int cap = ws->cap ? 2 * ws->cap : 4;
        vl_watch **nw = realloc(ws->w, (size_t)cap * sizeof *nw);
        if (!nw) st = vl_error(VLLM_ERR_NOMEM, "out of memory");
        else ws->w = nw, ws->cap = cap;
    }
    if (!vllm_is_error(st)) {
        w->id = ws->next_id++;
        ws->w[ws->n++] = w;
        *watch_id = w->id;
    }
    pthread_mutex_unlock(&s->watch_mu);
    if (vllm_is_error(st)) watch_free(w);
    return st;
}

vllm_status vllm_session_unwatch(vllm_session *s, int32_t watch_id)
{
    if (!s) return vl_error(VLLM_ERR_INVALID_ARG, "vllm_session_unwatch: session is NULL");
    pthread_mutex_lock(&s->watch_mu);
    vl_watches *ws = s->watches;
    int i = 0;
    while (ws && i < ws->n && ws->w[i]->id != watch_id) i++;
    if (!ws || i == ws->n) {
        pthread_mutex_unlock(&s->watch_mu);
        return vl_error(VLLM_ERR_INVALID_ARG, "vllm_session_unwatch: no watch with id %d", watch_id);
    }
    watch_free(ws->w[i]);
    memmove(ws->w + i, ws->w + i + 1, (size_t)(ws->n - i - 1) * sizeof *ws->w);
    ws->n--;
    pthread_mutex_unlock(&s->watch_mu);
    return VLLM_OK;
}

void vl_session_watches_free(vllm_session *s)
{
    vl_watches *ws = s->watches;
    if (!ws) return;
    for (int i = 0; i < ws->n; i++) watch_free(ws->w[i]);
    free(ws->w);
    free(ws);
    s->watches = NULL;
}

/* ---- evaluation -------------------------------------------------------------- */

/* The question's text as vllm_session_query lays it out (malloc'd). */
static vllm_status question_text(vllm_session *s, const char *q, char **out)
{
    *out = NULL;
    if (s->turn_open) return vl_session_media_close_turn(s, q, out);
    const vllm_model *m = s->model;
    const int first = vl_llm_state_n_past(s->st) == 0 || s->turns == 0;
    const char *sys = s->system_prompt ? s->system_prompt : m->family ? m->family->default_system(m) : NULL;
    const size_t need = vl_chat_user_turn(m->chat, first, sys, q, NULL, 0) + 1;
    if (!(*out = malloc(need))) return vl_error(VLLM_ERR_NOMEM, "out of memory");
    vl_chat_user_turn(m->chat, first, sys, q, *out, need);
    return VLLM_OK;
}

static int32_t argmax(const float *x, int32_t n)
{
    int32_t best = 0;
    for (int32_t i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

static float yes_probability(const vl_watch *w, const float *logits)
{
    float mx = -INFINITY;
    for (int i = 0; i < w->n_yes; i++) mx = fmaxf(mx, logits[w->yes[i]]);
    for (int i = 0; i < w->n_no; i++) mx = fmaxf(mx, logits[w->no[i]]);
    double y = 0, n = 0;
    for (int i = 0; i < w->n_yes; i++) y += exp((double)(logits[w->yes[i]] - mx));
    for (int i = 0; i < w->n_no; i++) n += exp((double)(logits[w->no[i]] - mx));
    return y + n > 0 ? (float)(y / (y + n)) : 0.5f;
}

/* Bytes at the end of buf[0..n) that begin a UTF-8 sequence left incomplete. */
static size_t incomplete_utf8_tail(const char *buf, size_t n)
{
    for (size_t back = 1; back <= 3 && back <= n; back++) {
        const unsigned char c = (unsigned char)buf[n - back];
        if ((c & 0xc0) == 0x80) continue; /* a continuation byte */
        const size_t want = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 1;
        return want > back ? back : 0;
    }
    return 0;
}

/* Greedy text after the question's logits, up to max_tokens or an
 * end-of-generation token (malloc'd, NUL-terminated, trimmed). */
static vllm_status generate_text(vllm_session *s, const vl_watch *w, char **out)
{
    const vl_tokenizer *tok = s->model->tok;
    const int32_t n_vocab = vl_tokenizer_n_vocab(tok);
    size_t len = 0, cap = 64;
    char *buf = malloc(cap);
    if (!buf) return vl_error(VLLM_ERR_NOMEM, "out of memory");
    vllm_status st = VLLM_OK;
    for (int i = 0; i < w->p.max_tokens; i++) {
        const int32_t id = argmax(vl_llm_logits(s->st, NULL), n_vocab);
        if (vl_tokenizer_is_eog(tok, id)) break;
        size_t n = 0;
        st = vl_tokenizer_piece(tok, id, 0, NULL, 0, &n);
        if (st == VLLM_ERR_BUFFER_TOO_SMALL) st = VLLM_OK;
        if (vllm_is_error(st)) break;
        if (len + n + 1 > cap) {
            while (len + n + 1 > cap) cap *= 2;
            char *nb = realloc(buf, cap);
            if (!nb) {
                st = vl_error(VLLM_ERR_NOMEM, "out of memory");
                break;
            }
            buf = nb;
        }
        if (n) st = vl_tokenizer_piece(tok, id, 0, buf + len, n, &n);
        if (vllm_is_error(st)) break;
        len += n;
        if (i + 1 < w->p.max_tokens && vl_llm_state_n_past(s->st) < vl_llm_state_n_ctx(s->st))
            st = vl_session_eval(s, &id, NULL, 1, 1);
        else
            break;
        if (vllm_is_error(st)) break;
    }
    if (vllm_is_error(st)) {
        free(buf);
        return st;
    }
    len -= incomplete_utf8_tail(buf, len); /* max_tokens may end inside a character */
    size_t a = 0;
    while (a < len && isspace((unsigned char)buf[a])) a++;
    while (len > a && isspace((unsigned char)buf[len - 1])) len--;
    memmove(buf, buf + a, len - a);
    buf[len - a] = 0;
    *out = buf;
    return VLLM_OK;
}

/* Ask w's question against the context and take it back (session lock held). */
static vllm_status evaluate(vllm_session *s, vl_watch *w, char **answer, float *p_yes)
{
    *answer = NULL;
    *p_yes = -1;
    char *text = NULL;
    VL_TRY(question_text(s, w->question, &text));
    vl_tokens toks = {0};
    vllm_status st = VLLM_OK;
    if (s->pending >= 0) { /* the last answer's final token, as a query would evaluate it */
        if (!(toks.ids = malloc(sizeof *toks.ids))) st = vl_error(VLLM_ERR_NOMEM, "out of memory");
        else toks.ids[0] = s->pending, toks.n = toks.cap = 1;
    }
    const int first = vl_llm_state_n_past(s->st) == 0;
    if (!vllm_is_error(st)) st = vl_tokenizer_encode(s->model->tok, text, strlen(text), first, 1, &toks);
    free(text);
    const int32_t answer_room = w->p.yes_no ? 1 : w->p.max_tokens;
    if (!vllm_is_error(st) && toks.n + (size_t)answer_room <= (size_t)vl_llm_state_n_ctx(s->st))
        st = vl_session_evict_until(s, (int32_t)toks.n + answer_room);
    const int32_t n0 = vl_llm_state_n_past(s->st);
    if (!vllm_is_error(st) && (size_t)n0 + toks.n + (size_t)answer_room > (size_t)vl_llm_state_n_ctx(s->st))
        st = vl_session_context_full(s, "a watch's question", (int64_t)toks.n + answer_room);
    if (!vllm_is_error(st)) st = vl_session_eval(s, toks.ids, NULL, toks.n, 1);
    free(toks.ids);
    if (!vllm_is_error(st)) {
        if (w->p.yes_no) {
            *p_yes = yes_probability(w, vl_llm_logits(s->st, NULL));
            *answer = strdup(*p_yes >= w->p.yes_threshold ? "yes" : "no");
            if (!*answer) st = vl_error(VLLM_ERR_NOMEM, "out of memory");
        } else {
            st = generate_text(s, w, answer);
        }
    }
    vl_llm_state_truncate(s->st, n0); /* the context as it was */
    s->has_logits = 0;
    return st;
}

/* The host is in a call, an answer is armed or being drained, or a live
 * frame waits for its temporal partner: evaluate later. */
static int session_busy(vllm_session *s)
{
    return atomic_load(&s->owner) != 0 || s->armed || s->draining || s->pair.u8 != NULL || s->queue_len > 0;
}

static int due(const vl_watch *w, double t, float change)
{
    if (w->pending >= 0) return w->pending;
    if (!w->evaluations) return VLLM_WATCH_FIRST;
    if (w->p.every_s > 0 && t >= w->last_eval_t + w->p.every_s) return VLLM_WATCH_PERIOD;
    if (w->p.change_threshold > 0 && change >= w->p.change_threshold) return VLLM_WATCH_CHANGE;
    return -1;
}

void vl_session_watch_tick(vllm_session *s, double t, float change, const atomic_int *stop)
{
    pthread_mutex_lock(&s->watch_mu);
    vl_watches *ws = s->watches;
    for (int32_t next_id = 0; ws && !atomic_load(stop);) {
        /* the first watch with an id >= next_id: a callback may unwatch any */
        vl_watch *w = NULL;
        for (int i = 0; i < ws->n && !w; i++)
            if (ws->w[i]->id >= next_id) w = ws->w[i];
        if (!w) break;
        next_id = w->id + 1;
        const int trigger = due(w, t, change);
        if (trigger < 0) continue;
        vl_session_lock(s);
        if (session_busy(s)) {
            w->pending = trigger; /* a trigger is never lost: the next frame tries again */
            vl_session_unlock(s);
            continue;
        }
        char *answer = NULL;
        float p_yes = -1;
        const double t0 = vl_now_seconds();
        const double frame_t = s->last_frame_pts >= 0 ? s->last_frame_pts : t;
        vllm_status st = evaluate(s, w, &answer, &p_yes);
        const double secs = vl_now_seconds() - t0;
        if (vllm_is_error(st)) vl_session_fail(s, st);
        vl_session_unlock(s);
        w->pending = -1;
        w->last_eval_t = t;
        w->evaluations++;
        if (vllm_is_error(st)) {
            vl_log(VLLM_LOG_WARN, "watch %d (\"%.60s\") at %.3f s: %s", w->id, w->question, t, vl_error_message());
            continue;
        }
        const int changed = !w->last_answer || strcmp(w->last_answer, answer) != 0;
        free(w->last_answer);
        w->last_answer = answer;
        if (!changed && !w->p.notify_all) continue;
        const vllm_watch_event ev = {.struct_size = sizeof ev, .watch_id = w->id, .trigger = (vllm_watch_trigger)trigger,
                                     .stream_seconds = frame_t, .answer = w->last_answer, .yes_probability = p_yes,
                                     .change = change, .changed = changed, .eval_seconds = secs,
                                     .evaluations = w->evaluations};
        w->fn(w->user, &ev); /* may unwatch w: it is not touched after this */
    }
    pthread_mutex_unlock(&s->watch_mu);
}
