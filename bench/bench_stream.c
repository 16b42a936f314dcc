/* An endless live stream: push synthetic frames at a given rate of stream
 * time (default 30 minutes at 1 fps), ask a question every few minutes,
 * and print the context use and peak RSS at each question — the RSS must
 * stay flat once the context window has filled (oldest frames evicted).
 *
 *   bench_stream -m TEXT.gguf --mmproj MMPROJ.gguf [-c N_CTX] [-t THREADS]
 *                [--minutes M] [--fps F] [--every SECONDS] [--size WxH]
 *
 * Prints one `key=value` line per question. Frame pixels are a moving
 * gradient so consecutive frames differ (no dedup involved). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "vllm/videollm.h"

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

int main(int argc, char **argv)
{
    const char *text = NULL, *mmproj = NULL;
    int n_ctx = 4096, threads = 0, w = 640, h = 360;
    double minutes = 30, fps = 1, every = 300;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-m")) text = argv[i + 1];
        else if (!strcmp(argv[i], "--mmproj")) mmproj = argv[i + 1];
        else if (!strcmp(argv[i], "-c")) n_ctx = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-t")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--minutes")) minutes = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--fps")) fps = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--every")) every = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--size")) sscanf(argv[i + 1], "%dx%d", &w, &h);
    }
    if (!text || !mmproj || fps <= 0 || w < 2 || h < 2) {
        fprintf(stderr, "usage: bench_stream -m TEXT.gguf --mmproj MMPROJ.gguf [-c N_CTX] [-t THREADS] "
                        "[--minutes M] [--fps F] [--every SECONDS] [--size WxH]\n");
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
        fprintf(stderr, "bench_stream: %s\n", vllm_last_error());
        return 1;
    }
    uint8_t *rgb = malloc((size_t)w * h * 3);
    const long n_frames = (long)(minutes * 60 * fps);
    const long per_question = (long)(every * fps) > 0 ? (long)(every * fps) : 1;
    vllm_generate_params gp = vllm_generate_default_params();
    gp.max_tokens = 8;
    const double t0 = vl_bench_now();
    int rc = 0;
    for (long i = 0; i < n_frames && !rc; i++) {
        paint(rgb, w, h, (int)i);
        vllm_frame f = {.struct_size = sizeof f, .format = VLLM_PIXFMT_RGB24, .width = w, .height = h, .pts = i / fps};
        f.planes[0] = rgb;
        f.strides[0] = w * 3;
        if (vllm_session_push_frame(s, &f)) {
            fprintf(stderr, "bench_stream: frame %ld: %s\n", i, vllm_session_last_error(s));
            rc = 1;
            break;
        }
        if ((i + 1) % per_question == 0 || i + 1 == n_frames) {
            const double tq = vl_bench_now();
            if (vllm_session_generate(s, "What is happening right now?", &gp)) {
                fprintf(stderr, "bench_stream: question at frame %ld: %s\n", i, vllm_session_last_error(s));
                rc = 1;
            }
            vllm_session_stats st = {.struct_size = sizeof st};
            vllm_session_get_stats(s, &st);
            printf("stream_minutes=%.1f frames=%ld encoded=%lld evicted=%lld n_past=%d n_ctx=%d answer_s=%.3f "
                   "wall_s=%.1f peak_rss_MiB=%.1f\n",
                   (i + 1) / fps / 60.0, i + 1, (long long)st.n_frames_encoded, (long long)st.n_frames_evicted, st.n_past,
                   st.n_ctx, vl_bench_now() - tq, vl_bench_now() - t0, st.peak_rss_bytes / 1048576.0);
            fflush(stdout);
        }
    }
    free(rgb);
    vllm_session_free(s);
    vllm_model_free(m);
    return rc;
}
