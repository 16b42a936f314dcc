/* GGUF reader: fixtures, every value type, v2/v3, alignment, and a corpus
 * of damaged files derived from valid ones.
 *
 * Expected values come from the fixtures' documentation
 * (tests/data/tiny-smolvlm2/README.md, tiny-smolvlm2-main-config.json),
 * from llama.cpp's vocab files as independently dumped (a separate
 * Python parser, numbers quoted below), or from what this test itself
 * wrote with the test-side writer. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "core/f16.h"
#include "core/gguf.h"
#include <jansson.h>

#include "fixture_set.h"
#include "gguf_writer.h"
#include "harness.h"

static const char *data_dir(void)
{
    const char *d = getenv("VIDEOLLM_TEST_DATA");
    if (!d) TEST_SKIP("VIDEOLLM_TEST_DATA is not set");
    return d;
}

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)sz + 1);
    if (b && fread(b, 1, (size_t)sz, f) != (size_t)sz) {
        free(b);
        b = NULL;
    }
    if (b) b[sz] = '\0';
    fclose(f);
    *n = (size_t)sz;
    return b;
}

/* A number from the fixture's config JSON ("key": value), first match. */
static double json_num(const char *json, const char *key)
{
    char pat[96];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(json, pat);
    REQUIRE(p != NULL, "config JSON has no %s", key);
    return strtod(p + strlen(pat), NULL);
}

static int64_t geti(const vl_gguf *g, const char *key)
{
    int64_t v = -12345;
    vllm_status st = vl_gguf_get_int_req(g, key, &v);
    CHECK(st == VLLM_OK, "%s: %s", key, vl_error_message());
    return v;
}

static double getf(const vl_gguf *g, const char *key)
{
    double v = NAN;
    CHECK(vl_gguf_find(g, key) != NULL, "missing %s", key);
    CHECK(vl_gguf_get_float(g, key, NAN, &v) == VLLM_OK, "%s: %s", key, vl_error_message());
    return v;
}

static int str_is(const vl_gguf *g, const char *key, const char *want)
{
    vl_str s = {0};
    if (vl_gguf_get_str(g, key, NULL, &s) != VLLM_OK || !s.ptr) return 0;
    return vl_str_eq(s, want);
}

static void check_tensor(const vl_gguf *g, const char *name, int32_t type, int n_dims, int64_t ne0, int64_t ne1,
                         int64_t ne2, int64_t ne3)
{
    const vl_gguf_tensor *t = vl_gguf_find_tensor(g, name);
    CHECK(t != NULL, "tensor %s missing", name);
    if (!t) return;
    int64_t want[4] = {ne0, ne1, ne2, ne3};
    CHECK(t->type == type, "%s: type %s, want %s", name, vl_type_name(t->type), vl_type_name(type));
    CHECK(t->n_dims == n_dims, "%s: %d dims, want %d", name, t->n_dims, n_dims);
    for (int d = 0; d < 4; d++) CHECK(t->ne[d] == want[d], "%s: ne[%d]=%lld want %lld", name, d, (long long)t->ne[d], (long long)want[d]);
    CHECK(t->size == vl_row_size(type, ne0) * (uint64_t)(ne1 * ne2 * ne3), "%s: size %llu", name, (unsigned long long)t->size);
}

/* ---- fixtures ---------------------------------------------------------------- */

/* Facts about llama.cpp's ggml-vocab-*.gguf files (dumped with an
 * independent parser): architecture, tokenizer model/pre, token and merge
 * counts, bos/eos ids. */
static const struct vocab_fact {
    const char *file, *arch, *model, *pre;
    uint64_t n_tokens, n_merges;
    int64_t bos, eos;
} vocab_facts[] = {
    {"ggml-vocab-deepseek-coder.gguf", "llama", "gpt2", "deepseek-coder", 32256, 31757, 32013, 32014},
    {"ggml-vocab-gpt-2.gguf", "gpt2", "gpt2", "gpt-2", 50257, 50000, 50256, 50256},
    {"ggml-vocab-llama-spm.gguf", "llama", "llama", "default", 32000, 0, 1, 2},
    {"ggml-vocab-mpt.gguf", "mpt", "gpt2", "mpt", 50432, 50009, 0, 0},
    {"ggml-vocab-phi-3.gguf", "phi3", "llama", "default", 32064, 0, 1, 32000},
    {"ggml-vocab-refact.gguf", "refact", "gpt2", "refact", 49216, 48891, 0, 0},
    {"ggml-vocab-starcoder.gguf", "starcoder2", "gpt2", "starcoder", 49152, 48872, 0, 0},
};

static void test_vocabs(const char *dir)
{
    char path[1024];
    int seen = 0;
    for (size_t i = 0; i < sizeof vocab_facts / sizeof vocab_facts[0]; i++) {
        const struct vocab_fact *f = &vocab_facts[i];
        snprintf(path, sizeof path, "%s/vocab/%s", dir, f->file);
        for (int mm = 0; mm < 2; mm++) {
            vl_gguf *g = NULL;
            vllm_status st = vl_gguf_open(path, mm, &g);
            CHECK(st == VLLM_OK, "%s: %s", path, vl_error_message());
            if (!g) continue;
            seen++;
            CHECK(g->version == 3 && g->n_tensors == 0, "%s: version %u tensors %llu", f->file, g->version,
                  (unsigned long long)g->n_tensors);
            CHECK(str_is(g, "general.architecture", f->arch), "%s: architecture", f->file);
            CHECK(str_is(g, "tokenizer.ggml.model", f->model), "%s: tokenizer model", f->file);
            CHECK(str_is(g, "tokenizer.ggml.pre", f->pre), "%s: tokenizer pre", f->file);
            const vl_gguf_value *toks = NULL, *merges = NULL;
            CHECK(vl_gguf_get_arr(g, "tokenizer.ggml.tokens", VL_GGUF_STRING, &toks) == VLLM_OK && toks &&
                      toks->v.arr.n == f->n_tokens,
                  "%s: tokens", f->file);
            CHECK(vl_gguf_get_arr(g, "tokenizer.ggml.merges", VL_GGUF_STRING, &merges) == VLLM_OK, "%s", f->file);
            CHECK((merges ? merges->v.arr.n : 0) == f->n_merges, "%s: merges", f->file);
            CHECK(geti(g, "tokenizer.ggml.bos_token_id") == f->bos, "%s: bos", f->file);
            CHECK(geti(g, "tokenizer.ggml.eos_token_id") == f->eos, "%s: eos", f->file);
            /* The first gpt2-style byte token is '!' (GPT-2's byte order). */
            if (toks && strcmp(f->pre, "gpt-2") == 0) CHECK(vl_str_eq(toks->v.arr.strs[0], "!"), "gpt-2 token 0");
            if (toks && strcmp(f->model, "llama") == 0) CHECK(vl_str_eq(toks->v.arr.strs[1], "<s>"), "spm token 1");
            vl_gguf_close(g);
        }
    }
    /* and nothing in the directory is left unchecked or fails to parse */
    snprintf(path, sizeof path, "%s/vocab", dir);
    DIR *d = opendir(path);
    REQUIRE(d != NULL, "cannot list %s", path);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 5, ".gguf") != 0) continue;
        n++;
        char p[1200];
        snprintf(p, sizeof p, "%s/%s", path, e->d_name);
        vl_gguf *g = NULL;
        CHECK(vl_gguf_open(p, 1, &g) == VLLM_OK, "%s: %s", p, vl_error_message());
        vl_gguf_close(g);
    }
    closedir(d);
    CHECK(n == (int)(sizeof vocab_facts / sizeof vocab_facts[0]), "%d vocab files, facts for %zu", n,
          sizeof vocab_facts / sizeof vocab_facts[0]);
    CHECK(seen == 14, "opened %d", seen);
}

