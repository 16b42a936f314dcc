/* The session's state, shared by session.c (text turns, generation) and
 * session_media.c (frames, videos, images). Not public. */
#ifndef VL_SESSION_INTERNAL_H
#define VL_SESSION_INTERNAL_H

#include <stdatomic.h>
#include <stdint.h>

#include <pthread.h>

#include "compression/compress.h"
#include "compression/kv_offload.h"

#include "decoder/sampler.h"
#include "encoder/preprocess.h"
#include "family/family.h"
#include "model.h"

#define PROMPT_CHUNK 512 /* positions per eval call: bounds cancel latency */
#define VL_SYSTEM_PROMPT_MAX (1 << 20) /* bytes; a longer one is surely a mistake (and cannot fit a context) */

/* What an evictable span of positions holds. */
typedef enum vl_span_kind {
    VL_SPAN_FRAME = 0, /* one pushed frame: label, markers, visual tokens */
    VL_SPAN_TURN = 1   /* a question and its answer, up to the next frame or question */
} vl_span_kind;

/* Positions [start, end) of one evictable piece of the context: a live
 * frame or a finished question-and-answer turn. Oldest first, in position
 * order; the oldest unpinned one leaves first when room is needed. */
typedef struct vl_span {
    int32_t start, end;
    double pts;     /* frame: its time; turn: just after the last frame before it; -1 if unknown */
    int32_t block;  /* frame: its block in the offload store, -1 if none yet */
    int pinned;     /* reloaded for the question being asked: not evicted for others */
    int returned;   /* frame: evicted before and reloaded (n_frames_evicted counted it once) */
    vl_span_kind kind;
} vl_span;

/* A temporal patch pushed while an answer was generated: encoded at once
 * on the pushing thread, appended to the context when the answer is done. */
typedef struct vl_queued_frame {
    float *embd; /* n_tokens × vl_vision_n_embd_out */
    int32_t n_tokens, grid_h, grid_w;
    double pts, pts_last; /* its first and last frame */
    int n_frames;
} vl_queued_frame;

/* Rows to evaluate: token ids, or embedding rows (ids may then give the
 * history's ids, -1 for visual rows). */
typedef struct vl_rows {
    size_t n;
    const int32_t *ids;
    const float *embd;
    int64_t stride;       /* floats from one embd row to the next; 0 = n_embd */
    const int32_t *pos;   /* n × VL_POS_SECTIONS explicit positions (M-RoPE), or NULL */
    int deepstack;        /* embd rows carry deepstack features after their first n_embd floats */
} vl_rows;

/* A live frame waiting for its partner in a temporal patch (families with
 * frames_per_unit 2): preprocessed, not yet encoded. */
typedef struct vl_pending_frame {
    uint8_t *u8;          /* 3 × h × w planar, NULL when none waits */
    int w, h;
    double pts;
} vl_pending_frame;

typedef struct vl_source vl_source;   /* session_source.c */
typedef struct vl_watches vl_watches; /* session_watch.c */

struct vllm_session {
    vllm_model *model;
    pthread_mutex_t lock; /* recursive; held by every public call (session_api.c) */
    /* The thread running a per-session call (0 = none) and that call's
     * name: a second thread's overlapping call is refused (session_api.c). */
    _Atomic(uintptr_t) owner;
    _Atomic(const char *) owner_call;
    atomic_int pushers_waiting; /* push_frame threads waiting for the lock: other calls yield to them */
    _Atomic(uintptr_t) lock_owner; /* vl_thread_tag() of the thread holding the lock, 0 if none */
    int lock_depth;               /* its recursion depth (changed only under the lock) */
    int draining; /* the generating thread is moving queued frames into the context, one per lock hold */
    vl_queued_frame *queue; /* ring of queue_cap */
    int queue_head, queue_len, queue_cap;
    vl_llm_state *st;
    vl_pool *pool;
    atomic_int cancel;
    char err[1024];

    /* generation in progress */
    int armed;
    vllm_generate_params gp;
    char **stops;
    size_t n_stops;
    vl_sampler *sampler;
    int32_t pending;      /* sampled, returned, not yet evaluated; -1 if none */
    int32_t n_generated;  /* in this generation */
    int has_logits;
    int stop_hit;         /* a stop string was produced: the next call ends the generation */
    int turns;            /* user turns so far */
    char *system_prompt;  /* vllm_session_params.system_prompt (copy), NULL = none: written
                             with the conversation's opening (vl_chat_opening) */

