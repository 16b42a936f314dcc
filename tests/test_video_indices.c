/* VL_SAMPLE_INDICES (a model family's own index rule, e.g. Qwen-VL's):
 * the iterator yields exactly the frames listed, counted from the start
 * of the range, in every decode mode (seeking, sequential), and refuses
 * lists that are empty, not increasing or past the range with a message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode/video.h"
#include "fixture_set.h"
#include "harness.h"

static int yields(vl_video *v, const vl_sampling *s, const int64_t *want, int n, int64_t offset, const char *what)
{
    REQUIRE(vl_video_sample_begin(v, s) == VLLM_OK, "%s: %s", what, vl_error_message());
    CHECK(vl_video_sample_planned(v) == n, "%s: planned %d, expected %d", what, vl_video_sample_planned(v), n);
    vl_rgb_frame f;
    int got = 0, bad = 0;
    vllm_status st;
    while ((st = vl_video_sample_next(v, &f)) == VLLM_OK) {
        if (got >= n || f.index != want[got] + offset) bad++;
        got++;
    }
    CHECK(st == VLLM_DONE && got == n && bad == 0, "%s: %d frames (%d not as listed), status %d", what, got, bad, st);
    return got;
}

TEST_MAIN_BEGIN
    char path[1100];
    snprintf(path, sizeof path, "%s/test-3.mp4", fx_media_dir());
    vl_video *v = NULL;
    REQUIRE(vl_video_open(path, &v) == VLLM_OK, "%s: %s", path, vl_error_message());
    const int64_t total = vl_video_range_frames(v, 0, 0);
    REQUIRE(total > 100, "%s: %lld frames in the range", path, (long long)total);
    static const int64_t idx[] = {0, 1, 7, 48, 49, 120, 200};
    vl_sampling s = vl_sampling_default();
    s.policy = VL_SAMPLE_INDICES;
    s.indices = idx;
    s.n_indices = 7;
    yields(v, &s, idx, 7, 0, "whole video");
    vl_video_set_decode_mode(v, 1); /* never seek */
    yields(v, &s, idx, 7, 0, "sequential");
    vl_video_set_decode_mode(v, 0);
    /* a range: indices count from its first frame */
    s.start = 2.0;
    const int64_t first = total - vl_video_range_frames(v, 2.0, 0);
    static const int64_t in_range[] = {0, 3, 30};
    s.indices = in_range;
    s.n_indices = 3;
    yields(v, &s, in_range, 3, first, "from 2 s");
    s.start = 0;
    /* refused lists */
    static const int64_t down[] = {4, 2}, past[] = {0, 100000};
    s.indices = down, s.n_indices = 2;
    CHECK(vl_video_sample_begin(v, &s) == VLLM_ERR_INVALID_ARG && strstr(vl_error_message(), "index"), "decreasing: %s",
          vl_error_message());
    s.indices = past;
    CHECK(vl_video_sample_begin(v, &s) == VLLM_ERR_INVALID_ARG && strstr(vl_error_message(), "past"), "past the end: %s",
          vl_error_message());
    s.indices = NULL, s.n_indices = 0;
    CHECK(vl_video_sample_begin(v, &s) == VLLM_ERR_INVALID_ARG, "empty list accepted");
    vl_video_close(v);
TEST_MAIN_END
