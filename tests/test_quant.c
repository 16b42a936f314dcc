/* Quantization formats and dequantization, checked against values the test
 * derives itself from the format definitions (ggml-common.h): blocks are
 * packed here from chosen integer quants and scales, and the expected
 * floats come from those, never from the code under test. Also fp16/bf16
 * bit patterns and the run-time activation quantizers (q8_0 / q8_1 / q8_K),
 * including rounding ties, and SIMD dequantizers == scalar reference. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/f16.h"
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
static int rnd_int(int lo, int hi) { return lo + (int)(rnd() % (uint32_t)(hi - lo + 1)); }

/* fp16 bits of small exact values used as scales */
#define H_0_5 0x3800   /* 0.5 */
#define H_0_25 0x3400  /* 0.25 */
#define H_2 0x4000     /* 2.0 */
#define H_M1_5 0xBE00  /* -1.5 */
#define H_0_125 0x3000 /* 0.125 */

static void check_floats(const char *what, const float *got, const double *want, int n)
{
    int bad = 0;
    for (int i = 0; i < n && bad < 5; i++)
        if ((double)got[i] != want[i]) {
            CHECK(0, "%s[%d] = %.9g, want %.9g", what, i, got[i], want[i]);
            bad++;
        }
}

static void dequant_both(int32_t type, const void *blk, float *out, int n)
{
    vl_dequantize_row_ref(type, blk, out, n);
    float fast[512];
    vl_dequantize_row(type, blk, fast, n);
    CHECK(memcmp(fast, out, (size_t)n * sizeof(float)) == 0, "%s: dispatched dequant differs from reference",
          vl_type_name(type));
}

static void test_f16_bf16_bits(void)
{
    CHECK(vl_f32_to_f16(1.0f) == 0x3c00, "1.0 -> %04x", vl_f32_to_f16(1.0f));
    CHECK(vl_f32_to_f16(-2.0f) == 0xc000, "-2.0");
    CHECK(vl_f32_to_f16(65504.0f) == 0x7bff, "max half");
    CHECK(vl_f32_to_f16(65520.0f) == 0x7c00, "65520 rounds to inf");
    CHECK(vl_f32_to_f16(ldexpf(1.0f, -24)) == 0x0001, "smallest subnormal");
    CHECK(vl_f32_to_f16(ldexpf(1.0f, -25)) == 0x0000, "2^-25 ties to even (0)");
    CHECK(vl_f32_to_f16(ldexpf(3.0f, -25)) == 0x0002, "3*2^-25 ties to even (2)");
    CHECK(vl_f32_to_f16(1.0f + ldexpf(1.0f, -11)) == 0x3c00, "1+2^-11 tie -> even 0x3c00");
    CHECK(vl_f32_to_f16(1.0f + ldexpf(3.0f, -11)) == 0x3c02, "1+3*2^-11 tie -> even 0x3c02");
    CHECK(vl_f16_to_f32(0x3555) == 0.333251953125f, "0x3555");
    CHECK(vl_f16_to_f32(0x0001) == ldexpf(1.0f, -24), "subnormal decode");
    CHECK(vl_f16_to_f32(0xfbff) == -65504.0f, "-max");
    CHECK(vl_f32_to_bf16(1.0f) == 0x3f80, "bf16 1.0");
    CHECK(vl_f32_to_bf16(1.0f + ldexpf(1.0f, -8)) == 0x3f80, "bf16 tie -> even");
    CHECK(vl_f32_to_bf16(1.0f + ldexpf(3.0f, -8)) == 0x3f82, "bf16 tie -> even (up)");
    CHECK(vl_bf16_to_f32(0xc0a0) == -5.0f, "bf16 -5");
    CHECK((vl_f32_to_bf16(NAN) & 0x7fc0) == 0x7fc0, "bf16 nan stays a quiet nan");
}

/* ---- hand-built blocks ------------------------------------------------------------ */

static void test_q4_0(void)
{
    vl_block_q4_0 b;
    int q[32];
    for (int i = 0; i < 32; i++) q[i] = (i * 7) % 16 - 8;
    b.d = H_0_5;
    for (int j = 0; j < 16; j++) b.qs[j] = (uint8_t)((q[j] + 8) | ((q[j + 16] + 8) << 4));
    double want[32];
    for (int i = 0; i < 32; i++) want[i] = q[i] * 0.5;
    float got[32];
    dequant_both(VL_TYPE_Q4_0, &b, got, 32);
    check_floats("q4_0", got, want, 32);
}

