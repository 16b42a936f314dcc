/* Qwen-VL families in their default (model-correct) mode through the
 * public session API: the prompt the session builds, token by token, and
 * every row's M-RoPE position, against an independent rebuild here of
 * transformers' chat template and get_rope_index (modeling_qwen2_5_vl.py /
 * modeling_qwen3_vl.py, v4.57 line):
 *  - text runs continue at 1 + the largest position so far, all sections;
 *  - a visual block at p0 gives cell (k, y, x) the positions
 *    (p0 + int(k * second_per_grid_t * tokens_per_second), p0 + y, p0 + x);
 *  - the 4th section (e) equals t in this mode (Qwen3-VL's interleaved
 *    rope reads t there; Qwen2.5-VL's sections never use it).
 * Cases: a still (test-1.jpeg, default limits: grid from smart_resize
 * rebuilt here with the released processor configs), test-3.mp4 with the
 * default sampling, the same clip with fps 0.5 (Qwen3-VL: an odd frame
 * count, 5), and a live stream of 5 pushed frames (pairs, the lone last
 * frame encoded when the question arrives). Which frames the video rule
 * samples and their size come from lib/family/qwen_vl_rules (tested on
 * their own in test_qwen_rules); the layout, the timestamps and the
 * positions are rebuilt here. */
#define VLLM_EXPERIMENTAL
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode/video.h"
#include "family/qwen_vl_rules.h"
#include "fixture_set.h"
#include "harness.h"
#include "session/session_internal.h"
#include "vllm/videollm.h"

#define MAX_ITEMS 256

/* The expected prompt: text runs and visual blocks. */
typedef struct item {
    char text[256];          /* text (special tokens parsed), or "" for a block */
    int grid_t, grid_h, grid_w;
    double t_step;
} item;

typedef struct expect {
    item it[MAX_ITEMS];
    int n;
} expect;

static void add_text(expect *e, const char *t)
{
    REQUIRE(e->n < MAX_ITEMS, "too many items");
    if (e->n && e->it[e->n - 1].text[0]) { /* text runs are tokenized whole, as the session does */
        strncat(e->it[e->n - 1].text, t, sizeof e->it[0].text - strlen(e->it[e->n - 1].text) - 1);
        return;
    }
    memset(&e->it[e->n], 0, sizeof e->it[0]);
    snprintf(e->it[e->n++].text, sizeof e->it[0].text, "%s", t);
}

static void add_block(expect *e, int t, int h, int w, double step)
{
    REQUIRE(e->n < MAX_ITEMS, "too many items");
    e->it[e->n++] = (item){.grid_t = t, .grid_h = h, .grid_w = w, .t_step = step};
}

/* Python round(): half to even. */
static double round_half_even(double x)
{
    const double r = round(x);
    return fabs(x - trunc(x)) == 0.5 ? 2.0 * round(x / 2.0) : r;
}

/* transformers smart_resize (image_processing_qwen2_vl.py). */
static void smart_resize(int H, int W, int f, double min_px, double max_px, int *h, int *w)
{
    double hb = round_half_even((double)H / f) * f, wb = round_half_even((double)W / f) * f;
    if (hb * wb > max_px) {
        const double beta = sqrt((double)H * W / max_px);
        hb = fmax(f, floor(H / beta / f) * f), wb = fmax(f, floor(W / beta / f) * f);
    } else if (hb * wb < min_px) {
        const double beta = sqrt(min_px / ((double)H * W));
        hb = ceil(H * beta / f) * f, wb = ceil(W * beta / f) * f;
    }
    *h = (int)hb, *w = (int)wb;
}

