/* Model and mmproj paths that are not what they should be get a clear
 * error, never a hang or a misleading message:
 *  - non-regular files (FIFO, socket, directory, character device) are
 *    refused before open() can block on them (a FIFO without a writer
 *    blocks in open(); an alarm turns such a hang into a failure);
 *  - an mmproj given as the text model, or a text model as the mmproj,
 *    is named as such (not "tokenizer: missing key ...");
 *  - vllm_model_params.image_min_tokens / image_max_tokens out of range
 *    (negative, above VLLM_IMAGE_TOKENS_LIMIT, min above max) are refused
 *    naming the field and value; a struct_size that ends before them
 *    leaves them at their defaults;
 *  - vllm_model_info.family names the family of each tiny set's mmproj
 *    (NULL for a text-only load);
 *  - every size a file controls is held to a limit at load (the message
 *    names the key, its value and the limit): a generated mmproj with
 *    image_size 4096 (a 32 GiB attention scratch before), and keys-only
 *    GGUFs with one size above its limit for each text and vision key;
 * usage: test_model_files PATH-TO-videollm-gen-model */
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/gguf.h"
#include "fixture_set.h"
#include "decoder/llm.h"
#include "decoder/tokenizer.h"
#include "encoder/encoder.h"
#include "gguf_writer.h"
#include "harness.h"
#include "core/model_limits.h"
#include "vllm/videollm.h"

static char dir[] = "/tmp/videollm-mfiles-XXXXXX";
static char text_model[1024], mmproj[1024];

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "FAIL: loading a model path blocked for 10 s (open() on a FIFO?)\n";
    if (write(2, msg, sizeof msg - 1) < 0) _exit(1);
    _exit(1);
}

/* Load `path` as the text model, or as the mmproj of the fixture text
 * model; the error must come back within the alarm and name `want`. */
static void refused(const char *path, int as_mmproj, const char *want, const char *what)
{
    vllm_model_params p = vllm_model_default_params();
    if (as_mmproj) p.mmproj_path = path;
    vllm_model *m = NULL;
    alarm(10);
    vllm_status st = vllm_model_load(as_mmproj ? text_model : path, &p, &m);
    alarm(0);
    CHECK(st != VLLM_OK && !m, "%s as %s: loaded", what, as_mmproj ? "mmproj" : "model");
    const char *msg = vllm_last_error();
    CHECK(strstr(msg, path) && strstr(msg, want), "%s as %s: message \"%s\" should name the path and say \"%s\"",
          what, as_mmproj ? "mmproj" : "model", msg, want);
    vllm_model_free(m);
}

static void test_non_regular(void)
{
    char fifo[1100], sock[1100];
    snprintf(fifo, sizeof fifo, "%s/model.fifo", dir);
    REQUIRE(mkfifo(fifo, 0600) == 0, "mkfifo");
    snprintf(sock, sizeof sock, "%s/model.sock", dir);
    int sfd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock);
    REQUIRE(sfd >= 0 && bind(sfd, (struct sockaddr *)&sa, sizeof sa) == 0, "unix socket");
    for (int as_mmproj = 0; as_mmproj < 2; as_mmproj++) {
        refused(fifo, as_mmproj, "FIFO", "a FIFO");
        refused(sock, as_mmproj, "socket", "a socket");
        refused(dir, as_mmproj, "directory", "a directory");
        refused("/dev/zero", as_mmproj, "character device", "/dev/zero");
    }
    close(sfd);
    unlink(sock);
    unlink(fifo);
}

static void test_swapped_roles(void)
{
    refused(mmproj, 0, "is a vision projector (mmproj", "the mmproj");
    CHECK(strstr(vllm_last_error(), "--mmproj") != NULL, "the message says where an mmproj goes: %s", vllm_last_error());
    refused(text_model, 1, "is a text model", "the text model");
    CHECK(strstr(vllm_last_error(), "-m") != NULL, "the message says where a text model goes: %s", vllm_last_error());
    /* the right way round still loads */
    vllm_model_params p = vllm_model_default_params();
    p.mmproj_path = mmproj;
    vllm_model *m = NULL;
    CHECK(vllm_model_load(text_model, &p, &m) == VLLM_OK, "fixture pair: %s", vllm_last_error());
    vllm_model_free(m);
}

/* ---- the caller's bounds on visual tokens per image ------------------------------ */

/* Load the fixture pair with the given bounds: refused with a message
 * naming `want` and `value`, or (want NULL) loaded. */
