/* lib/compression units, without video or models: frame signatures and
 * their distance, EVS token selection, merge arithmetic, the token-budget
 * policy, and the per-session causal state. Every expected value is
 * worked out by hand (or by an independent formula in the test) from
 * inputs built so the answer is obvious. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compression/budget.h"
#include "compression/compress.h"
#include "compression/frame_sig.h"
#include "compression/token_prune.h"
#include "harness.h"

/* w x h RGB with `pad` bytes of 0xEE after each row (must never be read). */
static uint8_t *make_frame(int w, int h, int pad, size_t *stride)
{
    *stride = (size_t)w * 3 + (size_t)pad;
    uint8_t *p = malloc(*stride * (size_t)h);
    memset(p, 0xEE, *stride * (size_t)h);
    return p;
}

static void fill(uint8_t *p, size_t stride, int x0, int x1, int y0, int y1, uint8_t r, uint8_t g, uint8_t b)
{
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) {
            uint8_t *q = p + (size_t)y * stride + (size_t)x * 3;
            q[0] = r, q[1] = g, q[2] = b;
        }
}

static void test_signature(void)
{
    size_t stride;
    /* uniform colour: every cell is that colour's BT.601 luma */
    uint8_t *f = make_frame(100, 60, 5, &stride);
    fill(f, stride, 0, 100, 0, 60, 100, 150, 200);
    vl_frame_sig a, b;
    REQUIRE(vl_frame_sig_compute(f, 100, 60, stride, &a) == VLLM_OK, "%s", vl_error_message());
    const double y = 0.299 * 100 + 0.587 * 150 + 0.114 * 200; /* 140.75 */
    int bad = 0;
    for (int i = 0; i < VL_SIG_SIDE * VL_SIG_SIDE; i++) bad += fabs(a.luma[i] - y) > 1.0;
    CHECK(bad == 0, "%d cells of a uniform frame differ from luma %.2f (cell 0 = %d)", bad, y, a.luma[0]);
    CHECK(vl_frame_sig_distance(&a, &a) == 0.0f, "distance to itself");

    /* black left half, white right half, 64 wide: cells 0..15 black, 16..31 white */
    uint8_t *g = make_frame(64, 64, 0, &stride);
    fill(g, stride, 0, 32, 0, 64, 0, 0, 0);
    fill(g, stride, 32, 64, 0, 64, 255, 255, 255);
    REQUIRE(vl_frame_sig_compute(g, 64, 64, stride, &b) == VLLM_OK, "%s", vl_error_message());
    CHECK(b.luma[0] == 0 && b.luma[15] == 0 && b.luma[16] == 255 && b.luma[31] == 255 &&
              b.luma[31 * 32 + 16] == 255, "half/half cells: %d %d %d %d", b.luma[0], b.luma[15], b.luma[16], b.luma[31]);
    /* vs an all-black frame: half the cells differ by full scale -> 0.5 */
    vl_frame_sig black;
    memset(&black, 0, sizeof black);
    CHECK(fabsf(vl_frame_sig_distance(&black, &b) - 0.5f) < 1e-6f, "distance %g, want 0.5", vl_frame_sig_distance(&black, &b));
    CHECK(vl_frame_sig_distance(&b, &black) == vl_frame_sig_distance(&black, &b), "symmetric");

    /* one 2x2 cell of a 64x64 frame brightened by 128: the cell mean moves
     * by 128, distance = 128 / (1024 * 255) */
    vl_frame_sig c;
    fill(g, stride, 0, 64, 0, 64, 0, 0, 0);
    fill(g, stride, 10, 12, 20, 22, 128, 128, 128);
    REQUIRE(vl_frame_sig_compute(g, 64, 64, stride, &c) == VLLM_OK, "%s", vl_error_message());
    CHECK(c.luma[10 * 32 + 5] == 128, "cell (5,10) = %d", c.luma[10 * 32 + 5]);
    const float d1 = vl_frame_sig_distance(&black, &c);
    CHECK(fabsf(d1 - 128.0f / (1024 * 255)) < 1e-7f, "one-cell distance %g", d1);
    /* the threshold is strict: below it is a duplicate */
    CHECK(vl_frame_sig_is_duplicate(&black, &c, 0.001f), "tiny change under 0.001 is a duplicate");
    CHECK(!vl_frame_sig_is_duplicate(&black, &c, d1), "distance == threshold is kept");
    CHECK(!vl_frame_sig_is_duplicate(&black, &black, 0.0f), "threshold 0 = dedup off");

    /* a 1x1 frame (narrower than the grid) fills every cell with its pixel */
    uint8_t px[3] = {255, 0, 0};
    REQUIRE(vl_frame_sig_compute(px, 1, 1, 3, &c) == VLLM_OK, "%s", vl_error_message());
    CHECK(fabs(c.luma[0] - 0.299 * 255) <= 1 && c.luma[1023] == c.luma[0], "red pixel luma %d, want 0.299*255 = 76.2 +- 1 (fixed point)",
          c.luma[0]);

    /* bad input: a clean error, not a read past the buffer */
    CHECK(vl_frame_sig_compute(g, 64, 64, 64 * 3 - 1, &c) == VLLM_ERR_INVALID_ARG, "short stride");
    CHECK(vl_frame_sig_compute(g, 0, 64, stride, &c) == VLLM_ERR_INVALID_ARG, "zero width");
    CHECK(vl_frame_sig_compute(NULL, 1, 1, 3, &c) == VLLM_ERR_INVALID_ARG, "NULL pixels");
    free(f);
    free(g);
}

