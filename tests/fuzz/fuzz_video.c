/* libFuzzer target over the in-memory open + decode path of lib/decode:
 * vl_video_open_memory, then three sampling passes (every frame scaled to
 * 32x32, the SmolVLM2 fps rule at native size, ffmpeg's fps selection),
 * each capped at a few frames so one input's work stays bounded. The
 * library must return a status for anything; crashes, leaks and sanitizer
 * reports are the findings.
 *
 * Seeds: any small media files, e.g. tests/data/media/test-3.mp4 and the
 * clips test_video generates (it leaves none behind; run test_video with
 * a breakpoint or copy them from its temp dir). */
#include <stddef.h>
#include <stdint.h>

#include <libavutil/log.h>

#include "decode/video.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    av_log_set_level(AV_LOG_QUIET);
    return 0;
}

static void drain(vl_video *v, const vl_sampling *s)
{
    if (vl_video_sample_begin(v, s) != VLLM_OK) return;
    vl_rgb_frame f;
    int n = 0;
    while (n < 16 && vl_video_sample_next(v, &f) == VLLM_OK) {
        /* touch the first and last byte of the frame */
        volatile uint8_t a = f.rgb[0], b = f.rgb[(size_t)(f.height - 1) * f.stride + 3 * (size_t)f.width - 1];
        (void)a;
        (void)b;
        n++;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vl_video *v = NULL;
    if (vl_video_open_memory(data, size, &v) != VLLM_OK) return 0;
    vl_video_set_packet_budget(v, 2000);
    vl_video_set_threads(v, 1); /* deterministic and cheap per input */
    const vl_video_info *in = vl_video_get_info(v);
    /* native-size passes only for small pictures, to keep each run quick */
    int small = (int64_t)in->coded_width * in->coded_height <= 640 * 480;
    vl_sampling s = vl_sampling_default();
    s.policy = VL_SAMPLE_ALL;
    s.max_frames = 8;
    s.out_width = 32;
    s.out_height = 32;
    drain(v, &s);
    if (small) {
        s = vl_sampling_default();
        s.max_frames = 4;
        drain(v, &s);
        s.policy = VL_SAMPLE_FFMPEG_FPS;
        s.fps = 2;
        s.max_frames = 4;
        drain(v, &s);
    }
    vl_video_close(v);
    return 0;
}
