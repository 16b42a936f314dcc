/* The test-model generator and its reference quantizers.
 *
 * argv[1] is the videollm-gen-model executable. The generated files are
 * checked against the schema the generator promises (the tiny-smolvlm2
 * README's tensor table, the preset dimensions given in its --help and
 * the design brief) and the tokenizer against the BPE invariants; the
 * quantizers against the library's reference dequantizer, which was
 * written independently from ggml's block layouts. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/dtype.h"
#include "core/f16.h"
#include "core/gguf.h"
#include "core/quant.h"
#include "encoder/encoder.h"
#include "harness.h"
#include "quantize_ref.h"

static const char *gen_exe;
static char tmpdir[256];

static int run_gen(const char *out, const char *const *args)
{
    const char *argv[64];
    int n = 0;
    argv[n++] = gen_exe;
    for (; *args && n < 60; args++) argv[n++] = *args;
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

static int64_t geti(const vl_gguf *g, const char *key)
{
    int64_t v = -1;
    CHECK(vl_gguf_get_int_req(g, key, &v) == VLLM_OK, "%s: %s", key, vl_error_message());
    return v;
}

/* Weights' statistics from the raw blocks (F32/F16/Q8_0 decoded here from
 * the format definitions; other types through the library). */
static void stats(const vl_gguf_tensor *t, double *mean, double *sd)
{
    int64_t n = t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
    float *x = malloc((size_t)n * sizeof *x);
    if (t->type == VL_TYPE_F32) {
        memcpy(x, t->data, (size_t)n * 4);
    } else if (t->type == VL_TYPE_Q8_0) {
        const uint8_t *b = t->data;
        for (int64_t i = 0; i < n / 32; i++, b += 34) {
            uint16_t h;
            memcpy(&h, b, 2);
            for (int j = 0; j < 32; j++) x[32 * i + j] = vl_f16_to_f32(h) * (float)(int8_t)b[2 + j];
        }
    } else {
        size_t row = vl_row_size(t->type, t->ne[0]);
        for (int64_t r = 0; r < n / t->ne[0]; r++)
            vl_dequantize_row_ref(t->type, (const uint8_t *)t->data + (size_t)r * row, x + r * t->ne[0], t->ne[0]);
    }
    double s = 0, s2 = 0;
    for (int64_t i = 0; i < n; i++) s += x[i], s2 += (double)x[i] * x[i];
    *mean = s / (double)n;
    *sd = sqrt(s2 / (double)n - *mean * *mean);
    free(x);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* BPE invariants: tokens unique; every merge "a b" has a, b and ab in
 * the vocabulary; merge results are distinct. */
static void check_bpe(const vl_gguf *g, int64_t n_vocab)
{
    const vl_gguf_value *toks = NULL, *merges = NULL;
    CHECK(vl_gguf_get_arr(g, "tokenizer.ggml.tokens", VL_GGUF_STRING, &toks) == VLLM_OK && toks, "tokens");
    CHECK(vl_gguf_get_arr(g, "tokenizer.ggml.merges", VL_GGUF_STRING, &merges) == VLLM_OK && merges, "merges");
    if (!toks || !merges) return;
    CHECK(toks->v.arr.n == (uint64_t)n_vocab, "n tokens %llu", (unsigned long long)toks->v.arr.n);
    CHECK(merges->v.arr.n == (uint64_t)(n_vocab - 43 - 256), "n merges %llu", (unsigned long long)merges->v.arr.n);
    size_t n = (size_t)toks->v.arr.n;
    char **sorted = malloc(n * sizeof *sorted);
    for (size_t i = 0; i < n; i++) {
        sorted[i] = malloc(toks->v.arr.strs[i].len + 1);
        memcpy(sorted[i], toks->v.arr.strs[i].ptr, toks->v.arr.strs[i].len);
        sorted[i][toks->v.arr.strs[i].len] = 0;
    }
    qsort(sorted, n, sizeof *sorted, cmp_str);
    int dups = 0;
    for (size_t i = 1; i < n; i++) dups += strcmp(sorted[i - 1], sorted[i]) == 0;
    CHECK(dups == 0, "%d duplicate tokens", dups);
    int bad = 0;
    char buf[256], *key;
    for (uint64_t m = 0; m < merges->v.arr.n; m++) {
        vl_str s = merges->v.arr.strs[m];
        if (s.len >= sizeof buf) { bad++; continue; }
        memcpy(buf, s.ptr, s.len);
        buf[s.len] = 0;
        char *sp = strchr(buf + 1, ' ');
        if (!sp || strchr(sp + 1, ' ')) { bad++; continue; }
        *sp = 0;
        char joined[256];
        snprintf(joined, sizeof joined, "%s%s", buf, sp + 1);
        const char *parts[3] = {buf, sp + 1, joined};
        for (int k = 0; k < 3; k++) {
            key = (char *)parts[k];
            bad += bsearch(&key, sorted, n, sizeof *sorted, cmp_str) == NULL;
        }
        /* the result of merge m is token 256 + m (GPT-2's layout) */
        bad += !vl_str_eq(toks->v.arr.strs[256 + m], joined);
    }
    CHECK(bad == 0, "%d broken merges", bad);
    for (size_t i = 0; i < n; i++) free(sorted[i]);
    free(sorted);
    /* SmolVLM specials at the end, as in the fixture */
    int64_t base = n_vocab - 43;
    CHECK(vl_str_eq(toks->v.arr.strs[base], "<|endoftext|>") && vl_str_eq(toks->v.arr.strs[base + 1], "<fake_token_around_image>") &&
              vl_str_eq(toks->v.arr.strs[base + 3], "<global-img>") && vl_str_eq(toks->v.arr.strs[base + 4], "<row_1_col_1>") &&
              vl_str_eq(toks->v.arr.strs[base + 40], "<end_of_utterance>") && vl_str_eq(toks->v.arr.strs[base + 41], "<|im_start|>"),
          "special tokens");
    CHECK(geti(g, "tokenizer.ggml.bos_token_id") == base + 41 && geti(g, "tokenizer.ggml.eos_token_id") == base + 40 &&
              geti(g, "tokenizer.ggml.padding_token_id") == base,
          "bos/eos/pad");
    const vl_gguf_value *types = NULL;
    CHECK(vl_gguf_get_arr(g, "tokenizer.ggml.token_type", VL_GGUF_INT32, &types) == VLLM_OK && types &&
              vl_gguf_arr_int(types, 0) == 1 && vl_gguf_arr_int(types, (uint64_t)base) == 3 &&
              vl_gguf_arr_int(types, (uint64_t)base + 3) == 4 && vl_gguf_arr_int(types, (uint64_t)base + 40) == 3,
          "token types");
}

static void check_shape(const vl_gguf *g, const char *name, int32_t type, int64_t ne0, int64_t ne1)
{
    const vl_gguf_tensor *t = vl_gguf_find_tensor(g, name);
    CHECK(t && t->type == type && t->ne[0] == ne0 && t->ne[1] == ne1 && t->ne[2] == 1,
          "%s: type %s ne %lld x %lld (want %s %lld x %lld)", name, t ? vl_type_name(t->type) : "-",
          t ? (long long)t->ne[0] : 0, t ? (long long)t->ne[1] : 0, vl_type_name(type), (long long)ne0, (long long)ne1);
}

static void test_smollm2_135m(void)
{
    char out[512];
    snprintf(out, sizeof out, "%s/smollm2-135m-q8_0.gguf", tmpdir);
    const char *args[] = {"--preset", "smollm2-135m", "--type", "Q8_0", "--seed", "7", NULL};
    REQUIRE(run_gen(out, args) == 0, "generator failed");
    vl_gguf *g = NULL;
    vllm_status st = vl_gguf_open(out, 1, &g);
    REQUIRE(st == VLLM_OK, "%s", vl_error_message());
    vl_str arch;
    CHECK(vl_gguf_get_str(g, "general.architecture", NULL, &arch) == VLLM_OK && arch.ptr && vl_str_eq(arch, "llama"), "arch");
    CHECK(geti(g, "llama.embedding_length") == 576 && geti(g, "llama.block_count") == 30, "dims");
    CHECK(geti(g, "llama.attention.head_count") == 9 && geti(g, "llama.attention.head_count_kv") == 3, "heads");
    CHECK(geti(g, "llama.feed_forward_length") == 1536 && geti(g, "llama.vocab_size") == 49152, "ff/vocab");
    CHECK(geti(g, "llama.context_length") == 8192 && geti(g, "llama.rope.dimension_count") == 64, "ctx/rope");
    CHECK(geti(g, "general.file_type") == 7, "file type");
    double base = 0;
    CHECK(vl_gguf_get_float(g, "llama.rope.freq_base", 0, &base) == VLLM_OK && base == 100000, "rope base");
    /* tied embeddings: no output.weight */
    CHECK(g->n_tensors == 1 + 30 * 9 + 1, "%llu tensors", (unsigned long long)g->n_tensors);
    CHECK(vl_gguf_find_tensor(g, "output.weight") == NULL, "tied");
    check_shape(g, "token_embd.weight", VL_TYPE_Q8_0, 576, 49152);
    check_shape(g, "blk.29.attn_q.weight", VL_TYPE_Q8_0, 576, 576);
    check_shape(g, "blk.29.attn_k.weight", VL_TYPE_Q8_0, 576, 192);
    check_shape(g, "blk.0.ffn_down.weight", VL_TYPE_Q8_0, 1536, 576);
    check_shape(g, "blk.0.ffn_norm.weight", VL_TYPE_F32, 576, 1);
    double mean, sd;
    stats(vl_gguf_find_tensor(g, "blk.3.ffn_up.weight"), &mean, &sd);
    CHECK(fabs(mean) < 1e-3 && fabs(sd - 0.02) < 1e-3, "weights N(0,0.02): mean %g sd %g", mean, sd);
    stats(vl_gguf_find_tensor(g, "blk.3.attn_norm.weight"), &mean, &sd);
    CHECK(fabs(mean - 1) < 0.01 && fabs(sd - 0.05) < 0.01, "norms 1+0.05N: mean %g sd %g", mean, sd);
    check_bpe(g, 49152);
    vl_gguf_close(g);
    unlink(out);
}

/* Small text models in every supported type, llama and qwen2, and mmprojs. */
static void test_every_type(void)
{
    static const char *const types[] = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K"};
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        int32_t type = vl_qref_type_from_name(types[k]);
        for (int qwen = 0; qwen < 2; qwen++) {
            char out[512];
            snprintf(out, sizeof out, "%s/t-%s-%d.gguf", tmpdir, types[k], qwen);
            const char *args[] = {"--preset", "tiny", "--arch", qwen ? "qwen2" : "llama", "--type", types[k],
                                  "--n-embd", "256", "--n-ff", "512", "--n-vocab", "700", "--n-layer", "1",
                                  "--untied", NULL};
            CHECK(run_gen(out, args) == 0, "generator %s", types[k]);
            vl_gguf *g = NULL;
            vllm_status st = vl_gguf_open(out, 1, &g);
            CHECK(st == VLLM_OK, "%s: %s", types[k], vl_error_message());
            if (!g) continue;
            const char *arch = qwen ? "qwen2" : "llama";
            char key[64];
            snprintf(key, sizeof key, "%s.embedding_length", arch);
            CHECK(geti(g, key) == 256, "%s %s", types[k], key);
            CHECK(g->n_tensors == (uint64_t)(1 + 9 + (qwen ? 3 : 0) + 2), "%s: %llu tensors", types[k],
                  (unsigned long long)g->n_tensors);
            check_shape(g, "token_embd.weight", type, 256, 700);
            check_shape(g, "blk.0.attn_k.weight", type, 256, 128);
            check_shape(g, "blk.0.ffn_down.weight", type, 512, 256);
            check_shape(g, "output.weight", type, 256, 700);
            if (qwen) check_shape(g, "blk.0.attn_q.bias", VL_TYPE_F32, 256, 1);
            else CHECK(vl_gguf_find_tensor(g, "blk.0.attn_q.bias") == NULL, "llama has no biases");
            double mean, sd;
            stats(vl_gguf_find_tensor(g, "blk.0.ffn_gate.weight"), &mean, &sd);
            /* coarse types add their rounding noise to the spread */
            CHECK(fabs(mean) < 2e-3 && sd > 0.017 && sd < 0.024, "%s: mean %g sd %g", types[k], mean, sd);
            check_bpe(g, 700);
            vl_gguf_close(g);
            unlink(out);
        }
    }
    /* a row length that is no multiple of 256 falls back like llama-quantize */
    char out[512];
    snprintf(out, sizeof out, "%s/fallback.gguf", tmpdir);
    const char *args[] = {"--preset", "tiny", "--type", "Q4_K", NULL};
    CHECK(run_gen(out, args) == 0, "generator");
    vl_gguf *g = NULL;
    if (vl_gguf_open(out, 0, &g) == VLLM_OK) {
        check_shape(g, "blk.0.attn_q.weight", VL_TYPE_Q5_0, 64, 64);
        vl_gguf_close(g);
    }
    unlink(out);
}

