/* The Qwen-VL families' default prompt layout and M-RoPE positions,
 * token by token and position by position, against an independent
 * rebuild of transformers' rules written here from the transformers
 * sources (v4.57 line) — none of the library's layout, sampling, sizing
 * or position code is called:
 *
 *  - smart_resize (image_processing_qwen2_vl.py; Qwen3-VL's video variant
 *    with its temporal factor in video_processing_qwen3_vl.py);
 *  - frame sampling (video_processing_qwen2_vl.py sample_frames: arange;
 *    video_processing_qwen3_vl.py: round(linspace));
 *  - the chat template of the model's GGUF as transformers renders it
 *    (Qwen2.5-VL adds "You are a helpful assistant." when no system turn
 *    is given; Qwen3-VL does not), the processor's expansion of
 *    <|image_pad|> / <|video_pad|> (Qwen3-VL: "<t seconds>" plus its own
 *    vision block per temporal group, processing_qwen3_vl.py);
 *  - get_rope_index (modeling_qwen2_5_vl.py / modeling_qwen3_vl.py).
 *
 * The session's history (token ids, -1 at visual positions) and the
 * (t, h, w) positions of every row must equal the rebuild, for a still,
 * a short video whose sampled frame count is odd (Qwen3-VL) or whose
 * frame count is odd (Qwen2.5-VL: its count is rounded down to pairs),
 * and a live pushed stream (see check_live for how transformers would
 * see it).
 *
 * Sets: $VIDEOLLM_FIXTURES (one set; the family is read from its mmproj)
 * or both tests/data/tiny-qwen25vl and tiny-qwen3vl. The tokenizer turns
 * the rebuilt prompt string into ids (it has its own parity tests). */
#define VLLM_EXPERIMENTAL
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixture_set.h"
#include "harness.h"
#include "session/session_internal.h"
#include "video_gen.h"
#include "vllm/videollm.h"

/* ---- Python's arithmetic ------------------------------------------------ */

/* round(): half to even, as Python and numpy do. */
static double py_round(double x)
{
    double r = nearbyint(x); /* default rounding mode: to nearest, ties to even */
    return r;
}

/* ---- the processors' size rules --------------------------------------- */

/* image_processing_qwen2_vl.smart_resize(height, width, factor, min_pixels, max_pixels) */
static void smart_resize(int height, int width, int factor, double min_pixels, double max_pixels, int *h_out,
                         int *w_out)
{
    double h_bar = py_round((double)height / factor) * factor;
    double w_bar = py_round((double)width / factor) * factor;
    if (h_bar * w_bar > max_pixels) {
        const double beta = sqrt((double)height * width / max_pixels);
        h_bar = fmax(factor, floor(height / beta / factor) * factor);
        w_bar = fmax(factor, floor(width / beta / factor) * factor);
    } else if (h_bar * w_bar < min_pixels) {
        const double beta = sqrt(min_pixels / ((double)height * width));
        h_bar = ceil(height * beta / factor) * factor;
        w_bar = ceil(width * beta / factor) * factor;
    }
    *h_out = (int)h_bar;
    *w_out = (int)w_bar;
}

/* video_processing_qwen3_vl.smart_resize(num_frames, height, width,
 * temporal_factor=2, factor, min_pixels, max_pixels): the budget is over
 * the whole clip. */
static void smart_resize_clip(int num_frames, int height, int width, int factor, double min_pixels, double max_pixels,
                              int *h_out, int *w_out)
{
    double h_bar = py_round((double)height / factor) * factor;
    double w_bar = py_round((double)width / factor) * factor;
    const double t_bar = py_round(num_frames / 2.0) * 2;
    if (t_bar * h_bar * w_bar > max_pixels) {
        const double beta = sqrt((double)num_frames * height * width / max_pixels);
        h_bar = fmax(factor, floor(height / beta / factor) * factor);
        w_bar = fmax(factor, floor(width / beta / factor) * factor);
    } else if (t_bar * h_bar * w_bar < min_pixels) {
        const double beta = sqrt(min_pixels / ((double)num_frames * height * width));
        h_bar = ceil(height * beta / factor) * factor;
        w_bar = ceil(width * beta / factor) * factor;
    }
    *h_out = (int)h_bar;
    *w_out = (int)w_bar;
}

/* ---- what one family's processors do ------------------------------------ */

