/* Compression wired into sessions, on the tiny fixture models (4 visual
 * tokens per frame): dedup of repeated pushed frames and of a generated
 * static video, pruning at q = 0.5 (2 of 4 tokens after the first frame),
 * merging, the token budget choosing fewer frames, the stats counters,
 * the context positions saved, and that the session still answers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture_set.h"
#include "harness.h"
#include "video_gen.h"
#include "vllm/videollm.h"

#define W 64
#define H 48

static vllm_model *load(void)
{
    char text[4400], mmproj[4400];
    fx_require_model("-text-F32.gguf", text, sizeof text);
    fx_require_model("-mmproj-F32.gguf", mmproj, sizeof mmproj);
    vllm_model_params mp = vllm_model_default_params();
    mp.mmproj_path = mmproj;
    vllm_model *m = NULL;
    REQUIRE(vllm_model_load(text, &mp, &m) == VLLM_OK, "%s", vllm_last_error());
    return m;
}

/* A frame whose content depends on `k`: a bright bar at a k-dependent column. */
static void paint(uint8_t *rgb, int k)
{
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            uint8_t *p = rgb + ((size_t)y * W + x) * 3;
            const int bar = x / 8 == k % 8;
            p[0] = (uint8_t)(bar ? 240 : 20 + y);
            p[1] = (uint8_t)(bar ? 200 : 60 + x);
            p[2] = (uint8_t)(bar ? 40 : 90);
        }
}

static vllm_status push(vllm_session *s, const uint8_t *rgb, double pts)
{
    vllm_frame f;
    memset(&f, 0, sizeof f);
    f.struct_size = sizeof f;
    f.format = VLLM_PIXFMT_RGB24;
    f.width = W;
    f.height = H;
    f.planes[0] = rgb;
    f.strides[0] = W * 3;
    f.pts = pts;
    return vllm_session_push_frame(s, &f);
}

static vllm_session *make(vllm_model *m, float dedup, float rate, int merge)
{
    vllm_session_params sp = vllm_session_default_params();
    sp.n_ctx = 512;
    sp.n_threads = 2;
    sp.dedup_threshold = dedup;
    sp.prune_rate = rate;
    sp.prune_merge = merge;
    vllm_session *s = NULL;
    REQUIRE(vllm_session_create(m, &sp, &s) == VLLM_OK, "%s", vllm_last_error());
    return s;
}

static vllm_session_stats stats_of(vllm_session *s)
{
    vllm_session_stats st;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    REQUIRE(vllm_session_get_stats(s, &st) == VLLM_OK, "stats");
    return st;
}

/* The session still answers: a short greedy generation ends normally. */
static void answers(vllm_session *s, const char *what)
{
    vllm_generate_params gp = vllm_generate_default_params();
    gp.max_tokens = 4;
    vllm_status st = vllm_session_generate(s, "What changed?", &gp);
    CHECK(st == VLLM_OK, "%s: generate: %s", what, vllm_session_last_error(s));
    vllm_session_stats ss = stats_of(s);
    CHECK(ss.n_generated_tokens > 0, "%s: nothing generated", what);
}

/* Pushed frames: 5 identical then 1 different, dedup on -> 2 encoded. */
static void test_push_dedup(vllm_model *m)
{
    uint8_t a[W * H * 3], b[W * H * 3];
    paint(a, 0);
    paint(b, 4);
    vllm_session *s = make(m, 0.02f, 0, 0);
    for (int i = 0; i < 5; i++) REQUIRE(push(s, a, i) == VLLM_OK, "%s", vllm_session_last_error(s));
    REQUIRE(push(s, b, 5) == VLLM_OK, "%s", vllm_session_last_error(s));
    vllm_session_stats st = stats_of(s);
    CHECK(st.n_frames_seen == 6 && st.n_frames_encoded == 2 && st.n_frames_deduped == 4,
          "seen %lld encoded %lld deduped %lld, want 6/2/4", (long long)st.n_frames_seen, (long long)st.n_frames_encoded,
          (long long)st.n_frames_deduped);
    CHECK(st.n_visual_tokens == 8 && st.n_tokens_pruned == 0, "visual %lld pruned %lld", (long long)st.n_visual_tokens,
          (long long)st.n_tokens_pruned);
    /* after a reset the same frame is new again */
    REQUIRE(vllm_session_reset(s) == VLLM_OK, "reset");
    REQUIRE(push(s, b, 0) == VLLM_OK, "%s", vllm_session_last_error(s));
    st = stats_of(s);
    CHECK(st.n_frames_encoded == 3, "reset forgets the last kept frame: encoded %lld", (long long)st.n_frames_encoded);
    answers(s, "dedup");
    vllm_session_free(s);
}

