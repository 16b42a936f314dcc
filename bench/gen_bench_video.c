/* gen_bench_video OUT.mp4 [SECONDS] [GOP]: a 1920x1080 30 fps clip for
 * bench_video, encoded with libx264 (veryfast, crf 20) when libavcodec has
 * it, else MPEG-4 part 2; a moving square over grey. GOP in frames
 * (default 30, i.e. one keyframe per second). */
#include <stdio.h>
#include <stdlib.h>

#include "video_gen.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: gen_bench_video OUT.mp4 [SECONDS] [GOP]\n");
        return 2;
    }
    int secs = argc > 2 ? atoi(argv[2]) : 300, gop = argc > 3 ? atoi(argv[3]) : 30;
    const char *codec = vg_have_encoder("libx264") ? "libx264" : "mpeg4";
    vg_params p = {.path = argv[1], .codec = codec, .width = 1920, .height = 1080, .n_frames = secs * 30,
                   .fps_num = 30, .fps_den = 1, .gop = gop, .b_frames = 2, .pattern = VG_MOTION, .threads = 2};
    char err[256] = "";
    if (vg_write(&p, err, sizeof err) != 0) {
        fprintf(stderr, "gen_bench_video: %s\n", err);
        return 1;
    }
    printf("%s: %d s 1920x1080 30 fps %s, GOP %d\n", argv[1], secs, codec, gop);
    return 0;
}
