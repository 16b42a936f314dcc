/* Live sources (vllm_session_attach_source) on real loopback streams made
 * by the ffmpeg CLI:
 *  1. a generated clip on a pipe: read to its end (ENDED), the fps rule
 *     takes the first frame of every 1/fps slot of stream time, every
 *     sampled frame is accounted for (kept + deduped + dropped), and the
 *     prompt's frames are labelled in stream time;
 *  2. UDP MPEG-TS: frames come in, a question asked from another thread
 *     mid-stream is answered while ingestion goes on; killing ffmpeg gives
 *     FAILED (no data) with a message; with reconnect on, a restarted
 *     ffmpeg is picked up again (frames kept grow, stream time goes on);
 *  3. HTTP (ffmpeg -listen 1): read until ffmpeg stops, then ENDED/FAILED;
 *  4. detach while the reader waits in a read that gets no data (a silent
 *     pipe; a UDP port nobody sends to) returns promptly;
 *  5. 100 attach/detach cycles leave no thread behind (and nothing leaked
 *     under ASan);
 *  6. a file still being written (chunks of an MPEG-TS clip appended by a
 *     thread) is followed to its last frame and ENDS only after the idle
 *     timeout; followed without end, a detach while waiting is prompt.
 * Every wait is bounded; alarm() ends the whole program if anything hangs.
 * Built also under ThreadSanitizer in CI. */
#define VLLM_EXPERIMENTAL
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fixture_set.h"
#include "harness.h"
#include "live_helpers.h"
#include "vllm/videollm.h"

