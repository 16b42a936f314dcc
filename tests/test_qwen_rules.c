/* The Qwen-VL families' prompt rules (lib/family/qwen_vl_rules.h):
 *
 *  1. frame sampling: values worked out by hand from transformers'
 *     formulas (Qwen2VLVideoProcessor's arange, Qwen3VLVideoProcessor's
 *     rounded linspace), then many durations / frame rates against a
 *     rebuild of those formulas written here;
 *  2. frame sizes: Qwen2.5-VL per frame, Qwen3-VL over the clip (hand
 *     values, half-to-even rounding, the min budget path);
 *  3. Qwen3-VL group timestamps and their "<x.y seconds>" text, an odd
 *     frame count (the last group padded), the layouts of a still and a
 *     video in both families;
 *  4. the llama.cpp compat layout against the fixtures' chunk lists and,
 *     through vl_mrope_positions, their M-RoPE positions
 *     (tiny-qwen25vl and tiny-qwen3vl ref/video/F32_ref_info.json);
 *  5. token limits to pixel budgets; bad input gets errors. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "decoder/llm_rope.h"
#include "family/qwen_vl_rules.h"
#include "harness.h"
#include "json.h"

/* ---- independent rebuild of transformers' sampling ----------------------- */

/* Qwen2VLVideoProcessor.sample_frames with fps: Python semantics */
static int ref_sample_qwen25(long total, double vfps, double fps, int *out)
{
    long max_frames = 768 < total ? 768 : total;
    max_frames = max_frames / 2 * 2; /* math.floor(x / 2) * 2 on a non-negative int */
    double n = total / vfps * fps;
    n = n > 4 ? n : 4;
    n = n < max_frames ? n : (double)max_frames;
    n = n < total ? n : (double)total;
    long num = (long)floor(n / 2) * 2;
    if (num == 0) return -1;
    double step = (double)total / num;
    int k = 0;
    for (double i = 0; i < ceil(total / step); i++) { /* arange's size */
        float v = (float)(i * step);
        if ((long)v >= total) break; /* transformers: IndexError; the n frames it meant */
        out[k++] = (int)v;
    }
    return k;
}

/* Qwen3VLVideoProcessor.sample_frames with fps */
static int ref_sample_qwen3(long total, double vfps, double fps, int *out)
{
    long n = (long)(total / vfps * fps);
    if (n < 4) n = 4;
    if (n > 768) n = 768;
    if (n > total) n = total;
    for (long i = 0; i < n; i++) {
        double v = n == 1 ? 0 : (i == n - 1 ? (double)(total - 1) : i * ((double)(total - 1) / (n - 1)));
        double r = floor(v);
        double frac = v - r;
        /* numpy round: half to even */
        if (frac > 0.5 || (frac == 0.5 && fmod(r, 2) != 0)) r += 1;
        out[i] = (int)r;
    }
    return (int)n;
}