static void image_tokens(int32_t min, int32_t max, const char *want, const char *value)
{
    vllm_model_params p = vllm_model_default_params();
    p.mmproj_path = mmproj;
    p.image_min_tokens = min;
    p.image_max_tokens = max;
    vllm_model *m = NULL;
    vllm_status st = vllm_model_load(text_model, &p, &m);
    if (!want) {
        CHECK(st == VLLM_OK && m, "image tokens %d..%d: %s", min, max, vllm_last_error());
    } else {
        const char *msg = vllm_last_error();
        CHECK(st == VLLM_ERR_INVALID_ARG && !m, "image tokens %d..%d: status %d, want VLLM_ERR_INVALID_ARG", min, max,
              (int)st);
        CHECK(strstr(msg, want) && strstr(msg, value), "image tokens %d..%d: message \"%s\" should name %s and %s", min,
              max, msg, want, value);
    }
    vllm_model_free(m);
}

static void test_image_token_bounds(void)
{
    image_tokens(0, 0, NULL, NULL);
    image_tokens(1, VLLM_IMAGE_TOKENS_LIMIT, NULL, NULL);
    image_tokens(64, 64, NULL, NULL);
    image_tokens(256, 0, NULL, NULL); /* only a lower bound: the family's upper one applies */
    image_tokens(-1, 0, "image_min_tokens", "-1");
    image_tokens(0, -5, "image_max_tokens", "-5");
    image_tokens(INT32_MIN, 0, "image_min_tokens", "-2147483648");
    image_tokens(0, VLLM_IMAGE_TOKENS_LIMIT + 1, "image_max_tokens", "16385");
    image_tokens(0, INT32_MAX, "image_max_tokens", "2147483647");
    image_tokens(300, 200, "image_min_tokens = 300", "image_max_tokens = 200");

    /* a caller built against the header before the bounds: whatever follows
     * its struct_size is not read (the defaults apply) */
    vllm_model_params p = vllm_model_default_params();
    p.mmproj_path = mmproj;
    p.image_min_tokens = -7;
    p.image_max_tokens = -7;
    p.struct_size = offsetof(vllm_model_params, image_min_tokens);
    vllm_model *m = NULL;
    CHECK(vllm_model_load(text_model, &p, &m) == VLLM_OK, "old struct_size: %s", vllm_last_error());
    vllm_model_free(m);
}

/* ---- the family a model reports -------------------------------------------------- */

/* Each tiny set of tests/data with the family its mmproj's projector type
 * belongs to (the names are the API's; see vllm_model_info.family). */
static void test_family(const char *data)
{
    static const struct { const char *set, *family; } SETS[] = {
        {"tiny-smolvlm2", "smolvlm2"}, {"tiny-qwen25vl", "qwen2.5-vl"}, {"tiny-qwen3vl", "qwen3-vl"}};
    for (size_t i = 0; i < sizeof SETS / sizeof SETS[0]; i++) {
        char set[1100], text[2200], mm[2200];
        snprintf(set, sizeof set, "%s/%s", data, SETS[i].set);
        REQUIRE(fx_find_model(set, "-text-F32.gguf", text, sizeof text) &&
                    fx_find_model(set, "-mmproj-F32.gguf", mm, sizeof mm),
                "no models/*-text-F32.gguf and *-mmproj-F32.gguf in %s", set);
        for (int with_vision = 0; with_vision < 2; with_vision++) {
            vllm_model_params p = vllm_model_default_params();
            p.mmproj_path = with_vision ? mm : NULL;
            vllm_model *m = NULL;
            REQUIRE(vllm_model_load(text, &p, &m) == VLLM_OK, "%s: %s", set, vllm_last_error());
            vllm_model_info info = {.struct_size = sizeof info};
            CHECK(vllm_model_get_info(m, &info) == VLLM_OK, "%s: %s", set, vllm_last_error());
            if (with_vision)
                CHECK(info.family && !strcmp(info.family, SETS[i].family), "%s: family \"%s\", want \"%s\"", set,
                      info.family ? info.family : "(null)", SETS[i].family);
            else
                CHECK(!info.family, "%s text only: family \"%s\", want NULL", set, info.family);
            /* a caller's struct that ends before the field gets nothing written there */
            vllm_model_info old = {.struct_size = offsetof(vllm_model_info, family), .family = "untouched"};
            CHECK(vllm_model_get_info(m, &old) == VLLM_OK && !strcmp(old.family, "untouched"),
                  "%s: family written past struct_size", set);
            vllm_model_free(m);
        }
    }
}

/* ---- limits ---------------------------------------------------------------------- */

typedef struct override {
    const char *key;
    int64_t value;
    const char *want;  /* in the message: the key, or what the sizes make */
    int64_t limit;     /* in the message */
    const char *key2;  /* optional second key set to value2 */
    int64_t value2;
} override;

static int64_t key_value(const override *o, const char *key, int64_t v)
{
    if (o && !strcmp(o->key, key)) return o->value;
    if (o && o->key2 && !strcmp(o->key2, key)) return o->value2;
    return v;
}