static void test_q4_1(void)
{
    vl_block_q4_1 b;
    int q[32];
    for (int i = 0; i < 32; i++) q[i] = (i * 5 + 3) % 16;
    b.d = H_0_25;
    b.m = H_M1_5;
    for (int j = 0; j < 16; j++) b.qs[j] = (uint8_t)(q[j] | (q[j + 16] << 4));
    double want[32];
    for (int i = 0; i < 32; i++) want[i] = q[i] * 0.25 - 1.5;
    float got[32];
    dequant_both(VL_TYPE_Q4_1, &b, got, 32);
    check_floats("q4_1", got, want, 32);
}

static void pack_q5(const int *u, uint8_t qs[16], uint8_t qh[4]) /* u in 0..31 */
{
    uint32_t h = 0;
    for (int j = 0; j < 16; j++) {
        qs[j] = (uint8_t)((u[j] & 15) | ((u[j + 16] & 15) << 4));
        h |= (uint32_t)(u[j] >> 4) << j;
        h |= (uint32_t)(u[j + 16] >> 4) << (j + 16);
    }
    for (int k = 0; k < 4; k++) qh[k] = (uint8_t)(h >> (8 * k));
}

static void test_q5(void)
{
    int u[32];
    for (int i = 0; i < 32; i++) u[i] = (i * 11 + 5) % 32;
    vl_block_q5_0 b0;
    b0.d = H_0_5;
    pack_q5(u, b0.qs, b0.qh);
    double want[32];
    float got[32];
    for (int i = 0; i < 32; i++) want[i] = (u[i] - 16) * 0.5;
    dequant_both(VL_TYPE_Q5_0, &b0, got, 32);
    check_floats("q5_0", got, want, 32);

    vl_block_q5_1 b1;
    b1.d = H_0_125;
    b1.m = H_2;
    pack_q5(u, b1.qs, b1.qh);
    for (int i = 0; i < 32; i++) want[i] = u[i] * 0.125 + 2.0;
    dequant_both(VL_TYPE_Q5_1, &b1, got, 32);
    check_floats("q5_1", got, want, 32);
}

static void test_q8_0_and_floats(void)
{
    vl_block_q8_0 b;
    b.d = H_0_25;
    double want[32];
    for (int i = 0; i < 32; i++) {
        b.qs[i] = (int8_t)(i * 8 - 127);
        want[i] = (i * 8 - 127) * 0.25;
    }
    float got[32];
    dequant_both(VL_TYPE_Q8_0, &b, got, 32);
    check_floats("q8_0", got, want, 32);

    uint16_t h[16], bf[16];
    float f[16];
    for (int i = 0; i < 16; i++) {
        h[i] = (uint16_t)(0x3c00 + i * 0x0155); /* 1.0 + i*341/1024 * 2^e ... decode by hand: */
        int e = (h[i] >> 10) & 31, m = h[i] & 1023;
        want[i] = ldexp(1.0 + m / 1024.0, e - 15);
        bf[i] = (uint16_t)(0xbf80 - i * 3);
        f[i] = (float)i - 7.25f;
    }
    dequant_both(VL_TYPE_F16, h, got, 16);
    check_floats("f16", got, want, 16);
    for (int i = 0; i < 16; i++) {
        uint32_t u = (uint32_t)bf[i] << 16;
        int e = (u >> 23) & 255;
        double m = 1.0 + (u & 0x7fffff) / 8388608.0;
        want[i] = -ldexp(m, e - 127);
    }
    dequant_both(VL_TYPE_BF16, bf, got, 16);
    check_floats("bf16", got, want, 16);
    for (int i = 0; i < 16; i++) want[i] = (double)i - 7.25;
    dequant_both(VL_TYPE_F32, f, got, 16);
    check_floats("f32", got, want, 16);
}

/* Q4_K / Q5_K scale packing, written from the format definition: entries
 * 0-3 keep 6 bits in bytes 0-3 (scales) / 4-7 (mins); entries 4-7 keep their
 * low 4 bits in bytes 8-11 (scale low nibble, min high nibble) and their top
 * 2 bits in bits 6-7 of bytes 0-3 (scales) / 4-7 (mins). */