static int kept_at_least(const vllm_source_stats *st, const void *arg) { return st->frames_kept >= *(const int64_t *)arg; }
static int in_state(const vllm_source_stats *st, const void *arg) { return st->state == *(const vllm_source_state *)arg; }
static int finished(const vllm_source_stats *st, const void *arg)
{
    (void)arg;
    return st->state == VLLM_SOURCE_ENDED || st->state == VLLM_SOURCE_FAILED;
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

/* testsrc2 at a small size and low rate, published in real time (-re). */
#define LAVFI_LIVE "testsrc2=size=64x48:rate=5"

static pid_t publish_udp(int port)
{
    char url[128];
    snprintf(url, sizeof url, "udp://127.0.0.1:%d?pkt_size=1316", port);
    const char *args[] = {"-re", "-f", "lavfi", "-i", LAVFI_LIVE, "-c:v", "mpeg2video", "-g", "5", "-f", "mpegts", url, NULL};
    return lh_ffmpeg(-1, args);
}

/* ---- 1. a clip on a pipe ------------------------------------------------------ */

static void test_pipe_clip(vllm_model *m)
{
    int fds[2];
    REQUIRE(pipe(fds) == 0, "pipe");
    /* 3 s at 4 fps = 12 frames at 0, 0.25, ... 2.75 s */
    const char *args[] = {"-f", "lavfi", "-i", "testsrc2=size=64x48:rate=4:duration=3", "-c:v", "mpeg2video", "-f", "mpegts",
                          "-", NULL};
    pid_t pid = lh_ffmpeg(fds[1], args);
    close(fds[1]);
    vllm_session *s = new_session(m);
    char url[32];
    snprintf(url, sizeof url, "pipe:%d", fds[0]);
    vllm_source_params p = vllm_source_default_params();
    p.fps = 2; /* slots of 0.5 s: frames at 0, 0.5, ... 2.5 s */
    REQUIRE(vllm_session_attach_source(s, url, &p) == VLLM_OK, "%s", vllm_last_error());
    CHECK(vllm_session_attach_source(s, url, &p) == VLLM_ERR_STATE, "a second attach must be refused");
    vllm_source_stats st;
    CHECK(lh_wait_source(s, finished, NULL, 60, &st), "the clip did not end in 60 s (state %d)", st.state);
    CHECK(st.state == VLLM_SOURCE_ENDED, "state %d (%s), want ENDED", st.state, st.message);
    CHECK(strstr(st.message, "ended") != NULL, "message '%s'", st.message);
    CHECK(st.frames_read == 12, "frames read %lld, want 12", (long long)st.frames_read);
    CHECK(st.frames_sampled == 6, "frames sampled %lld, want 6 (one per 0.5 s slot)", (long long)st.frames_sampled);
    CHECK(st.frames_kept + st.frames_deduped + st.frames_dropped + st.frames_failed == st.frames_sampled,
          "kept %lld + deduped %lld + dropped %lld + failed %lld != sampled %lld", (long long)st.frames_kept,
          (long long)st.frames_deduped, (long long)st.frames_dropped, (long long)st.frames_failed,
          (long long)st.frames_sampled);
    CHECK(st.frames_dropped == 0 && st.frames_queued == 0, "a pipe waits instead of dropping: dropped %lld queued %lld",
          (long long)st.frames_dropped, (long long)st.frames_queued);
    CHECK(st.stream_seconds > 2.7 && st.stream_seconds < 2.8, "stream time %.3f, want 2.75", st.stream_seconds);
    CHECK(st.ingested_seconds > 2.45 && st.ingested_seconds < 2.55, "ingested %.3f, want 2.5", st.ingested_seconds);
    vllm_session_stats ss = {.struct_size = sizeof ss};
    vllm_session_get_stats(s, &ss);
    CHECK(ss.n_frames_seen == 6, "the session saw %lld frames, want 6", (long long)ss.n_frames_seen);
    /* the prompt labels frames in stream time: the last one is "Frame from 00:02" */
    const int32_t *hist = NULL;
    size_t n = 0;
    CHECK(vllm_session_history(s, &hist, &n) == VLLM_OK && n > 0, "history");
    int32_t *ids = malloc(n * sizeof *ids);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (hist[i] >= 0) ids[k++] = hist[i];
    char *text = calloc(1, 1 << 20);
    size_t len = 0;
    CHECK(vllm_detokenize(m, ids, k, VLLM_DETOKENIZE_SPECIAL, text, (1 << 20) - 1, &len) == VLLM_OK, "detokenize");
    CHECK(strstr(text, "Frame from 00:00") && strstr(text, "Frame from 00:02") && !strstr(text, "Frame from 00:03"),
          "the prompt's frame labels are not in stream time: %.400s", text);
    free(ids);
    free(text);
    CHECK(vllm_session_detach_source(s) == VLLM_OK, "%s", vllm_last_error());
    vllm_session_get_stats(s, &ss);
    CHECK(vllm_session_source_stats(s, &st) == VLLM_OK && st.state == VLLM_SOURCE_NONE, "after detach: state %d",
          st.state);
    vllm_session_free(s);
    lh_stop(pid, SIGTERM);
    close(fds[0]);
}

/* ---- 2. UDP: ask mid-stream, kill, reconnect ------------------------------------ */

typedef struct asker {
    vllm_session *s;
    vllm_status st;
    atomic_int tokens;
    int64_t kept_before, kept_after, kept_later;
    int32_t tokens_per_frame;
    size_t visual_rows; /* visual positions in the context right after the answer */
} asker;

/* The first token's callback holds the answer open for 1.5 s (the answer
 * stays armed): frames the source reads meanwhile are encoded and queue. */
static int count_token(void *user, int32_t token, const char *piece, size_t len)
{
    (void)piece, (void)len;
    asker *a = user;
    if (token >= 0 && atomic_fetch_add(&a->tokens, 1) == 0) lh_nap(1.5);
    return 0;
}

static void *ask_thread(void *arg)
{
    asker *a = arg;
    vllm_source_stats st = {.struct_size = sizeof st};
    vllm_session_source_stats(a->s, &st);
    a->kept_before = st.frames_kept;
    vllm_generate_params gp = vllm_generate_default_params();
    gp.max_tokens = 12;
    gp.on_token = count_token;
    gp.user_data = a;
    a->st = vllm_session_generate(a->s, "What is happening in the stream?", &gp);
    vllm_session_source_stats(a->s, &st);
    a->kept_after = st.frames_kept;
    const int32_t *hist = NULL;
    size_t n = 0;
    if (vllm_session_history(a->s, &hist, &n) == VLLM_OK)
        for (size_t i = 0; i < n; i++) a->visual_rows += hist[i] < 0;
    vllm_session_source_stats(a->s, &st);
    a->kept_later = st.frames_kept;
    return NULL;
}

static void test_udp(vllm_model *m)
{
    const int port = lh_free_port(SOCK_DGRAM);
    REQUIRE(port > 0, "no free UDP port");
    char url[64];
    snprintf(url, sizeof url, "udp://127.0.0.1:%d", port);
    vllm_session *s = new_session(m);
    vllm_source_params p = vllm_source_default_params();
    p.fps = 2;
    p.io_timeout_s = 1.5;
    REQUIRE(vllm_session_attach_source(s, url, &p) == VLLM_OK, "%s", vllm_last_error());
    pid_t pid = publish_udp(port);
    vllm_source_stats st;
    int64_t want = 3;
    CHECK(lh_wait_source(s, kept_at_least, &want, 30, &st), "UDP: %lld frames kept after 30 s (state %d: %s)",
          (long long)st.frames_kept, st.state, st.message);
    CHECK(st.state == VLLM_SOURCE_READING, "state %d", st.state);

    /* a question from another thread while frames keep coming */
    vllm_model_info mi = {.struct_size = sizeof mi};
    vllm_model_get_info(m, &mi);
    asker a = {.s = s, .tokens_per_frame = mi.tokens_per_frame};
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, ask_thread, &a) == 0, "thread");
    pthread_join(t, NULL);
    CHECK(a.st == VLLM_OK, "the question failed: %s", vllm_session_last_error(s));
    CHECK(atomic_load(&a.tokens) > 0, "no tokens in the answer");
    /* ingestion went on during the answer, and what came meanwhile was in
     * the context as soon as it ended */
    CHECK(a.kept_after >= a.kept_before + 2, "frames kept during the answer: %lld -> %lld",
          (long long)a.kept_before, (long long)a.kept_after);
    CHECK(a.tokens_per_frame > 0 && (int64_t)a.visual_rows >= a.kept_after * a.tokens_per_frame &&
              (int64_t)a.visual_rows <= a.kept_later * a.tokens_per_frame,
          "visual positions after the answer %zu, want %lld..%lld frames x %d", a.visual_rows, (long long)a.kept_after,
          (long long)a.kept_later, a.tokens_per_frame);
    vllm_session_stats ss = {.struct_size = sizeof ss};
    vllm_session_get_stats(s, &ss);
    CHECK(ss.n_frames_dropped == 0, "%lld frames dropped by the answer queue", (long long)ss.n_frames_dropped);
    want = a.kept_after + 2;
    CHECK(lh_wait_source(s, kept_at_least, &want, 20, &st), "ingestion did not go on after the answer (kept %lld)",
          (long long)st.frames_kept);
    CHECK(st.lag_seconds >= 0 && st.max_lag_seconds < 30, "lag %.3f max %.3f", st.lag_seconds, st.max_lag_seconds);

    /* ffmpeg killed: no more data, the inactivity timeout says so */
    lh_stop(pid, SIGKILL);
    const double t0 = lh_now();
    CHECK(lh_wait_source(s, finished, NULL, 10, &st), "no end status 10 s after ffmpeg was killed (state %d)", st.state);
    CHECK(st.state == VLLM_SOURCE_FAILED && strstr(st.message, "timed out") &&
              strstr(st.message, "vllm_source_params.io_timeout_s"),
          "state %d, message '%s'", st.state,
          st.message);
    CHECK(lh_now() - t0 < 6, "the end took %.1f s with a 1.5 s timeout", lh_now() - t0);
    CHECK(vllm_session_detach_source(s) == VLLM_OK, "detach");

    /* with reconnect on, a restarted ffmpeg is picked up again */
    p.reconnect = 1;
    p.reconnect_max_delay_s = 0.5;
    p.io_timeout_s = 1.0;
    REQUIRE(vllm_session_attach_source(s, url, &p) == VLLM_OK, "%s", vllm_last_error());
    pid = publish_udp(port);
    want = st.frames_kept = 0;
    want = 2;
    CHECK(lh_wait_source(s, kept_at_least, &want, 30, &st), "reconnect run: %lld kept", (long long)st.frames_kept);
    lh_stop(pid, SIGKILL);
    const vllm_source_state reconnecting = VLLM_SOURCE_RECONNECTING;
    CHECK(lh_wait_source(s, in_state, &reconnecting, 10, &st), "not RECONNECTING after the kill (state %d: %s)", st.state,
          st.message);
    const int64_t kept = st.frames_kept;
    const double stream_before = st.stream_seconds;
    lh_nap(0.5);
    pid = publish_udp(port);
    want = kept + 3;
    CHECK(lh_wait_source(s, kept_at_least, &want, 30, &st), "after the restart: kept %lld, was %lld (state %d: %s)",
          (long long)st.frames_kept, (long long)kept, st.state, st.message);
    CHECK(st.state == VLLM_SOURCE_READING && st.reconnects >= 1, "state %d, reconnects %lld", st.state,
          (long long)st.reconnects);
    CHECK(st.stream_seconds > stream_before, "stream time went from %.3f to %.3f", stream_before, st.stream_seconds);
    const double t1 = lh_now();
    CHECK(vllm_session_detach_source(s) == VLLM_OK, "detach");
    CHECK(lh_now() - t1 < 2, "detach took %.2f s", lh_now() - t1);
    lh_stop(pid, SIGKILL);
    vllm_session_free(s);
}

