/* In-process video decoding and frame sampling (libavformat, libavcodec,
 * libswscale). Internal API: the session layer and the CLI use it.
 *
 *   vl_video *v;  VL_TRY(vl_video_open("clip.mp4", &v));
 *   vl_sampling s = vl_sampling_default();           // SmolVLM2: 1 fps, <= 64 frames
 *   VL_TRY(vl_video_sample_begin(v, &s));
 *   vl_rgb_frame f;
 *   while ((st = vl_video_sample_next(v, &f)) == VLLM_OK) use(f.rgb, f.pts);
 *   vl_video_close(v);                               // st is VLLM_DONE or an error
 *
 * Sampling policies
 *  - VL_SAMPLE_FPS: SmolVLM2's rule, exactly as transformers'
 *    SmolVLMVideoProcessor.sample_frames (video_processing_smolvlm.py as
 *    of transformers v4.53-v4.56, mid 2025; the same rule was
 *    smolvlm_sample_indices_fn(max_frames=64, target_fps=1, skip_secs=1)
 *    since SmolVLM2 landed in v4.49, PR #36126), with the video metadata
 *    that transformers' default PyAV reader (read_video_pyav) reports:
 *    total_num_frames = the stream's frame count, fps = average frame rate,
 *    duration = total/fps):
 *        n = max(1, min(round(fps·duration), max_frames))   (Python round)
 *        indices = unique(linspace(first, last, n, dtype=int))
 *    where first/last are 0/total-1, or 1 s in from each end when the
 *    video is longer than 2 s + max_frames/fps. transformers reports each
 *    kept frame's time as index / average_fps (info.fps); here `pts` is
 *    the frame's real presentation time. They differ slightly when the
 *    average rate is off (test-3.mp4: avg 23.88, frames 1/24 s apart);
 *    use index / info.fps to reproduce transformers' prompt timestamps.
 *    Defaults for SmolVLM2 Video-Instruct (preprocessor_config.json
 *    "video_sampling"): fps 1, max_frames 64.
 *    On a variable-frame-rate stream (info.cfr == 0) indices are not
 *    times, so the rule runs in time instead: its linspace points before
 *    truncation, divided by the average rate, are seconds from the start
 *    of the range, and each yields the frame on screen then (the last
 *    frame whose pts is at or before it; the first frame for a point
 *    before it), each frame once. On an exact constant-rate grid that is
 *    the index rule's frame; transformers' index rule would instead take
 *    several frames from a burst of short frames. vl_video_sample_planned()
 *    gives the number of points; fewer frames come when one frame stays on
 *    screen across two points.
 *  - VL_SAMPLE_UNIFORM: n_frames, unique(linspace(0, total-1, n, dtype=int)).
 *  - VL_SAMPLE_FFMPEG_FPS: the frames `ffmpeg -i X -vf fps=F` emits (FFmpeg
 *    5.1 vf_fps defaults; llama.cpp's video path uses F=4). A source frame
 *    chosen for several output slots is yielded once per slot (ffmpeg
 *    duplicates it too); `index` is the source frame index. On a CFR
 *    stream whose index lists every frame exactly one frame duration apart
 *    (whole video, no range), the selection is computed up front from that
 *    grid and served by the seeking path; each decoded frame is checked
 *    against the grid and a mismatch redoes the pass sequentially, so the
 *    frames are the same either way.
 *  - VL_SAMPLE_KEYFRAMES: the keyframes only (the decoder skips the rest).
 *  - VL_SAMPLE_ALL: every frame.
 *  max_frames > 0 caps FFMPEG_FPS / KEYFRAMES / ALL as well.
 *  [start, end) restricts every policy to frames whose presentation time
 *  (seconds from the stream start) lies in the range; the index rules then
 *  see the range as the whole video (frames ceil(start·r) .. ceil(end·r)-1
 *  with r the nominal frame rate).
 *
 * Frame indices are positions in presentation order from the first frame
 * of the stream, counted as the decoder outputs them (transformers' PyAV
 * loader counts the same way; timestamps are not on an exact grid in real
 * files). When the container index lists every frame (mp4/mov) and the
 * keyframe before the next wanted frame lies beyond the next packet, the
 * iterator seeks to that keyframe instead of decoding the gap, taking the
 * frame number from the index (exact for closed GOPs; the landing packet
 * is verified and any mismatch falls back to decoding from the start).
 * Frames that are not kept are never converted. Frames are decoded with
 * one thread per core (frame + slice threading).
 *
 * Output: packed RGB24 at the requested size. 0,0 = the native size: the
 * coded size, rotated — what both references produce (ffmpeg's rawvideo
 * output and transformers' PyAV frames ignore the sample aspect ratio);
 * info.width/height give the SAR-corrected display size for callers that
 * want to ask for it explicitly.
 * converted by libswscale straight from the decoded pixel format with the
 * frame's colour matrix (BT.601 when unspecified) and range, exactly as
 * ffmpeg's auto-inserted scale filter does (flags = scale_filter, bicubic
 * by default like the ffmpeg CLI). Rotation by the display matrix (90, 180,
 * 270 degrees clockwise, as ffmpeg's autorotate) is applied after scaling.
 *
 * Errors: missing file (VLLM_ERR_IO), not a media file / truncated header
 * (VLLM_ERR_FORMAT), no video stream or no decoder (VLLM_ERR_UNSUPPORTED),
 * dimensions outside 1..VL_VIDEO_MAX_SIDE or above VL_VIDEO_MAX_PIXELS
 * (VLLM_ERR_UNSUPPORTED), FPS/UNIFORM on a stream with no duration or
 * frame count (VLLM_ERR_FORMAT). A packet the decoder rejects or a frame it
 * flags corrupt is skipped with a warning; VL_VIDEO_MAX_BAD_PACKETS in a
 * row is VLLM_ERR_DECODE. Frames lost that way still count in the frame
 * numbers (by the timestamps of the packets sent, once damage was seen;
 * see vl_lost), so later frames keep their numbers. FPS/UNIFORM: a target
 * whose frame is missing gets the nearest decodable frame nearer to it
 * than to the neighbouring targets (the earlier on a tie), else none; one
 * warning with the counts says how many were replaced or not delivered.
 * The fps rule in time gives a point whose frame was lost the frame on
 * screen before it, and warns with the number of frames lost. Data that ends early (truncated file) ends the
 * iteration with VLLM_DONE after the frames that were present, with a
 * warning, and vl_video_truncated() reports it. */
