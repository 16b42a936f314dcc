/* bench_video [-t THREADS] [-r REPEATS] [-m MODE,...] FILE...: frames/s
 * delivered by the decode module, each mode in its own child process so
 * peak memory (ru_maxrss) and CPU time are per mode:
 *   fps1      SmolVLM2-style fps=1 rule without the 64-frame cap (one frame
 *             per second, as `-vf fps=1` gives), native size RGB24
 *   fps1_one  the same frames, one seeking iterator (no GOP-parallel threads)
 *   fps1_seq  the same frames with seeking disabled (decodes every frame)
 *   ffps1     VL_SAMPLE_FFMPEG_FPS at fps=1: exactly the ffmpeg pipe's
 *             frames (seeking on constant-rate streams with an index)
 *   ffps1_one the same on one seeking iterator
 *   ffps1_seq the same with seeking disabled (every frame fed to the selector)
 *   uniform8  8 uniform frames
 *   all       every frame decoded and converted to RGB (the decode ceiling)
 *   ffmpeg    `ffmpeg -i X -vf fps=1 -f rawvideo -pix_fmt rgb24 pipe:` at
 *             native size (llama.cpp's way), when the binary is in PATH
 * One line per mode: file, mode, frames, seconds, frames/s, decoded
 * frames, seeks, GOP-parallel decoder threads (0: one iterator with
 * libavcodec's own threads), peak RSS MB, CPU seconds (user + system, the
 * ffmpeg process's included), and the speed-ups over the ffmpeg pipe in
 * wall time and in CPU time. The seeking modes run GOP-parallel (the
 * default); *_one modes use a single seeking iterator for comparison.
 *   -t N  decoder threads for both sides: vl_video_set_threads(N) here and
 *         `-threads N` for ffmpeg (default 0: each side's own default, one
 *         per core here, ffmpeg's auto). On a shared machine the same
 *         count keeps the scheduler from favouring the side with more
 *         threads.
 *   -r R  run the modes R times in turn (ffmpeg, fps1, ..., ffmpeg, fps1,
 *         ...) and keep each mode's fastest run, so a burst of load from
 *         other processes hits both sides alike (default 1).
 *   -m    only these modes (comma-separated; ffmpeg is always run first). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_common.h"
#include "decode/video.h"

typedef struct result {
    long long frames, decoded, seeks, drains;
    int workers;
    double secs;
    double child_rss_mb; /* ffmpeg mode: the ffmpeg process's own peak */
    double cpu;          /* user + system seconds of the mode's process (and its children) */
    int ok;
} result;

static int g_threads; /* -t */

static void run_mode(const char *path, const char *mode, result *r)
{
    vl_video *v;
    if (vl_video_open(path, &v) != VLLM_OK || (g_threads > 0 && vl_video_set_threads(v, g_threads) != VLLM_OK)) {
        fprintf(stderr, "bench_video: %s\n", vl_error_message());
        if (v) vl_video_close(v);
        return;
    }
    vl_sampling s = vl_sampling_default();
    if (strstr(mode, "_seq")) vl_video_set_decode_mode(v, 1);
    if (strstr(mode, "_one")) vl_video_set_decode_mode(v, 2);
    if (!strncmp(mode, "fps1", 4)) {
        s.max_frames = 1000000;
    } else if (!strncmp(mode, "ffps1", 5)) {
        s.policy = VL_SAMPLE_FFMPEG_FPS;
        s.max_frames = 0;
    } else if (!strcmp(mode, "uniform8")) {
        s.policy = VL_SAMPLE_UNIFORM;
        s.n_frames = 8;
    } else {
        s.policy = VL_SAMPLE_ALL;
        s.max_frames = 0;
    }
    double t0 = vl_bench_now();
    if (vl_video_sample_begin(v, &s) == VLLM_OK) {
        vl_rgb_frame f;
        vllm_status st;
        while ((st = vl_video_sample_next(v, &f)) == VLLM_OK) r->frames++;
        r->ok = st == VLLM_DONE;
    }
    r->secs = vl_bench_now() - t0;
    vl_video_stats stats;
    vl_video_get_stats(v, &stats);
    r->decoded = stats.frames_decoded;
    r->seeks = stats.seeks;
    r->drains = stats.drains;
    r->workers = stats.workers;
    vl_video_close(v);
}

static int have_ffmpeg(void) { return system("command -v ffmpeg >/dev/null 2>&1") == 0; }

