/* Live streams: frames pushed by the host, possibly from another thread
 * while an answer is being generated.
 *
 * When the session is idle, a pushed frame is encoded and appended at
 * once. While a generation is armed (between vllm_session_query() and the
 * end of its answer), the frame is encoded right away on the pushing
 * thread — encoding does not wait for the answer — and its visual tokens
 * wait in a bounded queue; they enter the context, in order, on the
 * generating thread as soon as the answer ends, one frame per lock hold
 * (pushes meanwhile still queue behind them) (or, if it was cancelled
 * or abandoned, before the next turn), so a push never prefills other
 * frames than its own (plus any whose encoding ended after the answer).
 * The pusher takes the session lock with priority (vl_session_lock_push):
 * it waits at most for the token being evaluated. Families with frame
 * pairs keep a frame waiting for its partner (encoded with it;
 * a question encodes a waiting frame alone, see vl_session_flush_pair),
 * and the queue then holds pairs. When the queue is
 * full the oldest waiting frame is dropped (a live view favours the
 * latest frames) and counted in the statistics. Frame dedup is decided
 * on the pushing thread (under the lock, against the last kept frame);
 * token pruning applies when the queued tokens enter the context. */
#include <stdlib.h>
#include <string.h>

#include "decode/video.h"
#include "session_internal.h"

#define QUEUE_FRAMES 16

static vllm_status check_frame(const vllm_frame *f)
{
    if (!f) return vl_error(VLLM_ERR_INVALID_ARG, "vllm_session_push_frame: frame is NULL");
    if (f->struct_size < offsetof(vllm_frame, pts) + sizeof f->pts || f->struct_size > 4096)
        return vl_error(VLLM_ERR_INVALID_ARG, "vllm_frame.struct_size = %zu is not valid", f->struct_size);
    if (!(f->pts >= 0) || f->pts > 1e9)
        return vl_error(VLLM_ERR_INVALID_ARG, "vllm_frame.pts = %g is not a valid time in seconds", f->pts);
    return VLLM_OK;
}

/* Idle path: convert, encode and append under the session lock. */
static vllm_status push_now(vllm_session *s, const vllm_frame *f)
{
    if (!s->model->vision)
        return vl_error(VLLM_ERR_STATE, "this model was loaded without an mmproj: it cannot take frames");
    uint8_t *rgb = NULL;
    int32_t stride = 0;
    const double t0 = vl_now_seconds();
    vllm_status st = vl_frame_to_rgb(f, 0, 0, 0, &rgb, &stride);
    s->stats.decode_seconds += vl_now_seconds() - t0;
    if (!vllm_is_error(st)) {
        vl_rgb8 img = {rgb, f->width, f->height, (size_t)stride};
        st = vl_session_append_frame(s, &img, f->pts);
    }
    free(rgb);
    return st;
}

/* Busy path: everything up to the visual tokens without the session's
 * pool (the answer is using it); the lock is taken only for the dedup
 * decision and, in families with frame pairs, to take the frame waiting
 * for its partner (or to leave this one waiting). q->embd stays NULL when
 * nothing is to be queued (a near-duplicate, or a frame now waiting). */
static vllm_status encode_detached(vllm_session *s, const vllm_frame *f, vl_queued_frame *q, double *seconds)
{
    memset(q, 0, sizeof *q);
    const vllm_model *m = s->model;
    vl_vision *v = m->vision;
    if (!v) return vl_error(VLLM_ERR_STATE, "this model was loaded without an mmproj: it cannot take frames");
    uint8_t *rgb = NULL, *u8 = NULL;
    int32_t stride = 0;
    int w = 0, h = 0, dup = 0, n = 1;
    vl_pending_frame partner = {0};
    vllm_status st = vl_frame_to_rgb(f, 0, 0, 0, &rgb, &stride);
    if (!vllm_is_error(st)) {
        vl_session_lock_push(s);
        st = vl_compress_dedup(&s->cmp, rgb, f->width, f->height, (size_t)stride, &dup);
        if (dup) s->stats.n_frames_deduped++;
        vl_session_unlock(s);
    }
    const vl_rgb8 img = {rgb, f->width, f->height, (size_t)stride};
    if (!vllm_is_error(st) && !dup) st = vl_session_preprocess_live(s, &img, &u8, &w, &h);
    free(rgb);
    if (vllm_is_error(st) || dup) {
        free(u8);
        return st;
    }
    if (m->family->frames_per_unit == 2) {
        vl_session_lock_push(s);
        if (s->pair.u8 && s->pair.w == w && s->pair.h == h) { /* this frame completes the pair */
            partner = s->pair;
            s->pair.u8 = NULL;
        } else if (!s->pair.u8) { /* it waits for its partner */
            s->pair = (vl_pending_frame){u8, w, h, f->pts};
            u8 = NULL;
        } /* else: a waiting frame of another size; this one goes alone */
        vl_session_unlock(s);
        if (!u8) return VLLM_OK;
    }
    uint8_t *in = u8;
    const size_t plane = (size_t)3 * w * h;
    if (partner.u8) {
        in = malloc(2 * plane);
        if (!in) st = vl_error(VLLM_ERR_NOMEM, "out of memory for a frame pair");
        else memcpy(in, partner.u8, plane), memcpy(in + plane, u8, plane), n = 2;
    }
    float *pix = NULL, *embd = NULL;
    size_t pix_cap = 0, embd_cap = 0;
    const double t0 = vl_now_seconds();
    if (!vllm_is_error(st)) st = vl_encode_images(m, NULL, in, n, w, h, &pix, &pix_cap, &embd, &embd_cap);
    *seconds = vl_now_seconds() - t0;
    if (in != u8) free(in);
    free(u8);
    free(partner.u8);
    free(pix);
    if (vllm_is_error(st)) {
        free(embd);
        return st;
    }
    const int a = vl_vision_is_dynamic(v) ? vl_vision_align(v) : 0;
    *q = (vl_queued_frame){.embd = embd, .n_tokens = vl_patch_tokens(m, w, h), .grid_h = a ? h / a : 0,
                           .grid_w = a ? w / a : 0, .pts = partner.u8 ? partner.pts : f->pts, .pts_last = f->pts, .n_frames = n};
    return VLLM_OK;
}

