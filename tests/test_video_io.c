/* Network sources that stall: push_video over HTTP from a loopback server
 * this test runs itself (127.0.0.1, an ephemeral port, every wait bounded
 * so the program ends within seconds even when the library does not give
 * up by itself).
 *  - a server that accepts and never replies: io_timeout_s = 1 ends the
 *    push with VLLM_ERR_IO naming the URL and saying it timed out;
 *  - the same stall with no timeout, cancelled from another thread:
 *    VLLM_ERR_CANCELLED shortly after the cancel;
 *  - a server that sends half the clip, then nothing: a timeout, not the
 *    frames read so far passed off as a truncated clip;
 *  - a slow but steady server (a chunk every 0.25 s, 2+ s in all) with
 *    io_timeout_s = 1: the timeout is one of inactivity, the push succeeds;
 *  - bad io_timeout_s values are refused, naming the field. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fixture_set.h"
#include "harness.h"
#include "video_gen.h"
#include "vllm/videollm.h"

#define HOLD_S 6.0 /* longest a server keeps a connection: bounds the test on a library that never gives up */

enum { SRV_STALL, SRV_HALF_THEN_STALL, SRV_SLOW };

typedef struct server {
    int mode;
    int listen_fd, port;
    const uint8_t *body;
    size_t body_len;
    pthread_t thread;
    atomic_int accepted, stop;
} server;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Wait up to `ms` for fd to be readable; 1 readable, 0 not (or stop). */
static int wait_readable(server *sv, int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return !atomic_load(&sv->stop) && poll(&p, 1, ms) > 0;
}

/* Keep the connection open, reading (and dropping) whatever the client sends,
 * until told to stop or HOLD_S has passed. */
static void hold(server *sv, int fd)
{
    const double end = now_s() + HOLD_S;
    char buf[1024];
    while (now_s() < end && !atomic_load(&sv->stop))
        if (wait_readable(sv, fd, 50) && read(fd, buf, sizeof buf) <= 0) break;
}

static int send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t k = send(fd, c, n, MSG_NOSIGNAL);
        if (k <= 0) return -1;
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Reads one request head; returns the first byte of a "Range: bytes=N-" or 0. */
static size_t read_request(server *sv, int fd, int *ok)
{
    char req[4096];
    size_t n = 0;
    *ok = 0;
    const double end = now_s() + HOLD_S;
    while (n + 1 < sizeof req && now_s() < end) {
        if (!wait_readable(sv, fd, 50)) continue;
        ssize_t k = read(fd, req + n, sizeof req - 1 - n);
        if (k <= 0) return 0;
        n += (size_t)k;
        req[n] = 0;
        if (strstr(req, "\r\n\r\n")) {
            *ok = 1;
            const char *r = strstr(req, "Range: bytes=");
            return r ? (size_t)strtoull(r + 13, NULL, 10) : 0;
        }
    }
    return 0;
}

static void serve(server *sv, int fd)
{
    if (sv->mode == SRV_STALL) {
        hold(sv, fd);
        return;
    }
    int ok;
    size_t from = read_request(sv, fd, &ok);
    if (!ok) return;
    if (from > sv->body_len) from = sv->body_len;
    char head[256];
    int hn = snprintf(head, sizeof head,
                      "HTTP/1.1 %s\r\nContent-Type: video/mp4\r\nAccept-Ranges: bytes\r\nContent-Length: %zu\r\n"
                      "Content-Range: bytes %zu-%zu/%zu\r\nConnection: close\r\n\r\n",
                      from ? "206 Partial Content" : "200 OK", sv->body_len - from, from, sv->body_len - 1,
                      sv->body_len);
    if (send_all(fd, head, (size_t)hn)) return;
    if (sv->mode == SRV_HALF_THEN_STALL) {
        size_t half = sv->body_len / 2;
        if (from < half && send_all(fd, sv->body + from, half - from)) return;
        hold(sv, fd);
        return;
    }
    /* SRV_SLOW: 8 chunks, 0.25 s apart */
    size_t left = sv->body_len - from, chunk = sv->body_len / 8 + 1;
    while (left && !atomic_load(&sv->stop)) {
        size_t k = left < chunk ? left : chunk;
        if (send_all(fd, sv->body + sv->body_len - left, k)) return;
        left -= k;
        if (left) usleep(250000);
    }
}

