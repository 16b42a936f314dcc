/* Standing questions (vllm_session_watch) over a live source: a generated
 * stream that is static (dark grey, 4 s), changes scene (light grey) and is
 * static again (4 s), played into the session through a pipe by the ffmpeg
 * CLI, sampled at 2 fps (frames at 0, 0.5, ... 7.5 s of stream time).
 * With the tiny random model the answers mean nothing, so the test checks
 * the trigger logic and bookkeeping, not the answers:
 *  - a change-triggered watch is evaluated at the first frame (FIRST) and
 *    at the scene change (t = 4.0 s, within one sampling period), never in
 *    the static parts; the change signal it reports is large there and
 *    the threshold is not reached anywhere else;
 *  - a periodic watch (every 2 s) is evaluated at 0, 2, 4 and 6 s;
 *  - a watch that reports changes only gets events with changed = 1;
 *  - a callback may unwatch its own watch (no call after that) but may not
 *    detach the source (VLLM_ERR_STATE);
 *  - evaluations leave the context as it was: the history equals that of
 *    a session fed the same stream without watches;
 *  - parameter errors name the field. */
#define VLLM_EXPERIMENTAL
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixture_set.h"
#include "harness.h"
#include "live_helpers.h"
#include "vllm/videollm.h"

#define MAX_EVENTS 64
#define CLIP "color=c=0x404040:s=64x48:r=4:d=4[a];color=c=0xd0d0d0:s=64x48:r=4:d=4[b];[a][b]concat=n=2:v=1:a=0[out0]"

typedef struct recorder {
    pthread_mutex_t mu;
    vllm_watch_event ev[MAX_EVENTS];
    char answer[MAX_EVENTS][64];
    int n;
    vllm_session *s;
    int unwatch_self;       /* unwatch from the first callback */
    int try_detach;         /* call detach from the callback */
    vllm_status detach_status, unwatch_status;
} recorder;

static void record(void *user, const vllm_watch_event *e)
{
    recorder *r = user;
    pthread_mutex_lock(&r->mu);
    if (r->n < MAX_EVENTS) {
        r->ev[r->n] = *e;
        snprintf(r->answer[r->n], sizeof r->answer[r->n], "%s", e->answer ? e->answer : "(null)");
        r->ev[r->n].answer = NULL;
        r->n++;
    }
    pthread_mutex_unlock(&r->mu);
    if (r->unwatch_self) {
        r->unwatch_self = 0;
        r->unwatch_status = vllm_session_unwatch(r->s, e->watch_id);
    }
    if (r->try_detach) {
        r->try_detach = 0;
        r->detach_status = vllm_session_detach_source(r->s);
    }
}

static int finished(const vllm_source_stats *st, const void *arg)
{
    (void)arg;
    return st->state == VLLM_SOURCE_ENDED || st->state == VLLM_SOURCE_FAILED;
}

/* Play the clip into `s` through a pipe and wait for its end. */
static void play(vllm_session *s)
{
    int fds[2];
    REQUIRE(pipe(fds) == 0, "pipe");
    const char *args[] = {"-f", "lavfi", "-i", CLIP, "-c:v", "mpeg2video", "-q:v", "2", "-f", "mpegts", "-", NULL};
    pid_t pid = lh_ffmpeg(fds[1], args);
    close(fds[1]);
    char url[32];
    snprintf(url, sizeof url, "pipe:%d", fds[0]);
    vllm_source_params p = vllm_source_default_params();
    p.fps = 2;
    REQUIRE(vllm_session_attach_source(s, url, &p) == VLLM_OK, "%s", vllm_last_error());
    vllm_source_stats st;
    CHECK(lh_wait_source(s, finished, NULL, 120, &st), "the clip did not end (state %d)", st.state);
    CHECK(st.state == VLLM_SOURCE_ENDED, "state %d: %s", st.state, st.message);
    CHECK(st.frames_sampled == 16, "sampled %lld frames, want 16", (long long)st.frames_sampled);
    CHECK(vllm_session_detach_source(s) == VLLM_OK, "detach");
    lh_stop(pid, SIGTERM);
    close(fds[0]);
}

static vllm_session *new_session(vllm_model *m)
{
    vllm_session_params sp = vllm_session_default_params();
    sp.n_threads = 1;
    sp.n_ctx = 4096;
    vllm_session *s = NULL;
    REQUIRE(vllm_session_create(m, &sp, &s) == VLLM_OK, "%s", vllm_last_error());
    return s;
}

