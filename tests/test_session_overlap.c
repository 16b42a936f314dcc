/* Two threads on one session: calls documented [per session] must not
 * overlap, and an overlapping call is refused with VLLM_ERR_STATE and a
 * message naming the running call — it neither waits for the answer nor
 * cuts it short or runs in its place. push_frame and get_stats stay
 * allowed from another thread. Built also under ThreadSanitizer in CI. */
#define VLLM_EXPERIMENTAL
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fixture_set.h"
#include "harness.h"
#include "vllm/videollm.h"

#define MAX_TOKENS 12

typedef struct shared {
    vllm_session *s;
    atomic_int in_answer, other_done, tokens_seen;
    pthread_t generating_thread;
    atomic_int callback_on_other_thread;
    vllm_status answer_status;
} shared;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* Holds the first token until the other thread has made its calls (or a
 * deadline passed: old code made them wait for the answer instead). */
static int on_token(void *user, int32_t token, const char *piece, size_t len)
{
    (void)piece, (void)len;
    shared *sh = user;
    if (!pthread_equal(pthread_self(), sh->generating_thread)) atomic_store(&sh->callback_on_other_thread, 1);
    if (token >= 0) atomic_fetch_add(&sh->tokens_seen, 1);
    if (!atomic_exchange(&sh->in_answer, 1)) {
        const double t0 = now();
        while (!atomic_load(&sh->other_done) && now() - t0 < 3.0) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
    }
    return 0;
}

static void *answer(void *p)
{
    shared *sh = p;
    vllm_generate_params gp = vllm_generate_default_params();
    gp.max_tokens = MAX_TOKENS;
    gp.on_token = on_token;
    gp.user_data = sh;
    sh->answer_status = vllm_session_generate(sh->s, "Tell me a story", &gp);
    return NULL;
}

static void check_refused(vllm_status st, const char *call)
{
    CHECK(st == VLLM_ERR_STATE, "%s during another thread's answer returned %d (%s)", call, st, vllm_last_error());
    if (st == VLLM_ERR_STATE)
        CHECK(strstr(vllm_last_error(), "vllm_session_generate is running") && strstr(vllm_last_error(), call),
              "message does not name both calls: %s", vllm_last_error());
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
    vllm_session_params sp = vllm_session_default_params();
    sp.n_threads = 1;
    sp.n_ctx = 512;
    vllm_session *s = NULL;
    REQUIRE(vllm_session_create(m, &sp, &s) == VLLM_OK, "%s", vllm_last_error());

    /* an answer that cannot end early: no end-of-generation token is ever sampled */
    vllm_generate_params probe = vllm_generate_default_params();
    probe.max_tokens = MAX_TOKENS;
    REQUIRE(vllm_session_generate(s, "Tell me a story", &probe) == VLLM_OK, "%s", vllm_session_last_error(s));
    vllm_session_stats st = {.struct_size = sizeof st};
    vllm_session_get_stats(s, &st);
    if (st.last_stop != VLLM_STOP_MAX_TOKENS) TEST_SKIP("the tiny model ends this answer early");
    vllm_session_reset(s);

    shared sh = {.s = s};
    REQUIRE(pthread_create(&sh.generating_thread, NULL, answer, &sh) == 0, "thread");
    while (!atomic_load(&sh.in_answer)) {
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
    /* the answer is running (held in its first token's callback) */
    vllm_generate_params gp = vllm_generate_default_params();
    gp.max_tokens = 2;
    const double t0 = now();
    check_refused(vllm_session_generate(s, "Me too", &gp), "vllm_session_generate");
    check_refused(vllm_session_query(s, "Me too", &gp), "vllm_session_query");
    check_refused(vllm_session_next_token(s, NULL, NULL, NULL), "vllm_session_next_token");
    int32_t one = 46;
    check_refused(vllm_session_eval_tokens(s, &one, 1), "vllm_session_eval_tokens");
    check_refused(vllm_session_push_image(s, "/nonexistent.png"), "vllm_session_push_image");
    check_refused(vllm_session_push_video(s, "/nonexistent.mp4", NULL), "vllm_session_push_video");
    check_refused(vllm_session_save(s, "/nonexistent-dir/x.snap"), "vllm_session_save");
    check_refused(vllm_session_load(s, "/nonexistent-dir/x.snap"), "vllm_session_load");
    const int32_t *hist;
    size_t n_hist;
    check_refused(vllm_session_history(s, &hist, &n_hist), "vllm_session_history");
    check_refused(vllm_session_reset(s), "vllm_session_reset");
    const double refused_in = now() - t0;
    CHECK(refused_in < 1.0, "the refusals took %.2f s: they waited for the answer", refused_in);
    atomic_store(&sh.other_done, 1);
    pthread_join(sh.generating_thread, NULL);

    CHECK(sh.answer_status == VLLM_OK, "the answer failed: %s", vllm_session_last_error(s));
    CHECK(atomic_load(&sh.tokens_seen) == MAX_TOKENS, "the answer was cut to %d tokens", atomic_load(&sh.tokens_seen));
    CHECK(!atomic_load(&sh.callback_on_other_thread), "the answer's callback ran on the other thread");
    vllm_session_get_stats(s, &st);
    CHECK(st.last_stop == VLLM_STOP_MAX_TOKENS, "the answer stopped for reason %d", st.last_stop);

    /* once the answer is over the session is free for any thread */
    CHECK(vllm_session_generate(s, "Me too", &gp) == VLLM_OK, "after the answer: %s", vllm_session_last_error(s));
    vllm_session_free(s);
    vllm_model_free(m);
TEST_MAIN_END