static void test_tiny_text(const char *name, const char *json, const char *suffix, int32_t wtype, int64_t ftype,
                           vl_gguf **keep)
{
    char path[4400], pattern[64];
    snprintf(pattern, sizeof pattern, "-text-%s.gguf", suffix);
    fx_require_model(pattern, path, sizeof path);
    vl_gguf *g = NULL;
    REQUIRE(vl_gguf_open(path, 1, &g) == 0, "%s: %s", path, vl_error_message());
    int64_t E = (int64_t)json_num(json, "n_embd"), L = (int64_t)json_num(json, "n_layer");
    int64_t H = (int64_t)json_num(json, "n_head"), HKV = (int64_t)json_num(json, "n_head_kv");
    int64_t FF = (int64_t)json_num(json, "n_ff"), V = (int64_t)json_num(json, "n_vocab");
    int64_t hd = E / H;
    CHECK(g->version == 3 && g->alignment == 32, "version %u alignment %u", g->version, g->alignment);
    CHECK(str_is(g, "general.architecture", "llama"), "arch");
    CHECK(str_is(g, "general.name", name), "name (the set's config says %s)", name);
    CHECK(geti(g, "general.file_type") == ftype, "file_type");
    CHECK(geti(g, "llama.context_length") == (int64_t)json_num(json, "n_ctx"), "ctx");
    CHECK(geti(g, "llama.embedding_length") == E, "embd");
    CHECK(geti(g, "llama.block_count") == L, "layers");
    CHECK(geti(g, "llama.feed_forward_length") == FF, "ff");
    CHECK(geti(g, "llama.attention.head_count") == H, "heads");
    CHECK(geti(g, "llama.attention.head_count_kv") == HKV, "kv heads");
    CHECK(getf(g, "llama.rope.freq_base") == json_num(json, "rope_base"), "rope base");
    CHECK(fabs(getf(g, "llama.attention.layer_norm_rms_epsilon") - json_num(json, "rms_eps")) < 1e-12, "eps");
    CHECK(geti(g, "llama.rope.dimension_count") == hd, "rope dims");
    CHECK(geti(g, "llama.vocab_size") == V, "vocab");
    CHECK(str_is(g, "tokenizer.ggml.model", "gpt2") && str_is(g, "tokenizer.ggml.pre", "gpt-2"), "tokenizer");
    int add_bos = -1;
    CHECK(vl_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", 1, &add_bos) == VLLM_OK && add_bos == 0, "add_bos");
    /* README: 4096 GPT-2 tokens = 256 bytes + 3840 merges, then specials */
    const vl_gguf_value *toks = NULL, *types = NULL, *merges = NULL;
    CHECK(vl_gguf_get_arr(g, "tokenizer.ggml.tokens", VL_GGUF_STRING, &toks) == VLLM_OK && toks, "tokens");
    CHECK(vl_gguf_get_arr(g, "tokenizer.ggml.token_type", VL_GGUF_VTYPE_COUNT, &types) == VLLM_OK && types, "types");
    CHECK(vl_gguf_get_arr(g, "tokenizer.ggml.merges", VL_GGUF_STRING, &merges) == VLLM_OK && merges, "merges");
    if (toks && types && merges) {
        CHECK(toks->v.arr.n == (uint64_t)V && types->v.arr.n == (uint64_t)V, "token count");
        CHECK(merges->v.arr.n == 3840, "merge count %llu", (unsigned long long)merges->v.arr.n);
        /* every special token id in the config names its token */
        const char *sp = strstr(json, "\"special_token_ids\"");
        REQUIRE(sp != NULL, "special_token_ids");
        int n_special = 0;
        for (const char *p = strchr(sp + 19, '"'); p && *p == '"'; ) {
            const char *end = strstr(p + 1, "\":");
            if (!end) break;
            char tok[64] = "";
            size_t len = (size_t)(end - p - 1);
            if (len < sizeof tok) memcpy(tok, p + 1, len), tok[len] = 0;
            long id = strtol(end + 2, (char **)&p, 10);
            if (tok[0] == '<') {
                n_special++;
                CHECK(id >= 0 && (uint64_t)id < toks->v.arr.n && vl_str_eq(toks->v.arr.strs[id], tok),
                      "special %s at %ld", tok, id);
                /* README table: CONTROL (3) except <global-img> and <row_*> (USER_DEFINED 4) */
                int64_t want = (strcmp(tok, "<global-img>") == 0 || strncmp(tok, "<row_", 5) == 0) ? 4 : 3;
                CHECK(vl_gguf_arr_int(types, (uint64_t)id) == want, "type of %s", tok);
            }
            p = strchr(p, '"');
        }
        CHECK(n_special == 43, "%d special tokens checked", n_special);
        CHECK(vl_str_eq(toks->v.arr.strs[198], "\xC4\x8A") && vl_str_eq(toks->v.arr.strs[628], "\xC4\x8A\xC4\x8A"),
              "newline tokens");
    }
    CHECK(geti(g, "tokenizer.ggml.bos_token_id") == 4137 && geti(g, "tokenizer.ggml.eos_token_id") == 4136 &&
              geti(g, "tokenizer.ggml.padding_token_id") == 4096,
          "bos/eos/pad");

    CHECK(g->n_tensors == (uint64_t)(1 + 9 * L + 2), "tensor count %llu", (unsigned long long)g->n_tensors);
    check_tensor(g, "token_embd.weight", wtype, 2, E, V, 1, 1);
    char n[64];
    for (int64_t l = 0; l < L; l++) {
#define T(s) (snprintf(n, sizeof n, "blk.%lld." s, (long long)l), n)
        check_tensor(g, T("attn_norm.weight"), VL_TYPE_F32, 1, E, 1, 1, 1);
        check_tensor(g, T("attn_q.weight"), wtype, 2, E, H * hd, 1, 1);
        check_tensor(g, T("attn_k.weight"), wtype, 2, E, HKV * hd, 1, 1);
        check_tensor(g, T("attn_v.weight"), wtype, 2, E, HKV * hd, 1, 1);
        check_tensor(g, T("attn_output.weight"), wtype, 2, H * hd, E, 1, 1);
        check_tensor(g, T("ffn_norm.weight"), VL_TYPE_F32, 1, E, 1, 1, 1);
        check_tensor(g, T("ffn_gate.weight"), wtype, 2, E, FF, 1, 1);
        check_tensor(g, T("ffn_up.weight"), wtype, 2, E, FF, 1, 1);
        check_tensor(g, T("ffn_down.weight"), wtype, 2, FF, E, 1, 1);
#undef T
    }
    check_tensor(g, "output_norm.weight", VL_TYPE_F32, 1, E, 1, 1, 1);
    check_tensor(g, "output.weight", wtype, 2, E, V, 1, 1);
    CHECK(vl_gguf_find_tensor(g, "blk.0.attn_q.bias") == NULL, "no biases");
    for (uint64_t i = 0; i < g->n_tensors; i++)
        CHECK((g->data_offset + g->tensors[i].offset) % 32 == 0, "%s misaligned", g->tensors[i].name);
    /* norms are 1 + 0.05*N(0,1): a sanity check that data points at them */
    const vl_gguf_tensor *nt = vl_gguf_find_tensor(g, "output_norm.weight");
    if (nt) {
        double s = 0;
        for (int64_t i = 0; i < E; i++) {
            float f;
            memcpy(&f, (const char *)nt->data + 4 * i, 4);
            s += f;
        }
        CHECK(fabs(s / (double)E - 1.0) < 0.05, "output_norm mean %g", s / (double)E);
    }
    *keep = g;
}

/* Same weights in F32 and F16 files (README): the F16 tensor data must be
 * the F32 data rounded to half, which checks every data pointer. */
static void test_f16_matches_f32(const vl_gguf *f32, const vl_gguf *f16)
{
    int checked = 0;
    for (uint64_t i = 0; i < f32->n_tensors; i++) {
        const vl_gguf_tensor *a = &f32->tensors[i];
        const vl_gguf_tensor *b = vl_gguf_find_tensor(f16, a->name);
        CHECK(b != NULL, "%s missing in F16 file", a->name);
        if (!b || b->type != VL_TYPE_F16) continue;
        int64_t n = a->ne[0] * a->ne[1] * a->ne[2] * a->ne[3];
        int bad = 0;
        for (int64_t k = 0; k < n; k++) {
            float x;
            uint16_t h;
            memcpy(&x, (const char *)a->data + 4 * k, 4);
            memcpy(&h, (const char *)b->data + 2 * k, 2);
            bad += h != vl_f32_to_f16(x);
        }
        CHECK(bad == 0, "%s: %d values differ from fp16(F32 file)", a->name, bad);
        checked++;
    }
    CHECK(checked == 16, "%d F16 tensors compared", checked); /* token_embd, 7 per layer, output */
}

static void test_tiny_mmproj(const char *json)
{
    char path[4400];
    fx_require_model("-mmproj-F32.gguf", path, sizeof path);
    vl_gguf *g = NULL;
    REQUIRE(vl_gguf_open(path, 0, &g) == 0, "%s: %s", path, vl_error_message());
    int64_t S = (int64_t)json_num(json, "v_image_size"), P = (int64_t)json_num(json, "v_patch");
    int64_t E = (int64_t)json_num(json, "v_embd"), L = (int64_t)json_num(json, "v_layer");
    int64_t FF = (int64_t)json_num(json, "v_ff"), sf = (int64_t)json_num(json, "v_scale");
    int64_t text_E = (int64_t)json_num(json, "n_embd");
    CHECK(str_is(g, "general.architecture", "clip") && str_is(g, "general.type", "mmproj"), "arch/type");
    CHECK(str_is(g, "clip.projector_type", "idefics3"), "projector");
    int b = 0;
    CHECK(vl_gguf_get_bool(g, "clip.has_vision_encoder", 0, &b) == VLLM_OK && b, "has_vision_encoder");
    CHECK(vl_gguf_get_bool(g, "clip.use_gelu", 0, &b) == VLLM_OK && b, "use_gelu");
    CHECK(geti(g, "clip.vision.image_size") == S && geti(g, "clip.vision.patch_size") == P, "image/patch");
    CHECK(geti(g, "clip.vision.embedding_length") == E && geti(g, "clip.vision.block_count") == L, "E/L");
    CHECK(geti(g, "clip.vision.feed_forward_length") == FF, "ff");
    CHECK(geti(g, "clip.vision.attention.head_count") == (int64_t)json_num(json, "v_head"), "heads");
    CHECK(geti(g, "clip.vision.projection_dim") == text_E, "projection_dim");
    CHECK(geti(g, "clip.vision.projector.scale_factor") == sf, "scale factor");
    CHECK(geti(g, "clip.vision.preproc_image_size") == (int64_t)json_num(json, "v_longest_edge"), "preproc");
    CHECK(fabs(getf(g, "clip.vision.attention.layer_norm_epsilon") - json_num(json, "v_eps")) < 1e-12, "eps");
    const vl_gguf_value *mean = NULL;
    CHECK(vl_gguf_get_arr(g, "clip.vision.image_mean", VL_GGUF_FLOAT32, &mean) == VLLM_OK && mean &&
              mean->v.arr.n == 3 && vl_gguf_arr_float(mean, 2) == 0.5,
          "image_mean");
    int64_t np = (S / P) * (S / P);
    CHECK(g->n_tensors == (uint64_t)(3 + 16 * L + 3), "tensor count %llu", (unsigned long long)g->n_tensors);
    check_tensor(g, "v.patch_embd.weight", VL_TYPE_F32, 4, P, P, 3, E);
    check_tensor(g, "v.patch_embd.bias", VL_TYPE_F32, 1, E, 1, 1, 1);
    check_tensor(g, "v.position_embd.weight", VL_TYPE_F32, 2, E, np, 1, 1);
    char n[64];
    for (int64_t l = 0; l < L; l++) {
        static const char *const mats[] = {"attn_q", "attn_k", "attn_v", "attn_out"};
        for (int m = 0; m < 4; m++) {
            snprintf(n, sizeof n, "v.blk.%lld.%s.weight", (long long)l, mats[m]);
            check_tensor(g, n, VL_TYPE_F32, 2, E, E, 1, 1);
            snprintf(n, sizeof n, "v.blk.%lld.%s.bias", (long long)l, mats[m]);
            check_tensor(g, n, VL_TYPE_F32, 1, E, 1, 1, 1);
        }
        static const char *const lns[] = {"ln1.weight", "ln1.bias", "ln2.weight", "ln2.bias", "ffn_down.bias"};
        for (int m = 0; m < 5; m++) {
            snprintf(n, sizeof n, "v.blk.%lld.%s", (long long)l, lns[m]);
            check_tensor(g, n, VL_TYPE_F32, 1, E, 1, 1, 1);
        }
        snprintf(n, sizeof n, "v.blk.%lld.ffn_up.weight", (long long)l);
        check_tensor(g, n, VL_TYPE_F32, 2, E, FF, 1, 1);
        snprintf(n, sizeof n, "v.blk.%lld.ffn_up.bias", (long long)l);
        check_tensor(g, n, VL_TYPE_F32, 1, FF, 1, 1, 1);
        snprintf(n, sizeof n, "v.blk.%lld.ffn_down.weight", (long long)l);
        check_tensor(g, n, VL_TYPE_F32, 2, FF, E, 1, 1);
    }
    check_tensor(g, "v.post_ln.weight", VL_TYPE_F32, 1, E, 1, 1, 1);
    check_tensor(g, "v.post_ln.bias", VL_TYPE_F32, 1, E, 1, 1, 1);
    check_tensor(g, "mm.model.fc.weight", VL_TYPE_F32, 2, E * sf * sf, text_E, 1, 1);
    vl_gguf_close(g);
}

/* ---- every value type, v2/v3, alignment -------------------------------------- */

static void test_value_types(void)
{
    for (uint32_t version = 2; version <= 3; version++) {
        vl_gw *w = vl_gw_new();
        vl_gw_set_version(w, version);
        vl_gw_add_u8(w, "t.u8", 200);
        vl_gw_add_i8(w, "t.i8", -100);
        vl_gw_add_u16(w, "t.u16", 60000);
        vl_gw_add_i16(w, "t.i16", -30000);
        vl_gw_add_u32(w, "t.u32", 4000000000u);
        vl_gw_add_i32(w, "t.i32", -2000000000);
        vl_gw_add_f32(w, "t.f32", 1.5f);
        vl_gw_add_bool(w, "t.bool", 1);
        vl_gw_add_str(w, "t.str", "héllo");
        vl_gw_add_u64(w, "t.u64", UINT64_MAX);
        vl_gw_add_i64(w, "t.i64", INT64_MIN);
        vl_gw_add_f64(w, "t.f64", -2.25e300);
        vl_gw_add_str(w, "t.empty", "");
        const int16_t a16[3] = {-1, 2, -3};
        vl_gw_add_arr(w, "t.arr_i16", VL_GGUF_INT16, 3, a16);
        const double a64[2] = {0.5, -1e-300};
        vl_gw_add_arr(w, "t.arr_f64", VL_GGUF_FLOAT64, 2, a64);
        const uint8_t ab[4] = {1, 0, 1, 1};
        vl_gw_add_arr(w, "t.arr_bool", VL_GGUF_BOOL, 4, ab);
        const char *strs[] = {"a", "", "ccc"};
        vl_gw_add_arr_str(w, "t.arr_str", 3, strs);
        vl_gw_add_arr(w, "t.arr_empty", VL_GGUF_UINT32, 0, NULL);
        /* nested: [[1,2],[ ["x","yz"] ], []] — an array of arrays whose
         * items are a u32 array, an array of string arrays, an empty one */
        vl_gwb b = {0};
        vl_gwb_arr_header(&b, VL_GGUF_ARRAY, 3);
        vl_gwb_arr_header(&b, VL_GGUF_UINT32, 2);
        vl_gwb_u32(&b, 1);
        vl_gwb_u32(&b, 2);
        vl_gwb_arr_header(&b, VL_GGUF_ARRAY, 1);
        vl_gwb_arr_header(&b, VL_GGUF_STRING, 2);
        vl_gwb_str(&b, "x");
        vl_gwb_str(&b, "yz");
        vl_gwb_arr_header(&b, VL_GGUF_INT8, 0);
        vl_gw_add_val(w, "t.nested", VL_GGUF_ARRAY, b.data, b.len);
        vl_gwb_free(&b);

        uint8_t *buf;
        size_t size;
        REQUIRE(vl_gw_to_memory(w, &buf, &size) == 0, "writer");
        vl_gguf *g = NULL;
        REQUIRE(vl_gguf_open_memory(buf, size, &g) == 0, "v%u: %s", version, vl_error_message());
        CHECK(g->version == version && g->n_kv == 19 && g->n_tensors == 0, "header");
        int64_t i;
        double f;
        int bo;
        CHECK(vl_gguf_get_int(g, "t.u8", 0, &i) == VLLM_OK && i == 200, "u8");
        CHECK(vl_gguf_find(g, "t.u8")->value.type == VL_GGUF_UINT8, "u8 type");
        CHECK(vl_gguf_get_int(g, "t.i8", 0, &i) == VLLM_OK && i == -100, "i8");
        CHECK(vl_gguf_get_int(g, "t.u16", 0, &i) == VLLM_OK && i == 60000, "u16");
        CHECK(vl_gguf_get_int(g, "t.i16", 0, &i) == VLLM_OK && i == -30000, "i16");
        CHECK(vl_gguf_get_int(g, "t.u32", 0, &i) == VLLM_OK && i == 4000000000ll, "u32");
        CHECK(vl_gguf_get_int(g, "t.i32", 0, &i) == VLLM_OK && i == -2000000000, "i32");
        CHECK(vl_gguf_get_float(g, "t.f32", 0, &f) == VLLM_OK && f == 1.5, "f32");
        CHECK(vl_gguf_get_bool(g, "t.bool", 0, &bo) == VLLM_OK && bo == 1, "bool");
        vl_str s;
        CHECK(vl_gguf_get_str(g, "t.str", NULL, &s) == VLLM_OK && vl_str_eq(s, "héllo"), "str");
        CHECK(vl_gguf_get_str(g, "t.empty", "d", &s) == VLLM_OK && s.len == 0, "empty str");
        CHECK(vl_gguf_find(g, "t.u64")->value.v.u == UINT64_MAX, "u64");
        /* u64 beyond int64 is a range error naming the key */
        CHECK(vl_gguf_get_int(g, "t.u64", 0, &i) == VLLM_ERR_FORMAT && strstr(vl_error_message(), "t.u64"), "u64 range");
        CHECK(vl_gguf_get_int(g, "t.i64", 0, &i) == VLLM_OK && i == INT64_MIN, "i64");
        CHECK(vl_gguf_get_float(g, "t.f64", 0, &f) == VLLM_OK && f == -2.25e300, "f64");
        /* wrong types are errors naming the key; missing keys give defaults */
        CHECK(vl_gguf_get_int(g, "t.str", 0, &i) == VLLM_ERR_FORMAT && strstr(vl_error_message(), "t.str"), "str as int");
        CHECK(vl_gguf_get_bool(g, "t.u8", 0, &bo) == VLLM_ERR_FORMAT, "u8 as bool");
        CHECK(vl_gguf_get_int(g, "t.none", 7, &i) == VLLM_OK && i == 7, "default");
        CHECK(vl_gguf_get_int_req(g, "t.none", &i) == VLLM_ERR_FORMAT && strstr(vl_error_message(), "t.none"), "req");
        int32_t i32;
        CHECK(vl_gguf_get_i32_range(g, "t.u16", 0, 0, 1000, &i32) == VLLM_ERR_FORMAT, "range");
        const vl_gguf_value *a;
        CHECK(vl_gguf_get_arr(g, "t.arr_i16", VL_GGUF_INT16, &a) == VLLM_OK && a && a->v.arr.n == 3 &&
                  vl_gguf_arr_int(a, 0) == -1 && vl_gguf_arr_int(a, 2) == -3 && vl_gguf_arr_int(a, 3) == 0,
              "arr i16");
        CHECK(vl_gguf_get_arr(g, "t.arr_i16", VL_GGUF_FLOAT32, &a) == VLLM_ERR_FORMAT, "arr elem mismatch");
        CHECK(vl_gguf_get_arr(g, "t.arr_f64", VL_GGUF_FLOAT64, &a) == VLLM_OK && a &&
                  vl_gguf_arr_float(a, 1) == -1e-300 && vl_gguf_arr_int(a, 0) == 0,
              "arr f64");
        CHECK(vl_gguf_get_arr(g, "t.arr_bool", VL_GGUF_BOOL, &a) == VLLM_OK && a && vl_gguf_arr_int(a, 1) == 0 &&
                  vl_gguf_arr_int(a, 3) == 1,
              "arr bool");
        CHECK(vl_gguf_get_arr(g, "t.arr_str", VL_GGUF_STRING, &a) == VLLM_OK && a && a->v.arr.n == 3 &&
                  vl_str_eq(a->v.arr.strs[0], "a") && a->v.arr.strs[1].len == 0 && vl_str_eq(a->v.arr.strs[2], "ccc"),
              "arr str");
        CHECK(vl_gguf_get_arr(g, "t.arr_empty", VL_GGUF_UINT32, &a) == VLLM_OK && a && a->v.arr.n == 0, "empty arr");
        CHECK(vl_gguf_get_arr(g, "t.nested", VL_GGUF_ARRAY, &a) == VLLM_OK && a && a->v.arr.n == 3, "nested");
        if (a && a->v.arr.elem == VL_GGUF_ARRAY && a->v.arr.n == 3) {
            const vl_gguf_value *it = a->v.arr.items;
            CHECK(it[0].v.arr.elem == VL_GGUF_UINT32 && it[0].v.arr.n == 2 && vl_gguf_arr_int(&it[0], 1) == 2, "n0");
            CHECK(it[1].v.arr.elem == VL_GGUF_ARRAY && it[1].v.arr.n == 1, "n1");
            const vl_gguf_value *inner = &it[1].v.arr.items[0];
            CHECK(inner->v.arr.elem == VL_GGUF_STRING && inner->v.arr.n == 2 && vl_str_eq(inner->v.arr.strs[1], "yz"),
                  "n1.0");
            CHECK(it[2].v.arr.elem == VL_GGUF_INT8 && it[2].v.arr.n == 0, "n2");
        }
        vl_gguf_close(g);
        free(buf);
        vl_gw_free(w);
    }
}

static void test_alignment(void)
{
    static const uint32_t aligns[] = {1, 8, 32, 64, 4096};
    for (size_t k = 0; k < sizeof aligns / sizeof aligns[0]; k++) {
        vl_gw *w = vl_gw_new();
        CHECK(vl_gw_set_alignment(w, aligns[k]) == 0, "set alignment");
        vl_gw_add_str(w, "general.architecture", "test");
        float a[3] = {1, 2, 3};
        uint16_t h[5] = {1, 2, 3, 4, 5};
        int64_t ne_a[1] = {3}, ne_h[2] = {5, 1};
        vl_gw_add_tensor(w, "a", VL_TYPE_F32, 1, ne_a, a);
        vl_gw_add_tensor(w, "h", VL_TYPE_F16, 2, ne_h, h);
        uint8_t *buf;
        size_t size;
        REQUIRE(vl_gw_to_memory(w, &buf, &size) == 0, "writer");
        vl_gguf *g = NULL;
        CHECK(vl_gguf_open_memory(buf, size, &g) == VLLM_OK, "align %u: %s", aligns[k], vl_error_message());
        if (g) {
            CHECK(g->alignment == aligns[k] && g->data_offset % aligns[k] == 0, "alignment %u", g->alignment);
            const vl_gguf_tensor *ta = vl_gguf_find_tensor(g, "a"), *th = vl_gguf_find_tensor(g, "h");
            CHECK(ta && memcmp(ta->data, a, sizeof a) == 0, "a data");
            CHECK(th && memcmp(th->data, h, sizeof h) == 0 && th->offset % aligns[k] == 0, "h data");
            CHECK(th && th->n_dims == 2 && th->ne[1] == 1 && th->ne[2] == 1, "h dims");
            vl_gguf_close(g);
        }
        free(buf);
        vl_gw_free(w);
    }
}

/* ---- damaged files ------------------------------------------------------------- */

static vl_gw *base_writer(void)
{
    vl_gw *w = vl_gw_new();
    vl_gw_add_str(w, "general.architecture", "llama");
    vl_gw_add_u32(w, "llama.block_count", 2);
    vl_gw_add_f32(w, "llama.rope.freq_base", 10000.0f);
    const char *toks[] = {"a", "b", "ab"};
    vl_gw_add_arr_str(w, "tokenizer.ggml.tokens", 3, toks);
    const int32_t types[3] = {1, 1, 3};
    vl_gw_add_arr(w, "tokenizer.ggml.token_type", VL_GGUF_INT32, 3, types);
    vl_gwb b = {0};
    vl_gwb_arr_header(&b, VL_GGUF_ARRAY, 2);
    vl_gwb_arr_header(&b, VL_GGUF_UINT8, 1);
    vl_gwb_u8(&b, 9);
    vl_gwb_arr_header(&b, VL_GGUF_STRING, 1);
    vl_gwb_str(&b, "s");
    vl_gw_add_val(w, "test.nested", VL_GGUF_ARRAY, b.data, b.len);
    vl_gwb_free(&b);
    float x[64];
    for (int i = 0; i < 64; i++) x[i] = (float)i;
    int64_t ne1[1] = {64}, ne2[2] = {32, 2};
    vl_gw_add_tensor(w, "norm.weight", VL_TYPE_F32, 1, ne1, x);
    uint8_t q[68];
    memset(q, 0, sizeof q);
    vl_gw_add_tensor(w, "q.weight", VL_TYPE_Q8_0, 2, ne2, q);
    vl_gw_add_tensor(w, "last.weight", VL_TYPE_F32, 2, ne2, x);
    return w;
}

typedef struct damaged {
    uint8_t *buf;
    size_t size;
    vl_gw_layout L;
} damaged;

static damaged base_file(void)
{
    vl_gw *w = base_writer();
    damaged d;
    REQUIRE(vl_gw_to_memory(w, &d.buf, &d.size) == 0, "writer");
    d.L = *vl_gw_layout_of(w);
    /* the layout arrays die with the writer: keep copies */
    size_t *kv = malloc(d.L.n_kv * sizeof *kv), *ti = malloc(d.L.n_tensors * sizeof *ti),
           *td = malloc(d.L.n_tensors * sizeof *td);
    memcpy(kv, d.L.kv_off, d.L.n_kv * sizeof *kv);
    memcpy(ti, d.L.tinfo_off, d.L.n_tensors * sizeof *ti);
    memcpy(td, d.L.tdata_off, d.L.n_tensors * sizeof *td);
    d.L.kv_off = kv, d.L.tinfo_off = ti, d.L.tdata_off = td;
    vl_gw_free(w);
    return d;
}

static void free_damaged(damaged *d)
{
    free(d->buf);
    free((void *)d->L.kv_off);
    free((void *)d->L.tinfo_off);
    free((void *)d->L.tdata_off);
}

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

/* Open `size` bytes (copied to an exactly-sized heap block so ASan sees
 * any overread) and expect `want` with every `needles` substring in the
 * message. */
#define expect_fail(buf, size, want, ...) expect_fail_(__LINE__, buf, size, want, (const char *[]){__VA_ARGS__, NULL})
static void expect_fail_(int line, const uint8_t *buf, size_t size, vllm_status want, const char **needles)
{
    uint8_t *copy = malloc(size ? size : 1);
    memcpy(copy, buf, size);
    vl_gguf *g = (vl_gguf *)&g; /* must be reset to NULL on failure */
    vl_error_clear();
    vllm_status st = vl_gguf_open_memory(copy, size, &g);
    const char *msg = vl_error_message();
    CHECK(st == want, "line %d: status %d, want %d (%s)", line, (int)st, (int)want, msg);
    CHECK(g == NULL, "line %d: reader not NULL after failure", line);
    for (size_t i = 0; needles[i]; i++) {
        const char *needle = needles[i];
        CHECK(strstr(msg, needle) != NULL, "line %d: message lacks '%s': %s", line, needle ? needle : "", msg);
    }
    if (st == VLLM_OK) vl_gguf_close(g);
    free(copy);
}

/* Bytes of a key-value pair's value field / a tensor record's fields. */
static size_t kv_type_at(const damaged *d, size_t i)
{
    uint64_t klen;
    memcpy(&klen, d->buf + d->L.kv_off[i], 8);
    return d->L.kv_off[i] + 8 + (size_t)klen;
}

static size_t ti_field(const damaged *d, size_t i, int field /* 0 n_dims, 1 ne0, 5 type(after dims), 6 offset */)
{
    uint64_t nlen;
    uint32_t nd;
    memcpy(&nlen, d->buf + d->L.tinfo_off[i], 8);
    size_t p = d->L.tinfo_off[i] + 8 + (size_t)nlen;
    memcpy(&nd, d->buf + p, 4);
    if (field == 0) return p;
    if (field >= 1 && field <= 4) return p + 4 + 8 * (size_t)(field - 1);
    return p + 4 + 8 * nd + (field == 6 ? 4 : 0);
}

static void test_truncation(void)
{
    damaged d = base_file();
    vl_gguf *g = NULL;
    REQUIRE(vl_gguf_open_memory(d.buf, d.size, &g) == 0, "base file: %s", vl_error_message());
    vl_gguf_close(g);
    size_t data_end = d.L.tdata_off[2] + 2 * 32 * 4;
    /* every byte */
    for (size_t n = 0; n < d.size; n++) {
        if (n >= data_end) {
            /* only the final padding is gone: still a valid file */
            CHECK(vl_gguf_open_memory(d.buf, n, &g) == VLLM_OK, "prefix %zu: %s", n, vl_error_message());
            vl_gguf_close(g);
            continue;
        }
        expect_fail(d.buf, n, VLLM_ERR_FORMAT, "offset");
    }
    /* section boundaries name what was cut */
    expect_fail(d.buf, 0, VLLM_ERR_FORMAT, "magic", "byte offset 0");
    expect_fail(d.buf, 4, VLLM_ERR_FORMAT, "version", "byte offset 4");
    expect_fail(d.buf, 8, VLLM_ERR_FORMAT, "tensor count", "byte offset 8");
    expect_fail(d.buf, 16, VLLM_ERR_FORMAT, "metadata count", "byte offset 16");
    static const char *const keys[] = {"general.architecture", "llama.block_count", "llama.rope.freq_base",
                                       "tokenizer.ggml.tokens", "tokenizer.ggml.token_type", "test.nested"};
    char off[64];
    for (size_t i = 0; i < d.L.n_kv; i++) {
        snprintf(off, sizeof off, "metadata entry %zu", i);
        expect_fail(d.buf, d.L.kv_off[i], VLLM_ERR_FORMAT, "truncated", off);
        /* cut inside the value: the key is named */
        expect_fail(d.buf, kv_type_at(&d, i) + 5, VLLM_ERR_FORMAT, keys[i], "byte offset");
        expect_fail(d.buf, kv_type_at(&d, i) + 4, VLLM_ERR_FORMAT, keys[i], "byte offset");
    }
    static const char *const tn[] = {"norm.weight", "q.weight", "last.weight"};
    for (size_t i = 0; i < d.L.n_tensors; i++) {
        snprintf(off, sizeof off, "tensor %zu", i);
        expect_fail(d.buf, d.L.tinfo_off[i], VLLM_ERR_FORMAT, "truncated", off);
        expect_fail(d.buf, ti_field(&d, i, 6) + 3, VLLM_ERR_FORMAT, tn[i], "data offset");
        expect_fail(d.buf, d.L.tdata_off[i] + 1, VLLM_ERR_FORMAT, tn[i], "extends past the end");
    }
    expect_fail(d.buf, d.L.info_end, VLLM_ERR_FORMAT, "tensor data section", "byte offset");
    expect_fail(d.buf, d.L.data_off, VLLM_ERR_FORMAT, "norm.weight", "past the end");
    free_damaged(&d);
}

static void test_header_damage(void)
{
    damaged d = base_file();
    uint8_t *b = malloc(d.size);
#define RESET() memcpy(b, d.buf, d.size)
    RESET(); b[0] = 'G', b[1] = 'G', b[2] = 'M', b[3] = 'L';
    expect_fail(b, d.size, VLLM_ERR_FORMAT, "not a GGUF file", "byte offset 0");
    RESET(); put32(b + 4, 1);
    expect_fail(b, d.size, VLLM_ERR_UNSUPPORTED, "version 1");
    RESET(); put32(b + 4, 4);
    expect_fail(b, d.size, VLLM_ERR_FORMAT, "version 4", "byte offset 4");
    RESET(); put32(b + 4, 0);
    expect_fail(b, d.size, VLLM_ERR_FORMAT, "version 0");
    RESET(); put32(b + 4, 0x03000000u); /* version 3 written big-endian */
    expect_fail(b, d.size, VLLM_ERR_UNSUPPORTED, "big-endian");
    RESET(); put64(b + 8, UINT64_MAX);
    expect_fail(b, d.size, VLLM_ERR_FORMAT, "tensor count", "byte offset 8");
    RESET(); put64(b + 8, 1ull << 40);
    expect_fail(b, d.size, VLLM_ERR_FORMAT, "tensor count");
    RESET(); put64(b + 16, UINT64_MAX);
    expect_fail(b, d.size, VLLM_ERR_FORMAT, "metadata count", "byte offset 16");
    RESET(); put64(b + 16, UINT64_MAX / 13 + 1);
    expect_fail(b, d.size, VLLM_ERR_FORMAT, "metadata count");
    /* one more key than there is: the tensor record is read as a key */
    RESET(); put64(b + 16, d.L.n_kv + 1);
    expect_fail(b, d.size, VLLM_ERR_FORMAT, "byte offset");
    RESET(); put64(b + 8, d.L.n_tensors + 1);
    expect_fail(b, d.size, VLLM_ERR_FORMAT, "tensor 3");
    free(b);
    free_damaged(&d);
}

static void test_kv_damage(void)
{
    damaged d = base_file();
    uint8_t *b = malloc(d.size);
    char msg[128];
    /* key length */
    static const uint64_t bad_lens[] = {UINT64_MAX, UINT64_MAX - 5, 1ull << 63, 100000};
    for (size_t k = 0; k < 4; k++) {
        RESET(); put64(b + d.L.kv_off[1], bad_lens[k]);
        snprintf(msg, sizeof msg, "byte offset %zu", d.L.kv_off[1]);
        expect_fail(b, d.size, VLLM_ERR_FORMAT, "metadata entry 1", msg, "claims");
    }
    RESET(); put64(b + d.L.kv_off[1], 0);
    expect_fail(b, d.size, VLLM_ERR_FORMAT, "empty key");
    /* string value length */
    for (size_t k = 0; k < 4; k++) {
        RESET(); put64(b + kv_type_at(&d, 0) + 4, bad_lens[k]);
        expect_fail(b, d.size, VLLM_ERR_FORMAT, "general.architecture", "claims");
    }
    /* value type */
    static const uint32_t bad_types[] = {13, 0xFFFFFFFFu, 1000};
    for (size_t k = 0; k < 3; k++) {
        RESET(); put32(b + kv_type_at(&d, 1), bad_types[k]);
        snprintf(msg, sizeof msg, "byte offset %zu", kv_type_at(&d, 1));
        expect_fail(b, d.size, VLLM_ERR_FORMAT, "llama.block_count", "invalid value type", msg);
    }
    /* arrays: element type, lengths near UINT64_MAX */
    size_t arr = kv_type_at(&d, 3) + 4; /* tokenizer.ggml.tokens: elem type, then count */
    RESET(); put32(b + arr, 13);
    expect_fail(b, d.size, VLLM_ERR_FORMAT, "tokenizer.ggml.tokens", "invalid array element type");
    static const uint64_t bad_n[] = {UINT64_MAX, UINT64_MAX / 8, UINT64_MAX / 16 + 1, 1ull << 60, 4};
    for (size_t k = 0; k < 5; k++) {
        RESET(); put64(b + arr + 4, bad_n[k]);
        /* (one string too many swallows the next key: then that entry is named) */
        expect_fail(b, d.size, VLLM_ERR_FORMAT, bad_n[k] == 4 ? "metadata entry 4" : "tokenizer.ggml.tokens",
                    "byte offset");
        RESET(); put64(b + kv_type_at(&d, 4) + 8, bad_n[k] == 4 ? 1000 : bad_n[k]); /* int32 array */
        expect_fail(b, d.size, VLLM_ERR_FORMAT, "tokenizer.ggml.token_type", "claims");
        RESET(); put64(b + kv_type_at(&d, 5) + 8, bad_n[k] == 4 ? 1000 : bad_n[k]); /* array of arrays */
        expect_fail(b, d.size, VLLM_ERR_FORMAT, "test.nested", "byte offset");
    }
    /* a string inside the string array with a huge length */
    RESET(); put64(b + arr + 12, UINT64_MAX - 1);
    expect_fail(b, d.size, VLLM_ERR_FORMAT, "tokenizer.ggml.tokens", "claims");
    free(b);
    free_damaged(&d);

    /* files built wrong on purpose with the writer */
    uint8_t *buf;
    size_t size;
    vl_gw *w;
    /* duplicate key */
    w = base_writer();
    vl_gw_add_u32(w, "llama.block_count", 3);
    vl_gw_to_memory(w, &buf, &size);
    expect_fail(buf, size, VLLM_ERR_FORMAT, "duplicate key 'llama.block_count'", "byte offset");
    free(buf), vl_gw_free(w);
    /* nesting: VL_GGUF_MAX_NESTING levels parse, one more fails */
    for (int depth = VL_GGUF_MAX_NESTING; depth <= VL_GGUF_MAX_NESTING + 1; depth++) {
        vl_gwb nb = {0};
        for (int i = 0; i < depth - 1; i++) vl_gwb_arr_header(&nb, VL_GGUF_ARRAY, 1);
        vl_gwb_arr_header(&nb, VL_GGUF_UINT8, 1);
        vl_gwb_u8(&nb, 1);
        w = vl_gw_new();
        vl_gw_add_val(w, "deep.key", VL_GGUF_ARRAY, nb.data, nb.len);
        vl_gw_to_memory(w, &buf, &size);
        if (depth == VL_GGUF_MAX_NESTING) {
            vl_gguf *g = NULL;
            CHECK(vl_gguf_open_memory(buf, size, &g) == VLLM_OK, "depth %d: %s", depth, vl_error_message());
            vl_gguf_close(g);
        } else {
            expect_fail(buf, size, VLLM_ERR_FORMAT, "deep.key", "nested deeper", "byte offset");
        }
        free(buf), vl_gw_free(w), vl_gwb_free(&nb);
    }
    /* an array of 2^40 empty arrays in a small file */
    {
        vl_gwb nb = {0};
        vl_gwb_arr_header(&nb, VL_GGUF_ARRAY, 1ull << 40);
        vl_gwb_arr_header(&nb, VL_GGUF_UINT8, 0);
        w = vl_gw_new();
        vl_gw_add_val(w, "many.arrays", VL_GGUF_ARRAY, nb.data, nb.len);
        vl_gw_to_memory(w, &buf, &size);
        expect_fail(buf, size, VLLM_ERR_FORMAT, "many.arrays", "claims");
        free(buf), vl_gw_free(w), vl_gwb_free(&nb);
    }
    /* bad general.alignment: 0, 3, wrong types */
    struct { vl_gguf_vtype t; uint64_t v; size_t len; const char *needle; } al[] = {
        {VL_GGUF_UINT32, 0, 4, "(0)"}, {VL_GGUF_UINT32, 3, 4, "(3)"}, {VL_GGUF_UINT32, 0x80000001u, 4, "power"},
        {VL_GGUF_UINT64, 32, 8, "uint64"}, {VL_GGUF_INT32, 32, 4, "int32"}, {VL_GGUF_UINT16, 32, 2, "uint16"}};
    for (size_t k = 0; k < sizeof al / sizeof al[0]; k++) {
        w = base_writer();
        vl_gw_add_val(w, "general.alignment", al[k].t, &al[k].v, al[k].len);
        vl_gw_to_memory(w, &buf, &size);
        expect_fail(buf, size, VLLM_ERR_FORMAT, "general.alignment", al[k].needle, "byte offset");
        free(buf), vl_gw_free(w);
    }
    w = base_writer();
    vl_gw_add_str(w, "general.alignment", "32");
    vl_gw_to_memory(w, &buf, &size);
    expect_fail(buf, size, VLLM_ERR_FORMAT, "general.alignment", "string");
    free(buf), vl_gw_free(w);
    /* invalid value type written directly */
    w = vl_gw_new();
    vl_gw_add_val(w, "odd.type", (vl_gguf_vtype)13, "abcd", 4);
    vl_gw_to_memory(w, &buf, &size);
    expect_fail(buf, size, VLLM_ERR_FORMAT, "odd.type", "invalid value type 13", "byte offset");
    free(buf), vl_gw_free(w);
    /* a hostile key is shown without control characters */
    w = vl_gw_new();
    vl_gw_add_val(w, "evil\x1b[2J.key", (vl_gguf_vtype)99, "", 0);
    vl_gw_to_memory(w, &buf, &size);
    expect_fail(buf, size, VLLM_ERR_FORMAT, "evil?[2J.key");
    free(buf), vl_gw_free(w);
}

static void test_tensor_damage(void)
{
    damaged d = base_file();
    uint8_t *b = malloc(d.size);
    char msg[96];
    /* n_dims */
    static const uint32_t bad_dims[] = {0, 5, 0xFFFFFFFFu};
    for (size_t k = 0; k < 3; k++) {
        RESET(); put32(b + ti_field(&d, 1, 0), bad_dims[k]);
        snprintf(msg, sizeof msg, "byte offset %zu", ti_field(&d, 1, 0));
        expect_fail(b, d.size, VLLM_ERR_FORMAT, "q.weight", "dimensions", msg);
    }
    /* dims: zero, > INT64_MAX, product overflowing */
    RESET(); put64(b + ti_field(&d, 0, 1), 0);
    expect_fail(b, d.size, VLLM_ERR_FORMAT, "norm.weight", "dimension 0", "zero");
    RESET(); put64(b + ti_field(&d, 0, 1), UINT64_MAX);
    expect_fail(b, d.size, VLLM_ERR_FORMAT, "norm.weight", "too large");
    RESET(); put64(b + ti_field(&d, 2, 1), 1ull << 32); put64(b + ti_field(&d, 2, 2), 1ull << 32);
    expect_fail(b, d.size, VLLM_ERR_FORMAT, "last.weight", "dimension 1", "overflows");
    RESET(); put64(b + ti_field(&d, 2, 1), 1ull << 62); put64(b + ti_field(&d, 2, 2), 1);
    expect_fail(b, d.size, VLLM_ERR_FORMAT, "last.weight", "byte size overflows");
    RESET(); put64(b + ti_field(&d, 2, 1), 1ull << 40); put64(b + ti_field(&d, 2, 2), 1ull << 20);
    expect_fail(b, d.size, VLLM_ERR_FORMAT, "last.weight", "past the end");
    /* types */
    static const uint32_t bad_tt[] = {4, 5, 31, 36, 40, 1000, 0x80000000u};
    for (size_t k = 0; k < sizeof bad_tt / sizeof bad_tt[0]; k++) {
        RESET(); put32(b + ti_field(&d, 1, 5), bad_tt[k]);
        snprintf(msg, sizeof msg, "unknown type id %u", bad_tt[k]);
        expect_fail(b, d.size, VLLM_ERR_FORMAT, "q.weight", msg, "byte offset");
    }
    /* Q8_0 row of 33 elements: not a whole number of blocks */
    RESET(); put64(b + ti_field(&d, 1, 1), 33);
    expect_fail(b, d.size, VLLM_ERR_FORMAT, "q.weight", "not a multiple", "Q8_0", "byte offset");
    /* offsets: out of range, misaligned, overlapping */
    static const uint64_t bad_off[] = {UINT64_MAX - 31, 1ull << 62, 4096};
    for (size_t k = 0; k < 3; k++) {
        RESET(); put64(b + ti_field(&d, 1, 6), bad_off[k]);
        expect_fail(b, d.size, VLLM_ERR_FORMAT, "q.weight", "past the end", "offset");
    }
    RESET(); put64(b + ti_field(&d, 1, 6), d.L.tdata_off[1] - d.L.data_off + 4);
    expect_fail(b, d.size, VLLM_ERR_FORMAT, "q.weight", "not a multiple of the alignment 32", "byte offset");
    RESET(); put64(b + ti_field(&d, 2, 6), 0);
    expect_fail(b, d.size, VLLM_ERR_FORMAT, "overlap", "last.weight", "norm.weight");
    RESET(); put64(b + ti_field(&d, 2, 6), d.L.tdata_off[1] - d.L.data_off + 32); /* inside q.weight's 68 bytes */
    expect_fail(b, d.size, VLLM_ERR_FORMAT, "overlap", "q.weight", "last.weight");
    /* names */
    RESET(); put64(b + d.L.tinfo_off[1], 0);
    expect_fail(b, d.size, VLLM_ERR_FORMAT, "tensor 1", "name length 0");
    RESET(); b[d.L.tinfo_off[1] + 8 + 1] = '\0';
    expect_fail(b, d.size, VLLM_ERR_FORMAT, "tensor 1", "NUL");
    RESET(); memcpy(b + d.L.tinfo_off[2] + 8, "q.weight\0\0\0", 11); put64(b + d.L.tinfo_off[2], 11);
    expect_fail(b, d.size, VLLM_ERR_FORMAT, "tensor 2", "NUL"); /* "q.weight" + NULs must not alias */
    free(b);
    free_damaged(&d);

    uint8_t *buf;
    size_t size;
    vl_gw *w = base_writer();
    float x[64] = {0};
    int64_t ne1[1] = {64};
    vl_gw_add_tensor(w, "q.weight", VL_TYPE_F32, 1, ne1, x);
    vl_gw_to_memory(w, &buf, &size);
    expect_fail(buf, size, VLLM_ERR_FORMAT, "duplicate tensor 'q.weight'", "byte offset");
    free(buf), vl_gw_free(w);
    char longname[200];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    w = vl_gw_new();
    vl_gw_add_tensor(w, longname, VL_TYPE_F32, 1, ne1, x);
    vl_gw_to_memory(w, &buf, &size);
    expect_fail(buf, size, VLLM_ERR_FORMAT, "tensor 0", "name length 199");
    free(buf), vl_gw_free(w);
    /* a tensor section that ends exactly where its padding should start */
    w = vl_gw_new();
    vl_gw_add_tensor(w, "t", VL_TYPE_F32, 1, ne1, x);
    vl_gw_to_memory(w, &buf, &size);
    expect_fail(buf, vl_gw_layout_of(w)->info_end + 1, VLLM_ERR_FORMAT, "tensor data section", "byte offset");
    expect_fail(buf, vl_gw_layout_of(w)->data_off + 4, VLLM_ERR_FORMAT, "'t'", "past the end");
    free(buf), vl_gw_free(w);
#undef RESET
}

/* Many keys: the duplicate check must not be quadratic (this would take
 * minutes with pairwise comparison), and lookups must find every key. */
static void test_many_keys(void)
{
    vl_gw *w = vl_gw_new();
    char k[32];
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        snprintf(k, sizeof k, "k.%d", i);
        vl_gw_add_u8(w, k, (uint8_t)i);
    }
    uint8_t *buf;
    size_t size;
    REQUIRE(vl_gw_to_memory(w, &buf, &size) == 0, "writer");
    vl_gguf *g = NULL;
    CHECK(vl_gguf_open_memory(buf, size, &g) == VLLM_OK, "%s", vl_error_message());
    if (g) {
        int ok = 1;
        for (int i = 0; i < n; i += 997) {
            snprintf(k, sizeof k, "k.%d", i);
            const vl_gguf_kv *kv = vl_gguf_find(g, k);
            ok &= kv && kv->value.v.u == (uint8_t)i;
        }
        CHECK(ok, "lookups");
        CHECK(vl_gguf_find(g, "k.") == NULL && vl_gguf_find(g, "k.200000") == NULL, "absent keys");
        vl_gguf_close(g);
    }
    free(buf);
    vl_gw_free(w);
}