static void pack_k4_scales(const int sc[8], const int mn[8], uint8_t out[12])
{
    for (int j = 0; j < 4; j++) {
        out[j] = (uint8_t)(sc[j] | ((sc[j + 4] >> 4) << 6));
        out[j + 4] = (uint8_t)(mn[j] | ((mn[j + 4] >> 4) << 6));
        out[j + 8] = (uint8_t)((sc[j + 4] & 15) | ((mn[j + 4] & 15) << 4));
    }
}

static void test_q4_K_q5_K(void)
{
    int sc[8] = {1, 63, 17, 40, 33, 62, 5, 48}, mn[8] = {0, 12, 63, 31, 50, 2, 47, 16};
    int q[256];
    for (int i = 0; i < 256; i++) q[i] = (i * 13 + i / 7) % 32;
    double want[256];
    float got[256];

    vl_block_q4_K b4;
    b4.d = H_0_125;
    b4.dmin = H_0_25;
    pack_k4_scales(sc, mn, b4.scales);
    /* 64 weights per 32 bytes: weight 64p+l in the low nibble, 64p+32+l in the high */
    for (int p = 0; p < 4; p++)
        for (int l = 0; l < 32; l++) b4.qs[32 * p + l] = (uint8_t)((q[64 * p + l] & 15) | ((q[64 * p + 32 + l] & 15) << 4));
    for (int i = 0; i < 256; i++) want[i] = 0.125 * sc[i / 32] * (q[i] & 15) - 0.25 * mn[i / 32];
    dequant_both(VL_TYPE_Q4_K, &b4, got, 256);
    check_floats("q4_K", got, want, 256);

    vl_block_q5_K b5;
    b5.d = H_0_25;
    b5.dmin = H_0_5;
    pack_k4_scales(sc, mn, b5.scales);
    memset(b5.qh, 0, sizeof b5.qh);
    for (int p = 0; p < 4; p++)
        for (int l = 0; l < 32; l++) b5.qs[32 * p + l] = (uint8_t)((q[64 * p + l] & 15) | ((q[64 * p + 32 + l] & 15) << 4));
    for (int i = 0; i < 256; i++) b5.qh[i % 32] |= (uint8_t)((q[i] >> 4) << (i / 32)); /* bit j of qh[l]: weight 32j+l */
    for (int i = 0; i < 256; i++) want[i] = 0.25 * sc[i / 32] * q[i] - 0.5 * mn[i / 32];
    dequant_both(VL_TYPE_Q5_K, &b5, got, 256);
    check_floats("q5_K", got, want, 256);
}

static void test_q6_K(void)
{
    vl_block_q6_K b;
    memset(&b, 0, sizeof b);
    int q[256];
    for (int i = 0; i < 256; i++) q[i] = (i * 29 + 3) % 64 - 32;
    for (int g = 0; g < 16; g++) b.scales[g] = (int8_t)(g * 17 - 128);
    b.d = H_0_125;
    /* Per half of 128: weight 32k+l (k=0..3) keeps its low 4 bits in
     * ql[l + 32*(k&1)] (low nibble for k<2, high for k>=2) and its top 2 bits
     * in bits 2k..2k+1 of qh[l]. */
    for (int i = 0; i < 256; i++) {
        int h = i / 128, k = (i % 128) / 32, l = i % 32, u = q[i] + 32;
        b.ql[64 * h + l + 32 * (k & 1)] |= (uint8_t)((u & 15) << (k >= 2 ? 4 : 0));
        b.qh[32 * h + l] |= (uint8_t)((u >> 4) << (2 * k));
    }
    double want[256];
    float got[256];
    for (int i = 0; i < 256; i++) want[i] = 0.125 * b.scales[i / 16] * q[i];
    dequant_both(VL_TYPE_Q6_K, &b, got, 256);
    check_floats("q6_K", got, want, 256);
}

/* ---- activation quantizers ------------------------------------------------------- */

