/* The public session calls: each takes the session's (recursive) lock
 * around its unlocked implementation, because vllm_session_push_frame()
 * may come from another thread at any time; those that start a new turn
 * first let frames queued during the last answer into the context.
 *
 * Calls documented [per session] must not overlap. They are checked: the
 * first claims the session for its thread (an atomic owner), and a call
 * from a second thread while the first runs is refused at once with
 * VLLM_ERR_STATE instead of interleaving with it. The owner's own nested
 * calls (a token callback asking for the history, load's reset) pass. */
#include "core/error.h"
#include "session_internal.h"

/* Claim `s` for this thread. Returns 1 when claimed (release with
 * leave()), 0 when this thread already holds it (nested call), and -1
 * with the thread's error set when another thread's call is running. The
 * message is not copied into the session: the session's message belongs
 * to the call that is running. */
static int enter(vllm_session *s, const char *name)
{
    const uintptr_t me = vl_thread_tag();
    uintptr_t none = 0;
    if (atomic_compare_exchange_strong(&s->owner, &none, me)) {
        atomic_store(&s->owner_call, name);
        return 1;
    }
    if (none == me) return 0;
    const char *other = atomic_load(&s->owner_call);
    vl_error(VLLM_ERR_STATE,
             "%s: %s is running on this session in another thread; calls on one session must not overlap "
             "(only vllm_session_push_frame, vllm_session_cancel and vllm_session_get_stats may come from other threads)",
             name, other ? other : "another call");
    return -1;
}

static void leave(vllm_session *s, int claimed)
{
    if (claimed != 1) return;
    atomic_store(&s->owner_call, NULL);
    atomic_store(&s->owner, 0);
}

#define NEED(s, name) \
    if (!(s)) return vl_error(VLLM_ERR_INVALID_ARG, name ": session is NULL")

/* Queued frames first, then the call (which starts afresh: an old
 * cancel request must not cancel the queued frames). */
static vllm_status new_turn(vllm_session *s)
{
    atomic_store(&s->cancel, 0);
    vllm_status st = vl_session_drain_queue(s);
    return vllm_is_error(st) ? vl_session_fail(s, st) : VLLM_OK;
}

/* A [per session] call: claim, lock, (start a new turn,) run, unlock, release. */
#define PER_SESSION_CALL(s, name, turn, expr)                             \
    do {                                                                  \
        NEED(s, name);                                                    \
        const int claimed_ = enter((s), name);                            \
        if (claimed_ < 0) return VLLM_ERR_STATE;                          \
        vl_session_lock(s);                                   \
        vllm_status locked_st_ = (turn) ? new_turn(s) : VLLM_OK;          \
        if (!vllm_is_error(locked_st_)) locked_st_ = (expr);              \
        vl_session_unlock(s);                                 \
        leave((s), claimed_);                                             \
        return locked_st_;                                                \
    } while (0)
#define PER_SESSION(s, name, expr) PER_SESSION_CALL(s, name, 0, expr)
#define PER_SESSION_TURN(s, name, expr) PER_SESSION_CALL(s, name, 1, expr)

vllm_status vllm_session_reset(vllm_session *s) { PER_SESSION(s, "vllm_session_reset", vl_sess_reset(s)); }

/* Read-only and short: any thread, under the lock. */
vllm_status vllm_session_get_stats(const vllm_session *s, vllm_session_stats *stats)
{
    NEED(s, "vllm_session_get_stats");
    vllm_session *m = (vllm_session *)s; /* the lock is not part of the observable state */
    /* A thread holding the lock (a progress or token callback) sees the
     * numbers as they are now; any other reads the copy published when
     * the lock was last released, without waiting for a frame being
     * encoded or a prompt being evaluated under it. */
    if (atomic_load(&m->lock_owner) == vl_thread_tag()) return vl_sess_get_stats(s, stats);
    return vl_session_published_stats(m, stats);
}

vllm_status vllm_session_query(vllm_session *s, const char *prompt, const vllm_generate_params *params)
{
    PER_SESSION_TURN(s, "vllm_session_query", vl_sess_query(s, prompt, params));
}

/* One token under the lock (a pusher waits at most that long), its
 * callback outside it; when the answer is over, frames pushed during it
 * enter the context here, on the generating thread, so the next push
 * only appends its own frame. */
