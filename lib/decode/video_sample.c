/* The sampling iterator: decides which source frames to keep, reads and
 * decodes only as much as needed (seeking past whole GOPs, skipping
 * non-reference frames far from a target), converts kept frames only. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/time_range.h"
#include "video_internal.h"

vl_sampling vl_sampling_default(void)
{
    return (vl_sampling){.policy = VL_SAMPLE_FPS, .fps = 1.0, .max_frames = 64, .scale_filter = VL_SCALE_BICUBIC};
}

static int index_policy(const vl_video *v)
{
    return (v->s.policy == VL_SAMPLE_FPS && !v->time_rule) || v->s.policy == VL_SAMPLE_UNIFORM ||
           v->s.policy == VL_SAMPLE_INDICES;
}

/* Served by the index path (a sorted list of source frames, seeking
 * allowed): the index rules, and FFMPEG_FPS precomputed on a CFR grid. */
static int uses_plan(const vl_video *v) { return index_policy(v) || v->ffps_seek; }

/* The fps rule on a variable-rate stream: frame k of the rule is the frame
 * on screen at the rule's k-th point in time (vl_plan_smolvlm_times), so a
 * burst of short frames does not take a burst of samples. The rule sees
 * the range as round(duration · average rate) frames, as the index rule
 * sees a constant-rate stream. */
static vllm_status make_time_plan(vl_video *v)
{
    const vl_video_info *in = &v->info;
    if (!(in->fps > 0.0) || in->n_frames_est <= 0 || !(in->duration > 0.0))
        return vl_error(VLLM_ERR_FORMAT,
                        "video: the fps rule needs the duration and frame rate, but the stream reports %lld frames "
                        "at %g fps over %g s",
                        (long long)in->n_frames_est, in->fps, in->duration);
    double end = v->s.end > 0.0 && v->s.end < in->duration ? v->s.end : in->duration;
    if (!(end > v->s.start)) {
        char r[96];
        return vl_error(VLLM_ERR_INVALID_ARG, "video: the range %s lies outside this %g s video",
                        vl_format_time_range(r, sizeof r, v->s.start, v->s.end), in->duration);
    }
    int64_t total = v->s.start > 0.0 || end < in->duration ? llround((end - v->s.start) * in->fps) : in->n_frames_est;
    vl_plan_input pi = {.total_frames = total > 0 ? total : 1, .video_fps = in->fps};
    int64_t cap = vl_plan_smolvlm_capacity(&pi, v->s.fps, v->s.max_frames);
    if (cap <= 0 || cap > VL_PLAN_MAX_FRAMES)
        return vl_error(VLLM_ERR_INVALID_ARG, "video: sampling would keep %lld frames (limit %d)", (long long)cap,
                        VL_PLAN_MAX_FRAMES);
    v->times = malloc((size_t)cap * sizeof *v->times);
    if (!v->times) return vl_error(VLLM_ERR_NOMEM, "video: out of memory for a %lld-frame plan", (long long)cap);
    VL_TRY(vl_plan_smolvlm_times(&pi, v->s.fps, v->s.max_frames, v->times, &v->times_n));
    for (int64_t i = 0; i < v->times_n; i++) v->times[i] += v->s.start;
    return VLLM_OK;
}

static vllm_status check_sampling(const vl_video *v, const vl_sampling *s)
{
    if (s->policy < VL_SAMPLE_FPS || s->policy > VL_SAMPLE_INDICES)
        return vl_error(VLLM_ERR_INVALID_ARG, "video: unknown sampling policy %d", (int)s->policy);
    if ((s->policy == VL_SAMPLE_FPS || s->policy == VL_SAMPLE_FFMPEG_FPS) &&
        (!(s->fps > 0.0) || !isfinite(s->fps) || s->fps > 1000.0))
        return vl_error(VLLM_ERR_INVALID_ARG, "video: sampling fps must be in (0, 1000] (got %g)", s->fps);
    if (s->policy == VL_SAMPLE_FPS && s->max_frames <= 0)
        return vl_error(VLLM_ERR_INVALID_ARG, "video: max_frames must be positive for the fps rule (got %d)",
                        s->max_frames);
    if (s->max_frames < 0) return vl_error(VLLM_ERR_INVALID_ARG, "video: max_frames %d is negative", s->max_frames);
    if (s->policy == VL_SAMPLE_UNIFORM && (s->n_frames <= 0 || s->n_frames > VL_PLAN_MAX_FRAMES))
        return vl_error(VLLM_ERR_INVALID_ARG, "video: n_frames must be in 1..%d (got %d)", VL_PLAN_MAX_FRAMES,
                        s->n_frames);
    if (s->policy == VL_SAMPLE_INDICES) {
        if (!s->indices || s->n_indices <= 0 || s->n_indices > VL_PLAN_MAX_FRAMES)
            return vl_error(VLLM_ERR_INVALID_ARG, "video: %d frame indices given (1..%d)", s->n_indices, VL_PLAN_MAX_FRAMES);
        for (int32_t i = 0; i < s->n_indices; i++)
            if (s->indices[i] < 0 || (i > 0 && s->indices[i] <= s->indices[i - 1]))
                return vl_error(VLLM_ERR_INVALID_ARG, "video: frame index %d (%lld) is not above the one before", i,
                                (long long)s->indices[i]);
    }
    if (!isfinite(s->start) || !isfinite(s->end) || s->start < 0.0 || (s->end > 0.0 && s->end <= s->start)) {
        char r[96];
        return vl_error(VLLM_ERR_INVALID_ARG, "video: bad time range %s (start >= 0, before the end)",
                        vl_format_time_range(r, sizeof r, s->start, s->end));
    }
    if ((s->out_width == 0) != (s->out_height == 0) || s->out_width < 0 || s->out_height < 0 ||
        s->out_width > VL_VIDEO_MAX_SIDE || s->out_height > VL_VIDEO_MAX_SIDE)
        return vl_error(VLLM_ERR_INVALID_ARG, "video: output size %dx%d (both 0, or both in 1..%d)", s->out_width,
                        s->out_height, VL_VIDEO_MAX_SIDE);
    if (s->scale_filter < VL_SCALE_BICUBIC || s->scale_filter > VL_SCALE_POINT)
        return vl_error(VLLM_ERR_INVALID_ARG, "video: unknown scale filter %d", s->scale_filter);
    (void)v;
    return VLLM_OK;
}

static const char *rule_name(vl_sample_policy p)
{
    return p == VL_SAMPLE_FPS ? "fps" : p == VL_SAMPLE_UNIFORM ? "uniform" : "index";
}

