/* State shared by the video module's files (open, sample, convert). */
#ifndef VL_DECODE_VIDEO_INTERNAL_H
#define VL_DECODE_VIDEO_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libswscale/swscale.h>

#include "sample_plan.h"
#include "video.h"

/* Conversion of decoded frames to packed RGB24 (video_convert.c). The
 * swscale context is rebuilt only when the source geometry, format or
 * colour description changes. */
typedef struct vl_rgb_conv {
    struct SwsContext *sws;
    int src_w, src_h, src_fmt, src_space, src_range;
    int dst_w, dst_h, flags; /* pre-rotation destination size */
    uint8_t *buf;            /* scaled RGB */
    size_t buf_cap;
    uint8_t *rot;            /* rotated copy (rotation != 0) */
    size_t rot_cap;
} vl_rgb_conv;

/* Convert `fr` to RGB at the final size out_w×out_h (after rotation by
 * `rotation` degrees clockwise). The result points into conv's buffers. */
vllm_status vl_rgb_convert(vl_rgb_conv *conv, const AVFrame *fr, int out_w, int out_h, int rotation,
                           int scale_filter, uint8_t **rgb, int32_t *stride);
void vl_rgb_conv_free(vl_rgb_conv *conv);
int vl_sws_flags(int scale_filter);

typedef struct vl_mem_io {
    const uint8_t *data;
    size_t size, pos;
} vl_mem_io;

typedef struct vl_par vl_par;

/* Frame numbering across frames the decoder never produces (video_lost.c).
 * A packet the decoder rejects, or a frame it silently drops (B frames
 * whose reference was lost), leaves a hole in the output; counting output
 * frames alone would then number every later frame too low, and a plan
 * would end short of its last targets. The presentation timestamps of
 * packets sent but not yet seen as frames are kept; when a frame comes out,
 * the ones before it are frames that will never come (the decoder outputs
 * in presentation order). They are counted only once the pass has seen
 * damage (a rejected packet, a decoder error, a corrupt frame or packet):
 * on an intact clip the numbering stays the output count, as transformers'
 * PyAV loop counts (a frame the container asks to be dropped is not a
 * loss). */
#define VL_LOST_PENDING 128 /* above any decoder's reorder + frame-thread delay */
typedef struct vl_lost {
    int64_t pts[VL_LOST_PENDING]; /* sorted ascending */
    int n;
    int damaged;       /* this pass has seen damage */
    int64_t frames;    /* frames counted as lost this pass */
} vl_lost;

/* Damaged spots already warned about (video_warn.c). */
#define VL_VIDEO_WARN_SPOTS 256 /* remembered (so each is counted once) */
#define VL_VIDEO_WARN_LISTED 16 /* logged one by one */
enum { VL_WARN_CORRUPT_FRAME, VL_WARN_BAD_PACKET, VL_WARN_DECODER_ERROR, VL_WARN_INPUT_ERROR, VL_WARN_EARLY_END };
typedef struct vl_warn_spots {
    pthread_mutex_t mu;  /* a GOP-parallel worker warns through its caller's list */
    int ready;
    struct { int64_t ts; int kind; } spot[VL_VIDEO_WARN_SPOTS];
    int n;
    int64_t unlisted;
} vl_warn_spots;

struct vl_video {
    AVFormatContext *fmt;
    char *url;         /* path or URL opened (NULL for memory input): workers reopen it */
    const char *input_format; /* vl_video_open_opts.input_format while opening (NULL = probe) */
    int threads;       /* vl_video_set_threads (0 = one per core) */
    vl_video *parent;  /* set on a parallel decoding worker */
    vl_par *par;       /* GOP-parallel workers serving the current plan, or NULL */
    AVIOContext *avio; /* in-memory input only */
    vl_mem_io mem;
    int sidx;
    AVStream *st;
    const AVCodec *codec;
    AVCodecContext *dec;
    AVPacket *pkt;
    AVFrame *frame;
    vl_video_info info;
    int64_t start_pts;    /* stream start in stream time base */
    int64_t file_shift;   /* ffmpeg CLI's shift (file start time) in stream time base */
    double tb;            /* stream time base in seconds */
    double rate;          /* nominal frame rate (r_frame_rate): index <-> time for CFR streams */
    int n_index_keyframes, n_index_frames; /* container index (mp4: every sample) */

