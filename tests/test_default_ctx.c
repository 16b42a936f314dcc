/* The default path (session params n_ctx = 0, default video params,
 * default 256-token answer) on a clip longer than the default sampling
 * cap (75 s at 1 fps > 64 frames) with a SmolVLM2-256M-shaped pair: 64
 * visual tokens per frame, the same frame markers, a trained context of
 * 8192 (the encoder and text model are tiny so it runs in CI time).
 *  - trained context 8192: all 64 frames fit, and the answer has room;
 *  - trained context 2048: the default sampling shrinks to what fits,
 *    with a warning, and the answer still has room;
 *  - a caller's n_ctx of 1600 with default sampling: the same.
 * usage: test_default_ctx PATH-TO-videollm-gen-model */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "video_gen.h"
#include "vllm/videollm.h"

enum { DEFAULT_ANSWER = 256, QUESTION_ROOM = 64 };

static char dir[] = "/tmp/videollm-defctx-XXXXXX";
static int warned_fewer_frames;

static void on_log(void *user, vllm_log_level level, const char *msg)
{
    (void)user;
    if (level <= VLLM_LOG_WARN && strstr(msg, "instead of 64")) warned_fewer_frames = 1;
}

static void gen(const char *gen_exe, const char *args, const char *out)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' %s -o '%s/%s' >/dev/null", gen_exe, args, dir, out);
    REQUIRE(system(cmd) == 0, "generator failed: %s", cmd);
}

static vllm_model *load(const char *text, const char *mmproj)
{
    char tp[512], mp[512];
    snprintf(tp, sizeof tp, "%s/%s", dir, text);
    snprintf(mp, sizeof mp, "%s/%s", dir, mmproj);
    vllm_model_params p = vllm_model_default_params();
    p.mmproj_path = mp;
    vllm_model *m = NULL;
    REQUIRE(vllm_model_load(tp, &p, &m) == VLLM_OK, "%s", vllm_last_error());
    return m;
}

/* Positions one frame's label and markers take, counted with the model's
 * tokenizer through the public API (the widest two-digit label). */
static int frame_markers(vllm_model *m)
{
    const char *t = "\nFrame from 59:59:<fake_token_around_image><global-img><fake_token_around_image>";
    size_t n = 0;
    vllm_tokenize(m, t, strlen(t), VLLM_TOKENIZE_PARSE_SPECIAL, NULL, 0, &n);
    return (int)n;
}

/* Default video and answer on a session with n_ctx (0 = default). */
static void ask(vllm_model *m, int32_t n_ctx, const char *clip, int want_all_frames, const char *what)
{
    vllm_session_params sp = vllm_session_default_params();
    sp.n_ctx = n_ctx;
    vllm_session *s = NULL;
    REQUIRE(vllm_session_create(m, &sp, &s) == VLLM_OK, "%s: %s", what, vllm_last_error());
    warned_fewer_frames = 0;
    vllm_status st = vllm_session_push_video(s, clip, NULL);
    CHECK(st == VLLM_OK, "%s: default push_video of a 75 s clip failed: %s", what, vllm_session_last_error(s));
    vllm_session_stats stats = {.struct_size = sizeof stats};
    vllm_session_get_stats(s, &stats);
    fprintf(stderr, "%s: n_ctx %d, %lld frames, %d positions used\n", what, stats.n_ctx,
            (long long)stats.n_frames_encoded, stats.n_past);
    if (want_all_frames) {
        CHECK(stats.n_frames_encoded == 64, "%s: %lld frames encoded, want the default 64", what,
              (long long)stats.n_frames_encoded);
        CHECK(!warned_fewer_frames, "%s: warned about fewer frames though all fit", what);
    } else if (st == VLLM_OK) {
        CHECK(stats.n_frames_encoded > 0 && stats.n_frames_encoded < 64, "%s: %lld frames encoded", what,
              (long long)stats.n_frames_encoded);
        CHECK(warned_fewer_frames, "%s: no warning said the sampling was reduced", what);
    }
    CHECK(stats.n_ctx - stats.n_past >= DEFAULT_ANSWER + QUESTION_ROOM,
          "%s: %d of %d positions left after the video: the default %d-token answer would be cut", what,
          stats.n_ctx - stats.n_past, stats.n_ctx, DEFAULT_ANSWER);
    if (st == VLLM_OK) {
        st = vllm_session_generate(s, "What happens in this video?", NULL);
        CHECK(st == VLLM_OK, "%s: generate: %s", what, vllm_session_last_error(s));
        vllm_session_get_stats(s, &stats);
        CHECK(stats.last_stop != VLLM_STOP_CONTEXT_FULL, "%s: the answer was cut by a full context", what);
    }
    vllm_session_free(s);
}