/* The range's first and last frame index for the index rules. */
static vllm_status range_frames(const vl_video *v, double start, double end, int64_t *first, int64_t *last)
{
    const vl_video_info *in = &v->info;
    if (!(in->fps > 0.0) || in->n_frames_est <= 0)
        return vl_error(VLLM_ERR_FORMAT,
                        "video: the %s rule needs the frame count and rate, but the stream reports %lld frames at %g fps "
                        "(zero or unknown duration)",
                        rule_name(v->s.policy), (long long)in->n_frames_est, in->fps);
    *first = 0, *last = in->n_frames_est - 1;
    if (start > 0.0) *first = (int64_t)ceil(start * v->rate - 1e-6);
    if (end > 0.0) {
        int64_t e = (int64_t)ceil(end * v->rate - 1e-6) - 1;
        if (e < *last) *last = e;
    }
    if (*first > *last) {
        char r[96];
        return vl_error(VLLM_ERR_INVALID_ARG, "video: the range %s holds no frame of this %lld-frame video",
                        vl_format_time_range(r, sizeof r, start, end), (long long)in->n_frames_est);
    }
    return VLLM_OK;
}

int64_t vl_video_range_frames(vl_video *v, double start, double end)
{
    int64_t first = 0, last = -1;
    if (!v) return -1;
    if (vllm_is_error(range_frames(v, start, end, &first, &last))) return -1;
    return last - first + 1;
}

static vllm_status make_plan(vl_video *v)
{
    const vl_video_info *in = &v->info;
    int64_t first = 0, last = -1;
    VL_TRY(range_frames(v, v->s.start, v->s.end, &first, &last));
    vl_plan_input pi = {.total_frames = last - first + 1, .video_fps = in->fps};
    int64_t cap = v->s.policy == VL_SAMPLE_FPS ? vl_plan_smolvlm_capacity(&pi, v->s.fps, v->s.max_frames)
                  : v->s.policy == VL_SAMPLE_INDICES ? v->s.n_indices
                                                     : v->s.n_frames;
    if (cap <= 0 || cap > VL_PLAN_MAX_FRAMES)
        return vl_error(VLLM_ERR_INVALID_ARG, "video: sampling would keep %lld frames (limit %d)", (long long)cap,
                        VL_PLAN_MAX_FRAMES);
    v->plan = malloc((size_t)cap * sizeof *v->plan);
    if (!v->plan) return vl_error(VLLM_ERR_NOMEM, "video: out of memory for a %lld-frame plan", (long long)cap);
    if (v->s.policy == VL_SAMPLE_FPS) {
        VL_TRY(vl_plan_smolvlm(&pi, v->s.fps, v->s.max_frames, v->plan, &v->plan_n));
    } else if (v->s.policy == VL_SAMPLE_INDICES) {
        if (v->s.indices[v->s.n_indices - 1] >= pi.total_frames)
            return vl_error(VLLM_ERR_INVALID_ARG, "video: frame index %lld is past the range's %lld frames",
                            (long long)v->s.indices[v->s.n_indices - 1], (long long)pi.total_frames);
        memcpy(v->plan, v->s.indices, (size_t)v->s.n_indices * sizeof *v->plan);
        v->plan_n = v->s.n_indices;
    } else
        VL_TRY(vl_plan_uniform(&pi, v->s.n_frames, v->plan, &v->plan_n));
    for (int64_t i = 0; i < v->plan_n; i++) v->plan[i] += first;
    v->range_first = first;
    v->range_last = last;
    return VLLM_OK;
}

/* Back to the first frame (second iteration, or a failed seek). */
vllm_status vl_video_rewind_(vl_video *v)
{
    vl_video_io_arm_(v);
    int ret = av_seek_frame(v->fmt, v->sidx, v->start_pts, AVSEEK_FLAG_BACKWARD);
    if (ret < 0) ret = avformat_seek_file(v->fmt, -1, INT64_MIN, 0, 0, 0);
    if (ret < 0) VL_TRY(vl_video_io_status_(v));
    if (ret < 0) return vl_error(VLLM_ERR_STATE, "video: the input cannot be rewound for another pass");
    avcodec_flush_buffers(v->dec);
    v->drained = 0;
    vl_lost_forget_(&v->lost);
    av_frame_unref(v->frame);
    v->frame_kept = 0;
    v->next_sample = 0;
    v->seq_count = 0;
    v->demux_eof = 0;
    v->after_seek = 0;
    v->first_after_seek = 0;
    v->dec->skip_frame = v->s.policy == VL_SAMPLE_KEYFRAMES ? AVDISCARD_NONKEY : AVDISCARD_DEFAULT;
    v->verify_ts = AV_NOPTS_VALUE;
    return VLLM_OK;
}

/* FFMPEG_FPS without decoding everything. On a constant-rate stream whose
 * frames all sit on an exact pts grid (the container index lists every
 * frame and its decode timestamps are exactly one frame duration apart in
 * the stream time base), ffmpeg's selection follows from the grid alone:
 * vl_ffps_plan_cfr feeds the grid to the same streaming selector. The
 * list is then served by the index path, which seeks across GOPs. Every
 * frame actually decoded is checked against the grid, and any mismatch
 * (or an early end) redoes the iteration with the sequential selector, so
 * the frames yielded are the sequential path's in every case. */
static vllm_status ffps_try_plan(vl_video *v)
{
    if (v->mode == 1 || !v->info.cfr || v->n_index_keyframes < 2 || v->s.start > 0.0 || v->s.end > 0.0)
        return VLLM_OK;
    int64_t n = v->info.n_frames_est;
    int n_entries = avformat_index_get_entries_count(v->st);
    if (n <= 1 || n > VL_PLAN_MAX_FRAMES || v->n_index_frames != n || n_entries != n) return VLLM_OK;
    double exact = 1.0 / (v->rate * v->tb);
    if (!(exact >= 1.0 && exact < (double)INT32_MAX)) return VLLM_OK;
    int64_t step = llround(exact);
    if (fabs(exact - (double)step) > 1e-6 * exact) return VLLM_OK;
    const AVIndexEntry *e0 = avformat_index_get_entry(v->st, 0);
    if (!e0) return VLLM_OK;
    int64_t t0 = e0->timestamp;
    for (int i = 0; i < n_entries; i++) {
        const AVIndexEntry *e = avformat_index_get_entry(v->st, i);
        if (!e || (e->flags & AVINDEX_DISCARD_FRAME) || e->timestamp != t0 + (int64_t)i * step) return VLLM_OK;
    }
    v->plan = malloc((size_t)n * sizeof *v->plan);
    v->plan_count = malloc((size_t)n * sizeof *v->plan_count);
    if (!v->plan || !v->plan_count)
        return vl_error(VLLM_ERR_NOMEM, "video: out of memory for a %lld-frame ffmpeg-fps plan", (long long)n);
    VL_TRY(vl_ffps_plan_cfr(v->st->time_base.num, v->st->time_base.den, v->s.fps, v->start_pts - v->file_shift, step,
                            n, v->s.max_frames, v->plan, v->plan_count, &v->plan_n));
    v->grid_step = step;
    v->range_first = 0;
    v->range_last = n - 1;
    v->ffps_seek = 1;
    return VLLM_OK;
}