static void test_mmproj(void)
{
    char out[512];
    snprintf(out, sizeof out, "%s/mmproj.gguf", tmpdir);
    /* siglip-512's shape with 2 of its 12 blocks, to stay quick */
    const char *args[] = {"--preset", "siglip-512", "--v-layer", "2", "--type", "F16", NULL};
    REQUIRE(run_gen(out, args) == 0, "generator");
    vl_gguf *g = NULL;
    vllm_status st = vl_gguf_open(out, 1, &g);
    REQUIRE(st == VLLM_OK, "%s", vl_error_message());
    vl_str s;
    CHECK(vl_gguf_get_str(g, "clip.projector_type", NULL, &s) == VLLM_OK && s.ptr && vl_str_eq(s, "idefics3"), "proj");
    CHECK(geti(g, "clip.vision.image_size") == 512 && geti(g, "clip.vision.patch_size") == 16, "image");
    CHECK(geti(g, "clip.vision.embedding_length") == 768 && geti(g, "clip.vision.feed_forward_length") == 3072, "E");
    CHECK(geti(g, "clip.vision.attention.head_count") == 12 && geti(g, "clip.vision.projector.scale_factor") == 4, "h");
    CHECK(geti(g, "clip.vision.projection_dim") == 576 && geti(g, "clip.vision.block_count") == 2, "proj dim");
    int b = 0;
    CHECK(vl_gguf_get_bool(g, "clip.use_gelu", 0, &b) == VLLM_OK && b, "gelu");
    CHECK(g->n_tensors == 3 + 16 * 2 + 3, "%llu tensors", (unsigned long long)g->n_tensors);
    const vl_gguf_tensor *pe = vl_gguf_find_tensor(g, "v.patch_embd.weight");
    CHECK(pe && pe->n_dims == 4 && pe->ne[0] == 16 && pe->ne[1] == 16 && pe->ne[2] == 3 && pe->ne[3] == 768, "patch");
    check_shape(g, "v.position_embd.weight", VL_TYPE_F32, 768, 1024);
    check_shape(g, "v.blk.1.attn_out.weight", VL_TYPE_F16, 768, 768);
    check_shape(g, "v.blk.1.ffn_up.weight", VL_TYPE_F16, 768, 3072);
    check_shape(g, "v.blk.1.ffn_down.weight", VL_TYPE_F16, 3072, 768);
    check_shape(g, "v.blk.1.ffn_up.bias", VL_TYPE_F32, 3072, 1);
    check_shape(g, "mm.model.fc.weight", VL_TYPE_F16, 768 * 16, 576);
    vl_gguf_close(g);
    unlink(out);
    /* inconsistent shapes are refused */
    const char *bad[] = {"--preset", "siglip-512", "--v-scale", "3", NULL};
    CHECK(run_gen(out, bad) != 0, "grid 32 with scale factor 3 accepted");
    const char *bad2[] = {"--n-embd", "100", "--n-head", "3", NULL};
    CHECK(run_gen(out, bad2) != 0, "n_embd %% n_head accepted");
    const char *bad3[] = {"--type", "Q2_K", NULL};
    CHECK(run_gen(out, bad3) != 0, "unsupported type accepted");
}

