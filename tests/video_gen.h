/* Test-side video writer: encodes synthetic clips with libavcodec so the
 * decode tests and benchmarks make their own inputs (no ffmpeg binary).
 *
 * Pattern VG_ID paints each frame with its own index: the left half's luma
 * is 16 + 13·(i mod 16), the right half's 16 + 13·((i / 16) mod 16), chroma
 * neutral, so a decoded frame identifies its source index mod 256 even
 * after lossy coding (vg_identify). VG_CORNER paints the top-left quadrant
 * white on black (to check rotation). VG_STATIC: every frame identical.
 * VG_MOTION: a white 8-pixel square moving 2 px per frame over grey.
 * VG_CAMERA: camera-like content for decode benchmarks: panning texture, a
 * moving disc, drifting chroma and grain that changes every frame. */
#ifndef VL_TESTS_VIDEO_GEN_H
#define VL_TESTS_VIDEO_GEN_H

#include <stddef.h>
#include <stdint.h>

enum { VG_ID = 0, VG_CORNER = 1, VG_STATIC = 2, VG_MOTION = 3, VG_CAMERA = 4 };

typedef struct vg_params {
    const char *path;
    const char *codec;      /* "mpeg4" (default) or "libx264" */
    const char *format;     /* muxer name, default "mp4" */
    int width, height, n_frames;
    int fps_num, fps_den;   /* constant rate (time base = 1/fps) */
    const int64_t *pts_ms;  /* optional: per-frame timestamps in ms (VFR, time base 1/1000) */
    int gop, b_frames;
    int rotation_ccw;       /* display matrix angle as av_display_rotation_set takes it */
    int pattern;
    int faststart;          /* mp4: index at the front */
    int threads;            /* encoder threads (0 = 1) */
    int crf;                /* libx264 quality (0 = 20) */
} vg_params;

/* 0 on success; otherwise -1 with a message in err. */
int vg_write(const vg_params *p, char *err, size_t errlen);

/* A still PNG (libavcodec's png encoder), RGB24 with R = 4x mod 256,
 * G = 5y mod 256, B = 128 at pixel (x, y). 0 on success, else -1 and err. */
int vg_write_png(const char *path, int width, int height, char *err, size_t errlen);

/* 1 if libavcodec has this encoder. */
int vg_have_encoder(const char *name);

/* Index mod 256 painted by VG_ID, read back from packed RGB. */
int vg_identify(const uint8_t *rgb, int width, int height, int stride);

#endif
