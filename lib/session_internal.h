/* The session's state, shared by session.c (text turns, generation) and
 * session_media.c (frames, videos, images). Not public. */
#ifndef VL_SESSION_INTERNAL_H
#define VL_SESSION_INTERNAL_H

#include <stdatomic.h>

#include "compression/compress.h"
#include "decoder/sampler.h"
#include "model.h"

#define PROMPT_CHUNK 512 /* positions per eval call: bounds cancel latency */

struct vllm_session {
    vllm_model *model;
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
    int turns;            /* user turns so far */

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

    vllm_session_stats stats;
};


double vl_now_seconds(void);

/* Copy the thread's error message into the session; returns st. */
vllm_status vl_session_fail(vllm_session *s, vllm_status st);

/* Evaluate tokens in chunks with cancellation; rolls back on failure. */
vllm_status vl_session_eval_tokens(vllm_session *s, const int32_t *ids, size_t n, int want_logits);

/* session_media.c: the text that closes an open media turn with the
 * user's question (malloc'd into *out; the turn is then closed). */
vllm_status vl_session_media_close_turn(vllm_session *s, const char *prompt, char **out);
void vl_session_media_free(vllm_session *s);
void vl_session_media_reset(vllm_session *s);
/* Validate and keep the session params' compression settings. */
vllm_status vl_session_media_configure(vllm_session *s, const vllm_session_params *p);

#endif
