/* The encoder's linear weights stay in the file (linear_lazy.h): the
 * outputs are bit for bit those of resident f32 copies, in every
 * precision mode and for every tower kind; and loading an F16 SigLIP-512
 * tower (180 MiB in the file, 355 MiB as f32) no longer allocates the f32
 * copy.
 *   test_vision_lazy GEN_MODEL_EXE */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "encoder/encoder.h"
#include "encoder/linear_lazy.h"
#include "harness.h"

static const char *gen_exe;
static char tmpdir[256];

static int run_gen(const char *out, const char *const *args)
{
    const char *argv[32];
    int n = 0;
    argv[n++] = gen_exe;
    for (; *args && n < 28; args++) argv[n++] = *args;
    argv[n++] = "-o";
    argv[n++] = out;
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        execv(gen_exe, (char *const *)argv);
        _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Anonymous resident memory of this process, bytes. */
static long long rss_anon(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "RssAnon: %lld", &kb) == 1) break;
    fclose(f);
    return kb < 0 ? -1 : kb * 1024;
}

/* Encode one deterministic input with v; *n floats malloc'd into *out. */
static float *encode(vl_vision *v, vl_pool *pool, size_t *n)
{
    uint32_t seed = 12345;
    float *pix, *out;
    if (vl_vision_is_dynamic(v)) {
        const int a = vl_vision_align(v), w = 2 * a, h = 3 * a;
        const size_t np = (size_t)2 * 3 * w * h;
        *n = (size_t)(w / a) * (h / a) * vl_vision_n_embd_out(v);
        pix = malloc(np * sizeof *pix);
        out = malloc(*n * sizeof *out);
        REQUIRE(pix && out, "out of memory");
        for (size_t i = 0; i < np; i++) pix[i] = (float)((seed = seed * 1664525u + 1013904223u) >> 8) / 16777216.0f - 0.5f;
        REQUIRE(vl_vision_encode_frames(v, pool, pix, 2, w, h, out) == VLLM_OK, "%s", vl_error_message());
    } else {
        const int S = vl_vision_image_size(v);
        const size_t np = (size_t)2 * 3 * S * S;
        *n = (size_t)2 * vl_vision_tokens_per_tile(v) * vl_vision_n_embd_out(v);
        pix = malloc(np * sizeof *pix);
        out = malloc(*n * sizeof *out);
        REQUIRE(pix && out, "out of memory");
        for (size_t i = 0; i < np; i++) pix[i] = (float)((seed = seed * 1664525u + 1013904223u) >> 8) / 16777216.0f - 0.5f;
        REQUIRE(vl_vision_encode(v, pool, pix, 2, out) == VLLM_OK, "%s", vl_error_message());
    }
    free(pix);
    return out;
}

/* One file: kept in the file vs f32 copies, F32 / GGML / BF16 modes. */
static void same_outputs(const char *preset, const char *type, vl_pool *pool)
{
    char out[512];
    snprintf(out, sizeof out, "%s/%s-%s.gguf", tmpdir, preset, type);
    const char *args[] = {"--preset", preset, "--type", type, NULL};
    REQUIRE(run_gen(out, args) == 0, "generator %s %s", preset, type);
    vl_gguf *g = NULL;
    REQUIRE(vl_gguf_open(out, 1, &g) == VLLM_OK, "%s", vl_error_message());
    static const vl_vision_precision modes[] = {VL_VISION_F32, VL_VISION_GGML, VL_VISION_BF16};
    static const char *names[] = {"f32", "ggml", "bf16"};
    for (int k = 0; k < 3; k++) {
        vl_vision *lazy = NULL, *copies = NULL;
        REQUIRE(vl_vision_load_opts(g, modes[k], 0, &lazy) == VLLM_OK, "%s", vl_error_message());
        REQUIRE(vl_vision_load_opts(g, modes[k], 1, &copies) == VLLM_OK, "%s", vl_error_message());
        size_t n1, n2;
        float *a = encode(lazy, pool, &n1), *b = encode(copies, pool, &n2);
        size_t diff = 0;
        for (size_t i = 0; i < n1 && n1 == n2; i++) diff += memcmp(&a[i], &b[i], sizeof *a) != 0;
        CHECK(n1 == n2 && diff == 0, "%s %s %s: %zu of %zu outputs differ from the f32 copies'", preset, type, names[k],
              diff, n1);
        free(a);
        free(b);
        vl_vision_free(lazy);
        vl_vision_free(copies);
    }
    vl_gguf_close(g);
    unlink(out);
}

/* Loading the 256M-shape tower keeps its F16 weights in the file. */
static void load_memory(void)
{
    char out[512];
    snprintf(out, sizeof out, "%s/siglip-512.gguf", tmpdir);
    const char *args[] = {"--preset", "siglip-512", "--type", "F16", NULL};
    REQUIRE(run_gen(out, args) == 0, "generator siglip-512");
    vl_gguf *g = NULL;
    REQUIRE(vl_gguf_open(out, 1, &g) == VLLM_OK, "%s", vl_error_message());
    const long long before = rss_anon();
    vl_vision *v = NULL;
    REQUIRE(vl_vision_load_ex(g, VL_VISION_F32, &v) == VLLM_OK, "%s", vl_error_message());
    const long long grew = rss_anon() - before;
    /* the f32 copy alone would be 93M floats = 355 MiB; the small tensors
     * (patch kernel, positions, norms, biases) are ~4 MiB */
    CHECK(before >= 0 && grew < 16ll << 20, "loading an F16 SigLIP-512 tower allocated %.1f MiB (want < 16: weights stay in the file)",
          (double)grew / 1048576.0);
    vl_vision_free(v);
    vl_gguf_close(g);
    unlink(out);
}

TEST_MAIN_BEGIN
REQUIRE(argc > 1, "usage: test_vision_lazy GEN_MODEL_EXE");
gen_exe = argv[1];
snprintf(tmpdir, sizeof tmpdir, "/tmp/vl_lazy_XXXXXX");
REQUIRE(mkdtemp(tmpdir), "mkdtemp");
vl_pool *pool = vl_pool_create(2);
REQUIRE(pool, "pool");
same_outputs("tiny-mmproj", "F16", pool);
same_outputs("tiny-mmproj", "Q8_0", pool);
same_outputs("tiny-qwen3vl-mmproj", "F16", pool);
same_outputs("tiny-qwen25vl-mmproj", "BF16", pool);
load_memory();
vl_pool_free(pool);
rmdir(tmpdir);
TEST_MAIN_END
