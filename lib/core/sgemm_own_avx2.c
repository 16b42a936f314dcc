/* The own f32 GEMM built with -mavx2 -mfma (lib/core/meson.build): the
 * same body, vectorized 8 wide with fused multiply-adds. */
#include "sgemm_own.h"

#define VL_SGEMM_OWN_FN vl_sgemm_own_avx2
#include "sgemm_own_body.h"