typedef struct family {
    int qwen3;            /* 0: Qwen2.5-VL, 1: Qwen3-VL */
    int patch, merge;     /* 14 / 16, 2 */
    double img_min, img_max;   /* still image pixels: preprocessor_config.json of the released models */
    double vid_min, vid_max;   /* video: the video processor's size {shortest_edge, longest_edge} */
    double fps;                /* the processor's sampling fps */
    int min_frames, max_frames;
    double tokens_per_second;  /* Qwen2.5-VL vision_config */
} family;

static family family_of(int qwen3)
{
    family f = {.qwen3 = qwen3, .merge = 2, .fps = 2.0, .min_frames = 4, .max_frames = 768, .tokens_per_second = 2};
    if (qwen3) {
        /* Qwen3-VL-2B-Instruct preprocessor_config.json: size {shortest_edge 65536, longest_edge 16777216};
         * video_preprocessor_config.json: {shortest_edge 128·32·32, longest_edge 768·32·32} */
        f.patch = 16;
        f.img_min = 65536, f.img_max = 16777216;
        f.vid_min = 128.0 * 32 * 32, f.vid_max = 768.0 * 32 * 32;
    } else {
        /* Qwen2.5-VL-3B-Instruct preprocessor_config.json: min_pixels 3136, max_pixels 12845056;
         * Qwen2VLVideoProcessor class defaults: {shortest_edge 128·28·28, longest_edge 768·28·28} */
        f.patch = 14;
        f.img_min = 3136, f.img_max = 12845056;
        f.vid_min = 128.0 * 28 * 28, f.vid_max = 768.0 * 28 * 28;
    }
    return f;
}

/* Sampled frame indices of a video of `total` frames at `video_fps`. */
static int sample_indices(const family *f, int total, double video_fps, int *idx, int cap)
{
    int n;
    if (f->qwen3) {
        /* n = min(max(int(total / video_fps * fps), min_frames), max_frames, total);
         * indices = round(linspace(0, total - 1, n)) */
        n = (int)(total / video_fps * f->fps);
        if (n < f->min_frames) n = f->min_frames;
        if (n > f->max_frames) n = f->max_frames;
        if (n > total) n = total;
        for (int i = 0; i < n && i < cap; i++)
            idx[i] = (int)py_round(n > 1 ? (double)i * (total - 1) / (n - 1) : 0);
    } else {
        /* max_f = floor(min(max_frames, total) / 2) * 2;
         * n = floor(min(max(total / video_fps * fps, min_frames), max_f, total) / 2) * 2;
         * indices = arange(0, total, total / n).int() */
        const int max_f = (f->max_frames < total ? f->max_frames : total) / 2 * 2;
        double want = fmax(total / video_fps * f->fps, f->min_frames);
        want = fmin(fmin(want, max_f), total);
        n = (int)floor(want / 2) * 2;
        const float step = (float)total / (float)n;
        for (int i = 0; i < n && i < cap; i++) idx[i] = (int)((float)i * step);
    }
    return n;
}

/* ---- the prompt string and get_rope_index ------------------------------ */

typedef struct grid {
    int t, h, w;       /* temporal patches, merged rows, merged columns */
    double t_step;     /* get_rope_index's temporal id step per temporal patch */
} grid;

typedef struct rebuild {
    char *text;        /* the expanded prompt */
    size_t len, cap;
    grid grids[64];    /* one per run of pad tokens, in order */
    int n_grids;
} rebuild;

static void add(rebuild *r, const char *s)
{
    const size_t n = strlen(s);
    if (r->len + n + 1 > r->cap) {
        r->cap = (r->len + n + 1) * 2;
        r->text = realloc(r->text, r->cap);
        REQUIRE(r->text, "out of memory");
    }
    memcpy(r->text + r->len, s, n + 1);
    r->len += n;
}

static void add_pads(rebuild *r, const char *pad, grid g)
{
    REQUIRE(r->n_grids < 64, "too many visual blocks");
    r->grids[r->n_grids++] = g;
    for (int i = 0; i < g.t * g.h * g.w; i++) add(r, pad);
}

/* The chat template's opening of the first user turn. */
static void open_user_turn(const family *f, rebuild *r)
{
    if (!f->qwen3) add(r, "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n");
    add(r, "<|im_start|>user\n");
}

static void close_user_turn(rebuild *r, const char *question)
{
    add(r, question);
    add(r, "<|im_end|>\n<|im_start|>assistant\n");
}

