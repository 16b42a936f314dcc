#include "vit_ops.h"

#include "core/fastmath.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

#include "core/cpu.h"
#include "core/f16.h"

void vl_layernorm_rows(const float *x, float *y, int64_t rows, int n, const float *w, const float *b, float eps)
{
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        float *yr = y + r * n;
        /* ggml_compute_forward_norm_f32: mean and variance summed in double,
         * then scale, weight and bias applied as separate f32 steps. */
        double sum = 0;
        for (int i = 0; i < n; i++) sum += xr[i];
        float mean = (float)(sum / n);
        double sum2 = 0;
        for (int i = 0; i < n; i++) {
            float v = xr[i] - mean;
            yr[i] = v;
            sum2 += (double)(v * v);
        }
        float var = (float)(sum2 / n);
        float scale = 1.0f / sqrtf(var + eps);
        for (int i = 0; i < n; i++) yr[i] *= scale;
        if (w)
            for (int i = 0; i < n; i++) yr[i] *= w[i];
        if (b)
            for (int i = 0; i < n; i++) yr[i] += b[i];
    }
}


void vl_expf_n(const float *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] = vl_exp_fast(x[i]);
}

/* gelu_tanh(x) = 0.5·x·(1 + tanh(u)) = x / (1 + exp(-2u)): the second form
 * has no cancellation for negative x and needs only exp. */
#ifdef VL_HAVE_ENCODER_AVX512 /* x86-64 builds only: no AVX-512 objects elsewhere, so no calls either */
static int use_avx512(void)
{
    const vl_cpu_features *f = vl_cpu();
    return f->avx512f && f->avx512bw && f->avx512vl; /* the file is built with all three */
}
#endif

void vl_gelu_tanh(float *x, int64_t n)
{
#ifdef VL_HAVE_ENCODER_AVX512
    if (use_avx512()) {
        vl_gelu_avx512(x, n, 0);
        return;
    }
#endif
    const float c = 0.79788456080286535588f;
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        float u = c * v * (1.0f + 0.044715f * v * v);
        x[i] = v / (1.0f + vl_exp_fast(-2.0f * u));
    }
}

void vl_gelu_quick(float *x, int64_t n)
{
#ifdef VL_HAVE_ENCODER_AVX512
    if (use_avx512()) {
        vl_gelu_avx512(x, n, 1);
        return;
    }
#endif
    for (int64_t i = 0; i < n; i++) x[i] = x[i] / (1.0f + vl_exp_fast(-1.702f * x[i]));
}

void vl_gelu_erf(float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752440f));
}

/* ggml's fp16 tables: table[h] = fp16(f(fp16_to_f32(h))) with f computed
 * as ggml_gelu_f32 / ggml_gelu_quick_f32 do. */
static uint16_t gelu_table[1 << 16], gelu_quick_table[1 << 16];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void build_tables(void)
{
    const float c = 0.79788456080286535587989211986876f;
    for (uint32_t h = 0; h < (1u << 16); h++) {
        float x = vl_f16_to_f32((uint16_t)h);
        gelu_table[h] = vl_f32_to_f16(0.5f * x * (1.0f + tanhf(c * x * (1.0f + 0.044715f * x * x))));
        gelu_quick_table[h] = vl_f32_to_f16(x * (1.0f / (1.0f + expf(-1.702f * x))));
    }
}

void vl_gelu_tanh_ggml(float *x, int64_t n)
{
    pthread_once(&tables_once, build_tables);
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        if (v <= -10.0f) x[i] = 0.0f;
        else if (v >= 10.0f) x[i] = v;
        else x[i] = vl_f16_to_f32(gelu_table[vl_f32_to_f16(v)]);
    }
}

void vl_gelu_quick_ggml(float *x, int64_t n)
{
    pthread_once(&tables_once, build_tables);
    for (int64_t i = 0; i < n; i++) x[i] = vl_f16_to_f32(gelu_quick_table[vl_f32_to_f16(x[i])]);
}

void vl_softmax_scaled(float *x, int n, float scale)
{
#ifdef VL_HAVE_ENCODER_AVX512
    if (use_avx512()) {
        vl_softmax_scaled_avx512(x, n, scale);
        return;
    }
#endif
    float mx = -INFINITY;
    for (int i = 0; i < n; i++) {
        x[i] *= scale;
        mx = x[i] > mx ? x[i] : mx;
    }
    /* partial sums in 8 lanes keep the reduction vectorizable */
    float part[8] = {0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) {
            float e = vl_exp_fast(x[i + j] - mx);
            x[i + j] = e;
            part[j] += e;
        }
    for (; i < n; i++) {
        x[i] = vl_exp_fast(x[i] - mx);
        part[0] += x[i];
    }
    double sum = 0;
    for (int j = 0; j < 8; j++) sum += part[j];
    float inv = (float)(1.0 / sum);
    for (i = 0; i < n; i++) x[i] *= inv;
}

void vl_im2col_patches(const float *img, int S, int P, float *cols, int round_f16)
{
    const int G = S / P, K = 3 * P * P;
    for (int py = 0; py < G; py++)
        for (int px = 0; px < G; px++) {
            float *row = cols + (size_t)(py * G + px) * K;
            for (int c = 0; c < 3; c++)
                for (int ky = 0; ky < P; ky++) {
                    const float *src = img + (size_t)c * S * S + (size_t)(py * P + ky) * S + (size_t)px * P;
                    float *dst = row + (c * P + ky) * P;
                    memcpy(dst, src, (size_t)P * sizeof(float));
                }
            if (round_f16) vl_round_f16_n(row, row, K);
        }
}

void vl_round_f16_n(const float *src, float *dst, int64_t n)
{
    for (int64_t i = 0; i < n; i++) dst[i] = vl_round_f16(src[i]);
}
