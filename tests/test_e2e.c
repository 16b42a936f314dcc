/* End to end through the public API on the tiny fixture models:
 *  1. image: with llama.cpp's preprocessing and layout, the context equals
 *     llama.cpp's chunk list token by token and the greedy answer equals
 *     llama.cpp's ids (where the recorded gap exceeds the measured error);
 *  2. video: the prompt of test-3.mp4 equals, token by token, the string
 *     transformers' SmolVLMProcessor builds (rebuilt here independently
 *     from its rules and the clip's ffprobe metadata, with <image>
 *     placeholders where the visual tokens go);
 *  3. a second question reuses the KV cache exactly: same answer as a
 *     fresh session given the first turn as tokens;
 *  4. snapshots: save -> load -> continue gives identical tokens; other
 *     model, corrupt and truncated files are clean errors that leave the
 *     session unchanged. */
#define VLLM_EXPERIMENTAL
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixture_set.h"
#include "harness.h"
#include "json.h"
#include "vllm/videollm.h"

static char fx[1024], media[1024];

/* text: a model file name as the refs record it, or its kind ("-text-F32.gguf") */
static vllm_model *load(const char *text, int compat, int precision)
{
    char tp[4400], mp[4400];
    REQUIRE(fx_find_as(fx, text, tp, sizeof tp), "no model like %s in %s", text, fx);
    fx_require_model("-mmproj-F32.gguf", mp, sizeof mp);
    vllm_model_params p = vllm_model_default_params();
    p.mmproj_path = mp;
    p.llamacpp_compat = compat;
    p.vision_precision = precision;
    vllm_model *m = NULL;
    REQUIRE(vllm_model_load(tp, &p, &m) == VLLM_OK, "load %s: %s", tp, vllm_last_error());
    return m;
}

static int greedy(vllm_session *s, const char *prompt, int n, int raw, int32_t *out)
{
    vllm_generate_params gp = vllm_generate_default_params();
    gp.max_tokens = n;
    gp.raw = raw;
    if (vllm_session_query(s, prompt, &gp) != VLLM_OK) return -1;
    int k = 0;
    int32_t t;
    while (vllm_session_next_token(s, &t, NULL, NULL) == VLLM_OK) out[k++] = t;
    return k;
}