/* Forget the last iteration (workers, plan, counters, position) and take
 * sampling settings `s`; the plan itself is made by the caller. */
static vllm_status reset_iteration(vl_video *v, const vl_sampling *s)
{
    vl_par_stop(v);
    int touched = v->stats.packets_read > 0 || v->demux_eof;
    free(v->plan);
    free(v->plan_count);
    free(v->times);
    v->plan = v->plan_count = NULL;
    v->times = NULL;
    v->times_n = v->times_pos = 0;
    v->time_rule = s->policy == VL_SAMPLE_FPS && !v->info.cfr && !v->parent;
    v->ffps_seek = v->ffps_fallback = 0;
    v->skip_out = 0;
    v->plan_n = v->plan_pos = 0;
    v->s = *s;
    v->active = 0;
    if (touched) VL_TRY(vl_video_rewind_(v));
    v->demux_eof = v->dec_eof = v->flushed_ffps = 0;
    v->seq_count = v->yielded = 0;
    v->dup_left = 0;
    v->consecutive_bad = 0;
    v->truncated = 0;
    vl_lost_new_pass_(&v->lost);
    v->n_replaced = v->n_missed = 0;
    v->shortfall_said = 0;
    v->next_sample = 0;
    v->verify_ts = AV_NOPTS_VALUE;
    v->after_seek = 0;
    v->first_after_seek = 0;
    v->retried = 0;
    v->sought_pos = -1;
    v->drained = 0;
    v->drain_pos = v->no_drain_pos = -1;
    v->key_delay = 0;
    v->phase_n = 0;
    v->phase_sum = v->phase_min = v->phase_max = 0.0;
    v->stats = (vl_video_stats){0};
    av_frame_unref(v->held);
    atomic_store(&v->cancel, 0);
    v->dec->skip_frame = s->policy == VL_SAMPLE_KEYFRAMES ? AVDISCARD_NONKEY : AVDISCARD_DEFAULT;
    return VLLM_OK;
}

vllm_status vl_video_sample_begin(vl_video *v, const vl_sampling *s)
{
    if (!v || !s) return vl_error(VLLM_ERR_INVALID_ARG, "video: NULL argument");
    VL_TRY(check_sampling(v, s));
    VL_TRY(reset_iteration(v, s));
    if (v->time_rule) VL_TRY(make_time_plan(v));
    if (index_policy(v)) VL_TRY(make_plan(v));
    v->s.indices = NULL; /* copied into the plan: the caller's array need not outlive this call */
    if (s->policy == VL_SAMPLE_FFMPEG_FPS) {
        VL_TRY(vl_ffps_init(&v->ffps, v->st->time_base.num, v->st->time_base.den, s->fps));
        VL_TRY(ffps_try_plan(v));
    }
    /* Seeking needs an index listing every frame (mp4/mov do; Matroska
     * cues list keyframes only), so frame numbers can be read from it. */
    v->seek_ok = v->mode != 1 && uses_plan(v) && v->info.cfr && v->n_index_keyframes >= 2;
    v->active = 1;
    if (v->seek_ok && v->mode == 0 && !v->parent) vl_par_try_start(v);
    return VLLM_OK;
}

vllm_status vl_video_sample_begin_sub(vl_video *v, const vl_sampling *s, const int64_t *plan, const int64_t *counts,
                                      int64_t n, int64_t grid_step)
{
    VL_TRY(reset_iteration(v, s)); /* s was checked by the coordinator */
    v->plan = malloc((size_t)(n > 0 ? n : 1) * sizeof *v->plan);
    v->plan_count = counts ? malloc((size_t)(n > 0 ? n : 1) * sizeof *v->plan_count) : NULL;
    if (!v->plan || (counts && !v->plan_count)) return vl_error(VLLM_ERR_NOMEM, "video: out of memory");
    memcpy(v->plan, plan, (size_t)n * sizeof *plan);
    if (counts) memcpy(v->plan_count, counts, (size_t)n * sizeof *counts);
    v->plan_n = n;
    v->plan_pos = 0;
    if (v->parent) { /* the range a stand-in frame must stay inside (in_window) */
        v->range_first = v->parent->range_first;
        v->range_last = v->parent->range_last;
    }
    v->ffps_seek = s->policy == VL_SAMPLE_FFMPEG_FPS;
    v->grid_step = grid_step;
    v->seek_ok = v->info.cfr && v->n_index_keyframes >= 2;
    v->active = 1;
    return VLLM_OK;
}

int32_t vl_video_sample_planned(const vl_video *v)
{
    if (v && v->active && v->time_rule) return (int32_t)v->times_n;
    if (!v || !v->active || !index_policy(v)) return -1;
    return (int32_t)v->plan_n;
}

/* Before reading on toward the next target: if the keyframe before it lies
 * beyond the next packet to be read, jump there. Indices are presentation
 * counts (as transformers' PyAV loop counts), so a jump is only allowed on
 * constant-rate streams once the frames counted so far have shown how
 * their timestamps sit on the frame grid: index = round(t·rate - phase).
 * (Real files are off-grid: test-3.mp4's frames sit 0.585 frame late after
 * a long first frame.) The keyframe is looked up a few frames early so
 * frames reordered around it (B frames, open GOPs) are not missed. */
static int phase_known(const vl_video *v)
{
    return v->phase_n >= 2 && v->phase_max - v->phase_min < 0.05;
}

/* Index entry of the keyframe decoded at or before plan entry pos's time
 * (-1 if none). With B frames a keyframe is shown a few frames after it is
 * decoded, so it can land past the target (open GOPs: the target is one of
 * its leading frames); next_index_policy() notices and retries one
 * keyframe earlier. */
static int keyframe_before(const vl_video *v, int64_t pos)
{
    int64_t ts = v->start_pts + (int64_t)llround(((double)v->plan[pos] + v->phase_sum / v->phase_n) / v->rate / v->tb);
    /* index entries are decode times: a keyframe decoded before the target
     * may still be shown after it (the frame just before a keyframe) */
    return av_index_search_timestamp(v->st, ts - v->key_delay, AVSEEK_FLAG_BACKWARD);
}

/* A jump to index entry e is worth it only if it skips more than the
 * frames in flight in the (threaded) decoder, which a flush throws away. */