    /* text produced but not yet handed out: an incomplete UTF-8 sequence
     * or a possible beginning of a stop string */
    char *hold;
    size_t hold_len, hold_cap;
    char *piece;          /* what the last next_token() returned */
    size_t piece_len, piece_cap;

    /* media: an open user turn holds frames/images already evaluated,
     * and the question to come closes it (session_media.c) */
    int turn_open;
    int outro_pending;    /* frames were appended: "\n\n" precedes the question */
    char *text;           /* prompt text not evaluated yet; flushed before visual tokens */
    size_t text_len, text_cap;
    float *embd, *pix;    /* scratch: visual embeddings, normalized pixels */
    size_t embd_cap, pix_cap;
    double t_query;       /* when the last query started (time to first token) */
    vl_compress cmp;      /* frame dedup / token pruning state (lib/compression) */
    vl_compress_settings cmp_session; /* the session params' settings (videos may override) */

    vl_span *spans;       /* live frames and finished turns in the context, oldest first (evictable) */
    int n_spans, spans_cap;
    int32_t turn_start;   /* first position of the question-and-answer turn still open
                             (it becomes a span when the next frame or question starts); -1 if none */
    double last_frame_pts;/* pts of the last pushed frame that entered the context; -1 if none */
    double last_push_pts; /* pts of the last frame accepted by push_frame; -1 if none (pts must not decrease) */
    int32_t *hist;        /* token id of every context position, -1 for visual */
    size_t hist_cap;
    int batching;         /* gather positions into one batch (video ingestion) */
    float *batch_embd;    /* PROMPT_CHUNK rows of the batch width (session.c) */
    int32_t *batch_ids;
    int32_t *batch_pos;   /* PROMPT_CHUNK × VL_POS_SECTIONS (M-RoPE families) */
    size_t batch_n;
    int32_t batch_next_pos; /* where text continues after the batched rows */
    vl_pending_frame pair; /* live: a frame waiting for its temporal partner */

    vllm_session_stats stats;
    /* What vllm_session_get_stats reports to threads that do not hold the
     * lock: `stats` (n_past filled in) as of the last release of the lock,
     * so a stats call never waits for a frame encode or a prefill that
     * holds the lock for seconds. */
    pthread_mutex_t stats_mu; /* stats_pub only; taken under `lock` or alone, never the other way round */
    vllm_session_stats stats_pub;
    int media_depth;      /* > 0 while media is ingested: evaluation time is media prefill */

    /* compressed KV offload tier (session_offload.c); kvs NULL when off */
    vllm_offload_params off;
    vl_kv_store *kvs;
    int32_t sum_layers[4]; /* layers whose mean keys summarize a block */
    int n_sum_layers;
    uint8_t *kv_buf;       /* one block's raw rows */
    size_t kv_buf_cap;

    /* live source and standing questions (session_source.c, session_watch.c) */
    pthread_mutex_t live_mu;  /* the source pointer: attach, detach, source stats */
    vl_source *source;        /* NULL when none is attached */
    pthread_mutex_t watch_mu; /* recursive: the watch list, held across an evaluation and its callback */
    vl_watches *watches;      /* NULL until the first watch */
};


double vl_now_seconds(void);

/* The session lock with a fair handoff to frame pushers. The generating
 * thread releases the lock after every token and would win it straight
 * back (a mutex is not fair), starving a pusher for a whole answer; so a
 * pusher announces itself and the other side waits for it to get in
 * first. A pusher then holds the lock only for short bookkeeping.
 * A thread that already holds the lock (a progress callback calling
 * get_stats, load resetting) takes it again at once: waiting for the
 * pusher there would wait for itself. */
void vl_session_lock_push(vllm_session *s);
void vl_session_lock(vllm_session *s);
void vl_session_unlock(vllm_session *s);
/* A per-thread identity (never 0). */
uintptr_t vl_thread_tag(void);

/* After vl_sess_next_token() returned `st`, with the lock released: hand
 * the piece to the token callback on the calling thread (never under the
 * lock, so a slow callback does not hold up pushers). A non-zero return
 * from the callback ends the generation with VLLM_ERR_CANCELLED. */
