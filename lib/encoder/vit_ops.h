/* Row-wise operations of the vision transformer (LayerNorm, GELU, softmax,
 * im2col), written as plain loops the compiler vectorizes.
 *
 * Each op follows ggml's CPU numerics where that matters for matching
 * llama.cpp (LayerNorm sums in double; the "_ggml" variants reproduce its
 * fp16 lookup-table GELU and fp16 im2col). */
#ifndef VL_ENCODER_VIT_OPS_H
#define VL_ENCODER_VIT_OPS_H

#include <stdint.h>

/* y = (x - mean) / sqrt(var + eps) * w + b for `rows` rows of n values
 * (w, b may be NULL; y may alias x). */
void vl_layernorm_rows(const float *x, float *y, int64_t rows, int n, const float *w, const float *b, float eps);

/* In-place activations over n values. */
void vl_gelu_tanh(float *x, int64_t n);       /* 0.5x(1+tanh(√(2/π)(x+0.044715x³))) in f32 */
void vl_gelu_tanh_ggml(float *x, int64_t n);  /* ggml: fp16(gelu(fp16(x))) for |x|<10 */
void vl_gelu_quick(float *x, int64_t n);      /* x·σ(1.702x) */
void vl_gelu_erf(float *x, int64_t n);        /* 0.5x(1+erf(x/√2)), PyTorch's nn.GELU() */
void vl_gelu_quick_ggml(float *x, int64_t n);

/* In-place softmax of n values of x·scale. */
void vl_softmax_scaled(float *x, int n, float scale);

/* exp of n values (max rel. error ~2 ulp), vectorizable; y may alias x. */
void vl_expf_n(const float *x, float *y, int64_t n);

/* Patch rows of one planar CHW image (3 × S × S floats): row p (patches
 * row-major, x fastest) holds the 3·P·P pixels of patch p ordered
 * (c, ky, kx), matching the conv kernel's row-major [E][3][P][P] layout.
 * round_f16 = 1 rounds every value through fp16 (ggml's F16 im2col). */
void vl_im2col_patches(const float *img, int S, int P, float *cols, int round_f16);

/* dst[i] = round_f16(src[i]) (dst may alias src). */
void vl_round_f16_n(const float *src, float *dst, int64_t n);

/* AVX-512 versions (vit_ops_avx512.c); the functions above dispatch. */
void vl_softmax_scaled_avx512(float *x, int n, float scale);
void vl_gelu_avx512(float *x, int64_t n, int quick);

#endif