#ifndef VL_DECODE_VIDEO_H
#define VL_DECODE_VIDEO_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define VL_VIDEO_MAX_SIDE 16384
#define VL_VIDEO_MAX_PIXELS (8192LL * 8192)
#define VL_VIDEO_MAX_BAD_PACKETS 64

typedef struct vl_video vl_video;

typedef struct vl_video_info {
    double duration;            /* seconds (container or stream), 0 if unknown */
    double fps;                 /* average frame rate, 0 if unknown */
    int32_t width, height;      /* display size: SAR applied to the width, then rotated */
    int32_t coded_width, coded_height;
    int rotation;               /* clockwise degrees to apply: 0, 90, 180, 270 */
    char codec[32];
    int64_t n_frames_est;       /* container frame count, else round(duration·fps); 0 if unknown */
    double start_time;          /* stream start time in seconds (pts are relative to it) */
    int cfr;                    /* 1 when frame count = duration x nominal rate (constant frame rate) */
} vl_video_info;

/* Inactivity timeout of network sources when the caller gives none. */
#define VL_VIDEO_NET_TIMEOUT_S 30.0

/* How long an input may stall, and who may cancel it. Every blocking read
 * of libavformat (open, probing, demuxing, seeking) polls both. */
typedef struct vl_video_open_opts {
    const atomic_int *cancel; /* optional: non-zero stops any read at once (the session's flag) */
    double io_timeout_s;      /* seconds without any data before a read gives up: 0 = the default
                                 (VL_VIDEO_NET_TIMEOUT_S for network URLs, none for local
                                 files, pipes and memory), < 0 = never */
    const char *input_format; /* libavformat input format name ("v4l2", "mpegts"), NULL = probe */
    const char *timeout_name; /* the setting named in the timeout message; NULL = "vllm_video_params.io_timeout_s" */
    int nonblock;             /* 1: open with AVFMT_FLAG_NONBLOCK (devices: reads return at once when
                                 no frame is ready; vl_video_live_read polls) */
} vl_video_open_opts;

