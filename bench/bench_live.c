/* A live source over a long run (issue 16, acceptance 3): the session reads
 * --url by itself (vllm_session_attach_source) at --fps, with a text watch
 * evaluated every --every seconds of stream time, for --seconds of wall
 * time. Every --sample seconds one line records memory and ingestion:
 *
 *   t=  rss_mib=  n_past=  evicted=  stream_s=  ingested_s=  lag_s=  kept=  dropped=  queued=
 *
 * and the summary compares each figure with its limit from the same run:
 *
 *   rss_after_fill_mib / rss_end_mib / rss_max_after_fill_mib
 *                       resident memory when the context window first filled
 *                       (the first eviction), at the end, and the most in
 *                       between: flat memory means end ~ fill
 *   encode_ms_per_frame vs frame_interval_ms: ingestion keeps up while one
 *                       frame's encoding (plus its prefill) is below the interval
 *   lag_max_s           the longest a sampled frame waited from being read to
 *                       being in the session, vs the queue's span
 *                       (queue_frames x frame interval): above it frames drop
 *   unaccounted_frames  sampled - (kept + deduped + dropped + failed + queued):
 *                       must be 0 (no frame lost that is not counted)
 *   watch_eval_ms_mean / _max, watch_evaluations: the cost of one evaluation
 *                       (prefill of the question + max_tokens decoding steps)
 *
 *   bench_live -m TEXT.gguf --mmproj MMPROJ.gguf --url URL [--seconds S] [--fps F]
 *              [--every S] [--sample S] [-c N_CTX] [-t THREADS] [--tokens N]
 */
#define VLLM_EXPERIMENTAL
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vllm/videollm.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static double rss_mib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, resident = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        fclose(f);
    }
    return (double)resident * (double)sysconf(_SC_PAGESIZE) / (1 << 20);
}

typedef struct evals {
    pthread_mutex_t mu;
    int n;
    double sum, max;
} evals;

