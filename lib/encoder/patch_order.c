#include "patch_order.h"

int vl_window_order(int mh, int mw, int win, int32_t *unit_src, int32_t *win_start)
{
    if (win <= 0) win = mh > mw ? mh : mw;
    int n = 0, j = 0;
    for (int wy = 0; wy < mh; wy += win)
        for (int wx = 0; wx < mw; wx += win) {
            win_start[n++] = j;
            const int y1 = wy + win < mh ? wy + win : mh, x1 = wx + win < mw ? wx + win : mw;
            for (int y = wy; y < y1; y++)
                for (int x = wx; x < x1; x++) unit_src[j++] = y * mw + x;
        }
    win_start[n] = j;
    return n;
}

void vl_patch_sequence(int mh, int mw, const int32_t *unit_src, int32_t *grid_idx, int32_t *py, int32_t *px)
{
    const int pw = 2 * mw;
    for (int j = 0; j < mh * mw; j++) {
        const int u = unit_src[j], uy = u / mw, ux = u % mw;
        for (int k = 0; k < 4; k++) {
            const int y = 2 * uy + k / 2, x = 2 * ux + k % 2, s = 4 * j + k;
            if (grid_idx) grid_idx[s] = y * pw + x;
            if (py) py[s] = y;
            if (px) px[s] = x;
        }
    }
}