static void test_sampling_hand(void)
{
    int32_t idx[1024];
    int n;
    vl_qwen_video_rules q25 = vl_qwen_video_rules_default(VL_QWEN25VL), q3 = vl_qwen_video_rules_default(VL_QWEN3VL);

    /* Qwen2.5-VL, 241 frames at 24 fps: 20.08 -> 20 frames, step 12.05 */
    CHECK(vl_qwen_video_sample(VL_QWEN25VL, &q25, 241, 24, idx, 1024, &n) == VLLM_OK, "%s", vl_error_message());
    static const int e25[] = {0, 12, 24, 36, 48, 60, 72, 84, 96, 108, 120, 132, 144, 156, 168, 180, 192, 204, 216, 228};
    CHECK(n == 20, "qwen25 241@24: %d frames", n);
    for (int i = 0; i < 20 && n == 20; i++) CHECK(idx[i] == e25[i], "qwen25 241@24 idx[%d] = %d, want %d", i, idx[i], e25[i]);
    /* 1 s at 30 fps: 2 frames raised to min_frames 4, step 7.5 */
    CHECK(vl_qwen_video_sample(VL_QWEN25VL, &q25, 30, 30, idx, 1024, &n) == VLLM_OK && n == 4 && idx[0] == 0 &&
              idx[1] == 7 && idx[2] == 15 && idx[3] == 22,
          "qwen25 30@30: n %d", n);
    /* 3 frames: max_frames floors to 2 */
    CHECK(vl_qwen_video_sample(VL_QWEN25VL, &q25, 3, 30, idx, 1024, &n) == VLLM_OK && n == 2 && idx[0] == 0 && idx[1] == 1,
          "qwen25 3@30: n %d", n);
    /* 17 frames at 2.4 fps: 14 frames, step 17/14; torch sizes this arange
     * 15 (17 / (17/14) = 14.000000000000002) with a last index 17 that
     * transformers cannot index: the 14 it meant */
    static const int e17[] = {0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 12, 13, 14, 15};
    CHECK(vl_qwen_video_sample(VL_QWEN25VL, &q25, 17, 2.4, idx, 1024, &n) == VLLM_OK && n == 14, "qwen25 17@2.4: n %d", n);
    for (int i = 0; i < 14 && n == 14; i++) CHECK(idx[i] == e17[i], "qwen25 17@2.4 idx[%d] = %d, want %d", i, idx[i], e17[i]);
    /* 30 frames at 2.7 fps: 22 frames; 11 · (30/22) is 14.999999999999998
     * in double, float32 15: frame 15 */
    CHECK(vl_qwen_video_sample(VL_QWEN25VL, &q25, 30, 2.7, idx, 1024, &n) == VLLM_OK && n == 22 && idx[11] == 15,
          "qwen25 30@2.7: n %d idx[11] %d", n, idx[11]);
    CHECK(vl_qwen_video_sample(VL_QWEN25VL, &q25, 1, 30, idx, 1024, &n) == VLLM_ERR_INVALID_ARG, "qwen25 one frame");
    CHECK(strstr(vl_error_message(), "1 frames"), "error names the count: %s", vl_error_message());

    /* Qwen3-VL, 2.5 s at 30 fps: int(5.0) = 5 frames (odd, not rounded),
     * linspace(0, 74, 5) = 0 18.5 37 55.5 74 -> half to even 0 18 37 56 74 */
    CHECK(vl_qwen_video_sample(VL_QWEN3VL, &q3, 75, 30, idx, 1024, &n) == VLLM_OK, "%s", vl_error_message());
    CHECK(n == 5 && idx[0] == 0 && idx[1] == 18 && idx[2] == 37 && idx[3] == 56 && idx[4] == 74, "qwen3 75@30: n %d idx1 %d idx3 %d",
          n, idx[1], idx[3]);
    /* 1 s at 30 fps: min_frames 4: linspace(0, 29, 4) = 0 9.67 19.33 29 */
    CHECK(vl_qwen_video_sample(VL_QWEN3VL, &q3, 30, 30, idx, 1024, &n) == VLLM_OK && n == 4 && idx[1] == 10 && idx[2] == 19 &&
              idx[3] == 29,
          "qwen3 30@30: n %d", n);
    /* 10 min at 30 fps: 1200 -> max_frames 768 */
    CHECK(vl_qwen_video_sample(VL_QWEN3VL, &q3, 18000, 30, idx, 1024, &n) == VLLM_OK && n == 768 && idx[767] == 17999,
          "qwen3 long: n %d", n);
    CHECK(vl_qwen_video_sample(VL_QWEN3VL, &q3, 18000, 30, idx, 100, &n) == VLLM_ERR_INVALID_ARG, "small buffer");
    CHECK(vl_qwen_video_sample(VL_QWEN3VL, &q3, 0, 30, idx, 1024, &n) == VLLM_ERR_INVALID_ARG, "no frames");
    CHECK(vl_qwen_video_sample(VL_QWEN3VL, &q3, 10, NAN, idx, 1024, &n) == VLLM_ERR_INVALID_ARG, "NaN fps");
    vl_qwen_video_rules bad = q3;
    bad.fps = 0;
    CHECK(vl_qwen_video_sample(VL_QWEN3VL, &bad, 10, 30, idx, 1024, &n) == VLLM_ERR_INVALID_ARG &&
              strstr(vl_error_message(), "fps 0"),
          "fps 0: %s", vl_error_message());
}