vllm_status vl_session_deliver(vllm_session *s, vllm_status st, int32_t token);

/* VLLM_ERR_CONTEXT_FULL saying that `what` ("the question", "a frame",
 * "the video (24 frames)") needs `need` positions, how many the context
 * has and holds, and what the user can do about it. */
vllm_status vl_session_context_full(const vllm_session *s, const char *what, int64_t need);

/* Copy the thread's error message into the session; returns st. */
vllm_status vl_session_fail(vllm_session *s, vllm_status st);

/* Evaluate n positions — token ids, or embedding rows when ids is NULL —
 * in chunks with cancellation, recording them in the history; rolls back
 * on failure. (Batched while s->batching and no logits are wanted.) */
vllm_status vl_session_eval(vllm_session *s, const int32_t *ids, const float *embd, size_t n, int want_logits);
vllm_status vl_session_eval_rows(vllm_session *s, const vl_rows *r, int want_logits);
/* The position the next text token gets (batched rows included). */
int32_t vl_session_next_pos(const vllm_session *s);

/* Room for n positions in s->hist / one more span in s->spans. */
vllm_status vl_session_hist_reserve(vllm_session *s, size_t n);
vllm_status vl_session_spans_reserve(vllm_session *s);

/* Evaluate positions gathered while s->batching. */
vllm_status vl_session_flush(vllm_session *s);

/* session_media.c: the text that closes an open media turn with the
 * user's question (malloc'd into *out; the turn state is untouched) ... */
vllm_status vl_session_media_close_turn(vllm_session *s, const char *prompt, char **out);
/* ... and once that text has been evaluated, the turn is closed. */
void vl_session_media_turn_closed(vllm_session *s);
void vl_session_media_free(vllm_session *s);
void vl_session_media_reset(vllm_session *s);
/* Validate and keep the session params' compression settings. */
vllm_status vl_session_media_configure(vllm_session *s, const vllm_session_params *p);

/* session_media.c: pieces of frame ingestion. */
vllm_status vl_session_open_turn(vllm_session *s, vl_media_kind kind);
/* Encode n planar u8 images of w × h (tiles, or the 1-2 frames of a
 * temporal patch) into s->embd; *out points there. */
vllm_status vl_session_encode(vllm_session *s, vl_pool *pool, const uint8_t *u8, int n, int w, int h, float **out);
/* The live frame size of a w × h input (the family's rule for one frame). */
vllm_status vl_session_live_size(const vllm_session *s, int W, int H, int *w, int *h);
/* A pushed frame: dedup, then (alone or paired with a waiting one) encoded
 * and appended as its own evictable span. */
vllm_status vl_session_append_frame(vllm_session *s, const vl_rgb8 *img, double pts);
/* A live patch already in s->embd (n_tokens rows) into the context. */
vllm_status vl_session_append_encoded(vllm_session *s, int32_t n_tokens, int grid_h, int grid_w, double pts,
                                      double pts_last, int n_frames);
/* Encode and append a frame left waiting for its partner (a question
 * arrived, or the stream ended): transformers pads an odd count by
 * repeating the frame, which is the frame alone through both kernels. */
vllm_status vl_session_flush_pair(vllm_session *s);
/* A live frame preprocessed to the family's frame size (*u8 malloc'd). */
vllm_status vl_session_preprocess_live(const vllm_session *s, const vl_rgb8 *img, uint8_t **u8, int *w, int *h);

/* Prompt text accumulated for the open turn, and its evaluation. */
vllm_status vl_session_text_add(vllm_session *s, const char *t);
vllm_status vl_session_flush_text(vllm_session *s);
/* The sink the family's pieces go to (text accumulated, visual blocks
 * evaluated with their positions). */
vl_sink vl_session_sink(vllm_session *s);
vllm_status vl_grow_floats(float **buf, size_t *cap, size_t n, const char *what);
/* Normalize and encode n images of w × h into *embd (grown as needed);
 * pool may be NULL (the caller's thread alone). */
vllm_status vl_encode_images(const vllm_model *m, vl_pool *pool, const uint8_t *u8, int n, int w, int h, float **pix,
                             size_t *pix_cap, float **embd, size_t *embd_cap);
/* Tokens of one temporal patch (or tile) of w × h. */
int32_t vl_patch_tokens(const vllm_model *m, int w, int h);
/* [compression] prune a patch's rows in place (see session_media.c). */
vllm_status vl_session_prune(vllm_session *s, float *embd, int n_tok, int *n_vis, const int32_t **kept);