static void test_image(void)
{
    char path[1400];
    snprintf(path, sizeof path, "%s/ref/image/F32_ref_info.json", fx);
    json *info = json_load(path);
    REQUIRE(info, "cannot read %s", path);
    vllm_model *m = load(json_str(json_get(info, "text_model"), ""), 1, VLLM_VISION_GGML);
    vllm_session *s = NULL;
    vllm_session_params sp = vllm_session_default_params();
    sp.kv_type = VLLM_KV_F32; /* llama.cpp's logits and ids were computed with an f32 KV cache */
    REQUIRE(vllm_session_create(m, &sp, &s) == VLLM_OK, "%s", vllm_last_error());
    snprintf(path, sizeof path, "%s/%s", media, json_str(json_get(info, "media"), ""));
    CHECK(vllm_session_push_image(s, path) == VLLM_OK, "push_image: %s", vllm_session_last_error(s));

    /* the user text after the marker, from llama.cpp's last text chunk */
    const json *chunks = json_get(info, "chunks");
    const json *last = json_at(chunks, chunks->n - 1);
    const char *tail = json_str(json_get(last, "text"), "");
    char prompt[256];
    snprintf(prompt, sizeof prompt, "%s", tail + strlen("<fake_token_around_image>"));
    char *end = strstr(prompt, "<end_of_utterance>");
    REQUIRE(end, "unexpected last chunk '%s'", tail);
    *end = '\0';

    vllm_generate_params gp = vllm_generate_default_params();
    gp.max_tokens = (int32_t)json_num(json_get(info, "n_predict"), 16);
    CHECK(vllm_session_query(s, prompt, &gp) == VLLM_OK, "query: %s", vllm_session_last_error(s));

    const int32_t *hist;
    size_t n;
    vllm_session_history(s, &hist, &n);
    CHECK((double)n == json_num(json_get(info, "n_past_after_prompt"), -1), "context %zu positions", n);
    size_t bad = 0;
    for (size_t c = 0; c < chunks->n; c++) {
        const json *ch = json_at(chunks, c);
        size_t pos = (size_t)json_num(json_get(ch, "pos"), 0), cnt = (size_t)json_num(json_get(ch, "n_tokens"), 0);
        const json *ids = json_get(ch, "token_ids");
        for (size_t i = 0; i < cnt && pos + i < n; i++) {
            int32_t want = ids ? (int32_t)json_num(json_at(ids, i), -2) : -1;
            bad += hist[pos + i] != want;
        }
    }
    CHECK(bad == 0, "image prompt: %zu positions differ from llama.cpp's chunk list", bad);

    /* logits after the prompt vs llama.cpp, then the greedy answer */
    snprintf(path, sizeof path, "%s/ref/image/%s", fx, json_str(json_get(info, "last_logits_file"), ""));
    size_t len = 0;
    float *ref = (float *)read_file_all(path, &len);
    vllm_model_info mi = {.struct_size = sizeof mi};
    vllm_model_get_info(m, &mi);
    const float *lg = vllm_session_logits(s);
    double err = 0;
    for (int i = 0; ref && lg && i < mi.n_vocab; i++) err = fmax(err, fabs((double)lg[i] - ref[i]));
    printf("image: %zu positions match llama.cpp's chunks; last logits max |diff| %.3g\n", n, err);
    const json *gen = json_get(info, "generated_ids"), *gaps = json_get(info, "top1_minus_top2_logit_gap_per_step");
    int32_t t;
    size_t i = 0, compared = 0;
    while (vllm_session_next_token(s, &t, NULL, NULL) == VLLM_OK && i < gen->n) {
        if (json_num(json_at(gaps, i), 0) > 2 * err + 1e-6) {
            CHECK(t == (int32_t)json_num(json_at(gen, i), -1), "image answer step %zu: %d vs llama.cpp %d", i, t,
                  (int)json_num(json_at(gen, i), -1));
            compared++;
        } else if (t != (int32_t)json_num(json_at(gen, i), -1)) {
            break; /* a near-tie went the other way: the rest would compare different texts */
        }
        i++;
    }
    printf("image: greedy answer equals llama.cpp's on %zu steps\n", compared);
    CHECK(compared >= 8, "only %zu greedy steps compared", compared);
    free(ref);
    vllm_session_free(s);
    vllm_model_free(m);
    json_free(info);
}