/* get_rope_index: text continues at 1 + the largest position so far; a
 * block of pad tokens starting at p0 gives its token (k, y, x) the
 * positions (p0 + (int64)(k · t_step), p0 + y, p0 + x). */
static void rope_index(const rebuild *r, const int32_t *ids, size_t n, int32_t pad_image, int32_t pad_video,
                       int32_t *pos /* n × 3 */)
{
    int32_t next = 0;
    int g = 0;
    for (size_t i = 0; i < n;) {
        if (ids[i] != pad_image && ids[i] != pad_video) {
            pos[3 * i] = pos[3 * i + 1] = pos[3 * i + 2] = next++;
            i++;
            continue;
        }
        REQUIRE(g < r->n_grids, "more pad runs than blocks");
        const grid gr = r->grids[g++];
        const int32_t p0 = next;
        int32_t mx = p0;
        for (int k = 0; k < gr.t; k++)
            for (int y = 0; y < gr.h; y++)
                for (int x = 0; x < gr.w; x++, i++) {
                    REQUIRE(i < n && (ids[i] == pad_image || ids[i] == pad_video), "pad run shorter than its grid");
                    const int32_t t = p0 + (int32_t)(int64_t)(k * gr.t_step);
                    pos[3 * i] = t, pos[3 * i + 1] = p0 + y, pos[3 * i + 2] = p0 + x;
                    if (t > mx) mx = t;
                    if (p0 + y > mx) mx = p0 + y;
                    if (p0 + x > mx) mx = p0 + x;
                }
        next = mx + 1;
    }
    CHECK(g == r->n_grids, "%d blocks, %d pad runs", r->n_grids, g);
}

/* ---- comparing with a session ------------------------------------------- */

static int32_t token_of(const vllm_model *m, const char *text)
{
    int32_t id = -1;
    size_t n = 0;
    REQUIRE(vllm_tokenize(m, text, strlen(text), VLLM_TOKENIZE_PARSE_SPECIAL, &id, 1, &n) == VLLM_OK && n == 1,
            "%s is not one token", text);
    return id;
}

/* The session's history and row positions against the rebuilt prompt. */
static void compare(const char *what, vllm_model *m, vllm_session *s, const rebuild *r)
{
    size_t n = 0;
    REQUIRE(vllm_tokenize(m, r->text, r->len, VLLM_TOKENIZE_PARSE_SPECIAL, NULL, 0, &n) == VLLM_ERR_BUFFER_TOO_SMALL ||
                n == 0,
            "%s: tokenize", what);
    int32_t *ids = malloc((n ? n : 1) * sizeof *ids);
    int32_t *pos = malloc((n ? n : 1) * 3 * sizeof *pos);
    REQUIRE(ids && pos, "out of memory");
    REQUIRE(vllm_tokenize(m, r->text, r->len, VLLM_TOKENIZE_PARSE_SPECIAL, ids, n, &n) == VLLM_OK, "%s: %s", what,
            vllm_last_error());
    const int32_t pad_image = token_of(m, "<|image_pad|>"), pad_video = token_of(m, "<|video_pad|>");
    rope_index(r, ids, n, pad_image, pad_video, pos);

    const int32_t *hist = NULL;
    size_t n_hist = 0;
    REQUIRE(vllm_session_history(s, &hist, &n_hist) == VLLM_OK, "%s", vllm_session_last_error(s));
    CHECK(n_hist == n, "%s: the session holds %zu positions, transformers' prompt has %zu", what, n_hist, n);
    int bad_ids = 0, bad_pos = 0;
    for (size_t i = 0; i < n && i < n_hist; i++) {
        const int32_t want = (ids[i] == pad_image || ids[i] == pad_video) ? -1 : ids[i];
        if (hist[i] != want && bad_ids++ < 5)
            CHECK(0, "%s: token %zu is %d, transformers has %d", what, i, hist[i], want);
        int32_t got[VL_POS_SECTIONS];
        vl_llm_state_row_pos(s->st, (int32_t)i, got);
        if ((got[0] != pos[3 * i] || got[1] != pos[3 * i + 1] || got[2] != pos[3 * i + 2]) && bad_pos++ < 5)
            CHECK(0, "%s: position of row %zu is (%d,%d,%d), transformers has (%d,%d,%d)", what, i, got[0], got[1],
                  got[2], pos[3 * i], pos[3 * i + 1], pos[3 * i + 2]);
    }
    CHECK(bad_ids == 0, "%s: %d tokens differ", what, bad_ids);
    CHECK(bad_pos == 0, "%s: %d positions differ", what, bad_pos);
    printf("%s: %zu positions, %d visual blocks checked\n", what, n, r->n_grids);
    free(ids);
    free(pos);
}

