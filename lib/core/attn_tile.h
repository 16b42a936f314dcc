/* The inner step of the tiled prefill attention (lib/decoder/attention.c):
 * one chunk of VL_ATTN_LANES query rows against one block of keys, with
 * the online softmax folded in. A query row is a lane: scores, running
 * maxima and sums and the output are kept "transposed" (one lane per
 * query row), so the softmax needs no horizontal reductions and the two
 * products are register-blocked outer products (several keys or output
 * dimensions per pass share each loaded vector of queries or weights).
 *
 * Kept out of kernels.h's table: attn_kernels.c picks the version for the
 * active kernel table (scalar, or AVX2 at every x86 level above it). */
#ifndef VL_CORE_ATTN_TILE_H
#define VL_CORE_ATTN_TILE_H

#include <stdint.h>

#include "kernels.h"

#define VL_ATTN_LANES 24 /* query rows per chunk: three AVX2 vectors */

/* One chunk against keys 0..nk of a block:
 *   K, V    nk rows of hd f32 values, ldkv floats apart
 *   Qt, Ot  hd rows of VL_ATTN_LANES lanes, ldq floats apart (lane i of
 *           row d: query/output row i, dimension d); Qt is pre-scaled by
 *           log2(e) / sqrt(hd), so scores are in base 2
 *   m, l    per lane: running maximum score and sum of weights
 *   lim     NULL when every lane sees all nk keys, else per lane the last
 *           visible key (as a float index into the block; below 0: none)
 *   S       scratch of nk * VL_ATTN_LANES floats
 * Afterwards Ot = Ot * 2^(m_old - m) + P V with P = 2^(s - m) (0 where
 * masked), l = l * 2^(m_old - m) + sum of P. */
typedef void (*vl_attn_chunk_fn)(int64_t hd, int64_t nk, const float *K, const float *V, int64_t ldkv,
                                 const float *Qt, float *Ot, int64_t ldq, float *m, float *l, const float *lim,
                                 float *S);

/* The chunk kernel that goes with kernel table kt. */
vl_attn_chunk_fn vl_attn_chunk_kernel(const vl_kernel_table *kt);

void vl_attn_chunk_avx2(int64_t hd, int64_t nk, const float *K, const float *V, int64_t ldkv, const float *Qt,
                        float *Ot, int64_t ldq, float *m, float *l, const float *lim, float *S);

#endif
