/* SmolVLM2's video prompt text against transformers' formatting rules:
 * num2words("en") for the frame count, str(timedelta) for the duration,
 * "%02d:%02d" of (t // 60, t % 60) for frame labels. The expected strings
 * are what those Python functions print (num2words 0.5.x). */
#include <string.h>

#include "decoder/video_prompt.h"
#include "harness.h"

static void words(long n, const char *want)
{
    char buf[256];
    size_t len = vl_number_words(n, buf, sizeof buf);
    CHECK(!strcmp(buf, want) && len == strlen(want), "num2words(%ld): got '%s', want '%s'", n, buf, want);
}

TEST_MAIN_BEGIN
    words(0, "zero");
    words(1, "one");
    words(8, "eight");
    words(13, "thirteen");
    words(20, "twenty");
    words(21, "twenty-one");
    words(64, "sixty-four");
    words(100, "one hundred");
    words(101, "one hundred and one");
    words(128, "one hundred and twenty-eight");
    words(1000, "one thousand");
    words(1001, "one thousand and one");
    words(1100, "one thousand, one hundred");
    words(2025, "two thousand and twenty-five");
    words(1234567, "one million, two hundred and thirty-four thousand, five hundred and sixty-seven");

    char buf[256];
    vl_video_intro(10, 10.02, buf, sizeof buf);
    CHECK(!strcmp(buf, "You are provided the following series of ten frames from a 0:00:10 [H:MM:SS] video.\n"), "intro: '%s'", buf);
    vl_video_intro(64, 3725.9, buf, sizeof buf);
    CHECK(!strcmp(buf, "You are provided the following series of sixty-four frames from a 1:02:05 [H:MM:SS] video.\n"), "intro: '%s'", buf);
    vl_video_frame_label(0.0, buf, sizeof buf);
    CHECK(!strcmp(buf, "\nFrame from 00:00:"), "label 0: '%s'", buf);
    vl_video_frame_label(65.9, buf, sizeof buf);
    CHECK(!strcmp(buf, "\nFrame from 01:05:"), "label 65.9: '%s'", buf);
    vl_video_frame_label(6001.0, buf, sizeof buf);
    CHECK(!strcmp(buf, "\nFrame from 100:01:"), "label 6001: '%s'", buf);
    char small[8];
    size_t need = vl_number_words(128, small, sizeof small);
    CHECK(need == strlen("one hundred and twenty-eight") && strlen(small) == 7, "truncation: %zu '%s'", need, small);
TEST_MAIN_END
