/* Live streaming: one thread pushes frames while another asks and reads
 * the answer. Frames pushed during the answer are encoded at once, queue,
 * and enter the context before the next turn; nothing is lost silently
 * (encoded + dropped = seen) and the second question sees them. Built
 * also under ThreadSanitizer in CI. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fixture_set.h"
#include "harness.h"
#include "vllm/videollm.h"

#define W 96
#define H 72
#define N_FRAMES 24

typedef struct pusher {
    vllm_session *s;
    atomic_int pushed, failed;
    atomic_int started_answer;
} pusher;

static void nap(long usec)
{
    struct timespec ts = {0, usec * 1000};
    nanosleep(&ts, NULL);
}

static void *push_thread(void *p)
{
    pusher *ps = p;
    uint8_t *rgb = malloc(W * H * 3);
    for (int i = 0; i < N_FRAMES; i++) {
        for (int y = 0; y < H; y++) /* a bar that moves: every frame differs */
            for (int x = 0; x < W; x++) {
                uint8_t *px = rgb + (y * W + x) * 3;
                int on = (x / 8) == i % (W / 8);
                px[0] = on ? 250 : (uint8_t)(x * 2);
                px[1] = (uint8_t)(y * 3);
                px[2] = (uint8_t)(i * 10);
            }
        vllm_frame f = {.struct_size = sizeof f, .format = VLLM_PIXFMT_RGB24, .width = W, .height = H};
        f.planes[0] = rgb;
        f.strides[0] = W * 3;
        f.pts = i * 0.5;
        if (vllm_session_push_frame(ps->s, &f) != VLLM_OK) ps->failed++;
        ps->pushed++;
        nap(i < 4 ? 1000 : 3000);
    }
    free(rgb);
    return NULL;
}

static int slow_reader(void *user, int32_t token, const char *piece, size_t len)
{
    (void)token, (void)piece, (void)len;
    ((pusher *)user)->started_answer = 1;
    nap(2000); /* a host that renders each token keeps the answer running a while */
    return 0;
}

TEST_MAIN_BEGIN
    char tp[4400], mp[4400];
    fx_require_model("-text-F32.gguf", tp, sizeof tp);
    fx_require_model("-mmproj-F32.gguf", mp, sizeof mp);
    vllm_model_params p = vllm_model_default_params();
    p.mmproj_path = mp;
    p.vision_precision = VLLM_VISION_F32;
    vllm_model *m = NULL;
    REQUIRE(vllm_model_load(tp, &p, &m) == VLLM_OK, "%s", vllm_last_error());
    vllm_session_params sp = vllm_session_default_params();
    sp.n_threads = 2;
    vllm_session *s = NULL;
    REQUIRE(vllm_session_create(m, &sp, &s) == VLLM_OK, "%s", vllm_last_error());

    pusher ps = {.s = s};
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, push_thread, &ps) == 0, "thread");
    while (atomic_load(&ps.pushed) < 3) nap(500);

    vllm_generate_params gp = vllm_generate_default_params();
    gp.max_tokens = 40;
    gp.on_token = slow_reader;
    gp.user_data = &ps;
    CHECK(vllm_session_generate(s, "What moves?", &gp) == VLLM_OK, "first answer: %s", vllm_session_last_error(s));
    vllm_session_stats a = {.struct_size = sizeof a};
    vllm_session_get_stats(s, &a);
    pthread_join(th, NULL);
    CHECK(atomic_load(&ps.failed) == 0, "%d pushes failed: %s", atomic_load(&ps.failed), vllm_session_last_error(s));

    gp.max_tokens = 4;
    gp.on_token = NULL;
    CHECK(vllm_session_generate(s, "And now?", &gp) == VLLM_OK, "second answer: %s", vllm_session_last_error(s));
    vllm_session_stats b = {.struct_size = sizeof b};
    vllm_session_get_stats(s, &b);
    vllm_model_info mi = {.struct_size = sizeof mi};
    vllm_model_get_info(m, &mi);
    printf("frames: %lld seen, %lld encoded, %lld dropped; %lld had entered before the first answer ended\n",
           (long long)b.n_frames_seen, (long long)b.n_frames_encoded, (long long)b.n_frames_dropped,
           (long long)a.n_frames_encoded);
    CHECK(b.n_frames_seen == N_FRAMES, "seen %lld", (long long)b.n_frames_seen);
    /* every frame was encoded (no dedup here); the dropped ones never entered, all others did */
    CHECK(b.n_frames_encoded == N_FRAMES && b.n_frames_dropped <= b.n_frames_encoded, "encoded %lld, dropped %lld of %d",
          (long long)b.n_frames_encoded, (long long)b.n_frames_dropped, N_FRAMES);
    CHECK(b.n_visual_tokens == (b.n_frames_encoded - b.n_frames_dropped) * mi.tokens_per_frame,
          "visual tokens %lld for %lld frames kept: frames pushed during the answer never reached the context",
          (long long)b.n_visual_tokens, (long long)(b.n_frames_encoded - b.n_frames_dropped));
    vllm_session_free(s);
    vllm_model_free(m);
TEST_MAIN_END
