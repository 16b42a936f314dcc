/* Qwen-VL families through the public session API in llamacpp_compat
 * mode, against llama.cpp's own image and video runs of each fixture set:
 * vllm_session_push_image(test-1.jpeg) / vllm_session_push_video(
 * test-3.mp4) + vllm_session_query(the set's prompt) must give
 *  - the prompt's token ids chunk by chunk (text ids equal, visual rows
 *    where llama.cpp put its image chunks),
 *  - the M-RoPE positions of every prompt row (*_mrope_pos.i32) exactly,
 *  - last logits within 5e-3 (image: libavcodec and stb_image decode the
 *    JPEG a few levels apart) / 5e-4 (video), and
 *  - llama.cpp's greedy ids wherever its top-2 gap is clear of the error
 *    (generation stops being compared at the first step that is not).
 * The image is run with the set's image_max_tokens and, when the set has
 * it, with llama.cpp's default limits (F32_fullres_ref_info.json).
 * Fixture sets: $VIDEOLLM_FIXTURES, or tests/data/tiny-qwen25vl and
 * tiny-qwen3vl; files by pattern, expected values from the JSON. */
#define VLLM_EXPERIMENTAL
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture_set.h"
#include "harness.h"
#include "json.h"
#include "session/session_internal.h"
#include "vllm/videollm.h"

/* The user's text of the formatted prompt: after <__media__>, before <|im_end|>. */
static void prompt_of(const json *info, char *out, size_t cap)
{
    const char *f = json_str(json_get(info, "formatted_prompt"), ""), *a = strstr(f, "<__media__>");
    REQUIRE(a, "formatted_prompt has no <__media__>: %s", f);
    a += strlen("<__media__>");
    const char *b = strstr(a, "<|im_end|>");
    REQUIRE(b && (size_t)(b - a) < cap, "formatted_prompt: no <|im_end|> after the media");
    snprintf(out, cap, "%.*s", (int)(b - a), a);
}

/* The prompt rows against the chunk list: text ids equal, visual rows -1. */
static void check_layout(const vllm_session *s, const json *info, const char *what)
{
    const int32_t *hist = NULL;
    size_t n = 0;
    REQUIRE(vllm_session_history(s, &hist, &n) == VLLM_OK, "history");
    const json *chunks = json_get(info, "chunks");
    size_t row = 0;
    int bad = 0;
    for (size_t i = 0; i < chunks->n; i++) {
        const json *c = json_at(chunks, i);
        if (!strcmp(json_str(json_get(c, "type"), ""), "image")) {
            const size_t nt = (size_t)json_num(json_get(c, "n_tokens"), 0);
            for (size_t k = 0; k < nt && row + k < n; k++) bad += hist[row + k] != -1;
            row += nt;
        } else {
            const json *ids = json_get(c, "token_ids");
            for (size_t k = 0; k < ids->n && row + k < n; k++)
                if (hist[row + k] != (int32_t)json_num(json_at(ids, k), -2)) {
                    if (!bad) fprintf(stderr, "%s: chunk %zu token %zu: %d, llama.cpp %d\n", what, i, k, hist[row + k],
                                      (int)json_num(json_at(ids, k), -2));
                    bad++;
                }
            row += ids->n;
        }
    }
    CHECK(row == n && bad == 0, "%s: %zu prompt rows, llama.cpp %zu; %d rows differ", what, n, row, bad);
}

static void check_positions(const vllm_session *s, const char *dir, const json *info, const char *what)
{
    char path[1400];
    const size_t n = (size_t)json_num(json_get(info, "n_prompt_tokens"), 0);
    snprintf(path, sizeof path, "%s/%s", dir, json_str(json_get(info, "mrope_pos_file"), "?"));
    int32_t *ref = fx_load_raw(path, sizeof(int32_t), 4 * n);
    REQUIRE(ref, "%s", path);
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t p[VL_POS_SECTIONS];
        vl_llm_state_row_pos(s->st, (int32_t)i, p);
        for (int k = 0; k < 4; k++)
            if (p[k] != ref[(size_t)k * n + i]) {
                if (!bad) fprintf(stderr, "%s: row %zu section %d: %d, llama.cpp %d\n", what, i, k, p[k], ref[(size_t)k * n + i]);
                bad++;
            }
    }
    CHECK(bad == 0, "%s: %d of %zu M-RoPE positions differ from llama.cpp's", what, bad, 4 * n);
    free(ref);
}

static int ran; /* runs on a Qwen-VL set */

static int argmax(const float *x, int n)
{
    int b = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return b;
}

