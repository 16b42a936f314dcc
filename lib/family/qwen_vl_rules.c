#include "family/qwen_vl_rules.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "encoder/preprocess_dynamic.h"

vl_qwen_video_rules vl_qwen_video_rules_default(vl_qwen_family f)
{
    vl_qwen_video_rules r = {.fps = 2, .min_frames = 4, .max_frames = 768, .temporal_patch = 2, .merge = 2,
                             .tokens_per_second = 2};
    r.patch = f == VL_QWEN3VL ? 16 : 14;
    const int64_t unit = (int64_t)(r.patch * r.merge) * (r.patch * r.merge);
    r.min_pixels = 128 * unit;
    r.max_pixels = 768 * unit;
    return r;
}

static vllm_status check_rules(const vl_qwen_video_rules *r)
{
    if (!(r->fps > 0 && r->fps <= 1000))
        return vl_error(VLLM_ERR_INVALID_ARG, "Qwen video rules: fps %g is outside (0, 1000]", r->fps);
    if (r->min_frames < 1 || r->max_frames < r->min_frames || r->max_frames > 1 << 20)
        return vl_error(VLLM_ERR_INVALID_ARG, "Qwen video rules: frame limits [%d, %d] are invalid", r->min_frames,
                        r->max_frames);
    if (r->temporal_patch < 1 || r->temporal_patch > 16 || r->patch < 1 || r->patch > 1024 || r->merge < 1 || r->merge > 16)
        return vl_error(VLLM_ERR_INVALID_ARG, "Qwen video rules: temporal patch %d / patch %d / merge %d out of range",
                        r->temporal_patch, r->patch, r->merge);
    return VLLM_OK;
}

/* Qwen2VLVideoProcessor.sample_frames (fps path) */
static vllm_status sample_qwen25(const vl_qwen_video_rules *r, int64_t total, double vfps, int32_t *idx, int cap,
                                 int *n_out)
{
    const int64_t tp = r->temporal_patch;
    const int64_t max_f = (int64_t)floor((double)(r->max_frames < total ? r->max_frames : total) / (double)tp) * tp;
    double n = (double)total / vfps * r->fps;
    if (n < r->min_frames) n = r->min_frames;
    if (n > (double)max_f) n = (double)max_f;
    if (n > (double)total) n = (double)total;
    const int64_t num = (int64_t)floor(n / (double)tp) * tp;
    if (num < 1)
        return vl_error(VLLM_ERR_INVALID_ARG,
                        "Qwen2.5-VL video sampling: %lld frames give no temporal patch of %d frames (transformers fails too)",
                        (long long)total, r->temporal_patch);
    /* torch.arange(0, total, step): element i = float32(i * step) (computed
     * in double), then .int() truncates; the float32 rounding matters where
     * i * step is just below an integer. Its size is ceil(total / step) in
     * double, which for some pairs (17 frames -> 14, 60 -> 26, ...) is
     * num + 1 with the extra element float32(~total) = total: transformers
     * then fails indexing the video. We keep the num frames it meant. */
    const double step = (double)total / (double)num;
    const int64_t count = num;
    if (count > cap)
        return vl_error(VLLM_ERR_INVALID_ARG, "Qwen2.5-VL video sampling: %lld frames exceed the buffer of %d",
                        (long long)count, cap);
    for (int64_t i = 0; i < count; i++) idx[i] = (int32_t)(float)((double)i * step);
    *n_out = (int)count;
    return VLLM_OK;
}

/* Qwen3VLVideoProcessor.sample_frames (fps path) */
static vllm_status sample_qwen3(const vl_qwen_video_rules *r, int64_t total, double vfps, int32_t *idx, int cap,
                                int *n_out)
{
    double want = (double)total / vfps * r->fps; /* int(): truncation toward zero */
    int64_t n = want >= 9.0e15 ? (int64_t)9e15 : (int64_t)want;
    if (n < r->min_frames) n = r->min_frames;
    if (n > r->max_frames) n = r->max_frames;
    if (n > total) n = total;
    if (n > cap)
        return vl_error(VLLM_ERR_INVALID_ARG, "Qwen3-VL video sampling: %lld frames exceed the buffer of %d", (long long)n,
                        cap);
    /* numpy linspace: start + i * step with step = (stop - start) / (n - 1),
     * the last point exactly stop; .round() half to even */
    const double stop = (double)(total - 1);
    if (n == 1) idx[0] = 0;
    for (int64_t i = 0; n > 1 && i < n; i++) {
        double v = i == n - 1 ? stop : (double)i * (stop / (double)(n - 1));
        idx[i] = (int32_t)nearbyint(v);
    }
    *n_out = (int)n;
    return VLLM_OK;
}