static void test_sampling_sweep(void)
{
    static const double rates[] = {23.976, 24, 25, 29.97, 30, 50, 59.94, 60, 7.5, 1};
    static const double durations[] = {0.2, 0.5, 1, 1.7, 2.5, 3.3, 10.024, 37, 61.5, 300, 1000};
    int32_t idx[1024];
    int ref[1024], n, mism = 0, cases = 0;
    for (int fam = 0; fam < 2; fam++) {
        vl_qwen_video_rules r = vl_qwen_video_rules_default((vl_qwen_family)fam);
        for (size_t a = 0; a < sizeof rates / sizeof *rates; a++)
            for (size_t b = 0; b < sizeof durations / sizeof *durations; b++)
                for (double fps = 0.5; fps <= 4; fps *= 2) {
                    long total = (long)floor(rates[a] * durations[b]);
                    if (total < 1) continue;
                    r.fps = fps;
                    int rn = fam ? ref_sample_qwen3(total, rates[a], fps, ref) : ref_sample_qwen25(total, rates[a], fps, ref);
                    vllm_status st = vl_qwen_video_sample((vl_qwen_family)fam, &r, total, rates[a], idx, 1024, &n);
                    cases++;
                    if (rn < 0) {
                        mism += st != VLLM_ERR_INVALID_ARG;
                        continue;
                    }
                    int bad = st != VLLM_OK || n != rn;
                    for (int i = 0; !bad && i < n; i++) bad = idx[i] != ref[i];
                    if (bad && mism < 5)
                        fprintf(stderr, "family %d total %ld @%g fps %g: n %d want %d\n", fam, total, rates[a], fps, n, rn);
                    mism += bad;
                }
    }
    CHECK(mism == 0, "%d of %d sampling cases differ from the rebuild", mism, cases);
    CHECK(cases > 400, "sweep ran %d cases", cases);
}

static void test_sizes(void)
{
    vl_qwen_video_rules q25 = vl_qwen_video_rules_default(VL_QWEN25VL), q3 = vl_qwen_video_rules_default(VL_QWEN3VL);
    int w = 0, h = 0;
    /* 720x358 per frame, factor 28: 26x13 units, inside [128, 768]·28² */
    CHECK(vl_qwen_video_frame_size(VL_QWEN25VL, &q25, 20, 720, 358, &w, &h) == VLLM_OK && w == 728 && h == 364,
          "qwen25 720x358 -> %dx%d", w, h);
    /* Qwen3-VL, factor 32: 22.5 units rounds to 22 (half to even) */
    CHECK(vl_qwen_video_frame_size(VL_QWEN3VL, &q3, 2, 720, 358, &w, &h) == VLLM_OK && w == 704 && h == 352,
          "qwen3 T2 -> %dx%d", w, h);
    /* T=4: 4·352·704 > 768·32², beta = sqrt(4·358·720 / 786432) */
    CHECK(vl_qwen_video_frame_size(VL_QWEN3VL, &q3, 4, 720, 358, &w, &h) == VLLM_OK && w == 608 && h == 288,
          "qwen3 T4 -> %dx%d", w, h);
    /* T=5: t_bar = round(2.5)·2 = 4, but beta uses 5 */
    CHECK(vl_qwen_video_frame_size(VL_QWEN3VL, &q3, 5, 720, 358, &w, &h) == VLLM_OK && w == 544 && h == 256,
          "qwen3 T5 -> %dx%d", w, h);
    /* T=5: t_bar = round(2.5)·2 = 4, 4·416² fits 768·32² (5·416² would not) */
    CHECK(vl_qwen_video_frame_size(VL_QWEN3VL, &q3, 5, 416, 416, &w, &h) == VLLM_OK && w == 416 && h == 416,
          "qwen3 T5 416 -> %dx%d", w, h);
    CHECK(vl_qwen_video_frame_size(VL_QWEN3VL, &q3, 20, 720, 358, &w, &h) == VLLM_OK && w == 256 && h == 128,
          "qwen3 T20 -> %dx%d", w, h);
    /* min budget: 4·64² < 128·32², beta = sqrt(8) -> ceil(5.66) = 6 units */
    CHECK(vl_qwen_video_frame_size(VL_QWEN3VL, &q3, 4, 64, 64, &w, &h) == VLLM_OK && w == 192 && h == 192,
          "qwen3 64x64 -> %dx%d", w, h);
    CHECK(vl_qwen_video_frame_size(VL_QWEN3VL, &q3, 1, 720, 358, &w, &h) == VLLM_ERR_INVALID_ARG, "qwen3 one frame");
    CHECK(vl_qwen_video_frame_size(VL_QWEN3VL, &q3, 4, 10000, 40, &w, &h) == VLLM_ERR_INVALID_ARG &&
              strstr(vl_error_message(), "aspect"),
          "aspect: %s", vl_error_message());
    CHECK(vl_qwen_video_frame_size(VL_QWEN25VL, &q25, 4, 0, 40, &w, &h) == VLLM_ERR_INVALID_ARG, "zero width");
}