/* The session's first rows against the rebuild. */
static void check(const vllm_model *m, const vllm_session *s, const expect *e, const char *what)
{
    const int32_t *hist = NULL;
    size_t n_hist = 0;
    REQUIRE(vllm_session_history(s, &hist, &n_hist) == VLLM_OK, "history");
    size_t row = 0;
    int64_t p = 0; /* get_rope_index's st_idx */
    int bad_ids = 0, bad_pos = 0;
    for (int i = 0; i < e->n; i++) {
        const item *it = &e->it[i];
        if (it->text[0]) {
            int32_t ids[512];
            size_t n = 0;
            REQUIRE(vllm_tokenize(m, it->text, strlen(it->text), VLLM_TOKENIZE_PARSE_SPECIAL, ids, 512, &n) == VLLM_OK,
                    "tokenize: %s", vllm_last_error());
            for (size_t k = 0; k < n; k++, row++) {
                if (row >= n_hist) break;
                if (hist[row] != ids[k] && !bad_ids++)
                    fprintf(stderr, "%s: row %zu: token %d, expected %d (text run \"%s\")\n", what, row, hist[row], ids[k], it->text);
                int32_t q[VL_POS_SECTIONS];
                vl_llm_state_row_pos(s->st, (int32_t)row, q);
                for (int c = 0; c < 4; c++) bad_pos += q[c] != p + (int64_t)k;
            }
            p += (int64_t)n;
            continue;
        }
        int64_t mx = p - 1;
        for (int k = 0; k < it->grid_t; k++) {
            const int64_t t = p + (int64_t)(k * it->t_step);
            for (int y = 0; y < it->grid_h; y++)
                for (int x = 0; x < it->grid_w; x++, row++) {
                    if (row >= n_hist) break;
                    if (hist[row] != -1 && !bad_ids++) fprintf(stderr, "%s: row %zu: token %d, expected a visual row\n", what, row, hist[row]);
                    int32_t q[VL_POS_SECTIONS];
                    vl_llm_state_row_pos(s->st, (int32_t)row, q);
                    const int64_t want[4] = {t, p + y, p + x, t};
                    for (int c = 0; c < 4; c++)
                        if (q[c] != want[c] && !bad_pos++)
                            fprintf(stderr, "%s: row %zu (block %d cell %d,%d,%d) section %d: %d, expected %lld\n", what, row, i,
                                    k, y, x, c, q[c], (long long)want[c]);
                    if (t > mx) mx = t;
                    if (p + y > mx) mx = p + y;
                    if (p + x > mx) mx = p + x;
                }
        }
        p = mx + 1;
    }
    printf("  %s: %zu rows rebuilt, %zu in the session\n", what, row, n_hist);
    CHECK(row == n_hist && !bad_ids && !bad_pos, "%s: %zu rows expected, %zu present; %d token and %d position differences",
          what, row, n_hist, bad_ids, bad_pos);
}

typedef struct set_info {
    int qwen3, align;
    const char *system; /* the template's default system turn, or NULL */
} set_info;

static vllm_model *load(const char *set, set_info *si)
{
    char tp[1400], mp[1400];
    REQUIRE(fx_find_model(set, "-text-F32.gguf", tp, sizeof tp) && fx_find_model(set, "-mmproj-F32.gguf", mp, sizeof mp),
            "no models/*-text-F32.gguf + *-mmproj-F32.gguf in %s", set);
    vllm_model_params p = vllm_model_default_params();
    p.mmproj_path = mp;
    vllm_model *m = NULL;
    REQUIRE(vllm_model_load(tp, &p, &m) == VLLM_OK, "%s", vllm_last_error());
    const char *proj = vl_vision_projector_name(m->vision);
    si->qwen3 = !strcmp(proj, "qwen3vl_merger");
    si->align = si->qwen3 ? 32 : 28;
    /* the Jinja template's first-message rule, read from the GGUF */
    vl_str t = {0};
    vl_gguf_get_str(m->gguf, "tokenizer.chat_template", "", &t);
    si->system = t.ptr && memmem(t.ptr, t.len, "You are a helpful assistant.", 28) ? "You are a helpful assistant." : NULL;
    return m;
}

static void opening(expect *e, const set_info *si)
{
    e->n = 0;
    if (si->system) {
        char t[128];
        snprintf(t, sizeof t, "<|im_start|>system\n%s<|im_end|>\n", si->system);
        add_text(e, t);
    }
    add_text(e, "<|im_start|>user\n");
}