/* transformers' SmolVLM2 prompt for test-3.mp4, from the rules alone */
static void test_video_prompt(void)
{
    char path[1400];
    snprintf(path, sizeof path, "%s/ref/video/ffprobe.txt", fx);
    char *probe = read_file_all(path, NULL);
    REQUIRE(probe, "cannot read %s", path);
    int num, den;
    long total;
    char *p = strstr(probe, "r_frame_rate="), *q = strstr(probe, "nb_frames=");
    REQUIRE(p && q && sscanf(p, "r_frame_rate=%d/%d", &num, &den) == 2 && sscanf(q, "nb_frames=%ld", &total) == 1,
            "ffprobe.txt");
    free(probe);
    const double vfps = (double)num / den, duration = (double)total / vfps;
    /* fps 1, max 64 frames: n = min(round(1 * duration), 64); linspace(0, total-1, n) */
    long n = lround(duration);
    if (n > 64) n = 64;
    const char *words[] = {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                           "eleven", "twelve"};
    REQUIRE(n <= 12, "clip longer than this test expects");
    char *expect = malloc(1 << 16);
    size_t at = (size_t)sprintf(expect,
                                "<|im_start|>User: You are provided the following series of %s frames from a 0:00:%02d "
                                "[H:MM:SS] video.\n",
                                words[n], (int)duration);
    vllm_model *m = load("-text-F32.gguf", 0, VLLM_VISION_F32);
    vllm_model_info mi = {.struct_size = sizeof mi};
    vllm_model_get_info(m, &mi);
    /* visual tokens per frame from the set's config: (image / patch)^2 / scale^2 */
    fx_require_model("-config.json", path, sizeof path);
    json *cfg = json_load(path);
    const json *vc = json_get(cfg, "config");
    const int side = (int)json_num(json_get(vc, "v_image_size"), 0) / (int)json_num(json_get(vc, "v_patch"), 1);
    const int scale = (int)json_num(json_get(vc, "v_scale"), 1);
    const int per_frame = side * side / (scale * scale);
    json_free(cfg);
    REQUIRE(per_frame > 0, "%s: no v_image_size / v_patch / v_scale", path);
    CHECK(mi.tokens_per_frame == per_frame, "%d tokens per frame, the set's config makes %d", mi.tokens_per_frame,
          per_frame);
    for (long i = 0; i < n; i++) {
        long idx = (long)((double)i * (double)(total - 1) / (double)(n - 1));
        if (i == n - 1) idx = total - 1;
        double ts = (double)idx / vfps;
        at += (size_t)sprintf(expect + at, "\nFrame from %02d:%02d:<fake_token_around_image><global-img>", (int)(ts / 60),
                              (int)fmod(ts, 60));
        for (int k = 0; k < per_frame; k++) at += (size_t)sprintf(expect + at, "<image>");
        at += (size_t)sprintf(expect + at, "<fake_token_around_image>");
    }
    at += (size_t)sprintf(expect + at, "\n\nWhat happens?<end_of_utterance>\nAssistant:");

    size_t ne = 0;
    vllm_tokenize(m, expect, at, VLLM_TOKENIZE_PARSE_SPECIAL, NULL, 0, &ne);
    int32_t *ids = malloc(ne * sizeof *ids);
    CHECK(vllm_tokenize(m, expect, at, VLLM_TOKENIZE_PARSE_SPECIAL, ids, ne, &ne) == VLLM_OK, "%s", vllm_last_error());
    int32_t image_id = 0;
    size_t one = 0;
    vllm_tokenize(m, "<image>", 7, VLLM_TOKENIZE_PARSE_SPECIAL, &image_id, 1, &one);

    vllm_session *s = NULL;
    REQUIRE(vllm_session_create(m, NULL, &s) == VLLM_OK, "%s", vllm_last_error());
    snprintf(path, sizeof path, "%s/ref/video/F32_ref_info.json", fx); /* the clip the set's video refs ran */
    json *vinfo = json_load(path);
    REQUIRE(vinfo && json_str(json_get(vinfo, "media"), NULL), "no media named in %s", path);
    snprintf(path, sizeof path, "%s/%s", media, json_str(json_get(vinfo, "media"), ""));
    json_free(vinfo);
    CHECK(vllm_session_push_video(s, path, NULL) == VLLM_OK, "push_video: %s", vllm_session_last_error(s));
    vllm_generate_params gp = vllm_generate_default_params();
    gp.max_tokens = 4;
    CHECK(vllm_session_query(s, "What happens?", &gp) == VLLM_OK, "query: %s", vllm_session_last_error(s));
    const int32_t *hist;
    size_t nh;
    vllm_session_history(s, &hist, &nh);
    size_t diff = nh == ne ? 0 : (size_t)-1, first = 0;
    for (size_t i = 0; nh == ne && i < ne; i++) {
        int32_t want = ids[i] == image_id ? -1 : ids[i];
        if (hist[i] != want && !diff++) first = i;
    }
    CHECK(diff == 0, "video prompt: %zu vs %zu positions, %zu differ (first at %zu)", nh, ne, diff, first);
    printf("video: %zu-position prompt equals transformers' layout (%ld frames)\n", nh, n);
    vllm_session_stats st = {.struct_size = sizeof st};
    vllm_session_get_stats(s, &st);
    CHECK(st.n_frames_encoded == n && st.n_visual_tokens == n * per_frame, "stats: %lld frames, %lld tokens",
          (long long)st.n_frames_encoded, (long long)st.n_visual_tokens);
    free(ids);
    free(expect);
    vllm_session_free(s);
    vllm_model_free(m);
}