/* A failed or cancelled push leaves the session as it was (session_media.c). */
typedef struct vl_media_undo {
    int32_t n_past;
    int turn_open, outro_pending, turns, pending;
    char *text;
    size_t text_len;
} vl_media_undo;
vllm_status vl_media_undo_save(const vllm_session *s, vl_media_undo *u);
void vl_media_undo_finish(vllm_session *s, vl_media_undo *u, vllm_status st);
/* Room for `need` more positions plus a reserve for the question and
 * answer, evicting (or offloading) the oldest unpinned live frames. */
vllm_status vl_session_make_room(vllm_session *s, int32_t need);
/* Positions kept free for the question and answer: min(n_ctx / 4, 512). */
int32_t vl_session_reserve(const vllm_session *s);

/* The open question-and-answer turn ends at position `end` (where the
 * next frame or question begins): it becomes an evictable span. */
vllm_status vl_session_close_turn_span(vllm_session *s, int32_t end);
/* Evict the oldest unpinned spans until `free_positions` are free (or
 * nothing is left to evict). */
vllm_status vl_session_evict_until(vllm_session *s, int32_t free_positions);

/* session_offload.c: remove span i from the context — a frame into the
 * offload store when it is on, else dropped; a turn is dropped — shifting
 * later positions. */
vllm_status vl_session_evict_span(vllm_session *s, int i);
/* Before a question (ids, n) is evaluated: reload the offloaded blocks
 * most similar to it (no-op when retrieval is off or nothing is stored). */
vllm_status vl_session_retrieve(vllm_session *s, const int32_t *ids, size_t n);
void vl_session_offload_free(vllm_session *s);
/* Empty the store (the context it belonged to is gone). */
void vl_session_offload_reset(vllm_session *s);

/* session_stream.c: frames encoded while an answer was being generated. */
vllm_status vl_session_drain_queue(vllm_session *s);
/* Move the oldest queued frame into the context; *left = frames still queued. */
vllm_status vl_session_drain_one(vllm_session *s, int *left);
void vl_session_queue_free(vllm_session *s);

/* session_source.c: the live-source and watch state's lifetime (create
 * calls init first; free calls free first: it stops the source's threads). */
void vl_session_live_init(vllm_session *s);
void vl_session_live_free(vllm_session *s);
/* session_watch.c: after the source's ingester put the frame of stream
 * time t (with frame-change signal `change`) into the session, evaluate
 * the watches that are due (stops early when *stop is set). */
void vl_session_watch_tick(vllm_session *s, double t, float change, const atomic_int *stop);
void vl_session_watches_free(vllm_session *s);

/* The public entry points without the session lock (session_api.c takes
 * it around each of them). */
vllm_status vl_sess_reset(vllm_session *s);
vllm_status vl_sess_get_stats(const vllm_session *s, vllm_session_stats *stats);
/* The last published statistics (see stats_pub), without the session lock. */
vllm_status vl_session_published_stats(vllm_session *s, vllm_session_stats *stats);
vllm_status vl_sess_query(vllm_session *s, const char *prompt, const vllm_generate_params *params);
vllm_status vl_sess_next_token(vllm_session *s, int32_t *token, const char **piece, size_t *piece_len);
vllm_status vl_sess_eval_tokens(vllm_session *s, const int32_t *tokens, size_t n);
vllm_status vl_sess_history(const vllm_session *s, const int32_t **tokens, size_t *n);
vllm_status vl_sess_push_video(vllm_session *s, const char *path_or_url, const vllm_video_params *params);
vllm_status vl_sess_push_video_buffer(vllm_session *s, const void *data, size_t size, const vllm_video_params *params);
vllm_status vl_sess_push_image(vllm_session *s, const char *path);
vllm_status vl_sess_save(vllm_session *s, const char *path);
vllm_status vl_sess_load(vllm_session *s, const char *path);
vllm_status vl_sess_set_offload(vllm_session *s, const vllm_offload_params *p);
vllm_status vl_sess_recall(vllm_session *s, double t0, double t1, int32_t *n_reloaded);
vllm_status vl_sess_get_offload_stats(const vllm_session *s, vllm_offload_stats *out);

#endif
