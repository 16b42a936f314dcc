/* Live sources in the CLI: `ask --video URL --until S` reads the source in
 * the background (vllm_session_attach_source) and asks once S seconds of
 * stream time are in the session; `watch` (cli_watch.c) shares the
 * progress line and the Ctrl-C handling. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_ask.h"

static volatile int *interrupt_flag;

static void on_sigint(int sig)
{
    (void)sig;
    if (interrupt_flag) *interrupt_flag = 1;
}

void cli_live_on_interrupt(volatile int *stop)
{
    interrupt_flag = stop;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = stop ? on_sigint : SIG_DFL;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
}

void cli_live_progress(FILE *f, vllm_session *s, const vllm_source_stats *st)
{
    vllm_session_stats ss = {.struct_size = sizeof ss};
    vllm_session_get_stats(s, &ss);
    fprintf(f, "\rstream %8.1f s | kept %lld deduped %lld dropped %lld evicted %lld | lag %.2f s   ", st->ingested_seconds,
            (long long)st->frames_kept, (long long)st->frames_deduped, (long long)st->frames_dropped,
            (long long)ss.n_frames_evicted, st->lag_seconds);
    fflush(f);
}

static void nap(double seconds)
{
    struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    nanosleep(&ts, NULL);
}

int cli_push_live(vllm_session *s, const cli_ask_options *o)
{
    vllm_source_params p = vllm_source_default_params();
    p.fps = o->vp.fps;
    p.io_timeout_s = o->vp.io_timeout_s;
    if (vllm_is_error(vllm_session_attach_source(s, o->video, &p))) {
        fprintf(stderr, "videollm %s: %s\n", o->cmd, vllm_last_error());
        return 1;
    }
    volatile int stop = 0;
    cli_live_on_interrupt(&stop);
    const int progress = isatty(2) && !o->json;
    vllm_source_stats st = {.struct_size = sizeof st};
    int rc = 0;
    for (;;) {
        vllm_session_source_stats(s, &st);
        if (progress) cli_live_progress(stderr, s, &st);
        if (st.state == VLLM_SOURCE_FAILED) {
            if (progress) fputc('\n', stderr);
            fprintf(stderr, "videollm %s: --video %s: %s\n", o->cmd, o->video, st.message);
            rc = st.frames_kept + st.frames_deduped > 0 ? 0 : 1; /* ask about what came, if anything did */
            break;
        }
        if (st.state == VLLM_SOURCE_ENDED || st.ingested_seconds >= o->until || stop) break;
        nap(0.1);
    }
    if (progress) fputc('\n', stderr);
    cli_live_on_interrupt(NULL);
    vllm_session_detach_source(s);
    return rc;
}