static void test_keep_count(void)
{
    CHECK(vl_prune_keep_count(64, 0.5f) == 32, "64 at 0.5");
    CHECK(vl_prune_keep_count(4, 0.5f) == 2, "4 at 0.5");
    CHECK(vl_prune_keep_count(10, 0.25f) == 8, "10 at 0.25: drop floor(2.5) = 2");
    CHECK(vl_prune_keep_count(64, 0.0f) == 64, "off");
    CHECK(vl_prune_keep_count(64, NAN) == 64, "NaN = off");
    CHECK(vl_prune_keep_count(64, 0.999f) == 1, "at least one token");
}

static void test_dissimilarity_and_select(void)
{
    /* prev: every token points along +x. cur: token 0 same (d 0), 1 along
     * +y (d 1), 2 along -x (d 2), 3 slightly tilted (small d), 4 along +y
     * (d 1, ties with 1), 5 same as prev but 3x longer (d 0: scale-free) */
    const float prev[12] = {1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0};
    const float cur[12] = {1, 0, 0, 1, -1, 0, 1, 0.1f, 0, 2, 3, 0};
    float d[6];
    vl_token_dissimilarity(cur, prev, 6, 2, d);
    const double d3 = 1.0 - 1.0 / sqrt(1.01);
    CHECK(fabsf(d[0]) < 1e-6f && fabsf(d[1] - 1) < 1e-6f && fabsf(d[2] - 2) < 1e-6f && fabs(d[3] - d3) < 1e-6 &&
              fabsf(d[4] - 1) < 1e-6f && fabsf(d[5]) < 1e-6f,
          "d = %g %g %g %g %g %g", d[0], d[1], d[2], d[3], d[4], d[5]);
    /* (3,4) vs (4,3): cos = 24/25 */
    const float a[2] = {3, 4}, b[2] = {4, 3};
    float dab;
    vl_token_dissimilarity(a, b, 1, 2, &dab);
    CHECK(fabsf(dab - 0.04f) < 1e-6f, "1 - 24/25 = %g", dab);
    /* zero rows: both zero = same, one zero = unrelated */
    const float z[4] = {0, 0, 0, 0}, o[4] = {0, 0, 1, 1};
    float dz[2];
    vl_token_dissimilarity(z, o, 2, 2, dz);
    CHECK(dz[0] == 0 && dz[1] == 1, "zero conventions %g %g", dz[0], dz[1]);

    int32_t kept[6];
    int n = vl_token_select(d, 6, 3, kept);
    CHECK(n == 3 && kept[0] == 1 && kept[1] == 2 && kept[2] == 4, "keep 3 -> {1,2,4}, got %d: %d %d %d", n, kept[0], kept[1],
          kept[2]);
    n = vl_token_select(d, 6, 2, kept);
    CHECK(n == 2 && kept[0] == 1 && kept[1] == 2, "keep 2 -> {1,2} (tie 1/4: lower index), got %d %d", kept[0], kept[1]);
    n = vl_token_select(d, 6, 4, kept);
    CHECK(n == 4 && kept[0] == 1 && kept[1] == 2 && kept[2] == 3 && kept[3] == 4, "keep 4 adds the tilted token 3");
    n = vl_token_select(d, 6, 10, kept);
    CHECK(n == 6 && kept[0] == 0 && kept[5] == 5, "keep > n keeps all in order");
    CHECK(vl_token_select(d, 6, 0, kept) == 0, "keep 0");
    /* NaN ranks lowest */
    const float dn[4] = {NAN, 0.1f, NAN, 0.0f};
    n = vl_token_select(dn, 4, 2, kept);
    CHECK(n == 2 && kept[0] == 1 && kept[1] == 3, "NaN last: got %d %d", kept[0], kept[1]);
    /* a larger frame: scores descending from the end, keep 16 of 64 -> 48..63 */
    float big[64];
    int32_t kb[64];
    for (int i = 0; i < 64; i++) big[i] = (float)i / 64;
    n = vl_token_select(big, 64, 16, kb);
    int ok = n == 16;
    for (int i = 0; i < 16 && ok; i++) ok = kb[i] == 48 + i;
    CHECK(ok, "top 16 of an ascending ramp are the last 16 in order");

    /* gather in place keeps order */
    float rows[12];
    memcpy(rows, cur, sizeof rows);
    const int32_t kk[3] = {1, 2, 4};
    vl_token_gather(rows, 2, kk, 3, rows);
    CHECK(rows[0] == 0 && rows[1] == 1 && rows[2] == -1 && rows[3] == 0 && rows[4] == 0 && rows[5] == 2, "gather");
}

