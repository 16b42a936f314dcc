/* videollm watch -m MODEL.gguf --mmproj MMPROJ.gguf --video URL|DEVICE|-
 *                -p QUESTION [-p QUESTION ...] [options]
 *
 * Standing questions over a live source: the source is read in the
 * background (vllm_session_attach_source) and each question is a watch
 * (vllm_session_watch), evaluated every --every seconds of stream time and
 * when the picture changes (--change); one line, or one JSON object with
 * --json, is printed per answer that changed, with its stream time. Runs
 * until the source ends, --until seconds of stream time, or Ctrl-C. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "cli_ask.h"

#define WATCH_MAX_QUESTIONS 16

typedef struct watch_options {
    const char *model, *mmproj, *video, *questions[WATCH_MAX_QUESTIONS], *input_format;
    int n_questions, json, all, verbose, reconnect;
    double until;
    vllm_source_params src;
    vllm_watch_params wp;
    vllm_session_params sp;
} watch_options;

typedef enum wopt { W_HELP, W_MODEL, W_MMPROJ, W_VIDEO, W_PROMPT, W_EVERY, W_CHANGE, W_YES_NO, W_THRESHOLD, W_N, W_UNTIL,
                    W_FPS, W_RECONNECT, W_TIMEOUT, W_FORMAT, W_JSON, W_ALL, W_THREADS, W_CTX, W_DEDUP, W_VERBOSE } wopt;

static const struct {
    wopt id;
    const char *name, *alias, *arg, *help;
} OPTS[] = {
    {W_MODEL, "-m", "--model", "FILE", "text model GGUF (required)"},
    {W_MMPROJ, "--mmproj", NULL, "FILE", "vision projector GGUF (required)"},
    {W_VIDEO, "--video", NULL, "URL|DEVICE|-", "the live source: any URL FFmpeg reads, /dev/videoN, - for stdin (required)"},
    {W_PROMPT, "-p", "--prompt", "QUESTION", "a standing question (repeatable, up to 16; at least one)"},
    {W_EVERY, "--every", NULL, "S", "evaluate every S seconds of stream time (default 10; 0 = only on change)"},
    {W_CHANGE, "--change", NULL, "T", "also evaluate when the picture changes by T (mean luma, 0..1; default 0.1; 0 = off)"},
    {W_YES_NO, "--yes-no", NULL, NULL, "yes/no questions: answer from P(yes), nothing generated"},
    {W_THRESHOLD, "--yes-threshold", NULL, "P", "--yes-no: \"yes\" when P(yes) >= P (default 0.5)"},
    {W_N, "-n", "--n-predict", "N", "tokens generated per evaluation (default 32)"},
    {W_UNTIL, "--until", NULL, "S", "stop after S seconds of stream time (default: when the source ends)"},
    {W_FPS, "--fps", NULL, "F", "frames sampled per second (0 = the model's default)"},
    {W_RECONNECT, "--reconnect", NULL, NULL, "reopen a network source or device that drops (back-off up to 8 s)"},
    {W_TIMEOUT, "--timeout", NULL, "S", "seconds without data before the source counts as lost (default 10 for network)"},
    {W_FORMAT, "--format", NULL, "NAME", "input format (v4l2, mpegts, ...; default: probe)"},
    {W_DEDUP, "--dedup", NULL, "T", "skip frames nearly identical to the last kept one (mean luma change T)"},
    {W_JSON, "--json", NULL, NULL, "one JSON object per line instead of text"},
    {W_ALL, "--all", NULL, NULL, "print every evaluation, not only changed answers"},
    {W_THREADS, "-t", "--threads", "N", "threads (default: all CPUs)"},
    {W_CTX, "-c", "--ctx-size", "N", "context size (default: the model's video default)"},
    {W_VERBOSE, "-v", "--verbose", NULL, "print the library's log"},
    {W_HELP, "-h", "--help", NULL, "this help"},
};
#define N_OPTS (sizeof OPTS / sizeof OPTS[0])

static void help(void)
{
    printf("usage: videollm watch -m MODEL.gguf --mmproj MMPROJ.gguf --video URL|DEVICE|- -p QUESTION [-p ...] [options]\n"
           "Standing questions over a live source: one line (or JSON object) per changed answer,\n"
           "with its stream time. Runs until the source ends, --until, or Ctrl-C.\n\n");
    for (size_t i = 0; i < N_OPTS; i++) {
        char left[64];
        snprintf(left, sizeof left, "%s%s%s%s%s", OPTS[i].name, OPTS[i].alias ? ", " : "",
                 OPTS[i].alias ? OPTS[i].alias : "", OPTS[i].arg ? " " : "", OPTS[i].arg ? OPTS[i].arg : "");
        printf("  %-28s %s\n", left, OPTS[i].help);
    }
}

static int apply(watch_options *o, wopt id, const char *a, const char *v)
{
    const char *c = "watch";
    switch (id) {
    case W_HELP: return 0;
    case W_MODEL: o->model = v; return 0;
    case W_MMPROJ: o->mmproj = v; return 0;
    case W_VIDEO: o->video = v; return 0;
    case W_PROMPT:
        if (o->n_questions == WATCH_MAX_QUESTIONS) {
            fprintf(stderr, "videollm watch: -p '%s': at most %d questions\n", v, WATCH_MAX_QUESTIONS);
            return -1;
        }
        o->questions[o->n_questions++] = v;
        return 0;
    case W_EVERY: return cli_parse_double(c, a, v, 0, 1e6, &o->wp.every_s);
    case W_CHANGE: return cli_parse_float(c, a, v, 0, 1, &o->wp.change_threshold);
    case W_YES_NO: o->wp.yes_no = 1; return 0;
    case W_THRESHOLD: return cli_parse_float(c, a, v, 0, 1, &o->wp.yes_threshold);
    case W_N: return cli_parse_i32(c, a, v, 1, 1024, &o->wp.max_tokens);
    case W_UNTIL: return cli_parse_double(c, a, v, 0.001, 1e7, &o->until);
    case W_FPS: return cli_parse_float(c, a, v, 0, 120, &o->src.fps);
    case W_RECONNECT: o->src.reconnect = 1; return 0;
    case W_TIMEOUT: return cli_parse_double(c, a, v, 0.001, 1e6, &o->src.io_timeout_s);
    case W_FORMAT: o->src.input_format = v; return 0;
    case W_DEDUP: return cli_parse_float(c, a, v, 0, 1, &o->sp.dedup_threshold);
    case W_JSON: o->json = 1; return 0;
    case W_ALL: o->all = 1; return 0;
    case W_THREADS: return cli_parse_i32(c, a, v, 0, 1024, &o->sp.n_threads);
    case W_CTX: return cli_parse_i32(c, a, v, 0, 1 << 24, &o->sp.n_ctx);
    case W_VERBOSE: o->verbose = 1; return 0;
    }
    return 0;
}

/* Defaults -> strict values -> checks between them. 0, 1 for --help, 2 after a message. */
static int parse(int argc, char **argv, watch_options *o)
{
    memset(o, 0, sizeof *o);
    o->src = vllm_source_default_params();
    o->wp = vllm_watch_default_params();
    o->sp = vllm_session_default_params();
    for (int i = 1; i < argc; i++) {
        size_t k = 0;
        while (k < N_OPTS && strcmp(argv[i], OPTS[k].name) && !(OPTS[k].alias && !strcmp(argv[i], OPTS[k].alias))) k++;
        if (k == N_OPTS) return cli_usage_error("watch", "unknown option '%s'", argv[i]);
        if (OPTS[k].id == W_HELP) return help(), 1;
        const char *v = NULL;
        if (OPTS[k].arg) {
            if (i + 1 >= argc) return cli_usage_error("watch", "%s needs a value (%s)", argv[i], OPTS[k].arg);
            v = argv[++i];
        }
        if (apply(o, OPTS[k].id, argv[i - (v != NULL)], v)) return cli_usage_hint("watch");
    }
    if (!o->model) return cli_usage_error("watch", "no model: give -m MODEL.gguf");
    if (!o->mmproj) return cli_usage_error("watch", "no vision projector: give --mmproj MMPROJ.gguf");
    if (!o->video) return cli_usage_error("watch", "no source: give --video URL|DEVICE|-");
    if (!o->n_questions) return cli_usage_error("watch", "no question: give at least one -p QUESTION");
    if (o->wp.every_s == 0 && o->wp.change_threshold == 0)
        return cli_usage_error("watch", "--every 0 and --change 0: the questions would never be evaluated");
    o->wp.notify_all = o->all;
    return 0;
}

