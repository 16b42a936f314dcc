/* Qwen2.5-VL (qwen2.5vl_merger + qwen2vl text) and Qwen3-VL
 * (qwen3vl_merger + qwen3vl text): chatml turns, dynamic-resolution
 * stills and frames, frames paired into temporal patches, M-RoPE
 * positions. The rules themselves are pure functions in qwen_vl_rules.h
 * (transformers v4.57 line, cited there); this file applies them for the
 * session, one way by default and llama.cpp's way in llamacpp_compat.
 *
 * Default (the model's own rules, transformers):
 *  - turn: the GGUF's chat template decides the default system prompt
 *    (Qwen2.5-VL's adds "You are a helpful assistant." when the
 *    conversation has no system message; Qwen3-VL's adds none);
 *  - still: smart_resize with the released preprocessor_config.json
 *    limits (Qwen2.5-VL min_pixels 3136 = 4 tokens, max_pixels 12845056
 *    = 16384 tokens of 28²; Qwen3-VL size {shortest_edge 65536,
 *    longest_edge 16777216} = 64 .. 16384 tokens of 32²), PIL bicubic
 *    stretch; <|vision_start|> block <|vision_end|>;
 *  - video: vl_qwen_video_sample's frames and vl_qwen_video_frame_size's
 *    size, frames paired in order (an odd last frame alone = transformers'
 *    padding by repetition); Qwen2.5-VL: one block for the whole video,
 *    temporal ids scaled by second_per_grid_t · tokens_per_second;
 *    Qwen3-VL: "<t seconds>" + a block per temporal patch.
 * llamacpp_compat (llama.cpp mtmd + mtmd-helper, tests/data/tiny-qwen25vl
 * README 1.8, 2, 3): chatml without a system prompt, llama.cpp's token
 * limits (8 .. 4096 per image or frame) with its letterboxed bilinear
 * resize, video at 4 fps through ffmpeg's fps filter, "Video:", every
 * pair or lone frame its own <|vision_start|>…<|vision_end|> chunk, a
 * "[XmY.YYs]" stamp every 5 s after the frame it labels (a stamped frame
 * never starts a pair).
 * vllm_model image_min_tokens / image_max_tokens bound the tokens of an
 * image or frame in both modes (in the default mode a frame then gets the
 * per-frame rule instead of Qwen3-VL's clip-wide budget). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoder/preprocess_dynamic.h"
#include "family.h"
#include "qwen_vl_rules.h"
#include "session/model.h"

#define VSTART "<|vision_start|>"
#define VEND "<|vision_end|>"
#define QWEN25_DEFAULT_SYSTEM "You are a helpful assistant."
#define LLAMACPP_VIDEO_FPS 4.0

/* Released preprocessor_config.json limits for stills, in tokens. */
#define QWEN25_IMAGE_MIN_TOKENS 4
#define QWEN25_IMAGE_MAX_TOKENS 16384
#define QWEN3_IMAGE_MIN_TOKENS 64
#define QWEN3_IMAGE_MAX_TOKENS 16384

static vl_qwen_family which(const vllm_model *m)
{
    return !strcmp(vl_vision_projector_name(m->vision), "qwen3vl_merger") ? VL_QWEN3VL : VL_QWEN25VL;
}

static int match25(const char *projector, const char *arch)
{
    (void)arch;
    return projector && !strcmp(projector, "qwen2.5vl_merger");
}

static int match3(const char *projector, const char *arch)
{
    (void)arch;
    return projector && !strcmp(projector, "qwen3vl_merger");
}

static size_t turn_open(const vllm_model *m, int first, const char *system, vl_media_kind kind, char *buf, size_t cap)
{
    (void)m, (void)kind;
    size_t len = 0;
    if (cap) buf[0] = '\0';
    if (first) len = vl_chat_opening(VL_CHAT_CHATML, system, buf, cap);
    vl_family_put(buf, cap, &len, first ? "<|im_start|>user\n" : "<|im_end|>\n<|im_start|>user\n");
    return len;
}

static size_t turn_close(const vllm_model *m, int after_video, const char *prompt, char *buf, size_t cap)
{
    (void)m, (void)after_video;
    size_t len = 0;
    if (cap) buf[0] = '\0';
    vl_family_put(buf, cap, &len, prompt);
    vl_family_put(buf, cap, &len, "<|im_end|>\n<|im_start|>assistant\n");
    return len;
}

