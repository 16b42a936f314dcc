/* videollm ask  -m MODEL.gguf [media] -p TEXT [options]   one question, answer streamed
 * videollm chat -m MODEL.gguf [media] [options]           questions read line by line
 *
 * Media (with --mmproj): --video FILE|URL, --image FILE (repeatable), or
 * --frames-from-stdin WxH:FMT (raw frames, e.g. from a camera pipeline). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_ask.h"

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

/* ---- media ------------------------------------------------------------------ */

static int parse_stdin_format(const char *spec, int *w, int *h, vllm_pixel_format *fmt, size_t *bytes)
{
    char name[16];
    if (sscanf(spec, "%dx%d:%15s", w, h, name) != 3 || *w < 2 || *h < 2 || *w > 16384 || *h > 16384) return 1;
    const size_t px = (size_t)*w * (size_t)*h;
    if (!strcmp(name, "rgb24")) *fmt = VLLM_PIXFMT_RGB24, *bytes = px * 3;
    else if (!strcmp(name, "rgba")) *fmt = VLLM_PIXFMT_RGBA, *bytes = px * 4;
    else if (!strcmp(name, "bgra")) *fmt = VLLM_PIXFMT_BGRA, *bytes = px * 4;
    else if (!strcmp(name, "nv12")) *fmt = VLLM_PIXFMT_NV12, *bytes = px + 2 * (size_t)((*w + 1) / 2) * ((*h + 1) / 2);
    else if (!strcmp(name, "yuv420p")) *fmt = VLLM_PIXFMT_YUV420P, *bytes = px + 2 * (size_t)((*w + 1) / 2) * ((*h + 1) / 2);
    else return 1;
    return 0;
}

/* Frames are read until end of input; each is pushed as it arrives. */
static int push_stdin_frames(vllm_session *s, const cli_ask_options *o)
{
    int w, h;
    vllm_pixel_format fmt;
    size_t bytes;
    if (parse_stdin_format(o->stdin_frames, &w, &h, &fmt, &bytes)) {
        fprintf(stderr, "videollm: --frames-from-stdin wants WxH:FMT (FMT rgb24|rgba|bgra|nv12|yuv420p), got '%s'\n",
                o->stdin_frames);
        return 1;
    }
    uint8_t *buf = malloc(bytes);
    if (!buf) return 1;
    const double fps = o->vp.fps > 0 ? o->vp.fps : 1.0;
    int rc = 0;
    for (long i = 0; fread(buf, 1, bytes, stdin) == bytes; i++) {
        vllm_frame f = {.struct_size = sizeof f, .format = fmt, .width = w, .height = h, .pts = (double)i / fps};
        const int cw = (w + 1) / 2, ch = (h + 1) / 2;
        f.planes[0] = buf;
        switch (fmt) {
        case VLLM_PIXFMT_RGB24: f.strides[0] = w * 3; break;
        case VLLM_PIXFMT_RGBA: case VLLM_PIXFMT_BGRA: f.strides[0] = w * 4; break;
        case VLLM_PIXFMT_NV12:
            f.strides[0] = w, f.planes[1] = buf + (size_t)w * h, f.strides[1] = 2 * cw;
            break;
        case VLLM_PIXFMT_YUV420P:
            f.strides[0] = w, f.planes[1] = buf + (size_t)w * h, f.strides[1] = cw;
            f.planes[2] = f.planes[1] + (size_t)cw * ch, f.strides[2] = cw;
            break;
        }
        if (vllm_is_error(vllm_session_push_frame(s, &f))) {
            fprintf(stderr, "videollm: frame %ld: %s\n", i, vllm_session_last_error(s));
            rc = 1;
            break;
        }
        if (isatty(2)) fprintf(stderr, "\rframes %ld", i + 1);
    }
    if (isatty(2)) fputc('\n', stderr);
    free(buf);
    return rc;
}

