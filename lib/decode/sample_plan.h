/* Frame-selection rules as pure functions: no video, no libav, so each rule
 * is unit-tested with plain numbers.
 *
 * Two families:
 *  - index rules (SmolVLM2 fps rule, uniform linspace): from the frame count
 *    and rate known up front they produce a sorted list of source frame
 *    indices (vl_plan_indices);
 *  - ffmpeg's fps filter (vl_ffps_*): a streaming selector fed each decoded
 *    frame's timestamp, deciding which frames ffmpeg's `-vf fps=F` would
 *    emit, and how many times. */
#ifndef VL_DECODE_SAMPLE_PLAN_H
#define VL_DECODE_SAMPLE_PLAN_H

#include <stdint.h>

#include "core/error.h"

/* Largest number of frames any index rule may ask for (the plan array is
 * allocated from it; 1 hour at 30 fps with every frame kept is 108000). */
#define VL_PLAN_MAX_FRAMES 1000000

/* What the index rules need to know about the (trimmed) video. */
typedef struct vl_plan_input {
    int64_t total_frames; /* frames in the range (transformers' total_num_frames) */
    double video_fps;     /* the stream's average frame rate */
} vl_plan_input;

/* numpy.linspace(start, stop, num, dtype=int): float64 points
 * start + i·(stop-start)/(num-1) with the last one set to `stop`, then
 * truncated toward zero. Writes `num` values. */
void vl_linspace_int(double start, double stop, int64_t num, int64_t *out);

/* Sorted-unique in place (numpy.unique on a non-decreasing list); returns
 * the new length. */
int64_t vl_unique_sorted(int64_t *v, int64_t n);

/* SmolVLM2's rule (transformers SmolVLMVideoProcessor.sample_frames, the
 * version with skip_secs=1; see video.h for the exact reference):
 *   duration  = total_frames / video_fps            (read_video_pyav's metadata)
 *   estimated = round_half_even(fps · duration)      (Python round())
 *   desired   = max(1, min(estimated, max_frames))
 *   start, end = 0, total-1; if duration - 2·skip > max_frames·fps:
 *       start = int(skip·video_fps), end = int(total - skip·video_fps)
 *   clamp, fall back to 0..total-1 if start >= end
 *   indices = unique(linspace(start, end, desired, dtype=int))
 * `out` must hold max(1, min(estimated, max_frames)) entries; *n_out gets
 * the count. VLLM_ERR_INVALID_ARG for non-positive fps/max_frames, a
 * non-positive frame count or rate, or a plan above VL_PLAN_MAX_FRAMES. */
vllm_status vl_plan_smolvlm(const vl_plan_input *in, double fps, int32_t max_frames,
                            int64_t *out, int64_t *n_out);

/* The same rule as points in time, for streams whose frames are not evenly
 * spaced: the rule's linspace points before truncation, divided by
 * video_fps, i.e. seconds from the start of the range (on an exact
 * constant-rate grid the frame on screen at out[k] is the frame
 * vl_plan_smolvlm picks). Not made unique; `out` holds as many entries as
 * vl_plan_smolvlm_capacity() says; same errors as vl_plan_smolvlm. */
vllm_status vl_plan_smolvlm_times(const vl_plan_input *in, double fps, int32_t max_frames, double *out,
                                  int64_t *n_out);

/* How many entries vl_plan_smolvlm will need (0 on bad input). */
int64_t vl_plan_smolvlm_capacity(const vl_plan_input *in, double fps, int32_t max_frames);

/* N uniform frames: unique(linspace(0, total-1, n, dtype=int)). */
vllm_status vl_plan_uniform(const vl_plan_input *in, int32_t n, int64_t *out, int64_t *n_out);

/* ---- ffmpeg fps filter (libavfilter vf_fps.c, FFmpeg 5.1, defaults
 * round=near, eof_action=round, no start_time) -----------------------------
 *
 * Input timestamps are the frame's best-effort pts in the stream time base
 * tb = tb_num/tb_den, already shifted as the ffmpeg CLI shifts them (minus
 * the file's start time). The filter converts each to the output time base
 * 1/F with round-to-nearest (halves away from zero), keeps a two-frame
 * buffer, and emits the older buffered frame at output slot next_pts while
 * the newer one's converted pts is after next_pts; at end of stream the
 * last frame is emitted for every slot below the EOF pts (ffmpeg 5.1
 * signals EOF at the last frame's own pts). */
typedef struct vl_ffps {
    int64_t tb_num, tb_den;   /* input time base */
    int64_t rate_num, rate_den; /* output frame rate F = rate_num/rate_den */
    int64_t next_pts;         /* next output slot (output time base) */
    int have_next;
    int64_t held_out;         /* converted pts of the buffered frame */
    int64_t held_in;          /* its input pts (the EOF timestamp is derived from it) */
    int have_held;
} vl_ffps;

/* F as av_d2q(F, INT_MAX) would give it (ffmpeg parses the rate as a double). */
vllm_status vl_ffps_init(vl_ffps *f, int64_t tb_num, int64_t tb_den, double fps);

/* Feed the next frame (presentation order). Returns how many output slots
 * the *previously buffered* frame fills now that its successor is known
 * (0 = dropped); *emit_first_slot gets the first of those slots. The new
 * frame becomes the buffered one. */
int64_t vl_ffps_push(vl_ffps *f, int64_t in_pts, int64_t *emit_first_slot);

/* End of stream: how many slots the buffered frame fills (0 if none or it
 * is dropped); *emit_first_slot as above. */
int64_t vl_ffps_finish(vl_ffps *f, int64_t *emit_first_slot);

/* The whole selection up front for a constant-rate stream whose frame i
 * has input pts first_pts + i·step (i < n_frames): that timestamp sequence
 * is fed through vl_ffps_push/vl_ffps_finish above, so duplicates, drops
 * and the end-of-stream slots are exactly the streaming selector's. Writes
 * the kept frames in order: idx[k] (source index, strictly increasing)
 * fills count[k] >= 1 consecutive output slots. Both arrays must hold
 * n_frames entries. max_out > 0 stops after that many output slots (the
 * last count is cut). VLLM_ERR_INVALID_ARG for a bad rate or time base,
 * step <= 0 or n_frames outside 1..VL_PLAN_MAX_FRAMES. */
vllm_status vl_ffps_plan_cfr(int64_t tb_num, int64_t tb_den, double fps, int64_t first_pts, int64_t step,
                             int64_t n_frames, int64_t max_out, int64_t *idx, int64_t *count, int64_t *n_out);

#endif
