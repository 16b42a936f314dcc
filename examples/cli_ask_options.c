/* The options of `videollm ask` / `videollm chat`: one table gives each
 * option its names (llama.cpp's spellings among them), its value and its
 * help line, so --help and the parser cannot disagree. Parsing runs
 * defaults -> strict values (ranges checked here, before any file is
 * opened or any video decoded) -> checks between options. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "cli_ask.h"

typedef enum opt_id {
    O_HELP, O_MODEL, O_PROMPT, O_FILE, O_SYSTEM, O_MMPROJ, O_VIDEO, O_IMAGE, O_STDIN, O_FPS, O_MAX_FRAMES,
    O_N_FRAMES, O_START, O_END, O_VISION, O_COMPAT, O_IMAGE_MIN_TOKENS, O_IMAGE_MAX_TOKENS, O_DEDUP, O_PRUNE, O_MERGE, O_VIDEO_MAX_TOKENS, O_FAST,
    O_N_PREDICT, O_TEMP, O_SEED, O_TOP_K, O_TOP_P, O_MIN_P, O_REPEAT_PENALTY, O_REPEAT_LAST_N, O_STOP, O_RAW,
    O_THREADS, O_CTX, O_KV_TYPE, O_KV_F16, O_STATS, O_JSON, O_PRINT_IDS, O_DUMP_LOGITS, O_VERBOSE, O_UNTIL
} opt_id;

typedef struct ask_option {
    opt_id id;
    const char *name, *alias; /* alias may be NULL */
    const char *arg;          /* NULL: a flag; "[T]": an optional number */
    const char *help;
} ask_option;