static void test_q8_0_activations(void)
{
    float x[64];
    vl_block_q8_0 y[2];
    /* Block 0: amax 127 -> id = 1 exactly; halves test round-half-even. */
    const float vals[] = {2.5f, 3.5f, -2.5f, 0.5f, 1.5f, 126.5f, -127.0f, 127.0f, -0.5f, 4.5f, -3.5f, 0.49f};
    const int8_t wantq[] = {2, 4, -2, 0, 2, 126, -127, 127, 0, 4, -4, 0};
    for (int i = 0; i < 32; i++) x[i] = 0.0f;
    for (int i = 0; i < 12; i++) x[i] = vals[i];
    /* Block 1: all zero -> d = 0, q = 0 */
    for (int i = 32; i < 64; i++) x[i] = 0.0f;
    vl_quantize_activations(VL_TYPE_Q8_0, x, y, 64);
    CHECK(y[0].d == 0x3c00, "d of amax=127 block = %04x, want fp16(1.0)", y[0].d);
    for (int i = 0; i < 12; i++) CHECK(y[0].qs[i] == wantq[i], "q8_0 of %g = %d, want %d", vals[i], y[0].qs[i], wantq[i]);
    CHECK(y[1].d == 0, "zero block d");
    for (int i = 0; i < 32; i++) CHECK(y[1].qs[i] == 0, "zero block q[%d]", i);

    /* Random blocks: q = round-half-even(x * (127/amax)) with the unrounded
     * amax, d = fp16(amax/127) (ggml's AVX path, not the 1/d reference). */
    for (int i = 0; i < 64; i++) x[i] = (float)((int)(rnd() % 20001) - 10000) / 3777.0f;
    vl_quantize_activations(VL_TYPE_Q8_0, x, y, 64);
    vl_block_q8_1 y1[2];
    vl_quantize_activations(VL_TYPE_Q8_1, x, y1, 64);
    float emu[64];
    vl_activations_emulate(VL_TYPE_Q8_0, x, emu, 64);
    for (int b = 0; b < 2; b++) {
        float amax = 0;
        for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(x[32 * b + i]));
        const float id = 127.0f / amax;
        CHECK(y[b].d == vl_f32_to_f16(amax / 127.0f), "block %d d", b);
        int sum = 0;
        for (int i = 0; i < 32; i++) {
            const int want = (int)rintf(x[32 * b + i] * id);
            sum += want;
            CHECK(y[b].qs[i] == want, "q8_0 block %d [%d]: %d want %d", b, i, y[b].qs[i], want);
            CHECK(y1[b].qs[i] == want, "q8_1 block %d [%d]", b, i);
            CHECK(emu[32 * b + i] == (float)want * vl_f16_to_f32(vl_f32_to_f16(amax / 127.0f)), "emulate q8_0 [%d]", i);
        }
        CHECK(y1[b].d == y[b].d, "q8_1 d");
        CHECK(y1[b].s == vl_f32_to_f16(amax / 127.0f * (float)sum), "q8_1 s = fp16(d * sum)");
    }
}

static void test_q8_K_activations(void)
{
    float x[256];
    for (int i = 0; i < 256; i++) x[i] = (float)((int)(rnd() % 2001) - 1000) / 97.0f;
    x[77] = -12.5f; /* the largest magnitude, negative: iscale = -127/max > 0 */
    vl_block_q8_K y;
    vl_quantize_activations(VL_TYPE_Q8_K, x, &y, 256);
    const float iscale = -127.0f / -12.5f;
    CHECK(y.d == 1.0f / iscale, "q8_K d = %g want %g", y.d, 1.0f / iscale);
    for (int i = 0; i < 256; i++) {
        int want = (int)rintf(iscale * x[i]);
        if (want > 127) want = 127;
        CHECK(y.qs[i] == want, "q8_K [%d] = %d want %d", i, y.qs[i], want);
    }
    for (int g = 0; g < 16; g++) {
        int s = 0;
        for (int l = 0; l < 16; l++) s += y.qs[16 * g + l];
        CHECK(y.bsums[g] == s, "q8_K bsums[%d]", g);
    }
    /* f16 / bf16 activations are plain round-to-nearest-even conversions */
    uint16_t h[4];
    const float xs[4] = {1.0f + ldexpf(1.0f, -11), 3.0f, -0.1f, 65504.0f};
    vl_quantize_activations(VL_TYPE_F16, xs, h, 4);
    CHECK(h[0] == 0x3c00 && h[1] == 0x4200 && h[2] == 0xae66 && h[3] == 0x7bff, "f16 activations %04x %04x %04x %04x",
          h[0], h[1], h[2], h[3]);
    vl_quantize_activations(VL_TYPE_BF16, xs, h, 4);
    CHECK(h[0] == 0x3f80 && h[1] == 0x4040 && h[2] == 0xbdcd, "bf16 activations %04x %04x %04x", h[0], h[1], h[2]);
}

