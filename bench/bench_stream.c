/* An endless live stream: push synthetic frames at a given rate of stream
 * time (default 30 minutes at 1 fps), ask a question every few minutes,
 * and print the context use and peak RSS at each question — the RSS must
 * stay flat once the context window has filled (oldest frames evicted).
 *
 *   bench_stream -m TEXT.gguf --mmproj MMPROJ.gguf [-c N_CTX] [-t THREADS]
 *                [--minutes M] [--fps F] [--every SECONDS] [--size WxH]
 *                [--offload 0|1] [--ram-mib M] [--spill-dir D] [--top-k K] [--kv-type T]
 *
 * Offload tier (issue 6): --offload turns it on (frames leaving the
 * context are compressed into RAM up to --ram-mib, then into a spill file
 * in --spill-dir, else dropped), --top-k sets the frames reloaded per
 * question by similarity, --kv-type f32|f16|q8_0|q4_0 the cache type. At
 * the end a question about the first minute recalls it explicitly
 * (vllm_session_recall) and the counters show what came back from where.
 *
 * Prints one `key=value` line per question. Frame pixels are a moving
 * gradient so consecutive frames differ (no dedup involved). */
#define VLLM_EXPERIMENTAL
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

static void print_offload(vllm_session *s, const char *indent)
{
    vllm_offload_stats o = {.struct_size = sizeof o};
    if (vllm_session_get_offload_stats(s, &o)) return;
    printf("%soffloaded=%lld in_ram=%lld in_file=%lld dropped=%lld resident=%lld reloaded=%lld retrievals=%lld "
           "ram_MiB=%.1f file_MiB=%.1f ratio=%.3f offload_ms_per_frame=%.2f reload_ms_per_frame=%.2f\n",
           indent, (long long)o.frames_offloaded, (long long)o.frames_in_ram, (long long)o.frames_in_file,
           (long long)o.frames_dropped, (long long)o.frames_resident, (long long)o.frames_reloaded,
           (long long)o.retrievals, o.ram_bytes / 1048576.0, o.file_bytes / 1048576.0,
           o.raw_bytes ? (double)o.compressed_bytes / (double)o.raw_bytes : 0.0,
           o.frames_offloaded ? 1e3 * o.offload_seconds / (double)o.frames_offloaded : 0.0,
           o.frames_reloaded ? 1e3 * o.reload_seconds / (double)o.frames_reloaded : 0.0);
}

int main(int argc, char **argv)
{
    const char *text = NULL, *mmproj = NULL;
    int n_ctx = 4096, threads = 0, w = 640, h = 360;
    double minutes = 30, fps = 1, every = 300;
    int offload = 0, top_k = 4;
    double ram_mib = 256;
    const char *spill_dir = NULL, *kv = "f32";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-m")) text = argv[i + 1];
        else if (!strcmp(argv[i], "--mmproj")) mmproj = argv[i + 1];
        else if (!strcmp(argv[i], "-c")) n_ctx = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-t")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--minutes")) minutes = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--fps")) fps = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--every")) every = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--size")) sscanf(argv[i + 1], "%dx%d", &w, &h);
        else if (!strcmp(argv[i], "--offload")) offload = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--ram-mib")) ram_mib = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--spill-dir")) spill_dir = argv[i + 1];
        else if (!strcmp(argv[i], "--top-k")) top_k = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--kv-type")) kv = argv[i + 1];
    }
    if (!text || !mmproj || fps <= 0 || w < 2 || h < 2) {
        fprintf(stderr, "usage: bench_stream -m TEXT.gguf --mmproj MMPROJ.gguf [-c N_CTX] [-t THREADS] "
                        "[--minutes M] [--fps F] [--every SECONDS] [--size WxH] [--offload 0|1] [--ram-mib M] [--spill-dir D] "
                        "[--top-k K] [--kv-type T]\n");
        return 2;
    }
    vllm_model_params mp = vllm_model_default_params();
    mp.mmproj_path = mmproj;
    vllm_model *m = NULL;
    vllm_session_params sp = vllm_session_default_params();
    sp.n_ctx = n_ctx;
    sp.n_threads = threads;
    sp.kv_type = !strcmp(kv, "f16") ? VLLM_KV_F16 : !strcmp(kv, "q8_0") ? VLLM_KV_Q8_0 : !strcmp(kv, "q4_0") ? VLLM_KV_Q4_0 : VLLM_KV_F32;
    vllm_session *s = NULL;
    if (vllm_model_load(text, &mp, &m) || vllm_session_create(m, &sp, &s)) {
        fprintf(stderr, "bench_stream: %s\n", vllm_last_error());
        return 1;
    }
    vllm_offload_params op = vllm_offload_default_params();
    op.enabled = offload;
    op.retrieve_top_k = top_k;
    op.max_ram_bytes = (int64_t)(ram_mib * 1048576.0);
    op.spill_dir = spill_dir;
    if (vllm_session_set_offload(s, &op)) {
        fprintf(stderr, "bench_stream: %s\n", vllm_session_last_error(s));
        return 1;
    }
    printf("# kv_type=%s offload=%d ram_cap_MiB=%.0f spill_dir=%s top_k=%d n_ctx=%d\n", kv, offload, ram_mib,
           spill_dir ? spill_dir : "-", top_k, n_ctx);
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
            if (offload) print_offload(s, "  ");
            fflush(stdout);
        }
    }
    if (!rc && offload) {
        /* a question about the first minute: recall it, then ask */
        vllm_offload_stats before = {.struct_size = sizeof before};
        vllm_session_get_offload_stats(s, &before);
        int32_t got = 0;
        const double tr = vl_bench_now();
        if (vllm_session_recall(s, 0.0, 60.0, &got)) {
            fprintf(stderr, "bench_stream: recall: %s\n", vllm_session_last_error(s));
            rc = 1;
        }
        const double recall_s = vl_bench_now() - tr;
        if (!rc && vllm_session_generate(s, "What happened in the first minute?", &gp)) {
            fprintf(stderr, "bench_stream: early question: %s\n", vllm_session_last_error(s));
            rc = 1;
        }
        vllm_session_stats st = {.struct_size = sizeof st};
        vllm_session_get_stats(s, &st);
        printf("early_question recalled_frames=%d of_first_minute=%ld recall_s=%.3f n_past=%d peak_rss_MiB=%.1f\n", got,
               (long)(60 * fps), recall_s, st.n_past, st.peak_rss_bytes / 1048576.0);
        print_offload(s, "  ");
    }
    free(rgb);
    vllm_session_free(s);
    vllm_model_free(m);
    return rc;
}