typedef struct printer {
    pthread_mutex_t mu;
    const watch_options *o;
    int32_t ids[WATCH_MAX_QUESTIONS];
    int progress;      /* a progress line is on stderr: clear it before printing */
    int failed;
} printer;

static const char *trigger_name(vllm_watch_trigger t)
{
    return t == VLLM_WATCH_PERIOD ? "period" : t == VLLM_WATCH_CHANGE ? "change" : "first";
}

static void on_event(void *user, const vllm_watch_event *e)
{
    printer *p = user;
    int q = 0;
    while (q < p->o->n_questions && p->ids[q] != e->watch_id) q++;
    size_t len = 0;
    char *answer = cli_utf8_sanitize(e->answer, strlen(e->answer), &len);
    pthread_mutex_lock(&p->mu);
    if (p->progress) fputs("\r\033[K", stderr);
    if (p->o->json) {
        json_t *j = json_pack("{s:f, s:i, s:s, s:s%, s:s, s:b, s:f, s:f}", "stream_seconds", e->stream_seconds, "watch",
                              q + 1, "question", q < p->o->n_questions ? p->o->questions[q] : "", "answer",
                              answer ? answer : "", len, "trigger", trigger_name(e->trigger), "changed", e->changed,
                              "change", (double)e->change, "eval_seconds", e->eval_seconds);
        if (j && e->yes_probability >= 0) json_object_set_new(j, "yes_probability", json_real(e->yes_probability));
        if (!j || json_dumpf(j, stdout, JSON_COMPACT) || fputc('\n', stdout) == EOF) p->failed = 1;
        json_decref(j);
    } else {
        printf("[%9.2f s] Q%d: %s\n", e->stream_seconds, q + 1, answer ? answer : "");
    }
    fflush(stdout);
    pthread_mutex_unlock(&p->mu);
    free(answer);
}

