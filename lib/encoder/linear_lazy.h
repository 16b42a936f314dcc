/* Linear layers whose weights stay in the file's type (F16, BF16,
 * quantized) instead of a resident f32 copy.
 *
 * An F16 SigLIP-512 tower is 180 MiB in the file and 355 MiB as f32;
 * keeping both resident made the f32 copies the largest part of a video
 * run's memory. So the encoder converts a layer's weight just before its
 * GEMM, into one scratch matrix reused by every layer. The values are the
 * same (conversion to f32 is exact for every type) and the GEMM is the
 * same vl_sgemm call on them, so the results are bit for bit those of
 * the resident copy. (Converting narrower panels would not be: OpenBLAS's
 * rounding depends on how the output columns are split between calls.) */
#ifndef VL_ENCODER_LINEAR_LAZY_H
#define VL_ENCODER_LINEAR_LAZY_H

#include <stddef.h>
#include <stdint.h>

#include "clip_model.h"
#include "core/threadpool.h"

/* Rows r0..r1-1 of l's weight as f32 into dst ((r1 - r0) × n_in). */
void vl_linear_rows_f32(const vl_linear *l, int64_t r0, int64_t r1, float *dst);

/* l's whole weight as a malloc'd f32 matrix (NULL when out of memory). */
float *vl_linear_to_f32(const vl_linear *l);

/* Floats of scratch vl_linear_lazy_gemm needs for m's layers: the
 * largest weight kept in the file (0 when every one is resident). */
size_t vl_linear_lazy_scratch_floats(vl_clip_model *m);

/* y[M][n_out] = x[M][n_in]·Wᵀ (no bias) for a weight kept in the file
 * (l->w NULL, l->src set); scratch: vl_linear_lazy_scratch_floats(). */
void vl_linear_lazy_gemm(vl_pool *pool, const vl_linear *l, const float *x, int64_t M, float *y, float *scratch);

#endif