    /* iteration */
    int active;
    vl_sampling s;
    int mode;             /* vl_video_set_decode_mode */
    int64_t packet_budget; /* vl_video_set_packet_budget; 0 = none */
    int seek_ok;
    int time_rule;        /* FPS rule on a variable-rate stream: targets are times, not indices */
    double *times;        /* its targets, seconds from the stream start (non-decreasing) */
    int64_t times_n, times_pos;
    int64_t *plan;        /* index policies: sorted source indices */
    int64_t plan_n, plan_pos;
    int64_t range_first, range_last; /* index range (index policies) */
    int64_t *plan_count;  /* FFMPEG_FPS by seeking: output slots each plan entry fills */
    int ffps_seek;        /* FFMPEG_FPS precomputed on the CFR grid, served by the index path */
    int ffps_fallback;    /* that grid was contradicted: redo sequentially */
    int64_t grid_step;    /* CFR grid: frame i has pts start_pts + i·grid_step */
    int64_t skip_out;     /* FFMPEG_FPS after a fallback: output slots already yielded */
    double range_start, range_end;   /* seconds; range_end <= 0: open */
    vl_ffps ffps;
    int64_t dup_left, dup_slot;      /* FFMPEG_FPS: pending duplicates of the held frame */
    AVFrame *held;                   /* FFMPEG_FPS: the buffered frame */
    int64_t held_index;
    vl_rgb_frame last_out;           /* FFMPEG_FPS: for duplicated slots */
    int64_t yielded;
    int64_t seq_count;    /* presentation position of the next frame since the last seek-free start:
                           * frames the decoder output, plus frames it lost (vl_lost_*) */
    vl_lost lost;         /* packets sent whose frame has not come out yet */
    int frame_kept;       /* index policies: v->frame, numbered kept_index, waits for the next target */
    int64_t kept_index;
    int64_t n_replaced, n_missed; /* index policies: targets served by a neighbour / not served */
    int shortfall_said;   /* this pass's summary of them was logged */
    int64_t said_shortfall[3]; /* replaced, missed, planned of the last summary (not repeated) */
    int demux_eof, dec_eof, flushed_ffps;
    int consecutive_bad;
    int truncated;
    int64_t next_sample;  /* decode-order number of the next packet (container index) */
    int64_t verify_ts, verify_pos; /* index entry the last seek aimed at */
    int after_seek;       /* indices now come from timestamps on the learned grid */
    int64_t sought_pos;   /* plan position of the last jump */
    int64_t seek_entry;   /* index entry of the last jump */
    int first_after_seek, retried;
    int drained;          /* end of stream was sent to the decoder after the packet of plan entry drain_pos:
                           * the frames in flight come out, then it is flushed and the next target jumped to */
    int64_t drain_pos;
    int64_t no_drain_pos; /* plan entry to decode without draining (its frame did not come out of one) */
    int64_t key_delay;    /* pts - dts of the last keyframe read (stream time base): the container index holds
                           * decode times, and a keyframe is shown this much later */
    int64_t phase_n;      /* grid phase of counted frames: t·rate - index */
    double phase_sum, phase_min, phase_max;
    atomic_int cancel;
    const atomic_int *ext_cancel; /* vl_video_open_opts.cancel */
    double io_timeout;    /* seconds, 0 = none */
    const char *timeout_name; /* vl_video_open_opts.timeout_name (NULL: the push_video parameter) */
    int64_t io_deadline;  /* av_gettime_relative() microseconds */
    int64_t io_pos_seen;  /* input position at the last interrupt poll */
    int io_timed_out;
    vl_warn_spots warn;   /* used on the caller's handle only */
    int64_t last_pkt_ts;  /* pts (else dts) of the last packet sent to the decoder */
    vl_video_stats stats;
    vl_rgb_conv conv;
};

/* Seek only when it skips more packets than this (a GOP is usually more). */
#define VL_SEEK_MIN_GAP 4

vllm_status vl_video_rewind_(vl_video *v);

/* Warnings about damaged input, each spot once per video, times in
 * seconds (video_warn.c). `ts` is in the stream time base (AV_NOPTS_VALUE
 * when unknown); kind is a VL_WARN_*. */
void vl_video_warn_init_(vl_video *v);
void vl_video_warn_close_(vl_video *v);
void vl_video_warn_(vl_video *v, int kind, int64_t ts, const char *fmt, ...) VL_PRINTF(4, 5);
/* Seconds from the stream start of a stream-time-base timestamp (-1 if none). */
double vl_video_ts_seconds_(const vl_video *v, int64_t ts);

/* Lost frames (video_lost.c). forget: the decoder was flushed (seek,
 * rewind); a new pass also clears `damaged` and the count. damage:
 * evidence that frames may be lost. sent: a packet is going to the
 * decoder; frame_out: a frame with timestamp ts came out. Both return how
 * many frames were found lost (0 until damage was seen), to add to the
 * presentation count before the next frame is numbered. */
void vl_lost_forget_(vl_lost *l);
void vl_lost_new_pass_(vl_lost *l);
int64_t vl_lost_sent_(vl_lost *l, const AVPacket *pkt);
void vl_lost_damage_(vl_lost *l);
int64_t vl_lost_frame_out_(vl_lost *l, int64_t ts);

/* Stalls and cancels (video_io.c): install the interrupt callback before
 * the input is opened; re-arm the inactivity deadline before each call
 * into libavformat; after a failed call, the status that explains it
 * (VLLM_OK when it was neither a cancel nor a timeout). */
void vl_video_io_setup_(vl_video *v, const vl_video_open_opts *o, const char *url);
void vl_video_io_arm_(vl_video *v);
vllm_status vl_video_io_status_(const vl_video *v);

/* GOP-parallel decoding (video_parallel.c). */
#define VL_PAR_MAX_WORKERS 8
void vl_par_try_start(vl_video *v);
void vl_par_stop(vl_video *v);
/* The next planned frame from the workers. When they cannot deliver it
 * exactly, returns VLLM_OK with *resume_pos set to the plan entry the
 * sequential iterator must continue from (the workers are still running;
 * vl_par_stop them). */
vllm_status vl_par_next(vl_video *v, vl_rgb_frame *out, int64_t *resume_pos);
/* Begin iterating an explicit (sorted) subset of a plan: a worker's share.
 * counts: output slots per entry (ffmpeg-fps plans), else NULL; grid_step:
 * the CFR grid of an ffmpeg-fps plan. */
vllm_status vl_video_sample_begin_sub(vl_video *v, const vl_sampling *s, const int64_t *plan, const int64_t *counts,
                                      int64_t n, int64_t grid_step);

#endif
