/* Every SIMD kernel level this CPU runs (AVX2, AVX-512 on x86-64; NEON,
 * NEON+SDOT on AArch64) against the scalar reference GEMV, on ragged
 * shapes: float rows whose length is no multiple of any vector width,
 * odd block counts, row counts from 1, sub-ranges of rows, row strides off
 * vector alignment, subnormal f16 weights.
 *
 * Tolerance: float summation order differs between levels, so
 * |got - ref| <= 1e-5 * sum|w*x| (+1e-6). The AArch64 block kernels keep
 * the reference's exact integer block dots and its float accumulation
 * order (vecdot_neon_body.h), so there they must equal it bit for bit.
 *
 * Under qemu-aarch64 the suite runs this with -cpu max (dotprod) and
 * -cpu cortex-a53 (baseline NEON only): the levels checked are printed. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/f16.h"
#include "core/kernels.h"
#include "core/quant.h"
#include "core/vecdot.h"
#include "harness.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}
static float rnd_float(void) { return (float)((int)(rnd() % 200001) - 100000) / 50000.0f; }

static const int32_t types[] = {VL_TYPE_F32, VL_TYPE_F16, VL_TYPE_BF16, VL_TYPE_Q8_0, VL_TYPE_Q4_0,
                                VL_TYPE_Q4_1, VL_TYPE_Q5_0, VL_TYPE_Q5_1, VL_TYPE_Q4_K, VL_TYPE_Q5_K, VL_TYPE_Q6_K};
#define N_TYPES (sizeof types / sizeof types[0])

static int is_float(int32_t t) { return t == VL_TYPE_F32 || t == VL_TYPE_F16 || t == VL_TYPE_BF16; }

/* Random rows: float types get random values (f16 also some subnormals),
 * block types random bytes with a sane f16 scale (and min) per block. */
static void random_rows(int32_t type, uint8_t *p, int64_t rows, size_t rb, int64_t n)
{
    const vl_type_traits *t = vl_type_traits_of(type);
    for (size_t i = 0; i < (size_t)rows * rb; i++) p[i] = (uint8_t)rnd();
    for (int64_t r = 0; r < rows; r++) {
        uint8_t *row = p + (size_t)r * rb;
        for (int64_t b = 0; b < n / t->block_size; b++) {
            uint8_t *blk = row + b * t->type_size;
            const uint16_t d = vl_f32_to_f16((float)(1 + rnd() % 1000) / 20000.0f);
            const uint16_t m = vl_f32_to_f16((float)((int)(rnd() % 2001) - 1000) / 20000.0f);
            float f = rnd_float();
            uint16_t h = rnd() % 8 == 0 ? (uint16_t)(rnd() % 0x400) | (uint16_t)(rnd() & 0x8000) /* subnormal */
                                        : vl_f32_to_f16(f);
            switch (type) {
            case VL_TYPE_F32: memcpy(blk, &f, 4); break;
            case VL_TYPE_F16: memcpy(blk, &h, 2); break;
            case VL_TYPE_BF16: h = vl_f32_to_bf16(f); memcpy(blk, &h, 2); break;
            case VL_TYPE_Q4_0: case VL_TYPE_Q5_0: case VL_TYPE_Q8_0: memcpy(blk, &d, 2); break;
            case VL_TYPE_Q4_1: case VL_TYPE_Q5_1: memcpy(blk, &d, 2); memcpy(blk + 2, &m, 2); break;
            case VL_TYPE_Q4_K: case VL_TYPE_Q5_K: memcpy(blk, &d, 2); memcpy(blk + 2, &d, 2); break;
            case VL_TYPE_Q6_K: memcpy(blk + 208, &d, 2); break;
            default: break;
            }
        }
    }
}

static int level_is_arm(int lvl) { return lvl == VL_KERNEL_NEON || lvl == VL_KERNEL_NEON_DOTPROD; }

static int levels_checked;