/* media: "image" or "video"; info_name: the JSON in ref/<media>/. */
static void run(const char *set, const char *media, const char *info_name, double tol)
{
    char dir[1200], path[1400], tp[1400], mp[1400], prompt[256];
    snprintf(dir, sizeof dir, "%s/ref/%s", set, media);
    snprintf(path, sizeof path, "%s/%s", dir, info_name);
    json *info = json_load(path);
    if (!info) {
        printf("  %s: no %s, skipped\n", media, info_name);
        return;
    }
    prompt_of(info, prompt, sizeof prompt);
    REQUIRE(fx_find_model(set, "-text-F32.gguf", tp, sizeof tp) && fx_find_model(set, "-mmproj-F32.gguf", mp, sizeof mp),
            "no models/*-text-F32.gguf + *-mmproj-F32.gguf in %s", set);
    vllm_model_params mpar = vllm_model_default_params();
    mpar.mmproj_path = mp;
    mpar.llamacpp_compat = 1;
    mpar.vision_precision = VLLM_VISION_GGML;
    vllm_model *m = NULL;
    REQUIRE(vllm_model_load(tp, &mpar, &m) == VLLM_OK, "%s", vllm_last_error());
    if (!(m->family->caps & VL_FAM_MROPE)) { /* another family's set */
        printf("  %s: %s is not a Qwen-VL set, skipped\n", media, set);
        vllm_model_free(m);
        json_free(info);
        return;
    }
    ran++;
    const int max_tokens = (int)json_num(json_get(info, "image_max_tokens"), -1);
    m->image_max_tokens = max_tokens > 0 ? max_tokens : 0; /* -1: llama.cpp's defaults */
    vllm_session_params sp = vllm_session_default_params();
    sp.n_ctx = (int32_t)json_num(json_get(info, "n_ctx"), 4096);
    sp.n_threads = 2;
    vllm_session *s = NULL;
    REQUIRE(vllm_session_create(m, &sp, &s) == VLLM_OK, "%s", vllm_last_error());
    snprintf(path, sizeof path, "%s/../media/%s", set, json_str(json_get(info, "media"), "?"));
    vllm_status st = !strcmp(media, "image") ? vllm_session_push_image(s, path) : vllm_session_push_video(s, path, NULL);
    REQUIRE(st == VLLM_OK, "%s %s: %s", media, path, vllm_session_last_error(s));
    vllm_generate_params gp = vllm_generate_default_params();
    gp.max_tokens = (int32_t)json_num(json_get(info, "n_predict"), 16);
    REQUIRE(vllm_session_query(s, prompt, &gp) == VLLM_OK, "query: %s", vllm_session_last_error(s));

    char what[64];
    snprintf(what, sizeof what, "%s (%s)", media, info_name);
    check_layout(s, info, what);
    check_positions(s, dir, info, what);

    const int V = (int)json_num(json_get(info, "n_vocab"), 0);
    snprintf(path, sizeof path, "%s/%s", dir, json_str(json_get(info, "last_logits_file"), "?"));
    float *ref = fx_load_raw(path, sizeof(float), (size_t)V);
    REQUIRE(ref, "%s", path);
    const float *lg = vllm_session_logits(s);
    REQUIRE(lg, "no logits after the query");
    double err = 0;
    for (int i = 0; i < V; i++) {
        const double d = fabs((double)lg[i] - ref[i]);
        if (!(d <= err)) err = d;
    }
    printf("  %s: %zu prompt rows, last logits max|diff| %.3g (bound %g)\n", what,
           (size_t)json_num(json_get(info, "n_prompt_tokens"), 0), err, tol);
    CHECK(err < tol, "%s: last logits max|diff| %.3g >= %g", what, err, tol);

    const json *gen = json_get(info, "generated_ids"), *gaps = json_get(info, "top1_minus_top2_logit_gap_per_step");
    int compared = 0;
    for (size_t i = 0; gen && i < gen->n; i++) {
        if (!(json_num(json_at(gaps, i), 0) > 2 * err + 1e-6)) break; /* our pick may differ from here on */
        const int32_t want = (int32_t)json_num(json_at(gen, i), -1);
        const float *l = vllm_session_logits(s);
        int32_t tok = -1;
        st = vllm_session_next_token(s, &tok, NULL, NULL);
        const int ours = l ? argmax(l, V) : -1;
        CHECK((st == VLLM_OK || st == VLLM_DONE) && tok == want, "%s: step %zu: %d (argmax %d), llama.cpp %d", what, i, tok,
              ours, want);
        compared++;
        if (st != VLLM_OK || tok != want) break;
    }
    printf("  %s: greedy ids: %d of %zu steps equal\n", what, compared, gen ? gen->n : 0);
    CHECK(compared > 0, "%s: no greedy step compared", what);
    free(ref);
    vllm_session_free(s);
    vllm_model_free(m);
    json_free(info);
}

TEST_MAIN_BEGIN
    char sets[FX_MAX_SETS][FX_SET_PATH];
    const size_t n_sets = fx_qwen_sets(sets);
    for (size_t i = 0; i < n_sets; i++) {
        const char *set = sets[i];
        printf("fixture set %s\n", set);
        run(set, "image", "F32_ref_info.json", 5e-3);
        run(set, "image", "F32_fullres_ref_info.json", 5e-3);
        run(set, "video", "F32_ref_info.json", 5e-4);
    }
    if (!ran) TEST_SKIP("no Qwen-VL fixture set");
TEST_MAIN_END
