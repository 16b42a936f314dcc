/* SmolVLM2 (idefics3 projector, llama text model): its chat turns, still
 * image tiling, video sampling, frame preprocessing and the text around
 * every frame, as transformers' SmolVLMProcessor writes them
 * (processing_smolvlm.py, video_processing_smolvlm.py, transformers
 * 4.5x/main 2025; see decoder/video_prompt.h and decode/video.h), or as
 * llama.cpp's mtmd does for stills in llamacpp_compat mode.
 *
 *   turn:  [<|im_start|>[System: S<end_of_utterance>\n]] User:[ ] media... [\n\n] question <end_of_utterance>\nAssistant:
 *   frame: \nFrame from MM:SS:<fake_token_around_image><global-img>[tokens]<fake_token_around_image>
 *   video: the intro line ("You are provided the following series of ...") then the frames. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decoder/video_prompt.h"
#include "family.h"
#include "session/model.h"

#define FAKE "<fake_token_around_image>"
#define GLOBAL "<global-img>"

/* SmolVLM2 Video-Instruct sampling defaults (its video processor config:
 * fps 1, at most 64 frames). */
#define SMOLVLM_VIDEO_FPS 1.0f
#define SMOLVLM_VIDEO_MAX_FRAMES 64

static int match(const char *projector, const char *arch)
{
    (void)arch;
    return projector && !strcmp(projector, "idefics3");
}

/* The chat template puts "User: " before a video and "User:" before an
 * image (transformers' template: ':' when the first content item is an
 * image, ': ' otherwise); llama.cpp writes "User: " before an image. */
static size_t turn_open(const vllm_model *m, int first, const char *system, vl_media_kind kind, char *buf, size_t cap)
{
    size_t len = 0;
    if (cap) buf[0] = '\0';
    if (first) len = vl_chat_opening(m->chat, system, buf, cap);
    vl_family_put(buf, cap, &len, first ? "User:" : "<end_of_utterance>\nUser:");
    if (kind != VL_MEDIA_IMAGE || m->preproc == VL_PREPROC_LLAMACPP) vl_family_put(buf, cap, &len, " ");
    return len;
}

static size_t turn_close(const vllm_model *m, int after_video, const char *prompt, char *buf, size_t cap)
{
    (void)m;
    size_t len = 0;
    if (cap) buf[0] = '\0';
    if (after_video) vl_family_put(buf, cap, &len, VL_VIDEO_OUTRO);
    vl_family_put(buf, cap, &len, prompt);
    vl_family_put(buf, cap, &len, "<end_of_utterance>\nAssistant:");
    return len;
}

static const char *default_system(const vllm_model *m)
{
    (void)m;
    return NULL;
}

static void video_defaults(const vllm_model *m, float *fps, int32_t *max_frames)
{
    (void)m;
    *fps = SMOLVLM_VIDEO_FPS;
    *max_frames = SMOLVLM_VIDEO_MAX_FRAMES;
}

/* One tile's rows as a block (1-D positions: no grid). */
static vllm_status put_tile(const vl_sink *out, const float *embd, int T)
{
    const vl_patch p = {.embd = embd, .n_tokens = T, .pts = -1, .n_frames = 1};
    const vl_visual_block b = {.patches = &p, .n_patches = 1};
    return out->visual(out->s, &b);
}

static vllm_status image(const vllm_model *m, const vl_rgb8 *img, void *enc,
                         vllm_status (*encode)(void *enc, const uint8_t *u8, int n, int w, int h, const float **out),
                         const vl_sink *out)
{
    vl_vision *v = m->vision;
    const int S = vl_vision_image_size(v), T = vl_vision_tokens_per_tile(v), E = vl_vision_n_embd_out(v);
    vl_tiles tiles;
    memset(&tiles, 0, sizeof tiles);
    VL_TRY(vl_preprocess_image(img, S, vl_vision_preproc_image_size(v), m->preproc, &tiles));
    const float *embd = NULL;
    vllm_status st = encode(enc, tiles.u8, tiles.n_tiles, S, S, &embd);
    int n_pieces = vl_idefics3_layout_size(tiles.rows, tiles.cols);
    vl_prompt_piece *pieces = vllm_is_error(st) ? NULL : calloc((size_t)n_pieces, sizeof *pieces);
    if (!vllm_is_error(st) && !pieces) st = vl_error(VLLM_ERR_NOMEM, "out of memory");
    if (!vllm_is_error(st)) n_pieces = vl_idefics3_layout(tiles.rows, tiles.cols, pieces, n_pieces);
    for (int i = 0; i < n_pieces && !vllm_is_error(st); i++) {
        if (pieces[i].tile >= 0) st = put_tile(out, embd + (size_t)pieces[i].tile * T * E, T);
        else st = out->text(out->s, pieces[i].text);
    }
    free(pieces);
    vl_tiles_free(&tiles);
    return st;
}

