/* The public session calls that may meet a concurrent vllm_session_push_frame()
 * from another thread: each takes the session's (recursive) lock around
 * its unlocked implementation, and those that start a new turn first let
 * frames queued during the last answer into the context. */
#include "session_internal.h"

#define LOCKED(s, expr)                                   \
    do {                                                  \
        pthread_mutex_lock(&(s)->lock);                   \
        vllm_status locked_st_ = (expr);                  \
        pthread_mutex_unlock(&(s)->lock);                 \
        return locked_st_;                                \
    } while (0)

/* Queued frames first, then the call (which starts afresh: an old
 * cancel request must not cancel the queued frames). */
#define LOCKED_TURN(s, expr)                                               \
    do {                                                                   \
        pthread_mutex_lock(&(s)->lock);                                    \
        atomic_store(&(s)->cancel, 0);                                     \
        vllm_status locked_st_ = vl_session_drain_queue(s);                \
        if (vllm_is_error(locked_st_)) vl_session_fail((s), locked_st_);   \
        else locked_st_ = (expr);                                          \
        pthread_mutex_unlock(&(s)->lock);                                  \
        return locked_st_;                                                 \
    } while (0)

#define NEED(s, name) \
    if (!(s)) return vl_error(VLLM_ERR_INVALID_ARG, name ": session is NULL")

vllm_status vllm_session_reset(vllm_session *s)
{
    NEED(s, "vllm_session_reset");
    LOCKED(s, vl_sess_reset(s));
}

vllm_status vllm_session_get_stats(const vllm_session *s, vllm_session_stats *stats)
{
    NEED(s, "vllm_session_get_stats");
    vllm_session *m = (vllm_session *)s; /* the lock is not part of the observable state */
    LOCKED(m, vl_sess_get_stats(s, stats));
}

vllm_status vllm_session_query(vllm_session *s, const char *prompt, const vllm_generate_params *params)
{
    NEED(s, "vllm_session_query");
    LOCKED_TURN(s, vl_sess_query(s, prompt, params));
}

vllm_status vllm_session_next_token(vllm_session *s, int32_t *token, const char **piece, size_t *piece_len)
{
    NEED(s, "vllm_session_next_token");
    LOCKED(s, vl_sess_next_token(s, token, piece, piece_len));
}

/* One token per lock hold, so a pushing thread never waits for a whole answer. */
vllm_status vllm_session_generate(vllm_session *s, const char *prompt, const vllm_generate_params *params)
{
    VL_TRY(vllm_session_query(s, prompt, params));
    for (;;) {
        vllm_status st = vllm_session_next_token(s, NULL, NULL, NULL);
        if (st == VLLM_DONE) return VLLM_OK;
        if (vllm_is_error(st)) return st;
        pthread_mutex_lock(&s->lock);
        const int armed = s->armed;
        pthread_mutex_unlock(&s->lock);
        if (!armed) return VLLM_OK; /* a stop string ended it */
    }
}

vllm_status vllm_session_eval_tokens(vllm_session *s, const int32_t *tokens, size_t n)
{
    NEED(s, "vllm_session_eval_tokens");
    LOCKED_TURN(s, vl_sess_eval_tokens(s, tokens, n));
}

vllm_status vllm_session_history(const vllm_session *s, const int32_t **tokens, size_t *n)
{
    NEED(s, "vllm_session_history");
    vllm_session *m = (vllm_session *)s;
    LOCKED(m, vl_sess_history(s, tokens, n));
}

vllm_status vllm_session_push_video(vllm_session *s, const char *path_or_url, const vllm_video_params *params)
{
    NEED(s, "vllm_session_push_video");
    LOCKED_TURN(s, vl_sess_push_video(s, path_or_url, params));
}

vllm_status vllm_session_push_video_buffer(vllm_session *s, const void *data, size_t size, const vllm_video_params *params)
{
    NEED(s, "vllm_session_push_video_buffer");
    LOCKED_TURN(s, vl_sess_push_video_buffer(s, data, size, params));
}

vllm_status vllm_session_push_image(vllm_session *s, const char *path)
{
    NEED(s, "vllm_session_push_image");
    LOCKED_TURN(s, vl_sess_push_image(s, path));
}

vllm_status vllm_session_save(vllm_session *s, const char *path)
{
    NEED(s, "vllm_session_save");
    LOCKED(s, vl_sess_save(s, path)); /* queued frames stay queued; an answer in progress goes on */
}

vllm_status vllm_session_load(vllm_session *s, const char *path)
{
    NEED(s, "vllm_session_load");
    LOCKED(s, vl_sess_load(s, path));
}

vllm_status vllm_session_set_offload(vllm_session *s, const vllm_offload_params *params)
{
    NEED(s, "vllm_session_set_offload");
    LOCKED(s, vl_sess_set_offload(s, params));
}

vllm_status vllm_session_recall(vllm_session *s, double t0, double t1, int32_t *n_reloaded)
{
    NEED(s, "vllm_session_recall");
    LOCKED_TURN(s, vl_sess_recall(s, t0, t1, n_reloaded));
}

vllm_status vllm_session_get_offload_stats(const vllm_session *s, vllm_offload_stats *stats)
{
    NEED(s, "vllm_session_get_offload_stats");
    vllm_session *m = (vllm_session *)s; /* the lock is not part of the observable state */
    LOCKED(m, vl_sess_get_offload_stats(s, stats));
}