static void test_timestamps_and_layouts(void)
{
    char buf[64];
    vl_qwen3_timestamp_text(1.0, buf, sizeof buf);
    CHECK(strcmp(buf, "<1.0 seconds>") == 0, "%s", buf);
    vl_qwen3_timestamp_text(0.25, buf, sizeof buf); /* exact tie: half to even, as Python */
    CHECK(strcmp(buf, "<0.2 seconds>") == 0, "%s", buf);
    vl_qwen_llamacpp_stamp_text(5000, buf, sizeof buf);
    CHECK(strcmp(buf, "[0m5.00s]") == 0, "%s", buf);
    vl_qwen_llamacpp_stamp_text(75250, buf, sizeof buf);
    CHECK(strcmp(buf, "[1m15.25s]") == 0, "%s", buf);

    /* odd count: 5 frames of a 30 fps clip, the last group padded with
     * frame 74: times (0 + 18)/2/30, (37 + 56)/2/30, 74/30 */
    const int32_t idx[5] = {0, 18, 37, 56, 74};
    double t[3];
    CHECK(vl_qwen3_group_times(idx, 5, 2, 30, t, 3) == VLLM_OK, "%s", vl_error_message());
    CHECK(fabs(t[0] - 0.3) < 1e-12 && fabs(t[1] - 1.55) < 1e-12 && fabs(t[2] - 74.0 / 30) < 1e-12, "times %g %g %g", t[0],
          t[1], t[2]);
    CHECK(vl_qwen3_group_times(idx, 5, 2, 30, t, 2) == VLLM_ERR_INVALID_ARG, "group buffer too small");

    vl_qwen_video_rules q3 = vl_qwen_video_rules_default(VL_QWEN3VL), q25 = vl_qwen_video_rules_default(VL_QWEN25VL);
    vl_qwen_piece p[16];
    int n = 0;
    CHECK(vl_qwen_layout_video(VL_QWEN3VL, &q3, 5, 4, 8, t, p, 16, &n) == VLLM_OK && n == 12, "qwen3 layout: %d pieces", n);
    const char *want3[] = {"<0.3 seconds>", "<|vision_start|>", NULL, "<|vision_end|>", "<1.6 seconds>", "<|vision_start|>",
                           NULL, "<|vision_end|>", "<2.5 seconds>", "<|vision_start|>", NULL, "<|vision_end|>"};
    for (int i = 0; i < 12 && n == 12; i++) {
        if (want3[i])
            CHECK(p[i].kind == VL_QWEN_PIECE_TEXT && strcmp(p[i].text, want3[i]) == 0, "qwen3 piece %d '%s'", i, p[i].text);
        else
            CHECK(p[i].kind == VL_QWEN_PIECE_VISUAL && p[i].pad == VL_QWEN_PAD_VIDEO && p[i].grid.grid_t == 1 &&
                      p[i].grid.grid_h == 4 && p[i].grid.grid_w == 8,
                  "qwen3 piece %d visual", i);
    }
    if (n == 12) CHECK(p[10].first_frame == 4 && p[10].n_frames == 1, "last group: frame %d x%d", p[10].first_frame, p[10].n_frames);

    /* Qwen2.5-VL: one block of ceil(5/2) = 3 temporal patches, t_step
     * second_per_grid_t (2/2 fps = 1 s) x tokens_per_second 2 */
    CHECK(vl_qwen_layout_video(VL_QWEN25VL, &q25, 5, 4, 8, NULL, p, 16, &n) == VLLM_OK && n == 3, "qwen25 layout %d", n);
    CHECK(p[1].kind == VL_QWEN_PIECE_VISUAL && p[1].grid.grid_t == 3 && p[1].grid.t_step == 2.0 && p[1].pad == VL_QWEN_PAD_VIDEO &&
              strcmp(p[0].text, "<|vision_start|>") == 0 && strcmp(p[2].text, "<|vision_end|>") == 0,
          "qwen25 video block t %d step %g", p[1].grid.grid_t, p[1].grid.t_step);
    CHECK(vl_qwen_layout_video(VL_QWEN3VL, &q3, 5, 4, 8, NULL, p, 16, &n) == VLLM_ERR_INVALID_ARG, "qwen3 needs times");
    CHECK(vl_qwen_layout_video(VL_QWEN3VL, &q3, 5, 4, 8, t, p, 4, &n) == VLLM_ERR_INVALID_ARG, "pieces overflow");

    /* still: the same in both families */
    CHECK(vl_qwen_layout_still(5, 6, p, 16, &n) == VLLM_OK && n == 3 && p[1].pad == VL_QWEN_PAD_IMAGE && p[1].grid.grid_t == 1 &&
              p[1].grid.grid_h == 5 && p[1].grid.grid_w == 6 && p[1].grid.t_step == 0,
          "still layout");
    CHECK(vl_qwen_layout_still(0, 6, p, 16, &n) == VLLM_ERR_INVALID_ARG, "empty grid");

    /* the items vl_mrope_positions takes: HF rule, Qwen2.5-VL video */
    CHECK(vl_qwen_layout_video(VL_QWEN25VL, &q25, 4, 2, 2, NULL, p, 16, &n) == VLLM_OK, "%s", vl_error_message());
    vl_mrope_item items[3];
    const int32_t tok[3] = {1, 0, 1};
    CHECK(vl_qwen_layout_mrope_items(p, n, tok, items) == VLLM_OK, "%s", vl_error_message());
    int32_t pos[10 * VL_POS_SECTIONS], next = 0;
    CHECK(vl_mrope_positions(items, 3, VL_MROPE_HF, 0, pos, 10, &next) == VLLM_OK, "%s", vl_error_message());
    /* vision_start at 0, block at 1: t = 1 + 2k for the two temporal patches */
    CHECK(pos[(1 + 4) * VL_POS_SECTIONS] == 3 && pos[1 * VL_POS_SECTIONS] == 1, "temporal ids %d %d",
          pos[1 * VL_POS_SECTIONS], pos[5 * VL_POS_SECTIONS]);
    const int32_t zero[3] = {1, 0, 0};
    CHECK(vl_qwen_layout_mrope_items(p, n, zero, items) == VLLM_ERR_INVALID_ARG, "text piece without tokens");
}