static int worth_a_jump(const vl_video *v, int e)
{
    int64_t gap = VL_SEEK_MIN_GAP + v->dec->has_b_frames + (v->dec->thread_count > 1 ? v->dec->thread_count : 0);
    return e >= 0 && e > v->next_sample + gap;
}

/* force: the decoder was drained and flushed, so it must restart at a
 * keyframe (drain_done()). */
static void maybe_seek(vl_video *v, int force)
{
    if (!v->seek_ok || v->plan_pos >= v->plan_n || !phase_known(v)) return;
    if (v->sought_pos == v->plan_pos && !force) return; /* one jump per target */
    int e = keyframe_before(v, v->plan_pos);
    if (e < 0 || (!worth_a_jump(v, e) && !force)) return;
    const AVIndexEntry *ent = avformat_index_get_entry(v->st, e);
    vl_video_io_arm_(v);
    if (!ent || av_seek_frame(v->fmt, v->sidx, ent->timestamp, 0) < 0) {
        v->seek_ok = 0;
        return;
    }
    avcodec_flush_buffers(v->dec);
    v->drained = 0;
    vl_lost_forget_(&v->lost);
    v->next_sample = e;
    v->sought_pos = v->plan_pos;
    v->after_seek = 1;
    v->first_after_seek = 1;
    v->seek_entry = e;
    v->verify_ts = ent->timestamp;
    v->verify_pos = ent->pos;
    v->demux_eof = 0;
    v->stats.seeks++;
}

/* The first frame after a jump came out past the target (or none came):
 * either the target is a leading frame of an open GOP, or its frame is
 * missing (damage) and the frames just before it may have to stand in.
 * Jump again, one keyframe earlier and at or before the first frame that
 * may stand in for the target (its window, see in_window()). */
static vllm_status seek_earlier(vl_video *v)
{
    v->retried = 1;
    const AVIndexEntry *cur = avformat_index_get_entry(v->st, (int)v->seek_entry);
    int64_t pos = v->plan_pos < v->plan_n ? v->plan_pos : v->plan_n - 1;
    int64_t first = pos > 0 ? (v->plan[pos - 1] + v->plan[pos]) / 2 + 1 : v->range_first;
    int64_t window_ts =
        v->start_pts + (int64_t)llround(((double)first + v->phase_sum / v->phase_n - 0.5) / v->rate / v->tb);
    int64_t ts = cur ? cur->timestamp - 1 : INT64_MIN;
    if (window_ts < ts) ts = window_ts;
    int e = cur ? av_index_search_timestamp(v->st, ts, AVSEEK_FLAG_BACKWARD) : -1;
    const AVIndexEntry *ent = e >= 0 ? avformat_index_get_entry(v->st, e) : NULL;
    vl_video_io_arm_(v);
    if (!ent || av_seek_frame(v->fmt, v->sidx, ent->timestamp, 0) < 0) {
        v->seek_ok = 0;
        return vl_video_rewind_(v);
    }
    avcodec_flush_buffers(v->dec);
    v->drained = 0;
    vl_lost_forget_(&v->lost);
    v->next_sample = e;
    v->seek_entry = e;
    v->first_after_seek = 1;
    v->verify_ts = ent->timestamp;
    v->verify_pos = ent->pos;
    v->demux_eof = 0;
    v->stats.seeks++;
    return VLLM_OK;
}

/* Between a jump and its target, non-reference frames shown before the
 * target are not even decoded (indices come from timestamps there). */
static void choose_discard(vl_video *v, const AVPacket *pkt)
{
    enum AVDiscard d = AVDISCARD_DEFAULT;
    if (v->after_seek && v->plan_pos < v->plan_n && pkt->pts != AV_NOPTS_VALUE) {
        double phase = v->phase_sum / v->phase_n;
        int64_t target_ts = v->start_pts + (int64_t)llround(((double)v->plan[v->plan_pos] + phase - 0.5) / v->rate / v->tb);
        if (pkt->pts < target_ts) d = AVDISCARD_NONREF;
    }
    v->dec->skip_frame = d;
}

/* Stop feeding the decoder right after the packet of the current target
 * when the next target lies past a keyframe not yet read (or there is
 * none): end of stream pushes the frames still in the decoder's reorder
 * buffer out at once, the target among them, so the packets after it in
 * decode order, needed only to push it out, are never decoded; at the
 * decoder's end drain_done() jumps to the next target's keyframe, the jump
 * maybe_seek() would have made after reading those packets. Only on
 * an intact pass after a jump (indices from timestamps on the learned
 * grid); a target whose frame did not come out is decoded again without. */
static int should_drain(const vl_video *v, const AVPacket *pkt)
{
    if (!v->seek_ok || !v->after_seek || v->lost.damaged || v->plan_pos >= v->plan_n ||
        v->plan_pos == v->no_drain_pos || pkt->pts == AV_NOPTS_VALUE || !phase_known(v))
        return 0;
    int64_t idx = llround((double)(pkt->pts - v->start_pts) * v->tb * v->rate - v->phase_sum / v->phase_n);
    if (idx != v->plan[v->plan_pos]) return 0;
    if (v->plan_pos + 1 >= v->plan_n) return 1;
    /* only where the next target would be jumped to anyway, so the decoder
     * starts from the same keyframe as without draining (on a damaged
     * stream, frames decoded across a gap differ from frames decoded after
     * a jump) */
    return worth_a_jump(v, keyframe_before(v, v->plan_pos + 1));
}

/* The drained decoder gave its last frame: flush it and jump to the next
 * target's keyframe (or, when the drained target's own frame did not come
 * out, back to the keyframe it was decoded from, without draining). */
static vllm_status drain_done(vl_video *v)
{
    avcodec_flush_buffers(v->dec);
    v->drained = 0;
    vl_lost_forget_(&v->lost);
    if (v->plan_pos >= v->plan_n) {
        v->demux_eof = 1; /* nothing more is needed from this decoder */
        return VLLM_OK;
    }
    if (v->plan_pos == v->drain_pos) {
        v->no_drain_pos = v->plan_pos;
        const AVIndexEntry *ent = avformat_index_get_entry(v->st, (int)v->seek_entry);
        vl_video_io_arm_(v);
        if (!ent || av_seek_frame(v->fmt, v->sidx, ent->timestamp, 0) < 0) {
            v->seek_ok = 0;
            return vl_video_rewind_(v);
        }
        v->next_sample = v->seek_entry;
        v->first_after_seek = 1;
        v->verify_ts = ent->timestamp;
        v->verify_pos = ent->pos;
        v->demux_eof = 0;
        v->stats.seeks++;
        return VLLM_OK;
    }
    int64_t seeks = v->stats.seeks;
    maybe_seek(v, 1);
    if (v->stats.seeks == seeks) { /* no jump: the flushed decoder cannot go on, start over */
        v->seek_ok = 0;
        return vl_video_rewind_(v);
    }
    return VLLM_OK;
}

