#include "preprocess_dynamic.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "resize.h"

static int imax(int a, int b) { return a > b ? a : b; }

/* llama.cpp: every step in float (round_by_factor etc. take float) */
static void size_llamacpp(int W, int H, int f, int64_t min_px, int64_t max_px, int *ow, int *oh)
{
    const float ff = (float)f;
    int h = imax(f, (int)roundf((float)H / ff) * f), w = imax(f, (int)roundf((float)W / ff) * f);
    if ((int64_t)h * w > max_px) {
        const float beta = sqrtf((float)(H * W) / (float)max_px);
        h = imax(f, (int)floorf((float)H / beta / ff) * f);
        w = imax(f, (int)floorf((float)W / beta / ff) * f);
    } else if ((int64_t)h * w < min_px) {
        const float beta = sqrtf((float)min_px / (float)(H * W));
        h = (int)ceilf((float)H * beta / ff) * f;
        w = (int)ceilf((float)W * beta / ff) * f;
    }
    *ow = w;
    *oh = h;
}

/* transformers smart_resize: Python floats (double) and round() = half to even */
static void size_hf(int W, int H, int f, int64_t min_px, int64_t max_px, int *ow, int *oh)
{
    int h = (int)nearbyint((double)H / f) * f, w = (int)nearbyint((double)W / f) * f;
    if ((int64_t)h * w > max_px) {
        const double beta = sqrt((double)H * W / (double)max_px);
        h = imax(f, (int)floor((double)H / beta / f) * f);
        w = imax(f, (int)floor((double)W / beta / f) * f);
    } else if ((int64_t)h * w < min_px) {
        const double beta = sqrt((double)min_px / ((double)H * W));
        h = (int)ceil((double)H * beta / f) * f;
        w = (int)ceil((double)W * beta / f) * f;
    }
    /* a side below half a unit rounds to 0 when min_pixels is 0: keep one unit */
    *ow = imax(f, w);
    *oh = imax(f, h);
}

vllm_status vl_smart_size(int W, int H, int align, int64_t min_pixels, int64_t max_pixels, vl_preproc_mode mode,
                          int *out_w, int *out_h)
{
    if (W < 1 || H < 1 || W > VL_PREPROC_MAX_SIDE || H > VL_PREPROC_MAX_SIDE)
        return vl_error(VLLM_ERR_INVALID_ARG, "preprocess: image size %dx%d outside 1..%d", W, H, VL_PREPROC_MAX_SIDE);
    if (align < 1 || align > 1024) return vl_error(VLLM_ERR_INVALID_ARG, "preprocess: align %d outside 1..1024", align);
    if (max_pixels < (int64_t)align * align || min_pixels < 0 || min_pixels > max_pixels)
        return vl_error(VLLM_ERR_INVALID_ARG, "preprocess: pixel budget [%lld, %lld] must hold one %dx%d unit",
                        (long long)min_pixels, (long long)max_pixels, align, align);
    if (mode == VL_PREPROC_HF && (W > 200LL * H || H > 200LL * W)) /* transformers raises ValueError */
        return vl_error(VLLM_ERR_INVALID_ARG, "preprocess: %dx%d has an aspect ratio above 200", W, H);
    if (mode == VL_PREPROC_HF) size_hf(W, H, align, min_pixels, max_pixels, out_w, out_h);
    else size_llamacpp(W, H, align, min_pixels, max_pixels, out_w, out_h);
    if (*out_w > VL_PREPROC_MAX_SIDE || *out_h > VL_PREPROC_MAX_SIDE)
        return vl_error(VLLM_ERR_INVALID_ARG, "preprocess: %dx%d would be resized to %dx%d (sides up to %d)", W, H,
                        *out_w, *out_h, VL_PREPROC_MAX_SIDE);
    return VLLM_OK;
}

static void to_planar(const vl_img8 *im, uint8_t *dst)
{
    const size_t plane = (size_t)im->w * im->h;
    for (size_t i = 0; i < plane; i++)
        for (int c = 0; c < 3; c++) dst[(size_t)c * plane + i] = im->p[3 * i + c];
}

vllm_status vl_preprocess_dynamic(const vl_rgb8 *img, int align, int64_t min_pixels, int64_t max_pixels,
                                  vl_preproc_mode mode, vl_frame8 *out)
{
    memset(out, 0, sizeof *out);
    if (!img || !img->data) return vl_error(VLLM_ERR_INVALID_ARG, "preprocess: no image");
    int w, h;
    VL_TRY(vl_smart_size(img->width, img->height, align, min_pixels, max_pixels, mode, &w, &h));
    return vl_preprocess_dynamic_to(img, w, h, mode, out);
}

vllm_status vl_preprocess_dynamic_to(const vl_rgb8 *img, int w, int h, vl_preproc_mode mode, vl_frame8 *out)
{
    memset(out, 0, sizeof *out);
    if (!img || !img->data) return vl_error(VLLM_ERR_INVALID_ARG, "preprocess: no image");
    if (img->stride < (size_t)img->width * 3)
        return vl_error(VLLM_ERR_INVALID_ARG, "preprocess: stride %zu < 3 x width %d", img->stride, img->width);
    if (w < 1 || h < 1 || w > VL_PREPROC_MAX_SIDE || h > VL_PREPROC_MAX_SIDE)
        return vl_error(VLLM_ERR_INVALID_ARG, "preprocess: target size %dx%d is out of range (1..%d)", w, h,
                        VL_PREPROC_MAX_SIDE);
    vl_img8 src = {0}, canvas = {0}, fit = {0};
    vllm_status st;
    if ((st = vl_img8_from_view(img, &src)) || (st = vl_img8_alloc(&canvas, w, h))) goto done;
    if (mode == VL_PREPROC_HF) {
        st = vl_resize_pil(&src, &canvas, VL_FILTER_BICUBIC);
    } else {
        /* PAD_CEIL: fit inside w × h keeping the aspect ratio, centered on black */
        const float s = fminf((float)w / (float)src.w, (float)h / (float)src.h);
        int nw = (int)ceilf((float)src.w * s), nh = (int)ceilf((float)src.h * s);
        nw = nw < w ? nw : w;
        nh = nh < h ? nh : h;
        if ((st = vl_img8_alloc(&fit, nw, nh))) goto done;
        vl_resize_bilinear_llama(&src, &fit);
        memset(canvas.p, 0, (size_t)w * h * 3);
        const int ox = (w - nw) / 2, oy = (h - nh) / 2;
        for (int y = 0; y < nh; y++)
            memcpy(canvas.p + ((size_t)(y + oy) * w + ox) * 3, fit.p + (size_t)y * nw * 3, (size_t)nw * 3);
    }
    if (st) goto done;
    out->u8 = malloc((size_t)w * h * 3);
    if (!out->u8) {
        st = vl_error(VLLM_ERR_NOMEM, "preprocess: out of memory for a %dx%d frame", w, h);
        goto done;
    }
    to_planar(&canvas, out->u8);
    out->width = w;
    out->height = h;
done:
    free(src.p);
    free(canvas.p);
    free(fit.p);
    return st;
}

void vl_frame8_free(vl_frame8 *f)
{
    if (!f) return;
    free(f->u8);
    memset(f, 0, sizeof *f);
}