static void test_multiturn_and_snapshots(void)
{
    vllm_model *m = load("-text-F32.gguf", 0, VLLM_VISION_F32);
    const char *turn2 = "<end_of_utterance>\nUser: And then?<end_of_utterance>\nAssistant:";
    int32_t a1[16], a2[16], b2[16], c2[16];
    vllm_session *a = NULL, *b = NULL, *c = NULL;
    REQUIRE(vllm_session_create(m, NULL, &a) == VLLM_OK && vllm_session_create(m, NULL, &b) == VLLM_OK &&
                vllm_session_create(m, NULL, &c) == VLLM_OK,
            "%s", vllm_last_error());
    int n1 = greedy(a, "Once upon a time", 8, 0, a1);
    CHECK(n1 == 8, "first answer %d tokens", n1);

    char snap[] = "/tmp/videollm-snap-XXXXXX";
    int fd = mkstemp(snap);
    REQUIRE(fd >= 0, "mkstemp");
    close(fd);
    CHECK(vllm_session_save(a, snap) == VLLM_OK, "save: %s", vllm_session_last_error(a));

    /* B: the first turn (prompt + answer) handed over as plain tokens */
    const int32_t *hist;
    size_t nh;
    vllm_session_history(a, &hist, &nh);
    int32_t *given = malloc((nh + 1) * sizeof *given);
    memcpy(given, hist, nh * sizeof *given);
    given[nh] = a1[n1 - 1]; /* the last answer token is evaluated lazily */
    CHECK(vllm_session_eval_tokens(b, given, nh + 1) == VLLM_OK, "%s", vllm_session_last_error(b));

    int n2 = greedy(a, turn2, 8, 1, a2);
    int m2 = greedy(b, turn2, 8, 1, b2);
    CHECK(n2 == 8 && m2 == 8 && !memcmp(a2, b2, sizeof(int32_t) * 8), "second answer: KV reuse differs from a fresh session");

    /* C: restored from the snapshot, then the same second question */
    CHECK(vllm_session_load(c, snap) == VLLM_OK, "load: %s", vllm_session_last_error(c));
    int k2 = greedy(c, turn2, 8, 1, c2);
    CHECK(k2 == 8 && !memcmp(a2, c2, sizeof(int32_t) * 8), "save/load/continue differs");
    printf("multi-turn: second answer identical with KV reuse, from tokens, and from a snapshot\n");

    /* damaged snapshots: clean errors, session unchanged */
    vllm_session_stats before = {.struct_size = sizeof before}, after = {.struct_size = sizeof after};
    vllm_session_get_stats(c, &before);
    size_t len = 0;
    char *bytes = read_file_all(snap, &len);
    REQUIRE(bytes && len > 64, "snapshot of %zu bytes", len);
    char bad[] = "/tmp/videollm-bad-XXXXXX";
    fd = mkstemp(bad);
    REQUIRE(fd >= 0, "mkstemp");
    close(fd);
    FILE *f = fopen(bad, "wb");
    fwrite(bytes, 1, len / 2, f);
    fclose(f);
    CHECK(vllm_session_load(c, bad) == VLLM_ERR_FORMAT, "truncated snapshot: %s", vllm_session_last_error(c));
    bytes[len / 2] ^= 0x5a;
    bytes[len / 3] ^= 0xa5;
    f = fopen(bad, "wb");
    fwrite(bytes, 1, len, f);
    fclose(f);
    vllm_status st = vllm_session_load(c, bad);
    CHECK(st == VLLM_ERR_FORMAT, "corrupt snapshot gave %s: %s", vllm_status_string(st), vllm_session_last_error(c));
    vllm_session_get_stats(c, &after);
    CHECK(after.n_past == before.n_past, "failed loads changed the context (%d -> %d)", before.n_past, after.n_past);
    CHECK(vllm_session_load(c, "/nonexistent/snap") == VLLM_ERR_IO, "missing file");
    free(bytes);

    vllm_model *other = load("-text-Q8_0.gguf", 0, VLLM_VISION_F32);
    vllm_session *o = NULL;
    REQUIRE(vllm_session_create(other, NULL, &o) == VLLM_OK, "%s", vllm_last_error());
    CHECK(vllm_session_load(o, snap) == VLLM_ERR_INVALID_ARG, "snapshot of another model: %s", vllm_session_last_error(o));
    CHECK(strstr(vllm_session_last_error(o), "different model") != NULL, "message: %s", vllm_session_last_error(o));
    vllm_session_free(o);
    vllm_model_free(other);

    remove(snap);
    remove(bad);
    free(given);
    vllm_session_free(a);
    vllm_session_free(b);
    vllm_session_free(c);
    vllm_model_free(m);
}

TEST_MAIN_BEGIN
    snprintf(fx, sizeof fx, "%s", fx_set_dir());
    snprintf(media, sizeof media, "%s", fx_media_dir());
    test_image();
    test_video_prompt();
    test_multiturn_and_snapshots();
TEST_MAIN_END
