/* Frame-selection rules (see sample_plan.h). Pure arithmetic; libavutil is
 * used only for its rational helpers so the fps-filter emulation rounds
 * exactly as libavfilter does. */
#include "sample_plan.h"

#include <math.h>

#include <libavutil/avutil.h>
#include <libavutil/mathematics.h>
#include <libavutil/rational.h>

/* numpy.linspace's i-th float64 point (the endpoint is set to stop exactly). */
static double linspace_at(double start, double stop, int64_t num, int64_t i)
{
    if (num <= 1) return start;
    if (i == num - 1) return stop;
    /* numpy: step = (stop-start)/div; y = arange(num)*step + start. Same
     * float64 ops in the same order, so truncation lands on the same
     * integers. */
    double div = (double)(num - 1);
    double delta = stop - start;
    double step = delta / div;
    return step != 0.0 ? (double)i * step + start : (double)i / div * delta + start;
}

void vl_linspace_int(double start, double stop, int64_t num, int64_t *out)
{
    for (int64_t i = 0; i < num; i++) out[i] = (int64_t)linspace_at(start, stop, num, i);
}

int64_t vl_unique_sorted(int64_t *v, int64_t n)
{
    if (n <= 0) return 0;
    int64_t k = 1;
    for (int64_t i = 1; i < n; i++)
        if (v[i] != v[k - 1]) v[k++] = v[i];
    return k;
}

static vllm_status check_input(const vl_plan_input *in)
{
    if (!in || in->total_frames <= 0)
        return vl_error(VLLM_ERR_INVALID_ARG, "sampling: the video has no frames to sample (frame count %lld)",
                        in ? (long long)in->total_frames : 0LL);
    if (!(in->video_fps > 0.0) || !isfinite(in->video_fps))
        return vl_error(VLLM_ERR_INVALID_ARG, "sampling: the video has no usable frame rate (%g)",
                        in->video_fps);
    return VLLM_OK;
}

/* Python's round(): to nearest, ties to even (nearbyint in the default
 * rounding mode). */
static double round_half_even(double x) { return nearbyint(x); }

int64_t vl_plan_smolvlm_capacity(const vl_plan_input *in, double fps, int32_t max_frames)
{
    if (!in || in->total_frames <= 0 || !(in->video_fps > 0.0) || !(fps > 0.0) || max_frames <= 0) return 0;
    double duration = (double)in->total_frames / in->video_fps;
    double est = round_half_even(fps * duration);
    int64_t desired = est < (double)max_frames ? (int64_t)est : max_frames;
    return desired < 1 ? 1 : desired;
}

/* The rule's first and last frame and its frame count (before unique). */
static vllm_status smolvlm_span(const vl_plan_input *in, double fps, int32_t max_frames, int64_t *first,
                                int64_t *last, int64_t *desired_out)
{
    VL_TRY(check_input(in));
    if (!(fps > 0.0) || !isfinite(fps))
        return vl_error(VLLM_ERR_INVALID_ARG, "sampling: fps must be positive (got %g)", fps);
    if (max_frames <= 0)
        return vl_error(VLLM_ERR_INVALID_ARG, "sampling: max_frames must be positive (got %d)", max_frames);
    const double skip_secs = 1.0;
    int64_t total = in->total_frames;
    double duration = (double)total / in->video_fps;
    int64_t desired = vl_plan_smolvlm_capacity(in, fps, max_frames);
    if (desired > VL_PLAN_MAX_FRAMES)
        return vl_error(VLLM_ERR_INVALID_ARG, "sampling: %lld frames requested, above the limit of %d",
                        (long long)desired, VL_PLAN_MAX_FRAMES);
    int64_t start = 0, end = total - 1;
    /* transformers compares against num_frames·fps, num_frames being the
     * max_frames cap (not the estimate). */
    if (duration - 2 * skip_secs > (double)max_frames * fps) {
        start = (int64_t)(skip_secs * in->video_fps);
        end = (int64_t)((double)total - skip_secs * in->video_fps);
    }
    if (start < 0) start = 0;
    if (end > total - 1) end = total - 1;
    if (start >= end) {
        start = 0;
        end = total - 1;
    }
    *first = start;
    *last = end;
    *desired_out = desired;
    return VLLM_OK;
}

vllm_status vl_plan_smolvlm(const vl_plan_input *in, double fps, int32_t max_frames,
                            int64_t *out, int64_t *n_out)
{
    int64_t start, end, desired;
    VL_TRY(smolvlm_span(in, fps, max_frames, &start, &end, &desired));
    vl_linspace_int((double)start, (double)end, desired, out);
    *n_out = vl_unique_sorted(out, desired);
    return VLLM_OK;
}

vllm_status vl_plan_smolvlm_times(const vl_plan_input *in, double fps, int32_t max_frames, double *out,
                                  int64_t *n_out)
{
    int64_t start, end, desired;
    VL_TRY(smolvlm_span(in, fps, max_frames, &start, &end, &desired));
    for (int64_t i = 0; i < desired; i++)
        out[i] = linspace_at((double)start, (double)end, desired, i) / in->video_fps;
    *n_out = desired;
    return VLLM_OK;
}

