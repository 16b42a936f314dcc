/* Same-size planar YUV -> RGB24 with the arithmetic of FFmpeg's x86
 * converter (see yuv_rgb24.h for why). Each step mirrors an instruction
 * of libswscale/x86/yuv_2_rgb.asm: psllw 3, psubw/psubsw (offsets),
 * pmulhw (signed 16x16, high half), paddsw, packuswb. */
#include "yuv_rgb24.h"

#include <libavutil/pixfmt.h>

int vl_yuv_rgb24_is_special_case(int src_fmt, int src_w, int src_h, int dst_w, int dst_h, int sws_flags)
{
    /* swscale_unscaled.c: same size, yuv420p/yuv422p (the yuvj forms
     * become these at init), an RGB destination, no accurate rounding,
     * even height. */
    int planar_8bit = src_fmt == AV_PIX_FMT_YUV420P || src_fmt == AV_PIX_FMT_YUVJ420P ||
                      src_fmt == AV_PIX_FMT_YUV422P || src_fmt == AV_PIX_FMT_YUVJ422P;
    return planar_8bit && src_w == dst_w && src_h == dst_h && !(sws_flags & SWS_ACCURATE_RND) && !(dst_h & 1);
}

/* floor(v / 2^shift) without right-shifting a negative number. */
static int64_t floor_shift(int64_t v, int shift)
{
    return v >= 0 ? v >> shift : -((-v + ((int64_t)1 << shift) - 1) >> shift);
}

/* swscale's roundToInt16: round a 16.16 value, clamp to int16. */
static int16_t round_to_int16(int64_t f)
{
    int64_t r = floor_shift(f + (1 << 15), 16);
    if (r < -0x7FFF) return INT16_MIN;
    if (r > 0x7FFF) return INT16_MAX;
    return (int16_t)r;
}

int vl_yuv_rgb24_coefs(struct SwsContext *sws, vl_yuv_rgb_coefs *k)
{
    int *inv, *tab, src_range, dst_range, brightness, contrast, saturation;
    if (sws_getColorspaceDetails(sws, &inv, &src_range, &tab, &dst_range, &brightness, &contrast, &saturation) < 0)
        return -1;
    /* ff_yuv2rgb_c_init_tables, same integer steps */
    int64_t crv = inv[0], cbu = inv[1], cgu = -inv[2], cgv = -inv[3];
    int64_t cy = 1 << 16, oy = 0;
    if (!src_range) {
        cy = cy * 255 / 219;
        oy = 16 << 16;
    } else {
        crv = crv * 224 / 255;
        cbu = cbu * 224 / 255;
        cgu = cgu * 224 / 255;
        cgv = cgv * 224 / 255;
    }
    cy = floor_shift(cy * contrast, 16);
    crv = floor_shift(crv * contrast * saturation, 32);
    cbu = floor_shift(cbu * contrast * saturation, 32);
    cgu = floor_shift(cgu * contrast * saturation, 32);
    cgv = floor_shift(cgv * contrast * saturation, 32);
    oy -= 256LL * brightness;
    k->y_coef = round_to_int16(cy * (1 << 13));
    k->vr = round_to_int16(crv * (1 << 13));
    k->ub = round_to_int16(cbu * (1 << 13));
    k->vg = round_to_int16(cgv * (1 << 13));
    k->ug = round_to_int16(cgu * (1 << 13));
    k->y_offset = round_to_int16(oy * (1 << 3));
    return 0;
}

/* pmulhw: the high 16 bits of a signed 16x16 product (a floor shift). */
static inline int mul_high(int a, int b)
{
    return (int)((((int64_t)a * b) + ((int64_t)1 << 31)) >> 16) - (1 << 15);
}

static inline int sat16(int v) { return v < INT16_MIN ? INT16_MIN : v > INT16_MAX ? INT16_MAX : v; }
static inline int wrap16(int v) { return (int16_t)(uint16_t)(unsigned)v; }
static inline uint8_t to_u8(int v) { return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v); }

void vl_yuv_rgb24_convert(const vl_yuv_rgb_coefs *k, const uint8_t *const planes[3], const int strides[3],
                          int chroma_vshift, int w, int h, uint8_t *dst, size_t dst_stride)
{
    for (int y = 0; y < h; y++) {
        const uint8_t *py = planes[0] + (ptrdiff_t)y * strides[0];
        const uint8_t *pu = planes[1] + (ptrdiff_t)(y >> chroma_vshift) * strides[1];
        const uint8_t *pv = planes[2] + (ptrdiff_t)(y >> chroma_vshift) * strides[2];
        uint8_t *out = dst + (size_t)y * dst_stride;
        for (int x = 0; x < w; x++) {
            int u = sat16((pu[x >> 1] << 3) - 1024), v = sat16((pv[x >> 1] << 3) - 1024);
            int red = mul_high(v, k->vr), blue = mul_high(u, k->ub);
            int green = sat16(mul_high(u, k->ug) + mul_high(v, k->vg));
            int luma = mul_high(wrap16((py[x] << 3) - k->y_offset), k->y_coef);
            out[3 * x] = to_u8(sat16(luma + red));
            out[3 * x + 1] = to_u8(sat16(luma + green));
            out[3 * x + 2] = to_u8(sat16(luma + blue));
        }
    }
}
