/* videollm ask -m MODEL.gguf [media] (-p TEXT | -f FILE) [options]: one
 * question, the answer streamed. The pieces `chat` shares (opening the
 * model and session, pushing the media, answering one question) live here
 * too; the interactive loop is cli_chat.c.
 *
 * Media (with --mmproj): --video FILE|URL, --image FILE (repeatable), or
 * --frames-from-stdin WxH:FMT (raw frames, e.g. from a camera pipeline). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_ask.h"

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- progress bar (only when stderr is a terminal) ----------------------- */

static int show_progress(void *user, const char *stage, float fraction)
{
    (void)user;
    const int width = 40, done = (int)(fraction * width + 0.5f);
    fprintf(stderr, "\r%-6s [%.*s%*s] %3d%%", stage, done, "########################################",
            width - done, "", (int)(fraction * 100 + 0.5f));
    if (fraction >= 1.0f) fputc('\n', stderr);
    fflush(stderr);
    return 0;
}

/* ---- model, session, media ---------------------------------------------------- */

static void log_line(void *user, vllm_log_level level, const char *message)
{
    (void)user;
    static const char *const names[] = {"error", "warning", "info", "debug"};
    fprintf(stderr, "videollm: [%s] %s\n", names[level >= 0 && level <= VLLM_LOG_DEBUG ? level : 0], message);
}

/* Settings that work but are probably not what the user meant. */
static void warn_settings(const cli_ask_options *o, const vllm_model *model)
{
    vllm_model_info info = {.struct_size = sizeof info};
    if (!vllm_is_error(vllm_model_get_info(model, &info)) && o->sp.n_ctx > info.n_ctx_train && info.n_ctx_train > 0)
        fprintf(stderr, "videollm %s: warning: -c %d is above the %d positions the model was trained on; "
                        "answers past them may degrade\n", o->cmd, o->sp.n_ctx, info.n_ctx_train);
    const long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores > 0 && o->sp.n_threads > cores)
        fprintf(stderr, "videollm %s: warning: -t %d is above the %ld CPU cores; extra threads only wait\n", o->cmd,
                o->sp.n_threads, cores);
}

int cli_open(cli_ask_options *o, vllm_model **model, vllm_session **s, cli_run_report *r)
{
    if (o->verbose) vllm_set_log_callback(log_line, NULL, VLLM_LOG_DEBUG);
    if (o->gp.temperature > 0 && !o->seed_given) {
        /* sampling without --seed: a different answer each run, and the
         * seed is reported so a run can be repeated */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        o->gp.seed = ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) ^ ((uint64_t)getpid() << 32);
    }
    const double t0 = cli_now();
    if (vllm_is_error(vllm_model_load(o->model_path, &o->mp, model))) {
        fprintf(stderr, "videollm %s: %s\n", o->cmd, vllm_last_error());
        return 1;
    }
    warn_settings(o, *model);
    if (vllm_is_error(vllm_session_create(*model, &o->sp, s))) {
        fprintf(stderr, "videollm %s: %s\n", o->cmd, vllm_last_error());
        return 1;
    }
    r->load_s = cli_now() - t0;
    r->media.struct_size = sizeof r->media;
    vllm_session_get_stats(*s, &r->media);
    return 0;
}

int cli_push_media(vllm_session *s, cli_ask_options *o, cli_run_report *r)
{
    int rc = 0;
    for (int i = 0; i < o->n_images && !rc; i++)
        if (vllm_is_error(vllm_session_push_image(s, o->images[i]))) {
            fprintf(stderr, "videollm %s: %s\n", o->cmd, vllm_session_last_error(s));
            rc = 1;
        }
    if (!rc && o->video && o->until > 0) {
        rc = cli_push_live(s, o);
    } else if (!rc && o->video) {
        if (isatty(2) && !o->json) o->vp.progress = show_progress;
        if (vllm_is_error(vllm_session_push_video(s, o->video, &o->vp))) {
            fprintf(stderr, "videollm %s: %s\n", o->cmd, vllm_session_last_error(s));
            rc = 1;
        }
    }
    if (!rc && o->stdin_frames) rc = cli_push_stdin_frames(s, o);
    vllm_session_get_stats(s, &r->media);
    return rc;
}

