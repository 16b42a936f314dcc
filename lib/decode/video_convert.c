/* Pixel conversion through libswscale: decoded frames and raw host frames
 * to packed RGB24, scaled in the same pass (no full-size RGB copy), with
 * the colour handling of ffmpeg's auto-inserted scale filter. */
#include <stdlib.h>
#include <string.h>

#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>

#include "av_log.h"
#include "video_internal.h"
#include "yuv_rgb24.h"

/* swscale's SIMD RGB writers store whole 8-pixel groups, so a row may be
 * written a little past its width; rows are padded and the buffer has a
 * tail so that never leaves the allocation. */
#define ROW_ALIGN 64
#define TAIL_SLACK 256

int vl_sws_flags(int scale_filter)
{
    switch (scale_filter) {
    case VL_SCALE_BILINEAR: return SWS_BILINEAR;
    case VL_SCALE_LANCZOS: return SWS_LANCZOS;
    case VL_SCALE_AREA: return SWS_AREA;
    case VL_SCALE_POINT: return SWS_POINT;
    default: return SWS_BICUBIC;
    }
}

static size_t row_stride(int w) { return ((size_t)w * 3 + ROW_ALIGN - 1) / ROW_ALIGN * ROW_ALIGN; }

/* sws_scale, except where swscale's bytes depend on the architecture: the
 * same-size yuv -> RGB24 case then takes the x86 arithmetic (yuv_rgb24.h),
 * so frames are the same bytes on every CPU. Returns the rows written. */
static int scale(struct SwsContext *sws, int src_fmt, int w, int h, int dst_w, int dst_h, int flags,
                 const uint8_t *const src[4], const int src_stride[4], uint8_t *dst, int dst_stride)
{
    vl_yuv_rgb_coefs k;
    if (!VL_SWSCALE_IS_X86_REFERENCE && vl_yuv_rgb24_is_special_case(src_fmt, w, h, dst_w, dst_h, flags) &&
        vl_yuv_rgb24_coefs(sws, &k) == 0) {
        int vshift = src_fmt == AV_PIX_FMT_YUV420P || src_fmt == AV_PIX_FMT_YUVJ420P;
        vl_yuv_rgb24_convert(&k, src, src_stride, vshift, w, h, dst, (size_t)dst_stride);
        return dst_h;
    }
    uint8_t *dst_planes[4] = {dst, NULL, NULL, NULL};
    int dst_strides[4] = {dst_stride, 0, 0, 0};
    return sws_scale(sws, src, src_stride, 0, h, dst_planes, dst_strides);
}

static vllm_status ensure(uint8_t **buf, size_t *cap, size_t need)
{
    if (*cap >= need) return VLLM_OK;
    uint8_t *p = av_malloc(need);
    if (!p) return vl_error(VLLM_ERR_NOMEM, "video: out of memory for a %zu-byte frame buffer", need);
    av_free(*buf);
    *buf = p;
    *cap = need;
    return VLLM_OK;
}

/* vf_scale's colour setup (FFmpeg 5.1 scale_frame with in_color_matrix
 * "auto"): the frame's matrix (BT.601 when unknown or unsupported) both
 * ways, and the frame's range when it states one. */
static void set_colour(struct SwsContext *sws, int space, int range)
{
    int *inv, *tab, src_range, dst_range, bri, con, sat;
    if (sws_getColorspaceDetails(sws, &inv, &src_range, &tab, &dst_range, &bri, &con, &sat) < 0) return;
    if (space < 1 || space > 10 || space == 8) space = AVCOL_SPC_BT470BG;
    const int *coefs = sws_getCoefficients(space);
    if (range != AVCOL_RANGE_UNSPECIFIED) src_range = range == AVCOL_RANGE_JPEG;
    sws_setColorspaceDetails(sws, coefs, src_range, coefs, dst_range, bri, con, sat);
}

static void rotate_rgb(const uint8_t *src, size_t ss, int w, int h, int rotation, uint8_t *dst, size_t ds)
{
    /* (w, h) is the source size; the destination is h×w for 90/270. */
    for (int y = 0; y < h; y++) {
        const uint8_t *s = src + (size_t)y * ss;
        for (int x = 0; x < w; x++) {
            int dx, dy;
            if (rotation == 90) {
                dx = h - 1 - y;
                dy = x;
            } else if (rotation == 180) {
                dx = w - 1 - x;
                dy = h - 1 - y;
            } else { /* 270 */
                dx = y;
                dy = w - 1 - x;
            }
            uint8_t *d = dst + (size_t)dy * ds + (size_t)dx * 3;
            d[0] = s[3 * x];
            d[1] = s[3 * x + 1];
            d[2] = s[3 * x + 2];
        }
    }
}