static vllm_status enqueue(vllm_session *s, const vl_queued_frame *f)
{
    if (!s->queue) {
        s->queue = calloc(QUEUE_FRAMES, sizeof *s->queue);
        if (!s->queue) return vl_error(VLLM_ERR_NOMEM, "out of memory for the frame queue");
        s->queue_cap = QUEUE_FRAMES;
    }
    if (s->queue_len == s->queue_cap) { /* full: the oldest waiting patch goes */
        free(s->queue[s->queue_head].embd);
        s->stats.n_frames_dropped += s->queue[s->queue_head].n_frames;
        s->queue_head = (s->queue_head + 1) % s->queue_cap;
        s->queue_len--;
    }
    s->queue[(s->queue_head + s->queue_len) % s->queue_cap] = *f;
    s->queue_len++;
    return VLLM_OK;
}

vllm_status vl_session_drain_one(vllm_session *s, int *left)
{
    vl_vision *v = s->model->vision;
    *left = s->queue_len;
    if (!s->queue_len) return VLLM_OK;
    vl_queued_frame q = s->queue[s->queue_head];
    s->queue_head = (s->queue_head + 1) % s->queue_cap;
    *left = --s->queue_len;
    const size_t n = (size_t)q.n_tokens * vl_vision_n_embd_out(v);
    vllm_status st = vl_grow_floats(&s->embd, &s->embd_cap, n, "visual embeddings");
    if (!vllm_is_error(st)) {
        memcpy(s->embd, q.embd, n * sizeof *s->embd);
        st = vl_session_append_encoded(s, q.n_tokens, q.grid_h, q.grid_w, q.pts, q.pts_last, q.n_frames);
    }
    free(q.embd);
    return st;
}

vllm_status vl_session_drain_queue(vllm_session *s)
{
    for (int left = s->queue_len; left;) VL_TRY(vl_session_drain_one(s, &left));
    return VLLM_OK;
}

void vl_session_queue_free(vllm_session *s)
{
    for (int i = 0; i < s->queue_len; i++) free(s->queue[(s->queue_head + i) % s->queue_cap].embd);
    free(s->queue);
    s->queue = NULL;
    s->queue_len = s->queue_head = s->queue_cap = 0;
}

vllm_status vllm_session_push_frame(vllm_session *s, const vllm_frame *f)
{
    if (!s) return vl_error(VLLM_ERR_INVALID_ARG, "vllm_session_push_frame: session is NULL");
    vllm_status st = check_frame(f);
    vl_session_lock_push(s);
    if (!vllm_is_error(st) && f->pts < s->last_push_pts)
        st = vl_error(VLLM_ERR_INVALID_ARG,
                      "vllm_session_push_frame: pts %.6g s is before the previous frame's %.6g s (pts must not decrease)",
                      f->pts, s->last_push_pts);
    if (!vllm_is_error(st)) {
        s->last_push_pts = f->pts;
        s->stats.n_frames_seen++;
        if (!s->armed && !s->draining) {
            atomic_store(&s->cancel, 0); /* a new push starts afresh, like a query */
            st = vl_session_drain_queue(s);
            if (!vllm_is_error(st)) st = push_now(s, f);
            if (vllm_is_error(st)) vl_session_fail(s, st);
            vl_session_unlock(s);
            return st;
        }
    }
    if (vllm_is_error(st)) {
        vl_session_fail(s, st);
        vl_session_unlock(s);
        return st;
    }
    vl_session_unlock(s);

    vl_queued_frame q;
    double secs = 0;
    st = encode_detached(s, f, &q, &secs);

    vl_session_lock_push(s);
    if (!vllm_is_error(st) && q.embd) {
        s->stats.encode_seconds += secs;
        s->stats.n_frames_encoded += q.n_frames; /* counted where it was encoded, even if the queue drops it later */
        st = enqueue(s, &q);
        if (vllm_is_error(st)) free(q.embd);
        else if (!s->armed && !s->draining) st = vl_session_drain_queue(s); /* the answer ended meanwhile */
    }
    if (vllm_is_error(st)) vl_session_fail(s, st);
    vl_session_unlock(s);
    return st;
}
