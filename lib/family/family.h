/* Model families: every decision that depends on which model is loaded —
 * the chat turn around media, how a still image or a video frame is
 * preprocessed, the default video sampling, how frames group into
 * temporal patches, the prompt text around visual tokens (markers,
 * labels, timestamps), the position scheme (1-D or M-RoPE) and what a
 * session feature may do to positions — sits behind one table of
 * functions, chosen once when the model is loaded (family.c's registry,
 * matched on the mmproj's projector and the text architecture).
 *
 * The session (lib/session) keeps what is generic: the lock, the queue,
 * the history, batching, evictable spans, offload, compression and
 * statistics. A family turns media into *pieces* handed to a vl_sink the
 * session implements: text (tokenized with special tokens parsed, when
 * visual rows must follow it or the turn ends) and visual blocks (rows
 * of already encoded embeddings with the grid their positions come from).
 *
 * Adding a family: a file here with one vl_family, its entry in family.c,
 * and any new encoder / decoder pieces it needs. */
#ifndef VL_FAMILY_FAMILY_H
#define VL_FAMILY_FAMILY_H

#include <stddef.h>
#include <stdint.h>

#include "decode/video.h"
#include "decoder/mrope_layout.h"
#include "encoder/preprocess.h"
#include "vllm/videollm.h"

struct vllm_model;
struct vl_media_plan;

/* What session features a family's positions allow. */
enum {
    /* Visual rows carry explicit (t, h, w, e) positions computed from
     * their block's grid (vl_mrope_positions); text continues at 1 + the
     * largest position. Without it positions are the rows (1-D). */
    VL_FAM_MROPE = 1u << 0,
};

/* One temporal patch (a frame, a frame pair, an image tile) after the
 * encoder and the pruner: its rows and which cells of its grid they are. */
typedef struct vl_patch {
    const float *embd;     /* n_tokens rows of vl_vision_n_embd_out floats (deepstack columns included) */
    int32_t n_tokens;
    const int32_t *kept;   /* ascending cell indices of the patch grid (h·w cells), NULL = all cells */
    double pts;            /* time of its first frame, seconds; -1 for a still */
    int n_frames;          /* frames encoded in it (1 or 2; 1 for an image tile) */
    int32_t frame;         /* video: ordinal of its first frame among the sampled frames */
    int64_t index0, index1;/* video: frame indices (in the range) of its first and last frame */
} vl_patch;

/* A visual block: n_patches patches laid out in one M-RoPE grid
 * (grid.grid_t = n_patches, t-major), or for 1-D families just rows. */
typedef struct vl_visual_block {
    const vl_patch *patches;
    int n_patches;
    vl_mrope_item grid;    /* VL_FAM_MROPE: grid_t × grid_h × grid_w merged tokens, t_step */
} vl_visual_block;

/* Implemented by the session. */
typedef struct vl_sink {
    vllm_status (*text)(void *s, const char *text);
    vllm_status (*visual)(void *s, const vl_visual_block *b);
    void *s;
} vl_sink;

/* Which media a user turn opens with (the templates differ). */
typedef enum vl_media_kind { VL_MEDIA_IMAGE = 0, VL_MEDIA_VIDEO = 1, VL_MEDIA_FRAME = 2 } vl_media_kind;

/* A planned video sampling: vl_video settings, and for index rules the
 * frames (relative to the range) — sampling.policy VL_SAMPLE_INDICES. */
typedef struct vl_video_plan {
    vl_sampling sampling;
    int64_t *indices;      /* malloc'd, or NULL; freed by vl_video_plan_free */
    double video_fps;      /* the stream's average rate the rule saw (timestamps) */
    double rule_fps;       /* the fps the rule sampled at (temporal ids, llama.cpp stamps) */
} vl_video_plan;
void vl_video_plan_free(vl_video_plan *p);

/* The encoded patches of a video, in order, ready to be placed. */
typedef struct vl_video_layout_in {
    const vl_patch *patches;
    int n_patches;
    int grid_h, grid_w;     /* merged tokens of every patch (dynamic families) */
    double duration;        /* seconds of the range the frames came from */
    int n_frames;           /* frames in the patches */
    const vl_video_plan *plan;
} vl_video_layout_in;

typedef struct vl_family {
    const char *name;      /* "smolvlm2", "qwen2.5-vl", "qwen3-vl": vllm_model_info.family */
    /* 1 when this family runs a model with this mmproj projector (NULL
     * when text only) and text architecture. */
    int (*match)(const char *projector, const char *text_arch);
    unsigned caps;         /* VL_FAM_* */
    int frames_per_unit;   /* video frames per temporal patch: 1 or 2 */

    /* The text that opens a user turn holding media (first: the
     * conversation's opening too, with `system` or the family's default)
     * and the text closing it with the question (after_video: video
     * frames were placed). snprintf-like. */
    size_t (*turn_open)(const struct vllm_model *m, int first, const char *system, vl_media_kind kind, char *buf,
                        size_t cap);
    size_t (*turn_close)(const struct vllm_model *m, int after_video, const char *prompt, char *buf, size_t cap);
    /* The system prompt used when the session gives none (NULL: none). */
    const char *(*default_system)(const struct vllm_model *m);
    /* Default video sampling: fps and frame cap (vllm_model_info). */
    void (*video_defaults)(const struct vllm_model *m, float *fps, int32_t *max_frames);

    /* A still image: preprocess, encode (through `encode`), and place. */
    vllm_status (*image)(const struct vllm_model *m, const vl_rgb8 *img, void *enc,
                         vllm_status (*encode)(void *enc, const uint8_t *u8, int n, int w, int h, const float **out),
                         const vl_sink *out);

    /* Video: the default sampling (params' fps / max_frames / n_frames
     * override it) for a video described by `info` with `total` frames in
     * the range; the frame size for `planned` frames of W × H; whether
     * sampled frame `next` may join sampled frame `prev` in one temporal
     * patch; a frame to planar u8 of w × h; and the placement of the
     * encoded patches (intro, labels or timestamps, blocks). */
    vllm_status (*video_plan)(const struct vllm_model *m, const vl_video_info *info, int64_t total,
                              const vllm_video_params *p, vl_video_plan *out);
    vllm_status (*frame_size)(const struct vllm_model *m, int planned, int W, int H, int *w, int *h);
    int (*can_pair)(const struct vllm_model *m, const vl_video_plan *plan, int32_t prev, int32_t next);
    vllm_status (*preprocess_frame)(const struct vllm_model *m, const vl_rgb8 *img, int w, int h, uint8_t *out);
    vllm_status (*place_video)(const struct vllm_model *m, const vl_video_layout_in *v, const vl_sink *out);
    /* A live pushed patch (its own evictable span). */
    vllm_status (*place_live)(const struct vllm_model *m, const vl_patch *p, int grid_h, int grid_w,
                              const vl_sink *out);

    /* Tokens of the text around one patch (widest case) and a video's
     * fixed text (intro, outro, turn opening), measured with the model's
     * tokenizer, for context planning. */
    vllm_status (*measure)(const struct vllm_model *m, struct vl_media_plan *out);
} vl_family;

/* For turn_open / turn_close: append text at buf + *len, snprintf-like
 * (*len keeps counting the needed length when it does not fit). */
void vl_family_put(char *buf, size_t cap, size_t *len, const char *text);

/* The family of a text model (text_arch) and projector (NULL: text only);
 * NULL when no family takes the projector. */
const vl_family *vl_family_find(const char *projector, const char *text_arch);

#endif