static void *server_main(void *arg)
{
    server *sv = arg;
    const double end = now_s() + 4 * HOLD_S;
    while (!atomic_load(&sv->stop) && now_s() < end) {
        if (!wait_readable(sv, sv->listen_fd, 50)) continue;
        int fd = accept(sv->listen_fd, NULL, NULL);
        if (fd < 0) continue;
        atomic_fetch_add(&sv->accepted, 1);
        serve(sv, fd);
        close(fd);
    }
    return NULL;
}

static void server_start(server *sv, int mode, const uint8_t *body, size_t len)
{
    memset(sv, 0, sizeof *sv);
    sv->mode = mode;
    sv->body = body;
    sv->body_len = len;
    sv->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(sv->listen_fd >= 0, "socket: %s", strerror(errno));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    REQUIRE(bind(sv->listen_fd, (struct sockaddr *)&a, sizeof a) == 0 && listen(sv->listen_fd, 8) == 0 &&
                getsockname(sv->listen_fd, (struct sockaddr *)&a, &al) == 0,
            "loopback listen: %s", strerror(errno));
    sv->port = ntohs(a.sin_port);
    REQUIRE(pthread_create(&sv->thread, NULL, server_main, sv) == 0, "server thread");
}

static void server_stop(server *sv)
{
    atomic_store(&sv->stop, 1);
    pthread_join(sv->thread, NULL);
    close(sv->listen_fd);
}

static vllm_model *load(void)
{
    char text[4400], mmproj[4400];
    fx_require_model("-text-F32.gguf", text, sizeof text);
    fx_require_model("-mmproj-F32.gguf", mmproj, sizeof mmproj);
    vllm_model_params mp = vllm_model_default_params();
    mp.mmproj_path = mmproj;
    vllm_model *m = NULL;
    REQUIRE(vllm_model_load(text, &mp, &m) == VLLM_OK, "%s", vllm_last_error());
    return m;
}

static vllm_session *make(vllm_model *m)
{
    vllm_session_params sp = vllm_session_default_params();
    sp.n_ctx = 1024;
    sp.n_threads = 2;
    vllm_session *s = NULL;
    REQUIRE(vllm_session_create(m, &sp, &s) == VLLM_OK, "%s", vllm_last_error());
    return s;
}

static vllm_video_params vparams(double timeout)
{
    vllm_video_params vp = vllm_video_default_params();
    vp.io_timeout_s = timeout;
    return vp;
}

static void url_of(const server *sv, char *url, size_t n)
{
    snprintf(url, n, "http://127.0.0.1:%d/clip.mp4", sv->port);
}

static void test_stall_times_out(vllm_model *m)
{
    server sv;
    server_start(&sv, SRV_STALL, NULL, 0);
    char url[128];
    url_of(&sv, url, sizeof url);
    vllm_session *s = make(m);
    vllm_video_params vp = vparams(1.0);
    const double t0 = now_s();
    vllm_status st = vllm_session_push_video(s, url, &vp);
    const double dt = now_s() - t0;
    const char *msg = vllm_session_last_error(s);
    CHECK(st == VLLM_ERR_IO, "stalled server: %s (%s)", vllm_status_string(st), msg);
    CHECK(strstr(msg, url) && strstr(msg, "timed out") && strstr(msg, " 1 s"),
          "the message names the URL and the timeout: %s", msg);
    CHECK(dt >= 0.9 && dt < 3.0, "gave up after %.2f s with io_timeout_s = 1", dt);
    CHECK(atomic_load(&sv.accepted) >= 1, "the library never connected");
    server_stop(&sv);
    vllm_session_free(s);
}

typedef struct canceller {
    vllm_session *s;
    server *sv;
    double cancelled_at;
} canceller;

static void *cancel_main(void *arg)
{
    canceller *c = arg;
    const double end = now_s() + HOLD_S;
    while (!atomic_load(&c->sv->accepted) && now_s() < end) usleep(10000);
    usleep(200000); /* the request is sent and the reader waits */
    c->cancelled_at = now_s();
    vllm_session_cancel(c->s);
    return NULL;
}

