#include "preprocess.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Interleaved RGB8 working image. */
typedef struct {
    uint8_t *p;
    int w, h;
} img8;

static vllm_status img_alloc(img8 *im, int w, int h)
{
    im->w = w;
    im->h = h;
    im->p = malloc((size_t)w * h * 3);
    if (!im->p) return vl_error(VLLM_ERR_NOMEM, "preprocess: out of memory for a %dx%d image", w, h);
    return VLLM_OK;
}

static vllm_status img_from_view(const vl_rgb8 *v, img8 *im)
{
    VL_TRY(img_alloc(im, v->width, v->height));
    for (int y = 0; y < v->height; y++) memcpy(im->p + (size_t)y * v->width * 3, v->data + (size_t)y * v->stride, (size_t)v->width * 3);
    return VLLM_OK;
}

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

static int clampi(int x, int lo, int hi) { return x < lo ? lo : x > hi ? hi : x; }

/* ---- llama.cpp's resizers (mtmd-image.cpp img_tool) ---------------------- */

static float lerpf(float s, float e, float t) { return s + (e - s) * t; }

/* Align-corners ratios (src-1)/(dst-1) and a truncating u8 cast, as the
 * llama.cpp the fixtures were made with does (older trees divide by dst).
 * llama.cpp asserts src >= 2x2; here 1-pixel sides clamp instead. */
static void resize_bilinear_llama(const img8 *s, img8 *d)
{
    float xr = d->w > 1 ? (float)(s->w - 1) / (float)(d->w - 1) : 0.0f;
    float yr = d->h > 1 ? (float)(s->h - 1) / (float)(d->h - 1) : 0.0f;
    for (int y = 0; y < d->h; y++)
        for (int x = 0; x < d->w; x++) {
            float px = xr * x, py = yr * y;
            int x0 = (int)px < s->w - 2 ? (int)px : s->w - 2;
            int y0 = (int)py < s->h - 2 ? (int)py : s->h - 2;
            if (x0 < 0) x0 = 0;
            if (y0 < 0) y0 = 0;
            int x1 = x0 + 1 < s->w ? x0 + 1 : x0, y1 = y0 + 1 < s->h ? y0 + 1 : y0;
            float xl = px - x0, yl = py - y0;
            for (int c = 0; c < 3; c++) {
                float top = lerpf(s->p[3 * (y0 * s->w + x0) + c], s->p[3 * (y0 * s->w + x1) + c], xl);
                float bot = lerpf(s->p[3 * (y1 * s->w + x0) + c], s->p[3 * (y1 * s->w + x1) + c], xl);
                d->p[3 * (y * d->w + x) + c] = (uint8_t)lerpf(top, bot, yl);
            }
        }
}

/* llama.cpp's resize_bicubic: Catmull-Rom-like cubic through 4×4 clamped
 * neighbours; the coefficient expressions mix double constants with float
 * values exactly as the C++ does. */
static void resize_bicubic_llama(const img8 *s, img8 *d)
{
    const int nx = s->w, ny = s->h;
    float tx = (float)nx / (float)d->w, ty = (float)ny / (float)d->h;
    for (int i = 0; i < d->h; i++)
        for (int j = 0; j < d->w; j++) {
            int x = (int)(tx * j), y = (int)(ty * i);
            float dx = tx * j - x, dy = ty * i - y;
            for (int k = 0; k < 3; k++) {
                float C[4];
                for (int jj = 0; jj < 4; jj++) {
                    const uint8_t *row = s->p + (size_t)clampi(y - 1 + jj, 0, ny - 1) * nx * 3;
                    int p0 = row[clampi(x, 0, nx - 1) * 3 + k];
                    float d0 = (float)(row[clampi(x - 1, 0, nx - 1) * 3 + k] - p0);
                    float d2 = (float)(row[clampi(x + 1, 0, nx - 1) * 3 + k] - p0);
                    float d3 = (float)(row[clampi(x + 2, 0, nx - 1) * 3 + k] - p0);
                    float a0 = (float)p0;
                    float a1 = (float)(-1.0 / 3 * d0 + d2 - 1.0 / 6 * d3);
                    float a2 = (float)(1.0 / 2 * d0 + 1.0 / 2 * d2);
                    float a3 = (float)(-1.0 / 6 * d0 - 1.0 / 2 * d2 + 1.0 / 6 * d3);
                    C[jj] = a0 + a1 * dx + a2 * dx * dx + a3 * dx * dx * dx;
                }
                float d0 = C[0] - C[1], d2 = C[2] - C[1], d3 = C[3] - C[1];
                float a0 = C[1];
                float a1 = (float)(-1.0 / 3 * d0 + d2 - 1.0 / 6 * d3);
                float a2 = (float)(1.0 / 2 * d0 + 1.0 / 2 * d2);
                float a3 = (float)(-1.0 / 6 * d0 - 1.0 / 2 * d2 + 1.0 / 6 * d3);
                float Cc = a0 + a1 * dy + a2 * dy * dy + a3 * dy * dy * dy;
                float r = roundf(Cc);
                r = r < 0.0f ? 0.0f : r > 255.0f ? 255.0f : r;
                d->p[(i * d->w + j) * 3 + k] = (uint8_t)r;
            }
        }
}