/* The Jinja template's default system turn, unless llama.cpp's built-in
 * chatml (no system prompt) is followed. */
static const char *default_system(const vllm_model *m)
{
    if (m->llamacpp_compat) return NULL;
    vl_str t = {0};
    if (vllm_is_error(vl_gguf_get_str(m->gguf, "tokenizer.chat_template", "", &t)) || !t.ptr) return NULL;
    const size_t n = strlen(QWEN25_DEFAULT_SYSTEM);
    for (uint64_t i = 0; i + n <= t.len; i++)
        if (!memcmp(t.ptr + i, QWEN25_DEFAULT_SYSTEM, n)) return QWEN25_DEFAULT_SYSTEM;
    return NULL;
}

static void video_defaults(const vllm_model *m, float *fps, int32_t *max_frames)
{
    if (m->llamacpp_compat) {
        *fps = (float)LLAMACPP_VIDEO_FPS;
        *max_frames = 0; /* llama.cpp's helper reads every slot of the fps filter */
        return;
    }
    const vl_qwen_video_rules r = vl_qwen_video_rules_default(which(m));
    *fps = (float)r.fps;
    *max_frames = r.max_frames;
}

/* Pixel limits of one image or frame: the model's token limits, else the
 * mode's defaults. */
static vllm_status pixel_limits(const vllm_model *m, int64_t *min_px, int64_t *max_px)
{
    const int a = vl_vision_align(m->vision);
    int lo, hi;
    if (m->llamacpp_compat) lo = VL_QWEN_LLAMACPP_MIN_TOKENS, hi = VL_QWEN_LLAMACPP_MAX_TOKENS;
    else if (which(m) == VL_QWEN3VL) lo = QWEN3_IMAGE_MIN_TOKENS, hi = QWEN3_IMAGE_MAX_TOKENS;
    else lo = QWEN25_IMAGE_MIN_TOKENS, hi = QWEN25_IMAGE_MAX_TOKENS;
    if (m->image_min_tokens > 0) lo = m->image_min_tokens;
    if (m->image_max_tokens > 0) hi = m->image_max_tokens;
    if (lo > hi)
        return vl_error(VLLM_ERR_INVALID_ARG, "image_min_tokens %d is above image_max_tokens %d", lo, hi);
    VL_TRY(vl_qwen_token_pixels(lo, a, 1, min_px));
    return vl_qwen_token_pixels(hi, a, 1, max_px);
}

static vl_preproc_mode mode(const vllm_model *m) { return m->llamacpp_compat ? VL_PREPROC_LLAMACPP : VL_PREPROC_HF; }

/* One block of grid_t patches placed between the vision markers. */
static vllm_status put_block(const vl_sink *out, const vl_patch *p, int n, int gh, int gw, double t_step)
{
    const vl_visual_block b = {.patches = p, .n_patches = n, .grid = {.grid_t = n, .grid_h = gh, .grid_w = gw, .t_step = t_step}};
    VL_TRY(out->text(out->s, VSTART));
    VL_TRY(out->visual(out->s, &b));
    return out->text(out->s, VEND);
}

static vllm_status image(const vllm_model *m, const vl_rgb8 *img, void *enc,
                         vllm_status (*encode)(void *enc, const uint8_t *u8, int n, int w, int h, const float **out),
                         const vl_sink *out)
{
    const int a = vl_vision_align(m->vision);
    int64_t lo, hi;
    VL_TRY(pixel_limits(m, &lo, &hi));
    vl_frame8 f;
    VL_TRY(vl_preprocess_dynamic(img, a, lo, hi, mode(m), &f));
    const float *embd = NULL;
    vllm_status st = encode(enc, f.u8, 1, f.width, f.height, &embd);
    const vl_patch p = {.embd = embd, .n_tokens = (f.width / a) * (f.height / a), .pts = -1, .n_frames = 1};
    /* vl_qwen_layout_still: <|vision_start|> <|image_pad|>×(h·w) <|vision_end|> */
    if (!vllm_is_error(st)) st = put_block(out, &p, 1, f.height / a, f.width / a, 0);
    vl_frame8_free(&f);
    return st;
}