static void query(vllm_session *s, const char *q)
{
    vllm_generate_params gp = vllm_generate_default_params();
    gp.max_tokens = 1;
    REQUIRE(vllm_session_query(s, q, &gp) == VLLM_OK, "%s", vllm_session_last_error(s));
}

/* ---- the three cases ------------------------------------------------------ */

static void check_still(const family *f, vllm_model *m)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/test-1.jpeg", fx_media_dir());
    const int W = 640, H = 480; /* test-1.jpeg */
    vllm_session *s = NULL;
    REQUIRE(vllm_session_create(m, NULL, &s) == VLLM_OK, "%s", vllm_last_error());
    REQUIRE(vllm_session_push_image(s, path) == VLLM_OK, "%s", vllm_session_last_error(s));
    query(s, "Describe this image.");

    rebuild r = {0};
    int h, w;
    smart_resize(H, W, f->patch * f->merge, f->img_min, f->img_max, &h, &w);
    open_user_turn(f, &r);
    add(&r, "<|vision_start|>");
    add_pads(&r, "<|image_pad|>", (grid){1, h / f->patch / f->merge, w / f->patch / f->merge, 0});
    add(&r, "<|vision_end|>");
    close_user_turn(&r, "Describe this image.");
    compare("still", m, s, &r);
    free(r.text);
    vllm_session_free(s);
}

static void check_video(const family *f, vllm_model *m, const char *dir)
{
    /* 15 frames at 6 fps, 160 × 120: Qwen3-VL samples int(15/6·2) = 5
     * frames (odd: the last is repeated), Qwen2.5-VL rounds 5 down to 4 */
    enum { W = 160, H = 120, TOTAL = 15, FPS = 6 };
    char path[1200], err[256];
    snprintf(path, sizeof path, "%s/odd.mp4", dir);
    vg_params vp = {.path = path, .width = W, .height = H, .n_frames = TOTAL, .fps_num = FPS, .fps_den = 1,
                    .gop = 4, .pattern = VG_MOTION};
    REQUIRE(vg_write(&vp, err, sizeof err) == 0, "%s", err);
    vllm_session *s = NULL;
    REQUIRE(vllm_session_create(m, NULL, &s) == VLLM_OK, "%s", vllm_last_error());
    REQUIRE(vllm_session_push_video(s, path, NULL) == VLLM_OK, "%s", vllm_session_last_error(s));
    query(s, "Describe this video.");

    int idx[64];
    const int n = sample_indices(f, TOTAL, FPS, idx, 64);
    CHECK(!f->qwen3 || n % 2 == 1, "the case should sample an odd count, got %d", n);
    const int groups = (n + 1) / 2; /* an odd count is padded with its last frame */
    int h, w;
    if (f->qwen3) smart_resize_clip(n, H, W, f->patch * f->merge, f->vid_min, f->vid_max, &h, &w);
    else smart_resize(H, W, f->patch * f->merge, f->vid_min, f->vid_max, &h, &w);
    const int gh = h / f->patch / f->merge, gw = w / f->patch / f->merge;
    rebuild r = {0};
    open_user_turn(f, &r);
    if (f->qwen3) {
        /* _calculate_timestamps: indices padded with their last entry,
         * each group's time the mean of its first and last frame's */
        for (int g = 0; g < groups; g++) {
            const int a = idx[2 * g], b = 2 * g + 1 < n ? idx[2 * g + 1] : idx[n - 1];
            char stamp[48];
            snprintf(stamp, sizeof stamp, "<%.1f seconds>", (a + b) / 2.0 / FPS);
            add(&r, stamp);
            add(&r, "<|vision_start|>");
            add_pads(&r, "<|video_pad|>", (grid){1, gh, gw, 0});
            add(&r, "<|vision_end|>");
        }
    } else {
        /* second_per_grid_t = temporal_patch_size / fps */
        add(&r, "<|vision_start|>");
        add_pads(&r, "<|video_pad|>", (grid){groups, gh, gw, 2.0 / f->fps * f->tokens_per_second});
        add(&r, "<|vision_end|>");
    }
    close_user_turn(&r, "Describe this video.");
    compare("video", m, s, &r);
    free(r.text);
    vllm_session_free(s);
    remove(path);
}