static void add_text_keys(vl_gw *w, const override *o)
{
    static const struct { const char *key; int64_t v; } base[] = {
        {"llama.embedding_length", 576}, {"llama.block_count", 30}, {"llama.feed_forward_length", 1536},
        {"llama.attention.head_count", 9}, {"llama.attention.head_count_kv", 3}, {"llama.context_length", 8192},
        {"llama.attention.key_length", 64}, {"llama.attention.value_length", 64}};
    vl_gw_add_str(w, "general.architecture", "llama");
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++)
        vl_gw_add_i64(w, base[i].key, key_value(o, base[i].key, base[i].v));
}

static void add_vision_keys(vl_gw *w, const override *o)
{
    static const struct { const char *key; int64_t v; } base[] = {
        {"clip.vision.image_size", 512}, {"clip.vision.patch_size", 16}, {"clip.vision.embedding_length", 768},
        {"clip.vision.feed_forward_length", 3072}, {"clip.vision.block_count", 12},
        {"clip.vision.attention.head_count", 12}, {"clip.vision.projection_dim", 576},
        {"clip.vision.preproc_image_size", 2048}, {"clip.vision.projector.scale_factor", 4}};
    static const float mean[3] = {0.5f, 0.5f, 0.5f};
    vl_gw_add_str(w, "general.architecture", "clip");
    vl_gw_add_bool(w, "clip.has_vision_encoder", 1);
    vl_gw_add_str(w, "clip.projector_type", "idefics3");
    vl_gw_add_arr(w, "clip.vision.image_mean", VL_GGUF_FLOAT32, 3, mean);
    vl_gw_add_arr(w, "clip.vision.image_std", VL_GGUF_FLOAT32, 3, mean);
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++)
        vl_gw_add_i64(w, base[i].key, key_value(o, base[i].key, base[i].v));
}

/* Load a keys-only GGUF as a text model (vision = 0) or an mmproj; with
 * an override the message must name the key (or `want`) and the limit,
 * without one the hyper-parameters pass and only the tensors are missing. */
static void check_limit(int vision, const override *o)
{
    vl_gw *w = vl_gw_new();
    if (vision) add_vision_keys(w, o);
    else add_text_keys(w, o);
    uint8_t *buf = NULL;
    size_t size = 0;
    REQUIRE(vl_gw_to_memory(w, &buf, &size) == 0, "serialize");
    vl_gguf *g = NULL;
    REQUIRE(vl_gguf_open_memory(buf, size, &g) == VLLM_OK, "%s", vllm_last_error());
    vllm_status st;
    if (vision) {
        vl_vision *v = NULL;
        st = vl_vision_load_ex(g, VL_VISION_F32, &v);
        vl_vision_free(v);
    } else {
        vl_llm *m = NULL;
        st = vl_llm_load(g, &m);
        vl_llm_free(m);
    }
    const char *msg = vllm_last_error();
    if (!o) {
        CHECK(st != VLLM_OK && strstr(msg, "tensor") && strstr(msg, "missing"),
              "%s keys within the limits: want a missing tensor, got \"%s\"", vision ? "vision" : "text", msg);
    } else {
        char limit[32];
        snprintf(limit, sizeof limit, "%lld", (long long)o->limit);
        CHECK(st != VLLM_OK && strstr(msg, o->want) && strstr(msg, limit),
              "%s = %lld: message \"%s\" should name '%s' and the limit %s", o->key, (long long)o->value, msg,
              o->want, limit);
    }
    vl_gguf_close(g);
    free(buf);
    vl_gw_free(w);
}

/* A tokenizer with one token more than the vocabulary limit. */
static void check_vocab_limit(void)
{
    const uint64_t n = (uint64_t)VL_LIMIT_TEXT_VOCAB + 1;
    const char **strs = malloc(n * sizeof *strs);
    REQUIRE(strs, "out of memory");
    for (uint64_t i = 0; i < n; i++) strs[i] = "a";
    vl_gw *w = vl_gw_new();
    vl_gw_add_str(w, "tokenizer.ggml.model", "gpt2");
    vl_gw_add_arr_str(w, "tokenizer.ggml.tokens", n, strs);
    uint8_t *buf = NULL;
    size_t size = 0;
    REQUIRE(vl_gw_to_memory(w, &buf, &size) == 0, "serialize");
    vl_gguf *g = NULL;
    REQUIRE(vl_gguf_open_memory(buf, size, &g) == VLLM_OK, "%s", vllm_last_error());
    vl_tokenizer *t = NULL;
    vllm_status st = vl_tokenizer_load(g, &t);
    char want[32];
    snprintf(want, sizeof want, "%d", VL_LIMIT_TEXT_VOCAB);
    CHECK(st != VLLM_OK && strstr(vllm_last_error(), want) && strstr(vllm_last_error(), "supported"),
          "vocabulary of %llu tokens: \"%s\"", (unsigned long long)n, vllm_last_error());
    vl_tokenizer_free(t);
    vl_gguf_close(g);
    free(buf);
    vl_gw_free(w);
    free(strs);
}

