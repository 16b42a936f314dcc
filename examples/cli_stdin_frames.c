/* ask --frames-from-stdin WxH:FMT: raw frames read from stdin (a camera
 * pipeline, ffmpeg -f rawvideo) and pushed one by one as they arrive.
 * The end of input is the end of the stream: a trailing partial frame is
 * reported with its byte count, and no frame at all is an error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_ask.h"

static const struct {
    const char *name;
    vllm_pixel_format format;
} FORMATS[] = {{"rgb24", VLLM_PIXFMT_RGB24}, {"rgba", VLLM_PIXFMT_RGBA}, {"bgra", VLLM_PIXFMT_BGRA},
               {"nv12", VLLM_PIXFMT_NV12}, {"yuv420p", VLLM_PIXFMT_YUV420P}};

int cli_stdin_format_parse(const char *cmd, const char *spec, cli_stdin_format *f)
{
    const char *x = strchr(spec, 'x'), *colon = x ? strchr(x, ':') : NULL;
    char num[16];
    if (!x || !colon || x == spec || (size_t)(x - spec) >= sizeof num || (size_t)(colon - x - 1) >= sizeof num) {
        fprintf(stderr, "videollm %s: --frames-from-stdin: '%s' is not WxH:FMT (e.g. 640x480:rgb24)\n", cmd, spec);
        return -1;
    }
    memcpy(num, spec, (size_t)(x - spec));
    num[x - spec] = '\0';
    if (cli_parse_i32(cmd, "--frames-from-stdin width", num, 1, 16384, &f->width)) return -1;
    memcpy(num, x + 1, (size_t)(colon - x - 1));
    num[colon - x - 1] = '\0';
    if (cli_parse_i32(cmd, "--frames-from-stdin height", num, 1, 16384, &f->height)) return -1;
    size_t k = 0;
    while (k < sizeof FORMATS / sizeof FORMATS[0] && strcmp(colon + 1, FORMATS[k].name)) k++;
    if (k == sizeof FORMATS / sizeof FORMATS[0]) {
        fprintf(stderr, "videollm %s: --frames-from-stdin: unknown pixel format '%s' (rgb24, rgba, bgra, nv12, yuv420p)\n",
                cmd, colon + 1);
        return -1;
    }
    f->format = FORMATS[k].format;
    const size_t px = (size_t)f->width * (size_t)f->height;
    const size_t chroma = 2 * (size_t)((f->width + 1) / 2) * (size_t)((f->height + 1) / 2);
    switch (f->format) {
    case VLLM_PIXFMT_RGB24: f->frame_bytes = px * 3; break;
    case VLLM_PIXFMT_RGBA: case VLLM_PIXFMT_BGRA: f->frame_bytes = px * 4; break;
    case VLLM_PIXFMT_NV12: case VLLM_PIXFMT_YUV420P: f->frame_bytes = px + chroma; break;
    }
    return 0;
}

/* Bytes read into buf (< n only at the end of input or on an error). */
static size_t read_full(uint8_t *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        const size_t r = fread(buf + got, 1, n - got, stdin);
        if (r == 0) break;
        got += r;
    }
    return got;
}

int cli_push_stdin_frames(vllm_session *s, const cli_ask_options *o)
{
    cli_stdin_format sf;
    if (cli_stdin_format_parse(o->cmd, o->stdin_frames, &sf)) return 1; /* checked while parsing already */
    const int w = sf.width, h = sf.height, cw = (w + 1) / 2, ch = (h + 1) / 2;
    uint8_t *buf = malloc(sf.frame_bytes);
    if (!buf) {
        fprintf(stderr, "videollm %s: out of memory for a %zu-byte frame\n", o->cmd, sf.frame_bytes);
        return 1;
    }
    const double fps = o->vp.fps > 0 ? o->vp.fps : 1.0;
    int rc = 0;
    long i = 0;
    size_t got;
    while ((got = read_full(buf, sf.frame_bytes)) == sf.frame_bytes) {
        vllm_frame f = {.struct_size = sizeof f, .format = sf.format, .width = w, .height = h, .pts = (double)i / fps};
        f.planes[0] = buf;
        switch (sf.format) {
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
            fprintf(stderr, "videollm %s: frame %ld: %s\n", o->cmd, i, vllm_session_last_error(s));
            rc = 1;
            break;
        }
        i++;
        if (isatty(2)) fprintf(stderr, "\rframes %ld", i);
    }
    if (isatty(2) && i) fputc('\n', stderr);
    if (!rc && ferror(stdin)) {
        fprintf(stderr, "videollm %s: --frames-from-stdin: read error after %ld frames\n", o->cmd, i);
        rc = 1;
    } else if (!rc && got > 0) {
        fprintf(stderr, "videollm %s: warning: --frames-from-stdin: input ended inside frame %ld (%zu of %zu bytes of a "
                        "%dx%d %s frame); that partial frame is not used\n",
                o->cmd, i, got, sf.frame_bytes, w, h, strchr(o->stdin_frames, ':') + 1);
    }
    if (!rc && i == 0) {
        fprintf(stderr, "videollm %s: --frames-from-stdin: no frames: stdin ended before one whole %dx%d frame (%zu bytes)\n",
                o->cmd, w, h, sf.frame_bytes);
        rc = 1;
    }
    free(buf);
    return rc;
}