/* ---- 3. HTTP served by ffmpeg -listen 1 ---------------------------------------- */

static void test_http(vllm_model *m)
{
    const int port = lh_free_port(SOCK_STREAM);
    REQUIRE(port > 0, "no free TCP port");
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/live.ts", port);
    const char *args[] = {"-re", "-f", "lavfi", "-i", LAVFI_LIVE, "-c:v", "mpeg2video", "-g", "5", "-f", "mpegts",
                          "-listen", "1", url, NULL};
    pid_t pid = lh_ffmpeg(-1, args);
    const double t0 = lh_now();
    while (!lh_tcp_listening(port) && lh_now() - t0 < 20) lh_nap(0.02);
    REQUIRE(lh_tcp_listening(port), "ffmpeg did not listen on port %d within 20 s", port);
    vllm_session *s = new_session(m);
    vllm_source_params p = vllm_source_default_params();
    p.fps = 2;
    REQUIRE(vllm_session_attach_source(s, url, &p) == VLLM_OK, "%s", vllm_last_error());
    vllm_source_stats st;
    int64_t want = 3;
    CHECK(lh_wait_source(s, kept_at_least, &want, 30, &st), "HTTP: %lld kept (state %d: %s)", (long long)st.frames_kept,
          st.state, st.message);
    lh_stop(pid, SIGTERM); /* ffmpeg ends the stream and closes the connection */
    CHECK(lh_wait_source(s, finished, NULL, 15, &st), "no end status after ffmpeg stopped (state %d)", st.state);
    CHECK((st.state == VLLM_SOURCE_ENDED || st.state == VLLM_SOURCE_FAILED) && st.message[0], "state %d message '%s'",
          st.state, st.message);
    CHECK(st.frames_queued == 0, "ended with %lld frames still queued", (long long)st.frames_queued);
    CHECK(vllm_session_detach_source(s) == VLLM_OK, "detach");
    vllm_session_free(s);
}