static vllm_status next_token_step(vllm_session *s, int32_t *token, const char **piece, size_t *piece_len, int *armed)
{
    int32_t id = -1;
    vl_session_lock(s);
    vllm_status st = vl_sess_next_token(s, &id, piece, piece_len);
    vl_session_unlock(s);
    if (token) *token = id;
    st = vl_session_deliver(s, st, id);
    vl_session_lock(s);
    *armed = s->armed;
    s->draining = st == VLLM_DONE && s->queue_len > 0; /* pushers keep queueing behind these frames */
    vl_session_unlock(s);
    for (int left = 1; s->draining && left;) {
        vl_session_lock(s); /* one frame per hold: a pusher waits for one frame at most */
        vllm_status q = vl_session_drain_one(s, &left);
        if (vllm_is_error(q)) {
            st = vl_session_fail(s, vl_error_prefix(q, "the answer is complete, but the frames pushed during it"));
            left = 0;
        }
        if (!left) s->draining = 0;
        vl_session_unlock(s);
    }
    return st;
}

vllm_status vllm_session_next_token(vllm_session *s, int32_t *token, const char **piece, size_t *piece_len)
{
    NEED(s, "vllm_session_next_token");
    const int claimed = enter(s, "vllm_session_next_token");
    if (claimed < 0) return VLLM_ERR_STATE;
    int armed;
    vllm_status st = next_token_step(s, token, piece, piece_len, &armed);
    leave(s, claimed);
    return st;
}

/* The session stays claimed from the question to the last token. */
static vllm_status generate(vllm_session *s, const char *prompt, const vllm_generate_params *params)
{
    vl_session_lock(s);
    vllm_status st = new_turn(s);
    if (!vllm_is_error(st)) st = vl_sess_query(s, prompt, params);
    vl_session_unlock(s);
    VL_TRY(st);
    for (;;) {
        int armed;
        st = next_token_step(s, NULL, NULL, NULL, &armed);
        if (st == VLLM_DONE) return VLLM_OK;
        if (vllm_is_error(st)) return st;
        if (!armed) return VLLM_OK; /* a stop string ended it */
    }
}

vllm_status vllm_session_generate(vllm_session *s, const char *prompt, const vllm_generate_params *params)
{
    NEED(s, "vllm_session_generate");
    const int claimed = enter(s, "vllm_session_generate");
    if (claimed < 0) return VLLM_ERR_STATE;
    vllm_status st = generate(s, prompt, params);
    leave(s, claimed);
    return st;
}

vllm_status vllm_session_eval_tokens(vllm_session *s, const int32_t *tokens, size_t n)
{
    PER_SESSION_TURN(s, "vllm_session_eval_tokens", vl_sess_eval_tokens(s, tokens, n));
}

vllm_status vllm_session_history(const vllm_session *s, const int32_t **tokens, size_t *n)
{
    vllm_session *m = (vllm_session *)s;
    PER_SESSION(m, "vllm_session_history", vl_sess_history(s, tokens, n));
}

vllm_status vllm_session_push_video(vllm_session *s, const char *path_or_url, const vllm_video_params *params)
{
    PER_SESSION_TURN(s, "vllm_session_push_video", vl_sess_push_video(s, path_or_url, params));
}

vllm_status vllm_session_push_video_buffer(vllm_session *s, const void *data, size_t size, const vllm_video_params *params)
{
    PER_SESSION_TURN(s, "vllm_session_push_video_buffer", vl_sess_push_video_buffer(s, data, size, params));
}

vllm_status vllm_session_push_image(vllm_session *s, const char *path)
{
    PER_SESSION_TURN(s, "vllm_session_push_image", vl_sess_push_image(s, path));
}

vllm_status vllm_session_save(vllm_session *s, const char *path)
{
    /* queued frames stay queued; an answer in progress goes on */
    PER_SESSION(s, "vllm_session_save", vl_sess_save(s, path));
}

vllm_status vllm_session_load(vllm_session *s, const char *path)
{
    PER_SESSION(s, "vllm_session_load", vl_sess_load(s, path));
}

vllm_status vllm_session_set_offload(vllm_session *s, const vllm_offload_params *params)
{
    PER_SESSION(s, "vllm_session_set_offload", vl_sess_set_offload(s, params));
}

vllm_status vllm_session_recall(vllm_session *s, double t0, double t1, int32_t *n_reloaded)
{
    PER_SESSION_TURN(s, "vllm_session_recall", vl_sess_recall(s, t0, t1, n_reloaded));
}

vllm_status vllm_session_get_offload_stats(const vllm_session *s, vllm_offload_stats *stats)
{
    NEED(s, "vllm_session_get_offload_stats");
    vllm_session *m = (vllm_session *)s; /* the lock is not part of the observable state */
    vl_session_lock(m);
    vllm_status st = vl_sess_get_offload_stats(s, stats);
    vl_session_unlock(m);
    return st;
}