static vllm_session *new_session(vllm_model *m)
{
    vllm_session_params sp = vllm_session_default_params();
    sp.n_ctx = 4096;
    sp.n_threads = 2;
    vllm_session *s = NULL;
    REQUIRE(vllm_session_create(m, &sp, &s) == VLLM_OK, "%s", vllm_last_error());
    return s;
}

static void ask(vllm_session *s, const char *q)
{
    vllm_generate_params gp = vllm_generate_default_params();
    gp.max_tokens = 1;
    REQUIRE(vllm_session_query(s, q, &gp) == VLLM_OK, "query: %s", vllm_session_last_error(s));
}

static void still(const char *set)
{
    set_info si;
    vllm_model *m = load(set, &si);
    vllm_session *s = new_session(m);
    char path[1400];
    snprintf(path, sizeof path, "%s/test-1.jpeg", fx_media_dir());
    REQUIRE(vllm_session_push_image(s, path) == VLLM_OK, "%s", vllm_session_last_error(s));
    ask(s, "Describe this image.");
    /* released preprocessor configs: Qwen2.5-VL 3136 .. 12845056 px,
     * Qwen3-VL 65536 .. 16777216 px; test-1.jpeg is 640x488 */
    int h, w;
    smart_resize(488, 640, si.align, si.qwen3 ? 65536 : 3136, si.qwen3 ? 16777216 : 12845056, &h, &w);
    expect e;
    opening(&e, &si);
    add_text(&e, "<|vision_start|>");
    add_block(&e, 1, h / si.align, w / si.align, 0);
    add_text(&e, "<|vision_end|>Describe this image.<|im_end|>\n<|im_start|>assistant\n");
    check(m, s, &e, si.qwen3 ? "qwen3vl still" : "qwen2.5vl still");
    vllm_session_free(s);
    vllm_model_free(m);
}

static void video(const char *set, double fps)
{
    set_info si;
    vllm_model *m = load(set, &si);
    vllm_session *s = new_session(m);
    char path[1400], what[64];
    snprintf(path, sizeof path, "%s/test-3.mp4", fx_media_dir());
    snprintf(what, sizeof what, "%s video fps %g", si.qwen3 ? "qwen3vl" : "qwen2.5vl", fps);
    vllm_video_params vp = vllm_video_default_params();
    vp.fps = (float)fps;
    REQUIRE(vllm_session_push_video(s, path, &vp) == VLLM_OK, "%s", vllm_session_last_error(s));
    ask(s, "Describe this video.");
    /* the frames the rule samples and their size (qwen_vl_rules, tested on its own) */
    vl_video *vid = NULL;
    REQUIRE(vl_video_open(path, &vid) == VLLM_OK, "%s", vllm_last_error());
    const vl_video_info *info = vl_video_get_info(vid);
    const vl_qwen_family fam = si.qwen3 ? VL_QWEN3VL : VL_QWEN25VL;
    vl_qwen_video_rules r = vl_qwen_video_rules_default(fam);
    r.fps = fps;
    int32_t idx[1024];
    int n = 0, w = 0, h = 0;
    REQUIRE(vl_qwen_video_sample(fam, &r, info->n_frames_est, info->fps, idx, 1024, &n) == VLLM_OK, "%s", vllm_last_error());
    REQUIRE(vl_qwen_video_frame_size(fam, &r, n, info->coded_width, info->coded_height, &w, &h) == VLLM_OK, "%s",
            vllm_last_error());
    const int gh = h / si.align, gw = w / si.align, groups = (n + 1) / 2;
    printf("  %s: %d frames sampled, %dx%d, %d temporal patches\n", what, n, w, h, groups);
    expect e;
    opening(&e, &si);
    if (!si.qwen3) { /* one block, t advancing second_per_grid_t (2 frames / fps) * tokens_per_second (2, the
                        released vision_config) per temporal patch */
        add_text(&e, "<|vision_start|>");
        add_block(&e, groups, gh, gw, 2.0 / fps * 2.0);
        add_text(&e, "<|vision_end|>");
    } else { /* "<t seconds>" per patch: the mean time of its frames (the list padded with its last) */
        for (int g = 0; g < groups; g++) {
            const int a = idx[2 * g], b = 2 * g + 1 < n ? idx[2 * g + 1] : idx[n - 1];
            char t[64];
            snprintf(t, sizeof t, "<%.1f seconds><|vision_start|>", (a + b) / 2.0 / info->fps);
            add_text(&e, t);
            add_block(&e, 1, gh, gw, 0);
            add_text(&e, "<|vision_end|>");
        }
    }
    add_text(&e, "Describe this video.<|im_end|>\n<|im_start|>assistant\n");
    check(m, s, &e, what);
    vl_video_close(vid);
    vllm_session_free(s);
    vllm_model_free(m);
}

