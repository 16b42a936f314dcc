/* The x86-arithmetic YUV -> RGB24 converter (lib/decode/yuv_rgb24.c)
 * against swscale. On x86 sws_scale runs FFmpeg's SIMD converter, so the
 * two must agree byte for byte on random frames of ragged sizes, both
 * chroma layouts, several colour matrices, both ranges and non-default
 * brightness/contrast/saturation; the md5 of swscale's output over all
 * cases is pinned here, and on every other CPU (where swscale converts
 * with other rounding) the C converter must reproduce that x86 md5. The
 * library's frame conversion (vl_rgb_convert) must give those bytes too,
 * for every pixel of ragged widths. */
#include <stdlib.h>
#include <string.h>

#include <libavutil/frame.h>
#include <libavutil/log.h>
#include <libavutil/md5.h>
#include <libavutil/pixdesc.h>

#include "decode/video_internal.h"
#include "decode/yuv_rgb24.h"
#include "harness.h"

/* md5 of swscale's RGB over every case of convert_cases(), on x86-64
 * (FFmpeg 5.1.9, Debian 12, SSSE3 converter). */
#define X86_SWSCALE_MD5 "ddb3f80ae53ee934d85c009e14d758c7"

static uint32_t rng = 12345;
static uint8_t next_byte(void)
{
    rng = rng * 1103515245u + 12345u;
    return (uint8_t)(rng >> 16);
}

typedef struct frame_case {
    int fmt, w, h, space, full_range, brightness, contrast, saturation;
} frame_case;

/* A source frame with random samples; planes padded (x86 SIMD reads up
 * to 16 pixels past the width). */
typedef struct planes {
    uint8_t *p[3];
    int stride[3];
} planes;

static void planes_init(planes *s, int fmt, int w, int h)
{
    int cw = (w + 1) / 2, ch = (fmt == AV_PIX_FMT_YUV420P || fmt == AV_PIX_FMT_YUVJ420P) ? (h + 1) / 2 : h;
    for (int i = 0; i < 3; i++) {
        int pw = i ? cw : w, ph = i ? ch : h;
        s->stride[i] = pw + 32;
        s->p[i] = malloc((size_t)s->stride[i] * ph + 64);
        REQUIRE(s->p[i], "out of memory");
        for (size_t k = 0; k < (size_t)s->stride[i] * ph + 64; k++) s->p[i][k] = next_byte();
    }
}

static void planes_free(planes *s)
{
    for (int i = 0; i < 3; i++) free(s->p[i]);
}

static struct SwsContext *context(const frame_case *c, int flags)
{
    struct SwsContext *sws = sws_getContext(c->w, c->h, c->fmt, c->w, c->h, AV_PIX_FMT_RGB24, flags, NULL, NULL, NULL);
    REQUIRE(sws, "sws_getContext %dx%d", c->w, c->h);
    const int *coefs = sws_getCoefficients(c->space);
    sws_setColorspaceDetails(sws, coefs, c->full_range, coefs, 1, c->brightness, c->contrast, c->saturation);
    return sws;
}

/* RGB rows (width w) from sws_scale and from the C converter. */
static void convert_both(const frame_case *c, const planes *s, int flags, uint8_t *by_sws, uint8_t *by_c, int stride)
{
    struct SwsContext *sws = context(c, flags);
    uint8_t *dst[4] = {by_sws, NULL, NULL, NULL};
    int ds[4] = {stride, 0, 0, 0};
    const uint8_t *src[4] = {s->p[0], s->p[1], s->p[2], NULL};
    int ss[4] = {s->stride[0], s->stride[1], s->stride[2], 0};
    REQUIRE(sws_scale(sws, src, ss, 0, c->h, dst, ds) == c->h, "sws_scale");
    vl_yuv_rgb_coefs k;
    REQUIRE(vl_yuv_rgb24_coefs(sws, &k) == 0, "coefficients");
    int vshift = c->fmt == AV_PIX_FMT_YUV420P || c->fmt == AV_PIX_FMT_YUVJ420P;
    vl_yuv_rgb24_convert(&k, src, ss, vshift, c->w, c->h, by_c, (size_t)stride);
    sws_freeContext(sws);
}

static int first_difference(const uint8_t *a, const uint8_t *b, int w, int h, int stride)
{
    for (int y = 0; y < h; y++)
        for (int x = 0; x < 3 * w; x++)
            if (a[(size_t)y * stride + x] != b[(size_t)y * stride + x]) return y * 3 * w + x;
    return -1;
}