static vllm_status video_plan(const vllm_model *m, const vl_video_info *info, int64_t total,
                              const vllm_video_params *p, vl_video_plan *out)
{
    out->video_fps = info->fps;
    if (p->n_frames > 0) { /* the caller's frame count, spread uniformly */
        out->sampling.policy = VL_SAMPLE_UNIFORM;
        out->sampling.n_frames = p->n_frames;
        out->rule_fps = info->duration > 0 ? p->n_frames / info->duration : LLAMACPP_VIDEO_FPS;
        return VLLM_OK;
    }
    if (m->llamacpp_compat) {
        out->sampling.policy = VL_SAMPLE_FFMPEG_FPS;
        out->sampling.fps = p->fps > 0 ? p->fps : LLAMACPP_VIDEO_FPS;
        out->sampling.max_frames = p->max_frames > 0 ? p->max_frames : 0;
        out->rule_fps = out->sampling.fps;
        return VLLM_OK;
    }
    vl_qwen_video_rules r = vl_qwen_video_rules_default(which(m));
    if (p->fps > 0) r.fps = p->fps;
    if (p->max_frames > 0) r.max_frames = p->max_frames;
    if (total < 1) return vl_error(VLLM_ERR_FORMAT, "the video reports no frame count: the model's sampling rule needs it");
    const int cap = VL_QWEN_MAX_SAMPLED(&r);
    int32_t *idx = malloc((size_t)(cap > 0 ? cap : 1) * sizeof *idx);
    out->indices = malloc((size_t)(cap > 0 ? cap : 1) * sizeof *out->indices);
    if (!idx || !out->indices) {
        free(idx);
        return vl_error(VLLM_ERR_NOMEM, "out of memory for a %d-frame plan", cap);
    }
    int n = 0;
    vllm_status st = vl_qwen_video_sample(which(m), &r, total, info->fps, idx, cap, &n);
    for (int i = 0; i < n && !vllm_is_error(st); i++) out->indices[i] = idx[i];
    free(idx);
    VL_TRY(st);
    /* an index list with repeats (more frames asked than the clip has)
     * keeps each frame once */
    int u = 0;
    for (int i = 0; i < n; i++)
        if (u == 0 || out->indices[i] > out->indices[u - 1]) out->indices[u++] = out->indices[i];
    out->sampling.policy = VL_SAMPLE_INDICES;
    out->sampling.indices = out->indices;
    out->sampling.n_indices = u;
    out->rule_fps = r.fps;
    return VLLM_OK;
}

static vllm_status frame_size(const vllm_model *m, int planned, int W, int H, int *w, int *h)
{
    if (m->llamacpp_compat || m->image_min_tokens > 0 || m->image_max_tokens > 0) {
        int64_t lo, hi;
        VL_TRY(pixel_limits(m, &lo, &hi));
        return vl_smart_size(W, H, vl_vision_align(m->vision), lo, hi, mode(m), w, h);
    }
    const vl_qwen_video_rules r = vl_qwen_video_rules_default(which(m));
    return vl_qwen_video_frame_size(which(m), &r, planned > 0 ? planned : 1, W, H, w, h);
}

/* Default: any two frames in order; llama.cpp: consecutive frames, the
 * first not followed by a stamp. */
static int can_pair(const vllm_model *m, const vl_video_plan *plan, int32_t prev, int32_t next)
{
    if (!m->llamacpp_compat) return 1;
    return next == prev + 1 && !vl_qwen_llamacpp_frame_stamped(prev, plan->rule_fps);
}

static vllm_status preprocess_frame(const vllm_model *m, const vl_rgb8 *img, int w, int h, uint8_t *out)
{
    vl_frame8 f;
    VL_TRY(vl_preprocess_dynamic_to(img, w, h, mode(m), &f));
    memcpy(out, f.u8, (size_t)3 * w * h);
    vl_frame8_free(&f);
    return VLLM_OK;
}

/* Qwen3-VL's "<t seconds>" of a patch: the mean of its first and last
 * frame's time (processing_qwen3_vl.py _calculate_timestamps). */
static vllm_status qwen3_stamp(const vl_patch *p, double video_fps, char *buf, int cap)
{
    const int32_t idx[2] = {(int32_t)p->index0, (int32_t)p->index1};
    double t = 0;
    VL_TRY(vl_qwen3_group_times(idx, 2, 2, video_fps, &t, 1));
    vl_qwen3_timestamp_text(t, buf, cap);
    return VLLM_OK;
}

