/* Sessions after errors and cancellations (regressions found in review):
 * each case checks the session goes on exactly as if the failed call had
 * not happened, by comparing its token history with a session that never
 * saw the failure. A failed image or video is taken out whole
 * (session_media.c, media_undo). */
#define VLLM_EXPERIMENTAL
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixture_set.h"
#include "harness.h"
#include "vllm/videollm.h"

#define W 64
#define H 48

static vllm_model *m;
static char video[1024];
static uint8_t rgb[W * H * 3];

static vllm_session *new_session(int n_ctx)
{
    vllm_session_params sp = vllm_session_default_params();
    sp.n_ctx = n_ctx;
    vllm_session *s = NULL;
    REQUIRE(vllm_session_create(m, &sp, &s) == VLLM_OK, "%s", vllm_last_error());
    return s;
}

static vllm_status push(vllm_session *s, int i)
{
    for (int p = 0; p < W * H * 3; p++) rgb[p] = (uint8_t)(p * 5 + i * 31);
    vllm_frame f = {.struct_size = sizeof f, .format = VLLM_PIXFMT_RGB24, .width = W, .height = H, .pts = i};
    f.planes[0] = rgb;
    f.strides[0] = W * 3;
    return vllm_session_push_frame(s, &f);
}

static int same_history(vllm_session *a, vllm_session *b)
{
    const int32_t *ha, *hb;
    size_t na, nb;
    vllm_session_history(a, &ha, &na);
    vllm_session_history(b, &hb, &nb);
    return na == nb && !memcmp(ha, hb, na * sizeof *ha);
}

static int cancel_at_once(void *user, const char *stage, float f)
{
    (void)user, (void)stage, (void)f;
    return 1;
}