/* The first packet after a jump must be a keyframe at or before the one
 * aimed at (libavformat's mov seek may land a GOP earlier: still correct,
 * since indices now come from timestamps). Anything else (a landing past
 * the target) abandons seeking and decodes from the start. */
static vllm_status verify_seek(vl_video *v, const AVPacket *pkt, int *restarted)
{
    *restarted = 0;
    if (v->verify_ts == AV_NOPTS_VALUE) return VLLM_OK;
    int ok = (pkt->flags & AV_PKT_FLAG_KEY) && pkt->dts != AV_NOPTS_VALUE && pkt->dts <= v->verify_ts;
    v->verify_ts = AV_NOPTS_VALUE;
    if (ok) {
        int e = av_index_search_timestamp(v->st, pkt->dts, AVSEEK_FLAG_BACKWARD | AVSEEK_FLAG_ANY);
        if (e >= 0) v->next_sample = e;
        return VLLM_OK;
    }
    VL_LOG_DEBUG("video: seek landed past its keyframe; decoding from the start instead");
    v->seek_ok = 0;
    VL_TRY(vl_video_rewind_(v));
    *restarted = 1;
    return VLLM_OK;
}

static int64_t frame_ts(const AVFrame *f)
{
    return f->best_effort_timestamp != AV_NOPTS_VALUE ? f->best_effort_timestamp : f->pts;
}

/* Next decoded frame into v->frame: VLLM_OK, VLLM_DONE at the end of the
 * stream, or an error. Corrupt frames and rejected packets are skipped. */
static vllm_status decode_next(vl_video *v)
{
    char eb[128];
    for (;;) {
        VL_TRY(vl_video_io_status_(v)); /* cancelled, or the input stalled */
        int ret = avcodec_receive_frame(v->dec, v->frame);
        if (ret == 0) {
            v->stats.frames_decoded++;
            v->seq_count += vl_lost_frame_out_(&v->lost, frame_ts(v->frame)) + 1;
            if (v->frame->decode_error_flags || (v->frame->flags & AV_FRAME_FLAG_CORRUPT)) {
                int64_t ts = frame_ts(v->frame);
                vl_lost_damage_(&v->lost);
                vl_video_warn_(v, VL_WARN_CORRUPT_FRAME, ts, "video: skipping a corrupt frame at %.3f s",
                               vl_video_ts_seconds_(v, ts));
                av_frame_unref(v->frame);
                if (++v->consecutive_bad > VL_VIDEO_MAX_BAD_PACKETS)
                    return vl_error(VLLM_ERR_DECODE, "video: %d corrupt frames in a row", v->consecutive_bad);
                continue;
            }
            v->consecutive_bad = 0;
            return VLLM_OK;
        }
        if (ret == AVERROR_EOF && v->drained) {
            VL_TRY(drain_done(v));
            continue;
        }
        if (ret == AVERROR_EOF) return VLLM_DONE;
        if (ret != AVERROR(EAGAIN)) {
            av_strerror(ret, eb, sizeof eb);
            vl_lost_damage_(&v->lost);
            vl_video_warn_(v, VL_WARN_DECODER_ERROR, v->last_pkt_ts,
                           "video: decoder error (%s) near %.3f s; skipping", eb,
                           vl_video_ts_seconds_(v, v->last_pkt_ts));
            if (++v->consecutive_bad > VL_VIDEO_MAX_BAD_PACKETS)
                return vl_error(VLLM_ERR_DECODE, "video: %d decoding errors in a row, last: %s",
                                v->consecutive_bad, eb);
            if (v->demux_eof) return VLLM_DONE;
            continue;
        }
        if (v->demux_eof) return VLLM_DONE; /* drained */
        if (uses_plan(v)) maybe_seek(v, 0);
        vl_video_io_arm_(v);
        ret = av_read_frame(v->fmt, v->pkt);
        if (ret < 0) {
            VL_TRY(vl_video_io_status_(v)); /* not the end of the data: a cancel or a stall */
            if (ret != AVERROR_EOF) {
                av_strerror(ret, eb, sizeof eb);
                vl_video_warn_(v, VL_WARN_INPUT_ERROR, 0,
                               "video: input ended with an error (%s) after %.3f s; using the frames read so far",
                               eb, vl_video_ts_seconds_(v, v->last_pkt_ts));
                v->truncated = 1;
            }
            v->demux_eof = 1;
            avcodec_send_packet(v->dec, NULL);
            continue;
        }
        if (v->pkt->stream_index != v->sidx) {
            av_packet_unref(v->pkt);
            continue;
        }
        if (v->pkt->size <= 0) { /* an empty packet would mean "drain" to the decoder */
            av_packet_unref(v->pkt);
            continue;
        }
        if (v->packet_budget > 0 && v->stats.packets_read >= v->packet_budget) {
            av_packet_unref(v->pkt);
            return vl_error(VLLM_ERR_DECODE, "video: read %lld packets, the budget set for this input",
                            (long long)v->stats.packets_read);
        }
        int restarted;
        vllm_status vs = verify_seek(v, v->pkt, &restarted);
        if (vllm_is_error(vs) || restarted) {
            av_packet_unref(v->pkt);
            VL_TRY(vs);
            continue;
        }
        v->next_sample++;
        v->stats.packets_read++;
        if ((v->pkt->flags & AV_PKT_FLAG_KEY) && v->pkt->pts != AV_NOPTS_VALUE && v->pkt->dts != AV_NOPTS_VALUE)
            v->key_delay = v->pkt->pts > v->pkt->dts ? v->pkt->pts - v->pkt->dts : 0;
        if (uses_plan(v)) choose_discard(v, v->pkt);
        if (v->pkt->flags & AV_PKT_FLAG_CORRUPT) {
            v->truncated = 1;
            vl_lost_damage_(&v->lost);
        }
        v->last_pkt_ts = v->pkt->pts != AV_NOPTS_VALUE ? v->pkt->pts : v->pkt->dts;
        /* a packet the decoder is told to skip yields no frame by design */
        if (v->s.policy != VL_SAMPLE_KEYFRAMES && v->dec->skip_frame == AVDISCARD_DEFAULT)
            v->seq_count += vl_lost_sent_(&v->lost, v->pkt);
        int drain = uses_plan(v) && should_drain(v, v->pkt);
        ret = avcodec_send_packet(v->dec, v->pkt);
        av_packet_unref(v->pkt);
        if (ret == 0 && drain && avcodec_send_packet(v->dec, NULL) == 0) {
            v->drained = 1;
            v->drain_pos = v->plan_pos;
            v->stats.drains++;
        }
        if (ret < 0 && ret != AVERROR(EAGAIN)) {
            av_strerror(ret, eb, sizeof eb);
            vl_lost_damage_(&v->lost); /* its frame stays pending: the next frame out counts it lost */
            v->stats.bad_packets++;
            vl_video_warn_(v, VL_WARN_BAD_PACKET, v->last_pkt_ts,
                           "video: the decoder rejected the packet at %.3f s (%s); skipping it",
                           vl_video_ts_seconds_(v, v->last_pkt_ts), eb);
            if (++v->consecutive_bad > VL_VIDEO_MAX_BAD_PACKETS)
                return vl_error(VLLM_ERR_DECODE, "video: %d undecodable packets in a row, last: %s",
                                v->consecutive_bad, eb);
        }
    }
}