/* Open a path or any URL libavformat supports, with default options. A
 * read interrupted by the timeout fails with VLLM_ERR_IO naming the URL,
 * one interrupted by a cancel with VLLM_ERR_CANCELLED. */
vllm_status vl_video_open(const char *path_or_url, vl_video **out);
vllm_status vl_video_open_ex(const char *path_or_url, const vl_video_open_opts *opts, vl_video **out);

/* 1 for a URL whose scheme is not a local one (file:, pipe:, fd:). */
int vl_video_is_network_url(const char *path_or_url);

/* Open `size` bytes in memory. The bytes are NOT copied: they must stay
 * alive and unchanged until vl_video_close(). */
vllm_status vl_video_open_memory(const void *data, size_t size, vl_video **out);
vllm_status vl_video_open_memory_ex(const void *data, size_t size, const vl_video_open_opts *opts, vl_video **out);

/* Open a stream read through `read` (a libavformat read_packet callback:
 * bytes read, AVERROR_EOF at the end, another negative AVERROR on errors;
 * opaque is passed back), for inputs whose reads must be interruptible
 * (pipes polled by the caller, files followed while they grow). `seek`
 * (a libavformat seek callback, AVSEEK_SIZE included) may be NULL for
 * inputs that cannot seek. `label` names it in messages. */
typedef struct vl_video_reader {
    int (*read)(void *opaque, uint8_t *buf, int size);
    int64_t (*seek)(void *opaque, int64_t offset, int whence);
    void *opaque;
} vl_video_reader;
vllm_status vl_video_open_reader(const vl_video_reader *r, const char *label, const vl_video_open_opts *opts,
                                 vl_video **out);

void vl_video_close(vl_video *v);
const vl_video_info *vl_video_get_info(const vl_video *v);

typedef enum vl_sample_policy {
    VL_SAMPLE_FPS = 0,        /* target fps capped by max_frames (SmolVLM2 rule) */
    VL_SAMPLE_UNIFORM = 1,    /* n_frames, linspace */
    VL_SAMPLE_FFMPEG_FPS = 2, /* exactly ffmpeg's -vf fps=F selection */
    VL_SAMPLE_KEYFRAMES = 3,
    VL_SAMPLE_ALL = 4,
    VL_SAMPLE_INDICES = 5     /* the caller's frame indices (a model family's own rule) */
} vl_sample_policy;

/* libswscale filters (SWS_* flags without pulling swscale.h into callers). */
enum {
    VL_SCALE_BICUBIC = 0, /* ffmpeg CLI default */
    VL_SCALE_BILINEAR = 1,
    VL_SCALE_LANCZOS = 2,
    VL_SCALE_AREA = 3,
    VL_SCALE_POINT = 4
};

typedef struct vl_sampling {
    vl_sample_policy policy;
    double fps;          /* FPS, FFMPEG_FPS */
    int32_t max_frames;  /* FPS: the rule's cap; others: 0 = no cap */
    int32_t n_frames;    /* UNIFORM */
    double start, end;   /* seconds from the stream start; end <= 0: to the end */
    int32_t out_width, out_height; /* 0,0 = native (coded, rotated) size; both or neither */
    int scale_filter;    /* VL_SCALE_* */
    /* INDICES: n_indices strictly increasing frame indices counted from
     * the first frame of the range (copied by vl_video_sample_begin). */
    const int64_t *indices;
    int32_t n_indices;
} vl_sampling;

/* SmolVLM2 Video-Instruct defaults: FPS policy, fps 1, max_frames 64,
 * whole video, display size, bicubic. */
vl_sampling vl_sampling_default(void);

typedef struct vl_rgb_frame {
    uint8_t *rgb;        /* owned by the iterator, valid until the next call */
    int32_t width, height, stride;
    double pts;          /* seconds from the stream start */
    int64_t index;       /* source frame index (presentation order) */
} vl_rgb_frame;

vllm_status vl_video_sample_begin(vl_video *v, const vl_sampling *s);