/* n frames of W × H RGB, 0.5 s apart, frame f's bytes from pixel(i, f). */
static void push_frames(vllm_session *s, int W, int H, int n, uint8_t (*pixel)(int i, int f, int W))
{
    uint8_t *rgb = malloc((size_t)W * H * 3);
    REQUIRE(rgb, "out of memory");
    for (int f = 0; f < n; f++) {
        for (int i = 0; i < W * H * 3; i++) rgb[i] = pixel(i, f, W);
        vllm_frame fr = {.struct_size = sizeof fr, .planes = {rgb}, .strides = {W * 3}, .width = W, .height = H,
                         .format = VLLM_PIXFMT_RGB24, .pts = 0.5 * f};
        REQUIRE(vllm_session_push_frame(s, &fr) == VLLM_OK, "frame %d: %s", f, vllm_session_last_error(s));
    }
    free(rgb);
}

/* Every frame different. */
static uint8_t noise_pixel(int i, int f, int W)
{
    (void)W;
    return (uint8_t)(i * 7 + f * 31);
}

/* Frame 1 shows frame 0 again (a near-duplicate for dedup). */
static uint8_t repeat_pixel(int i, int f, int W)
{
    static const int pattern[4] = {0, 0, 2, 3};
    return (uint8_t)((i / 3 % W) * (pattern[f] + 1) * 3 + pattern[f] * 60);
}

/* 5 frames pushed live: two pairs and a lone frame, each its own block
 * (Qwen3-VL: after "<t seconds>", the mean pts of its frames). */
static void live(const char *set)
{
    set_info si;
    vllm_model *m = load(set, &si);
    vllm_session *s = new_session(m);
    const int W = 96, H = 64, N = 5;
    push_frames(s, W, H, N, noise_pixel);
    ask(s, "What happens?");
    /* a live patch is sized as a clip of one temporal patch (qwen_vl_rules) */
    const vl_qwen_family fam = si.qwen3 ? VL_QWEN3VL : VL_QWEN25VL;
    const vl_qwen_video_rules r = vl_qwen_video_rules_default(fam);
    int h = 0, w = 0;
    REQUIRE(vl_qwen_video_frame_size(fam, &r, 2, W, H, &w, &h) == VLLM_OK, "%s", vllm_last_error());
    expect e;
    opening(&e, &si);
    for (int g = 0; g < (N + 1) / 2; g++) {
        if (si.qwen3) {
            char t[64];
            const double a = 0.5 * 2 * g, b = 2 * g + 1 < N ? 0.5 * (2 * g + 1) : a;
            snprintf(t, sizeof t, "<%.1f seconds>", (a + b) / 2);
            add_text(&e, t);
        }
        add_text(&e, "<|vision_start|>");
        add_block(&e, 1, h / si.align, w / si.align, 0);
        add_text(&e, "<|vision_end|>");
    }
    add_text(&e, "What happens?<|im_end|>\n<|im_start|>assistant\n");
    char what[64];
    snprintf(what, sizeof what, "%s live %d frames", si.qwen3 ? "qwen3vl" : "qwen2.5vl", N);
    check(m, s, &e, what);
    vllm_session_stats st = {.struct_size = sizeof st};
    vllm_session_get_stats(s, &st);
    CHECK(st.n_frames_encoded == N, "%s: %lld frames encoded, %d pushed", what, (long long)st.n_frames_encoded, N);
    vllm_session_free(s);
    vllm_model_free(m);
}

