/* videollm ask -m MODEL.gguf -p TEXT [options]
 * Streams the model's answer to stdout. */
#define VLLM_EXPERIMENTAL
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "vllm/videollm.h"

static void usage(void)
{
    fprintf(stderr,
            "usage: videollm ask -m MODEL.gguf [--mmproj MMPROJ.gguf (--video F | --image F)] -p TEXT [options]\n"
            "  --mmproj FILE        vision projector GGUF (needed for --video/--image)\n"
            "  --video FILE|URL     video to ask about (sampled with the model's rule)\n"
            "  --image FILE         still image to ask about (repeatable)\n"
            "  --fps F, --max-frames N, --n-frames N (uniform), --start S, --end E\n"
            "  --vision f32|ggml|bf16|auto   vision encoder precision (default auto)\n"
            "  --llamacpp-compat    lay out still images exactly as llama.cpp's libmtmd\n"
            "  --dedup [T]          skip sampled frames nearly identical to the last kept one\n"
            "                       (T: mean 32x32 luma change, fraction of full scale; default 0.02)\n"
            "  --prune-rate Q       drop fraction Q of each frame's visual tokens, keeping the most\n"
            "                       changed since the previous kept frame (first frame whole)\n"
            "  --merge              merge dropped tokens into their most similar kept token\n"
            "  --video-max-tokens N fit the video's visual tokens into N (fewer frames, then pruning)\n"
            "  --fast               the recommended compression preset (dedup + pruning)\n"
            "  --stats              print timing and memory statistics to stderr\n"
            "  -n N                 generate at most N tokens (default 256)\n"
            "  --temp T             temperature (default 0 = greedy)\n"
            "  --seed S             sampling seed (default 0)\n"
            "  --top-k K, --top-p P, --min-p P, --repeat-penalty R, --repeat-last-n N\n"
            "  --stop STR           stop when STR is generated (repeatable)\n"
            "  --raw                no chat template: the prompt is used verbatim\n"
            "  -t N                 threads (default: all CPUs)\n"
            "  -c N                 context size (default: min(train, 4096))\n"
            "  --kv-f16             store the KV cache in f16\n"
            "  --print-ids          print the generated token ids after the text\n"
            "  --dump-logits FILE   write the float32 logits after the prompt (vocabulary order)\n");
}

typedef struct stream_state {
    int32_t *ids;
    size_t n, cap;
} stream_state;

static int on_token(void *user, int32_t token, const char *piece, size_t len)
{
    stream_state *ss = user;
    fwrite(piece, 1, len, stdout);
    fflush(stdout);
    if (token >= 0) {
        if (ss->n == ss->cap) {
            size_t cap = ss->cap ? 2 * ss->cap : 64;
            int32_t *p = realloc(ss->ids, cap * sizeof *p);
            if (!p) return 1;
            ss->ids = p;
            ss->cap = cap;
        }
        ss->ids[ss->n++] = token;
    }
    return 0;
}

