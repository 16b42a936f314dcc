/* ask --frames-from-stdin WxH:FMT: raw frames read from stdin (a camera
 * pipeline, ffmpeg -f rawvideo) and pushed one by one as they arrive. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_ask.h"

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
int cli_push_stdin_frames(vllm_session *s, const cli_ask_options *o)
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