static vllm_status place_video(const vllm_model *m, const vl_video_layout_in *v, const vl_sink *out)
{
    const double fps = v->plan->rule_fps;
    if (m->llamacpp_compat) { /* vl_qwen_layout_video_llamacpp, patch by patch */
        VL_TRY(out->text(out->s, "Video:"));
        for (int i = 0; i < v->n_patches; i++) {
            const vl_patch *p = &v->patches[i];
            VL_TRY(put_block(out, p, 1, v->grid_h, v->grid_w, 0));
            const int last = p->frame + p->n_frames - 1;
            if (vl_qwen_llamacpp_frame_stamped(last, fps)) {
                char stamp[40];
                vl_qwen_llamacpp_stamp_text(vl_qwen_llamacpp_frame_ms(last, fps), stamp, sizeof stamp);
                VL_TRY(out->text(out->s, stamp));
            }
        }
        return VLLM_OK;
    }
    if (which(m) == VL_QWEN25VL) { /* one block, temporal ids in absolute time */
        vl_qwen_video_rules r = vl_qwen_video_rules_default(VL_QWEN25VL);
        r.fps = fps;
        return put_block(out, v->patches, v->n_patches, v->grid_h, v->grid_w, vl_qwen25_video_t_step(&r));
    }
    for (int i = 0; i < v->n_patches; i++) {
        char stamp[40];
        VL_TRY(qwen3_stamp(&v->patches[i], v->plan->video_fps, stamp, sizeof stamp));
        VL_TRY(out->text(out->s, stamp));
        VL_TRY(put_block(out, &v->patches[i], 1, v->grid_h, v->grid_w, 0));
    }
    return VLLM_OK;
}

/* A pushed pair (or lone frame): its own block; Qwen3-VL's timestamp is
 * the mean of its frames' pts (index0/index1 carry them in ms). */
static vllm_status place_live(const vllm_model *m, const vl_patch *p, int grid_h, int grid_w, const vl_sink *out)
{
    if (!m->llamacpp_compat && which(m) == VL_QWEN3VL) {
        char stamp[40];
        vl_qwen3_timestamp_text((double)(p->index0 + p->index1) / 2000.0, stamp, sizeof stamp);
        VL_TRY(out->text(out->s, stamp));
    }
    return put_block(out, p, 1, grid_h, grid_w, 0);
}

static vllm_status count_tokens(const vllm_model *m, const char *text, int32_t *n)
{
    vl_tokens toks = {0};
    vllm_status st = vl_tokenizer_encode(m->tok, text, strlen(text), 0, 1, &toks);
    free(toks.ids);
    if (!vllm_is_error(st)) *n = (int32_t)toks.n;
    return st;
}

static vllm_status measure(const vllm_model *m, vl_media_plan *out)
{
    memset(out, 0, sizeof *out);
    /* per patch: the markers and the widest stamp of either mode */
    int32_t a = 0, b = 0;
    VL_TRY(count_tokens(m, "<99999.9 seconds>" VSTART VEND, &a));
    VL_TRY(count_tokens(m, VSTART VEND "[999m59.99s]", &b));
    out->frame_markers = a > b ? a : b;
    VL_TRY(count_tokens(m, "<|im_start|>system\n" QWEN25_DEFAULT_SYSTEM "<|im_end|>\n<|im_end|>\n<|im_start|>user\nVideo:",
                        &out->video_overhead));
    return VLLM_OK;
}

#define QWEN_FAMILY(id, name_, match_)                                                                             \
    const vl_family id = {                                                                                         \
        .name = name_,                                                                                             \
        .match = match_,                                                                                           \
        .caps = VL_FAM_MROPE,                                                                                      \
        .frames_per_unit = 2,                                                                                      \
        .turn_open = turn_open,                                                                                    \
        .turn_close = turn_close,                                                                                  \
        .default_system = default_system,                                                                          \
        .video_defaults = video_defaults,                                                                          \
        .image = image,                                                                                            \
        .video_plan = video_plan,                                                                                  \
        .frame_size = frame_size,                                                                                  \
        .can_pair = can_pair,                                                                                      \
        .preprocess_frame = preprocess_frame,                                                                      \
        .place_video = place_video,                                                                                \
        .place_live = place_live,                                                                                  \
        .measure = measure,                                                                                        \
    }

QWEN_FAMILY(vl_family_qwen25vl, "qwen2.5-vl", match25);
QWEN_FAMILY(vl_family_qwen3vl, "qwen3-vl", match3);