/* The Qwen tower presets at their real width (2 or 6 of their blocks, to
 * stay quick): the files load as dynamic-resolution towers with the
 * preset's output width and deepstack count, and encode a frame pair. */
static void test_qwen_mmproj(void)
{
    static const struct {
        const char *preset, *layers, *opt, *val, *projector;
        int n_ds, align;
    } cases[] = {
        {"qwen25vl-3b-mmproj", "2", "--v-wa-pattern", "2", "qwen2.5vl_merger", 0, 28}, /* n_wa_pattern 8 > 2 blocks */
        {"qwen3vl-2b-mmproj", "6", "--v-deepstack", "5", "qwen3vl_merger", 1, 32},     /* deepstack after block 5 only */
    };
    char out[512];
    snprintf(out, sizeof out, "%s/qwen-mmproj.gguf", tmpdir);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *args[] = {"--preset", cases[i].preset, "--v-layer", cases[i].layers, cases[i].opt, cases[i].val,
                              "--type", "F16", NULL};
        REQUIRE(run_gen(out, args) == 0, "generator %s", cases[i].preset);
        vl_gguf *g = NULL;
        vl_vision *v = NULL;
        REQUIRE(vl_gguf_open(out, 1, &g) == VLLM_OK && vl_vision_load(g, &v) == VLLM_OK, "%s: %s", cases[i].preset,
                vl_error_message());
        CHECK(vl_vision_is_dynamic(v) && !strcmp(vl_vision_projector_name(v), cases[i].projector), "%s: projector %s",
              cases[i].preset, vl_vision_projector_name(v));
        CHECK(vl_vision_align(v) == cases[i].align && vl_vision_n_deepstack(v) == cases[i].n_ds &&
                  vl_vision_n_embd_out(v) == 2048 * (1 + cases[i].n_ds),
              "%s: align %d, %d deepstack, width %d", cases[i].preset, vl_vision_align(v), vl_vision_n_deepstack(v),
              vl_vision_n_embd_out(v));
        const int a = cases[i].align;
        float *pix = calloc((size_t)2 * 3 * a * 2 * a, sizeof(float)), *emb = malloc((size_t)2 * vl_vision_n_embd_out(v) * sizeof(float));
        CHECK(vl_vision_encode_frames(v, NULL, pix, 2, 2 * a, a, emb) == VLLM_OK, "%s: %s", cases[i].preset,
              vl_error_message());
        int finite = 1;
        for (int k = 0; k < 2 * vl_vision_n_embd_out(v); k++) finite &= isfinite(emb[k]) != 0;
        CHECK(finite, "%s: non-finite embeddings", cases[i].preset);
        free(pix), free(emb);
        vl_vision_free(v);
        vl_gguf_close(g);
        unlink(out);
    }
    const char *bad[] = {"--preset", "qwen25vl-3b-mmproj", "--v-layer", "4", "--v-wa-pattern", "5", NULL};
    CHECK(run_gen(out, bad) != 0, "n_wa_pattern beyond the block count accepted");
    const char *bad2[] = {"--preset", "tiny-mmproj", "--projector", "llava", NULL};
    CHECK(run_gen(out, bad2) != 0, "unknown projector accepted");
}

