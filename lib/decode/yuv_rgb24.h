/* Same-size planar YUV -> packed RGB24 with the integer arithmetic of
 * FFmpeg's x86 converter, so every architecture gives the bytes the x86
 * reference (ffmpeg 5.1 on x86-64, where the fixtures were made) gives.
 *
 * Why: for a same-size yuv420p/yuv422p -> rgb24 conversion without
 * SWS_ACCURATE_RND, sws_scale skips its scaler and calls a special
 * converter chosen per architecture. On x86 that is the SIMD routine of
 * libswscale/x86/yuv_2_rgb.asm (Y, U, V scaled by 8, offset, multiplied
 * by 16-bit coefficients keeping the high half, saturating adds); other
 * architectures (AArch64 included) get a table-driven C routine that
 * rounds differently, so decoded frames differ by one or two levels in
 * many pixels. Scaled conversions go through swscale's generic path,
 * which already gives the same bytes everywhere; SWS_ACCURATE_RND changes
 * the x86 bytes, so it is no way out either. */
#ifndef VL_DECODE_YUV_RGB24_H
#define VL_DECODE_YUV_RGB24_H

#include <stddef.h>
#include <stdint.h>

#include <libswscale/swscale.h>

/* 1 where sws_scale itself produces the x86 bytes (x86 FFmpeg with its
 * SIMD converters), 0 where this file's C converter must stand in. */
#if defined(__x86_64__) || defined(__i386__)
#define VL_SWSCALE_IS_X86_REFERENCE 1
#else
#define VL_SWSCALE_IS_X86_REFERENCE 0
#endif

/* The converter's 16-bit constants, as swscale derives them from a
 * context's colour details (ff_yuv2rgb_c_init_tables). */
typedef struct vl_yuv_rgb_coefs {
    int16_t y_offset, y_coef; /* luma: ((Y << 3) - y_offset) * y_coef >> 16 */
    int16_t vr, ub, ug, vg;   /* chroma: ((C << 3) - 1024) * coef >> 16 */
} vl_yuv_rgb_coefs;

/* 1 when sws_scale would convert src -> RGB24 with the special converter
 * (same size, 8-bit 4:2:0 or 4:2:2 planar source, even height, no
 * SWS_ACCURATE_RND); `src_fmt` is an AVPixelFormat, the yuvj forms
 * included (swscale maps them to the plain ones). */
int vl_yuv_rgb24_is_special_case(int src_fmt, int src_w, int src_h, int dst_w, int dst_h, int sws_flags);

/* Constants for the colour matrix, range, brightness, contrast and
 * saturation `sws` holds (set them before). Nonzero on failure. */
int vl_yuv_rgb24_coefs(struct SwsContext *sws, vl_yuv_rgb_coefs *k);

/* Convert a w×h frame; `chroma_vshift` is 1 for 4:2:0, 0 for 4:2:2.
 * Writes exactly w pixels per row. */
void vl_yuv_rgb24_convert(const vl_yuv_rgb_coefs *k, const uint8_t *const planes[3], const int strides[3],
                          int chroma_vshift, int w, int h, uint8_t *dst, size_t dst_stride);

#endif