/* ---- 6. a file still being written ------------------------------------------- */

typedef struct file_writer {
    const char *path;
    const uint8_t *data;
    size_t size, done; /* bytes written before the thread starts */
    int chunks;
    vllm_session *s;
    int64_t read_before_last; /* frames the source had read when the last chunk was about to be written */
    double t_done;            /* wall clock when the last chunk was written */
} file_writer;

/* Append the rest of the clip in `chunks` pieces, 0.25 s apart. */
static void *write_chunks(void *arg)
{
    file_writer *w = arg;
    FILE *f = fopen(w->path, "ab");
    REQUIRE(f, "open %s for appending", w->path);
    const size_t piece = (w->size - w->done + (size_t)w->chunks - 1) / (size_t)w->chunks;
    while (w->done < w->size) {
        lh_nap(0.25);
        const size_t n = w->size - w->done < piece ? w->size - w->done : piece;
        if (w->done + n == w->size) {
            vllm_source_stats st = {.struct_size = sizeof st};
            vllm_session_source_stats(w->s, &st);
            w->read_before_last = st.frames_read;
        }
        REQUIRE(fwrite(w->data + w->done, 1, n, f) == n && fflush(f) == 0, "append to %s", w->path);
        w->done += n;
    }
    fclose(f);
    w->t_done = lh_now();
    return NULL;
}

static uint8_t *read_whole(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    REQUIRE(f, "open %s", path);
    uint8_t *data = malloc(1 << 20);
    *size = fread(data, 1, 1 << 20, f);
    fclose(f);
    REQUIRE(*size > 0 && *size < (1 << 20), "%s: %zu bytes", path, *size);
    return data;
}

