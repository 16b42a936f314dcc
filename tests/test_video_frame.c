/* Raw host frames to RGB (vl_frame_to_rgb): every accepted pixel format
 * against values computed here — packed formats must come through exactly;
 * YUV is checked against the BT.601 limited-range equations
 * (R = 1.164(Y-16) + 1.596(V-128), G = 1.164(Y-16) - 0.392(U-128) - 0.813(V-128),
 * B = 1.164(Y-16) + 2.017(U-128)) within ±2 on flat colour blocks;
 * odd sizes, padded strides, and the argument checks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "decode/video.h"
#include "harness.h"

static int clamp8(double x) { return x < 0 ? 0 : x > 255 ? 255 : (int)lround(x); }

static vllm_frame frame0(vllm_pixel_format f, int w, int h)
{
    vllm_frame fr;
    memset(&fr, 0, sizeof fr);
    fr.struct_size = sizeof fr;
    fr.format = f;
    fr.width = w;
    fr.height = h;
    return fr;
}

TEST_MAIN_BEGIN
    const int w = 7, h = 5; /* odd on purpose */
    /* packed formats with padded strides: exact copies/reorders */
    uint8_t rgb[5][32], rgba[5][40];
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            for (int c = 0; c < 3; c++) rgb[y][3 * x + c] = (uint8_t)(y * 50 + x * 13 + c * 70);
            for (int c = 0; c < 4; c++) rgba[y][4 * x + c] = (uint8_t)(y * 50 + x * 13 + c * 70);
        }
    struct { vllm_pixel_format f; const uint8_t *p; int stride; int bpp; int r, g, b; } packed[] = {
        {VLLM_PIXFMT_RGB24, &rgb[0][0], 32, 3, 0, 1, 2},
        {VLLM_PIXFMT_RGBA, &rgba[0][0], 40, 4, 0, 1, 2},
        {VLLM_PIXFMT_BGRA, &rgba[0][0], 40, 4, 2, 1, 0},
    };
    for (int k = 0; k < 3; k++) {
        vllm_frame fr = frame0(packed[k].f, w, h);
        fr.planes[0] = packed[k].p;
        fr.strides[0] = packed[k].stride;
        uint8_t *out = NULL;
        int32_t os = 0;
        vllm_status st = vl_frame_to_rgb(&fr, 0, 0, VL_SCALE_BICUBIC, &out, &os);
        REQUIRE(st == VLLM_OK, "packed %d: %s", k, vl_error_message());
        int bad = 0;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                const uint8_t *s = packed[k].p + y * packed[k].stride + packed[k].bpp * x;
                const uint8_t *d = out + (size_t)y * os + 3 * x;
                bad += d[0] != s[packed[k].r] || d[1] != s[packed[k].g] || d[2] != s[packed[k].b];
            }
        CHECK(bad == 0, "packed format %d: %d pixels differ", k, bad);
        free(out);
    }

    /* YUV 4:2:0, flat colour: YUV420P and NV12 carry the same samples */
    const int Y = 120, U = 90, V = 170;
    int ch = (h + 1) / 2;
    uint8_t *yp = malloc((size_t)12 * h), *up = malloc((size_t)8 * ch), *vp = malloc((size_t)8 * ch),
            *uv = malloc((size_t)10 * ch);
    REQUIRE(yp && up && vp && uv, "alloc");
    memset(yp, Y, (size_t)12 * h);
    memset(up, U, (size_t)8 * ch);
    memset(vp, V, (size_t)8 * ch);
    for (int i = 0; i < 10 * ch; i++) uv[i] = (uint8_t)(i % 2 ? V : U);
    int er = clamp8(1.164 * (Y - 16) + 1.596 * (V - 128));
    int eg = clamp8(1.164 * (Y - 16) - 0.392 * (U - 128) - 0.813 * (V - 128));
    int eb = clamp8(1.164 * (Y - 16) + 2.017 * (U - 128));
    for (int k = 0; k < 2; k++) {
        vllm_frame fr = frame0(k ? VLLM_PIXFMT_NV12 : VLLM_PIXFMT_YUV420P, w, h);
        fr.planes[0] = yp;
        fr.strides[0] = 12;
        if (k) {
            fr.planes[1] = uv;
            fr.strides[1] = 10;
        } else {
            fr.planes[1] = up;
            fr.planes[2] = vp;
            fr.strides[1] = fr.strides[2] = 8;
        }
        for (int scaled = 0; scaled < 2; scaled++) {
            uint8_t *out = NULL;
            int32_t os = 0;
            int ow = scaled ? 16 : 0, oh = scaled ? 9 : 0;
            vllm_status st = vl_frame_to_rgb(&fr, ow, oh, VL_SCALE_BILINEAR, &out, &os);
            REQUIRE(st == VLLM_OK, "yuv %d: %s", k, vl_error_message());
            int maxd = 0, rw = scaled ? 16 : w, rh = scaled ? 9 : h;
            for (int y = 0; y < rh; y++)
                for (int x = 0; x < rw; x++) {
                    const uint8_t *d = out + (size_t)y * os + 3 * x;
                    int dr = abs(d[0] - er), dg = abs(d[1] - eg), db = abs(d[2] - eb);
                    int m = dr > dg ? dr : dg;
                    m = m > db ? m : db;
                    if (m > maxd) maxd = m;
                }
            CHECK(maxd <= 2, "%s %s: max difference %d from BT.601 (%d,%d,%d)", k ? "NV12" : "YUV420P",
                  scaled ? "scaled" : "native", maxd, er, eg, eb);
            free(out);
        }
    }

    /* argument checks */
    vllm_frame fr = frame0(VLLM_PIXFMT_RGB24, w, h);
    uint8_t *out = NULL;
    int32_t os;
    fr.planes[0] = &rgb[0][0];
    fr.strides[0] = 3 * w - 1;
    CHECK(vl_frame_to_rgb(&fr, 0, 0, 0, &out, &os) == VLLM_ERR_INVALID_ARG && !out, "short stride");
    fr.strides[0] = 32;
    fr.planes[0] = NULL;
    CHECK(vl_frame_to_rgb(&fr, 0, 0, 0, &out, &os) == VLLM_ERR_INVALID_ARG, "NULL plane");
    fr.planes[0] = &rgb[0][0];
    fr.width = 0;
    CHECK(vl_frame_to_rgb(&fr, 0, 0, 0, &out, &os) == VLLM_ERR_INVALID_ARG, "zero width");
    fr.width = 20000;
    CHECK(vl_frame_to_rgb(&fr, 0, 0, 0, &out, &os) == VLLM_ERR_INVALID_ARG, "absurd width");
    fr.width = w;
    CHECK(vl_frame_to_rgb(&fr, 10, 0, 0, &out, &os) == VLLM_ERR_INVALID_ARG, "half an output size");
    fr.format = (vllm_pixel_format)99;
    CHECK(vl_frame_to_rgb(&fr, 0, 0, 0, &out, &os) == VLLM_ERR_INVALID_ARG, "unknown format");
    fr.format = VLLM_PIXFMT_RGB24;
    fr.struct_size = 8;
    CHECK(vl_frame_to_rgb(&fr, 0, 0, 0, &out, &os) == VLLM_ERR_INVALID_ARG, "struct_size");
    free(yp);
    free(up);
    free(vp);
    free(uv);
TEST_MAIN_END