static void test_merge(void)
{
    /* kept {0, 2}: token 1 is closest to token 0, token 3 to token 2,
     * token 4 points away from both (cos < 0): dropped, not merged */
    const float cur[10] = {1, 0, 0.9f, 0.1f, 0, 1, 0.1f, 2, -1, -1};
    const int32_t kept[2] = {0, 2};
    float out[4];
    int32_t assign[5];
    REQUIRE(vl_token_merge(cur, 5, 2, kept, 2, out, assign) == VLLM_OK, "%s", vl_error_message());
    CHECK(fabsf(out[0] - 0.95f) < 1e-6f && fabsf(out[1] - 0.05f) < 1e-6f, "row 0 = mean of t0,t1: %g %g", out[0], out[1]);
    CHECK(fabsf(out[2] - 0.05f) < 1e-6f && fabsf(out[3] - 1.5f) < 1e-6f, "row 1 = mean of t2,t3: %g %g", out[2], out[3]);
    CHECK(assign[0] == 0 && assign[1] == 0 && assign[2] == 1 && assign[3] == 1 && assign[4] == -1,
          "assign %d %d %d %d %d", assign[0], assign[1], assign[2], assign[3], assign[4]);
    /* three tokens into one: plain mean */
    const float three[6] = {1, 1, 2, 2, 3, 3};
    const int32_t k1[1] = {1};
    REQUIRE(vl_token_merge(three, 3, 2, k1, 1, out, NULL) == VLLM_OK, "%s", vl_error_message());
    CHECK(out[0] == 2 && out[1] == 2, "mean of 1,2,3 = 2: %g %g", out[0], out[1]);
    /* invalid kept lists */
    const int32_t bad[2] = {2, 0};
    CHECK(vl_token_merge(cur, 5, 2, bad, 2, out, NULL) == VLLM_ERR_INVALID_ARG, "descending kept rejected");
    const int32_t oob[1] = {5};
    CHECK(vl_token_merge(cur, 5, 2, oob, 1, out, NULL) == VLLM_ERR_INVALID_ARG, "out-of-range kept rejected");
}

/* Independent check of a plan: it fits and is the largest at its frame count. */
static int64_t cost(int64_t n, int64_t T, int64_t k) { return k >= T ? n * T : T + (n - 1) * k; }

