/* Sequence orders of the dynamic-resolution towers' patches.
 *
 * The patch grid (ph × pw, row-major) is grouped into merge units of
 * 2 × 2 patches (mh = ph/2 by mw = pw/2 units). The towers run over the
 * patches unit by unit — the four patches of a unit consecutive, in the
 * order (0,0) (0,1) (1,0) (1,1) — so the merger can take 4 consecutive
 * rows. Qwen2.5-VL additionally visits the units window by window
 * (transformers' get_window_index, clip.cpp's window_idx):
 * windows of `win` × `win` units in row-major order, truncated at the
 * right and bottom edges, units row-major inside each window. */
#ifndef VL_ENCODER_PATCH_ORDER_H
#define VL_ENCODER_PATCH_ORDER_H

#include <stdint.h>

/* Window order of the units. unit_src[j] = merged row-major index of the
 * unit at window-order slot j (clip.cpp's inv_window_idx); win_start[w] =
 * first slot of window w, win_start[n] = mh·mw. win <= 0 means one window
 * holding every unit in row-major order. win_start needs room for
 * ceil(mh/win)·ceil(mw/win) + 1 entries. Returns the number of windows. */
int vl_window_order(int mh, int mw, int win, int32_t *unit_src, int32_t *win_start);

/* Patch sequence from a unit order: seq slot s = 4·j + k holds the patch
 * of unit unit_src[j] at offset k; grid_idx[s] = its row-major index in the
 * ph × pw grid, py/px its coordinates (any of the three may be NULL). */
void vl_patch_sequence(int mh, int mw, const int32_t *unit_src, int32_t *grid_idx, int32_t *py, int32_t *px);

#endif
