/* The Qwen-VL families' prompt rules (Qwen2.5-VL, Qwen3-VL) as pure
 * functions: which frames of a video are sampled, at what size, what the
 * prompt around each visual block says, and the pieces vl_mrope_positions
 * takes. No model, no I/O; the session / family layer calls these.
 *
 * Reference (transformers): checked against the transformers sources of
 * late 2025 (v4.57 line):
 *  - Qwen2.5-VL uses Qwen2VLVideoProcessor (models/qwen2_vl/
 *    video_processing_qwen2_vl.py) with do_sample_frames=True, fps 2
 *    (processing_qwen2_5_vl.py's default `fps` 2.0):
 *        max_f = floor(min(max_frames, total) / 2) * 2
 *        n     = floor(min(max(total / video_fps * fps, min_frames), max_f, total) / 2) * 2
 *        indices = torch.arange(0, total, total / n).int()
 *    (an arange, not a linspace: index i is trunc(float32(i * total / n));
 *    for some (total, n) torch sizes the arange n + 1 with a last index
 *    equal to total, and transformers fails; we return the n frames.)
 *    Every frame is smart-resized on its own (image_processing_qwen2_vl
 *    smart_resize, factor 28) with the video processor's size
 *    {shortest_edge 128·28², longest_edge 768·28²}: no budget across
 *    frames. An odd count is padded by repeating the last frame.
 *    second_per_grid_t = temporal_patch / fps (the requested fps, not the
 *    achieved one) and the M-RoPE temporal step is second_per_grid_t ·
 *    vision_config.tokens_per_second (2 in the released configs).
 *    Prompt: <|vision_start|> <|video_pad|>×(t·h·w) <|vision_end|>.
 *  - Qwen3-VL: Qwen3VLVideoProcessor (models/qwen3_vl/
 *    video_processing_qwen3_vl.py), do_sample_frames=True, fps 2:
 *        n = min(max(int(total / video_fps * fps), min_frames), max_frames, total)
 *        indices = round(linspace(0, total - 1, n))   (numpy: half to even)
 *    (no rounding of n to the temporal patch; an odd n is padded with the
 *    last frame). The size rule takes the frame count into account:
 *    smart_resize(T, H, W, temporal_factor 2, factor 32) compares
 *    round(T/2)·2 · h · w with size {shortest_edge 128·32², longest_edge
 *    768·32²} and scales by sqrt(T·H·W / max): a budget over the whole
 *    clip. (cap_pixels_per_frame, off by default there, is not modelled.)
 *    Prompt per temporal group g: "<%.1f seconds>" <|vision_start|>
 *    <|video_pad|>×(h·w) <|vision_end|>, the time being
 *    (idx[2g] + idx[2g+1]) / 2 / video_fps (processing_qwen3_vl.py
 *    _calculate_timestamps: the mean of the group's first and last frame
 *    times, the index list padded with its last entry).
 *  - Stills (both): <|vision_start|> <|image_pad|>×(h·w) <|vision_end|>.
 *
 * llama.cpp compat (mtmd-helper video path, tests/data/tiny-qwen25vl/
 * README.md 3.): "Video:", then frames at 4 fps, a "[%dm%.2fs]" stamp
 * every 5000 ms placed after the frame it labels; a frame is paired with
 * the next part only when that is a frame too (a stamp breaks pairing),
 * and every pair or lone frame is its own <|vision_start|>…<|vision_end|>
 * chunk (grid_t 1; a lone frame goes through both temporal kernels). */
#ifndef VL_FAMILY_QWEN_VL_RULES_H
#define VL_FAMILY_QWEN_VL_RULES_H

#include <stdint.h>

#include "decoder/mrope_layout.h"
#include "vllm/videollm.h"

typedef enum vl_qwen_family { VL_QWEN25VL = 0, VL_QWEN3VL = 1 } vl_qwen_family;

/* One family's video processor defaults (transformers' class defaults). */
typedef struct vl_qwen_video_rules {
    double fps;                      /* 2 */
    int min_frames, max_frames;      /* 4, 768 */
    int temporal_patch;              /* 2 */
    int patch, merge;                /* 14 (Qwen2.5-VL) / 16 (Qwen3-VL), 2 */
    int64_t min_pixels, max_pixels;  /* per frame (Qwen2.5-VL) / per clip (Qwen3-VL) */
    double tokens_per_second;        /* Qwen2.5-VL vision_config.tokens_per_second: 2 */
} vl_qwen_video_rules;

vl_qwen_video_rules vl_qwen_video_rules_default(vl_qwen_family f);

/* Upper bound of the frame count vl_qwen_video_sample writes. */
#define VL_QWEN_MAX_SAMPLED(rules) ((rules)->max_frames)

/* The sampled frame indices of a video with total_frames frames at
 * video_fps (transformers' metadata: average rate). idx holds cap entries;
 * *n_out gets the count (not yet padded to the temporal patch). Errors:
 * total_frames < 1, video_fps not finite > 0, the rules out of range, a
 * count above cap, Qwen2.5-VL's "num_frames exceeds total" (fewer frames
 * than one temporal patch). */