/* Dedup before the encoder: frame 1 repeats frame 0 and is dropped; its
 * would-be partner pairs with the next kept frame (pair = frames 0 and 2,
 * Qwen3-VL's stamp the mean of their pts), frame 3 waits and is encoded
 * alone when the question comes. */
static void live_dedup(const char *set)
{
    set_info si;
    vllm_model *m = load(set, &si);
    vllm_session_params sp = vllm_session_default_params();
    sp.n_ctx = 4096;
    sp.dedup_threshold = 0.01f;
    vllm_session *s = NULL;
    REQUIRE(vllm_session_create(m, &sp, &s) == VLLM_OK, "%s", vllm_last_error());
    const int W = 96, H = 64;
    push_frames(s, W, H, 4, repeat_pixel);
    ask(s, "What happens?");
    const vl_qwen_family fam = si.qwen3 ? VL_QWEN3VL : VL_QWEN25VL;
    const vl_qwen_video_rules r = vl_qwen_video_rules_default(fam);
    int h = 0, w = 0;
    REQUIRE(vl_qwen_video_frame_size(fam, &r, 2, W, H, &w, &h) == VLLM_OK, "%s", vllm_last_error());
    expect e;
    opening(&e, &si);
    const double pts[2][2] = {{0.0, 1.0}, {1.5, 1.5}}; /* (frame 0, frame 2), (frame 3 alone) */
    for (int g = 0; g < 2; g++) {
        if (si.qwen3) {
            char t[64];
            snprintf(t, sizeof t, "<%.1f seconds>", (pts[g][0] + pts[g][1]) / 2);
            add_text(&e, t);
        }
        add_text(&e, "<|vision_start|>");
        add_block(&e, 1, h / si.align, w / si.align, 0);
        add_text(&e, "<|vision_end|>");
    }
    add_text(&e, "What happens?<|im_end|>\n<|im_start|>assistant\n");
    char what[64];
    snprintf(what, sizeof what, "%s live with a duplicate", si.qwen3 ? "qwen3vl" : "qwen2.5vl");
    check(m, s, &e, what);
    vllm_session_stats st = {.struct_size = sizeof st};
    vllm_session_get_stats(s, &st);
    CHECK(st.n_frames_deduped == 1 && st.n_frames_encoded == 3, "%s: %lld deduped, %lld encoded", what,
          (long long)st.n_frames_deduped, (long long)st.n_frames_encoded);
    vllm_session_free(s);
    vllm_model_free(m);
}

TEST_MAIN_BEGIN
    char sets[FX_MAX_SETS][FX_SET_PATH];
    const size_t n_sets = fx_qwen_sets(sets);
    int ran = 0;
    for (size_t i = 0; i < n_sets; i++) {
        const char *set = sets[i];
        char mp[1400];
        if (!fx_find_model(set, "-mmproj-F32.gguf", mp, sizeof mp)) continue;
        set_info si;
        vllm_model *m = load(set, &si);
        const int qwen = m->family->caps & VL_FAM_MROPE;
        vllm_model_free(m);
        if (!qwen) continue;
        printf("fixture set %s\n", set);
        /* vllm_model_info: transformers' video processor defaults (fps 2, 768 frames); tokens vary with the size */
        m = load(set, &si);
        vllm_model_info mi = {.struct_size = sizeof mi};
        REQUIRE(vllm_model_get_info(m, &mi) == VLLM_OK, "%s", vllm_last_error());
        CHECK(mi.video_fps == 2.0f && mi.video_max_frames == 768 && mi.tokens_per_frame == 0,
              "model info: video_fps %g, video_max_frames %d, tokens_per_frame %d", mi.video_fps, mi.video_max_frames,
              mi.tokens_per_frame);
        vllm_model_free(m);
        still(set);
        video(set, 2.0);
        video(set, 0.5);
        live(set);
        live_dedup(set);
        ran++;
    }
    if (!ran) TEST_SKIP("no Qwen-VL fixture set");
TEST_MAIN_END