/* ---- PIL's separable resampler (libImaging/Resample.c) ------------------- */

typedef enum { FILTER_BILINEAR, FILTER_BICUBIC, FILTER_LANCZOS } filter_kind;

static double filter_eval(filter_kind f, double x)
{
    switch (f) {
    case FILTER_BILINEAR:
        if (x < 0) x = -x;
        return x < 1.0 ? 1.0 - x : 0.0;
    case FILTER_BICUBIC: {
        const double a = -0.5;
        if (x < 0) x = -x;
        if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
        if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
        return 0.0;
    }
    default: {
        if (!(-3.0 <= x && x < 3.0)) return 0.0;
        double s1 = x == 0.0 ? 1.0 : sin(x * M_PI) / (x * M_PI);
        double x3 = x / 3.0;
        double s3 = x3 == 0.0 ? 1.0 : sin(x3 * M_PI) / (x3 * M_PI);
        return s1 * s3;
    }
    }
}

static double filter_support(filter_kind f) { return f == FILTER_BILINEAR ? 1.0 : f == FILTER_BICUBIC ? 2.0 : 3.0; }

#define PREC_BITS (32 - 8 - 2)

/* Fixed-point weights for one axis: bounds[2o] = first input, bounds[2o+1]
 * = count; weights ksize per output. Returns ksize, or 0 on OOM. */
static int pil_coeffs(int in_size, int out_size, filter_kind f, int **bounds_out, int32_t **kk_out)
{
    double scale = (double)in_size / out_size, fscale = scale < 1.0 ? 1.0 : scale;
    double support = filter_support(f) * fscale;
    int ksize = (int)ceil(support) * 2 + 1;
    int *bounds = malloc((size_t)out_size * 2 * sizeof(int));
    int32_t *kk = malloc((size_t)out_size * ksize * sizeof(int32_t));
    double *k = malloc((size_t)ksize * sizeof(double));
    if (!bounds || !kk || !k) {
        free(bounds), free(kk), free(k);
        return 0;
    }
    for (int xx = 0; xx < out_size; xx++) {
        double center = (xx + 0.5) * scale, ww = 0.0, ss = 1.0 / fscale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        if (xmax > ksize) xmax = ksize;
        for (int x = 0; x < xmax; x++) {
            double w = filter_eval(f, (x + xmin - center + 0.5) * ss);
            k[x] = w;
            ww += w;
        }
        for (int x = 0; x < ksize; x++) {
            double v = x < xmax && ww != 0.0 ? k[x] / ww : 0.0;
            kk[(size_t)xx * ksize + x] = v < 0 ? (int32_t)(-0.5 + v * (1 << PREC_BITS)) : (int32_t)(0.5 + v * (1 << PREC_BITS));
        }
        bounds[xx * 2] = xmin;
        bounds[xx * 2 + 1] = xmax;
    }
    free(k);
    *bounds_out = bounds;
    *kk_out = kk;
    return ksize;
}

