/* Downscaled-luma frame signatures and their distance (see frame_sig.h). */
#include "compression/frame_sig.h"

#include <stdlib.h>

/* Cell bounds along one axis: [lo, hi) with at least one pixel. */
static void cell_span(int32_t n, int c, int32_t *lo, int32_t *hi)
{
    int32_t a = (int32_t)((int64_t)c * n / VL_SIG_SIDE);
    int32_t b = (int32_t)((int64_t)(c + 1) * n / VL_SIG_SIDE);
    if (a >= n) a = n - 1;
    if (b <= a) b = a + 1;
    *lo = a;
    *hi = b;
}

vllm_status vl_frame_sig_compute(const uint8_t *rgb, int32_t width, int32_t height, size_t stride,
                                 vl_frame_sig *out)
{
    if (!rgb || !out) return vl_error(VLLM_ERR_INVALID_ARG, "frame signature: NULL argument");
    if (width < 1 || height < 1 || width > 65536 || height > 65536)
        return vl_error(VLLM_ERR_INVALID_ARG, "frame signature: size %dx%d out of range", width, height);
    if (stride < (size_t)width * 3)
        return vl_error(VLLM_ERR_INVALID_ARG, "frame signature: stride %zu < 3 x width %d", stride, width);
    for (int cy = 0; cy < VL_SIG_SIDE; cy++) {
        int32_t y0, y1;
        cell_span(height, cy, &y0, &y1);
        for (int cx = 0; cx < VL_SIG_SIDE; cx++) {
            int32_t x0, x1;
            cell_span(width, cx, &x0, &x1);
            /* 65536² pixels × 255 × 256 fits in 64 bits */
            uint64_t sum = 0;
            for (int32_t y = y0; y < y1; y++) {
                const uint8_t *p = rgb + (size_t)y * stride + (size_t)x0 * 3;
                uint32_t row = 0;
                for (int32_t x = x0; x < x1; x++, p += 3) row += 77u * p[0] + 150u * p[1] + 29u * p[2];
                sum += row;
            }
            const uint64_t n = (uint64_t)(y1 - y0) * (uint64_t)(x1 - x0) * 256u;
            out->luma[cy * VL_SIG_SIDE + cx] = (uint8_t)((sum + n / 2) / n);
        }
    }
    return VLLM_OK;
}

float vl_frame_sig_distance(const vl_frame_sig *a, const vl_frame_sig *b)
{
    uint32_t sum = 0;
    for (int i = 0; i < VL_SIG_SIDE * VL_SIG_SIDE; i++) sum += (uint32_t)abs((int)a->luma[i] - (int)b->luma[i]);
    return (float)((double)sum / (VL_SIG_SIDE * VL_SIG_SIDE * 255.0));
}

int vl_frame_sig_is_duplicate(const vl_frame_sig *last_kept, const vl_frame_sig *cur, float threshold)
{
    return threshold > 0 && vl_frame_sig_distance(last_kept, cur) < threshold;
}
