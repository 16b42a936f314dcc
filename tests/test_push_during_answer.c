/* A frame pushed from another thread during an answer:
 *  - returns while the answer is still running, also when the generating
 *    thread spends its time in the token callback (which runs outside the
 *    session lock) and when it re-takes the lock after every token (the
 *    pusher is let in first, not starved);
 *  - is in the context when the answer's generate() returns (it entered on
 *    the generating thread), so the next push only adds its own frame.
 * Built also under ThreadSanitizer in CI. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fixture_set.h"
#include "harness.h"
#include "vllm/videollm.h"

#define W 48
#define H 48

typedef struct shared {
    vllm_session *s;
    atomic_int tokens, answer_done, pushes_done, pushes_failed, stop_pushing;
    atomic_int pushes_during_answer; /* pushes that returned before the answer ended */
    atomic_int hold_first_token;     /* the first token's callback waits for one push */
    atomic_int push_returned_in_callback;
    vllm_status answer_status;
    int max_tokens;
} shared;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static void nap_us(long us)
{
    struct timespec ts = {0, us * 1000};
    nanosleep(&ts, NULL);
}

static vllm_status push(vllm_session *s, int i)
{
    static _Thread_local uint8_t rgb[W * H * 3];
    for (int p = 0; p < W * H * 3; p++) rgb[p] = (uint8_t)((p * 13 + i * 71) & 255);
    vllm_frame f = {.struct_size = sizeof f, .format = VLLM_PIXFMT_RGB24, .width = W, .height = H, .pts = i * 0.25};
    f.planes[0] = rgb;
    f.strides[0] = W * 3;
    return vllm_session_push_frame(s, &f);
}

static int on_token(void *user, int32_t token, const char *piece, size_t len)
{
    (void)piece, (void)len;
    shared *sh = user;
    if (token < 0) return 0;
    if (atomic_fetch_add(&sh->tokens, 1) == 0 && atomic_load(&sh->hold_first_token)) {
        const double t0 = now(); /* old code held the session lock here: the push could not finish */
        while (atomic_load(&sh->pushes_done) == 0 && now() - t0 < 3.0) nap_us(500);
        atomic_store(&sh->push_returned_in_callback, atomic_load(&sh->pushes_done) > 0);
    }
    return 0;
}

static void *answer(void *p)
{
    shared *sh = p;
    vllm_generate_params gp = vllm_generate_default_params();
    gp.max_tokens = sh->max_tokens;
    gp.on_token = on_token;
    gp.user_data = sh;
    sh->answer_status = vllm_session_generate(sh->s, "Describe the stream", &gp);
    atomic_store(&sh->answer_done, 1);
    return NULL;
}

/* Pushes frames 1000.. until told to stop; counts those returning before the answer ended. */
static void *pusher(void *p)
{
    shared *sh = p;
    while (atomic_load(&sh->tokens) == 0) nap_us(100);
    static atomic_int next_frame = 1000; /* times keep rising across runs */
    for (int i = 0; !atomic_load(&sh->stop_pushing) && i < 8; i++) {
        if (push(sh->s, atomic_fetch_add(&next_frame, 1)) != VLLM_OK) atomic_fetch_add(&sh->pushes_failed, 1);
        if (!atomic_load(&sh->answer_done)) atomic_fetch_add(&sh->pushes_during_answer, 1);
        atomic_fetch_add(&sh->pushes_done, 1);
    }
    return NULL;
}

/* push_video's progress callback runs under the session lock; calling
 * get_stats from it while a pusher waits for that lock must not deadlock. */
typedef struct progress_probe {
    vllm_session *s;
    pthread_t th;
    atomic_int started, pushed;
    int calls;
} progress_probe;

static void *late_pusher(void *p)
{
    progress_probe *pp = p;
    atomic_store(&pp->started, 1);
    if (push(pp->s, 90000) == VLLM_OK) atomic_store(&pp->pushed, 1);
    return NULL;
}

static int on_progress(void *user, const char *stage, float fraction)
{
    (void)stage, (void)fraction;
    progress_probe *pp = user;
    if (pp->calls++ == 0) {
        pthread_create(&pp->th, NULL, late_pusher, pp);
        while (!atomic_load(&pp->started)) nap_us(100);
        nap_us(20000); /* the pusher is now waiting for the lock this thread holds */
    }
    vllm_session_stats st = {.struct_size = sizeof st};
    vllm_session_get_stats(pp->s, &st);
    return 0;
}

static vllm_session_stats stats(vllm_session *s)
{
    vllm_session_stats st = {.struct_size = sizeof st};
    vllm_session_get_stats(s, &st);
    return st;
}