/* Source index of a decoded frame: its position in presentation order,
 * counted (seeks set the count from the container index). Timestamps are
 * not used: real files are not exactly on a grid (test-3.mp4's first frame
 * lasts 1/24 s + 24 ms). */
static int64_t frame_index(vl_video *v, const AVFrame *f)
{
    if (v->after_seek) {
        int64_t ts = frame_ts(f);
        if (ts != AV_NOPTS_VALUE)
            return llround((double)(ts - v->start_pts) * v->tb * v->rate - v->phase_sum / v->phase_n);
    }
    if (v->s.policy != VL_SAMPLE_KEYFRAMES) {
        /* learn where counted frames sit on the grid (first frame excluded:
         * its timestamp is often the odd one out) */
        int64_t ts = frame_ts(f), idx = v->seq_count - 1;
        if (idx >= 1 && ts != AV_NOPTS_VALUE && v->rate > 0.0) {
            double d = (double)(ts - v->start_pts) * v->tb * v->rate - (double)idx;
            if (v->phase_n == 0 || d < v->phase_min) v->phase_min = d;
            if (v->phase_n == 0 || d > v->phase_max) v->phase_max = d;
            v->phase_sum += d;
            v->phase_n++;
        }
        return idx;
    }
    /* Only keyframes come out of the decoder here, so they cannot be
     * counted: their index is their time on the nominal frame grid. */
    int64_t ts = frame_ts(f);
    return ts != AV_NOPTS_VALUE ? llround((double)(ts - v->start_pts) * v->tb * v->rate) : v->seq_count - 1;
}

static double frame_seconds(const vl_video *v, const AVFrame *f, int64_t idx)
{
    int64_t ts = frame_ts(f);
    if (ts != AV_NOPTS_VALUE) return (double)(ts - v->start_pts) * v->tb;
    return v->rate > 0.0 ? (double)idx / v->rate : 0.0;
}

static vllm_status emit(vl_video *v, const AVFrame *f, int64_t idx, vl_rgb_frame *out)
{
    int swap = v->info.rotation == 90 || v->info.rotation == 270;
    int ow = v->s.out_width ? v->s.out_width : (swap ? v->info.coded_height : v->info.coded_width);
    int oh = v->s.out_height ? v->s.out_height : (swap ? v->info.coded_width : v->info.coded_height);
    VL_TRY(vl_rgb_convert(&v->conv, f, ow, oh, v->info.rotation, v->s.scale_filter, &out->rgb, &out->stride));
    out->width = ow;
    out->height = oh;
    out->pts = frame_seconds(v, f, idx);
    out->index = idx;
    v->stats.frames_converted++;
    v->yielded++;
    return VLLM_OK;
}

static int in_range_before(const vl_video *v, double t) { return t < v->s.start - 1e-9; }
static int in_range_after(const vl_video *v, double t) { return v->s.end > 0.0 && t >= v->s.end - 1e-9; }

/* Targets whose own frame never came out of the decoder (damaged clip):
 * said when the plan is through, with the counts (once per video for the
 * same counts: the session may resample), so a shortfall is never silent. */
static void say_shortfall(vl_video *v)
{
    if (v->parent || v->shortfall_said || (v->n_replaced == 0 && v->n_missed == 0)) return;
    v->shortfall_said = 1;
    const int64_t said[3] = {v->n_replaced, v->n_missed, v->plan_n};
    if (!memcmp(said, v->said_shortfall, sizeof said)) return; /* a second pass over the same damage */
    memcpy(v->said_shortfall, said, sizeof said);
    VL_LOG_WARN("video: %lld of %lld planned frames were missing or undecodable (%lld frames lost in the stream): "
                "%lld replaced by the nearest decodable frame, %lld not delivered; %lld of %lld delivered",
                (long long)(v->n_replaced + v->n_missed), (long long)v->plan_n, (long long)v->lost.frames,
                (long long)v->n_replaced, (long long)v->n_missed, (long long)(v->plan_n - v->n_missed),
                (long long)v->plan_n);
}

/* Whether frame `idx` may stand in for plan entry `pos` when the target's
 * own frame is missing: it must be nearer to that target than to the
 * neighbouring ones (a frame halfway belongs to the earlier target) and
 * inside the range. The windows are disjoint, so no frame serves two
 * targets and a frame never takes a later target's place. */
static int in_window(const vl_video *v, int64_t pos, int64_t idx)
{
    const int64_t t = v->plan[pos];
    if (pos > 0 ? 2 * idx <= v->plan[pos - 1] + t : idx < v->range_first) return 0;
    if (pos + 1 < v->plan_n ? 2 * idx > t + v->plan[pos + 1] : idx > v->range_last) return 0;
    return 1;
}

/* Yield `f` (numbered idx) for the current plan entry and move on. */
static vllm_status serve(vl_video *v, AVFrame *f, int64_t idx, vl_rgb_frame *out)
{
    vllm_status st = emit(v, f, idx, out);
    av_frame_unref(f);
    av_frame_unref(v->held);
    v->plan_pos++;
    v->retried = 0;
    if (v->plan_pos >= v->plan_n) say_shortfall(v);
    return st;
}

/* The stream ended with plan entries left: the candidate held for the
 * current one serves it; the rest cannot be delivered. */
static vllm_status plan_stream_end(vl_video *v, vl_rgb_frame *out)
{
    if (v->held->buf[0] && v->plan_pos < v->plan_n) {
        v->n_replaced++;
        return serve(v, v->held, v->held_index, out);
    }
    if (v->plan_pos < v->plan_n) {
        if (!v->parent) /* a worker's early end is redone (and reported) by the coordinator */
            vl_video_warn_(v, VL_WARN_EARLY_END, 0,
                           "video: the stream ended before planned frame %lld (%lld of %lld frames delivered)",
                           (long long)v->plan[v->plan_pos], (long long)(v->plan_pos - v->n_missed),
                           (long long)v->plan_n);
        v->truncated = 1;
        v->n_missed += v->plan_n - v->plan_pos;
        v->plan_pos = v->plan_n;
        say_shortfall(v);
    }
    return VLLM_DONE;
}