vllm_status vl_rgb_convert(vl_rgb_conv *c, const AVFrame *fr, int out_w, int out_h, int rotation,
                           int scale_filter, uint8_t **rgb, int32_t *stride)
{
    if (fr->width <= 0 || fr->height <= 0 || fr->width > VL_VIDEO_MAX_SIDE || fr->height > VL_VIDEO_MAX_SIDE)
        return vl_error(VLLM_ERR_DECODE, "video: decoded frame has size %dx%d", fr->width, fr->height);
    if (out_w <= 0 || out_h <= 0 || out_w > VL_VIDEO_MAX_SIDE || out_h > VL_VIDEO_MAX_SIDE)
        return vl_error(VLLM_ERR_INVALID_ARG, "video: output size %dx%d outside 1..%d", out_w, out_h,
                        VL_VIDEO_MAX_SIDE);
    int swap = rotation == 90 || rotation == 270;
    int dw = swap ? out_h : out_w, dh = swap ? out_w : out_h;
    int flags = vl_sws_flags(scale_filter);
    if (!c->sws || c->src_w != fr->width || c->src_h != fr->height || c->src_fmt != fr->format ||
        c->src_space != (int)fr->colorspace || c->src_range != (int)fr->color_range || c->dst_w != dw ||
        c->dst_h != dh || c->flags != flags) {
        sws_freeContext(c->sws);
        c->sws = sws_getContext(fr->width, fr->height, fr->format, dw, dh, AV_PIX_FMT_RGB24, flags, NULL, NULL, NULL);
        if (!c->sws) {
            const char *name = av_get_pix_fmt_name(fr->format);
            return vl_error(VLLM_ERR_UNSUPPORTED, "video: cannot convert %s %dx%d to RGB %dx%d", name ? name : "?",
                            fr->width, fr->height, dw, dh);
        }
        set_colour(c->sws, fr->colorspace, fr->color_range);
        c->src_w = fr->width;
        c->src_h = fr->height;
        c->src_fmt = fr->format;
        c->src_space = fr->colorspace;
        c->src_range = fr->color_range;
        c->dst_w = dw;
        c->dst_h = dh;
        c->flags = flags;
    }
    size_t bs = row_stride(dw);
    VL_TRY(ensure(&c->buf, &c->buf_cap, bs * (size_t)dh + TAIL_SLACK));
    int got = scale(c->sws, fr->format, fr->width, fr->height, dw, dh, flags, (const uint8_t *const *)fr->data,
                    fr->linesize, c->buf, (int)bs);
    if (got != dh) return vl_error(VLLM_ERR_DECODE, "video: pixel conversion failed (%d of %d rows)", got, dh);
    if (!rotation) {
        *rgb = c->buf;
        *stride = (int32_t)bs;
        return VLLM_OK;
    }
    size_t rs = row_stride(out_w);
    VL_TRY(ensure(&c->rot, &c->rot_cap, rs * (size_t)out_h + TAIL_SLACK));
    rotate_rgb(c->buf, bs, dw, dh, rotation, c->rot, rs);
    *rgb = c->rot;
    *stride = (int32_t)rs;
    return VLLM_OK;
}

void vl_rgb_conv_free(vl_rgb_conv *c)
{
    sws_freeContext(c->sws);
    av_free(c->buf);
    av_free(c->rot);
    memset(c, 0, sizeof *c);
}

/* ---- raw host frames -------------------------------------------------------- */