static void run_ffmpeg(const char *path, result *r)
{
    const vl_video_info *in;
    vl_video *v;
    if (vl_video_open(path, &v) != VLLM_OK) return;
    in = vl_video_get_info(v);
    size_t frame = (size_t)in->coded_width * in->coded_height * 3;
    vl_video_close(v);
    char cmd[4200], threads[32] = "";
    if (g_threads > 0) snprintf(threads, sizeof threads, "-threads %d ", g_threads);
    snprintf(cmd, sizeof cmd, "ffmpeg -nostdin -loglevel error %s-i '%s' -vf fps=1 -f rawvideo -pix_fmt rgb24 pipe:",
             threads, path);
    double t0 = vl_bench_now();
    FILE *p = popen(cmd, "r");
    if (!p) return;
    static char buf[1 << 20];
    size_t n, total = 0;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) total += n;
    r->ok = pclose(p) == 0;
    r->secs = vl_bench_now() - t0;
    struct rusage ru;
    if (getrusage(RUSAGE_CHILDREN, &ru) == 0) r->child_rss_mb = ru.ru_maxrss / 1024.0;
    r->frames = (long long)(total / frame);
}

/* Run one mode in a child; its rusage gives the peak RSS of that mode alone. */
static int measure(const char *path, const char *mode, result *r, double *rss_mb)
{
    int fd[2];
    if (pipe(fd) != 0) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        result cr = {0};
        if (!strcmp(mode, "ffmpeg")) run_ffmpeg(path, &cr);
        else run_mode(path, mode, &cr);
        ssize_t w = write(fd[1], &cr, sizeof cr);
        _exit(w == (ssize_t)sizeof cr ? 0 : 1);
    }
    close(fd[1]);
    ssize_t got = read(fd[0], r, sizeof *r);
    close(fd[0]);
    int status;
    struct rusage ru;
    wait4(pid, &status, 0, &ru);
    *rss_mb = ru.ru_maxrss / 1024.0;
    /* the child's usage includes the ffmpeg process it waited for */
    r->cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
             ru.ru_stime.tv_usec * 1e-6;
    if (r->child_rss_mb > *rss_mb) *rss_mb = r->child_rss_mb; /* ffmpeg's own peak */
    return got == (ssize_t)sizeof *r ? 0 : -1;
}

static int wanted(const char *list, const char *mode)
{
    if (!list || !strcmp(mode, "ffmpeg")) return 1;
    size_t n = strlen(mode);
    for (const char *p = list; (p = strstr(p, mode)); p += n)
        if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == 0)) return 1;
    return 0;
}

int main(int argc, char **argv)
{
    int repeats = 1, opt;
    const char *only = NULL;
    while ((opt = getopt(argc, argv, "t:r:m:")) != -1) {
        if (opt == 't') g_threads = atoi(optarg);
        else if (opt == 'r') repeats = atoi(optarg);
        else if (opt == 'm') only = optarg;
        else break;
    }
    if (optind >= argc || opt == '?' || g_threads < 0 || g_threads > 64 || repeats < 1 || repeats > 100) {
        fprintf(stderr, "usage: bench_video [-t THREADS 0..64] [-r REPEATS 1..100] [-m MODE,...] FILE...\n");
        return 2;
    }
    int ff = have_ffmpeg();
    if (!ff) printf("# ffmpeg not found: the ffmpeg-pipe comparison is skipped\n");
    printf("# threads=%d (0: each side's default) repeats=%d (fastest run of each mode kept)\n", g_threads, repeats);
    printf("# file mode frames seconds frames_per_s decoded seeks threads peak_rss_mb cpu_s speedup_vs_ffmpeg "
           "cpu_speedup_vs_ffmpeg\n");
    static const char *modes[] = {"ffmpeg", "fps1", "fps1_one", "fps1_seq", "ffps1", "ffps1_one", "ffps1_seq", "uniform8", "all"};
    enum { N_MODES = (int)(sizeof modes / sizeof *modes) };
    for (int a = optind; a < argc; a++) {
        result best[N_MODES];
        double best_rss[N_MODES];
        int have[N_MODES] = {0};
        for (int rep = 0; rep < repeats; rep++)
            for (int m = ff ? 0 : 1; m < N_MODES; m++) {
                if (!wanted(only, modes[m])) continue;
                result r = {0};
                double rss = 0;
                if (measure(argv[a], modes[m], &r, &rss) != 0 || !r.ok) {
                    printf("%s %s failed\n", argv[a], modes[m]);
                    continue;
                }
                if (!have[m] || r.secs < best[m].secs) best[m] = r;
                if (!have[m] || rss > best_rss[m]) best_rss[m] = rss;
                have[m] = 1;
            }
        for (int m = 0; m < N_MODES; m++) {
            if (!have[m]) continue;
            const result *r = &best[m];
            double fps = r->secs > 0 ? r->frames / r->secs : 0;
            printf("%s %s %lld %.3f %.1f %lld %lld %d %.1f %.2f", argv[a], modes[m], r->frames, r->secs, fps,
                   r->decoded, r->seeks, r->workers, best_rss[m], r->cpu);
            if (have[0] && m > 0 && r->secs > 0 && r->cpu > 0 && r->frames > 0)
                printf(" %.2fx %.2fx", fps / (best[0].frames / best[0].secs),
                       (best[0].cpu / best[0].frames) / (r->cpu / r->frames));
            printf("\n");
            fflush(stdout);
        }
    }
    return 0;
}
