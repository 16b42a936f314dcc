/* A video's sampled frames decoded, deduplicated and preprocessed ahead of
 * the encoder, on a thread of their own, into a ring of a few frames.
 *
 * Decoding and resizing a frame costs a fraction of encoding it, but done
 * in line it left the encoder's pool idle meanwhile; ahead of it, it runs
 * while the pool encodes the previous frame. The ring bounds the frames
 * in flight (VL_AHEAD_SLOTS preprocessed frames, plus what the decoder
 * itself holds), so a long file costs no more memory than a short one.
 *
 * The frames, their order and every decision are those of the in-line
 * loop: the dedup decision is taken here with a copy of the session's
 * dedup state (it depends on the frames alone) and taken again by the
 * consumer on the session's own state; errors keep their message. With
 * threaded = 0 (VIDEOLLM_VIDEO_PIPELINE=0) each frame is produced in line
 * by the same code, on the calling thread. */
#ifndef VL_SESSION_VIDEO_AHEAD_H
#define VL_SESSION_VIDEO_AHEAD_H

#include <stdint.h>

#include "compression/compress.h"
#include "decode/video.h"
#include "model.h"

#define VL_AHEAD_SLOTS 3

typedef struct vl_ahead vl_ahead;

/* One sampled frame, or the end of the sampling. */
typedef struct vl_ahead_item {
    vllm_status st;        /* VLLM_OK: a frame; VLLM_DONE: the end; else the decode error */
    double pts;            /* the frame's time, seconds */
    int64_t index;         /* its source frame index */
    vllm_status dedup_st;  /* the signature's status (dedup on) */
    vl_frame_sig sig;      /* its dedup signature (dedup on) */
    int dup;               /* a near-duplicate of the last kept frame: not preprocessed */
    vllm_status prep_st;   /* the preprocessing's status (not a duplicate) */
    const uint8_t *u8;     /* the frame preprocessed to w × h, planar (prep_st VLLM_OK) */
    char msg[1024];        /* the message of whichever status above failed */
} vl_ahead_item;

typedef struct vl_ahead_cfg {
    const vllm_model *m;
    vl_video *vid;          /* sampling begun; used by the producer alone until vl_ahead_stop */
    int w, h;               /* the family's frame size */
    const vl_compress *dedup; /* settings and the last kept frame's signature, copied at start */
    int threaded;           /* 0: produce in line */
} vl_ahead_cfg;

/* Whether videos decode ahead: on unless VIDEOLLM_VIDEO_PIPELINE=0. */
int vl_ahead_enabled(void);

vllm_status vl_ahead_start(const vl_ahead_cfg *cfg, vl_ahead **out);

/* The next item (waits for it); valid until the next call or
 * vl_ahead_stop. After an item whose st is not VLLM_OK there is no
 * other. */
vl_ahead_item *vl_ahead_next(vl_ahead *a);

/* Record the item's message for `st` (one of its statuses) on the calling
 * thread; returns st. */
vllm_status vl_ahead_raise(const vl_ahead_item *it, vllm_status st);

/* Stop the producer (a read in progress is interrupted), wait for it and
 * free everything. NULL is a no-op. */
void vl_ahead_stop(vl_ahead *a);

#endif