static void test_growing_file(vllm_model *m)
{
    char dir[] = "/tmp/vllm-growing-XXXXXX", clip[64], grow[64], cmd[512];
    REQUIRE(mkdtemp(dir), "mkdtemp");
    snprintf(clip, sizeof clip, "%s/clip.ts", dir);
    snprintf(grow, sizeof grow, "%s/growing.ts", dir);
    /* 12 s at 4 fps = 48 frames (probing takes the first 5 s of stream); -g 4: a keyframe every second */
    snprintf(cmd, sizeof cmd,
             "ffmpeg -hide_banner -loglevel error -nostdin -y -f lavfi -i testsrc2=size=64x48:rate=4:duration=12 "
             "-c:v mpeg2video -g 4 -f mpegts %s", clip);
    REQUIRE(system(cmd) == 0, "%s", cmd);
    file_writer w = {.path = grow, .chunks = 12};
    uint8_t *data = read_whole(clip, &w.size);
    w.data = data;
    w.done = w.size / 8; /* 1.5 s of stream is there when the source is attached; the rest comes over 3 s */
    FILE *f = fopen(grow, "wb");
    REQUIRE(f && fwrite(data, 1, w.done, f) == w.done && fclose(f) == 0, "write %s", grow);

    vllm_session *s = new_session(m);
    w.s = s;
    vllm_source_params p = vllm_source_default_params();
    p.io_timeout_s = 1.0; /* ended after 1 s without growth */
    REQUIRE(vllm_session_attach_source(s, grow, &p) == VLLM_OK, "%s", vllm_last_error());
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, write_chunks, &w) == 0, "writer thread");
    vllm_source_stats st;
    const int ended = lh_wait_source(s, finished, NULL, 60, &st);
    const double t_end = lh_now();
    pthread_join(th, NULL);
    CHECK(ended && st.state == VLLM_SOURCE_ENDED, "state %d (%s), want ENDED", st.state, st.message);
    CHECK(st.frames_read == 48, "frames read %lld, want all 48 (the file was not followed as it grew)",
          (long long)st.frames_read);
    CHECK(w.read_before_last > 0 && w.read_before_last < 48,
          "frames read before the last chunk was written: %lld, want some (read while it grows)",
          (long long)w.read_before_last);
    CHECK(t_end - w.t_done >= 0.9, "ENDED %.2f s after the last write, before the 1 s idle timeout", t_end - w.t_done);
    CHECK(st.frames_kept + st.frames_deduped + st.frames_dropped + st.frames_failed == st.frames_sampled,
          "frames not accounted for: kept %lld deduped %lld dropped %lld failed %lld sampled %lld",
          (long long)st.frames_kept, (long long)st.frames_deduped, (long long)st.frames_dropped,
          (long long)st.frames_failed, (long long)st.frames_sampled);
    CHECK(vllm_session_detach_source(s) == VLLM_OK, "%s", vllm_last_error());

    /* followed without end (io_timeout_s < 0): a detach while the reader waits at the end is prompt */
    p.io_timeout_s = -1;
    REQUIRE(vllm_session_attach_source(s, grow, &p) == VLLM_OK, "%s", vllm_last_error());
    /* the last frames stay in the demuxer and decoder until more data (or the end) comes: wait until the
     * count stops moving, most of the clip in */
    int64_t last = -1;
    st.frames_read = 0;
    for (double t0 = lh_now(); lh_now() - t0 < 30 && (st.frames_read < 40 || st.frames_read != last); lh_nap(0.5)) {
        last = st.frames_read;
        vllm_session_source_stats(s, &st);
    }
    CHECK(st.frames_read >= 40 && st.frames_read == last, "frames read %lld (before %lld), want a still count >= 40",
          (long long)st.frames_read, (long long)last);
    lh_nap(0.5); /* well into the wait at the end */
    vllm_session_source_stats(s, &st);
    CHECK(st.state == VLLM_SOURCE_READING, "a followed file must not end: state %d (%s)", st.state, st.message);
    const double t0 = lh_now();
    CHECK(vllm_session_detach_source(s) == VLLM_OK, "%s", vllm_last_error());
    const double took = lh_now() - t0;
    CHECK(took < 0.5, "detach while waiting at the end of a file took %.3f s", took);
    vllm_session_free(s);
    free(data);
    unlink(clip);
    unlink(grow);
    rmdir(dir);
}

/* ---- 4./5. prompt detach, and many attach/detach cycles ------------------------- */