/* ---- SIMD dequant == reference ---------------------------------------------------- */

/* Fill blocks with random bytes, then give every fp16 scale a sane value. */
static void random_blocks(int32_t type, void *buf, int64_t n)
{
    const size_t bytes = vl_row_size(type, n);
    uint8_t *p = buf;
    for (size_t i = 0; i < bytes; i++) p[i] = (uint8_t)rnd();
    const vl_type_traits *t = vl_type_traits_of(type);
    const int64_t nb = n / t->block_size;
    for (int64_t b = 0; b < nb; b++) {
        uint8_t *blk = p + b * t->type_size;
        uint16_t d = vl_f32_to_f16((float)rnd_int(1, 1000) / 20000.0f), m = vl_f32_to_f16((float)rnd_int(-1000, 1000) / 20000.0f);
        switch (type) {
        case VL_TYPE_F16:
            d = vl_f32_to_f16((float)rnd_int(-30000, 30000) / 10000.0f);
            memcpy(blk, &d, 2);
            break;
        case VL_TYPE_BF16: {
            uint16_t v = vl_f32_to_bf16((float)rnd_int(-30000, 30000) / 10000.0f);
            memcpy(blk, &v, 2);
            break;
        }
        case VL_TYPE_F32: {
            float v = (float)rnd_int(-30000, 30000) / 10000.0f;
            memcpy(blk, &v, 4);
            break;
        }
        case VL_TYPE_Q4_0: case VL_TYPE_Q5_0: case VL_TYPE_Q8_0: memcpy(blk, &d, 2); break;
        case VL_TYPE_Q4_1: case VL_TYPE_Q5_1: memcpy(blk, &d, 2); memcpy(blk + 2, &m, 2); break;
        case VL_TYPE_Q4_K: case VL_TYPE_Q5_K:
            memcpy(blk, &d, 2);
            d = vl_f32_to_f16((float)rnd_int(1, 1000) / 20000.0f);
            memcpy(blk + 2, &d, 2);
            break;
        case VL_TYPE_Q6_K: memcpy(blk + 208, &d, 2); break;
        default: break;
        }
    }
}

static const int32_t all_types[] = {VL_TYPE_F32, VL_TYPE_F16, VL_TYPE_BF16, VL_TYPE_Q4_0, VL_TYPE_Q4_1, VL_TYPE_Q5_0,
                                    VL_TYPE_Q5_1, VL_TYPE_Q8_0, VL_TYPE_Q4_K, VL_TYPE_Q5_K, VL_TYPE_Q6_K};

static void test_simd_dequant(void)
{
    static uint8_t buf[1024 * 4];
    static float ref[1024], got[1024];
    for (size_t k = 0; k < sizeof all_types / sizeof all_types[0]; k++) {
        const int32_t type = all_types[k];
        const int64_t n = 1024;
        random_blocks(type, buf, n);
        vl_dequantize_row_ref(type, buf, ref, n);
        for (int lvl = VL_KERNEL_AVX2; lvl <= VL_KERNEL_AVX512; lvl++) {
            if (!vl_kernel_level_available((vl_kernel_level)lvl)) continue;
            memset(got, 0xff, sizeof got);
            vl_dequantize_row_level((vl_kernel_level)lvl, type, buf, got, n);
            CHECK(memcmp(got, ref, sizeof(float) * (size_t)n) == 0, "%s: level %d dequant differs from reference",
                  vl_type_name(type), lvl);
        }
    }
    CHECK(vl_vec_dot_type(VL_TYPE_Q4_K) == VL_TYPE_Q8_K && vl_vec_dot_type(VL_TYPE_Q5_1) == VL_TYPE_Q8_1 &&
              vl_vec_dot_type(VL_TYPE_Q5_0) == VL_TYPE_Q8_0 && vl_vec_dot_type(VL_TYPE_F16) == VL_TYPE_F16 &&
              vl_vec_dot_type(VL_TYPE_Q2_K) == -1,
          "vec_dot_type pairing");
}

TEST_MAIN_BEGIN
test_f16_bf16_bits();
test_q4_0();
test_q4_1();
test_q5();
test_q8_0_and_floats();
test_q4_K_q5_K();
test_q6_K();
test_q8_0_activations();
test_q8_K_activations();
test_simd_dequant();
TEST_MAIN_END