vllm_status vl_plan_uniform(const vl_plan_input *in, int32_t n, int64_t *out, int64_t *n_out)
{
    if (!in || in->total_frames <= 0)
        return vl_error(VLLM_ERR_INVALID_ARG, "sampling: the video has no frames to sample");
    if (n <= 0 || n > VL_PLAN_MAX_FRAMES)
        return vl_error(VLLM_ERR_INVALID_ARG, "sampling: n_frames must be in 1..%d (got %d)", VL_PLAN_MAX_FRAMES, n);
    vl_linspace_int(0.0, (double)(in->total_frames - 1), n, out);
    *n_out = vl_unique_sorted(out, n);
    return VLLM_OK;
}

/* ---- ffmpeg fps filter ---------------------------------------------------- */

vllm_status vl_ffps_init(vl_ffps *f, int64_t tb_num, int64_t tb_den, double fps)
{
    if (tb_num <= 0 || tb_den <= 0 || tb_num > INT32_MAX || tb_den > INT32_MAX)
        return vl_error(VLLM_ERR_INVALID_ARG, "sampling: invalid time base %lld/%lld", (long long)tb_num,
                        (long long)tb_den);
    if (!(fps > 0.0) || !isfinite(fps) || fps > 1000.0)
        return vl_error(VLLM_ERR_INVALID_ARG, "sampling: fps must be in (0, 1000] (got %g)", fps);
    AVRational r = av_d2q(fps, INT32_MAX);
    if (r.num <= 0 || r.den <= 0) return vl_error(VLLM_ERR_INVALID_ARG, "sampling: fps %g is not representable", fps);
    *f = (vl_ffps){.tb_num = tb_num, .tb_den = tb_den, .rate_num = r.num, .rate_den = r.den};
    return VLLM_OK;
}

/* Input pts -> output slot, as vf_fps.c's read_frame (round=near). */
static int64_t to_out(const vl_ffps *f, int64_t pts)
{
    AVRational in_tb = {(int)f->tb_num, (int)f->tb_den};
    AVRational out_tb = {(int)f->rate_den, (int)f->rate_num};
    return av_rescale_q_rnd(pts, in_tb, out_tb, AV_ROUND_NEAR_INF | AV_ROUND_PASS_MINMAX);
}

int64_t vl_ffps_push(vl_ffps *f, int64_t in_pts, int64_t *emit_first_slot)
{
    int64_t out = to_out(f, in_pts), n = 0;
    if (f->have_held) {
        if (!f->have_next) {
            f->next_pts = f->held_out;
            f->have_next = 1;
        }
        /* Emit the held frame while its successor is not yet acceptable for
         * the slot (vf_fps write_frame: drop when frames[1].pts <= next_pts). */
        *emit_first_slot = f->next_pts;
        if (out > f->next_pts) {
            n = out - f->next_pts;
            f->next_pts = out;
        }
    }
    f->held_out = out;
    f->held_in = in_pts;
    f->have_held = 1;
    return n;
}

int64_t vl_ffps_finish(vl_ffps *f, int64_t *emit_first_slot)
{
    if (!f->have_held) return 0;
    f->have_held = 0;
    if (!f->have_next) {
        f->next_pts = f->held_out;
        f->have_next = 1;
    }
    /* ffmpeg 5.1's CLI signals EOF at the last frame's pts after a round
     * trip through AV_TIME_BASE (send_filter_eof), then vf_fps converts it
     * with the same rounding. */
    AVRational in_tb = {(int)f->tb_num, (int)f->tb_den};
    int64_t us = av_rescale_q(f->held_in, in_tb, AV_TIME_BASE_Q);
    int64_t back = av_rescale_q_rnd(us, AV_TIME_BASE_Q, in_tb, AV_ROUND_NEAR_INF | AV_ROUND_PASS_MINMAX);
    int64_t eof = to_out(f, back);
    *emit_first_slot = f->next_pts;
    if (eof <= f->next_pts) return 0;
    int64_t n = eof - f->next_pts;
    f->next_pts = eof;
    return n;
}

vllm_status vl_ffps_plan_cfr(int64_t tb_num, int64_t tb_den, double fps, int64_t first_pts, int64_t step,
                             int64_t n_frames, int64_t max_out, int64_t *idx, int64_t *count, int64_t *n_out)
{
    vl_ffps f;
    VL_TRY(vl_ffps_init(&f, tb_num, tb_den, fps));
    if (step <= 0 || step > INT32_MAX || n_frames <= 0 || n_frames > VL_PLAN_MAX_FRAMES ||
        first_pts < -(INT64_C(1) << 52) || first_pts > (INT64_C(1) << 52))
        return vl_error(VLLM_ERR_INVALID_ARG, "sampling: bad constant-rate grid (%lld frames, step %lld, first pts %lld)",
                        (long long)n_frames, (long long)step, (long long)first_pts);
    int64_t k = 0, total = 0, slot;
    /* push(i) settles frame i-1; finish settles the last frame */
    for (int64_t i = 0; i <= n_frames && (max_out <= 0 || total < max_out); i++) {
        int64_t n = i < n_frames ? vl_ffps_push(&f, first_pts + i * step, &slot) : vl_ffps_finish(&f, &slot);
        if (n <= 0) continue;
        if (max_out > 0 && n > max_out - total) n = max_out - total;
        idx[k] = i - 1;
        count[k] = n;
        total += n;
        k++;
    }
    *n_out = k;
    return VLLM_OK;
}