/* The fixture's chunk list as one string: texts verbatim, image chunks as
 * {frames:ny x nx}. */
static int fixture_string(const json *chunks, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = 0;
    for (size_t i = 0; i < chunks->n; i++) {
        const json *c = json_at(chunks, i);
        const char *type = json_str(json_get(c, "type"), "");
        if (strcmp(type, "text") == 0)
            len += (size_t)snprintf(out + len, cap - len, "%s", json_str(json_get(c, "text"), ""));
        else
            len += (size_t)snprintf(out + len, cap - len, "{%d:%dx%d}", (int)json_num(json_get(c, "n_frames_in_temporal_patch"), -1),
                                    (int)json_num(json_get(c, "ny"), -1), (int)json_num(json_get(c, "nx"), -1));
        if (len >= cap) return 0;
    }
    return 1;
}

static void test_llamacpp_layout(const char *data, const char *set, int n_frames)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/ref/video/F32_ref_info.json", data, set);
    json *info = json_load(path);
    REQUIRE(info, "cannot read %s", path);
    const json *chunks = json_get(info, "chunks");
    REQUIRE(chunks && chunks->type == JV_ARR, "%s: no chunk list", path);
    static char want[16384], got[16384];
    REQUIRE(fixture_string(chunks, want, sizeof want), "chunk list too long");
    const json *c1 = json_at(chunks, 1);
    const int gh = (int)json_num(json_get(c1, "ny"), 0), gw = (int)json_num(json_get(c1, "nx"), 0);

    int cap = vl_qwen_layout_llamacpp_cap(n_frames, 4.0);
    vl_qwen_piece *p = calloc((size_t)cap, sizeof *p);
    REQUIRE(p, "oom");
    int n = 0;
    CHECK(vl_qwen_layout_video_llamacpp(n_frames, 4.0, gh, gw, p, cap, &n) == VLLM_OK, "%s", vl_error_message());
    size_t len = (size_t)snprintf(got, sizeof got, "<|im_start|>user\n");
    for (int i = 0; i < n; i++) {
        if (p[i].kind == VL_QWEN_PIECE_TEXT)
            len += (size_t)snprintf(got + len, sizeof got - len, "%s", p[i].text);
        else
            len += (size_t)snprintf(got + len, sizeof got - len, "{%d:%dx%d}", p[i].n_frames, p[i].grid.grid_h, p[i].grid.grid_w);
    }
    snprintf(got + len, sizeof got - len, "Describe this video.<|im_end|>\n<|im_start|>assistant\n");
    CHECK(strcmp(got, want) == 0, "%s: llama.cpp layout differs\n got: %.600s\nwant: %.600s", set, got, want);
    /* frames covered in order, each once */
    int next = 0;
    for (int i = 0; i < n; i++)
        if (p[i].kind == VL_QWEN_PIECE_VISUAL) {
            CHECK(p[i].first_frame == next, "%s: chunk starts at frame %d, want %d", set, p[i].first_frame, next);
            next = p[i].first_frame + p[i].n_frames;
        }
    CHECK(next == n_frames, "%s: %d of %d frames laid out", set, next, n_frames);

    /* positions of the whole prompt from our pieces: text pieces counted
     * in tokens by the fixture's tokenizer behaviour (markers are one
     * token; the Qwen2 pre-tokenizer splits "[0m5.00s]" into one token per
     * character; "Video:" is V + ideo + :), the user / assistant text from
     * the first and last chunk; llama.cpp's M-RoPE rule -> its positions */
    const int n_items = n + 2;
    vl_mrope_item *items = calloc((size_t)n_items, sizeof *items);
    int32_t *tok = calloc((size_t)n, sizeof *tok);
    REQUIRE(items && tok, "oom");
    for (int i = 0; i < n; i++)
        tok[i] = p[i].text[0] == '<' ? 1 : strcmp(p[i].text, "Video:") == 0 ? 3 : (int32_t)strlen(p[i].text);
    items[0].n_text = 4; /* <|im_start|> us er \n */
    const json *last = json_at(chunks, chunks->n - 1);
    items[n_items - 1].n_text = (int32_t)json_num(json_get(last, "n_tokens"), 0) - 1; /* after <|vision_end|> */
    CHECK(vl_qwen_layout_mrope_items(p, n, tok, items + 1) == VLLM_OK, "%s", vl_error_message());
    const int64_t total = vl_mrope_count(items, n_items);
    const int64_t want_n = (int64_t)json_num(json_get(info, "n_prompt_tokens"), -1);
    CHECK(total == want_n, "%s: %lld prompt tokens, llama.cpp %lld", set, (long long)total, (long long)want_n);
    if (total == want_n && total > 0) {
        int32_t *pos = malloc((size_t)total * VL_POS_SECTIONS * sizeof *pos), nextp = 0;
        REQUIRE(pos, "oom");
        CHECK(vl_mrope_positions(items, n_items, VL_MROPE_LLAMACPP, 0, pos, total, &nextp) == VLLM_OK, "%s",
              vl_error_message());
        snprintf(path, sizeof path, "%s/%s/ref/video/F32_ref_mrope_pos.i32", data, set);
        size_t bytes = 0;
        int32_t *ref = (int32_t *)read_file_all(path, &bytes);
        REQUIRE(ref && bytes == (size_t)total * 4 * sizeof(int32_t), "%s: %zu bytes", path, bytes);
        int64_t diff = 0;
        for (int64_t i = 0; i < total; i++)
            for (int sct = 0; sct < VL_POS_SECTIONS; sct++) diff += pos[i * VL_POS_SECTIONS + sct] != ref[sct * total + i];
        CHECK(diff == 0, "%s: %lld positions differ from llama.cpp's", set, (long long)diff);
        CHECK(nextp == (int32_t)json_num(json_get(info, "n_past_after_prompt"), -1), "%s: next position %d", set, nextp);
        free(ref);
        free(pos);
    }
    free(items);
    free(tok);
    free(p);
    json_free(info);
}

