/* Statistics calls answer while a frame is being encoded.
 *
 * An idle session encodes a pushed frame on the pushing thread with the
 * session lock held (session_stream.c). vllm_session_get_stats and
 * vllm_session_source_stats must not wait for that: a host polling them
 * for a progress line would freeze for a whole encode. The frame here is
 * made slow on purpose (a large YUV420 frame: conversion, dedup signature
 * and resize), the push's own duration is measured and must exceed the
 * bound the stats calls are held to, and the stats calls are made while
 * the push is known (by timestamps) to be in flight. */
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

#define SIDE 8192          /* the frame's width and height */
#define STATS_BOUND_S 0.3  /* a stats call may take at most this long */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct pusher {
    vllm_session *s;
    vllm_frame f;
    vllm_status st;
    atomic_int started;
    double t_start, t_end;
} pusher;

static void *push_main(void *arg)
{
    pusher *p = arg;
    p->t_start = now_s();
    atomic_store(&p->started, 1);
    p->st = vllm_session_push_frame(p->s, &p->f);
    p->t_end = now_s();
    return NULL;
}

TEST_MAIN_BEGIN
    char tp[1024], mp[1024];
    fx_require_model("-text-F32.gguf", tp, sizeof tp);
    fx_require_model("-mmproj-F32.gguf", mp, sizeof mp);
    vllm_model_params mpar = vllm_model_default_params();
    mpar.mmproj_path = mp;
    vllm_model *m = NULL;
    REQUIRE(vllm_model_load(tp, &mpar, &m) == VLLM_OK, "%s", vllm_last_error());
    vllm_session_params sp = vllm_session_default_params();
    sp.n_threads = 1;
    vllm_session *s = NULL;
    REQUIRE(vllm_session_create(m, &sp, &s) == VLLM_OK, "%s", vllm_last_error());

    /* a noisy YUV420 frame (no two rows alike, so nothing is cheap) */
    const size_t luma = (size_t)SIDE * SIDE, chroma = luma / 4;
    uint8_t *yuv = malloc(luma + 2 * chroma);
    REQUIRE(yuv, "out of memory");
    uint32_t x = 12345;
    for (size_t i = 0; i < luma + 2 * chroma; i++) {
        x = x * 1664525u + 1013904223u;
        yuv[i] = (uint8_t)(x >> 24);
    }
    pusher p = {.s = s};
    p.f.struct_size = sizeof p.f;
    p.f.format = VLLM_PIXFMT_YUV420P;
    p.f.width = p.f.height = SIDE;
    p.f.planes[0] = yuv;
    p.f.planes[1] = yuv + luma;
    p.f.planes[2] = yuv + luma + chroma;
    p.f.strides[0] = SIDE;
    p.f.strides[1] = p.f.strides[2] = SIDE / 2;
    p.f.pts = 0;
    atomic_init(&p.started, 0);

    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, push_main, &p) == 0, "thread");
    while (!atomic_load(&p.started)) sched_yield();
    struct timespec nap = {0, 50 * 1000 * 1000};
    struct timespec first = {0, 10 * 1000 * 1000};
    nanosleep(&first, NULL); /* the push is converting/encoding by now (checked below by the timestamps) */
    double worst_session = 0, worst_source = 0, t_first = 0;
    int calls = 0;
    vllm_session_stats ss = {.struct_size = sizeof ss};
    for (int i = 0; i < 5; i++) {
        double t0 = now_s();
        CHECK(vllm_session_get_stats(s, &ss) == VLLM_OK, "%s", vllm_last_error());
        double t1 = now_s();
        vllm_source_stats so = {.struct_size = sizeof so};
        CHECK(vllm_session_source_stats(s, &so) == VLLM_OK, "%s", vllm_last_error());
        double t2 = now_s();
        if (t1 - t0 > worst_session) worst_session = t1 - t0;
        if (t2 - t1 > worst_source) worst_source = t2 - t1;
        if (!t_first) t_first = t0;
        calls++;
        nanosleep(&nap, NULL);
    }
    pthread_join(th, NULL);
    CHECK(p.st == VLLM_OK, "push: %s", vllm_last_error());
    const double push_s = p.t_end - p.t_start;
    printf("push %.3f s; %d stats calls during it: get_stats worst %.4f s, source_stats worst %.4f s (bound %.2f s)\n",
           push_s, calls, worst_session, worst_source, STATS_BOUND_S);
    /* the setup: the first stats call was made while the push ran, with more than the bound (and a
     * margin) of the push still to go: a call waiting for the push would have taken that long. The
     * frame is the largest a push takes (VL_VIDEO_MAX_PIXELS); a machine converting it faster than
     * that cannot tell a waiting call from a prompt one, and says so. */
    REQUIRE(t_first > p.t_start && t_first < p.t_end, "the first stats call (%.3f s after the push began) was not "
            "made during the push (%.3f s)", t_first - p.t_start, push_s);
    if (p.t_end - t_first < STATS_BOUND_S + 0.1) {
        free(yuv);
        vllm_session_free(s);
        vllm_model_free(m);
        TEST_SKIP("the push ran only %.3f s after the first stats call: too fast here to test the bound", p.t_end - t_first);
    }
    CHECK(worst_session < STATS_BOUND_S, "vllm_session_get_stats took %.3f s during a frame encode", worst_session);
    CHECK(worst_source < STATS_BOUND_S, "vllm_session_source_stats took %.3f s during a frame encode", worst_source);
    /* and the numbers after the push are the push's */
    CHECK(vllm_session_get_stats(s, &ss) == VLLM_OK && ss.n_frames_seen == 1 && ss.n_frames_encoded == 1,
          "after the push: seen %lld encoded %lld, want 1 and 1", (long long)ss.n_frames_seen,
          (long long)ss.n_frames_encoded);
    free(yuv);
    vllm_session_free(s);
    vllm_model_free(m);
TEST_MAIN_END