/* Damage a real fixture at its own section boundaries. */
static void test_fixture_cuts(void)
{
    char path[4400];
    fx_require_model("-mmproj-F32.gguf", path, sizeof path);
    size_t n;
    char *file = slurp(path, &n);
    REQUIRE(file != NULL, "read %s", path);
    vl_gguf *g = NULL;
    REQUIRE(vl_gguf_open_memory(file, n, &g) == 0, "%s", vl_error_message());
    for (uint64_t i = 0; i < g->n_kv; i++) {
        char key[128];
        snprintf(key, sizeof key, "%.*s", (int)g->kv[i].key.len, g->kv[i].key.ptr);
        expect_fail((const uint8_t *)file, g->kv[i].offset, VLLM_ERR_FORMAT, "truncated", "byte offset");
        expect_fail((const uint8_t *)file, g->kv[i].offset + 8 + g->kv[i].key.len + 4, VLLM_ERR_FORMAT, key);
    }
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const vl_gguf_tensor *t = &g->tensors[i];
        expect_fail((const uint8_t *)file, g->data_offset + t->offset + t->size - 1, VLLM_ERR_FORMAT, t->name,
                    "past the end");
    }
    expect_fail((const uint8_t *)file, g->data_offset, VLLM_ERR_FORMAT, "past the end");
    vl_gguf_close(g);
    free(file);
}

