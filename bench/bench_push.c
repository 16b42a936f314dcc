/* push_frame from another thread while an answer is generated (issue 12
 * item 4): how long a push takes, and how long until its frame is in the
 * context, judged against limits measured in the same run:
 *
 *   token_ms        one generated token, no pushes (the longest the session
 *                   lock is held per token: a push should wait at most that)
 *   encode_ms       one frame encoded on the pushing thread while an answer
 *                   is armed, without contention (the work a push must do)
 *   push_*_ms       push_frame duration during answers (pusher thread, one
 *                   frame every --interval-ms, default 33.3 = 30 fps)
 *   push_minus_encode_*_ms  each push's duration less its own encoder time
 *                   (stats.encode_seconds grew by it): the lock waits plus
 *                   pixel conversion and resizing; limit: token_ms
 *   frame_to_context_*_ms  from a push's start to the moment its frame is
 *                   in the context (frames pushed during an answer enter as
 *                   it ends, before generate() returns); limit: answer_ms
 *
 *   bench_push -m TEXT.gguf --mmproj MMPROJ.gguf [-c N_CTX] [-t THREADS]
 *              [--answers N] [--tokens T] [--interval-ms MS] [--size WxH]
 *
 * Prints key=value lines. Frame pixels are a moving gradient (no dedup). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_common.h"
#include "vllm/videollm.h"

#define MAX_PUSHES 4096

typedef struct run {
    vllm_session *s;
    int w, h;
    double interval_s;
    atomic_int answering, stop;
    int n; /* pushes recorded */
    double start[MAX_PUSHES], end[MAX_PUSHES];
    double encoded[MAX_PUSHES]; /* this push's encoder time (stats.encode_seconds grew by it) */
    int during[MAX_PUSHES]; /* began and ended while the answer ran */
    int frame_no;
} run;

static void paint(uint8_t *rgb, int w, int h, int i)
{
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = rgb + ((size_t)y * w + x) * 3;
            p[0] = (uint8_t)(x + 3 * i);
            p[1] = (uint8_t)(y * 2 + i);
            p[2] = (uint8_t)((x ^ y) + 7 * i);
        }
}

static int push(vllm_session *s, uint8_t *rgb, int w, int h, int i)
{
    paint(rgb, w, h, i);
    vllm_frame f = {.struct_size = sizeof f, .format = VLLM_PIXFMT_RGB24, .width = w, .height = h, .pts = i * 0.5};
    f.planes[0] = rgb;
    f.strides[0] = w * 3;
    return vllm_session_push_frame(s, &f);
}

static double encode_seconds(vllm_session *s)
{
    vllm_session_stats st = {.struct_size = sizeof st};
    vllm_session_get_stats(s, &st);
    return st.encode_seconds;
}