static const ask_option OPTIONS[] = {
    {O_MODEL, "-m", "--model", "FILE", "text model GGUF (required)"},
    {O_PROMPT, "-p", "--prompt", "TEXT", "the question (ask: required unless -f; chat: a first question)"},
    {O_FILE, "-f", "--file", "FILE", "read the question from FILE"},
    {O_SYSTEM, "-sys", "--system-prompt", "TEXT", "a system turn before the first question, in the model's chat template"},
    {O_MMPROJ, "--mmproj", NULL, "FILE", "vision projector GGUF (needed for media)"},
    {O_VIDEO, "--video", NULL, "FILE|URL", "video to ask about (sampled with the model's rule)"},
    {O_IMAGE, "--image", NULL, "FILE", "still image to ask about (repeatable, up to 16)"},
    {O_STDIN, "--frames-from-stdin", NULL, "WxH:FMT",
     "raw frames on stdin (FMT rgb24|rgba|bgra|nv12|yuv420p), one every 1/--fps s (default 1 fps)"},
    {O_UNTIL, "--until", NULL, "S",
     "--video is a live source (network stream, camera, '-' for stdin): read it in\n"
     "the background and ask after S seconds of stream time (or when it ends)"},
    {O_FPS, "--fps", NULL, "F", "frames sampled per second (0 = the model's default)"},
    {O_MAX_FRAMES, "--max-frames", NULL, "N", "cap on sampled frames (0 = the model's default)"},
    {O_N_FRAMES, "--n-frames", NULL, "N", "exactly N frames, uniformly spread"},
    {O_START, "--start", NULL, "S", "start of the time range in seconds"},
    {O_END, "--end", NULL, "E", "end of the time range in seconds (0 = to the end)"},
    {O_VISION, "--vision", NULL, "f32|ggml|bf16|auto", "vision encoder precision (default auto)"},
    {O_COMPAT, "--llamacpp-compat", NULL, NULL,
     "do what llama.cpp does, for number-for-number comparisons: its text-model\n"
     "quirks (qwen2vl RMSNorm epsilon 0, text positions (p,p,p,0)) and its whole\n"
     "media path (frame sampling, letterboxed resize, prompt layout and positions,\n"
     "merger GELU, chatml without a system prompt) and an f32 KV cache unless\n"
     "--kv-type is given; default: the model's own rules"},
    {O_IMAGE_MIN_TOKENS, "--image-min-tokens", NULL, "N",
     "at least N visual tokens per image or video frame (dynamic-resolution\n"
     "families: Qwen2.5-VL, Qwen3-VL; 0 = the family's default)"},
    {O_IMAGE_MAX_TOKENS, "--image-max-tokens", NULL, "N",
     "at most N visual tokens per image or video frame (as --image-min-tokens)"},
    {O_DEDUP, "--dedup", NULL, "[T]",
     "skip sampled frames nearly identical to the last kept one (T: mean luma change, default 0.02)"},
    {O_PRUNE, "--prune-rate", NULL, "Q", "drop fraction Q (0 to <1) of each frame's visual tokens"},
    {O_MERGE, "--merge", NULL, NULL, "merge dropped tokens into their most similar kept token"},
    {O_VIDEO_MAX_TOKENS, "--video-max-tokens", NULL, "N", "fit the video's visual tokens into N"},
    {O_FAST, "--fast", NULL, NULL, "the recommended compression preset (dedup + pruning)"},
    {O_N_PREDICT, "-n", "--n-predict", "N", "generate at most N tokens (default 256; -1 = until the end)"},
    {O_TEMP, "--temp", NULL, "T", "temperature (default 0 = greedy)"},
    {O_SEED, "-s", "--seed", "S", "sampling seed (default: from the clock when --temp > 0)"},
    {O_TOP_K, "--top-k", NULL, "K", "top-k sampling (0 = off)"},
    {O_TOP_P, "--top-p", NULL, "P", "top-p sampling (1 = off)"},
    {O_MIN_P, "--min-p", NULL, "P", "min-p sampling (0 = off)"},
    {O_REPEAT_PENALTY, "--repeat-penalty", NULL, "R", "repetition penalty (1 = off)"},
    {O_REPEAT_LAST_N, "--repeat-last-n", NULL, "N", "window of the repetition penalty (default 64)"},
    {O_STOP, "--stop", NULL, "STR", "stop when STR is generated (repeatable, up to 16)"},
    {O_RAW, "--raw", NULL, NULL, "no chat template: the prompt is used verbatim"},
    {O_THREADS, "-t", "--threads", "N", "threads (default: all CPUs)"},
    {O_CTX, "-c", "--ctx-size", "N", "context size (default: min(trained, 4096))"},
    {O_KV_TYPE, "--kv-type", NULL, "f32|f16|q8_0|q4_0", "KV cache storage (default f16; f32 with --llamacpp-compat)"},
    {O_KV_F16, "--kv-f16", NULL, NULL, "same as --kv-type f16"},
    {O_STATS, "--stats", NULL, NULL, "print where the time went, why generation stopped, memory (stderr)"},
    {O_JSON, "--json", NULL, NULL, "print one JSON object (answer, token ids, statistics) instead"},
    {O_PRINT_IDS, "--print-ids", NULL, NULL, "print the generated token ids after the text"},
    {O_DUMP_LOGITS, "--dump-logits", NULL, "FILE", "write the float32 logits after the prompt"},
    {O_VERBOSE, "-v", "--verbose", NULL, "print the library's log (info and debug lines)"},
    {O_HELP, "-h", "--help", NULL, "this help"},
};
#define N_OPTIONS (sizeof OPTIONS / sizeof OPTIONS[0])

static void print_help(const char *cmd)
{
    if (!strcmp(cmd, "ask"))
        printf("usage: videollm ask -m MODEL.gguf [--mmproj MMPROJ.gguf (--video F | --image F | --frames-from-stdin WxH:FMT)]\n"
               "                    (-p TEXT | -f FILE) [options]\n"
               "One question; the answer streams to stdout.\n\n");
    else
        printf("usage: videollm chat -m MODEL.gguf [--mmproj MMPROJ.gguf (--video F | --image F)] [options]\n"
               "Questions read one per line from stdin (line editing and history on a terminal);\n"
               "the media and the earlier turns stay in the context. Ctrl-C stops the current answer;\n"
               "Ctrl-C twice at the prompt, or Ctrl-D, quits.\n\n");
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const ask_option *op = &OPTIONS[i];
        char left[64];
        snprintf(left, sizeof left, "%s%s%s%s%s", op->name, op->alias ? ", " : "", op->alias ? op->alias : "",
                 op->arg ? " " : "", op->arg ? op->arg : "");
        printf("  %-30s ", left);
        for (const char *h = op->help; *h; h++) { /* a long help's next lines under its first */
            if (*h == '\n') printf("\n%33s", "");
            else putchar(*h);
        }
        putchar('\n');
    }
}