static recorder *new_recorder(vllm_session *s)
{
    recorder *r = calloc(1, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    r->s = s;
    return r;
}

static void free_recorder(recorder *r)
{
    pthread_mutex_destroy(&r->mu);
    free(r);
}

static void test_errors(vllm_model *m)
{
    vllm_session *s = new_session(m);
    recorder *r = new_recorder(s);
    int32_t id = -1;
    vllm_watch_params wp = vllm_watch_default_params();
    wp.every_s = 0;
    wp.change_threshold = 0;
    CHECK(vllm_session_watch(s, "Q?", &wp, record, r, &id) == VLLM_ERR_INVALID_ARG && strstr(vllm_last_error(), "every_s"),
          "never evaluated: %s", vllm_last_error());
    wp = vllm_watch_default_params();
    wp.change_threshold = 2;
    CHECK(vllm_session_watch(s, "Q?", &wp, record, r, &id) == VLLM_ERR_INVALID_ARG &&
              strstr(vllm_last_error(), "change_threshold"),
          "threshold 2: %s", vllm_last_error());
    wp = vllm_watch_default_params();
    wp.max_tokens = 0;
    CHECK(vllm_session_watch(s, "Q?", &wp, record, r, &id) == VLLM_ERR_INVALID_ARG, "max_tokens 0");
    CHECK(vllm_session_watch(s, "", NULL, record, r, &id) == VLLM_ERR_INVALID_ARG, "empty question");
    CHECK(vllm_session_watch(s, "Q?", NULL, NULL, r, &id) == VLLM_ERR_INVALID_ARG, "no callback");
    CHECK(vllm_session_unwatch(s, 12345) == VLLM_ERR_INVALID_ARG && strstr(vllm_last_error(), "12345"), "unknown id: %s",
          vllm_last_error());
    REQUIRE(vllm_session_watch(s, "Q?", NULL, record, r, &id) == VLLM_OK && id > 0, "%s", vllm_last_error());
    CHECK(vllm_session_unwatch(s, id) == VLLM_OK, "unwatch");
    CHECK(vllm_session_unwatch(s, id) == VLLM_ERR_INVALID_ARG, "a second unwatch");
    /* watches left on a session are freed with it (ASan) */
    REQUIRE(vllm_session_watch(s, "Still there?", NULL, record, r, &id) == VLLM_OK, "%s", vllm_last_error());
    vllm_session_free(s);
    free_recorder(r);
}

TEST_MAIN_BEGIN
    if (!lh_have_ffmpeg()) TEST_SKIP("no ffmpeg program (tools/install-deps installs it)");
    alarm(300);
    char tp[1024], mp[1024];
    fx_require_model("-text-F32.gguf", tp, sizeof tp);
    fx_require_model("-mmproj-F32.gguf", mp, sizeof mp);
    vllm_model_params mpar = vllm_model_default_params();
    mpar.mmproj_path = mp;
    mpar.vision_precision = VLLM_VISION_F32;
    vllm_model *m = NULL;
    REQUIRE(vllm_model_load(tp, &mpar, &m) == VLLM_OK, "%s", vllm_last_error());
    test_errors(m);

    /* the stream with watches */
    vllm_session *s = new_session(m);
    recorder *change = new_recorder(s), *period = new_recorder(s), *changes_only = new_recorder(s),
             *self_unwatch = new_recorder(s), *detacher = new_recorder(s);
    int32_t id;
    vllm_watch_params wp = vllm_watch_default_params();
    wp.every_s = 0; /* only the change signal */
    wp.change_threshold = 0.1f;
    wp.yes_no = 1;
    wp.notify_all = 1;
    REQUIRE(vllm_session_watch(s, "Did the scene change? Answer yes or no.", &wp, record, change, &id) == VLLM_OK, "%s",
            vllm_last_error());
    wp = vllm_watch_default_params();
    wp.every_s = 2;
    wp.change_threshold = 0;
    wp.max_tokens = 4;
    wp.notify_all = 1;
    REQUIRE(vllm_session_watch(s, "What is on screen?", &wp, record, period, &id) == VLLM_OK, "%s", vllm_last_error());
    wp.every_s = 0.5;
    wp.notify_all = 0;
    REQUIRE(vllm_session_watch(s, "Describe the colour.", &wp, record, changes_only, &id) == VLLM_OK, "%s",
            vllm_last_error());
    wp = vllm_watch_default_params();
    wp.yes_no = 1;
    wp.notify_all = 1;
    self_unwatch->unwatch_self = 1;
    REQUIRE(vllm_session_watch(s, "Is it dark?", &wp, record, self_unwatch, &id) == VLLM_OK, "%s", vllm_last_error());
    detacher->try_detach = 1;
    detacher->detach_status = VLLM_OK;
    REQUIRE(vllm_session_watch(s, "Is it light?", &wp, record, detacher, &id) == VLLM_OK, "%s", vllm_last_error());
    play(s);

    /* change-triggered: FIRST at 0 and CHANGE at the cut, nothing else */
    CHECK(change->n == 2, "the change watch was evaluated %d times, want 2 (first frame, scene change)", change->n);
    if (change->n >= 1)
        CHECK(change->ev[0].trigger == VLLM_WATCH_FIRST && change->ev[0].stream_seconds < 0.01 &&
                  change->ev[0].changed == 1,
              "first event: trigger %d at %.3f s", change->ev[0].trigger, change->ev[0].stream_seconds);
    if (change->n >= 2) {
        const vllm_watch_event *e = &change->ev[1];
        CHECK(e->trigger == VLLM_WATCH_CHANGE, "second event trigger %d", e->trigger);
        CHECK(e->stream_seconds >= 4.0 - 1e-6 && e->stream_seconds <= 4.5 + 1e-6,
              "the change was reported at %.3f s, want within one period (0.5 s) of 4.0 s", e->stream_seconds);
        CHECK(e->change > 0.3f, "change signal %.3f at the cut", e->change);
        CHECK(e->yes_probability >= 0 && e->yes_probability <= 1 &&
                  !strcmp(change->answer[1], e->yes_probability >= 0.5f ? "yes" : "no"),
              "p(yes) %.3f answer '%s'", e->yes_probability, change->answer[1]);
        CHECK(e->evaluations == 2 && e->eval_seconds > 0, "evaluations %lld, %.4f s", (long long)e->evaluations,
              e->eval_seconds);
    }
    /* periodic: 0, 2, 4, 6 s */
    CHECK(period->n == 4, "the periodic watch was evaluated %d times, want 4", period->n);
    for (int i = 0; i < period->n && i < 4; i++) {
        CHECK(fabs(period->ev[i].stream_seconds - 2.0 * i) < 1e-6, "periodic evaluation %d at %.3f s, want %.1f", i,
              period->ev[i].stream_seconds, 2.0 * i);
        CHECK(period->ev[i].trigger == (i ? VLLM_WATCH_PERIOD : VLLM_WATCH_FIRST), "trigger %d", period->ev[i].trigger);
        CHECK(period->ev[i].yes_probability == -1.0f, "a text watch has no p(yes)");
    }
    /* changes only */
    CHECK(changes_only->n >= 1, "no event at all from the changes-only watch");
    for (int i = 0; i < changes_only->n; i++)
        CHECK(changes_only->ev[i].changed == 1, "event %d has changed = 0 without notify_all", i);
    CHECK(self_unwatch->n == 1 && self_unwatch->unwatch_status == VLLM_OK, "self-unwatch: %d events, status %d",
          self_unwatch->n, self_unwatch->unwatch_status);
    CHECK(detacher->detach_status == VLLM_ERR_STATE, "detach from a callback: status %d", detacher->detach_status);
    vllm_session_stats with = {.struct_size = sizeof with};
    vllm_session_get_stats(s, &with);

    /* the same stream without watches: the same context */
    vllm_session *ref = new_session(m);
    play(ref);
    const int32_t *h1, *h2;
    size_t n1 = 0, n2 = 0;
    REQUIRE(vllm_session_history(s, &h1, &n1) == VLLM_OK && vllm_session_history(ref, &h2, &n2) == VLLM_OK, "history");
    CHECK(n1 == n2 && n1 > 0 && !memcmp(h1, h2, n1 * sizeof *h1), "the watches changed the context: %zu vs %zu positions",
          n1, n2);
    vllm_session_stats without = {.struct_size = sizeof without};
    vllm_session_get_stats(ref, &without);
    CHECK(with.n_frames_seen == without.n_frames_seen && with.n_past == without.n_past, "frames %lld/%lld, n_past %d/%d",
          (long long)with.n_frames_seen, (long long)without.n_frames_seen, with.n_past, without.n_past);

    vllm_session_free(ref);
    vllm_session_free(s);
    free_recorder(change);
    free_recorder(period);
    free_recorder(changes_only);
    free_recorder(self_unwatch);
    free_recorder(detacher);
    vllm_model_free(m);
TEST_MAIN_END