static void test_limits(const char *gen_exe)
{
#define LIM(k, lim, over) {k, (int64_t)(lim) + (over), k, lim, NULL, 0}
    const override text[] = {
        LIM("llama.embedding_length", VL_LIMIT_TEXT_N_EMBD, 64), LIM("llama.block_count", VL_LIMIT_TEXT_N_LAYER, 1),
        LIM("llama.feed_forward_length", VL_LIMIT_TEXT_N_FF, 1), LIM("llama.attention.head_count", VL_LIMIT_TEXT_N_HEAD, 1),
        LIM("llama.context_length", VL_LIMIT_TEXT_CTX, 1), LIM("llama.attention.key_length", VL_LIMIT_TEXT_HEAD_DIM, 2)};
    const override vision[] = {
        LIM("clip.vision.image_size", VL_LIMIT_VISION_IMAGE_SIZE, 2048), /* 4096 */
        LIM("clip.vision.patch_size", VL_LIMIT_VISION_PATCH_SIZE, 1),
        LIM("clip.vision.embedding_length", VL_LIMIT_VISION_N_EMBD, 12),
        LIM("clip.vision.feed_forward_length", VL_LIMIT_VISION_N_FF, 1),
        LIM("clip.vision.block_count", VL_LIMIT_VISION_N_LAYER, 1),
        LIM("clip.vision.attention.head_count", VL_LIMIT_VISION_N_HEAD, 1),
        LIM("clip.vision.projection_dim", VL_LIMIT_VISION_PROJ_DIM, 1),
        LIM("clip.vision.preproc_image_size", VL_LIMIT_VISION_PREPROC_SIZE, 1),
        LIM("clip.vision.projector.scale_factor", VL_LIMIT_VISION_SCALE_FACTOR, 1),
        /* each key within its own range, too big together: */
        {"clip.vision.patch_size", 4, "patches", VL_LIMIT_VISION_N_PATCHES, NULL, 0},          /* (512/4)^2 */
        {"clip.vision.projector.scale_factor", 1, "visual tokens per frame", VL_LIMIT_VISION_TOKENS_PER_FRAME,
         "clip.vision.patch_size", 8},                                                          /* (512/8)^2 */
        {"clip.vision.preproc_image_size", 8192, "tiles", VL_LIMIT_VISION_TILES_SIDE, "clip.vision.image_size", 256}};
#undef LIM
    check_limit(0, NULL);
    check_limit(1, NULL);
    for (size_t i = 0; i < sizeof text / sizeof text[0]; i++) check_limit(0, &text[i]);
    for (size_t i = 0; i < sizeof vision / sizeof vision[0]; i++) check_limit(1, &vision[i]);
    check_vocab_limit();

    /* a whole generated pair whose mmproj says image_size 4096 (256^2 patches) */
    char cmd[2048], text_path[1100], mm_path[1100];
    snprintf(text_path, sizeof text_path, "%s/text.gguf", dir);
    snprintf(mm_path, sizeof mm_path, "%s/mmproj4096.gguf", dir);
    snprintf(cmd, sizeof cmd, "'%s' --preset tiny --type F32 -o '%s' >/dev/null && '%s' --preset tiny-mmproj "
             "--v-image-size 4096 --v-patch 16 --v-layer 1 --type F32 -o '%s' >/dev/null", gen_exe, text_path, gen_exe, mm_path);
    REQUIRE(system(cmd) == 0, "generator failed: %s", cmd);
    vllm_model_params p = vllm_model_default_params();
    p.mmproj_path = mm_path;
    vllm_model *m = NULL;
    vllm_status st = vllm_model_load(text_path, &p, &m);
    CHECK(st != VLLM_OK && strstr(vllm_last_error(), "clip.vision.image_size") && strstr(vllm_last_error(), "4096") &&
              strstr(vllm_last_error(), "2048"),
          "mmproj with image_size 4096: %s", st == VLLM_OK ? "loaded" : vllm_last_error());
    vllm_model_free(m);
}

TEST_MAIN_BEGIN
    REQUIRE(argc > 1, "usage: test_model_files PATH-TO-videollm-gen-model");
    REQUIRE(mkdtemp(dir), "mkdtemp");
    signal(SIGALRM, on_alarm);
    const char *data = getenv("VIDEOLLM_TEST_DATA") ? getenv("VIDEOLLM_TEST_DATA") : "tests/data";
    fx_require_model("-text-F32.gguf", text_model, sizeof text_model);
    fx_require_model("-mmproj-F32.gguf", mmproj, sizeof mmproj);
    test_non_regular();
    test_swapped_roles();
    test_image_token_bounds();
    test_family(data);
    test_limits(argv[1]);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
TEST_MAIN_END