static const ask_option *find_option(const char *a)
{
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (!strcmp(a, OPTIONS[i].name) || (OPTIONS[i].alias && !strcmp(a, OPTIONS[i].alias))) return &OPTIONS[i];
    return NULL;
}

static int parse_kv_type(const char *t, vllm_kv_type *out)
{
    static const struct { const char *name; vllm_kv_type type; } KV[] = {
        {"f32", VLLM_KV_F32}, {"f16", VLLM_KV_F16}, {"q8_0", VLLM_KV_Q8_0}, {"q4_0", VLLM_KV_Q4_0}};
    for (size_t i = 0; i < sizeof KV / sizeof KV[0]; i++)
        if (!strcmp(t, KV[i].name)) return *out = KV[i].type, 0;
    return -1;
}

static int parse_vision(const char *m, int *out)
{
    static const struct { const char *name; int p; } V[] = {
        {"f32", VLLM_VISION_F32}, {"ggml", VLLM_VISION_GGML}, {"bf16", VLLM_VISION_BF16}, {"auto", VLLM_VISION_AUTO}};
    for (size_t i = 0; i < sizeof V / sizeof V[0]; i++)
        if (!strcmp(m, V[i].name)) return *out = V[i].p, 0;
    return -1;
}

/* One option with its value `v` (NULL for flags); 0 on success, -1 after a message. */
static int apply(cli_ask_options *o, const ask_option *op, const char *a, const char *v)
{
    const char *cmd = o->cmd;
    switch (op->id) {
    case O_HELP: return 0;
    case O_MODEL: o->model_path = v; return 0;
    case O_PROMPT: o->prompt = v; return 0;
    case O_FILE: o->prompt_file = v; return 0;
    case O_SYSTEM: o->sp.system_prompt = v; return 0; /* the library writes it in the model's template */
    case O_MMPROJ: o->mp.mmproj_path = v; return 0;
    case O_VIDEO: o->video = v; return 0;
    case O_IMAGE:
        if (o->n_images == CLI_MAX_IMAGES) {
            fprintf(stderr, "videollm %s: --image %s: at most %d images per question\n", cmd, v, CLI_MAX_IMAGES);
            return -1;
        }
        o->images[o->n_images++] = v;
        return 0;
    case O_STDIN: o->stdin_frames = v; return 0;
    case O_FPS: return cli_parse_float(cmd, a, v, 0, 1000, &o->vp.fps);
    case O_MAX_FRAMES: return cli_parse_i32(cmd, a, v, 0, 1 << 20, &o->vp.max_frames);
    case O_N_FRAMES: return cli_parse_i32(cmd, a, v, 0, 1 << 20, &o->vp.n_frames);
    case O_START: return cli_parse_double(cmd, a, v, 0, 1e9, &o->vp.start);
    case O_END: return cli_parse_double(cmd, a, v, 0, 1e9, &o->vp.end);
    case O_VISION:
        if (!parse_vision(v, &o->mp.vision_precision)) return 0;
        fprintf(stderr, "videollm %s: --vision: '%s' is not one of f32, ggml, bf16, auto\n", cmd, v);
        return -1;
    case O_COMPAT: o->mp.llamacpp_compat = 1; return 0;
    case O_IMAGE_MIN_TOKENS: return cli_parse_i32(cmd, a, v, 0, VLLM_IMAGE_TOKENS_LIMIT, &o->mp.image_min_tokens);
    case O_IMAGE_MAX_TOKENS: return cli_parse_i32(cmd, a, v, 0, VLLM_IMAGE_TOKENS_LIMIT, &o->mp.image_max_tokens);
    case O_DEDUP:
        if (!v) return o->vp.dedup_threshold = 0.02f, 0;
        return cli_parse_float(cmd, a, v, 0, 1, &o->vp.dedup_threshold);
    case O_PRUNE:
        if (cli_parse_float(cmd, a, v, 0, 1, &o->vp.prune_rate)) return -1;
        if (o->vp.prune_rate < 1.0f) return 0;
        fprintf(stderr, "videollm %s: --prune-rate: %s is out of range (0 to below 1)\n", cmd, v);
        return -1;
    case O_MERGE: o->vp.prune_merge = 1; return 0;
    case O_VIDEO_MAX_TOKENS: return cli_parse_i32(cmd, a, v, 0, INT32_MAX, &o->vp.max_visual_tokens);
    case O_FAST: o->fast = 1; return 0;
    case O_N_PREDICT: return cli_parse_i32(cmd, a, v, -1, INT32_MAX, &o->gp.max_tokens);
    case O_TEMP: return cli_parse_float(cmd, a, v, 0, 100, &o->gp.temperature);
    case O_SEED: o->seed_given = 1; return cli_parse_u64(cmd, a, v, &o->gp.seed);
    case O_TOP_K: return cli_parse_i32(cmd, a, v, 0, INT32_MAX, &o->gp.top_k);
    case O_TOP_P: return cli_parse_float(cmd, a, v, 0, 1, &o->gp.top_p);
    case O_MIN_P: return cli_parse_float(cmd, a, v, 0, 1, &o->gp.min_p);
    case O_REPEAT_PENALTY:
        /* the sampler divides by it: zero is no penalty value */
        return cli_parse_float(cmd, a, v, 0.001, 100, &o->gp.repeat_penalty);
    case O_REPEAT_LAST_N: return cli_parse_i32(cmd, a, v, 0, 1 << 20, &o->gp.repeat_last_n);
    case O_STOP:
        if (o->gp.n_stop_strings == CLI_MAX_STOPS) {
            fprintf(stderr, "videollm %s: --stop '%s': at most %d stop strings\n", cmd, v, CLI_MAX_STOPS);
            return -1;
        }
        o->stops[o->gp.n_stop_strings++] = v;
        return 0;
    case O_RAW: o->gp.raw = 1; return 0;
    case O_THREADS: return cli_parse_i32(cmd, a, v, 0, 1024, &o->sp.n_threads);
    case O_CTX:
        if (cli_parse_i32(cmd, a, v, 0, 1 << 24, &o->sp.n_ctx)) return -1;
        if (o->sp.n_ctx == 0 || o->sp.n_ctx >= 64) return 0;
        fprintf(stderr, "videollm %s: %s: %s positions are too few (at least 64; 0 = the default)\n", cmd, a, v);
        return -1;
    case O_KV_TYPE:
        o->kv_given = 1;
        if (!parse_kv_type(v, &o->sp.kv_type)) return 0;
        fprintf(stderr, "videollm %s: --kv-type: '%s' is not one of f32, f16, q8_0, q4_0\n", cmd, v);
        return -1;
    case O_KV_F16: o->sp.kv_type = VLLM_KV_F16, o->kv_given = 1; return 0;
    case O_STATS: o->show_stats = 1; return 0;
    case O_JSON: o->json = 1; return 0;
    case O_PRINT_IDS: o->print_ids = 1; return 0;
    case O_DUMP_LOGITS: o->dump_logits = v; return 0;
    case O_VERBOSE: o->verbose = 1; return 0;
    case O_UNTIL: return cli_parse_double(cmd, a, v, 0.001, 1e7, &o->until);
    }
    return 0;
}