static void md5_rows(struct AVMD5 *m, const uint8_t *p, int w, int h, int stride)
{
    for (int y = 0; y < h; y++) av_md5_update(m, p + (size_t)y * stride, (size_t)w * 3);
}

static void md5_hex(struct AVMD5 *m, char hex[33])
{
    uint8_t d[16];
    av_md5_final(m, d);
    for (int i = 0; i < 16; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

static void convert_cases(void)
{
    static const int widths[] = {1, 2, 7, 8, 15, 16, 17, 41, 63, 64, 100, 721};
    static const int heights[] = {2, 4, 30};
    static const int fmts[] = {AV_PIX_FMT_YUV420P, AV_PIX_FMT_YUV422P, AV_PIX_FMT_YUVJ420P, AV_PIX_FMT_YUVJ422P};
    static const int spaces[] = {SWS_CS_ITU709, SWS_CS_ITU601, SWS_CS_FCC, SWS_CS_SMPTE240M, SWS_CS_BT2020};
    struct AVMD5 *sws_md5 = av_md5_alloc(), *c_md5 = av_md5_alloc();
    REQUIRE(sws_md5 && c_md5, "out of memory");
    av_md5_init(sws_md5);
    av_md5_init(c_md5);
    int cases = 0, differ = 0;
    for (size_t wi = 0; wi < sizeof widths / sizeof *widths; wi++)
        for (size_t hi = 0; hi < sizeof heights / sizeof *heights; hi++)
            for (size_t fi = 0; fi < sizeof fmts / sizeof *fmts; fi++)
                for (int variant = 0; variant < 6; variant++) {
                    frame_case c = {fmts[fi], widths[wi], heights[hi], spaces[variant % 5], variant & 1, 0, 1 << 16,
                                    1 << 16};
                    if (variant == 5) { /* the picture controls swscale folds into the constants */
                        c.brightness = -20;
                        c.contrast = 80000;
                        c.saturation = 50000;
                    }
                    CHECK(vl_yuv_rgb24_is_special_case(c.fmt, c.w, c.h, c.w, c.h, SWS_BICUBIC), "special case %dx%d",
                          c.w, c.h);
                    int stride = (((c.w + 15) & ~15) * 3 + 63) & ~63;
                    uint8_t *a = calloc((size_t)stride * c.h + 256, 1), *b = calloc((size_t)stride * c.h + 256, 1);
                    REQUIRE(a && b, "out of memory");
                    planes s;
                    planes_init(&s, c.fmt, c.w, c.h);
                    convert_both(&c, &s, SWS_BICUBIC, a, b, stride);
                    md5_rows(sws_md5, a, c.w, c.h, stride);
                    md5_rows(c_md5, b, c.w, c.h, stride);
                    int at = first_difference(a, b, c.w, c.h, stride);
                    if (VL_SWSCALE_IS_X86_REFERENCE && at >= 0 && differ++ < 5)
                        fprintf(stderr, "%s %dx%d space %d range %d bcs %d/%d/%d: byte %d: swscale %d, C %d\n",
                                av_get_pix_fmt_name(c.fmt), c.w, c.h, c.space, c.full_range, c.brightness,
                                c.contrast, c.saturation, at, a[at / (3 * c.w) * stride + at % (3 * c.w)],
                                b[at / (3 * c.w) * stride + at % (3 * c.w)]);
                    planes_free(&s);
                    free(a);
                    free(b);
                    cases++;
                }
    char sws_hex[33], c_hex[33];
    md5_hex(sws_md5, sws_hex);
    md5_hex(c_md5, c_hex);
    av_free(sws_md5);
    av_free(c_md5);
    fprintf(stderr, "%d cases: swscale md5 %s, C converter md5 %s\n", cases, sws_hex, c_hex);
    if (VL_SWSCALE_IS_X86_REFERENCE) {
        CHECK(differ == 0, "%d of %d cases differ from swscale's x86 converter", differ, cases);
        CHECK(!strcmp(sws_hex, X86_SWSCALE_MD5), "swscale's x86 output md5 %s, pinned %s", sws_hex, X86_SWSCALE_MD5);
    }
    CHECK(!strcmp(c_hex, X86_SWSCALE_MD5), "C converter md5 %s, x86 swscale's %s", c_hex, X86_SWSCALE_MD5);
}

/* Where the predicate says swscale takes its scaler instead (odd height,
 * accurate rounding), the x86 bytes are not the special converter's: the
 * library must leave those cases to swscale. */
static void not_special_cases(void)
{
    frame_case odd = {AV_PIX_FMT_YUV420P, 64, 5, SWS_CS_ITU601, 0, 0, 1 << 16, 1 << 16};
    frame_case even = {AV_PIX_FMT_YUV420P, 64, 6, SWS_CS_ITU601, 0, 0, 1 << 16, 1 << 16};
    CHECK(!vl_yuv_rgb24_is_special_case(odd.fmt, 64, 5, 64, 5, SWS_BICUBIC), "odd height");
    CHECK(!vl_yuv_rgb24_is_special_case(even.fmt, 64, 6, 64, 6, SWS_BICUBIC | SWS_ACCURATE_RND), "accurate rounding");
    CHECK(!vl_yuv_rgb24_is_special_case(even.fmt, 64, 6, 32, 6, SWS_BICUBIC), "scaled");
    CHECK(!vl_yuv_rgb24_is_special_case(AV_PIX_FMT_NV12, 64, 6, 64, 6, SWS_BICUBIC), "nv12");
    if (!VL_SWSCALE_IS_X86_REFERENCE) return;
    const frame_case *cases[2] = {&odd, &even};
    int flags[2] = {SWS_BICUBIC, SWS_BICUBIC | SWS_ACCURATE_RND};
    for (int i = 0; i < 2; i++) {
        int stride = 64 * 3 + 64;
        uint8_t *a = calloc((size_t)stride * 6 + 256, 1), *b = calloc((size_t)stride * 6 + 256, 1);
        REQUIRE(a && b, "out of memory");
        planes s;
        planes_init(&s, cases[i]->fmt, cases[i]->w, cases[i]->h);
        convert_both(cases[i], &s, flags[i], a, b, stride);
        CHECK(first_difference(a, b, cases[i]->w, cases[i]->h, stride) >= 0,
              "%dx%d flags %#x: swscale took the special converter", cases[i]->w, cases[i]->h, flags[i]);
        planes_free(&s);
        free(a);
        free(b);
    }
}

/* vl_rgb_convert on decoded frames of ragged widths: every pixel equals
 * the x86 arithmetic (on x86 swscale's own converter gives it; elsewhere
 * the library must route this case to the C converter). */
static void library_conversion(void)
{
    static const int widths[] = {1, 41, 47, 89, 720};
    for (size_t wi = 0; wi < sizeof widths / sizeof *widths; wi++) {
        int w = widths[wi], h = 6;
        AVFrame *fr = av_frame_alloc();
        REQUIRE(fr, "out of memory");
        fr->format = AV_PIX_FMT_YUV420P;
        fr->width = w;
        fr->height = h;
        fr->colorspace = AVCOL_SPC_BT709;
        fr->color_range = AVCOL_RANGE_MPEG;
        REQUIRE(av_frame_get_buffer(fr, 0) == 0, "frame buffer");
        for (int p = 0; p < 3; p++)
            for (int y = 0; y < (p ? h / 2 : h); y++)
                for (int x = 0; x < fr->linesize[p]; x++) fr->data[p][(size_t)y * fr->linesize[p] + x] = next_byte();
        vl_rgb_conv conv;
        memset(&conv, 0, sizeof conv);
        uint8_t *rgb = NULL;
        int32_t stride = 0;
        CHECK(vl_rgb_convert(&conv, fr, w, h, 0, VL_SCALE_BICUBIC, &rgb, &stride) == VLLM_OK, "convert %dx%d", w, h);
        frame_case c = {AV_PIX_FMT_YUV420P, w, h, SWS_CS_ITU709, 0, 0, 1 << 16, 1 << 16};
        struct SwsContext *sws = context(&c, SWS_BICUBIC);
        vl_yuv_rgb_coefs k;
        REQUIRE(vl_yuv_rgb24_coefs(sws, &k) == 0, "coefficients");
        sws_freeContext(sws);
        uint8_t *want = malloc((size_t)w * 3 * h);
        REQUIRE(want, "out of memory");
        vl_yuv_rgb24_convert(&k, (const uint8_t *const *)fr->data, fr->linesize, 1, w, h, want, (size_t)w * 3);
        int bad = -1;
        for (int y = 0; rgb && y < h && bad < 0; y++)
            if (memcmp(rgb + (size_t)y * stride, want + (size_t)y * w * 3, (size_t)w * 3)) bad = y;
        CHECK(rgb && bad < 0, "vl_rgb_convert %dx%d: row %d differs from the x86 arithmetic", w, h, bad);
        free(want);
        vl_rgb_conv_free(&conv);
        av_frame_free(&fr);
    }
}

TEST_MAIN_BEGIN
    av_log_set_level(AV_LOG_ERROR); /* the yuvj cases warn on every context */
    convert_cases();
    not_special_cases();
    library_conversion();
TEST_MAIN_END