/* The ffmpeg selection served by seeking has no leeway: a frame past the
 * target (or an early end) redoes the pass sequentially. */
static vllm_status ffps_plan_frame(vl_video *v, int64_t idx, vl_rgb_frame *out)
{
    if (idx != v->plan[v->plan_pos]) {
        av_frame_unref(v->frame);
        v->ffps_fallback = 1;
        return VLLM_DONE;
    }
    int64_t slots = v->plan_count ? v->plan_count[v->plan_pos] : 1;
    vllm_status st = serve(v, v->frame, idx, out);
    if (st == VLLM_OK) {
        v->last_out = *out;
        v->dup_left = slots - 1;
    }
    return st;
}

/* Index policies: each plan entry yields the frame with its index; when
 * that frame is missing (lost to damage, or flagged corrupt), the nearest
 * decodable frame within the entry's window (the last one before the
 * target, held while decoding on, or the first one after it; the earlier
 * on a tie, as a player would still show it), else nothing, reported. */
static vllm_status next_index_policy(vl_video *v, vl_rgb_frame *out)
{
    while (v->plan_pos < v->plan_n) {
        int64_t idx;
        if (v->frame_kept) { /* passed over for the previous target */
            v->frame_kept = 0;
            idx = v->kept_index;
        } else {
            vllm_status st = decode_next(v);
            if (st == VLLM_DONE && v->ffps_seek) {
                v->ffps_fallback = 1;
                return VLLM_DONE;
            }
            if (st == VLLM_DONE && v->first_after_seek && !v->retried) {
                VL_TRY(seek_earlier(v)); /* nothing at all came after the jump */
                continue;
            }
            if (st == VLLM_DONE) return plan_stream_end(v, out);
            VL_TRY(st);
            idx = frame_index(v, v->frame);
            if (v->ffps_seek && frame_ts(v->frame) != v->start_pts + idx * v->grid_step) {
                av_frame_unref(v->frame);
                v->ffps_fallback = 1;
                return VLLM_DONE;
            }
            int first = v->first_after_seek;
            v->first_after_seek = 0;
            if (first && idx > v->plan[v->plan_pos] && !v->retried) {
                /* landed past the target: one keyframe earlier */
                av_frame_unref(v->frame);
                VL_TRY(seek_earlier(v));
                continue;
            }
        }
        const int64_t target = v->plan[v->plan_pos];
        if (v->ffps_seek && idx < target) {
            av_frame_unref(v->frame);
            continue;
        }
        if (v->ffps_seek) return ffps_plan_frame(v, idx, out);
        if (idx < target) { /* the nearest candidate so far should the target be missing */
            if (in_window(v, v->plan_pos, idx) && !(v->held->buf[0] && idx <= v->held_index)) {
                av_frame_unref(v->held);
                av_frame_move_ref(v->held, v->frame);
                v->held_index = idx;
            } else {
                av_frame_unref(v->frame);
            }
            continue;
        }
        if (idx == target) return serve(v, v->frame, idx, out);
        /* the target's frame is missing: idx is the first frame after it */
        const int fits = in_window(v, v->plan_pos, idx);
        if (v->held->buf[0] && (!fits || target - v->held_index <= idx - target)) {
            v->frame_kept = 1; /* it may serve the next target */
            v->kept_index = idx;
            v->n_replaced++;
            return serve(v, v->held, v->held_index, out);
        }
        if (fits) {
            v->n_replaced++;
            return serve(v, v->frame, idx, out);
        }
        v->n_missed++; /* no decodable frame near this target */
        v->plan_pos++;
        v->frame_kept = 1;
        v->kept_index = idx;
        if (v->plan_pos >= v->plan_n) {
            av_frame_unref(v->frame);
            v->frame_kept = 0;
            say_shortfall(v);
        }
    }
    return VLLM_DONE;
}

/* The time rule: a decoded frame is held until its successor shows how long
 * it stays on screen; it is yielded once if any target time falls in
 * [its time, the successor's time). Targets before the first frame take
 * the first frame, targets after the last frame the last one. */
static vllm_status next_time_rule(vl_video *v, vl_rgb_frame *out)
{
    while (v->times_pos < v->times_n) {
        vllm_status st = decode_next(v);
        int have_held = v->held->buf[0] != NULL;
        double t = 0.0;
        int64_t idx = 0;
        if (st == VLLM_OK) {
            idx = frame_index(v, v->frame);
            t = frame_seconds(v, v->frame, idx);
            if (in_range_after(v, t)) {
                av_frame_unref(v->frame);
                st = VLLM_DONE;
            }
        }
        if (st == VLLM_DONE) { /* the held frame stays on screen to the end */
            v->times_pos = v->times_n;
            if (!have_held) return VLLM_DONE;
            st = emit(v, v->held, v->held_index, out);
            av_frame_unref(v->held);
            return st;
        }
        VL_TRY(st);
        /* a frame within a microsecond of a point counts as on screen at it
         * (pts and points are computed differently: x/fps vs ticks·tb) */
        const double eps = 1e-6;
        int due = have_held && t > v->times[v->times_pos] + eps;
        if (due) {
            st = emit(v, v->held, v->held_index, out);
            while (v->times_pos < v->times_n && v->times[v->times_pos] + eps < t) v->times_pos++;
        }
        av_frame_unref(v->held);
        av_frame_move_ref(v->held, v->frame);
        v->held_index = idx;
        if (due) return st;
    }
    return VLLM_DONE;
}

static vllm_status next_simple_policy(vl_video *v, vl_rgb_frame *out)
{
    for (;;) {
        if (v->s.max_frames > 0 && v->yielded >= v->s.max_frames) return VLLM_DONE;
        vllm_status st = decode_next(v);
        if (st == VLLM_DONE) return VLLM_DONE;
        VL_TRY(st);
        int64_t idx = frame_index(v, v->frame);
        double t = frame_seconds(v, v->frame, idx);
        int keep = !in_range_before(v, t);
        if (in_range_after(v, t)) {
            av_frame_unref(v->frame);
            return VLLM_DONE;
        }
        if (v->s.policy == VL_SAMPLE_KEYFRAMES && !v->frame->key_frame) keep = 0;
        if (!keep) {
            av_frame_unref(v->frame);
            continue;
        }
        st = emit(v, v->frame, idx, out);
        av_frame_unref(v->frame);
        return st;
    }
}

