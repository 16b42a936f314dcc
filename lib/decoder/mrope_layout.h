/* M-RoPE positions of a prompt for the Qwen-VL families: given the layout
 * (runs of text tokens and visual blocks with their merged-token grid),
 * the four positions (t, h, w, e) of every prompt token, as
 * vl_llm_batch.pos takes them (row-major, VL_POS_SECTIONS per token).
 *
 * Two rules:
 *  - VL_MROPE_HF (default, the model's own): transformers'
 *    get_rope_index (modeling_qwen2_5_vl.py / modeling_qwen3_vl.py): text
 *    continues at 1 + the largest position so far on all sections; a
 *    visual block starting at p0 (after the text before it) gives token
 *    (k, y, x) the positions (p0 + t_k, p0 + y, p0 + x) with
 *    t_k = (int64)(k * t_step) (time_tensor.long(), truncating). The
 *    caller computes t_step: Qwen2.5-VL video second_per_grid_t *
 *    vision_config.tokens_per_second (some transformers releases first
 *    cast second_per_grid_t to int64 via torch.as_tensor(dtype=
 *    range_tensor.dtype); with the default 2 fps and temporal patch 2 it
 *    is 1.0 either way), 0 for stills; Qwen3-VL splits a video into one
 *    block per temporal patch (grid_t = 1 each, a "<t seconds>" text
 *    between), so t_step does not matter there. e = t (Qwen3-VL's
 *    interleaved rope uses t where the 4th section sits).
 *  - VL_MROPE_LLAMACPP: llama.cpp's mtmd (tiny-qwen25vl/README.md 1.5):
 *    every temporal patch is a chunk of its own at p0 with positions
 *    (p0, p0 + y, p0 + x, 0), the next chunk / text at p0 + max(w, h);
 *    text (p, p, p, 0).
 * Both give the same answer for stills except for e. */
#ifndef VL_DECODER_MROPE_LAYOUT_H
#define VL_DECODER_MROPE_LAYOUT_H

#include <stdint.h>

#include "vllm/videollm.h"

typedef enum vl_mrope_rule { VL_MROPE_HF = 0, VL_MROPE_LLAMACPP = 1 } vl_mrope_rule;

typedef struct vl_mrope_item {
    int32_t n_text;                 /* > 0: a run of this many text tokens (the grid is ignored) */
    int32_t grid_t, grid_h, grid_w; /* else a visual block: temporal patches × merged rows × columns */
    double t_step;                  /* VL_MROPE_HF: temporal id step per temporal patch */
} vl_mrope_item;

/* Number of tokens of the layout (text + grid_t*grid_h*grid_w per block),
 * or -1 when an item is invalid (negative / zero grid, too many tokens). */
int64_t vl_mrope_count(const vl_mrope_item *items, int n_items);

/* Write the positions of every token of the layout, starting at text
 * position `start` (the state's next position), into pos (cap tokens ×
 * VL_POS_SECTIONS); *next gets where text continues after it. Errors
 * name the offending item. */
vllm_status vl_mrope_positions(const vl_mrope_item *items, int n_items, vl_mrope_rule rule, int32_t start,
                               int32_t *pos, int64_t cap, int32_t *next);

#endif