static void test_detach_and_cycles(vllm_model *m)
{
    vllm_session *s = new_session(m);
    int fds[2];
    REQUIRE(pipe(fds) == 0, "pipe");
    char url[32];
    snprintf(url, sizeof url, "pipe:%d", fds[0]);
    REQUIRE(vllm_session_attach_source(s, url, NULL) == VLLM_OK, "%s", vllm_last_error());
    lh_nap(0.3); /* the reader now waits for bytes that never come */
    double t0 = lh_now();
    CHECK(vllm_session_detach_source(s) == VLLM_OK, "detach");
    CHECK(lh_now() - t0 < 1.0, "detach from a silent pipe took %.2f s", lh_now() - t0);

    const int port = lh_free_port(SOCK_DGRAM);
    char udp[64];
    snprintf(udp, sizeof udp, "udp://127.0.0.1:%d", port);
    const int threads0 = lh_threads();
    t0 = lh_now();
    for (int i = 0; i < 100; i++) {
        REQUIRE(vllm_session_attach_source(s, i % 2 ? udp : url, NULL) == VLLM_OK, "cycle %d: %s", i, vllm_last_error());
        if (i % 10 == 0) lh_nap(0.05); /* some cycles reach the blocking read */
        REQUIRE(vllm_session_detach_source(s) == VLLM_OK, "cycle %d", i);
    }
    CHECK(lh_now() - t0 < 30, "100 cycles took %.1f s", lh_now() - t0);
    CHECK(lh_threads() == threads0, "threads: %d before the cycles, %d after", threads0, lh_threads());
    /* a session freed with a source attached stops it too */
    REQUIRE(vllm_session_attach_source(s, udp, NULL) == VLLM_OK, "%s", vllm_last_error());
    lh_nap(0.1);
    vllm_session_free(s);
    CHECK(lh_threads() == threads0 - 1 || lh_threads() <= threads0, "threads after free: %d", lh_threads());
    close(fds[0]);
    close(fds[1]);
}

static void test_errors(vllm_model *m)
{
    vllm_session *s = new_session(m);
    vllm_source_params p = vllm_source_default_params();
    p.fps = -1;
    CHECK(vllm_session_attach_source(s, "udp://127.0.0.1:9", &p) == VLLM_ERR_INVALID_ARG && strstr(vllm_last_error(), "fps"),
          "fps -1: %s", vllm_last_error());
    p = vllm_source_default_params();
    p.queue_frames = 0;
    CHECK(vllm_session_attach_source(s, "udp://127.0.0.1:9", &p) == VLLM_ERR_INVALID_ARG, "queue 0");
    CHECK(vllm_session_attach_source(s, "pipe:x", NULL) == VLLM_ERR_INVALID_ARG && strstr(vllm_last_error(), "pipe:x"),
          "pipe:x: %s", vllm_last_error());
    CHECK(vllm_session_attach_source(s, "", NULL) == VLLM_ERR_INVALID_ARG, "empty url");
    /* a file that does not exist: FAILED with its name */
    REQUIRE(vllm_session_attach_source(s, "/nonexistent/clip.ts", NULL) == VLLM_OK, "%s", vllm_last_error());
    vllm_source_stats st;
    CHECK(lh_wait_source(s, finished, NULL, 10, &st) && st.state == VLLM_SOURCE_FAILED &&
              strstr(st.message, "/nonexistent/clip.ts"),
          "state %d message '%s'", st.state, st.message);
    vllm_session_detach_source(s);
    vllm_session_free(s);
}

TEST_MAIN_BEGIN
    if (!lh_have_ffmpeg()) TEST_SKIP("no ffmpeg program (tools/install-deps installs it)");
    alarm(240); /* nothing may hang CI: the whole program is bounded */
    char tp[1024], mp[1024];
    fx_require_model("-text-F32.gguf", tp, sizeof tp);
    fx_require_model("-mmproj-F32.gguf", mp, sizeof mp);
    vllm_model_params mpar = vllm_model_default_params();
    mpar.mmproj_path = mp;
    mpar.vision_precision = VLLM_VISION_F32;
    vllm_model *m = NULL;
    REQUIRE(vllm_model_load(tp, &mpar, &m) == VLLM_OK, "%s", vllm_last_error());
    const char *only = getenv("LIVE_TEST");
    if (!only || !strcmp(only, "errors")) test_errors(m);
    if (!only || !strcmp(only, "pipe")) test_pipe_clip(m);
    if (!only || !strcmp(only, "udp")) test_udp(m);
    if (!only || !strcmp(only, "http")) test_http(m);
    if (!only || !strcmp(only, "cycles")) test_detach_and_cycles(m);
    if (!only || !strcmp(only, "growing")) test_growing_file(m);
    vllm_model_free(m);
TEST_MAIN_END