TEST_MAIN_BEGIN
    char tp[1024], mp[1024];
    fx_require_model("-text-F32.gguf", tp, sizeof tp);
    fx_require_model("-mmproj-F32.gguf", mp, sizeof mp);
    vllm_model_params p = vllm_model_default_params();
    p.mmproj_path = mp;
    p.vision_precision = VLLM_VISION_F32;
    vllm_model *m = NULL;
    REQUIRE(vllm_model_load(tp, &p, &m) == VLLM_OK, "%s", vllm_last_error());
    vllm_model_info mi = {.struct_size = sizeof mi};
    vllm_model_get_info(m, &mi);
    vllm_session_params sp = vllm_session_default_params();
    sp.n_threads = 1;
    sp.n_ctx = 2048;
    vllm_session *s = NULL;
    REQUIRE(vllm_session_create(m, &sp, &s) == VLLM_OK, "%s", vllm_last_error());
    for (int i = 0; i < 3; i++) REQUIRE(push(s, i) == VLLM_OK, "%s", vllm_session_last_error(s));

    /* 1. the generating thread sits in its first token's callback: a push still completes */
    shared a = {.s = s, .max_tokens = 16};
    atomic_store(&a.hold_first_token, 1);
    pthread_t ta, tp_;
    REQUIRE(pthread_create(&ta, NULL, answer, &a) == 0 && pthread_create(&tp_, NULL, pusher, &a) == 0, "threads");
    pthread_join(ta, NULL);
    atomic_store(&a.stop_pushing, 1);
    pthread_join(tp_, NULL);
    CHECK(a.answer_status == VLLM_OK, "answer: %s", vllm_session_last_error(s));
    CHECK(atomic_load(&a.push_returned_in_callback), "a push could not complete while the answer was in its token callback");
    CHECK(atomic_load(&a.pushes_failed) == 0, "pushes failed: %s", vllm_session_last_error(s));

    /* 2. a long answer re-taking the lock after every token: pushes get in during it */
    vllm_generate_params probe = vllm_generate_default_params();
    probe.max_tokens = 2;
    REQUIRE(vllm_session_generate(s, "Go on", &probe) == VLLM_OK, "%s", vllm_session_last_error(s)); /* drains */
    shared b = {.s = s, .max_tokens = 600};
    REQUIRE(pthread_create(&ta, NULL, answer, &b) == 0 && pthread_create(&tp_, NULL, pusher, &b) == 0, "threads");
    pthread_join(ta, NULL);
    atomic_store(&b.stop_pushing, 1);
    pthread_join(tp_, NULL);
    const int during = atomic_load(&b.pushes_during_answer);
    printf("long answer: %d tokens, %d of %d pushes returned during it\n", atomic_load(&b.tokens), during,
           atomic_load(&b.pushes_done));
    CHECK(b.answer_status == VLLM_OK && atomic_load(&b.pushes_failed) == 0, "answer / pushes: %s", vllm_session_last_error(s));
    if (atomic_load(&b.tokens) == b.max_tokens)
        CHECK(during >= 4, "only %d pushes returned during a %d-token answer: the pusher was starved", during, b.max_tokens);
    else
        printf("(the answer ended early, stop reason %d: starvation not judged)\n", stats(s).last_stop);

    /* 3. a frame pushed during an answer is in the context when the answer's last call returns */
    vllm_generate_params gp = vllm_generate_default_params();
    gp.max_tokens = 4;
    REQUIRE(vllm_session_query(s, "And now?", &gp) == VLLM_OK, "%s", vllm_session_last_error(s));
    REQUIRE(vllm_session_next_token(s, NULL, NULL, NULL) == VLLM_OK, "%s", vllm_session_last_error(s));
    const vllm_session_stats armed = stats(s);
    CHECK(push(s, 30000) == VLLM_OK && push(s, 30001) == VLLM_OK, "push during the answer: %s", vllm_session_last_error(s));
    CHECK(stats(s).n_visual_tokens == armed.n_visual_tokens, "a frame entered the context in the middle of an answer");
    vllm_status r;
    while ((r = vllm_session_next_token(s, NULL, NULL, NULL)) == VLLM_OK) {}
    CHECK(r == VLLM_DONE, "answer: %s", vllm_session_last_error(s));
    const vllm_session_stats done = stats(s);
    CHECK(done.n_visual_tokens - armed.n_visual_tokens == 2 * mi.tokens_per_frame,
          "when the answer ended, %lld visual tokens had entered (want the 2 frames pushed during it: %d)",
          (long long)(done.n_visual_tokens - armed.n_visual_tokens), 2 * mi.tokens_per_frame);
    /* 4. the next push adds its own frame only */
    CHECK(push(s, 50000) == VLLM_OK, "%s", vllm_session_last_error(s));
    const vllm_session_stats af = stats(s);
    CHECK(af.n_visual_tokens - done.n_visual_tokens == mi.tokens_per_frame, "an idle push prefilled %lld visual tokens",
          (long long)(af.n_visual_tokens - done.n_visual_tokens));

    /* 5. get_stats from a progress callback (lock held) while a pusher waits */
    char video[1100];
    snprintf(video, sizeof video, "%s/test-3.mp4", fx_media_dir());
    progress_probe pp = {.s = s};
    vllm_video_params vp = vllm_video_default_params();
    vp.n_frames = 3;
    vp.progress = on_progress;
    vp.progress_user_data = &pp;
    vllm_session_reset(s);
    CHECK(vllm_session_push_video(s, video, &vp) == VLLM_OK, "%s", vllm_session_last_error(s));
    pthread_join(pp.th, NULL);
    CHECK(atomic_load(&pp.pushed), "the waiting push failed: %s", vllm_session_last_error(s));
    vllm_session_free(s);
    vllm_model_free(m);
TEST_MAIN_END