vllm_status vl_qwen_video_sample(vl_qwen_family f, const vl_qwen_video_rules *r, int64_t total_frames, double video_fps,
                                 int32_t *idx, int cap, int *n_out);

/* Frame size for a W × H video of n_frames sampled frames (multiples of
 * patch·merge). Qwen2.5-VL: per-frame smart_resize; Qwen3-VL: the
 * clip-wide rule above. */
vllm_status vl_qwen_video_frame_size(vl_qwen_family f, const vl_qwen_video_rules *r, int n_frames, int W, int H,
                                     int *out_w, int *out_h);

/* Qwen2.5-VL's M-RoPE temporal step per temporal patch (vl_mrope_item.t_step). */
double vl_qwen25_video_t_step(const vl_qwen_video_rules *r);

/* Qwen3-VL: the time in seconds of each temporal group (n_groups =
 * ceil(n / temporal_patch)); times holds that many. */
vllm_status vl_qwen3_group_times(const int32_t *idx, int n, int temporal_patch, double video_fps, double *times,
                                 int cap);
/* "<1.0 seconds>" as Python's f"<{t:.1f} seconds>" (both round the exact
 * binary value half to even). */
void vl_qwen3_timestamp_text(double seconds, char *buf, int cap);
/* llama.cpp's "[%dm%.2fs]" for a time in milliseconds. */
void vl_qwen_llamacpp_stamp_text(int64_t ms, char *buf, int cap);

/* ---- prompt layout ----------------------------------------------------- */

typedef enum { VL_QWEN_PIECE_TEXT = 0, VL_QWEN_PIECE_VISUAL = 1 } vl_qwen_piece_kind;
typedef enum { VL_QWEN_PAD_NONE = 0, VL_QWEN_PAD_IMAGE, VL_QWEN_PAD_VIDEO } vl_qwen_pad;

/* A piece of the prompt: text to tokenize (with special tokens parsed),
 * or a visual block whose embeddings take grid_t·grid_h·grid_w slots
 * (transformers: that many <|image_pad|>/<|video_pad|> tokens; llama.cpp:
 * embeddings inserted directly). first_frame/n_frames: the sampled frames
 * it encodes (video), 0/1 for a still. */
typedef struct vl_qwen_piece {
    vl_qwen_piece_kind kind;
    char text[40];
    vl_qwen_pad pad;
    int first_frame, n_frames;
    vl_mrope_item grid; /* VISUAL: grid_t/h/w (merged tokens) and t_step */
} vl_qwen_piece;

/* Still image of grid_h × grid_w merged tokens. */
vllm_status vl_qwen_layout_still(int grid_h, int grid_w, vl_qwen_piece *out, int cap, int *n_out);

/* transformers' video layout for n_frames sampled frames (before padding)
 * of grid_h × grid_w merged tokens each. Qwen2.5-VL: one block,
 * t_step = vl_qwen25_video_t_step(r); Qwen3-VL: one block per temporal
 * group preceded by its timestamp (group_times from vl_qwen3_group_times;
 * ignored for Qwen2.5-VL, may be NULL). */
vllm_status vl_qwen_layout_video(vl_qwen_family f, const vl_qwen_video_rules *r, int n_frames, int grid_h, int grid_w,
                                 const double *group_times, vl_qwen_piece *out, int cap, int *n_out);

/* llama.cpp's layout for n_frames frames taken at fps (4 in its helper);
 * frame k's time is k / fps. Same for both families. */
vllm_status vl_qwen_layout_video_llamacpp(int n_frames, double fps, int grid_h, int grid_w, vl_qwen_piece *out,
                                          int cap, int *n_out);
/* Whether that layout puts a stamp after frame k (so frame k never
 * starts a pair), and frame k's time in ms as the stamp prints it. */
int vl_qwen_llamacpp_frame_stamped(int k, double fps);
int64_t vl_qwen_llamacpp_frame_ms(int k, double fps);
/* Pieces needed by vl_qwen_layout_video_llamacpp (an upper bound). */
int vl_qwen_layout_llamacpp_cap(int n_frames, double fps);

/* The vl_mrope_positions items of a layout: text pieces become runs of
 * text_tokens[i] tokens (the caller tokenized pieces[i].text; entries
 * for visual pieces are ignored), visual pieces their grid. */
vllm_status vl_qwen_layout_mrope_items(const vl_qwen_piece *pieces, int n, const int32_t *text_tokens,
                                       vl_mrope_item *items);

/* ---- llama.cpp's image token limits -------------------------------------- */

/* --image-min-tokens / --image-max-tokens to the pixel budgets llama.cpp
 * derives (clip.cpp set_limit_image_tokens: tokens · (patch·merge)²);
 * its defaults for the Qwen-VL projectors are 8 and 4096 tokens. */
#define VL_QWEN_LLAMACPP_MIN_TOKENS 8
#define VL_QWEN_LLAMACPP_MAX_TOKENS 4096
vllm_status vl_qwen_token_pixels(int tokens, int patch, int merge, int64_t *pixels);

#endif