static void *pusher(void *p)
{
    run *r = p;
    uint8_t *rgb = malloc((size_t)r->w * r->h * 3);
    while (!atomic_load(&r->answering) && !atomic_load(&r->stop)) {
        struct timespec ts = {0, 50000};
        nanosleep(&ts, NULL);
    }
    while (!atomic_load(&r->stop) && r->n < MAX_PUSHES) {
        const double e0 = encode_seconds(r->s); /* only this thread encodes during an answer */
        const double t0 = vl_bench_now();
        const int was = atomic_load(&r->answering);
        if (push(r->s, rgb, r->w, r->h, r->frame_no++)) {
            fprintf(stderr, "bench_push: push: %s\n", vllm_last_error());
            break;
        }
        const double t1 = vl_bench_now();
        r->start[r->n] = t0;
        r->end[r->n] = t1;
        r->encoded[r->n] = encode_seconds(r->s) - e0;
        r->during[r->n] = was && atomic_load(&r->answering);
        r->n++;
        double left = r->interval_s - (vl_bench_now() - t0);
        if (left > 0) {
            struct timespec ts = {(time_t)left, (long)((left - (time_t)left) * 1e9)};
            nanosleep(&ts, NULL);
        }
    }
    free(rgb);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static vllm_session_stats stats(vllm_session *s)
{
    vllm_session_stats st = {.struct_size = sizeof st};
    vllm_session_get_stats(s, &st);
    return st;
}

int main(int argc, char **argv)
{
    const char *text = NULL, *mmproj = NULL;
    int n_ctx = 4096, threads = 0, w = 320, h = 240, answers = 5, tokens = 64;
    double interval_ms = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-m")) text = argv[i + 1];
        else if (!strcmp(argv[i], "--mmproj")) mmproj = argv[i + 1];
        else if (!strcmp(argv[i], "-c")) n_ctx = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-t")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--answers")) answers = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--tokens")) tokens = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--interval-ms")) interval_ms = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--size")) sscanf(argv[i + 1], "%dx%d", &w, &h);
    }
    if (!text || !mmproj || answers < 1 || tokens < 1 || w < 2 || h < 2) {
        fprintf(stderr, "usage: bench_push -m TEXT.gguf --mmproj MMPROJ.gguf [-c N_CTX] [-t THREADS] [--answers N] "
                        "[--tokens T] [--interval-ms MS] [--size WxH]\n");
        return 2;
    }
    vllm_model_params mp = vllm_model_default_params();
    mp.mmproj_path = mmproj;
    vllm_model *m = NULL;
    vllm_session_params sp = vllm_session_default_params();
    sp.n_ctx = n_ctx;
    sp.n_threads = threads;
    vllm_session *s = NULL;
    if (vllm_model_load(text, &mp, &m) || vllm_session_create(m, &sp, &s)) {
        fprintf(stderr, "bench_push: %s\n", vllm_last_error());
        return 1;
    }
    uint8_t *rgb = malloc((size_t)w * h * 3);
    int frame_no = 0;
    for (int i = 0; i < 4; i++) push(s, rgb, w, h, frame_no++);
    vllm_generate_params gp = vllm_generate_default_params();
    gp.max_tokens = tokens;
    gp.temperature = 0.8f; /* random weights: sampling keeps EOG from ending answers at once */

    /* limit 1: one token, no pushes */
    vllm_session_stats a = stats(s);
    if (vllm_session_generate(s, "Describe it.", &gp)) {
        fprintf(stderr, "bench_push: %s\n", vllm_session_last_error(s));
        return 1;
    }
    vllm_session_stats b = stats(s);
    const double token_ms = 1e3 * (b.generate_seconds - a.generate_seconds) /
                            (double)(b.n_generated_tokens - a.n_generated_tokens > 0 ? b.n_generated_tokens - a.n_generated_tokens : 1);

    /* limit 2: encoding on the pushing thread, uncontended (answer armed, nobody generating) */
    double encode_ms = 1e30;
    gp.max_tokens = 2;
    vllm_session_query(s, "And?", &gp);
    vllm_session_next_token(s, NULL, NULL, NULL);
    for (int i = 0; i < 5; i++) {
        const double t0 = vl_bench_now();
        push(s, rgb, w, h, frame_no++);
        const double dt = 1e3 * (vl_bench_now() - t0);
        if (dt < encode_ms) encode_ms = dt;
    }
    while (vllm_session_next_token(s, NULL, NULL, NULL) == VLLM_OK) {}

    /* the measurement: a pusher thread during answers */
    gp.max_tokens = tokens;
    run *r = calloc(1, sizeof *r);
    r->s = s, r->w = w, r->h = h, r->frame_no = 100000;
    r->interval_s = (interval_ms > 0 ? interval_ms : 33.3) / 1e3; /* default: a 30 fps camera */
    pthread_t th;
    pthread_create(&th, NULL, pusher, r);
    double answer_ms_max = 0, ftc_worst = 0, ftc_sum = 0;
    int n_ftc = 0, answer_tokens = 0;
    for (int q = 0; q < answers; q++) {
        const int first = r->n;
        const double t0 = vl_bench_now();
        const int64_t g0 = stats(s).n_generated_tokens;
        atomic_store(&r->answering, 1);
        vllm_status st = vllm_session_generate(s, "What is happening now?", &gp);
        const double t1 = vl_bench_now();
        atomic_store(&r->answering, 0);
        if (vllm_is_error(st)) {
            fprintf(stderr, "bench_push: %s\n", vllm_session_last_error(s));
            break;
        }
        answer_tokens += (int)(stats(s).n_generated_tokens - g0);
        if (1e3 * (t1 - t0) > answer_ms_max) answer_ms_max = 1e3 * (t1 - t0);
        /* frames pushed during the answer were in the context when generate returned */
        for (int i = first; i < r->n; i++)
            if (r->during[i] && r->start[i] >= t0 && r->end[i] <= t1) {
                const double ms = 1e3 * (t1 - r->start[i]);
                ftc_sum += ms;
                n_ftc++;
                if (ms > ftc_worst) ftc_worst = ms;
            }
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL); /* idle pushes between answers */
    }
    atomic_store(&r->stop, 1);
    pthread_join(th, NULL);
    double *lat = malloc(sizeof(double) * (r->n + 1)), *rest = malloc(sizeof(double) * (r->n + 1));
    int k = 0;
    for (int i = 0; i < r->n; i++)
        if (r->during[i]) {
            lat[k] = 1e3 * (r->end[i] - r->start[i]);
            rest[k++] = 1e3 * (r->end[i] - r->start[i] - r->encoded[i]);
        }
    qsort(lat, (size_t)k, sizeof *lat, cmp_double);
    qsort(rest, (size_t)k, sizeof *rest, cmp_double);
    const double worst = k ? lat[k - 1] : 0, median = k ? lat[k / 2] : 0;
    const double rest_worst = k ? rest[k - 1] : 0, rest_median = k ? rest[k / 2] : 0;
    const vllm_session_stats end = stats(s);
    printf("n_ctx=%d threads=%d frame=%dx%d answers=%d tokens_per_answer=%.1f pushes_during_answers=%d dropped=%lld\n",
           end.n_ctx, threads, w, h, answers, answer_tokens / (double)answers, k, (long long)end.n_frames_dropped);
    printf("token_ms=%.3f encode_ms=%.3f answer_ms_max=%.1f\n", token_ms, encode_ms, answer_ms_max);
    printf("push_median_ms=%.3f push_worst_ms=%.3f\n", median, worst);
    /* a push's time outside the encoder: lock waits plus pixel conversion and resizing */
    printf("push_minus_encode_median_ms=%.3f push_minus_encode_worst_ms=%.3f limit_ms=%.3f (token_ms) within_limit=%d\n",
           rest_median, rest_worst, token_ms, rest_worst <= token_ms);
    printf("frame_to_context_mean_ms=%.1f frame_to_context_worst_ms=%.1f limit_ms=%.1f (answer_ms_max)\n",
           n_ftc ? ftc_sum / n_ftc : 0, ftc_worst, answer_ms_max);
    free(lat);
    free(rest);
    free(r);
    free(rgb);
    vllm_session_free(s);
    vllm_model_free(m);
    return 0;
}
