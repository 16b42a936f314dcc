#include "resize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

vllm_status vl_img8_alloc(vl_img8 *im, int w, int h)
{
    im->w = w;
    im->h = h;
    im->p = malloc((size_t)w * h * 3);
    if (!im->p) return vl_error(VLLM_ERR_NOMEM, "preprocess: out of memory for a %dx%d image", w, h);
    return VLLM_OK;
}

vllm_status vl_img8_from_view(const vl_rgb8 *v, vl_img8 *im)
{
    VL_TRY(vl_img8_alloc(im, v->width, v->height));
    for (int y = 0; y < v->height; y++) memcpy(im->p + (size_t)y * v->width * 3, v->data + (size_t)y * v->stride, (size_t)v->width * 3);
    return VLLM_OK;
}

static int clampi(int x, int lo, int hi) { return x < lo ? lo : x > hi ? hi : x; }

/* ---- llama.cpp's resizers (mtmd-image.cpp img_tool) ---------------------- */

static float lerpf(float s, float e, float t) { return s + (e - s) * t; }

/* Align-corners ratios (src-1)/(dst-1) and a truncating u8 cast, as the
 * llama.cpp the fixtures were made with does (older trees divide by dst).
 * llama.cpp asserts src >= 2x2; here 1-pixel sides clamp instead. */
void vl_resize_bilinear_llama(const vl_img8 *s, vl_img8 *d)
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
void vl_resize_bicubic_llama(const vl_img8 *s, vl_img8 *d)
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


static double filter_eval(vl_filter_kind f, double x)
{
    switch (f) {
    case VL_FILTER_BILINEAR:
        if (x < 0) x = -x;
        return x < 1.0 ? 1.0 - x : 0.0;
    case VL_FILTER_BICUBIC: {
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

static double filter_support(vl_filter_kind f) { return f == VL_FILTER_BILINEAR ? 1.0 : f == VL_FILTER_BICUBIC ? 2.0 : 3.0; }

#define PREC_BITS (32 - 8 - 2)

/* Fixed-point weights for one axis: bounds[2o] = first input, bounds[2o+1]
 * = count; weights ksize per output. Returns ksize, or 0 on OOM. */
static int pil_coeffs(int in_size, int out_size, vl_filter_kind f, int **bounds_out, int32_t **kk_out)
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
static vllm_status pil_pass(const vl_img8 *s, vl_img8 *d, int axis, vl_filter_kind f)
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
vllm_status vl_resize_pil(const vl_img8 *s, vl_img8 *d, vl_filter_kind f)
{
    if (s->w == d->w && s->h == d->h) {
        memcpy(d->p, s->p, (size_t)s->w * s->h * 3);
        return VLLM_OK;
    }
    if (s->w != d->w && s->h != d->h) {
        vl_img8 t;
        VL_TRY(vl_img8_alloc(&t, d->w, s->h));
        vllm_status st = pil_pass(s, &t, 0, f);
        if (!vllm_is_error(st)) st = pil_pass(&t, d, 1, f);
        free(t.p);
        return st;
    }
    return pil_pass(s, d, s->w != d->w ? 0 : 1, f);
}