static void test_open_errors(void)
{
    vl_gguf *g = (vl_gguf *)&g;
    CHECK(vl_gguf_open("/nonexistent/x.gguf", 1, &g) == VLLM_ERR_IO && g == NULL, "missing file");
    CHECK(strstr(vl_error_message(), "/nonexistent/x.gguf") != NULL, "path in message");
    CHECK(vl_gguf_open("/", 1, &g) == VLLM_ERR_IO, "directory");
    CHECK(vl_gguf_open_memory(NULL, 0, &g) == VLLM_ERR_FORMAT && g == NULL, "empty");
    CHECK(vl_gguf_open_memory(NULL, 5, &g) == VLLM_ERR_INVALID_ARG, "NULL data");
    CHECK(vl_gguf_find(NULL, "x") == NULL && vl_gguf_find_tensor(NULL, "x") == NULL, "NULL reader");
    vl_gguf_close(NULL);
}

TEST_MAIN_BEGIN
    const char *dir = data_dir();
    char path[4400];
    fx_require_model("-config.json", path, sizeof path);
    size_t jn;
    char *json = slurp(path, &jn);
    REQUIRE(json != NULL, "cannot read %s", path);
    /* the models' general.name: the set's config.name */
    json_t *cfg = json_load_file(path, 0, NULL);
    char name[256] = "";
    const char *cfg_name = json_string_value(json_object_get(json_object_get(cfg, "config"), "name"));
    REQUIRE(cfg_name && strlen(cfg_name) < sizeof name, "%s: no config.name", path);
    snprintf(name, sizeof name, "%s", cfg_name);
    json_decref(cfg);

    test_open_errors();
    test_vocabs(dir);
    vl_gguf *f32 = NULL, *f16 = NULL, *q8 = NULL;
    test_tiny_text(name, json, "F32", VL_TYPE_F32, 0, &f32);
    test_tiny_text(name, json, "F16", VL_TYPE_F16, 1, &f16);
    test_tiny_text(name, json, "Q8_0", VL_TYPE_Q8_0, 7, &q8);
    test_f16_matches_f32(f32, f16);
    vl_gguf_close(f32);
    vl_gguf_close(f16);
    vl_gguf_close(q8);
    test_tiny_mmproj(json);
    test_value_types();
    test_alignment();
    test_truncation();
    test_header_damage();
    test_kv_damage();
    test_tensor_damage();
    test_fixture_cuts();
    test_many_keys();
    free(json);
TEST_MAIN_END
