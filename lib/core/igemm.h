/* Integer GEMM for prefill with quantized weights: y = x W^T computed as
 * ggml computes it, with int8 products summed exactly in int32 per
 * 32-value sub-block, then scaled in float.
 *
 * Weights: a panel of VL_IGEMM_ROWS rows is unpacked ("packed" here) into
 * signed int8 values per 32-value sub-block, interleaved so that 4
 * consecutive values of each of the 16 rows are adjacent: one 64-byte
 * vector (AVX-512: vpdpbusd with one broadcast activation word) or two
 * 32-byte halves of 8 rows each (AVX2: vpmaddubsw). Then per row: the
 * int32 bias correction (see activations), the float scale of the
 * sub-block, its min (the k-quants' offset; 0 otherwise) and one integer
 * scale per 16-value half (Q6_K's per-16 scales; 1 for every other type),
 * stored as an int32 holding the int16 scale twice, the operand vpmaddwd
 * wants. The weights are value = (scale * isc) * q - min, exactly as ggml
 * dequantizes.
 *
 * Activations: quantized to vl_vec_dot_type(weight type) exactly as ggml
 * does (q8_0 per 32 values, q8_K per 256), then stored biased by +128 as
 * unsigned bytes (vpdpbusd and vpmaddubsw multiply unsigned by signed
 * bytes); the packed corr = -128 * (sum over halves of isc * sum of q)
 * removes the bias, so the integer sums are exactly ggml's:
 *   isum = corr + sum over halves h of isc_h * (sum of xu * q over h).
 * Per sub-block: dx (the activation scale) and mx = -dx * (sum of the
 * activation quants), which carries the k-quants' min term.
 *
 * Result per (token t, row r):
 *   y = sum over sub-blocks s of  fma(isum, scale*dx, ...) then fma(min, mx, ...)
 * in sub-block order; every kernel level performs these same float
 * operations, so all levels give bit-identical results. */
#ifndef VL_CORE_IGEMM_H
#define VL_CORE_IGEMM_H

#include <stddef.h>
#include <stdint.h>

#include "matmul.h"

#define VL_IGEMM_ROWS 16 /* weight rows per panel */
#define VL_IGEMM_TOKS 8  /* activation rows per kernel call (at most) */
#define VL_IGEMM_SB 32   /* values per sub-block */

/* Bytes of one packed sub-block of a panel: values, corr, scale, min, and
 * the integer scales (half 0's 16 rows, then half 1's). */
#define VL_IGEMM_SB_Q 0
#define VL_IGEMM_SB_CORR 512
#define VL_IGEMM_SB_SCALE 576
#define VL_IGEMM_SB_MIN 640
#define VL_IGEMM_SB_ISC 704
#define VL_IGEMM_SB_BYTES 832

/* 1 if weights of `type` can go through the integer GEMM. */
int vl_igemm_supports(int32_t type);

/* 1 if `type` has a min term (the packed mins and mx are used). */
int vl_igemm_has_min(int32_t type);

/* 1 if `type` has integer scales other than 1 (Q6_K's per-16 scales). */
int vl_igemm_has_isc(int32_t type);

/* The largest |q| of a packed weight of `type` (bounds the int16 sums of
 * the AVX2 kernel: vpmaddubsw pairs of 255 * |q| must not saturate). */
int vl_igemm_qmax(int32_t type);

/* Pack rows [0, rows) (rows <= VL_IGEMM_ROWS) of a weight into `panel`
 * (n_in / 32 * VL_IGEMM_SB_BYTES bytes); missing rows are zero. */
void vl_igemm_pack_panel(int32_t type, const void *W, size_t row_bytes, int64_t n_in, int rows, void *panel);

/* Prepared activations of one token from its vec_dot_type row `xq`:
 * xu (n_in bytes), dx and mx (n_in / 32 floats each). */
void vl_igemm_prepare_row(int32_t vec_dot_type, const void *xq, int64_t n_in, uint8_t *xu, float *dx, float *mx);

/* The micro-kernel: y[t * y_stride + r] = dot for t < mr (<= VL_IGEMM_TOKS)
 * and r < ncols (<= VL_IGEMM_ROWS). Token t's activations are at
 * xu + t * xu_stride, dx/mx + t * s_stride; `type` is the weight type the
 * panel was packed from (a supported one). */
typedef void (*vl_igemm_fn)(const void *panel, int64_t nsb, const uint8_t *xu, size_t xu_stride, const float *dx,
                            const float *mx, size_t s_stride, int mr, int32_t type, float *y, size_t y_stride,
                            int ncols);

/* The scalar reference of the same math (igemm.c). */
void vl_igemm_kernel_ref(const void *panel, int64_t nsb, const uint8_t *xu, size_t xu_stride, const float *dx,
                         const float *mx, size_t s_stride, int mr, int32_t type, float *y, size_t y_stride,
                         int ncols);

/* The AVX2 kernel (igemm_avx2.c). */
void vl_igemm_kernel_avx2(const void *panel, int64_t nsb, const uint8_t *xu, size_t xu_stride, const float *dx,
                          const float *mx, size_t s_stride, int mr, int32_t type, float *y, size_t y_stride, int ncols);

/* The AVX-512 VNNI kernel (igemm_avx512.c). */
void vl_igemm_kernel_avx512(const void *panel, int64_t nsb, const uint8_t *xu, size_t xu_stride, const float *dx,
                            const float *mx, size_t s_stride, int mr, int32_t type, float *y, size_t y_stride,
                            int ncols);


/* ---- driver --------------------------------------------------------------------- */


/* Buffer sizes for vl_igemm_matmul (bytes; each 64-byte aligned by the caller). */
typedef struct vl_igemm_sizes {
    size_t xq, xu, dx, panels;
} vl_igemm_sizes;
void vl_igemm_buffer_sizes(const vl_weight *W, int64_t n_tok, int n_threads, vl_igemm_sizes *sz);

/* y = x W^T through `kernel` (W validated by the caller and supported);
 * buffers of at least the sizes above (dx holds dx then mx). */
void vl_igemm_matmul(vl_pool *pool, vl_igemm_fn kernel, const vl_weight *W, const float *x, int64_t n_tok, float *y,
                     void *xq, uint8_t *xu, float *dx, uint8_t *panels);

#endif