/* Pruning q = 0.5 on 3 distinct frames: 4 + 2 + 2 visual tokens, and the
 * context is shorter by exactly the pruned count. */
static void test_push_prune(vllm_model *m, int merge)
{
    uint8_t f[3][W * H * 3];
    for (int k = 0; k < 3; k++) paint(f[k], 2 * k);
    vllm_session *ref = make(m, 0, 0, 0), *s = make(m, 0, 0.5f, merge);
    for (int k = 0; k < 3; k++) {
        REQUIRE(push(ref, f[k], k) == VLLM_OK, "%s", vllm_session_last_error(ref));
        REQUIRE(push(s, f[k], k) == VLLM_OK, "%s", vllm_session_last_error(s));
    }
    vllm_session_stats r = stats_of(ref), st = stats_of(s);
    CHECK(r.n_visual_tokens == 12 && r.n_tokens_pruned == 0, "uncompressed: %lld visual", (long long)r.n_visual_tokens);
    CHECK(st.n_visual_tokens == 8 && st.n_tokens_pruned == 4, "merge %d: visual %lld pruned %lld, want 8/4", merge,
          (long long)st.n_visual_tokens, (long long)st.n_tokens_pruned);
    CHECK(r.n_past - st.n_past == 4, "merge %d: context %d vs %d positions", merge, st.n_past, r.n_past);
    CHECK(st.n_frames_encoded == 3 && st.n_frames_deduped == 0, "all frames encoded");
    answers(s, merge ? "merge" : "prune");
    vllm_session_free(ref);
    vllm_session_free(s);
}

static void test_bad_params(vllm_model *m)
{
    vllm_session_params sp = vllm_session_default_params();
    sp.prune_rate = 1.0f;
    vllm_session *s = NULL;
    CHECK(vllm_session_create(m, &sp, &s) == VLLM_ERR_INVALID_ARG && !s, "prune_rate 1 rejected");
    sp = vllm_session_default_params();
    sp.dedup_threshold = -1;
    CHECK(vllm_session_create(m, &sp, &s) == VLLM_ERR_INVALID_ARG && !s, "negative threshold rejected");
    vllm_video_params vp = vllm_video_default_params();
    CHECK(vllm_compression_preset("nope", NULL, &vp) == VLLM_ERR_INVALID_ARG, "unknown preset");
    CHECK(vllm_compression_preset("fast", NULL, &vp) == VLLM_OK && vp.dedup_threshold > 0 && vp.prune_rate > 0,
          "fast preset sets dedup and pruning");
    CHECK(vllm_compression_preset("off", NULL, &vp) == VLLM_OK && vp.dedup_threshold == 0 && vp.prune_rate == 0, "off");
    vp.struct_size = offsetof(vllm_video_params, dedup_threshold);
    CHECK(vllm_compression_preset("fast", NULL, &vp) == VLLM_ERR_INVALID_ARG, "old struct without the fields");
}

