/* Sampling rules without any video: numpy linspace truncation, the
 * SmolVLM2 fps rule (values worked out by hand from transformers'
 * sample_frames), uniform sampling, and the ffmpeg fps-filter emulation
 * against a direct restatement of its selection ("each output slot n shows
 * the last frame whose rounded time is <= n"). */
#include <math.h>
#include <string.h>

#include "decode/sample_plan.h"
#include "harness.h"

static int same(const int64_t *a, const int64_t *b, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (a[i] != b[i]) return 0;
    return 1;
}

static void check_smol(int64_t total, double vfps, double fps, int32_t maxf, const int64_t *want, int64_t nwant)
{
    vl_plan_input in = {total, vfps};
    int64_t cap = vl_plan_smolvlm_capacity(&in, fps, maxf);
    int64_t out[128], n = -1;
    REQUIRE(cap > 0 && cap <= 128, "capacity %lld", (long long)cap);
    vllm_status st = vl_plan_smolvlm(&in, fps, maxf, out, &n);
    CHECK(st == VLLM_OK, "status %d", st);
    CHECK(n == nwant && same(out, want, nwant), "total %lld @%g fps=%g max=%d: got %lld frames (first %lld)",
          (long long)total, vfps, fps, maxf, (long long)n, (long long)out[0]);
}

/* Rounded output slot of a millisecond timestamp at integer F (halves away from zero). */
static int64_t slot_ms(int64_t ms, int64_t f) { return (2 * ms * f + 1000) / 2000; }

/* Frames ffmpeg's fps filter shows, restated directly: for slots from the
 * first frame's slot up to (excluding) the EOF slot of the last frame,
 * the last frame whose slot is <= n. */
static int64_t direct_ffps(const int64_t *ms, int64_t n, int64_t f, int64_t *sel)
{
    int64_t k = 0, first = slot_ms(ms[0], f), eof = slot_ms(ms[n - 1], f);
    for (int64_t s = first; s < eof; s++) {
        int64_t j = 0;
        for (int64_t i = 0; i < n; i++)
            if (slot_ms(ms[i], f) <= s) j = i;
        sel[k++] = j;
    }
    return k;
}

static int64_t emulated_ffps(const int64_t *ms, int64_t n, double f, int64_t *sel)
{
    vl_ffps ff;
    REQUIRE(vl_ffps_init(&ff, 1, 1000, f) == VLLM_OK, "init");
    int64_t k = 0, slot;
    for (int64_t i = 0; i < n; i++) {
        int64_t c = vl_ffps_push(&ff, ms[i], &slot);
        for (int64_t r = 0; r < c; r++) sel[k++] = i - 1;
    }
    int64_t c = vl_ffps_finish(&ff, &slot);
    for (int64_t r = 0; r < c; r++) sel[k++] = n - 1;
    return k;
}

