#include "preprocess.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resize.h"

static vllm_status check_view(const vl_rgb8 *v, int image_size)
{
    if (!v || !v->data) return vl_error(VLLM_ERR_INVALID_ARG, "preprocess: no image");
    if (v->width < 1 || v->height < 1 || v->width > VL_PREPROC_MAX_SIDE || v->height > VL_PREPROC_MAX_SIDE)
        return vl_error(VLLM_ERR_INVALID_ARG, "preprocess: image size %dx%d outside 1..%d", v->width, v->height,
                        VL_PREPROC_MAX_SIDE);
    if (v->stride < (size_t)v->width * 3)
        return vl_error(VLLM_ERR_INVALID_ARG, "preprocess: stride %zu < 3 x width %d", v->stride, v->width);
    if (image_size < 1 || image_size > 8192)
        return vl_error(VLLM_ERR_INVALID_ARG, "preprocess: image_size %d outside 1..8192", image_size);
    return VLLM_OK;
}

/* ---- tiles ---------------------------------------------------------------- */

static void crop_planar(const vl_img8 *im, int x0, int y0, int S, uint8_t *dst)
{
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++) {
                int sx = x0 + x, sy = y0 + y;
                dst[((size_t)c * S + y) * S + x] =
                    (sx < im->w && sy < im->h) ? im->p[((size_t)sy * im->w + sx) * 3 + c] : 0;
            }
}

static vllm_status tiles_alloc(vl_tiles *t, int S, int rows, int cols)
{
    int n = rows * cols + (rows ? 1 : 0);
    if (!rows) n = 1;
    if (n > VL_PREPROC_MAX_TILES)
        return vl_error(VLLM_ERR_INVALID_ARG, "preprocess: %dx%d tiles exceed the limit of %d", rows, cols, VL_PREPROC_MAX_TILES);
    t->size = S;
    t->rows = rows;
    t->cols = cols;
    t->n_tiles = n;
    t->u8 = malloc((size_t)n * 3 * S * S);
    if (!t->u8) return vl_error(VLLM_ERR_NOMEM, "preprocess: out of memory for %d tiles of %dx%d", n, S, S);
    return VLLM_OK;
}

static vllm_status llamacpp_split(const vl_img8 *im, int S, int L, vl_tiles *out)
{
    int W = im->w, H = im->h, rw, rh;
    if (L > 0) {
        float scale = fminf((float)L / W, (float)L / H);
        float tw = (float)W * scale, th = (float)H * scale;
        rw = (int)ceilf(tw / (float)S) * S;
        rh = (int)ceilf(th / (float)S) * S;
    } else {
        rw = (int)roundf((float)W / S) * S;
        rh = (int)roundf((float)H / S) * S;
    }
    if (rw < S) rw = S;
    if (rh < S) rh = S;
    int rows = rh / S, cols = rw / S;
    if ((long long)rows * cols + 1 > VL_PREPROC_MAX_TILES)
        return vl_error(VLLM_ERR_INVALID_ARG, "preprocess: %dx%d image gives %dx%d tiles (limit %d)", W, H, rows, cols,
                        VL_PREPROC_MAX_TILES);
    VL_TRY(tiles_alloc(out, S, rows, cols));

    vllm_status st = VLLM_OK;
    vl_img8 refined = {0}, fitted = {0}, ov = {0};
    /* refined: bicubic to the aspect-preserving fit, pasted centered on black */
    if ((st = vl_img8_alloc(&refined, rw, rh))) goto done;
    if (rw == W && rh == H) {
        memcpy(refined.p, im->p, (size_t)W * H * 3);
    } else {
        float s = fminf((float)rw / W, (float)rh / H);
        int nw = (int)ceilf(W * s), nh = (int)ceilf(H * s);
        nw = nw < rw ? nw : rw;
        nh = nh < rh ? nh : rh;
        if ((st = vl_img8_alloc(&fitted, nw, nh))) goto done;
        vl_resize_bicubic_llama(im, &fitted);
        memset(refined.p, 0, (size_t)rw * rh * 3);
        int ox = (rw - nw) / 2, oy = (rh - nh) / 2;
        for (int y = 0; y < nh; y++) memcpy(refined.p + ((size_t)(y + oy) * rw + ox) * 3, fitted.p + (size_t)y * nw * 3, (size_t)nw * 3);
    }
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) crop_planar(&refined, c * S, r * S, S, out->u8 + (size_t)(r * cols + c) * 3 * S * S);
    /* overview: bilinear stretch, last */
    if ((st = vl_img8_alloc(&ov, S, S))) goto done;
    if (W == S && H == S) memcpy(ov.p, im->p, (size_t)S * S * 3);
    else vl_resize_bilinear_llama(im, &ov);
    crop_planar(&ov, 0, 0, S, out->u8 + (size_t)rows * cols * 3 * S * S);