TEST_MAIN_BEGIN
    REQUIRE(argc > 1, "usage: test_default_ctx PATH-TO-videollm-gen-model");
    if (!vg_have_encoder("mpeg4")) TEST_SKIP("no mpeg4 encoder in libavcodec");
    REQUIRE(mkdtemp(dir), "mkdtemp");
    /* 64 tokens per frame like SigLIP-512/16 with scale 4, from a 64-px
     * image of 4-px patches (16x16) and scale 2; one small layer. */
    gen(argv[1], "--preset tiny-mmproj --v-image-size 64 --v-patch 4 --v-scale 2 --v-layer 1 --type F32", "mmproj.gguf");
    gen(argv[1], "--preset tiny --n-ctx 8192 --type F32", "text8k.gguf");
    gen(argv[1], "--preset tiny --n-ctx 2048 --type F32", "text2k.gguf");
    char clip[512], err[256];
    snprintf(clip, sizeof clip, "%s/clip75s.mp4", dir);
    vg_params vp;
    memset(&vp, 0, sizeof vp);
    vp.path = clip;
    vp.width = vp.height = 64;
    vp.n_frames = 150; /* 75 s at 2 fps */
    vp.fps_num = 2;
    vp.fps_den = 1;
    vp.gop = 10;
    vp.pattern = VG_MOTION;
    REQUIRE(vg_write(&vp, err, sizeof err) == 0, "vg_write: %s", err);
    vllm_set_log_callback(on_log, NULL, VLLM_LOG_WARN);

    vllm_model *m = load("text8k.gguf", "mmproj.gguf");
    vllm_model_info mi = {.struct_size = sizeof mi};
    vllm_model_get_info(m, &mi);
    REQUIRE(mi.tokens_per_frame == 64 && mi.n_ctx_train == 8192, "shape: %d tokens per frame, trained ctx %d",
            mi.tokens_per_frame, mi.n_ctx_train);
    const int markers = frame_markers(m);
    fprintf(stderr, "frame markers: %d positions\n", markers);
    ask(m, 0, clip, 1, "trained ctx 8192, default n_ctx");
    /* the default context: 64 frames with their markers plus the answer, within the trained context */
    vllm_session *s = NULL;
    REQUIRE(vllm_session_create(m, NULL, &s) == VLLM_OK, "%s", vllm_last_error());
    vllm_session_stats stats = {.struct_size = sizeof stats};
    vllm_session_get_stats(s, &stats);
    CHECK(stats.n_ctx >= 64 * (64 + markers) + DEFAULT_ANSWER && stats.n_ctx <= 8192, "default n_ctx %d", stats.n_ctx);
    vllm_session_free(s);
    ask(m, 1600, clip, 0, "caller's n_ctx 1600, default sampling");
    vllm_model_free(m);

    m = load("text2k.gguf", "mmproj.gguf");
    ask(m, 0, clip, 0, "trained ctx 2048, default n_ctx");
    vllm_model_free(m);

    vllm_set_log_callback(NULL, NULL, VLLM_LOG_WARN);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
TEST_MAIN_END
