/* vllm_session_stats: counts and times describe the same work. A video's
 * prefill is timed (media_prefill_seconds), the stages account for the
 * wall time of push_video, and the position counters add up to the
 * context: media positions are n_visual_tokens + n_media_text_tokens, a
 * question's are n_prompt_tokens. */
#define VLLM_EXPERIMENTAL
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fixture_set.h"
#include "harness.h"
#include "vllm/videollm.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static vllm_session_stats stats(vllm_session *s)
{
    vllm_session_stats st = {.struct_size = sizeof st};
    vllm_session_get_stats(s, &st);
    return st;
}

TEST_MAIN_BEGIN
    char tp[1024], mp[1024], video[1024];
    fx_require_model("-text-F32.gguf", tp, sizeof tp);
    fx_require_model("-mmproj-F32.gguf", mp, sizeof mp);
    snprintf(video, sizeof video, "%s/test-3.mp4", fx_media_dir());
    vllm_model_params p = vllm_model_default_params();
    p.mmproj_path = mp;
    p.vision_precision = VLLM_VISION_F32;
    vllm_model *m = NULL;
    REQUIRE(vllm_model_load(tp, &p, &m) == VLLM_OK, "%s", vllm_last_error());
    vllm_model_info mi = {.struct_size = sizeof mi};
    vllm_model_get_info(m, &mi);
    vllm_session_params sp = vllm_session_default_params();
    sp.n_ctx = 4096;
    sp.n_threads = 1;
    vllm_session *s = NULL;
    REQUIRE(vllm_session_create(m, &sp, &s) == VLLM_OK, "%s", vllm_last_error());

    /* a video: every position is media, and the stages account for the call's wall time */
    vllm_video_params vp = vllm_video_default_params();
    vp.n_frames = 24;
    const double t0 = now();
    REQUIRE(vllm_session_push_video(s, video, &vp) == VLLM_OK, "%s", vllm_session_last_error(s));
    const double wall = now() - t0;
    vllm_session_stats a = stats(s);
    const double staged = a.decode_seconds + a.encode_seconds + a.media_prefill_seconds;
    printf("push_video: wall %.4f s = decode %.4f + encode %.4f + media prefill %.4f (+ %.4f unaccounted); %d positions\n",
           wall, a.decode_seconds, a.encode_seconds, a.media_prefill_seconds, wall - staged, a.n_past);
    CHECK(a.n_frames_seen == 24 && a.n_frames_encoded == 24, "frames seen %lld, encoded %lld", (long long)a.n_frames_seen,
          (long long)a.n_frames_encoded);
    CHECK(a.n_visual_tokens == 24 * (int64_t)mi.tokens_per_frame, "visual tokens %lld", (long long)a.n_visual_tokens);
    CHECK(a.n_prompt_tokens == 0, "a video counted %lld prompt tokens", (long long)a.n_prompt_tokens);
    CHECK(a.n_visual_tokens + a.n_media_text_tokens == a.n_past, "media positions %lld + %lld != context %d",
          (long long)a.n_visual_tokens, (long long)a.n_media_text_tokens, a.n_past);
    /* the same number of positions evaluated as text, timed here: the video's prefill costs about as much */
    {
        vllm_session *ref = NULL;
        REQUIRE(vllm_session_create(m, &sp, &ref) == VLLM_OK, "%s", vllm_last_error());
        int32_t *ids = malloc((size_t)a.n_past * sizeof *ids);
        for (int i = 0; i < a.n_past; i++) ids[i] = 40 + i % 500;
        const double r0 = now();
        vllm_session_eval_tokens(ref, ids, (size_t)a.n_past);
        const double ref_s = now() - r0;
        printf("reference: %d text positions evaluated in %.4f s\n", a.n_past, ref_s);
        CHECK(a.media_prefill_seconds >= 0.3 * ref_s, "the video's prefill was timed %.4f s; evaluating as many positions takes %.4f s",
              a.media_prefill_seconds, ref_s);
        free(ids);
        vllm_session_free(ref);
    }
    CHECK(staged >= 0.8 * wall, "only %.4f of push_video's %.4f s are accounted to a stage", staged, wall);

    /* a question: its positions are prompt tokens, timed as prompt */
    vllm_generate_params gp = vllm_generate_default_params();
    gp.max_tokens = 5;
    REQUIRE(vllm_session_query(s, "What happens?", &gp) == VLLM_OK, "%s", vllm_session_last_error(s));
    vllm_session_stats b = stats(s);
    CHECK(b.n_prompt_tokens == b.n_past - a.n_past, "prompt tokens %lld for %d new positions", (long long)b.n_prompt_tokens,
          b.n_past - a.n_past);
    CHECK(b.prompt_seconds > 0 && b.media_prefill_seconds == a.media_prefill_seconds, "question timed as media");
    while (vllm_session_next_token(s, NULL, NULL, NULL) == VLLM_OK) {}
    vllm_session_stats c = stats(s);
    CHECK(c.n_generated_tokens >= 1 && c.n_generated_tokens <= 5 && c.generate_seconds > 0, "generated %lld in %.4f s",
          (long long)c.n_generated_tokens, c.generate_seconds);

    /* a pushed frame after the answer: media positions again (the answer's last token opens the turn) */
    uint8_t rgb[32 * 32 * 3];
    for (size_t i = 0; i < sizeof rgb; i++) rgb[i] = (uint8_t)(i * 7);
    vllm_frame f = {.struct_size = sizeof f, .format = VLLM_PIXFMT_RGB24, .width = 32, .height = 32, .pts = 11};
    f.planes[0] = rgb;
    f.strides[0] = 32 * 3;
    REQUIRE(vllm_session_push_frame(s, &f) == VLLM_OK, "%s", vllm_session_last_error(s));
    vllm_session_stats d = stats(s);
    CHECK(d.n_prompt_tokens == c.n_prompt_tokens, "a frame counted prompt tokens");
    CHECK((d.n_visual_tokens - c.n_visual_tokens) + (d.n_media_text_tokens - c.n_media_text_tokens) ==
              d.n_past - c.n_past,
          "a frame's %d positions are not its visual %lld + media text %lld tokens (stop %d)", d.n_past - c.n_past,
          (long long)(d.n_visual_tokens - c.n_visual_tokens), (long long)(d.n_media_text_tokens - c.n_media_text_tokens), c.last_stop);
    CHECK(d.media_prefill_seconds > c.media_prefill_seconds, "a pushed frame's prefill was not timed");
    vllm_session_free(s);
    vllm_model_free(m);
TEST_MAIN_END