done:
    free(refined.p);
    free(fitted.p);
    free(ov.p);
    if (st) vl_tiles_free(out);
    return st;
}

/* transformers' _resize_output_size_rescale_to_max_len (+ the 4096 cap). */
static void hf_longest_edge(int W, int H, int L, int *ow, int *oh)
{
    double ar = (double)W / H;
    int w = W, h = H;
    if (w >= h) {
        w = L;
        h = (int)(w / ar);
        if (h % 2) h++;
    } else {
        h = L;
        w = (int)(h * ar);
        if (w % 2) w++;
    }
    if (h < 1) h = 1;
    if (w < 1) w = 1;
    const int cap = 4096; /* _resize_output_size_scale_below_upper_bound */
    ar = (double)w / h;
    if (w >= h && w > cap) {
        w = cap;
        h = (int)(w / ar);
    } else if (h > w && h > cap) {
        h = cap;
        w = (int)(h * ar);
    }
    *ow = w < 1 ? 1 : w;
    *oh = h < 1 ? 1 : h;
}

static vllm_status hf_split(const vl_img8 *im, int S, int L, vl_tiles *out)
{
    if (L <= 0) return vl_error(VLLM_ERR_INVALID_ARG, "preprocess: HF mode needs preproc_image_size (longest edge)");
    int w1, h1;
    hf_longest_edge(im->w, im->h, L, &w1, &h1);
    /* resize_for_vision_encoder */
    double ar = (double)w1 / h1;
    int w2, h2;
    if (w1 >= h1) {
        w2 = (w1 + S - 1) / S * S;
        h2 = (int)(w2 / ar);
        h2 = (h2 + S - 1) / S * S;
    } else {
        h2 = (h1 + S - 1) / S * S;
        w2 = (int)(h2 * ar);
        w2 = (w2 + S - 1) / S * S;
    }
    if (w2 < S) w2 = S;
    if (h2 < S) h2 = S;
    int split = w2 > S || h2 > S;
    int rows = split ? h2 / S : 0, cols = split ? w2 / S : 0;
    if ((long long)rows * cols + 1 > VL_PREPROC_MAX_TILES)
        return vl_error(VLLM_ERR_INVALID_ARG, "preprocess: %dx%d image gives %dx%d tiles (limit %d)", im->w, im->h, rows,
                        cols, VL_PREPROC_MAX_TILES);
    VL_TRY(tiles_alloc(out, S, rows, cols));
    vllm_status st;
    vl_img8 a = {0}, b = {0}, g = {0};
    if ((st = vl_img8_alloc(&a, w1, h1)) || (st = vl_resize_pil(im, &a, VL_FILTER_LANCZOS))) goto done;
    if ((st = vl_img8_alloc(&b, w2, h2)) || (st = vl_resize_pil(&a, &b, VL_FILTER_LANCZOS))) goto done;
    if (!split) {
        crop_planar(&b, 0, 0, S, out->u8);
        goto done;
    }
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) crop_planar(&b, c * S, r * S, S, out->u8 + (size_t)(r * cols + c) * 3 * S * S);
    if ((st = vl_img8_alloc(&g, S, S)) || (st = vl_resize_pil(&b, &g, VL_FILTER_LANCZOS))) goto done;
    crop_planar(&g, 0, 0, S, out->u8 + (size_t)rows * cols * 3 * S * S);
done:
    free(a.p);
    free(b.p);
    free(g.p);
    if (st) vl_tiles_free(out);
    return st;
}