TEST_MAIN_BEGIN
    const char *data = getenv("VIDEOLLM_TEST_DATA") ? getenv("VIDEOLLM_TEST_DATA") : "tests/data";
    char tp[4400], mp[4400];
    fx_require_model("-text-F32.gguf", tp, sizeof tp);
    fx_require_model("-mmproj-F32.gguf", mp, sizeof mp);
    snprintf(video, sizeof video, "%s/media/test-3.mp4", data);
    vllm_model_params p = vllm_model_default_params();
    p.mmproj_path = mp;
    p.vision_precision = VLLM_VISION_F32;
    REQUIRE(vllm_model_load(tp, &p, &m) == VLLM_OK, "%s", vllm_last_error());
    vllm_generate_params gp = vllm_generate_default_params();
    gp.max_tokens = 4;

    /* an answer that fills the window does not stop the stream */
    vllm_session *s = new_session(160);
    for (int i = 0; i < 10; i++) CHECK(push(s, i) == VLLM_OK, "frame %d: %s", i, vllm_session_last_error(s));
    vllm_generate_params fill = gp;
    fill.max_tokens = -1;
    fill.raw = 1;
    CHECK(vllm_session_generate(s, "<end_of_utterance>\nAssistant:", &fill) == VLLM_OK, "%s", vllm_session_last_error(s));
    vllm_session_stats st = {.struct_size = sizeof st};
    vllm_session_get_stats(s, &st);
    CHECK(st.last_stop == VLLM_STOP_CONTEXT_FULL, "stop %d", (int)st.last_stop);
    for (int i = 10; i < 14; i++) CHECK(push(s, i) == VLLM_OK, "frame %d after a full answer: %s", i, vllm_session_last_error(s));
    CHECK(vllm_session_generate(s, "And now?", &gp) == VLLM_OK, "question after a full answer: %s", vllm_session_last_error(s));
    vllm_session_free(s);

    /* a cancel request does not outlive the call it was meant for */
    s = new_session(1024);
    CHECK(push(s, 0) == VLLM_OK, "%s", vllm_session_last_error(s));
    vllm_session_cancel(s);
    CHECK(push(s, 1) == VLLM_OK, "push after cancel: %s", vllm_session_last_error(s));
    vllm_session_cancel(s);
    CHECK(vllm_session_generate(s, "What?", &gp) == VLLM_OK, "query after cancel: %s", vllm_session_last_error(s));
    vllm_session_free(s);

    /* a cancelled video leaves nothing behind */
    vllm_session *a = new_session(2048), *b = new_session(2048);
    vllm_video_params vp = vllm_video_default_params();
    vp.progress = cancel_at_once;
    CHECK(vllm_session_push_video(a, video, &vp) == VLLM_ERR_CANCELLED, "cancelled video: %s", vllm_session_last_error(a));
    CHECK(vllm_session_generate(a, "What?", &gp) == VLLM_OK && vllm_session_generate(b, "What?", &gp) == VLLM_OK, "query");
    CHECK(same_history(a, b), "a cancelled video changed the context");
    vllm_session_free(a);
    vllm_session_free(b);

    /* a failed image leaves nothing behind: an image that runs out of
     * context after some of its tiles (and the last answer's final token)
     * went in is taken out again, turn opening included */
    char image[1200];
    snprintf(image, sizeof image, "%s/media/test-1.jpeg", data);
    a = new_session(4096);
    CHECK(vllm_session_generate(a, "Hi", &gp) == VLLM_OK, "%s", vllm_session_last_error(a));
    vllm_session_get_stats(a, &st);
    const int32_t before_image = st.n_past;
    CHECK(vllm_session_push_image(a, image) == VLLM_OK, "image: %s", vllm_session_last_error(a));
    vllm_session_get_stats(a, &st);
    const int32_t image_positions = st.n_past - before_image;
    vllm_session_free(a);
    CHECK(image_positions > 20, "the image took %d positions", image_positions); /* tiles and their markers */
    const int32_t half = before_image + image_positions / 2;
    a = new_session(half);
    b = new_session(half);
    CHECK(vllm_session_generate(a, "Hi", &gp) == VLLM_OK && vllm_session_generate(b, "Hi", &gp) == VLLM_OK, "answer");
    CHECK(vllm_session_push_image(a, image) == VLLM_ERR_CONTEXT_FULL, "an image twice the free context: %s",
          vllm_session_last_error(a));
    vllm_session_get_stats(a, &st);
    CHECK(st.n_past == before_image, "after a failed image the context holds %d positions, not %d", st.n_past, before_image);
    CHECK(vllm_session_generate(a, "What?", &gp) == VLLM_OK && vllm_session_generate(b, "What?", &gp) == VLLM_OK, "query");
    CHECK(same_history(a, b), "a failed image changed the context");
    vllm_session_free(a);
    vllm_session_free(b);

    /* a failed question inside a media turn loses nothing */
    a = new_session(300);
    b = new_session(300);
    vp = vllm_video_default_params();
    vp.n_frames = 2;
    CHECK(vllm_session_push_video(a, video, &vp) == VLLM_OK && vllm_session_push_video(b, video, &vp) == VLLM_OK, "video");
    char *long_q = malloc(4000);
    memset(long_q, 'a', 3999);
    long_q[3999] = '\0';
    for (int i = 1; i < 3999; i += 2) long_q[i] = ' ';
    CHECK(vllm_session_query(a, long_q, &gp) == VLLM_ERR_CONTEXT_FULL, "overlong question: %s", vllm_session_last_error(a));
    free(long_q);
    CHECK(vllm_session_query(a, "What?", &gp) == VLLM_OK && vllm_session_query(b, "What?", &gp) == VLLM_OK, "query");
    CHECK(same_history(a, b), "a failed question changed the media turn");
    vllm_session_free(a);
    vllm_session_free(b);

    /* reset forgets frames queued during an answer */
    s = new_session(1024);
    CHECK(vllm_session_query(s, "Hi", &gp) == VLLM_OK, "%s", vllm_session_last_error(s));
    CHECK(push(s, 0) == VLLM_OK, "push during an answer: %s", vllm_session_last_error(s)); /* queued: armed */
    vllm_session_reset(s);
    int32_t one = 46;
    CHECK(vllm_session_eval_tokens(s, &one, 1) == VLLM_OK, "%s", vllm_session_last_error(s));
    vllm_session_get_stats(s, &st);
    CHECK(st.n_past == 1, "after reset the context holds %d positions (a queued frame leaked in)", st.n_past);
    vllm_session_free(s);
    /* a stream restored from a snapshot can still evict its old frames */
    s = new_session(160);
    for (int i = 0; i < 4; i++) CHECK(push(s, i) == VLLM_OK, "%s", vllm_session_last_error(s));
    char snap[] = "/tmp/videollm-spans-XXXXXX";
    int fd = mkstemp(snap);
    REQUIRE(fd >= 0, "mkstemp");
    close(fd);
    CHECK(vllm_session_save(s, snap) == VLLM_OK, "%s", vllm_session_last_error(s));
    vllm_session *r = new_session(160);
    CHECK(vllm_session_load(r, snap) == VLLM_OK, "%s", vllm_session_last_error(r));
    for (int i = 4; i < 20; i++) CHECK(push(r, i) == VLLM_OK, "restored stream, frame %d: %s", i, vllm_session_last_error(r));
    vllm_session_get_stats(r, &st);
    CHECK(st.n_frames_evicted >= 4, "restored stream evicted %lld frames", (long long)st.n_frames_evicted);
    remove(snap);
    vllm_session_free(r);
    vllm_session_free(s);

    /* pts must not go backwards: refused with both values, nothing counted; equal pts is fine */
    s = new_session(1024);
    CHECK(push(s, 5) == VLLM_OK && push(s, 5) == VLLM_OK, "%s", vllm_session_last_error(s));
    vllm_session_get_stats(s, &st);
    const int32_t n_past_before = st.n_past;
    CHECK(push(s, 3) == VLLM_ERR_INVALID_ARG, "a frame at 3 s after one at 5 s was accepted");
    CHECK(strstr(vllm_session_last_error(s), "pts 3 s is before the previous frame's 5 s"), "message: %s",
          vllm_session_last_error(s));
    vllm_session_get_stats(s, &st);
    CHECK(st.n_frames_seen == 2 && st.n_past == n_past_before, "a refused frame changed the session: seen %lld",
          (long long)st.n_frames_seen);
    CHECK(push(s, 6) == VLLM_OK, "the stream goes on: %s", vllm_session_last_error(s));
    vllm_session_reset(s); /* a new stream may start at 0 */
    CHECK(push(s, 0) == VLLM_OK, "after a reset: %s", vllm_session_last_error(s));
    vllm_session_free(s);
    vllm_model_free(m);
TEST_MAIN_END