TEST_MAIN_BEGIN
    /* numpy.linspace(0, 239, 10, dtype=int) */
    int64_t l[10], want10[10] = {0, 26, 53, 79, 106, 132, 159, 185, 212, 239};
    vl_linspace_int(0, 239, 10, l);
    CHECK(same(l, want10, 10), "linspace(0,239,10) [1]=%lld", (long long)l[1]);

    /* test-3.mp4 metadata (240 frames, 24 fps): 10 s -> round(10) = 10 frames */
    check_smol(240, 24, 1, 64, want10, 10);
    /* Python round() is half-to-even: 2.5 s -> 2 frames, 3.5 s -> 4 */
    int64_t w2[] = {0, 59};
    check_smol(60, 24, 1, 64, w2, 2);
    int64_t w4[] = {0, 27, 55, 83};
    check_smol(84, 24, 1, 64, w4, 4);
    /* under half a frame's worth of time still yields one frame */
    int64_t w1[] = {0};
    check_smol(5, 24, 1, 64, w1, 1);
    /* 120 s at 30 fps, capped at 64: longer than 2 + 64 s, so 1 s is
     * skipped at each end: linspace(30, 3570, 64); step 3540/63 */
    {
        vl_plan_input in = {3600, 30};
        int64_t out[64], n = 0;
        CHECK(vl_plan_smolvlm(&in, 1, 64, out, &n) == VLLM_OK && n == 64, "n=%lld", (long long)n);
        CHECK(out[0] == 30 && out[1] == 86 && out[2] == 142 && out[10] == 591 && out[63] == 3570,
              "skip-secs plan %lld %lld %lld %lld %lld", (long long)out[0], (long long)out[1], (long long)out[2],
              (long long)out[10], (long long)out[63]);
    }
    /* the rule in time (variable-rate streams): 120 s at 30 fps with skip
     * (linspace(30, 3570, 64) / 30: 1 s, 1 + 3540/63/30 s, ..., 119 s), and
     * test-3's 240 frames at 24 fps (linspace(0, 239, 10) / 24) */
    {
        vl_plan_input in = {3600, 30};
        double t[64];
        int64_t n = 0;
        CHECK(vl_plan_smolvlm_times(&in, 1, 64, t, &n) == VLLM_OK && n == 64 && t[0] == 1.0 && t[63] == 119.0 &&
                  fabs(t[1] - (30.0 + 3540.0 / 63.0) / 30.0) < 1e-12,
              "times n=%lld %g %g %g", (long long)n, t[0], t[1], t[63]);
        vl_plan_input in3 = {240, 24};
        CHECK(vl_plan_smolvlm_times(&in3, 1, 64, t, &n) == VLLM_OK && n == 10 && t[0] == 0.0 &&
                  fabs(t[1] - 239.0 / 9.0 / 24.0) < 1e-12 && fabs(t[9] - 239.0 / 24.0) < 1e-12,
              "times test-3 n=%lld %g %g", (long long)n, t[1], t[9]);
        vl_plan_input bad = {0, 24};
        CHECK(vl_plan_smolvlm_times(&bad, 1, 64, t, &n) == VLLM_ERR_INVALID_ARG, "times of no frames");
    }
    /* 50 s at 30 fps, cap 64, fps 1: 50 - 2 > 64 is false, no skip: 50 frames over 0..1499 */
    {
        vl_plan_input in = {1500, 30};
        int64_t out[64], n = 0;
        CHECK(vl_plan_smolvlm(&in, 1, 64, out, &n) == VLLM_OK && n == 50 && out[0] == 0 && out[49] == 1499 &&
                  out[1] == 30 /* 1499/49 = 30.59 */,
              "n=%lld [1]=%lld", (long long)n, (long long)out[1]);
    }
    /* uniform 8 of 240: step 239/7 */
    {
        vl_plan_input in = {240, 24};
        int64_t out[8], n = 0, want[8] = {0, 34, 68, 102, 136, 170, 204, 239};
        CHECK(vl_plan_uniform(&in, 8, out, &n) == VLLM_OK && n == 8 && same(out, want, 8), "uniform 8");
        /* more frames asked than exist: duplicates collapse (numpy.unique) */
        in.total_frames = 3;
        int64_t want3[3] = {0, 1, 2};
        CHECK(vl_plan_uniform(&in, 8, out, &n) == VLLM_OK && n == 3 && same(out, want3, 3), "uniform 8 of 3: %lld",
              (long long)n);
    }
    /* bad inputs */
    {
        vl_plan_input in = {0, 24};
        int64_t out[4], n;
        CHECK(vl_plan_smolvlm(&in, 1, 64, out, &n) == VLLM_ERR_INVALID_ARG, "no frames");
        in.total_frames = 10;
        in.video_fps = 0;
        CHECK(vl_plan_smolvlm(&in, 1, 64, out, &n) == VLLM_ERR_INVALID_ARG, "no rate");
        in.video_fps = 24;
        CHECK(vl_plan_smolvlm(&in, -1, 64, out, &n) == VLLM_ERR_INVALID_ARG, "negative fps");
        CHECK(vl_plan_smolvlm(&in, 1, 0, out, &n) == VLLM_ERR_INVALID_ARG, "zero cap");
        CHECK(vl_plan_uniform(&in, 0, out, &n) == VLLM_ERR_INVALID_ARG, "zero n");
        vl_ffps ff;
        CHECK(vl_ffps_init(&ff, 1, 1000, 0) == VLLM_ERR_INVALID_ARG, "fps 0");
        CHECK(vl_ffps_init(&ff, 0, 1000, 4) == VLLM_ERR_INVALID_ARG, "tb 0");
    }

    /* ffmpeg fps=4 on 240 frames at 24 fps (test-3.mp4): slot n shows the
     * last frame j with round(j/6) <= n, i.e. j = 6n + 2; EOF at round(239/6) = 40 */
    {
        vl_ffps ff;
        REQUIRE(vl_ffps_init(&ff, 1, 24, 4.0) == VLLM_OK, "init");
        int64_t sel[64], k = 0, slot;
        for (int64_t i = 0; i < 240; i++) {
            int64_t c = vl_ffps_push(&ff, i, &slot);
            for (int64_t r = 0; r < c; r++) sel[k < 64 ? k++ : k] = i - 1;
        }
        int64_t c = vl_ffps_finish(&ff, &slot);
        for (int64_t r = 0; r < c; r++) sel[k < 64 ? k++ : k] = 239;
        CHECK(k == 40, "fps=4 gave %lld frames", (long long)k);
        int ok = 1;
        for (int64_t n = 0; n < k && n < 40; n++) ok &= sel[n] == 6 * n + 2;
        CHECK(ok, "fps=4 selection is 6n+2");
    }
    /* VFR timestamps, hand-checked: at 10 fps the slots are 0,0,1,2,2,9,10 */
    {
        int64_t ms[] = {0, 40, 50, 200, 210, 900, 1000};
        int64_t a[64], b[64];
        int64_t na = emulated_ffps(ms, 7, 10, a), nb = direct_ffps(ms, 7, 10, b);
        int64_t want[] = {1, 2, 4, 4, 4, 4, 4, 4, 4, 5};
        CHECK(na == 10 && nb == 10 && same(a, want, 10) && same(b, want, 10), "vfr: %lld/%lld frames",
              (long long)na, (long long)nb);
        /* pseudo-random VFR sequences against the direct restatement */
        uint32_t seed = 12345;
        for (int trial = 0; trial < 200; trial++) {
            int64_t t[40], x[4096], y[4096];
            int64_t n = 2 + trial % 38, cur = (int64_t)(trial % 7) * 13;
            for (int64_t i = 0; i < n; i++) {
                seed = seed * 1664525u + 1013904223u;
                cur += 1 + (seed >> 24) % 180;
                t[i] = cur;
            }
            int64_t f = 1 + trial % 12;
            int64_t nx = emulated_ffps(t, n, (double)f, x), ny = direct_ffps(t, n, f, y);
            CHECK(nx == ny && same(x, y, nx), "trial %d (n=%lld, F=%lld): %lld vs %lld frames", trial, (long long)n,
                  (long long)f, (long long)nx, (long long)ny);
        }
    }
    /* the up-front CFR plan against the direct restatement on the same grid:
     * expanded (frame, count) pairs are the per-slot selection, first pts
     * offsets and a max_frames cut included */
    {
        for (int trial = 0; trial < 60; trial++) {
            int64_t step = 20 + 7 * (trial % 5), n = 3 + (trial * 37) % 140, off = (trial % 3) * 11;
            int64_t f = 1 + trial % 9, t[160], y[4096], idx[160], cnt[160], nk = -1, x[4096], nx = 0;
            for (int64_t i = 0; i < n; i++) t[i] = off + i * step;
            REQUIRE(vl_ffps_plan_cfr(1, 1000, (double)f, off, step, n, 0, idx, cnt, &nk) == VLLM_OK, "plan_cfr");
            int ok = 1;
            for (int64_t k = 0; k < nk; k++) {
                ok &= cnt[k] >= 1 && (k == 0 || idx[k] > idx[k - 1]);
                for (int64_t r = 0; r < cnt[k] && nx < 4096; r++) x[nx++] = idx[k];
            }
            int64_t ny = direct_ffps(t, n, f, y);
            CHECK(ok && nx == ny && same(x, y, nx), "cfr trial %d (n=%lld step=%lld F=%lld): %lld vs %lld slots", trial,
                  (long long)n, (long long)step, (long long)f, (long long)nx, (long long)ny);
            if (ny > 3) {
                REQUIRE(vl_ffps_plan_cfr(1, 1000, (double)f, off, step, n, 3, idx, cnt, &nk) == VLLM_OK, "cut");
                int64_t tot = 0;
                for (int64_t k = 0; k < nk; k++) tot += cnt[k];
                CHECK(tot == 3 && idx[0] == y[0] && idx[nk - 1] == y[2], "cfr trial %d: cut to 3 slots gave %lld",
                      trial, (long long)tot);
            }
        }
        int64_t idx[4], cnt[4], nk;
        CHECK(vl_ffps_plan_cfr(1, 1000, 1.0, 0, 0, 4, 0, idx, cnt, &nk) == VLLM_ERR_INVALID_ARG, "step 0");
        CHECK(vl_ffps_plan_cfr(1, 1000, 1.0, 0, 40, 0, 0, idx, cnt, &nk) == VLLM_ERR_INVALID_ARG, "no frames");
    }
TEST_MAIN_END