/* ffmpeg's fps filter: every decoded frame in the range is fed to the
 * emulation (sample_plan.c); a frame is converted only once it is known to
 * fill at least one output slot, and repeated for duplicated slots. */
static vllm_status emit_held(vl_video *v, int64_t n, vl_rgb_frame *out, int *got)
{
    *got = 0;
    /* after a fallback from the seeking path, the slots it already yielded
     * are not yielded again (nor converted) */
    if (v->skip_out >= n) {
        v->skip_out -= n;
        return VLLM_OK;
    }
    n -= v->skip_out;
    v->skip_out = 0;
    vllm_status st = emit(v, v->held, v->held_index, out);
    if (st == VLLM_OK) {
        v->last_out = *out;
        v->dup_left = n - 1;
        *got = 1;
    }
    return st;
}

static vllm_status next_ffmpeg_fps(vl_video *v, vl_rgb_frame *out)
{
    for (;;) {
        if (v->s.max_frames > 0 && v->yielded >= v->s.max_frames) return VLLM_DONE;
        if (v->dup_left > 0) {
            v->dup_left--;
            *out = v->last_out; /* the conversion buffer still holds it */
            v->yielded++;
            return VLLM_OK;
        }
        if (v->flushed_ffps) return VLLM_DONE;
        vllm_status st = decode_next(v);
        int end = st == VLLM_DONE;
        if (!end) {
            VL_TRY(st);
            int64_t idx = frame_index(v, v->frame);
            double t = frame_seconds(v, v->frame, idx);
            int64_t ts = frame_ts(v->frame);
            if (in_range_after(v, t)) {
                end = 1;
            } else if (in_range_before(v, t) || ts == AV_NOPTS_VALUE) {
                /* vf_fps discards leading frames without a timestamp */
                av_frame_unref(v->frame);
                continue;
            } else {
                int got = 0;
                int64_t slot, n = vl_ffps_push(&v->ffps, ts - v->file_shift, &slot);
                st = n > 0 ? emit_held(v, n, out, &got) : VLLM_OK;
                av_frame_unref(v->held);
                av_frame_move_ref(v->held, v->frame);
                v->held_index = idx;
                if (st != VLLM_OK || got) return st;
                continue;
            }
        }
        av_frame_unref(v->frame);
        v->flushed_ffps = 1;
        int got = 0;
        int64_t slot, n = vl_ffps_finish(&v->ffps, &slot);
        if (n <= 0) return VLLM_DONE;
        VL_TRY(emit_held(v, n, out, &got));
        return got ? VLLM_OK : VLLM_DONE;
    }
}

/* The grid the seeking FFMPEG_FPS path relied on was contradicted by a
 * decoded frame: start over with the sequential selector, skipping the
 * output slots already yielded. */
static vllm_status ffps_fall_back(vl_video *v)
{
    VL_LOG_DEBUG("video: frames are off the constant-rate grid; ffmpeg-fps selection redone sequentially");
    v->ffps_seek = v->ffps_fallback = 0;
    v->seek_ok = 0;
    v->skip_out = v->yielded;
    v->dup_left = 0;
    v->truncated = 0;
    v->flushed_ffps = 0;
    v->phase_n = 0;
    v->phase_sum = v->phase_min = v->phase_max = 0.0;
    av_frame_unref(v->held);
    VL_TRY(vl_ffps_init(&v->ffps, v->st->time_base.num, v->st->time_base.den, v->s.fps));
    return vl_video_rewind_(v);
}

static vllm_status next_ffmpeg_seek(vl_video *v, vl_rgb_frame *out)
{
    if (v->dup_left > 0) {
        v->dup_left--;
        *out = v->last_out; /* the conversion buffer still holds it */
        v->yielded++;
        return VLLM_OK;
    }
    vllm_status st = next_index_policy(v, out);
    if (!v->ffps_fallback) return st;
    if (v->parent) /* a worker's share cannot be redone alone: the coordinator does it */
        return vl_error(VLLM_ERR_STATE, "video: frames are off the constant-rate grid");
    VL_TRY(ffps_fall_back(v));
    return next_ffmpeg_fps(v, out);
}

/* The time rule gives a point whose frame was lost the frame on screen
 * before it (which may already serve an earlier point), so a damaged
 * variable-rate clip can yield fewer frames: said with the counts. */
static void say_time_rule_loss(vl_video *v)
{
    if (v->parent || v->shortfall_said || v->lost.frames == 0) return;
    v->shortfall_said = 1;
    VL_LOG_WARN("video: %lld frames were lost in the stream; %lld frames delivered for %lld planned points in time "
                "(a point whose frame was lost takes the frame on screen before it)",
                (long long)v->lost.frames, (long long)v->yielded, (long long)v->times_n);
}

/* The parallel workers could not deliver plan entry `pos` exactly: stop
 * them and continue on this iterator from there (an ffmpeg-fps plan falls
 * back to the sequential selector, skipping the slots already yielded). */
static vllm_status resume_alone(vl_video *v, int64_t pos)
{
    int64_t yielded = v->yielded;
    vl_par_stop(v);
    v->yielded = yielded;
    if (v->ffps_seek) return ffps_fall_back(v);
    VL_TRY(vl_video_rewind_(v));
    v->plan_pos = pos;
    v->sought_pos = -1;
    v->retried = 0;
    return VLLM_OK;
}

vllm_status vl_video_sample_next(vl_video *v, vl_rgb_frame *out)
{
    if (!v || !out) return vl_error(VLLM_ERR_INVALID_ARG, "video: NULL argument");
    if (!v->active) return vl_error(VLLM_ERR_STATE, "video: vl_video_sample_begin() was not called");
    VL_TRY(vl_video_io_status_(v));
    vllm_status st;
    if (v->par) {
        int64_t resume;
        st = vl_par_next(v, out, &resume);
        if (st != VLLM_OK || resume < 0) {
            if (st != VLLM_OK) v->active = st == VLLM_DONE ? v->active : 0;
            return st;
        }
        VL_TRY(resume_alone(v, resume));
    }
    if (v->ffps_seek)
        st = next_ffmpeg_seek(v, out);
    else if (v->time_rule) {
        st = next_time_rule(v, out);
        if (st == VLLM_DONE) say_time_rule_loss(v);
    } else if (index_policy(v))
        st = next_index_policy(v, out);
    else if (v->s.policy == VL_SAMPLE_FFMPEG_FPS)
        st = next_ffmpeg_fps(v, out);
    else
        st = next_simple_policy(v, out);
    if (st != VLLM_OK) v->active = st == VLLM_DONE ? v->active : 0;
    return st;
}
