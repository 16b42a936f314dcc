/* FFmpeg's log lines go through vllm_set_log_callback, rate-limited, and
 * the library's own decode warnings come once per damaged spot with times
 * in seconds:
 *  - a damaged clip decoded twice (GOP-parallel with its sequential
 *    fallback, then a second pass) with a callback installed and stderr
 *    captured through dup2: nothing reaches stderr, the callback gets
 *    libav's lines (at most 10 a second plus "suppressed" summaries), no
 *    warning of ours twice, times in seconds within the clip;
 *  - av_log directly: a burst of 1000 lines gives 10 plus one summary; a
 *    line printed in two pieces arrives as one; levels are mapped. */
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libavutil/log.h>

#include "decode/av_log.h"
#include "decode/video.h"
#include "harness.h"
#include "video_gen.h"
#include "vllm/videollm.h"

#define MAX_LINES 4096

typedef struct record {
    pthread_mutex_t mu;
    char *line[MAX_LINES];
    vllm_log_level level[MAX_LINES];
    int n;
} record;

static record R = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void on_log(void *user, vllm_log_level level, const char *msg)
{
    record *r = user;
    pthread_mutex_lock(&r->mu);
    if (r->n < MAX_LINES) {
        r->level[r->n] = level;
        r->line[r->n++] = strdup(msg);
    }
    pthread_mutex_unlock(&r->mu);
}