/* A live stream: frames pushed one by one, then a question. Taken as
 * transformers would take the same frames given as consecutive two-frame
 * clips: each pair (the last frame alone, repeated, when the question
 * arrives first) is its own vision block; Qwen3-VL puts its "<t
 * seconds>" (the mean of the pair's times) before it and sizes it by the
 * clip rule for 2 frames, Qwen2.5-VL by the per-frame video rule. */
static void check_live(const family *f, vllm_model *m)
{
    enum { W = 160, H = 120, N = 5 };
    static const double pts[N] = {0.0, 0.5, 1.0, 1.5, 2.25};
    vllm_session *s = NULL;
    REQUIRE(vllm_session_create(m, NULL, &s) == VLLM_OK, "%s", vllm_last_error());
    uint8_t *rgb = malloc((size_t)W * H * 3);
    REQUIRE(rgb, "out of memory");
    for (int i = 0; i < N; i++) {
        for (int p = 0; p < W * H * 3; p++) rgb[p] = (uint8_t)(p * 7 + i * 101 + (p / (W * 3)) * i * 13);
        vllm_frame fr = {.struct_size = sizeof fr, .format = VLLM_PIXFMT_RGB24, .width = W, .height = H,
                         .planes = {rgb, NULL, NULL}, .strides = {W * 3, 0, 0}, .pts = pts[i]};
        REQUIRE(vllm_session_push_frame(s, &fr) == VLLM_OK, "%s", vllm_session_last_error(s));
    }
    free(rgb);
    query(s, "What is happening?");

    int h, w;
    if (f->qwen3) smart_resize_clip(2, H, W, f->patch * f->merge, f->vid_min, f->vid_max, &h, &w);
    else smart_resize(H, W, f->patch * f->merge, f->vid_min, f->vid_max, &h, &w);
    const int gh = h / f->patch / f->merge, gw = w / f->patch / f->merge;
    rebuild r = {0};
    open_user_turn(f, &r);
    for (int i = 0; i < N; i += 2) {
        if (f->qwen3) {
            const double t = i + 1 < N ? (pts[i] + pts[i + 1]) / 2 : pts[i];
            char stamp[48];
            snprintf(stamp, sizeof stamp, "<%.1f seconds>", t);
            add(&r, stamp);
        }
        add(&r, "<|vision_start|>");
        add_pads(&r, "<|video_pad|>", (grid){1, gh, gw, 0});
        add(&r, "<|vision_end|>");
    }
    close_user_turn(&r, "What is happening?");
    compare("live", m, s, &r);
    free(r.text);
    vllm_session_free(s);
}

TEST_MAIN_BEGIN
    char sets[FX_MAX_SETS][FX_SET_PATH];
    const size_t n_sets = fx_qwen_sets(sets);
    char tmp[] = "/tmp/vl_hf_layout_XXXXXX";
    REQUIRE(mkdtemp(tmp), "mkdtemp");
    int ran = 0;
    for (size_t i = 0; i < n_sets; i++) {
        char models[1100], tp[2200], mp[2200];
        const char *set = sets[i];
        snprintf(models, sizeof models, "%s/models", set);
        REQUIRE(fx_find_in(models, "-text-F32.gguf", tp, sizeof tp) && fx_find_in(models, "-mmproj-F32.gguf", mp, sizeof mp),
                "no models/*-text-F32.gguf + *-mmproj-F32.gguf in %s", set);
        vllm_model_params p = vllm_model_default_params();
        p.mmproj_path = mp;
        p.vision_precision = VLLM_VISION_F32;
        vllm_model *m = NULL;
        REQUIRE(vllm_model_load(tp, &p, &m) == VLLM_OK, "%s", vllm_last_error());
        /* the family, from the mmproj */
        const char *proj = vl_vision_projector_name(m->vision);
        const int qwen3 = !strcmp(proj, "qwen3vl_merger");
        if (qwen3 || !strcmp(proj, "qwen2.5vl_merger")) {
            const family f = family_of(qwen3);
            printf("fixture set %s (%s)\n", set, proj);
            check_still(&f, m);
            check_video(&f, m, tmp);
            check_live(&f, m);
            ran++;
        }
        vllm_model_free(m);
    }
    rmdir(tmp);
    REQUIRE(ran > 0, "no Qwen-VL fixture set found");
TEST_MAIN_END