/* Each quantizer against the library's reference dequantizer: the error
 * must be within the format's rounding step. */
static void test_quantizers(void)
{
    static const struct { int32_t type; double rel_rms; } q[] = {
        {VL_TYPE_F16, 1e-3}, {VL_TYPE_BF16, 5e-3}, {VL_TYPE_Q8_0, 0.012}, {VL_TYPE_Q4_0, 0.16},
        {VL_TYPE_Q4_1, 0.12}, {VL_TYPE_Q5_0, 0.08}, {VL_TYPE_Q5_1, 0.06}, {VL_TYPE_Q4_K, 0.14},
        {VL_TYPE_Q5_K, 0.07}, {VL_TYPE_Q6_K, 0.035}};
    enum { N = 1024 };
    static float x[N], y[N];
    static uint8_t buf[N * 4];
    uint64_t s = 99;
    for (int i = 0; i < N; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        /* uniform in [-1,1) with a few larger outliers */
        x[i] = (float)((double)(s >> 11) / 9007199254740992.0 * 2 - 1) * (i % 97 == 0 ? 4.0f : 1.0f);
    }
    for (size_t k = 0; k < sizeof q / sizeof q[0]; k++) {
        size_t bytes = vl_qref_quantize(q[k].type, x, buf, N);
        CHECK(bytes == vl_row_size(q[k].type, N), "%s: %zu bytes", vl_type_name(q[k].type), bytes);
        vl_dequantize_row_ref(q[k].type, buf, y, N);
        double e2 = 0, x2 = 0;
        for (int i = 0; i < N; i++) e2 += (double)(y[i] - x[i]) * (y[i] - x[i]), x2 += (double)x[i] * x[i];
        double rel = sqrt(e2 / x2);
        CHECK(rel < q[k].rel_rms, "%s: relative rms error %g (limit %g)", vl_type_name(q[k].type), rel, q[k].rel_rms);
        /* zeros stay exactly zero */
        static float z[N];
        vl_qref_quantize(q[k].type, z, buf, N);
        vl_dequantize_row_ref(q[k].type, buf, y, N);
        int nz = 0;
        for (int i = 0; i < N; i++) nz += y[i] != 0.0f;
        CHECK(nz == 0, "%s: %d non-zeros from zeros", vl_type_name(q[k].type), nz);
    }
    /* Q8_0 by hand: block of 0..31 -> d = 31/127, q = round(i*127/31) */
    for (int i = 0; i < 32; i++) x[i] = (float)i;
    vl_qref_quantize(VL_TYPE_Q8_0, x, buf, 32);
    uint16_t d;
    memcpy(&d, buf, 2);
    CHECK(d == vl_f32_to_f16(31.0f / 127.0f), "q8_0 d");
    CHECK((int8_t)buf[2 + 31] == 127 && (int8_t)buf[2 + 1] == 4 && (int8_t)buf[2 + 0] == 0, "q8_0 codes");
    CHECK(vl_qref_quantize(VL_TYPE_Q8_0, x, buf, 33) == 0 && vl_qref_quantize(VL_TYPE_Q2_K, x, buf, 256) == 0,
          "bad arguments");
}

TEST_MAIN_BEGIN
    if (argc < 2) TEST_SKIP("usage: test_gen_model PATH-TO-videollm-gen-model");
    gen_exe = argv[1];
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(tmpdir, sizeof tmpdir, "%s/vl-gen-XXXXXX", base);
    REQUIRE(mkdtemp(tmpdir) != NULL, "mkdtemp");
    test_quantizers();
    test_every_type();
    test_mmproj();
    test_qwen_mmproj();
    if (!getenv("VIDEOLLM_SKIP_LARGE")) test_smollm2_135m();
    rmdir(tmpdir);
TEST_MAIN_END