/* VLLM_OK with a frame, VLLM_DONE at the end, an error status otherwise
 * (VLLM_ERR_CANCELLED after vl_video_cancel()). */
vllm_status vl_video_sample_next(vl_video *v, vl_rgb_frame *out);

/* Frames in the range [start, end) of vl_sampling as the index rules see
 * it (transformers' total_num_frames for a trimmed clip); -1 with an
 * error when the stream reports no frame count or rate, or the range
 * holds no frame. */
int64_t vl_video_range_frames(vl_video *v, double start, double end);

/* Frames the policy will yield when known up front (FPS, UNIFORM, INDICES), else -1.
 * Fewer may come if the stream ends early. */
int32_t vl_video_sample_planned(const vl_video *v);

/* Ask a running iteration to stop; safe from another thread. */
void vl_video_cancel(vl_video *v);

/* 1 if the data ended before the container said it would. */
int vl_video_truncated(const vl_video *v);

/* Decoding statistics of the current iteration. */
typedef struct vl_video_stats {
    int64_t packets_read, frames_decoded, frames_converted, seeks, bad_packets;
    int64_t drains;  /* targets whose frame was pushed out by ending the decoder's input (no packet after it decoded) */
    int32_t workers; /* decoder threads of GOP-parallel decoding (0: one iterator) */
} vl_video_stats;
void vl_video_get_stats(const vl_video *v, vl_video_stats *st);

/* Testing/benchmark knob: 0 = automatic (default: seek across GOPs, and
 * decode the GOPs of a sparse plan on several threads, one demuxer and
 * decoder each), 1 = never seek (decode every frame in order), 2 = seek on
 * this iterator alone (no GOP-parallel workers). Takes effect at the next
 * vl_video_sample_begin(). */
void vl_video_set_decode_mode(vl_video *v, int mode);

/* Bound the work of one iteration: after `max_packets` packets of the
 * video stream, vl_video_sample_next() fails with VLLM_ERR_DECODE (0 = no
 * limit, the default). For untrusted inputs whose container may announce
 * millions of tiny samples (the fuzz target uses it). */
void vl_video_set_packet_budget(vl_video *v, int64_t max_packets);

/* Decoder threads (0 = one per core, the default; 1 = no threading);
 * only before the first vl_video_sample_begin(). */
vllm_status vl_video_set_threads(vl_video *v, int threads);

/* Live reading (video_live.c): frame after frame as the decoder outputs
 * them, for sources that may never end; no sampling plan, no seeking.
 * vl_video_live_read decodes the next frame and gives its presentation
 * time in seconds on the stream's own clock (best-effort timestamp; -1
 * when the stream has none); VLLM_DONE at the end of the stream; a
 * packet the decoder rejects is skipped (counted in bad_packets); a
 * cancel or an inactivity timeout fails as the other reads do.
 * vl_video_live_convert turns the frame last read into packed RGB24 at
 * its own (rotated) size, valid until the next call. */
vllm_status vl_video_live_read(vl_video *v, double *pts);
vllm_status vl_video_live_convert(vl_video *v, vl_rgb_frame *out);
/* Forget that the input reported its end (libavformat's I/O context keeps
 * an end once seen): for a reader that said "end" while the stream was
 * being opened (a growing file probed with the bytes it has so far) and
 * will have more later. */
void vl_video_live_forget_eof(vl_video *v);
/* 1 when libavformat (with libavdevice's devices, when the library was
 * built with it: they are registered on the first call) has this input
 * format. */
int vl_video_input_format_available(const char *name);

/* A raw host frame (RGB24/RGBA/BGRA/NV12/YUV420P with strides, see
 * vllm_frame) converted to packed RGB24 at out_w×out_h (0,0 = same size)
 * through libswscale. NV12/YUV420P are read as BT.601 limited range. On
 * success *rgb_out is malloc'ed (free()) with *stride_out bytes per row.
 * Odd sizes are allowed for YUV (chroma is ceil(w/2)×ceil(h/2)). */
vllm_status vl_frame_to_rgb(const vllm_frame *in, int32_t out_w, int32_t out_h, int scale_filter,
                            uint8_t **rgb_out, int32_t *stride_out);

#endif
