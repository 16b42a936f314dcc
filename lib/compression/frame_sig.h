/* Frame signatures for dedup before the vision encoder.
 *
 * A signature is the frame's luma box-averaged down to a fixed
 * VL_SIG_SIDE x VL_SIG_SIDE grid, read straight from the packed RGB the
 * decode step delivers (no full-resolution copy, one pass over the
 * pixels). Box averaging removes codec noise and small jitter, so two
 * encodes of the same still scene land within a few luma levels, while a
 * moving object or a scene cut changes whole cells.
 *
 * Distance: mean absolute difference of the two grids divided by 255,
 * i.e. the average per-cell luma change as a fraction of full scale, in
 * [0, 1]. A frame whose distance to the last KEPT frame is below the
 * threshold is a duplicate (comparing with the last kept frame rather
 * than the previous sampled one means slow drift still accumulates until
 * a frame is kept). */
#ifndef VL_COMPRESSION_FRAME_SIG_H
#define VL_COMPRESSION_FRAME_SIG_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define VL_SIG_SIDE 32

typedef struct vl_frame_sig {
    uint8_t luma[VL_SIG_SIDE * VL_SIG_SIDE]; /* row-major, rounded cell means */
} vl_frame_sig;

/* Signature of a packed RGB24 frame (width, height >= 1; stride >= 3·width).
 * Luma is BT.601 (0.299 R + 0.587 G + 0.114 B, in 1/256 fixed point). Cell
 * (cx, cy) averages pixels x in [cx·w/32, (cx+1)·w/32) (at least one
 * pixel, so frames narrower than 32 pixels repeat columns). */
vllm_status vl_frame_sig_compute(const uint8_t *rgb, int32_t width, int32_t height, size_t stride,
                                 vl_frame_sig *out);

/* Mean |a - b| over the grid / 255, in [0, 1]. */
float vl_frame_sig_distance(const vl_frame_sig *a, const vl_frame_sig *b);

/* 1 when `cur` is within `threshold` of `last_kept` (threshold <= 0: never). */
int vl_frame_sig_is_duplicate(const vl_frame_sig *last_kept, const vl_frame_sig *cur, float threshold);

#endif