static void log_line(void *user, vllm_log_level level, const char *message)
{
    (void)user, (void)level;
    fprintf(stderr, "videollm: %s\n", message);
}

static void nap(double seconds)
{
    struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    nanosleep(&ts, NULL);
}

int cli_watch(int argc, char **argv)
{
    watch_options o;
    const int parsed = parse(argc, argv, &o);
    if (parsed) return parsed == 1 ? 0 : 2;
    if (o.verbose) vllm_set_log_callback(log_line, NULL, VLLM_LOG_DEBUG);
    vllm_model_params mp = vllm_model_default_params();
    mp.mmproj_path = o.mmproj;
    vllm_model *model = NULL;
    vllm_session *s = NULL;
    printer pr = {.o = &o, .progress = isatty(2) && !o.json};
    pthread_mutex_init(&pr.mu, NULL);
    int rc = 1;
    if (vllm_is_error(vllm_model_load(o.model, &mp, &model)) || vllm_is_error(vllm_session_create(model, &o.sp, &s))) {
        fprintf(stderr, "videollm watch: %s\n", vllm_last_error());
        goto out;
    }
    for (int i = 0; i < o.n_questions; i++)
        if (vllm_is_error(vllm_session_watch(s, o.questions[i], &o.wp, on_event, &pr, &pr.ids[i]))) {
            fprintf(stderr, "videollm watch: -p '%s': %s\n", o.questions[i], vllm_last_error());
            goto out;
        }
    if (vllm_is_error(vllm_session_attach_source(s, o.video, &o.src))) {
        fprintf(stderr, "videollm watch: --video %s: %s\n", o.video, vllm_last_error());
        goto out;
    }
    volatile int stop = 0;
    cli_live_on_interrupt(&stop);
    vllm_source_stats st = {.struct_size = sizeof st};
    rc = 0;
    for (;;) {
        vllm_session_source_stats(s, &st);
        if (pr.progress) {
            pthread_mutex_lock(&pr.mu);
            cli_live_progress(stderr, s, &st);
            pthread_mutex_unlock(&pr.mu);
        }
        if (st.state == VLLM_SOURCE_ENDED || st.state == VLLM_SOURCE_FAILED || stop ||
            (o.until > 0 && st.ingested_seconds >= o.until))
            break;
        nap(0.1);
    }
    cli_live_on_interrupt(NULL);
    vllm_session_detach_source(s); /* no event after this */
    if (pr.progress) fputc('\n', stderr);
    if (st.state == VLLM_SOURCE_FAILED) {
        fprintf(stderr, "videollm watch: --video %s: %s\n", o.video, st.message);
        rc = 1;
    }
    if (pr.failed) rc = 1;
out:
    vllm_session_free(s);
    vllm_model_free(model);
    pthread_mutex_destroy(&pr.mu);
    return rc;
}