vllm_status vl_qwen_video_sample(vl_qwen_family f, const vl_qwen_video_rules *r, int64_t total_frames, double video_fps,
                                 int32_t *idx, int cap, int *n_out)
{
    *n_out = 0;
    VL_TRY(check_rules(r));
    if (total_frames < 1 || total_frames > INT32_MAX)
        return vl_error(VLLM_ERR_INVALID_ARG, "Qwen video sampling: total frame count %lld is outside [1, %d]",
                        (long long)total_frames, INT32_MAX);
    if (!(video_fps > 0 && isfinite(video_fps)))
        return vl_error(VLLM_ERR_INVALID_ARG, "Qwen video sampling: video frame rate %g is not a positive number",
                        video_fps);
    return f == VL_QWEN3VL ? sample_qwen3(r, total_frames, video_fps, idx, cap, n_out)
                           : sample_qwen25(r, total_frames, video_fps, idx, cap, n_out);
}

/* video_processing_qwen3_vl.py smart_resize: the clip's frame count is in
 * the budget. Python floats, round() half to even. */
static vllm_status size_qwen3(int T, int W, int H, int tf, int factor, int64_t min_px, int64_t max_px, int *ow, int *oh)
{
    if (T < tf)
        return vl_error(VLLM_ERR_INVALID_ARG,
                        "Qwen3-VL video: %d sampled frame(s) is fewer than the temporal patch %d (transformers refuses too)", T,
                        tf);
    double h = H, w = W;
    if (H < factor || W < factor) { /* int(height * scale) */
        const double s = fmax((double)factor / H, (double)factor / W);
        h = floor(H * s);
        w = floor(W * s);
    }
    if (fmax(h, w) / fmin(h, w) > 200)
        return vl_error(VLLM_ERR_INVALID_ARG, "Qwen3-VL video: aspect ratio of %dx%d is above 200", W, H);
    double hb = nearbyint(h / factor) * factor, wb = nearbyint(w / factor) * factor;
    const double tb = nearbyint((double)T / tf) * tf;
    if (tb * hb * wb > (double)max_px) {
        const double beta = sqrt((double)T * h * w / (double)max_px);
        hb = fmax(factor, floor(h / beta / factor) * factor);
        wb = fmax(factor, floor(w / beta / factor) * factor);
    } else if (tb * hb * wb < (double)min_px) {
        const double beta = sqrt((double)min_px / ((double)T * h * w));
        hb = ceil(h * beta / factor) * factor;
        wb = ceil(w * beta / factor) * factor;
    }
    if (hb < factor || wb < factor || hb > 1 << 20 || wb > 1 << 20)
        return vl_error(VLLM_ERR_INVALID_ARG, "Qwen3-VL video: %dx%d gives an unusable size %.0fx%.0f", W, H, wb, hb);
    *ow = (int)wb;
    *oh = (int)hb;
    return VLLM_OK;
}

vllm_status vl_qwen_video_frame_size(vl_qwen_family f, const vl_qwen_video_rules *r, int n_frames, int W, int H,
                                     int *out_w, int *out_h)
{
    VL_TRY(check_rules(r));
    if (W < 1 || H < 1 || W > 1 << 16 || H > 1 << 16)
        return vl_error(VLLM_ERR_INVALID_ARG, "Qwen video: frame size %dx%d is outside 1..65536", W, H);
    const int factor = r->patch * r->merge;
    if (f == VL_QWEN3VL)
        return size_qwen3(n_frames, W, H, r->temporal_patch, factor, r->min_pixels, r->max_pixels, out_w, out_h);
    return vl_smart_size(W, H, factor, r->min_pixels, r->max_pixels, VL_PREPROC_HF, out_w, out_h);
}

double vl_qwen25_video_t_step(const vl_qwen_video_rules *r)
{
    /* second_per_grid_t = temporal_patch_size / fps, times tokens_per_second */
    return (double)r->temporal_patch / r->fps * r->tokens_per_second;
}