static void test_budget(void)
{
    vl_budget_plan p;
    REQUIRE(vl_budget_plan_video(64, 64, 64, 0, &p) == VLLM_OK, "no budget");
    CHECK(p.n_frames == 64 && p.keep_per_frame == 64, "no budget: unchanged");
    REQUIRE(vl_budget_plan_video(64, 64, 64, 4096, &p) == VLLM_OK, "fits");
    CHECK(p.n_frames == 64 && p.keep_per_frame == 64, "64x64 fits 4096 exactly");
    REQUIRE(vl_budget_plan_video(64, 64, 64, 2048, &p) == VLLM_OK, "2048");
    CHECK(p.n_frames == 32 && p.keep_per_frame == 64, "2048: 32 whole frames, got %d x %d", p.n_frames, p.keep_per_frame);
    REQUIRE(vl_budget_plan_video(64, 64, 64, 1024, &p) == VLLM_OK, "1024");
    CHECK(p.n_frames == 16 && p.keep_per_frame == 64, "1024: the 16-frame floor whole, got %d x %d", p.n_frames, p.keep_per_frame);
    /* below the floor at full tokens: 16 frames, first whole, k = (600-64)/15 = 35 */
    REQUIRE(vl_budget_plan_video(64, 64, 64, 600, &p) == VLLM_OK, "600");
    CHECK(p.n_frames == 16 && p.keep_per_frame == 35, "600: 16 x 35, got %d x %d", p.n_frames, p.keep_per_frame);
    CHECK(cost(16, 64, 35) <= 600 && cost(16, 64, 36) > 600, "35 is the largest that fits");
    /* one token per frame is not enough at the floor: fewer frames */
    REQUIRE(vl_budget_plan_video(64, 64, 64, 70, &p) == VLLM_OK, "70");
    CHECK(p.n_frames == 7 && p.keep_per_frame == 1 && cost(7, 64, 1) == 70, "70: 7 frames, 1 token each, got %d x %d",
          p.n_frames, p.keep_per_frame);
    CHECK(vl_budget_plan_video(64, 64, 64, 63, &p) == VLLM_ERR_INVALID_ARG, "below one frame: error");
    /* with pruning already on: first fewer frames at the pruned rate */
    REQUIRE(vl_budget_plan_video(40, 64, 32, 1000, &p) == VLLM_OK, "pruned");
    CHECK(p.n_frames == 30 && p.keep_per_frame == 32, "1000 at k=32: 1 + 936/32 = 30 frames, got %d x %d", p.n_frames,
          p.keep_per_frame);
    CHECK(cost(30, 64, 32) <= 1000 && cost(31, 64, 32) > 1000, "30 is the most frames that fit");
    REQUIRE(vl_budget_plan_video(8, 64, 32, 300, &p) == VLLM_OK, "small");
    CHECK(p.n_frames == 8 && p.keep_per_frame == 32, "64 + 7*32 = 288 fits 300");
    /* fewer planned frames than the floor: the floor is the plan itself */
    REQUIRE(vl_budget_plan_video(4, 64, 64, 200, &p) == VLLM_OK, "short");
    CHECK(p.n_frames == 4 && p.keep_per_frame == 45, "4 frames: k = (200-64)/3 = 45, got %d x %d", p.n_frames, p.keep_per_frame);
    CHECK(vl_budget_cost(1, 64, 8) == 64 && vl_budget_cost(0, 64, 8) == 0, "cost edge cases");
    CHECK(vl_budget_plan_video(0, 64, 64, 100, &p) == VLLM_ERR_INVALID_ARG, "no frames");
    CHECK(vl_budget_plan_video(4, 64, 65, 100, &p) == VLLM_ERR_INVALID_ARG, "keep > T");
}

