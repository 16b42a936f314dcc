/* Errors a user can act on: a context overflow says what needs how many
 * positions, how many the context has and what to do (-c / n_ctx,
 * --video-max-tokens, --fast), never internal batch wording; a range
 * error names the one bad field and its value. */
#define VLLM_EXPERIMENTAL
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixture_set.h"
#include "harness.h"
#include "vllm/videollm.h"

static vllm_model *m;

static vllm_session *new_session(int n_ctx)
{
    vllm_session_params sp = vllm_session_default_params();
    sp.n_ctx = n_ctx;
    sp.n_threads = 1;
    vllm_session *s = NULL;
    REQUIRE(vllm_session_create(m, &sp, &s) == VLLM_OK, "%s", vllm_last_error());
    return s;
}

/* msg holds every string of `want` and none of `unwanted` (NULL-terminated lists). */
static int says(const char *msg, const char *const *want, const char *const *unwanted)
{
    for (; want && *want; want++)
        if (!strstr(msg, *want)) return 0;
    for (; unwanted && *unwanted; unwanted++)
        if (strstr(msg, *unwanted)) return 0;
    return 1;
}

static const char *const internal[] = {"new positions do not fit", "no frame is left", NULL};

TEST_MAIN_BEGIN
    char tp[1024], mp[1024], video[1024];
    fx_require_model("-text-F32.gguf", tp, sizeof tp);
    fx_require_model("-mmproj-F32.gguf", mp, sizeof mp);
    snprintf(video, sizeof video, "%s/test-3.mp4", fx_media_dir());
    vllm_model_params p = vllm_model_default_params();
    p.mmproj_path = mp;
    p.vision_precision = VLLM_VISION_F32;
    REQUIRE(vllm_model_load(tp, &p, &m) == VLLM_OK, "%s", vllm_last_error());

    /* a video longer than the context: the video, its size, the context's, the remedies */
    vllm_session *s = new_session(256);
    vllm_video_params vp = vllm_video_default_params();
    vp.n_frames = 40;
    CHECK(vllm_session_push_video(s, video, &vp) == VLLM_ERR_CONTEXT_FULL, "video: %s", vllm_session_last_error(s));
    const char *const video_words[] = {"the video (40 frames", "needs", "the context has 256", "-c", "--video-max-tokens", "--fast", NULL};
    CHECK(says(vllm_session_last_error(s), video_words, internal), "video overflow message: %s", vllm_session_last_error(s));
    vllm_session_stats st = {.struct_size = sizeof st};
    vllm_session_get_stats(s, &st);
    CHECK(st.n_past == 0, "the failed video left %d positions", st.n_past);

    /* a question longer than the context */
    char *q = malloc(4000);
    for (int i = 0; i < 3999; i++) q[i] = i % 2 ? ' ' : 'a';
    q[3999] = '\0';
    vllm_generate_params gp = vllm_generate_default_params();
    CHECK(vllm_session_query(s, q, &gp) == VLLM_ERR_CONTEXT_FULL, "question: %s", vllm_session_last_error(s));
    const char *const q_words[] = {"the question", "needs", "the context has 256", "-c", NULL};
    CHECK(says(vllm_session_last_error(s), q_words, internal), "question overflow message: %s", vllm_session_last_error(s));
    free(q);
    vllm_session_free(s);

    /* a pushed frame when a video (not evictable) holds the window: ~490 of 512 positions */
    s = new_session(512);
    vp.n_frames = 28;
    REQUIRE(vllm_session_push_video(s, video, &vp) == VLLM_OK, "%s", vllm_session_last_error(s));
    uint8_t rgb[32 * 32 * 3] = {0};
    vllm_frame f = {.struct_size = sizeof f, .format = VLLM_PIXFMT_RGB24, .width = 32, .height = 32, .pts = 0};
    f.planes[0] = rgb;
    f.strides[0] = 32 * 3;
    CHECK(vllm_session_push_frame(s, &f) == VLLM_ERR_CONTEXT_FULL, "a frame beside a full video: %s",
          vllm_session_last_error(s));
    const char *const f_words[] = {"a pushed frame needs", "the context has 512", "-c", NULL};
    CHECK(says(vllm_session_last_error(s), f_words, internal), "frame overflow message: %s", vllm_session_last_error(s));
    vllm_session_free(s);

    /* range errors: one field, its value */
    vllm_session_params sp = vllm_session_default_params();
    sp.n_ctx = -3;
    vllm_session *bad = NULL;
    CHECK(vllm_session_create(m, &sp, &bad) == VLLM_ERR_INVALID_ARG, "n_ctx -3 accepted");
    const char *const ctx_words[] = {"n_ctx = -3", NULL}, *const ctx_not[] = {"n_threads", NULL};
    CHECK(says(vllm_last_error(), ctx_words, ctx_not), "n_ctx message: %s", vllm_last_error());
    s = new_session(512);
    vp = vllm_video_default_params();
    vp.fps = -2;
    CHECK(vllm_session_push_video(s, video, &vp) == VLLM_ERR_INVALID_ARG, "fps -2 accepted");
    const char *const fps_words[] = {"fps = -2", NULL}, *const fps_not[] = {"max_frames", "n_frames", "start", NULL};
    CHECK(says(vllm_session_last_error(s), fps_words, fps_not), "fps message: %s", vllm_session_last_error(s));
    vp = vllm_video_default_params();
    vp.max_visual_tokens = -5;
    CHECK(vllm_session_push_video(s, video, &vp) == VLLM_ERR_INVALID_ARG, "max_visual_tokens -5 accepted");
    const char *const mvt_words[] = {"max_visual_tokens = -5", NULL}, *const mvt_not[] = {"prune_rate", "dedup", NULL};
    CHECK(says(vllm_session_last_error(s), mvt_words, mvt_not), "max_visual_tokens message: %s", vllm_session_last_error(s));
    vllm_offload_params op = vllm_offload_default_params();
    op.enabled = 1;
    op.retrieve_top_k = -1;
    CHECK(vllm_session_set_offload(s, &op) == VLLM_ERR_INVALID_ARG, "retrieve_top_k -1 accepted");
    const char *const k_words[] = {"retrieve_top_k = -1", NULL}, *const k_not[] = {"max_ram_bytes", "max_file_bytes", NULL};
    CHECK(says(vllm_session_last_error(s), k_words, k_not), "retrieve_top_k message: %s", vllm_session_last_error(s));

    /* a time range with an open end reads "to the end", never "[20, 0)" */
    vp = vllm_video_default_params();
    vp.start = 20;
    CHECK(vllm_session_push_video(s, video, &vp) == VLLM_ERR_INVALID_ARG, "start 20 s in a 10 s clip: %s",
          vllm_session_last_error(s));
    const char *const range_words[] = {"20 s to the end", NULL}, *const range_not[] = {", 0)", NULL};
    CHECK(says(vllm_session_last_error(s), range_words, range_not), "range message: %s", vllm_session_last_error(s));
    vllm_session_free(s);

    /* snapshots: a truncated file says so; a KV type mismatch names both types */
    s = new_session(512);
    int32_t ids[100];
    for (int i = 0; i < 100; i++) ids[i] = 50 + i;
    REQUIRE(vllm_session_eval_tokens(s, ids, 100) == VLLM_OK, "%s", vllm_session_last_error(s));
    char dir[] = "/tmp/videollm-msg-XXXXXX", snap[128], cut[128];
    REQUIRE(mkdtemp(dir), "mkdtemp");
    snprintf(snap, sizeof snap, "%s/good.snap", dir);
    snprintf(cut, sizeof cut, "%s/cut.snap", dir);
    REQUIRE(vllm_session_save(s, snap) == VLLM_OK, "%s", vllm_session_last_error(s));
    FILE *fp = fopen(snap, "rb");
    REQUIRE(fp, "open");
    static char buf[1 << 20];
    const long size = (long)fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    const long cuts[] = {0, 5, 20, size / 2, size - 1};
    vllm_session *r = new_session(512);
    for (int i = 0; i < 5; i++) {
        fp = fopen(cut, "wb");
        fwrite(buf, 1, (size_t)cuts[i], fp);
        fclose(fp);
        CHECK(vllm_session_load(r, cut) == VLLM_ERR_FORMAT, "cut at %ld: %s", cuts[i], vllm_session_last_error(r));
        const char *const cut_words[] = {cuts[i] ? "truncated" : "empty", NULL},
                          *const cut_not[] = {"magic", "while reading", NULL};
        CHECK(says(vllm_session_last_error(r), cut_words, cut_not), "snapshot cut at %ld of %ld bytes: %s", cuts[i], size,
              vllm_session_last_error(r));
    }
    fp = fopen(cut, "wb");
    fputs("just some text, not a snapshot\n", fp);
    fclose(fp);
    CHECK(vllm_session_load(r, cut) == VLLM_ERR_FORMAT && strstr(vllm_session_last_error(r), "not a libvideollm snapshot"),
          "text file: %s", vllm_session_last_error(r));
    vllm_session_free(r);
    vllm_session_params sp32 = vllm_session_default_params(); /* the snapshot's sessions: the default, f16 */
    sp32.n_ctx = 512;
    sp32.kv_type = VLLM_KV_F32;
    REQUIRE(vllm_session_create(m, &sp32, &r) == VLLM_OK, "%s", vllm_last_error());
    CHECK(vllm_session_load(r, snap) == VLLM_ERR_INVALID_ARG, "f16 snapshot into an f32 session");
    const char *const kv_words[] = {"KV type f16 differs from the session's f32", NULL};
    CHECK(says(vllm_session_last_error(r), kv_words, NULL), "KV type message: %s", vllm_session_last_error(r));
    vllm_session_free(r);
    remove(snap);
    remove(cut);
    rmdir(dir);
    vllm_session_free(s);
    vllm_model_free(m);
TEST_MAIN_END