vllm_status vl_qwen3_group_times(const int32_t *idx, int n, int temporal_patch, double video_fps, double *times, int cap)
{
    if (n < 1 || temporal_patch < 1 || !(video_fps > 0 && isfinite(video_fps)))
        return vl_error(VLLM_ERR_INVALID_ARG, "Qwen3-VL timestamps: %d frames, temporal patch %d, fps %g are invalid", n,
                        temporal_patch, video_fps);
    const int groups = (n + temporal_patch - 1) / temporal_patch;
    if (groups > cap)
        return vl_error(VLLM_ERR_INVALID_ARG, "Qwen3-VL timestamps: %d groups exceed the buffer of %d", groups, cap);
    for (int g = 0; g < groups; g++) {
        int first = g * temporal_patch, last = first + temporal_patch - 1;
        if (last >= n) last = n - 1; /* the list is padded with its last index */
        times[g] = (idx[first] / video_fps + idx[last] / video_fps) / 2;
    }
    return VLLM_OK;
}

void vl_qwen3_timestamp_text(double seconds, char *buf, int cap) { snprintf(buf, (size_t)cap, "<%.1f seconds>", seconds); }

void vl_qwen_llamacpp_stamp_text(int64_t ms, char *buf, int cap)
{
    snprintf(buf, (size_t)cap, "[%dm%.2fs]", (int)(ms / 60000), (double)(ms % 60000) / 1000.0);
}

/* ---- layouts ----------------------------------------------------------- */

typedef struct {
    vl_qwen_piece *out;
    int cap, n;
} piece_list;

static vllm_status add_text(piece_list *l, const char *text)
{
    if (l->n == l->cap) return vl_error(VLLM_ERR_INVALID_ARG, "Qwen prompt layout: more than %d pieces", l->cap);
    vl_qwen_piece *p = &l->out[l->n++];
    memset(p, 0, sizeof *p);
    p->kind = VL_QWEN_PIECE_TEXT;
    snprintf(p->text, sizeof p->text, "%s", text);
    return VLLM_OK;
}

static vllm_status add_visual(piece_list *l, vl_qwen_pad pad, int first, int nf, int t, int h, int w, double t_step)
{
    VL_TRY(add_text(l, "<|vision_start|>"));
    if (l->n == l->cap) return vl_error(VLLM_ERR_INVALID_ARG, "Qwen prompt layout: more than %d pieces", l->cap);
    vl_qwen_piece *p = &l->out[l->n++];
    memset(p, 0, sizeof *p);
    p->kind = VL_QWEN_PIECE_VISUAL;
    p->pad = pad;
    p->first_frame = first;
    p->n_frames = nf;
    p->grid = (vl_mrope_item){.grid_t = t, .grid_h = h, .grid_w = w, .t_step = t_step};
    return add_text(l, "<|vision_end|>");
}

static vllm_status check_grid(int h, int w)
{
    if (h < 1 || w < 1 || h > 1 << 14 || w > 1 << 14)
        return vl_error(VLLM_ERR_INVALID_ARG, "Qwen prompt layout: token grid %dx%d is outside 1..16384", w, h);
    return VLLM_OK;
}

vllm_status vl_qwen_layout_still(int grid_h, int grid_w, vl_qwen_piece *out, int cap, int *n_out)
{
    VL_TRY(check_grid(grid_h, grid_w));
    piece_list l = {out, cap, 0};
    VL_TRY(add_visual(&l, VL_QWEN_PAD_IMAGE, 0, 1, 1, grid_h, grid_w, 0));
    *n_out = l.n;
    return VLLM_OK;
}

vllm_status vl_qwen_layout_video(vl_qwen_family f, const vl_qwen_video_rules *r, int n_frames, int grid_h, int grid_w,
                                 const double *group_times, vl_qwen_piece *out, int cap, int *n_out)
{
    VL_TRY(check_rules(r));
    VL_TRY(check_grid(grid_h, grid_w));
    if (n_frames < 1 || n_frames > 1 << 20)
        return vl_error(VLLM_ERR_INVALID_ARG, "Qwen prompt layout: %d frames is outside 1..%d", n_frames, 1 << 20);
    const int tp = r->temporal_patch, groups = (n_frames + tp - 1) / tp; /* padded with the last frame */
    piece_list l = {out, cap, 0};
    if (f == VL_QWEN25VL) {
        VL_TRY(add_visual(&l, VL_QWEN_PAD_VIDEO, 0, n_frames, groups, grid_h, grid_w, vl_qwen25_video_t_step(r)));
    } else {
        if (!group_times) return vl_error(VLLM_ERR_INVALID_ARG, "Qwen3-VL prompt layout: the group times are missing");
        for (int g = 0; g < groups; g++) {
            char stamp[40];
            vl_qwen3_timestamp_text(group_times[g], stamp, sizeof stamp);
            VL_TRY(add_text(&l, stamp));
            const int first = g * tp, nf = first + tp <= n_frames ? tp : n_frames - first;
            VL_TRY(add_visual(&l, VL_QWEN_PAD_VIDEO, first, nf, 1, grid_h, grid_w, 0));
        }
    }
    *n_out = l.n;
    return VLLM_OK;
}

