/* Dot products of quantized weight rows with prepared activations: the
 * kernels of token-by-token decoding (GEMV), where weights are streamed
 * from memory once per token and the CPU must keep up with the bus.
 *
 * Each weight type has a scalar reference and, where it matters, AVX2 and
 * AVX-512 (VNNI/BF16) versions, chosen once at run time from cpu.h. All
 * versions agree with the reference up to float summation order.
 *
 * Callers validate shapes: n must be a multiple of the weight type's block
 * and the activation's block, and the weight type must have a vec_dot_type
 * (quant.h); these functions do nothing for unsupported types. */
#ifndef VL_CORE_VECDOT_H
#define VL_CORE_VECDOT_H

#include <stddef.h>
#include <stdint.h>

/* y[r - r0] = dot(row r of W, x) for r in [r0, r1).
 * W: rows of n elements of `weight_type`, `row_bytes` apart.
 * xq: the activation vector converted with vl_quantize_activations() to
 *     vl_vec_dot_type(weight_type). */
void vl_gemv(int32_t weight_type, const void *W, size_t row_bytes, const void *xq, int64_t n, float *y,
             int64_t r0, int64_t r1);

/* Same, with the scalar reference kernels only (tests). */
void vl_gemv_ref(int32_t weight_type, const void *W, size_t row_bytes, const void *xq, int64_t n, float *y,
                 int64_t r0, int64_t r1);

/* Kernel levels, for tests and benchmarks that compare them. */
typedef enum vl_kernel_level {
    VL_KERNEL_SCALAR = 0,
    VL_KERNEL_AVX2 = 1,   /* AVX2 + FMA + F16C */
    VL_KERNEL_AVX512 = 2, /* AVX-512 F/BW/VL/VNNI (+BF16 when present) */
    VL_KERNEL_NEON = 3,   /* AArch64 AdvSIMD baseline (ARMv8.0) */
    VL_KERNEL_NEON_DOTPROD = 4, /* + SDOT (ARMv8.2 dotprod) */
    VL_KERNEL_LEVEL_COUNT = 5
} vl_kernel_level;

/* 1 if this CPU (after the VIDEOLLM_CPU cap) can run `level`. */
int vl_kernel_level_available(vl_kernel_level level);

/* vl_gemv / vl_dequantize_row with the kernels of one level (which must be
 * available). */
void vl_gemv_level(vl_kernel_level level, int32_t weight_type, const void *W, size_t row_bytes, const void *xq,
                   int64_t n, float *y, int64_t r0, int64_t r1);
void vl_dequantize_row_level(vl_kernel_level level, int32_t type, const void *src, float *dst, int64_t n);

/* Name of the kernel family selected at run time ("avx512-vnni", "avx2",
 * "neon-dotprod", "neon", "scalar"). */
const char *vl_gemv_kernel_name(void);

#endif
