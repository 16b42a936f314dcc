/* videollm chat -m MODEL.gguf [media] [options]: questions read one per
 * line; the media and the earlier turns stay in the context.
 *
 * - Ctrl-C during an answer cancels that answer (vllm_session_cancel), not
 *   the program. The SIGINT handler only writes a byte to a pipe; a
 *   watcher thread reads it and calls vllm_session_cancel, so nothing but
 *   write(2) runs in the handler. At the prompt, Ctrl-C says how to quit
 *   and a second one quits.
 * - On a terminal, lines are read with libedit (editing and history);
 *   otherwise with getline, so lines of any length work in scripts.
 * - An error (say, a question that no longer fits the context) is reported
 *   and the chat goes on with the next line. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <editline/readline.h>

#include "cli.h"
#include "cli_ask.h"

/* Lock-free atomics: safe in a signal handler and between threads (a
 * signal may be handled on any thread that does not block it). */
static atomic_int answering;         /* 1 while a question is being answered */
static atomic_int prompt_interrupts; /* Ctrl-C presses at the prompt since the last line */
static int cancel_pipe[2] = {-1, -1};

static void on_sigint(int sig)
{
    (void)sig;
    const int saved = errno;
    if (atomic_load(&answering)) {
        const char one = 1;
        if (write(cancel_pipe[1], &one, 1) < 0) {} /* a full pipe already holds a cancel */
    } else {
        atomic_fetch_add(&prompt_interrupts, 1);
    }
    errno = saved;
}

/* Turns each byte 1 from the pipe into vllm_session_cancel; byte 0 ends it. */
static void *cancel_watcher(void *arg)
{
    vllm_session *s = arg;
    for (;;) {
        char c;
        const ssize_t n = read(cancel_pipe[0], &c, 1);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0 || c == 0) return NULL;
        if (atomic_load(&answering)) vllm_session_cancel(s);
    }
}

/* The next question, malloc'ed, without its line end; NULL at end of input
 * or when the user quits. */
static char *read_question(int tty)
{
    for (;;) {
        const int before = atomic_load(&prompt_interrupts);
        char *line = NULL;
        if (tty) {
            line = readline("> ");
        } else {
            size_t cap = 0;
            errno = 0;
            const ssize_t n = getline(&line, &cap, stdin);
            if (n < 0) {
                free(line);
                line = NULL;
                if (errno == EINTR) clearerr(stdin);
            }
        }
        if (atomic_load(&prompt_interrupts) != before) { /* Ctrl-C at the prompt */
            free(line);
            if (atomic_load(&prompt_interrupts) >= 2) return NULL;
            fprintf(stderr, "\n(Ctrl-C again or Ctrl-D to quit)\n");
            continue;
        }
        if (!line) return NULL;
        atomic_store(&prompt_interrupts, 0);
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0]) {
            free(line);
            continue;
        }
        if (tty) add_history(line);
        return line;
    }
}

static int chat_loop(vllm_model *model, vllm_session *s, cli_ask_options *o, cli_run_report *r)
{
    const int tty = isatty(0);
    int failures = 0;
    const char *first = o->prompt;
    for (;;) {
        char *line = NULL;
        const char *q = first;
        if (!q) q = line = read_question(tty);
        first = NULL;
        if (!q) break;
        r->question++;
        atomic_store(&answering, 1);
        const int rc = cli_answer_question(model, s, o, q, r);
        atomic_store(&answering, 0);
        free(line);
        if (rc == 1) failures++; /* reported; the chat goes on */
    }
    if (tty) fputc('\n', stderr);
    return failures ? 1 : 0;
}

int cli_chat(int argc, char **argv)
{
    cli_run_report r = {.start = cli_now(), .chat = 1};
    cli_ask_options o;
    const int parsed = cli_ask_parse("chat", argc, argv, &o);
    if (parsed) {
        cli_ask_options_free(&o);
        return parsed == CLI_PARSE_HELP ? 0 : parsed;
    }
    vllm_model *model = NULL;
    vllm_session *s = NULL;
    pthread_t watcher;
    int rc = 1, watching = 0;
    /* Threads started from here on (the library's workers, the watcher)
     * block SIGINT, so Ctrl-C is handled on this thread and interrupts its
     * read at the prompt. */
    sigset_t sigint, old_mask;
    sigemptyset(&sigint);
    sigaddset(&sigint, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigint, &old_mask);
    if (cli_open(&o, &model, &s, &r) || cli_push_media(s, &o, &r)) goto done;
    if (o.show_stats) cli_report_media(stderr, &r);
    if (pipe(cancel_pipe) != 0 || pthread_create(&watcher, NULL, cancel_watcher, s) != 0) {
        fprintf(stderr, "videollm chat: cannot set up Ctrl-C handling\n");
        goto done;
    }
    watching = 1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint; /* no SA_RESTART: a read at the prompt returns */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    rc = chat_loop(model, s, &o, &r);
    signal(SIGINT, SIG_DFL);
done:
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    if (watching) {
        const char stop = 0;
        if (write(cancel_pipe[1], &stop, 1) != 1) {}
        pthread_join(watcher, NULL);
    }
    for (int i = 0; i < 2; i++)
        if (cancel_pipe[i] >= 0) close(cancel_pipe[i]);
    vllm_session_free(s);
    vllm_model_free(model);
    cli_ask_options_free(&o);
    return rc;
}