static void check_shape(int32_t type, int64_t n, int64_t rows, size_t pad)
{
    const int32_t vdt = vl_vec_dot_type(type);
    const size_t rb = vl_row_size(type, n) + pad;
    uint8_t *W = malloc((size_t)rows * rb);
    float *x = malloc((size_t)n * sizeof(float)), *wf = malloc((size_t)n * sizeof(float));
    float *ref = malloc((size_t)rows * sizeof(float)), *got = malloc((size_t)(rows + 1) * sizeof(float));
    void *xq = malloc(vl_activation_row_size(vdt, n));
    REQUIRE(W && x && wf && ref && got && xq, "out of memory");
    random_rows(type, W, rows, rb, n);
    for (int64_t i = 0; i < n; i++) x[i] = rnd_float();
    vl_quantize_activations(vdt, x, xq, n);
    /* a sub-range [r0, r1) as the thread pool splits rows (all rows when few) */
    const int64_t r0 = rows > 2 ? 1 : 0, r1 = rows > 3 ? rows - 1 : rows;
    vl_gemv_ref(type, W, rb, xq, n, ref, r0, r1);
    for (int lvl = 1; lvl < VL_KERNEL_LEVEL_COUNT; lvl++) {
        if (!vl_kernel_level_available((vl_kernel_level)lvl)) continue;
        levels_checked |= 1 << lvl;
        for (int64_t i = 0; i <= rows; i++) got[i] = NAN;
        vl_gemv_level((vl_kernel_level)lvl, type, W, rb, xq, n, got, r0, r1);
        CHECK(isnan(got[r1 - r0]), "%s level %d wrote past row %lld", vl_type_name(type), lvl, (long long)(r1 - r0));
        for (int64_t r = r0; r < r1; r++) {
            vl_dequantize_row_ref(type, W + (size_t)r * rb, wf, n);
            double ad = 0;
            for (int64_t i = 0; i < n; i++) ad += fabs((double)wf[i] * x[i]);
            const float g = got[r - r0], want = ref[r - r0];
            if (level_is_arm(lvl) && !is_float(type))
                CHECK(memcmp(&g, &want, sizeof g) == 0, "%s level %d n=%lld rows=%lld row %lld: %.9g, reference %.9g",
                      vl_type_name(type), lvl, (long long)n, (long long)rows, (long long)r, g, want);
            else
                CHECK(fabs((double)g - want) <= 1e-5 * ad * 1.01 + 1e-6,
                      "%s level %d n=%lld rows=%lld row %lld: %.9g, reference %.9g (sum|wx| %.3g)", vl_type_name(type),
                      lvl, (long long)n, (long long)rows, (long long)r, g, want, ad);
        }
    }
    free(W);
    free(x);
    free(wf);
    free(ref);
    free(got);
    free(xq);
}

TEST_MAIN_BEGIN
    /* float rows: around and between the 4/8/16-wide steps of the kernels */
    static const int64_t float_ns[] = {1, 3, 4, 7, 8, 9, 15, 16, 17, 31, 33, 63, 100, 257};
    /* block rows: 1..9 blocks of 32, or 1..3 super-blocks of 256 */
    static const int64_t blocks[] = {1, 2, 3, 5, 9};
    static const int64_t row_counts[] = {1, 2, 5, 7};
    for (size_t k = 0; k < N_TYPES; k++) {
        const int32_t type = types[k];
        const int64_t bs = vl_type_traits_of(type)->block_size;
        for (size_t ri = 0; ri < sizeof row_counts / sizeof row_counts[0]; ri++) {
            const int64_t rows = row_counts[ri];
            if (is_float(type)) {
                for (size_t i = 0; i < sizeof float_ns / sizeof float_ns[0]; i++)
                    check_shape(type, float_ns[i], rows, (size_t)(ri % 2) * (type == VL_TYPE_F32 ? 4 : 2));
            } else {
                for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++) {
                    if (bs == 256 && blocks[i] > 3) continue;
                    /* +2 bytes: rows off 4-/16-byte alignment (blocks hold f16
                     * scales, so GGUF rows are always 2-byte aligned) */
                    check_shape(type, blocks[i] * bs, rows, (size_t)(ri % 2) * 2);
                }
            }
        }
    }
    fprintf(stderr, "kernel set selected: %s; levels checked against scalar:", vl_gemv_kernel_name());
    for (int lvl = 1; lvl < VL_KERNEL_LEVEL_COUNT; lvl++)
        if (levels_checked & (1 << lvl)) fprintf(stderr, " %s", vl_kernels_for_level(lvl)->name);
    fprintf(stderr, "%s\n", levels_checked ? "" : " none (scalar only)");
TEST_MAIN_END
