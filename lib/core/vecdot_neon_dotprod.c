/* AArch64 SDOT kernels (ARMv8.2 dotprod; compiled with +dotprod, called
 * only when vl_cpu() reports it): the block formats of vecdot_neon_body.h
 * with SDOT doing four 4-byte dot products per instruction. The float
 * kernels are the baseline ones (the table starts as a copy of "neon"). */
#include <arm_neon.h>

static inline int32x4_t dot_i8x16(int32x4_t acc, int8x16_t a, int8x16_t b) { return vdotq_s32(acc, a, b); }

#include "vecdot_neon_body.h"

void vl_kernels_fill_neon_dotprod(vl_kernel_table *t) { fill_block_kernels(t); }