static uint8_t clip8(int32_t v)
{
    v >>= PREC_BITS;
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* One axis: axis 0 resamples rows (x), axis 1 columns (y). */
static vllm_status pil_pass(const img8 *s, img8 *d, int axis, filter_kind f)
{
    int in = axis == 0 ? s->w : s->h, out = axis == 0 ? d->w : d->h;
    int *bounds;
    int32_t *kk;
    int ksize = pil_coeffs(in, out, f, &bounds, &kk);
    if (!ksize) return vl_error(VLLM_ERR_NOMEM, "preprocess: out of memory (resampler)");
    for (int y = 0; y < d->h; y++)
        for (int x = 0; x < d->w; x++) {
            int o = axis == 0 ? x : y;
            int m0 = bounds[o * 2], cnt = bounds[o * 2 + 1];
            const int32_t *k = kk + (size_t)o * ksize;
            int32_t acc[3] = {1 << (PREC_BITS - 1), 1 << (PREC_BITS - 1), 1 << (PREC_BITS - 1)};
            for (int t = 0; t < cnt; t++) {
                const uint8_t *px = axis == 0 ? s->p + ((size_t)y * s->w + m0 + t) * 3 : s->p + ((size_t)(m0 + t) * s->w + x) * 3;
                for (int c = 0; c < 3; c++) acc[c] += px[c] * k[t];
            }
            for (int c = 0; c < 3; c++) d->p[((size_t)y * d->w + x) * 3 + c] = clip8(acc[c]);
        }
    free(bounds);
    free(kk);
    return VLLM_OK;
}

/* PIL Image.resize((w, h), filter): horizontal pass, then vertical, each
 * only when that side changes; an 8-bit image in between. */
static vllm_status resize_pil(const img8 *s, img8 *d, filter_kind f)
{
    if (s->w == d->w && s->h == d->h) {
        memcpy(d->p, s->p, (size_t)s->w * s->h * 3);
        return VLLM_OK;
    }
    if (s->w != d->w && s->h != d->h) {
        img8 t;
        VL_TRY(img_alloc(&t, d->w, s->h));
        vllm_status st = pil_pass(s, &t, 0, f);
        if (!vllm_is_error(st)) st = pil_pass(&t, d, 1, f);
        free(t.p);
        return st;
    }
    return pil_pass(s, d, s->w != d->w ? 0 : 1, f);
}

/* ---- tiles ---------------------------------------------------------------- */

static void crop_planar(const img8 *im, int x0, int y0, int S, uint8_t *dst)
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

static vllm_status llamacpp_split(const img8 *im, int S, int L, vl_tiles *out)
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
    img8 refined = {0}, fitted = {0}, ov = {0};
    /* refined: bicubic to the aspect-preserving fit, pasted centered on black */
    if ((st = img_alloc(&refined, rw, rh))) goto done;
    if (rw == W && rh == H) {
        memcpy(refined.p, im->p, (size_t)W * H * 3);
    } else {
        float s = fminf((float)rw / W, (float)rh / H);
        int nw = (int)ceilf(W * s), nh = (int)ceilf(H * s);
        nw = nw < rw ? nw : rw;
        nh = nh < rh ? nh : rh;
        if ((st = img_alloc(&fitted, nw, nh))) goto done;
        resize_bicubic_llama(im, &fitted);
        memset(refined.p, 0, (size_t)rw * rh * 3);
        int ox = (rw - nw) / 2, oy = (rh - nh) / 2;
        for (int y = 0; y < nh; y++) memcpy(refined.p + ((size_t)(y + oy) * rw + ox) * 3, fitted.p + (size_t)y * nw * 3, (size_t)nw * 3);
    }
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) crop_planar(&refined, c * S, r * S, S, out->u8 + (size_t)(r * cols + c) * 3 * S * S);
    /* overview: bilinear stretch, last */
    if ((st = img_alloc(&ov, S, S))) goto done;
    if (W == S && H == S) memcpy(ov.p, im->p, (size_t)S * S * 3);
    else resize_bilinear_llama(im, &ov);
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

static vllm_status hf_split(const img8 *im, int S, int L, vl_tiles *out)
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
    img8 a = {0}, b = {0}, g = {0};
    if ((st = img_alloc(&a, w1, h1)) || (st = resize_pil(im, &a, FILTER_LANCZOS))) goto done;
    if ((st = img_alloc(&b, w2, h2)) || (st = resize_pil(&a, &b, FILTER_LANCZOS))) goto done;
    if (!split) {
        crop_planar(&b, 0, 0, S, out->u8);
        goto done;
    }
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) crop_planar(&b, c * S, r * S, S, out->u8 + (size_t)(r * cols + c) * 3 * S * S);
    if ((st = img_alloc(&g, S, S)) || (st = resize_pil(&b, &g, FILTER_LANCZOS))) goto done;
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
    img8 im;
    VL_TRY(img_from_view(img, &im));
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
    img8 im = {0}, a = {0}, b = {0};
    vllm_status st;
    int w1, h1;
    hf_longest_edge(img->width, img->height, L, &w1, &h1);
    if ((st = img_from_view(img, &im))) goto done;
    if ((st = img_alloc(&a, w1, h1)) || (st = resize_pil(&im, &a, FILTER_BICUBIC))) goto done;
    if ((st = img_alloc(&b, S, S)) || (st = resize_pil(&a, &b, FILTER_BICUBIC))) goto done;
    crop_planar(&b, 0, 0, S, out);
done:
    free(im.p);
    free(a.p);
    free(b.p);
    return st;
}

void vl_normalize_planar(const uint8_t *u8, size_t n_tiles, int S, const float mean[3], const float std[3], float *out)
{
    const size_t plane = (size_t)S * S;
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