static void record_clear(record *r)
{
    for (int i = 0; i < r->n; i++) free(r->line[i]);
    r->n = 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int starts(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

/* A 10 s clip with garbage written over 40 spots of its media data (the
 * index, at the front, stays intact). */
static void make_damaged_clip(const char *path)
{
    char err[256] = "";
    const int x264 = vg_have_encoder("libx264");
    vg_params p = {.path = path, .codec = x264 ? "libx264" : "mpeg4", .width = 128, .height = 96, .n_frames = 250,
                   .fps_num = 25, .fps_den = 1, .gop = 25, .pattern = VG_MOTION, .faststart = 1};
    REQUIRE(vg_write(&p, err, sizeof err) == 0, "%s", err);
    FILE *f = fopen(path, "r+b");
    REQUIRE(f, "reopen %s", path);
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    unsigned seed = 1;
    for (int k = 0; k < 40; k++) {
        seed = seed * 1103515245u + 12345u;
        long at = sz / 3 + (long)(seed % (unsigned)(sz / 2));
        fseek(f, at, SEEK_SET);
        for (int i = 0; i < 64; i++) {
            seed = seed * 1103515245u + 12345u;
            fputc((int)(seed >> 16) & 255, f);
        }
    }
    fclose(f);
}

static int decode_passes(const char *path)
{
    vl_video *v = NULL;
    REQUIRE(vl_video_open(path, &v) == VLLM_OK, "open damaged clip: %s", vl_error_message());
    int frames = 0;
    for (int pass = 0; pass < 2; pass++) {
        vl_sampling s = vl_sampling_default(); /* fps rule: GOP-parallel workers, sequential fallback */
        s.out_width = 32;
        s.out_height = 24;
        REQUIRE(vl_video_sample_begin(v, &s) == VLLM_OK, "begin: %s", vl_error_message());
        vl_rgb_frame f;
        vllm_status st;
        while ((st = vl_video_sample_next(v, &f)) == VLLM_OK) frames++;
        CHECK(st == VLLM_DONE, "pass %d ended with %s (%s)", pass, vllm_status_string(st), vl_error_message());
    }
    vl_video_close(v);
    return frames;
}

static void test_damaged_clip(const char *dir)
{
    char clip[512], errpath[512];
    snprintf(clip, sizeof clip, "%s/damaged.mp4", dir);
    snprintf(errpath, sizeof errpath, "%s/stderr.txt", dir);
    make_damaged_clip(clip);

    vllm_set_log_callback(on_log, &R, VLLM_LOG_WARN);
    fflush(stderr);
    int saved = dup(2), cap = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    REQUIRE(saved >= 0 && cap >= 0 && dup2(cap, 2) == 2, "redirect stderr");
    close(cap);
    const double t0 = now_s();
    int frames = decode_passes(clip);
    const double elapsed = now_s() - t0;
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    vllm_set_log_callback(NULL, NULL, VLLM_LOG_WARN);

    struct stat sb;
    CHECK(stat(errpath, &sb) == 0 && sb.st_size == 0, "%lld bytes reached stderr with a log callback installed",
          (long long)sb.st_size);
    if (sb.st_size > 0) {
        char head[512] = "";
        FILE *f = fopen(errpath, "r");
        if (f) {
            size_t k = fread(head, 1, sizeof head - 1, f);
            head[k] = 0;
            fclose(f);
        }
        fprintf(stderr, "stderr began with:\n%s\n", head);
    }

    int libav = 0, summaries = 0, ours = 0, dup = 0, bad_time = 0, ticks = 0;
    for (int i = 0; i < R.n; i++) {
        const char *l = R.line[i];
        if (starts(l, "libav: ") && strstr(l, "more line")) summaries++;
        else if (starts(l, "libav")) libav++;
        else if (starts(l, "video: ")) {
            ours++;
            for (int j = 0; j < i; j++) dup += !strcmp(R.line[j], l);
            if (strstr(l, "pts ")) ticks++;
            const char *at = strstr(l, " at ");
            if (!at) at = strstr(l, " near ");
            double t;
            if (at && sscanf(strchr(at + 1, ' ') + 1, "%lf s", &t) == 1 && !(t >= 0.0 && t <= 10.5)) bad_time++;
        }
    }
    fprintf(stderr, "damaged clip: %d frames in %.2f s; %d libav lines, %d summaries, %d of ours\n", frames, elapsed,
            libav, summaries, ours);
    CHECK(frames > 0, "no frame survived");
    CHECK(libav > 0, "the callback got none of libav's lines");
    CHECK(libav <= VL_AV_LOG_MAX_PER_SEC * ((int)ceil(elapsed) + 1), "%d libav lines in %.2f s", libav, elapsed);
    CHECK(summaries >= 1, "no \"suppressed\" summary");
    CHECK(ours > 0 && ours <= 16 + 3, "%d warnings of ours (at most 16 spots listed, then a summary)", ours);
    CHECK(dup == 0, "%d warnings of ours repeated", dup);
    CHECK(ticks == 0 && bad_time == 0, "%d warnings in time-base ticks, %d times outside the clip", ticks, bad_time);
    for (int i = 0; i < R.n && (dup || ticks || bad_time); i++) fprintf(stderr, "  %s\n", R.line[i]);
    record_clear(&R);
}

static void test_av_log_direct(void)
{
    vl_av_log_install();
    vllm_set_log_callback(on_log, &R, VLLM_LOG_DEBUG);
    usleep(1100000); /* a fresh one-second window */
    vl_av_log_flush();
    record_clear(&R);
    for (int i = 0; i < 1000; i++) av_log(NULL, AV_LOG_ERROR, "burst line %d\n", i);
    vl_av_log_flush();
    int burst = 0, summary = 0;
    for (int i = 0; i < R.n; i++) {
        burst += starts(R.line[i], "libav: burst line");
        summary += strstr(R.line[i], "990 more lines suppressed") != NULL;
    }
    CHECK(burst == VL_AV_LOG_MAX_PER_SEC && summary == 1 && R.n == burst + 1, "burst of 1000: %d passed, %d summaries, %d lines",
          burst, summary, R.n);
    CHECK(R.n > 0 && R.level[0] == VLLM_LOG_WARN, "libav error mapped to level %d", R.n ? (int)R.level[0] : -1);
    record_clear(&R);

    usleep(1100000);
    av_log(NULL, AV_LOG_WARNING, "first half, ");
    av_log(NULL, AV_LOG_WARNING, "second half\n");
    av_log(NULL, AV_LOG_VERBOSE, "too chatty\n");
    CHECK(R.n == 1 && !strcmp(R.line[0], "libav: first half, second half") && R.level[0] == VLLM_LOG_INFO,
          "pieced line: %d lines, '%s'", R.n, R.n ? R.line[0] : "");
    record_clear(&R);
    vllm_set_log_callback(on_log, &R, VLLM_LOG_WARN);
    av_log(NULL, AV_LOG_WARNING, "below the application's level\n");
    CHECK(R.n == 0, "a libav warning reached a WARN-level callback");
    vllm_set_log_callback(NULL, NULL, VLLM_LOG_WARN);
    record_clear(&R);
}

TEST_MAIN_BEGIN
    char dir[] = "/tmp/vllm_video_log_XXXXXX";
    REQUIRE(mkdtemp(dir), "mkdtemp");
    test_damaged_clip(dir);
    test_av_log_direct();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "note: could not remove %s\n", dir);
TEST_MAIN_END
