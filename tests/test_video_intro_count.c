/* The video intro line announces the frames that actually follow.
 *
 * A generated 10 s clip (intra only, 25 fps) has frames 90..140 overwritten,
 * so the targets of the default sampling in that stretch have no decodable
 * frame near them and are not delivered. The prompt's intro ("You are
 * provided the following series of N frames ...") must name the number of
 * frames in the prompt, counted here from the detokenized context: one
 * <global-img> marker per frame. Before the fix the intro was written
 * before sampling with the planned count, announcing more frames than
 * followed. */
#define VLLM_EXPERIMENTAL
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavformat/avformat.h>

#include "fixture_set.h"
#include "harness.h"
#include "video_gen.h"
#include "vllm/videollm.h"

/* Overwrite the packets of frames first..last of a 25 fps clip with 0xff,
 * so the decoder rejects them. */
static void damage(const char *path, int first, int last)
{
    AVFormatContext *fmt = NULL;
    REQUIRE(avformat_open_input(&fmt, path, NULL, NULL) == 0 && avformat_find_stream_info(fmt, NULL) >= 0, "open %s", path);
    const AVStream *st = fmt->streams[0];
    const int64_t step = av_rescale_q(1, (AVRational){1, 25}, st->time_base);
    AVPacket *pkt = av_packet_alloc();
    FILE *f = fopen(path, "r+b");
    REQUIRE(pkt && f, "damage %s", path);
    int done = 0;
    while (av_read_frame(fmt, pkt) >= 0) {
        const int64_t i = (pkt->pts - st->start_time) / step;
        if (i >= first && i <= last) {
            REQUIRE(pkt->pos > 0 && fseek(f, pkt->pos, SEEK_SET) == 0, "packet %lld position", (long long)i);
            for (int b = 0; b < pkt->size; b++) fputc(0xff, f);
            done++;
        }
        av_packet_unref(pkt);
    }
    REQUIRE(done == last - first + 1, "%d of %d packets damaged", done, last - first + 1);
    fclose(f);
    av_packet_free(&pkt);
    avformat_close_input(&fmt);
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

static const char *const words[] = {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                                    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen"};

/* The context's text and how many frames it holds, after pushing `path`. */
static void push_and_read(vllm_model *m, const char *path, char *text, size_t cap, int *n_frames)
{
    vllm_session_params sp = vllm_session_default_params();
    sp.n_ctx = 4096;
    vllm_session *s = NULL;
    REQUIRE(vllm_session_create(m, &sp, &s) == VLLM_OK, "%s", vllm_last_error());
    REQUIRE(vllm_session_push_video(s, path, NULL) == VLLM_OK, "push %s: %s", path, vllm_session_last_error(s));
    const int32_t *ids;
    size_t n, len = 0;
    vllm_session_history(s, &ids, &n);
    for (size_t i = 0; i < n;) { /* visual positions (-1) are left out */
        size_t j = i;
        while (j < n && ids[j] >= 0) j++;
        size_t got = 0;
        REQUIRE(vllm_detokenize(m, ids + i, j - i, VLLM_DETOKENIZE_SPECIAL, text + len, cap - 1 - len, &got) == VLLM_OK,
                "%s", vllm_last_error());
        len += got;
        while (j < n && ids[j] < 0) j++;
        i = j;
    }
    text[len] = '\0';
    *n_frames = count(text, "<global-img>");
    vllm_session_free(s);
}

TEST_MAIN_BEGIN
    char tp[4400], mp[4400], dir[] = "/tmp/vllm_intro_XXXXXX", clip[64], err[256];
    fx_require_model("-text-F32.gguf", tp, sizeof tp);
    fx_require_model("-mmproj-F32.gguf", mp, sizeof mp);
    REQUIRE(mkdtemp(dir), "mkdtemp");
    snprintf(clip, sizeof clip, "%s/clip.mp4", dir);
    vg_params g = {.path = clip, .codec = "mpeg4", .width = 64, .height = 48, .n_frames = 250, .fps_num = 25,
                   .fps_den = 1, .gop = 1, .pattern = VG_ID, .faststart = 1};
    REQUIRE(vg_write(&g, err, sizeof err) == 0, "%s", err);
    vllm_model_params p = vllm_model_default_params();
    p.mmproj_path = mp;
    p.vision_precision = VLLM_VISION_F32;
    vllm_model *m = NULL;
    REQUIRE(vllm_model_load(tp, &p, &m) == VLLM_OK, "%s", vllm_last_error());

    static char text[1 << 20];
    int whole = 0, kept = 0;
    push_and_read(m, clip, text, sizeof text, &whole);
    CHECK(whole >= 8 && whole <= 16, "the undamaged clip gave %d frames", whole);
    char want[128];
    snprintf(want, sizeof want, "series of %s frames", words[whole < 17 ? whole : 0]);
    CHECK(strstr(text, want) != NULL, "undamaged clip: no \"%s\" in the prompt", want);

    damage(clip, 90, 140);
    push_and_read(m, clip, text, sizeof text, &kept);
    CHECK(kept > 0 && kept < whole, "the damaged clip gave %d frames (undamaged %d): no target was lost", kept, whole);
    snprintf(want, sizeof want, "series of %s frames", words[kept > 0 && kept < 17 ? kept : 0]);
    const char *at = strstr(text, "series of ");
    CHECK(strstr(text, want) != NULL, "damaged clip: %d frames follow, the intro says \"%.24s\"", kept, at ? at : "(none)");

    vllm_model_free(m);
    remove(clip);
    rmdir(dir);
TEST_MAIN_END