/* Checks between options (each value is already in range). */
static int check(cli_ask_options *o, int interactive)
{
    const char *cmd = o->cmd;
    if (!o->model_path) return cli_usage_error(cmd, "no model: give -m MODEL.gguf");
    if (o->prompt && o->prompt_file) return cli_usage_error(cmd, "give the question with -p or -f, not both");
    if (!interactive && !o->prompt && !o->prompt_file)
        return cli_usage_error(cmd, "no question: give -p TEXT or -f FILE");
    if (o->until > 0 && !o->video) return cli_usage_error(cmd, "--until needs a live --video URL|DEVICE|-");
    if (o->until > 0 && (o->vp.n_frames || o->vp.start > 0 || o->vp.end > 0 || o->vp.max_frames))
        return cli_usage_error(cmd, "--until reads a live source: --n-frames, --start, --end and --max-frames do not apply");
    if (interactive && o->stdin_frames)
        return cli_usage_error(cmd, "--frames-from-stdin: stdin carries the questions in chat; use ask");
    if ((o->video || o->n_images || o->stdin_frames) && !o->mp.mmproj_path)
        return cli_usage_error(cmd, "%s needs the vision projector: add --mmproj MMPROJ.gguf",
                               o->video ? "--video" : o->n_images ? "--image" : "--frames-from-stdin");
    /* llama.cpp's reference numbers (its dumps with an f32 cache) are what
     * --llamacpp-compat is compared with: an f16 cache alone moves text
     * logits by ~1e-4 */
    if (o->mp.llamacpp_compat && !o->kv_given) o->sp.kv_type = VLLM_KV_F32;
    cli_stdin_format sf;
    if (o->stdin_frames && cli_stdin_format_parse(cmd, o->stdin_frames, &sf)) return cli_usage_hint(cmd);
    if (o->mp.image_min_tokens && o->mp.image_max_tokens && o->mp.image_min_tokens > o->mp.image_max_tokens)
        return cli_usage_error(cmd, "--image-min-tokens %d is above --image-max-tokens %d", o->mp.image_min_tokens,
                               o->mp.image_max_tokens);
    if (o->vp.end > 0 && o->vp.end <= o->vp.start)
        return cli_usage_error(cmd, "--end %g is not after --start %g (leave --end out to read to the end)", o->vp.end,
                               o->vp.start);
    for (int i = 0; i < o->n_images; i++) {
        struct stat sb;
        if (stat(o->images[i], &sb) == 0 && S_ISDIR(sb.st_mode))
            return cli_usage_error(cmd, "--image %s is a directory; give an image file", o->images[i]);
    }
    return 0;
}