/* The streaming pairing rule (vl_qwen_llamacpp_frame_stamped: a stamped
 * frame never starts a pair) against the whole llama.cpp layout, for
 * rates above, at and below one frame per stamp interval. */
static void test_llamacpp_stamped(void)
{
    static const double rates[] = {4.0, 2.0, 1.0, 0.5, 0.2, 0.1, 3.0, 7.5, 0.3};
    for (size_t r = 0; r < sizeof rates / sizeof *rates; r++) {
        const int n_frames = 150;
        const int cap = vl_qwen_layout_llamacpp_cap(n_frames, rates[r]);
        vl_qwen_piece *p = calloc((size_t)cap, sizeof *p);
        int n = 0, bad = 0;
        CHECK(vl_qwen_layout_video_llamacpp(n_frames, rates[r], 1, 1, p, cap, &n) == VLLM_OK, "%s", vl_error_message());
        for (int i = 0; i < n; i++) {
            if (p[i].kind != VL_QWEN_PIECE_VISUAL) continue;
            const int first = p[i].first_frame, last = first + p[i].n_frames - 1;
            /* the chunk's "<|vision_end|>", then a stamp when one follows */
            const int stamped_after = i + 2 < n && p[i + 2].kind == VL_QWEN_PIECE_TEXT && p[i + 2].text[0] == '[';
            /* a pair starts on an unstamped frame; a chunk is followed by a stamp iff its last frame is stamped */
            bad += p[i].n_frames == 2 && vl_qwen_llamacpp_frame_stamped(first, rates[r]);
            bad += p[i].n_frames == 1 && last + 1 < n_frames && !vl_qwen_llamacpp_frame_stamped(first, rates[r]);
            bad += stamped_after != vl_qwen_llamacpp_frame_stamped(last, rates[r]);
        }
        CHECK(bad == 0, "fps %g: %d chunks disagree with vl_qwen_llamacpp_frame_stamped", rates[r], bad);
        free(p);
    }
}