static int push_media(vllm_session *s, cli_ask_options *o)
{
    for (int i = 0; i < o->n_images; i++)
        if (vllm_is_error(vllm_session_push_image(s, o->images[i]))) {
            fprintf(stderr, "videollm: %s\n", vllm_session_last_error(s));
            return 1;
        }
    if (o->video) {
        if (isatty(2) && !o->json) o->vp.progress = show_progress;
        if (vllm_is_error(vllm_session_push_video(s, o->video, &o->vp))) {
            fprintf(stderr, "videollm: %s\n", vllm_session_last_error(s));
            return 1;
        }
    }
    if (o->stdin_frames) return push_stdin_frames(s, o);
    return 0;
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

static int ask_one(vllm_model *model, vllm_session *s, cli_ask_options *o, const char *prompt)
{
    cli_answer a = {.echo = !o->json};
    o->gp.on_token = on_token;
    o->gp.user_data = &a;
    int rc = 1;
    if (vllm_is_error(vllm_session_query(s, prompt, &o->gp))) {
        fprintf(stderr, "videollm: %s\n", vllm_session_last_error(s));
        goto out;
    }
    if (o->dump_logits) {
        vllm_model_info info = {.struct_size = sizeof info};
        vllm_model_get_info(model, &info);
        const float *lg = vllm_session_logits(s);
        FILE *f = fopen(o->dump_logits, "wb");
        int ok = f && lg && fwrite(lg, sizeof(float), (size_t)info.n_vocab, f) == (size_t)info.n_vocab;
        if (f && fclose(f) != 0) ok = 0;
        if (!ok) {
            fprintf(stderr, "videollm: cannot write %s\n", o->dump_logits);
            goto out;
        }
    }
    vllm_status st;
    while ((st = vllm_session_next_token(s, NULL, NULL, NULL)) == VLLM_OK) {}
    if (vllm_is_error(st)) {
        fprintf(stderr, "\nvideollm: %s\n", vllm_session_last_error(s));
        goto out;
    }
    vllm_session_stats stats = {.struct_size = sizeof stats};
    vllm_session_get_stats(s, &stats);
    if (o->json) {
        if (cli_report_json(stdout, &a, &stats)) goto out;
    } else {
        printf("\n");
        if (o->print_ids) {
            for (size_t i = 0; i < a.n; i++) printf(i ? " %d" : "%d", a.ids[i]);
            printf("\n");
        }
    }
    fflush(stdout);
    if (o->show_stats) cli_report_stats(stderr, &stats);
    rc = 0;
out:
    free(a.ids);
    free(a.text);
    return rc;
}

/* ---- the two commands ------------------------------------------------------------ */

static int run(int argc, char **argv, int interactive)
{
    const char *cmd = interactive ? "chat" : "ask";
    cli_ask_options o;
    const int parsed = cli_ask_parse(cmd, argc, argv, &o);
    if (parsed) {
        cli_ask_options_free(&o);
        return parsed == CLI_PARSE_HELP ? 0 : parsed;
    }
    vllm_model *model = NULL;
    vllm_session *s = NULL;
    int rc = 1;
    if (vllm_is_error(vllm_model_load(o.model_path, &o.mp, &model)) || vllm_is_error(vllm_session_create(model, &o.sp, &s))) {
        fprintf(stderr, "videollm: %s\n", vllm_last_error());
        goto done;
    }
    if (push_media(s, &o)) goto done;
    if (!interactive) {
        rc = ask_one(model, s, &o, o.prompt);
        goto done;
    }
    /* chat: every line is a question; the context (and the media) carries over */
    char line[8192];
    if (o.prompt && ask_one(model, s, &o, o.prompt)) goto done;
    for (;;) {
        if (isatty(0)) fputs("> ", stderr);
        if (!fgets(line, sizeof line, stdin)) break;
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0]) continue;
        if (ask_one(model, s, &o, line)) goto done;
    }
    rc = 0;
done:
    vllm_session_free(s);
    vllm_model_free(model);
    cli_ask_options_free(&o);
    return rc;
}

int cli_ask(int argc, char **argv) { return run(argc, argv, 0); }

int cli_chat(int argc, char **argv) { return run(argc, argv, 1); }