int cli_ask_parse(const char *cmd, int argc, char **argv, cli_ask_options *o)
{
    memset(o, 0, sizeof *o);
    o->cmd = cmd;
    o->mp = vllm_model_default_params();
    o->vp = vllm_video_default_params();
    o->gp = vllm_generate_default_params();
    o->sp = vllm_session_default_params();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const ask_option *op = find_option(a);
        if (!op) {
            if (a[0] == '-' && a[1]) return cli_usage_error(cmd, "unknown option '%s'", a);
            return cli_usage_error(cmd, "unexpected argument '%s' (the question goes after -p)", a);
        }
        if (op->id == O_HELP) {
            print_help(cmd);
            return CLI_PARSE_HELP;
        }
        const char *v = NULL;
        if (op->arg && !strcmp(op->arg, "[T]")) {
            if (i + 1 < argc && cli_is_number(argv[i + 1])) v = argv[++i];
        } else if (op->arg) {
            if (i + 1 >= argc) return cli_usage_error(cmd, "%s needs a value (%s)", a, op->arg);
            v = argv[++i];
        }
        if (apply(o, op, a, v)) return cli_usage_hint(cmd);
    }
    if (o->fast) { /* the preset first, explicit flags win where given */
        vllm_video_params f = vllm_video_default_params();
        vllm_session_params s = vllm_session_default_params();
        vllm_compression_preset("fast", &s, &f);
        if (o->vp.dedup_threshold == 0) o->vp.dedup_threshold = f.dedup_threshold;
        if (o->vp.prune_rate == 0) o->vp.prune_rate = f.prune_rate;
        if (o->sp.dedup_threshold == 0) o->sp.dedup_threshold = s.dedup_threshold;
        if (o->sp.prune_rate == 0) o->sp.prune_rate = s.prune_rate;
    }
    o->gp.stop_strings = o->gp.n_stop_strings ? o->stops : NULL;
    if (check(o, !strcmp(cmd, "chat"))) return 2;
    if (o->prompt_file) {
        o->prompt_owned = cli_read_file(o->prompt_file, NULL);
        if (!o->prompt_owned) return cli_usage_error(cmd, "-f %s: cannot read the file", o->prompt_file);
        /* a trailing newline ends the file, not the question */
        size_t n = strlen(o->prompt_owned);
        while (n && (o->prompt_owned[n - 1] == '\n' || o->prompt_owned[n - 1] == '\r')) o->prompt_owned[--n] = '\0';
        o->prompt = o->prompt_owned;
    }
    return 0;
}

void cli_ask_options_free(cli_ask_options *o)
{
    free(o->prompt_owned);
    o->prompt_owned = NULL;
}
