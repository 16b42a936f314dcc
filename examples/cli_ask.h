/* `videollm ask` and `videollm chat`: their shared options (cli_ask_options.c),
 * the answer loop and reports (cli_ask.c, cli_report.c), raw frames from
 * stdin (cli_stdin_frames.c) and the interactive loop (cli_chat.c). */
#ifndef VL_EXAMPLES_CLI_ASK_H
#define VL_EXAMPLES_CLI_ASK_H

#include <stdio.h>

#define VLLM_EXPERIMENTAL
#include "vllm/videollm.h"

#define CLI_MAX_IMAGES 16
#define CLI_MAX_STOPS 16

typedef struct cli_ask_options {
    const char *cmd;             /* "ask" or "chat" (messages, --help) */
    const char *model_path, *prompt, *prompt_file, *dump_logits, *video, *stdin_frames;
    const char *stops[CLI_MAX_STOPS], *images[CLI_MAX_IMAGES];
    char *prompt_owned;          /* -f FILE's text (freed by cli_ask_options_free) */
    int n_images, print_ids, show_stats, fast, json, verbose, seed_given, kv_given;
    double until;                /* > 0: --video is a live source, asked about after this much stream time */
    vllm_model_params mp;
    vllm_video_params vp;
    vllm_generate_params gp;
    vllm_session_params sp;
} cli_ask_options;

/* Defaults, then the arguments, then the checks between them. Returns 0
 * when the options are usable, CLI_PARSE_HELP after printing --help to
 * stdout, or 2 after printing one line saying what is wrong and the hint. */
#define CLI_PARSE_HELP (-1)
int cli_ask_parse(const char *cmd, int argc, char **argv, cli_ask_options *o);
void cli_ask_options_free(cli_ask_options *o);

/* One answer as it streamed: the raw bytes of its pieces (possibly invalid
 * UTF-8, possibly a character split across pieces) and the token ids. */
typedef struct cli_answer {
    int32_t *ids;
    size_t n, cap;
    char *text;
    size_t len, text_cap;
    int echo;                    /* also write each piece to stdout as it comes */
} cli_answer;

/* Figures of one run: what --stats and --json report. Media figures are
 * session totals (counts and times alike); question figures are the
 * difference of the session statistics around that question. */
typedef struct cli_run_report {
    double start;                /* cli_now() when the command started */
    double load_s;               /* model load and session creation */
    double answer_s;             /* the last question: query to its last token */
    double wall_s;               /* start to the end of the last answer */
    int chat;                    /* 1: per-question report of `chat` */
    int question;                /* chat: 1-based number of the question */
    vllm_session_stats media;    /* after the media was pushed */
    vllm_session_stats before, after; /* around the last question */
} cli_run_report;

/* Monotonic seconds. */
double cli_now(void);

/* cli_ask.c, shared with chat. Each prints its error and returns non-zero. */
int cli_open(cli_ask_options *o, vllm_model **model, vllm_session **s, cli_run_report *r);
int cli_push_media(vllm_session *s, cli_ask_options *o, cli_run_report *r);
/* Ask one question, stream or collect the answer, print it (and --stats /
 * --json). 0 ok, CLI_ANSWER_CANCELLED when vllm_session_cancel stopped it,
 * 1 on an error (printed). */
#define CLI_ANSWER_CANCELLED 3
int cli_answer_question(vllm_model *model, vllm_session *s, cli_ask_options *o, const char *prompt,
                        cli_run_report *r);

/* cli_live.c: read o->video as a live source until o->until seconds of
 * stream time are in the session (or it ends), with a progress line on a
 * terminal; 0 ok, 1 after a message. The source is detached on return. */
int cli_push_live(vllm_session *s, const cli_ask_options *o);
/* The progress line: stream time, frames kept/deduped/evicted, lag. */
void cli_live_progress(FILE *f, vllm_session *s, const vllm_source_stats *st);
/* SIGINT sets the flag *stop points to (NULL restores the default). */
void cli_live_on_interrupt(volatile int *stop);

/* cli_stdin_frames.c: the WxH:FMT of --frames-from-stdin (checked while
 * parsing; -1 after a message), and pushing frames until end of input. */
typedef struct cli_stdin_format {
    int32_t width, height;
    vllm_pixel_format format;
    size_t frame_bytes;
} cli_stdin_format;
int cli_stdin_format_parse(const char *cmd, const char *spec, cli_stdin_format *f);
int cli_push_stdin_frames(vllm_session *s, const cli_ask_options *o);

/* cli_report.c: the --json object (one line; the text as valid UTF-8, the
 * ids exact), the --stats lines, and the media lines chat prints once. */
int cli_report_json(FILE *f, const cli_answer *a, const cli_ask_options *o, const cli_run_report *r);
void cli_report_stats(FILE *f, const cli_ask_options *o, const cli_run_report *r);
void cli_report_media(FILE *f, const cli_run_report *r);

#endif
