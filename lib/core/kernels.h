/* Per-ISA kernel tables (internal to lib/core).
 *
 * Each SIMD level lives in its own files compiled with their own -m flags
 * (vecdot_avx2.c, vecdot_avx512.c, dequant_avx2.c, ...) so the rest of the
 * library stays baseline x86-64 and runs anywhere. A level fills in only
 * the entries it implements on top of the level below, so every entry of
 * every table is always callable; vecdot.c picks one table at run time
 * from vl_cpu(). */
#ifndef VL_CORE_KERNELS_H
#define VL_CORE_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "dtype.h"
#include "igemm.h"

/* y[r] = dot(row r of W, xq) for r in [0, nrows); rows are row_bytes apart,
 * xq is the activation row in vl_vec_dot_type(weight type). */
typedef void (*vl_gemv_fn)(const void *W, size_t row_bytes, const void *xq, int64_t n, float *y, int64_t nrows);

/* dst[0..n) = dequantized src (n a multiple of the block size). */
typedef void (*vl_dequant_fn)(const void *src, float *dst, int64_t n);

/* Attention over a KV cache (lib/decoder/attention.c) whose rows of hd
 * values are stored as F32, F16, Q8_0 or Q4_0, rb bytes apart, read in
 * place (no converted copy of the cache):
 *   kv_dot:  s[j] = dot(q, row j) for j in [0, nk), q in f32;
 *   kv_axpy: acc[0..hd) += sum over j < nk of p[j] * row j. */
typedef void (*vl_kv_dot_fn)(const float *q, const void *K, size_t rb, int64_t hd, float *s, int64_t nk);
typedef void (*vl_kv_axpy_fn)(const float *p, const void *V, size_t rb, int64_t hd, float *acc, int64_t nk);

/* C[m x n] += A B for small cache-resident tiles: A[i][k] at
 * a[i*ars + k*acs] (either layout), B row-major k x n (ldb), C row-major
 * (ldc). The tiled prefill attention's two products. */
typedef void (*vl_sgemm_acc_fn)(int64_t m, int64_t n, int64_t k, const float *a, int64_t ars, int64_t acs,
                                const float *b, int64_t ldb, float *c, int64_t ldc);

/* x[i] = e^(x[i] - sub[i * sub_step]) (vl_exp_fast's formula) for i < n;
 * returns the sum. sub_step 0: one value subtracted from all. */
typedef float (*vl_exp_sub_fn)(float *x, const float *sub, int64_t sub_step, int64_t n);

typedef struct vl_kernel_table {
    const char *name;
    vl_gemv_fn gemv[VL_TYPE_COUNT];
    vl_dequant_fn dequant[VL_TYPE_COUNT];
    /* Integer GEMM micro-kernel (igemm.h), NULL at the scalar level.
     * igemm_preferred[type]: vl_matmul uses it for prefill with weights of
     * that type instead of dequantized tiles + sgemm (VIDEOLLM_IGEMM=1|0
     * forces it on or off for every supported type). Set per type at the
     * AVX2 level from measurements on Zen 2 (see vecdot_avx2.c); the
     * AVX-512 level inherits them. */
    vl_igemm_fn igemm;
    uint8_t igemm_preferred[VL_TYPE_COUNT];
    vl_kv_dot_fn kv_dot[VL_TYPE_COUNT];
    vl_kv_axpy_fn kv_axpy[VL_TYPE_COUNT];
    vl_sgemm_acc_fn sgemm_acc;
    vl_exp_sub_fn exp_sub;
} vl_kernel_table;

/* Scalar reference kernels (vecdot.c, quant.c): every supported type. */
void vl_kernels_fill_scalar(vl_kernel_table *t);
void vl_dequant_fill_scalar(vl_kernel_table *t);

/* AVX2+FMA+F16C (vecdot_avx2.c, dequant_avx2.c). */
void vl_kernels_fill_avx2(vl_kernel_table *t);
void vl_dequant_fill_avx2(vl_kernel_table *t);

/* Attention kernels (attn_kernels.c scalar, attn_avx2.c); AVX-512 keeps
 * the AVX2 ones. */
void vl_attn_fill_scalar(vl_kernel_table *t);
void vl_attn_fill_avx2(vl_kernel_table *t);

/* AVX-512 F/BW/VL/VNNI (vecdot_avx512.c); has_bf16 enables vdpbf16ps. */
void vl_kernels_fill_avx512(vl_kernel_table *t, int has_bf16);

/* AArch64 AdvSIMD (vecdot_neon.c) and SDOT (vecdot_neon_dotprod.c). */
void vl_kernels_fill_neon(vl_kernel_table *t);
void vl_kernels_fill_neon_dotprod(vl_kernel_table *t);

/* The table for a level (vl_kernel_level in vecdot.h), NULL
 * when this CPU (after the VIDEOLLM_CPU cap) cannot run it. */
const vl_kernel_table *vl_kernels_for_level(int level);

/* The table of the best level this CPU runs. */
const vl_kernel_table *vl_kernels_active(void);

/* The 6-bit scale/min pair j (0..7) of a Q4_K/Q5_K super-block. */
static inline void vl_k4_scale_min(int j, const uint8_t *q, uint8_t *sc, uint8_t *m)
{
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

#endif