/* mtmd-helper: a stamp every 5000 ms, after the first frame at or past it */
#define LLAMACPP_STAMP_MS 5000

static int64_t frame_ms(int k, double fps) { return (int64_t)floor((double)k * 1000.0 / fps + 1e-9); }

int vl_qwen_llamacpp_frame_stamped(int k, double fps)
{
    /* the layout's next_stamp walks the multiples of 5000 ms, one per
     * stamped frame: frame k is stamped when a multiple lies in
     * (ms(k-1), ms(k)] (frames more than 5000 ms apart: every frame) */
    if (k <= 0) return 1;
    return frame_ms(k, fps) / LLAMACPP_STAMP_MS > frame_ms(k - 1, fps) / LLAMACPP_STAMP_MS ||
           frame_ms(k, fps) - frame_ms(k - 1, fps) >= LLAMACPP_STAMP_MS;
}

int64_t vl_qwen_llamacpp_frame_ms(int k, double fps) { return frame_ms(k, fps); }

int vl_qwen_layout_llamacpp_cap(int n_frames, double fps)
{
    if (n_frames < 1 || !(fps > 0)) return 1;
    const int64_t stamps = frame_ms(n_frames - 1, fps) / LLAMACPP_STAMP_MS + 1;
    /* "Video:", per frame at most one chunk of 3 pieces, the stamps */
    return (int)(1 + 3 * (int64_t)n_frames + stamps);
}

vllm_status vl_qwen_layout_video_llamacpp(int n_frames, double fps, int grid_h, int grid_w, vl_qwen_piece *out, int cap,
                                          int *n_out)
{
    VL_TRY(check_grid(grid_h, grid_w));
    if (n_frames < 1 || n_frames > 1 << 20 || !(fps > 0 && fps <= 1000))
        return vl_error(VLLM_ERR_INVALID_ARG, "llama.cpp video layout: %d frames at %g fps are invalid", n_frames, fps);
    piece_list l = {out, cap, 0};
    VL_TRY(add_text(&l, "Video:"));
    int64_t next_stamp = 0;
    int k = 0;
    while (k < n_frames) {
        /* a frame followed by a stamp stands alone: the text breaks pairing */
        const int stamped = frame_ms(k, fps) >= next_stamp;
        const int nf = !stamped && k + 1 < n_frames ? 2 : 1;
        VL_TRY(add_visual(&l, VL_QWEN_PAD_NONE, k, nf, 1, grid_h, grid_w, 0));
        /* the second frame of a pair may itself be stamped */
        const int last = k + nf - 1;
        if (frame_ms(last, fps) >= next_stamp) {
            char stamp[40];
            vl_qwen_llamacpp_stamp_text(frame_ms(last, fps), stamp, sizeof stamp);
            VL_TRY(add_text(&l, stamp));
            next_stamp += LLAMACPP_STAMP_MS;
        }
        k += nf;
    }
    *n_out = l.n;
    return VLLM_OK;
}

vllm_status vl_qwen_layout_mrope_items(const vl_qwen_piece *pieces, int n, const int32_t *text_tokens,
                                       vl_mrope_item *items)
{
    for (int i = 0; i < n; i++) {
        if (pieces[i].kind == VL_QWEN_PIECE_VISUAL) {
            items[i] = pieces[i].grid;
            items[i].n_text = 0;
        } else {
            if (text_tokens[i] < 1)
                return vl_error(VLLM_ERR_INVALID_ARG, "Qwen prompt layout: text piece %d ('%s') has %d tokens", i,
                                pieces[i].text, text_tokens[i]);
            items[i] = (vl_mrope_item){.n_text = text_tokens[i]};
        }
    }
    return VLLM_OK;
}

vllm_status vl_qwen_token_pixels(int tokens, int patch, int merge, int64_t *pixels)
{
    if (tokens < 0 || tokens > 1 << 24 || patch < 1 || patch > 1024 || merge < 1 || merge > 16)
        return vl_error(VLLM_ERR_INVALID_ARG, "image token limit %d (patch %d, merge %d) is out of range", tokens, patch,
                        merge);
    const int64_t unit = (int64_t)patch * merge;
    *pixels = (int64_t)tokens * unit * unit;
    return VLLM_OK;
}