/* ---- one answer -------------------------------------------------------------- */

static int on_token(void *user, int32_t token, const char *piece, size_t len)
{
    cli_answer *a = user;
    if (a->echo) {
        fwrite(piece, 1, len, stdout);
        fflush(stdout);
    }
    if (a->len + len + 1 > a->text_cap) {
        size_t cap = a->text_cap ? 2 * a->text_cap : 256;
        while (cap < a->len + len + 1) cap *= 2;
        char *p = realloc(a->text, cap);
        if (!p) return 1;
        a->text = p, a->text_cap = cap;
    }
    memcpy(a->text + a->len, piece, len);
    a->len += len;
    a->text[a->len] = '\0';
    if (token >= 0) {
        if (a->n == a->cap) {
            size_t cap = a->cap ? 2 * a->cap : 64;
            int32_t *p = realloc(a->ids, cap * sizeof *p);
            if (!p) return 1;
            a->ids = p, a->cap = cap;
        }
        a->ids[a->n++] = token;
    }
    return 0;
}

static int dump_logits(const vllm_model *model, vllm_session *s, const char *path)
{
    vllm_model_info info = {.struct_size = sizeof info};
    vllm_model_get_info(model, &info);
    const float *lg = vllm_session_logits(s);
    if (lg && !cli_write_file(path, lg, (size_t)info.n_vocab * sizeof *lg, "the logits")) return 0;
    if (!lg) fprintf(stderr, "videollm: --dump-logits: no logits after the prompt\n");
    return 1;
}

int cli_answer_question(vllm_model *model, vllm_session *s, cli_ask_options *o, const char *prompt, cli_run_report *r)
{
    cli_answer a = {.echo = !o->json};
    o->gp.on_token = on_token;
    o->gp.user_data = &a;
    r->before.struct_size = r->after.struct_size = sizeof r->before;
    vllm_session_get_stats(s, &r->before);
    const double t0 = cli_now();
    int rc = 1;
    vllm_status st = vllm_session_query(s, prompt, &o->gp);
    if (!vllm_is_error(st) && o->dump_logits && dump_logits(model, s, o->dump_logits)) goto out;
    if (!vllm_is_error(st))
        while ((st = vllm_session_next_token(s, NULL, NULL, NULL)) == VLLM_OK) {}
    r->answer_s = cli_now() - t0;
    vllm_session_get_stats(s, &r->after);
    if (a.echo && a.len) fputc('\n', stdout);
    if (st == VLLM_ERR_CANCELLED) {
        fprintf(stderr, "videollm %s: answer stopped (cancelled)\n", o->cmd);
        rc = CLI_ANSWER_CANCELLED;
    } else if (vllm_is_error(st)) {
        fprintf(stderr, "videollm %s: %s\n", o->cmd, vllm_session_last_error(s));
        goto out;
    } else {
        rc = 0;
    }
    r->wall_s = cli_now() - r->start;
    if (o->json) {
        if (cli_report_json(stdout, &a, o, r)) rc = 1;
    } else if (o->print_ids) {
        for (size_t i = 0; i < a.n; i++) printf(i ? " %d" : "%d", a.ids[i]);
        printf("\n");
    }
    fflush(stdout);
    if (o->show_stats) cli_report_stats(stderr, o, r);
out:
    free(a.ids);
    free(a.text);
    return rc;
}

/* ---- ask ------------------------------------------------------------------------ */

int cli_ask(int argc, char **argv)
{
    cli_run_report r = {.start = cli_now(), .chat = 0};
    cli_ask_options o;
    const int parsed = cli_ask_parse("ask", argc, argv, &o);
    if (parsed) {
        cli_ask_options_free(&o);
        return parsed == CLI_PARSE_HELP ? 0 : parsed;
    }
    vllm_model *model = NULL;
    vllm_session *s = NULL;
    int rc = 1;
    if (!cli_open(&o, &model, &s, &r) && !cli_push_media(s, &o, &r))
        rc = cli_answer_question(model, s, &o, o.prompt, &r) ? 1 : 0;
    vllm_session_free(s);
    vllm_model_free(model);
    cli_ask_options_free(&o);
    return rc;
}