static void test_stall_cancelled(vllm_model *m)
{
    server sv;
    server_start(&sv, SRV_STALL, NULL, 0);
    char url[128];
    url_of(&sv, url, sizeof url);
    vllm_session *s = make(m);
    vllm_video_params vp = vparams(-1.0); /* no timeout: only the cancel can end it */
    canceller c = {.s = s, .sv = &sv};
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, cancel_main, &c) == 0, "cancel thread");
    vllm_status st = vllm_session_push_video(s, url, &vp);
    const double t_end = now_s();
    pthread_join(th, NULL);
    CHECK(st == VLLM_ERR_CANCELLED, "cancelled stall: %s (%s)", vllm_status_string(st), vllm_session_last_error(s));
    CHECK(c.cancelled_at > 0 && t_end - c.cancelled_at < 1.0, "push_video returned %.2f s after the cancel",
          t_end - c.cancelled_at);
    /* the session is usable afterwards */
    vllm_video_params bad = vparams(0.0 / 0.0);
    CHECK(vllm_session_push_video(s, url, &bad) == VLLM_ERR_INVALID_ARG &&
              strstr(vllm_session_last_error(s), "io_timeout_s"),
          "NaN io_timeout_s: %s", vllm_session_last_error(s));
    bad = vparams(1e300);
    CHECK(vllm_session_push_video(s, url, &bad) == VLLM_ERR_INVALID_ARG, "io_timeout_s 1e300 accepted");
    server_stop(&sv);
    vllm_session_free(s);
}

static uint8_t *make_clip(size_t *len)
{
    char path[] = "/tmp/vllm_video_io_XXXXXX.mp4";
    int fd = mkstemps(path, 4);
    REQUIRE(fd >= 0, "mkstemps");
    close(fd);
    char err[256] = "";
    vg_params p = {.path = path, .width = 64, .height = 48, .n_frames = 60, .fps_num = 20, .fps_den = 1, .gop = 10,
                   .pattern = VG_ID, .faststart = 1};
    REQUIRE(vg_write(&p, err, sizeof err) == 0, "%s", err);
    FILE *f = fopen(path, "rb");
    REQUIRE(f, "reopen clip");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n);
    REQUIRE(buf && fread(buf, 1, (size_t)n, f) == (size_t)n, "read clip");
    fclose(f);
    unlink(path);
    *len = (size_t)n;
    return buf;
}

static void test_half_then_stall(vllm_model *m, const uint8_t *clip, size_t len)
{
    server sv;
    server_start(&sv, SRV_HALF_THEN_STALL, clip, len);
    char url[128];
    url_of(&sv, url, sizeof url);
    vllm_session *s = make(m);
    vllm_video_params vp = vparams(1.0);
    const double t0 = now_s();
    vllm_status st = vllm_session_push_video(s, url, &vp);
    const double dt = now_s() - t0;
    CHECK(st == VLLM_ERR_IO && strstr(vllm_session_last_error(s), "timed out"),
          "stall after half the clip: %s (%s)", vllm_status_string(st), vllm_session_last_error(s));
    CHECK(dt < 4.0, "gave up after %.2f s", dt);
    server_stop(&sv);
    vllm_session_free(s);
}

static void test_slow_but_steady(vllm_model *m, const uint8_t *clip, size_t len)
{
    server sv;
    server_start(&sv, SRV_SLOW, clip, len);
    char url[128];
    url_of(&sv, url, sizeof url);
    vllm_session *s = make(m);
    vllm_video_params vp = vparams(1.0);
    const double t0 = now_s();
    vllm_status st = vllm_session_push_video(s, url, &vp);
    const double dt = now_s() - t0;
    vllm_session_stats ss;
    memset(&ss, 0, sizeof ss);
    ss.struct_size = sizeof ss;
    vllm_session_get_stats(s, &ss);
    CHECK(st == VLLM_OK, "slow server (%.2f s): %s", dt, vllm_session_last_error(s));
    CHECK(dt > 1.5, "the slow server took only %.2f s: the test does not exercise the inactivity rule", dt);
    CHECK(ss.n_frames_seen == 3, "3 s clip at 1 fps: %lld frames", (long long)ss.n_frames_seen);
    server_stop(&sv);
    vllm_session_free(s);
}

TEST_MAIN_BEGIN
    alarm(60); /* last resort: never hang the suite */
    vllm_model *m = load();
    test_stall_times_out(m);
    test_stall_cancelled(m);
    size_t len = 0;
    uint8_t *clip = make_clip(&len);
    test_half_then_stall(m, clip, len);
    test_slow_but_steady(m, clip, len);
    free(clip);
    vllm_model_free(m);
TEST_MAIN_END
