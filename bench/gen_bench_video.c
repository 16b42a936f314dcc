/* gen_bench_video OUT.mp4 [SECONDS] [GOP] [camera|static]: a 1920x1080
 * 30 fps clip for bench_video, encoded with libx264 (veryfast, 2 B frames)
 * when libavcodec has it, else MPEG-4 part 2. GOP in frames (default 30,
 * one keyframe per second).
 *   camera (default): panning texture, a moving disc and per-frame grain at
 *            crf 23 — real decoding work at a camera-like bitrate (about
 *            6 Mbit/s), like the reference clip
 *            `testsrc2=s=1920x1080:r=30,noise=alls=3:allf=t`, crf 23.
 *   static:  an 8-pixel square moving over flat grey at crf 20; x264 codes
 *            nearly every macroblock as skipped, so decoding is almost free
 *            (the seek and conversion overheads alone). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "video_gen.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: gen_bench_video OUT.mp4 [SECONDS] [GOP] [camera|static]\n");
        return 2;
    }
    int secs = argc > 2 ? atoi(argv[2]) : 300, gop = argc > 3 ? atoi(argv[3]) : 30;
    const char *content = argc > 4 ? argv[4] : "camera";
    int camera = !strcmp(content, "camera");
    if (!camera && strcmp(content, "static")) {
        fprintf(stderr, "gen_bench_video: content '%s' is neither camera nor static\n", content);
        return 2;
    }
    if (secs <= 0 || secs > 3600 || gop <= 0 || gop > 3000) {
        fprintf(stderr, "gen_bench_video: SECONDS %d must be in 1..3600 and GOP %d in 1..3000\n", secs, gop);
        return 2;
    }
    const char *codec = vg_have_encoder("libx264") ? "libx264" : "mpeg4";
    vg_params p = {.path = argv[1], .codec = codec, .width = 1920, .height = 1080, .n_frames = secs * 30,
                   .fps_num = 30, .fps_den = 1, .gop = gop, .b_frames = 2,
                   .pattern = camera ? VG_CAMERA : VG_MOTION, .crf = camera ? 23 : 20, .threads = 2};
    char err[256] = "";
    if (vg_write(&p, err, sizeof err) != 0) {
        fprintf(stderr, "gen_bench_video: %s\n", err);
        return 1;
    }
    printf("%s: %d s 1920x1080 30 fps %s, GOP %d, %s content\n", argv[1], secs, codec, gop, content);
    return 0;
}