vllm_status vl_preprocess_image(const vl_rgb8 *img, int image_size, int longest_edge, vl_preproc_mode mode,
                                vl_tiles *out)
{
    memset(out, 0, sizeof *out);
    VL_TRY(check_view(img, image_size));
    if (longest_edge < 0 || longest_edge > 65536)
        return vl_error(VLLM_ERR_INVALID_ARG, "preprocess: longest_edge %d outside 0..65536", longest_edge);
    vl_img8 im;
    VL_TRY(vl_img8_from_view(img, &im));
    vllm_status st = mode == VL_PREPROC_HF ? hf_split(&im, image_size, longest_edge, out)
                                           : llamacpp_split(&im, image_size, longest_edge, out);
    free(im.p);
    return st;
}

void vl_tiles_free(vl_tiles *t)
{
    if (!t) return;
    free(t->u8);
    memset(t, 0, sizeof *t);
}

vllm_status vl_preprocess_video_frame(const vl_rgb8 *img, int image_size, int longest_edge, uint8_t *out)
{
    VL_TRY(check_view(img, image_size));
    if (!out) return vl_error(VLLM_ERR_INVALID_ARG, "preprocess: no output buffer");
    const int S = image_size;
    int L = longest_edge > 0 ? longest_edge : S;
    if (L > 65536) return vl_error(VLLM_ERR_INVALID_ARG, "preprocess: longest_edge %d too large", L);
    vl_img8 im = {0}, a = {0}, b = {0};
    vllm_status st;
    int w1, h1;
    hf_longest_edge(img->width, img->height, L, &w1, &h1);
    if ((st = vl_img8_from_view(img, &im))) goto done;
    if ((st = vl_img8_alloc(&a, w1, h1)) || (st = vl_resize_pil(&im, &a, VL_FILTER_BICUBIC))) goto done;
    if ((st = vl_img8_alloc(&b, S, S)) || (st = vl_resize_pil(&a, &b, VL_FILTER_BICUBIC))) goto done;
    crop_planar(&b, 0, 0, S, out);
done:
    free(im.p);
    free(a.p);
    free(b.p);
    return st;
}

void vl_normalize_planar(const uint8_t *u8, size_t n_tiles, int S, const float mean[3], const float std[3], float *out)
{
    vl_normalize_planes(u8, n_tiles, (size_t)S * S, mean, std, out);
}

void vl_normalize_planes(const uint8_t *u8, size_t n_tiles, size_t plane, const float mean[3], const float std[3],
                         float *out)
{
    for (size_t t = 0; t < n_tiles; t++)
        for (int c = 0; c < 3; c++) {
            const uint8_t *src = u8 + (t * 3 + c) * plane;
            float *dst = out + (t * 3 + c) * plane;
            for (size_t i = 0; i < plane; i++) dst[i] = ((float)src[i] / 255.0f - mean[c]) / std[c];
        }
}

/* ---- prompt layout --------------------------------------------------------- */

int vl_idefics3_layout_size(int rows, int cols)
{
    if (rows <= 0 || cols <= 0) return 4;
    return rows * cols * 3 + (rows - 1) + 5;
}

static int put(vl_prompt_piece *out, int *n, int max, int tile, const char *text)
{
    if (*n >= max) return -1;
    out[*n].tile = tile;
    snprintf(out[*n].text, sizeof out[*n].text, "%s", text ? text : "");
    (*n)++;
    return 0;
}

int vl_idefics3_layout(int rows, int cols, vl_prompt_piece *out, int max)
{
    int n = 0;
    static const char *fake = "<fake_token_around_image>";
    if (rows > 0 && cols > 0) {
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                char marker[48];
                snprintf(marker, sizeof marker, "<row_%d_col_%d>", r + 1, c + 1);
                if (put(out, &n, max, -1, fake) || put(out, &n, max, -1, marker) || put(out, &n, max, r * cols + c, NULL))
                    return -1;
            }
            if (r + 1 < rows && put(out, &n, max, -1, "\n")) return -1;
        }
        if (put(out, &n, max, -1, "\n\n")) return -1;
    }
    int ov = rows > 0 && cols > 0 ? rows * cols : 0;
    if (put(out, &n, max, -1, fake) || put(out, &n, max, -1, "<global-img>") || put(out, &n, max, ov, NULL) ||
        put(out, &n, max, -1, fake))
        return -1;
    return n;
}