vllm_status vl_frame_to_rgb(const vllm_frame *in, int32_t out_w, int32_t out_h, int scale_filter,
                            uint8_t **rgb_out, int32_t *stride_out)
{
    vl_av_log_install(); /* swscale may log */
    if (!in || !rgb_out || !stride_out) return vl_error(VLLM_ERR_INVALID_ARG, "frame: NULL argument");
    *rgb_out = NULL;
    if (in->struct_size < sizeof(vllm_frame))
        return vl_error(VLLM_ERR_INVALID_ARG, "frame: struct_size %zu is smaller than vllm_frame (%zu)", in->struct_size,
                        sizeof(vllm_frame));
    int w = in->width, h = in->height;
    if (w < 1 || h < 1 || w > VL_VIDEO_MAX_SIDE || h > VL_VIDEO_MAX_SIDE)
        return vl_error(VLLM_ERR_INVALID_ARG, "frame: size %dx%d outside 1..%d", w, h, VL_VIDEO_MAX_SIDE);
    if (out_w == 0 && out_h == 0) {
        out_w = w;
        out_h = h;
    }
    if (out_w < 1 || out_h < 1 || out_w > VL_VIDEO_MAX_SIDE || out_h > VL_VIDEO_MAX_SIDE)
        return vl_error(VLLM_ERR_INVALID_ARG, "frame: output size %dx%d outside 1..%d", out_w, out_h,
                        VL_VIDEO_MAX_SIDE);
    enum AVPixelFormat fmt;
    int nplanes;
    int64_t min_stride[3] = {0, 0, 0};
    int cw = (w + 1) / 2;
    switch (in->format) {
    case VLLM_PIXFMT_RGB24: fmt = AV_PIX_FMT_RGB24; nplanes = 1; min_stride[0] = 3LL * w; break;
    case VLLM_PIXFMT_RGBA: fmt = AV_PIX_FMT_RGBA; nplanes = 1; min_stride[0] = 4LL * w; break;
    case VLLM_PIXFMT_BGRA: fmt = AV_PIX_FMT_BGRA; nplanes = 1; min_stride[0] = 4LL * w; break;
    case VLLM_PIXFMT_NV12:
        fmt = AV_PIX_FMT_NV12; nplanes = 2; min_stride[0] = w; min_stride[1] = 2LL * cw; break;
    case VLLM_PIXFMT_YUV420P:
        fmt = AV_PIX_FMT_YUV420P; nplanes = 3; min_stride[0] = w; min_stride[1] = cw; min_stride[2] = cw; break;
    default: return vl_error(VLLM_ERR_INVALID_ARG, "frame: unknown pixel format %d", (int)in->format);
    }
    for (int p = 0; p < nplanes; p++) {
        if (!in->planes[p]) return vl_error(VLLM_ERR_INVALID_ARG, "frame: plane %d is NULL", p);
        if (in->strides[p] < min_stride[p])
            return vl_error(VLLM_ERR_INVALID_ARG, "frame: plane %d stride %d is below its row size %lld", p,
                            in->strides[p], (long long)min_stride[p]);
    }
    size_t os = row_stride(out_w);
    uint8_t *out = malloc(os * (size_t)out_h + TAIL_SLACK);
    if (!out) return vl_error(VLLM_ERR_NOMEM, "frame: out of memory for %dx%d RGB", out_w, out_h);
    if (fmt == AV_PIX_FMT_RGB24 && out_w == w && out_h == h) {
        for (int y = 0; y < h; y++) memcpy(out + (size_t)y * os, in->planes[0] + (size_t)y * in->strides[0], 3 * (size_t)w);
    } else {
        int flags = vl_sws_flags(scale_filter);
        struct SwsContext *sws = sws_getContext(w, h, fmt, out_w, out_h, AV_PIX_FMT_RGB24, flags, NULL, NULL, NULL);
        if (!sws) {
            free(out);
            return vl_error(VLLM_ERR_UNSUPPORTED, "frame: cannot convert %dx%d to RGB %dx%d", w, h, out_w, out_h);
        }
        if (fmt == AV_PIX_FMT_NV12 || fmt == AV_PIX_FMT_YUV420P) set_colour(sws, AVCOL_SPC_BT470BG, AVCOL_RANGE_MPEG);
        const uint8_t *src[4] = {in->planes[0], nplanes > 1 ? in->planes[1] : NULL, nplanes > 2 ? in->planes[2] : NULL,
                                 NULL};
        int ss[4] = {in->strides[0], nplanes > 1 ? in->strides[1] : 0, nplanes > 2 ? in->strides[2] : 0, 0};
        int got = scale(sws, fmt, w, h, out_w, out_h, flags, src, ss, out, (int)os);
        sws_freeContext(sws);
        if (got != out_h) {
            free(out);
            return vl_error(VLLM_ERR_INTERNAL, "frame: pixel conversion produced %d of %d rows", got, out_h);
        }
    }
    *rgb_out = out;
    *stride_out = (int32_t)os;
    return VLLM_OK;
}