static void test_state(void)
{
    vl_compress c;
    memset(&c, 0, sizeof c);
    c.set.prune_rate = 0.5f;
    /* frame 0: no reference, kept whole */
    float f0[8] = {1, 0, 1, 0, 1, 0, 1, 0};
    int n;
    REQUIRE(vl_compress_tokens(&c, f0, 4, 2, &n) == VLLM_OK, "%s", vl_error_message());
    CHECK(n == 4 && c.last_pruned == 0, "first frame whole: %d", n);
    /* frame 1: tokens 1 and 3 turned; keep 2 of 4 -> {1, 3} compacted */
    float f1[8] = {1, 0, 0, 1, 1, 0, -1, 0};
    REQUIRE(vl_compress_tokens(&c, f1, 4, 2, &n) == VLLM_OK, "%s", vl_error_message());
    CHECK(n == 2 && c.last_pruned == 2 && c.kept[0] == 1 && c.kept[1] == 3, "frame 1 keeps {1,3}: n %d", n);
    CHECK(f1[0] == 0 && f1[1] == 1 && f1[2] == -1 && f1[3] == 0, "compacted rows");
    /* frame 2 is compared with frame 1's FULL projection: token 0 turns now */
    float f2[8] = {0, 1, 0, 1, 1, 0, -1, 0.01f};
    REQUIRE(vl_compress_tokens(&c, f2, 4, 2, &n) == VLLM_OK, "%s", vl_error_message());
    CHECK(n == 2 && c.kept[0] == 0 && c.kept[1] == 3, "frame 2 keeps {0,3}: %d %d", c.kept[0], c.kept[1]);
    /* merge on: the dropped tokens are folded into the kept ones */
    c.set.merge = 1;
    float f3[8] = {0, 1, 0, -1, 1, 0.2f, -1, 0};
    REQUIRE(vl_compress_tokens(&c, f3, 4, 2, &n) == VLLM_OK, "%s", vl_error_message());
    /* vs f2: d = 0, 2, ~0.02, ~0 -> keep {1, 2}; token 0 (0,1) has cos 0 with (0,-1) and
     * 0.196 with (1,0.2): merges into row 1; token 3 (-1,0) has cos 0 with (0,-1), < 0 with
     * (1,0.2): dropped */
    CHECK(n == 2 && c.kept[0] == 1 && c.kept[1] == 2, "frame 3 keeps {1,2}: %d %d", c.kept[0], c.kept[1]);
    CHECK(f3[0] == 0 && f3[1] == -1 && fabsf(f3[2] - 0.5f) < 1e-6f && fabsf(f3[3] - 0.6f) < 1e-6f,
          "merged rows %g %g %g %g", f3[0], f3[1], f3[2], f3[3]);
    /* a different shape has no reference: kept whole */
    float g[6] = {1, 2, 3, 4, 5, 6};
    REQUIRE(vl_compress_tokens(&c, g, 2, 3, &n) == VLLM_OK, "%s", vl_error_message());
    CHECK(n == 2, "new shape kept whole");
    /* dedup through the state: first frame kept, identical skipped, changed kept */
    c.set.dedup_threshold = 0.02f;
    size_t stride;
    uint8_t *fr = make_frame(48, 32, 0, &stride);
    fill(fr, stride, 0, 48, 0, 32, 50, 50, 50);
    int dup;
    REQUIRE(vl_compress_dedup(&c, fr, 48, 32, stride, &dup) == VLLM_OK, "dedup");
    CHECK(!dup, "first frame kept");
    REQUIRE(vl_compress_dedup(&c, fr, 48, 32, stride, &dup) == VLLM_OK, "dedup");
    CHECK(dup, "identical frame skipped");
    fill(fr, stride, 0, 12, 0, 32, 250, 250, 250); /* a quarter changes by ~200: distance ~0.2 */
    REQUIRE(vl_compress_dedup(&c, fr, 48, 32, stride, &dup) == VLLM_OK, "dedup");
    CHECK(!dup, "changed frame kept");
    vl_compress_reset(&c);
    REQUIRE(vl_compress_dedup(&c, fr, 48, 32, stride, &dup) == VLLM_OK, "dedup");
    CHECK(!dup, "after reset the first frame is kept again");
    vl_compress_settings bad = {-0.1f, 0, 0, 0};
    CHECK(vl_compress_check(&bad, "t") == VLLM_ERR_INVALID_ARG, "negative threshold rejected");
    bad = (vl_compress_settings){0, 1.0f, 0, 0};
    CHECK(vl_compress_check(&bad, "t") == VLLM_ERR_INVALID_ARG, "rate 1 rejected");
    bad = (vl_compress_settings){0, NAN, 0, 0};
    CHECK(vl_compress_check(&bad, "t") == VLLM_ERR_INVALID_ARG, "NaN rate rejected");
    free(fr);
    vl_compress_free(&c);
}

TEST_MAIN_BEGIN
    test_signature();
    test_keep_count();
    test_dissimilarity_and_select();
    test_merge();
    test_budget();
    test_state();
TEST_MAIN_END