static void test_token_pixels(void)
{
    int64_t px = 0;
    CHECK(vl_qwen_token_pixels(36, 14, 2, &px) == VLLM_OK && px == 36 * 784, "36 tokens -> %lld", (long long)px);
    CHECK(vl_qwen_token_pixels(VL_QWEN_LLAMACPP_MAX_TOKENS, 16, 2, &px) == VLLM_OK && px == 4096LL * 1024, "4096 tokens");
    CHECK(vl_qwen_token_pixels(-1, 14, 2, &px) == VLLM_ERR_INVALID_ARG && strstr(vl_error_message(), "-1"), "negative: %s",
          vl_error_message());
}

TEST_MAIN_BEGIN
test_sampling_hand();
test_sampling_sweep();
test_sizes();
test_timestamps_and_layouts();
test_token_pixels();
const char *data = getenv("VIDEOLLM_TEST_DATA");
if (data) {
    /* test-3.mp4 at ffmpeg fps=4: 40 frames (frames_md5.txt) */
    test_llamacpp_stamped();
    test_llamacpp_layout(data, "tiny-qwen25vl", 40);
    test_llamacpp_layout(data, "tiny-qwen3vl", 40);
} else {
    fprintf(stderr, "VIDEOLLM_TEST_DATA not set: the fixture layouts are not checked\n");
}
TEST_MAIN_END