static void on_event(void *user, const vllm_watch_event *e)
{
    evals *ev = user;
    pthread_mutex_lock(&ev->mu);
    ev->n++;
    ev->sum += e->eval_seconds;
    if (e->eval_seconds > ev->max) ev->max = e->eval_seconds;
    pthread_mutex_unlock(&ev->mu);
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_live -m TEXT.gguf --mmproj MMPROJ.gguf --url URL [--seconds S] [--fps F] [--every S] "
                    "[--sample S] [-c N_CTX] [-t THREADS] [--tokens N]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *text = NULL, *mmproj = NULL, *url = NULL;
    double seconds = 1800, every = 10, sample = 10;
    float fps = 1;
    int n_ctx = 0, threads = 0, tokens = 16;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) usage();
        if (!strcmp(a, "-m")) text = v;
        else if (!strcmp(a, "--mmproj")) mmproj = v;
        else if (!strcmp(a, "--url")) url = v;
        else if (!strcmp(a, "--seconds")) seconds = atof(v);
        else if (!strcmp(a, "--fps")) fps = (float)atof(v);
        else if (!strcmp(a, "--every")) every = atof(v);
        else if (!strcmp(a, "--sample")) sample = atof(v);
        else if (!strcmp(a, "-c")) n_ctx = atoi(v);
        else if (!strcmp(a, "-t")) threads = atoi(v);
        else if (!strcmp(a, "--tokens")) tokens = atoi(v);
        else usage();
        i++;
    }
    if (!text || !mmproj || !url || !(seconds > 0) || !(fps > 0) || !(sample > 0)) usage();

    vllm_model_params mp = vllm_model_default_params();
    mp.mmproj_path = mmproj;
    vllm_model *m = NULL;
    if (vllm_model_load(text, &mp, &m)) {
        fprintf(stderr, "bench_live: %s\n", vllm_last_error());
        return 1;
    }
    vllm_session_params sp = vllm_session_default_params();
    sp.n_ctx = n_ctx;
    sp.n_threads = threads;
    vllm_session *s = NULL;
    if (vllm_session_create(m, &sp, &s)) {
        fprintf(stderr, "bench_live: %s\n", vllm_last_error());
        return 1;
    }
    evals ev = {.n = 0};
    pthread_mutex_init(&ev.mu, NULL);
    vllm_watch_params wp = vllm_watch_default_params();
    wp.every_s = every;
    wp.change_threshold = 0;
    wp.max_tokens = tokens;
    wp.notify_all = 1;
    int32_t wid = 0;
    vllm_source_params src = vllm_source_default_params();
    src.fps = fps;
    if (vllm_session_watch(s, "What is happening now?", &wp, on_event, &ev, &wid) ||
        vllm_session_attach_source(s, url, &src)) {
        fprintf(stderr, "bench_live: %s\n", vllm_last_error());
        return 1;
    }
    printf("loadavg_start=%s", "");
    fflush(stdout);
    if (system("cut -d' ' -f1-3 /proc/loadavg | tr ' ' ,")) {}
    const double t0 = now();
    double next = t0 + sample, rss_fill = -1, rss_max_after_fill = 0, lag_max = 0;
    vllm_source_stats st = {.struct_size = sizeof st};
    vllm_session_stats ss = {.struct_size = sizeof ss};
    for (;;) {
        struct timespec nap = {0, 50 * 1000 * 1000};
        nanosleep(&nap, NULL);
        vllm_session_source_stats(s, &st);
        const double t = now();
        const int done = t - t0 >= seconds || st.state == VLLM_SOURCE_ENDED || st.state == VLLM_SOURCE_FAILED;
        /* the session's own stats wait for its lock, which an idle push
         * holds while it encodes a frame: read them at sample times only */
        if (t >= next || done) vllm_session_get_stats(s, &ss);
        const double rss = rss_mib();
        if (rss_fill < 0 && ss.n_frames_evicted > 0) rss_fill = rss;
        if (rss_fill >= 0 && rss > rss_max_after_fill) rss_max_after_fill = rss;
        if (st.max_lag_seconds > lag_max) lag_max = st.max_lag_seconds;
        if (t >= next || done) {
            printf("t=%.0f rss_mib=%.1f n_past=%d evicted=%lld stream_s=%.1f ingested_s=%.1f lag_s=%.2f kept=%lld "
                   "dropped=%lld queued=%lld\n",
                   t - t0, rss, ss.n_past, (long long)ss.n_frames_evicted, st.stream_seconds, st.ingested_seconds,
                   st.lag_seconds, (long long)st.frames_kept, (long long)st.frames_dropped, (long long)st.frames_queued);
            fflush(stdout);
            next += sample;
        }
        if (done) break;
    }
    if (st.state == VLLM_SOURCE_FAILED) fprintf(stderr, "bench_live: the source failed: %s\n", st.message);
    vllm_session_detach_source(s);
    vllm_session_get_stats(s, &ss);
    const double interval_ms = 1000.0 / fps;
    const long long unaccounted = st.frames_sampled - (st.frames_kept + st.frames_deduped + st.frames_dropped +
                                                        st.frames_failed + st.frames_queued);
    printf("summary seconds=%.0f source_state=%d stream_seconds=%.1f frames_read=%lld frames_sampled=%lld kept=%lld deduped=%lld "
           "dropped=%lld failed=%lld queued_at_end=%lld unaccounted_frames=%lld evicted=%lld n_ctx=%d\n",
           now() - t0, st.state, st.stream_seconds, (long long)st.frames_read, (long long)st.frames_sampled, (long long)st.frames_kept,
           (long long)st.frames_deduped, (long long)st.frames_dropped, (long long)st.frames_failed,
           (long long)st.frames_queued, unaccounted, (long long)ss.n_frames_evicted, ss.n_ctx);
    printf("memory rss_after_fill_mib=%.1f rss_max_after_fill_mib=%.1f rss_end_mib=%.1f peak_rss_mib=%.1f\n", rss_fill,
           rss_max_after_fill, rss_mib(), ss.peak_rss_bytes / 1048576.0);
    printf("ingest encode_ms_per_frame=%.1f frame_interval_ms=%.1f media_prefill_ms_per_frame=%.1f lag_max_s=%.2f "
           "queue_span_s=%.1f\n",
           ss.n_frames_encoded ? 1e3 * ss.encode_seconds / ss.n_frames_encoded : 0, interval_ms,
           ss.n_frames_encoded ? 1e3 * ss.media_prefill_seconds / ss.n_frames_encoded : 0, lag_max,
           src.queue_frames * interval_ms / 1000);
    pthread_mutex_lock(&ev.mu);
    printf("watch watch_evaluations=%d watch_eval_ms_mean=%.1f watch_eval_ms_max=%.1f every_s=%.0f tokens=%d "
           "frame_interval_ms=%.1f\n",
           ev.n, ev.n ? 1e3 * ev.sum / ev.n : 0, 1e3 * ev.max, every, tokens, interval_ms);
    pthread_mutex_unlock(&ev.mu);
    printf("loadavg_end=");
    fflush(stdout);
    if (system("cut -d' ' -f1-3 /proc/loadavg | tr ' ' ,")) {}
    vllm_session_free(s);
    vllm_model_free(m);
    pthread_mutex_destroy(&ev.mu);
    return unaccounted == 0 ? 0 : 1;
}