/* A generated static video: every sampled frame after the first is a duplicate. */
static void test_video(vllm_model *m, const char *dir)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/compression_static.mp4", dir);
    vg_params vp;
    memset(&vp, 0, sizeof vp);
    vp.path = path;
    vp.width = 64;
    vp.height = 64;
    vp.n_frames = 40;
    vp.fps_num = 2;
    vp.fps_den = 1;
    vp.gop = 10;
    vp.pattern = VG_STATIC;
    char err[256];
    if (!vg_have_encoder("mpeg4")) {
        fprintf(stderr, "no mpeg4 encoder: video part skipped\n");
        return;
    }
    REQUIRE(vg_write(&vp, err, sizeof err) == 0, "vg_write: %s", err);

    /* dedup: 20 frames sampled at 1 fps, 1 encoded */
    vllm_session *s = make(m, 0, 0, 0);
    vllm_video_params p = vllm_video_default_params();
    p.dedup_threshold = 0.02f;
    REQUIRE(vllm_session_push_video(s, path, &p) == VLLM_OK, "%s", vllm_session_last_error(s));
    vllm_session_stats st = stats_of(s);
    CHECK(st.n_frames_seen == 20 && st.n_frames_encoded == 1 && st.n_frames_deduped == 19,
          "static video: seen %lld encoded %lld deduped %lld, want 20/1/19", (long long)st.n_frames_seen,
          (long long)st.n_frames_encoded, (long long)st.n_frames_deduped);
    CHECK(st.n_visual_tokens == 4, "one frame of tokens: %lld", (long long)st.n_visual_tokens);
    answers(s, "static video");
    vllm_session_free(s);

    /* pruning only: 4 + 19 x 2 */
    s = make(m, 0, 0, 0);
    p = vllm_video_default_params();
    p.prune_rate = 0.5f;
    REQUIRE(vllm_session_push_video(s, path, &p) == VLLM_OK, "%s", vllm_session_last_error(s));
    st = stats_of(s);
    CHECK(st.n_frames_encoded == 20 && st.n_visual_tokens == 4 + 19 * 2 && st.n_tokens_pruned == 19 * 2,
          "pruned video: encoded %lld visual %lld pruned %lld", (long long)st.n_frames_encoded,
          (long long)st.n_visual_tokens, (long long)st.n_tokens_pruned);
    vllm_session_free(s);

    /* budget 40 tokens for 20 frames of 4: fewer frames only down to 16,
     * then k = (40 - 4) / 15 = 2 -> 16 frames, 4 + 15 x 2 = 34 tokens */
    s = make(m, 0, 0, 0);
    p = vllm_video_default_params();
    p.max_visual_tokens = 40;
    REQUIRE(vllm_session_push_video(s, path, &p) == VLLM_OK, "%s", vllm_session_last_error(s));
    st = stats_of(s);
    CHECK(st.n_frames_seen == 16 && st.n_visual_tokens == 34, "budget: seen %lld visual %lld, want 16/34",
          (long long)st.n_frames_seen, (long long)st.n_visual_tokens);
    /* after the video the session's own settings (off) apply again: a pushed frame is whole */
    uint8_t rgb[W * H * 3];
    paint(rgb, 1);
    REQUIRE(push(s, rgb, 30) == VLLM_OK, "%s", vllm_session_last_error(s));
    CHECK(stats_of(s).n_visual_tokens == 38, "pushed frame after the video kept whole");
    p.max_visual_tokens = 3;
    CHECK(vllm_session_push_video(s, path, &p) == VLLM_ERR_INVALID_ARG, "budget below one frame rejected");
    p = vllm_video_default_params();
    p.prune_rate = -0.5f;
    CHECK(vllm_session_push_video(s, path, &p) == VLLM_ERR_INVALID_ARG, "negative rate rejected");
    vllm_session_free(s);
    remove(path);
}

TEST_MAIN_BEGIN
    vllm_model *m = load();
    test_bad_params(m);
    test_push_dedup(m);
    test_push_prune(m, 0);
    test_push_prune(m, 1);
    const char *dir = getenv("VIDEOLLM_BUILD_DIR");
    test_video(m, dir ? dir : ".");
    vllm_model_free(m);
TEST_MAIN_END