int cli_ask(int argc, char **argv)
{
    const char *model_path = NULL, *prompt = NULL, *dump_logits = NULL, *video = NULL;
    const char *stops[16], *images[16];
    int print_ids = 0, n_images = 0, show_stats = 0, fast = 0;
    vllm_model_params mp = vllm_model_default_params();
    vllm_video_params vp = vllm_video_default_params();
    vllm_generate_params gp = vllm_generate_default_params();
    vllm_session_params sp = vllm_session_default_params();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-m") && v) model_path = argv[++i];
        else if (!strcmp(a, "-p") && v) prompt = argv[++i];
        else if (!strcmp(a, "-n") && v) gp.max_tokens = atoi(argv[++i]);
        else if (!strcmp(a, "--temp") && v) gp.temperature = (float)atof(argv[++i]);
        else if (!strcmp(a, "--seed") && v) gp.seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(a, "--top-k") && v) gp.top_k = atoi(argv[++i]);
        else if (!strcmp(a, "--top-p") && v) gp.top_p = (float)atof(argv[++i]);
        else if (!strcmp(a, "--min-p") && v) gp.min_p = (float)atof(argv[++i]);
        else if (!strcmp(a, "--repeat-penalty") && v) gp.repeat_penalty = (float)atof(argv[++i]);
        else if (!strcmp(a, "--repeat-last-n") && v) gp.repeat_last_n = atoi(argv[++i]);
        else if (!strcmp(a, "--stop") && v && gp.n_stop_strings < 16) stops[gp.n_stop_strings++] = argv[++i];
        else if (!strcmp(a, "--raw")) gp.raw = 1;
        else if (!strcmp(a, "-t") && v) sp.n_threads = atoi(argv[++i]);
        else if (!strcmp(a, "-c") && v) sp.n_ctx = atoi(argv[++i]);
        else if (!strcmp(a, "--kv-f16")) sp.kv_type = VLLM_KV_F16;
        else if (!strcmp(a, "--print-ids")) print_ids = 1;
        else if (!strcmp(a, "--dump-logits") && v) dump_logits = argv[++i];
        else if (!strcmp(a, "--mmproj") && v) mp.mmproj_path = argv[++i];
        else if (!strcmp(a, "--video") && v) video = argv[++i];
        else if (!strcmp(a, "--image") && v && n_images < 16) images[n_images++] = argv[++i];
        else if (!strcmp(a, "--fps") && v) vp.fps = (float)atof(argv[++i]);
        else if (!strcmp(a, "--max-frames") && v) vp.max_frames = atoi(argv[++i]);
        else if (!strcmp(a, "--n-frames") && v) vp.n_frames = atoi(argv[++i]);
        else if (!strcmp(a, "--start") && v) vp.start = atof(argv[++i]);
        else if (!strcmp(a, "--end") && v) vp.end = atof(argv[++i]);
        else if (!strcmp(a, "--llamacpp-compat")) mp.llamacpp_compat = 1;
        else if (!strcmp(a, "--stats")) show_stats = 1;
        else if (!strcmp(a, "--dedup")) {
            /* the threshold is optional: take the next argument only if it is a number */
            char *end = NULL;
            double t = v ? strtod(v, &end) : 0;
            if (v && end && end != v && !*end) vp.dedup_threshold = (float)t, i++;
            else vp.dedup_threshold = 0.02f;
        }
        else if (!strcmp(a, "--prune-rate") && v) vp.prune_rate = (float)atof(argv[++i]);
        else if (!strcmp(a, "--merge")) vp.prune_merge = 1;
        else if (!strcmp(a, "--video-max-tokens") && v) vp.max_visual_tokens = atoi(argv[++i]);
        else if (!strcmp(a, "--fast")) fast = 1;
        else if (!strcmp(a, "--vision") && v) {
            const char *m = argv[++i];
            mp.vision_precision = !strcmp(m, "f32") ? VLLM_VISION_F32 : !strcmp(m, "ggml") ? VLLM_VISION_GGML
                                : !strcmp(m, "bf16") ? VLLM_VISION_BF16 : !strcmp(m, "auto") ? VLLM_VISION_AUTO : -1;
        }
        else {
            usage();
            return 2;
        }
    }
    if (!model_path || !prompt) {
        usage();
        return 2;
    }
    gp.stop_strings = gp.n_stop_strings ? stops : NULL;
    if (fast) { /* the preset first, explicit flags win where given */
        vllm_video_params f = vllm_video_default_params();
        vllm_compression_preset("fast", NULL, &f);
        if (vp.dedup_threshold == 0) vp.dedup_threshold = f.dedup_threshold;
        if (vp.prune_rate == 0) vp.prune_rate = f.prune_rate;
    }

    vllm_model *model = NULL;
    vllm_session *sess = NULL;
    stream_state ss = {0};
    gp.on_token = on_token;
    gp.user_data = &ss;
    int rc = 1;
    if (vllm_is_error(vllm_model_load(model_path, &mp, &model)) || vllm_is_error(vllm_session_create(model, &sp, &sess))) {
        fprintf(stderr, "videollm: %s\n", vllm_last_error());
        goto done;
    }
    for (int i = 0; i < n_images; i++)
        if (vllm_is_error(vllm_session_push_image(sess, images[i]))) {
            fprintf(stderr, "videollm: %s\n", vllm_session_last_error(sess));
            goto done;
        }
    if (video && vllm_is_error(vllm_session_push_video(sess, video, &vp))) {
        fprintf(stderr, "videollm: %s\n", vllm_session_last_error(sess));
        goto done;
    }
    if (vllm_is_error(vllm_session_query(sess, prompt, &gp))) {
        fprintf(stderr, "videollm: %s\n", vllm_session_last_error(sess));
        goto done;
    }
    if (dump_logits) {
        vllm_model_info info = {.struct_size = sizeof info};
        vllm_model_get_info(model, &info);
        const float *lg = vllm_session_logits(sess);
        FILE *f = fopen(dump_logits, "wb");
        if (!f || !lg || fwrite(lg, sizeof(float), (size_t)info.n_vocab, f) != (size_t)info.n_vocab) {
            fprintf(stderr, "videollm: cannot write %s\n", dump_logits);
            if (f) fclose(f);
            goto done;
        }
        fclose(f);
    }
    vllm_status st;
    while ((st = vllm_session_next_token(sess, NULL, NULL, NULL)) == VLLM_OK) {}
    if (vllm_is_error(st)) {
        fprintf(stderr, "\nvideollm: %s\n", vllm_session_last_error(sess));
        goto done;
    }
    printf("\n");
    if (print_ids) {
        for (size_t i = 0; i < ss.n; i++) printf(i ? " %d" : "%d", ss.ids[i]);
        printf("\n");
    }
    fflush(stdout);
    vllm_session_stats stats = {.struct_size = sizeof stats};
    vllm_session_get_stats(sess, &stats);
    if (show_stats) {
        fprintf(stderr,
                "videollm: frames: %lld seen, %lld encoded, %lld deduped; visual tokens %lld (%lld pruned); context %d of %d\n"
                "videollm: decode %.3f s, encode %.3f s (%.1f ms/frame), media prefill %.3f s\n"
                "videollm: text prompt %lld tokens in %.3f s; generated %lld tokens in %.3f s (%.1f tok/s)\n"
                "videollm: time to first token %.3f s after the question; peak RSS %.1f MiB\n",
                (long long)stats.n_frames_seen, (long long)stats.n_frames_encoded, (long long)stats.n_frames_deduped,
                (long long)stats.n_visual_tokens, (long long)stats.n_tokens_pruned,
                stats.n_past, stats.n_ctx, stats.decode_seconds, stats.encode_seconds,
                stats.n_frames_encoded ? 1000.0 * stats.encode_seconds / (double)stats.n_frames_encoded : 0.0,
                stats.media_prefill_seconds, (long long)stats.n_prompt_tokens, stats.prompt_seconds,
                (long long)stats.n_generated_tokens, stats.generate_seconds,
                stats.generate_seconds > 0 ? (double)stats.n_generated_tokens / stats.generate_seconds : 0.0,
                stats.first_token_seconds, (double)stats.peak_rss_bytes / 1048576.0);
    }
    rc = 0;
done:
    free(ss.ids);
    vllm_session_free(sess);
    vllm_model_free(model);
    return rc;
}