static vllm_status video_plan(const vllm_model *m, const vl_video_info *info, int64_t total,
                              const vllm_video_params *p, vl_video_plan *out)
{
    (void)m, (void)total;
    out->sampling.policy = p->n_frames > 0 ? VL_SAMPLE_UNIFORM : VL_SAMPLE_FPS;
    out->sampling.fps = p->fps > 0 ? p->fps : SMOLVLM_VIDEO_FPS;
    out->sampling.max_frames = p->max_frames > 0 ? p->max_frames : SMOLVLM_VIDEO_MAX_FRAMES;
    out->sampling.n_frames = p->n_frames;
    out->video_fps = info->fps;
    out->rule_fps = out->sampling.fps;
    return VLLM_OK;
}

static vllm_status frame_size(const vllm_model *m, int planned, int W, int H, int *w, int *h)
{
    (void)planned, (void)W, (void)H;
    *w = *h = vl_vision_image_size(m->vision);
    return VLLM_OK;
}

static int can_pair(const vllm_model *m, const vl_video_plan *plan, int32_t prev, int32_t next)
{
    (void)m, (void)plan, (void)prev, (void)next;
    return 0; /* one frame per unit */
}

/* Frames are not split: longest edge to S, then S×S (video_processing_smolvlm.py). */
static vllm_status preprocess_frame(const vllm_model *m, const vl_rgb8 *img, int w, int h, uint8_t *out)
{
    (void)h;
    (void)m;
    return vl_preprocess_video_frame(img, w, 0, out);
}

/* A frame's label, markers and visual tokens. */
static vllm_status place_frame(const vl_sink *out, const vl_patch *p)
{
    char label[64];
    vl_video_frame_label(p->pts, label, sizeof label);
    VL_TRY(out->text(out->s, label));
    VL_TRY(out->text(out->s, FAKE GLOBAL));
    const vl_visual_block b = {.patches = p, .n_patches = 1};
    VL_TRY(out->visual(out->s, &b));
    return out->text(out->s, FAKE);
}

/* The intro line for the frames actually given, then each frame. */
static vllm_status place_video(const vllm_model *m, const vl_video_layout_in *v, const vl_sink *out)
{
    (void)m;
    char intro[256];
    vl_video_intro(v->n_frames, v->duration, intro, sizeof intro);
    VL_TRY(out->text(out->s, intro));
    for (int i = 0; i < v->n_patches; i++) VL_TRY(place_frame(out, &v->patches[i]));
    return VLLM_OK;
}

static vllm_status place_live(const vllm_model *m, const vl_patch *p, int grid_h, int grid_w, const vl_sink *out)
{
    (void)m, (void)grid_h, (void)grid_w;
    return place_frame(out, p);
}

/* Tokens of `text` as the session evaluates it (control tokens parsed). */
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
    /* The widest labels: two- and three-digit minutes. A frame's closing
     * marker is counted with it. */
    static const double label_at[] = {0.0, 3599.0, 35999.0};
    for (size_t i = 0; i < sizeof label_at / sizeof label_at[0]; i++) {
        char label[64], text[160];
        vl_video_frame_label(label_at[i], label, sizeof label);
        snprintf(text, sizeof text, "%s" FAKE GLOBAL FAKE, label);
        int32_t n = 0;
        VL_TRY(count_tokens(m, text, &n));
        if (n > out->frame_markers) out->frame_markers = n;
    }
    /* Intro for the default frame count and a long duration, the outro,
     * and the longer of the two turn openings. */
    char intro[256], text[512];
    vl_video_intro(SMOLVLM_VIDEO_MAX_FRAMES, 99 * 3600 + 59 * 60 + 59, intro, sizeof intro);
    snprintf(text, sizeof text, "<end_of_utterance>\nUser: %s%s", intro, VL_VIDEO_OUTRO);
    VL_TRY(count_tokens(m, text, &out->video_overhead));
    out->video_overhead += 1; /* a BOS the first turn may carry */
    return VLLM_OK;
}

const vl_family vl_family_smolvlm2 = {
    .name = "smolvlm2",
    .match = match,
    .caps = 0,
    .frames_per_unit = 1,
    .turn_open = turn_open,
    .turn_close = turn_close,
    .default_system = default_system,
    .video_defaults = video_defaults,
    .image = image,
    .video_plan = video_plan,
    .frame_size = frame_size,
    .can_pair = can_pair,
    .preprocess_frame = preprocess_frame,
    .place_video = place_video,
    .place_live = place_live,
    .measure = measure,
};
