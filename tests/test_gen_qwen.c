/* The test-model generator's Qwen families against llama.cpp's converter
 * schema, as the shipped fixtures carry it (argv[1] is videollm-gen-model).
 *
 *  1. Schema: for tiny-qwen25vl and tiny-qwen3vl, a generated text model
 *     and mmproj of the fixture's shape have exactly the fixture's keys
 *     (name, value type, array element type), equal hyper-parameter values
 *     and exactly its tensors (name, type, shape); the fixture's special
 *     tokens (its config JSON) sit at the same ids. Files of another shape
 *     have the same key set, and both the fixture and those files satisfy
 *     the README's tensor table written here as shape formulas over each
 *     file's own keys (every per-block tensor present for every block, the
 *     deepstack mergers exactly at the is_deepstack_layers).
 *  2. The generated text models (qwen2vl, qwen3, qwen3vl; tied and untied;
 *     F32, Q8_0, Q4_K) load through the library with the hyper-parameters
 *     asked for and give finite, non-constant logits for a chat prompt;
 *     qwen3vl also with visual rows carrying deepstack features.
 *  3. With the real 151936-row vocabulary the special tokens sit at Qwen's
 *     ids (from the models' config.json: bos 151643, eos 151645,
 *     vision_start 151652, image 151655, video 151656) and a prompt with
 *     <|vision_start|><|video_pad|><|vision_end|> tokenizes to them.
 *  4. Inconsistent Qwen shapes are refused. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/dtype.h"
#include "core/gguf.h"
#include "core/threadpool.h"
#include "decoder/llm.h"
#include "decoder/tokenizer.h"
#include "harness.h"
#include "json.h"
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

static vl_gguf *open_gguf(const char *path)
{
    vl_gguf *g = NULL;
    if (vl_gguf_open(path, 1, &g) != VLLM_OK) {
        CHECK(0, "%s: %s", path, vllm_last_error());
        return NULL;
    }
    return g;
}

static int64_t key_int(const vl_gguf *g, const char *key, int64_t def)
{
    int64_t v = def;
    CHECK(vl_gguf_get_int(g, key, def, &v) == VLLM_OK, "%s: %s", key, vllm_last_error());
    return v;
}

/* ---- 1. schema ------------------------------------------------------------------------- */

static int kv_index(const vl_gguf *g, const vl_str *key)
{
    for (uint64_t i = 0; i < g->n_kv; i++)
        if (g->kv[i].key.len == key->len && !memcmp(g->kv[i].key.ptr, key->ptr, key->len)) return (int)i;
    return -1;
}

static int is_tokenizer_or_name(vl_str k)
{
    return (k.len >= 10 && !memcmp(k.ptr, "tokenizer.", 10)) || vl_str_eq(k, "general.name");
}

/* Same keys with the same types both ways; with `values`, equal values for
 * every key outside the tokenizer and general.name. */
static void compare_keys(const vl_gguf *gen, const vl_gguf *fix, int values, const char *what)
{
    for (uint64_t i = 0; i < fix->n_kv; i++) {
        const vl_gguf_kv *f = &fix->kv[i];
        int j = kv_index(gen, &f->key);
        if (j < 0) {
            CHECK(0, "%s: key %.*s missing", what, (int)f->key.len, f->key.ptr);
            continue;
        }
        const vl_gguf_value *a = &gen->kv[j].value, *b = &f->value;
        int same_type = a->type == b->type && (a->type != VL_GGUF_ARRAY || a->v.arr.elem == b->v.arr.elem);
        CHECK(same_type, "%s: key %.*s has type %s, fixture %s", what, (int)f->key.len, f->key.ptr,
              vl_gguf_vtype_name(a->type), vl_gguf_vtype_name(b->type));
        if (!same_type || !values || is_tokenizer_or_name(f->key)) continue;
        int eq;
        switch (b->type) {
        case VL_GGUF_STRING: eq = a->v.s.len == b->v.s.len && !memcmp(a->v.s.ptr, b->v.s.ptr, b->v.s.len); break;
        case VL_GGUF_FLOAT32:
        case VL_GGUF_FLOAT64: eq = a->v.f == b->v.f; break;
        case VL_GGUF_ARRAY:
            eq = a->v.arr.n == b->v.arr.n && a->v.arr.elem != VL_GGUF_STRING;
            for (uint64_t e = 0; eq && e < b->v.arr.n; e++)
                eq = vl_gguf_arr_float(a, e) == vl_gguf_arr_float(b, e);
            break;
        case VL_GGUF_INT8:
        case VL_GGUF_INT16:
        case VL_GGUF_INT32:
        case VL_GGUF_INT64: eq = a->v.i == b->v.i; break;
        default: eq = a->v.u == b->v.u; break;
        }
        CHECK(eq, "%s: key %.*s differs from the fixture", what, (int)f->key.len, f->key.ptr);
    }
    for (uint64_t i = 0; i < gen->n_kv; i++)
        CHECK(kv_index(fix, &gen->kv[i].key) >= 0, "%s: key %.*s is not in the fixture", what,
              (int)gen->kv[i].key.len, gen->kv[i].key.ptr);
}

static void compare_tensors(const vl_gguf *gen, const vl_gguf *fix, const char *what)
{
    CHECK(gen->n_tensors == fix->n_tensors, "%s: %llu tensors, fixture %llu", what,
          (unsigned long long)gen->n_tensors, (unsigned long long)fix->n_tensors);
    for (uint64_t i = 0; i < fix->n_tensors; i++) {
        const vl_gguf_tensor *f = &fix->tensors[i], *t = vl_gguf_find_tensor(gen, f->name);
        CHECK(t && t->type == f->type && t->n_dims == f->n_dims && !memcmp(t->ne, f->ne, sizeof f->ne),
              "%s: tensor %s %s", what, f->name, t ? "differs in type or shape" : "missing");
    }
}

/* The fixture's special tokens (config JSON special_token_ids) at the same
 * ids with the same types; same vocabulary and merge counts; bos/eos/pad. */
static void compare_vocab(const vl_gguf *gen, const vl_gguf *fix, const char *config, const char *what)
{
    const vl_gguf_value *gt = NULL, *ft = NULL, *gty = NULL, *fty = NULL, *gm = NULL, *fm = NULL;
    vl_gguf_get_arr(gen, "tokenizer.ggml.tokens", VL_GGUF_STRING, &gt);
    vl_gguf_get_arr(fix, "tokenizer.ggml.tokens", VL_GGUF_STRING, &ft);
    vl_gguf_get_arr(gen, "tokenizer.ggml.token_type", VL_GGUF_INT32, &gty);
    vl_gguf_get_arr(fix, "tokenizer.ggml.token_type", VL_GGUF_INT32, &fty);
    vl_gguf_get_arr(gen, "tokenizer.ggml.merges", VL_GGUF_STRING, &gm);
    vl_gguf_get_arr(fix, "tokenizer.ggml.merges", VL_GGUF_STRING, &fm);
    REQUIRE(gt && ft && gty && fty && gm && fm, "%s: tokenizer arrays", what);
    CHECK(gt->v.arr.n == ft->v.arr.n && gm->v.arr.n == fm->v.arr.n, "%s: %llu tokens / %llu merges, fixture %llu / %llu",
          what, (unsigned long long)gt->v.arr.n, (unsigned long long)gm->v.arr.n, (unsigned long long)ft->v.arr.n,
          (unsigned long long)fm->v.arr.n);
    static const char *const ids[] = {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                                      "tokenizer.ggml.padding_token_id"};
    for (int i = 0; i < 3; i++) CHECK(key_int(gen, ids[i], -1) == key_int(fix, ids[i], -2), "%s: %s", what, ids[i]);
    json *cfg = json_load(config);
    REQUIRE(cfg, "cannot read %s", config);
    const json *sp = json_get(cfg, "special_token_ids");
    int n_checked = 0;
    for (size_t i = 0; sp && i < sp->n; i++) {
        const char *text = sp->items[i]->key;
        if (text[0] != '<') continue; /* "\n" is a byte-level token, not a special */
        uint64_t id = (uint64_t)json_num(sp->items[i], -1);
        REQUIRE(id < gt->v.arr.n, "%s: %s id %llu", what, text, (unsigned long long)id);
        CHECK(vl_str_eq(gt->v.arr.strs[id], text) && vl_gguf_arr_int(gty, id) == vl_gguf_arr_int(fty, id),
              "%s: token %llu is not %s of the fixture's type", what, (unsigned long long)id, text);
        n_checked++;
    }
    CHECK(n_checked >= 16, "%s: only %d special tokens in %s", what, n_checked, config);
    json_free(cfg);
}

/* A tensor-table row: a name pattern (N = block or deepstack layer
 * index) and its shape as symbols, evaluated per file:
 *   text:   E n_embd, V vocabulary, F n_ff, D head_dim, Q n_head*D, K n_head_kv*D
 *   vision: e embedding, f ffn, P patch, p projection_dim, M 4e (2x2 merge),
 *           T 3e (fused qkv), G (image/patch)^2 position rows, 3 channels */
typedef struct row {
    const char *name, *shape;
    int optional; /* output.weight: absent when tied */
} row;

static const row qwen2vl_text[] = {
    {"token_embd.weight", "EV", 0},       {"blk.N.attn_norm.weight", "E", 0}, {"blk.N.attn_q.weight", "EQ", 0},
    {"blk.N.attn_k.weight", "EK", 0},     {"blk.N.attn_v.weight", "EK", 0},   {"blk.N.attn_q.bias", "Q", 0},
    {"blk.N.attn_k.bias", "K", 0},        {"blk.N.attn_v.bias", "K", 0},      {"blk.N.attn_output.weight", "QE", 0},
    {"blk.N.ffn_norm.weight", "E", 0},    {"blk.N.ffn_gate.weight", "EF", 0}, {"blk.N.ffn_up.weight", "EF", 0},
    {"blk.N.ffn_down.weight", "FE", 0},   {"output_norm.weight", "E", 0},     {"output.weight", "EV", 1},
    {NULL, NULL, 0}};
static const row qwen3vl_text[] = {
    {"token_embd.weight", "EV", 0},       {"blk.N.attn_norm.weight", "E", 0},   {"blk.N.attn_q.weight", "EQ", 0},
    {"blk.N.attn_k.weight", "EK", 0},     {"blk.N.attn_v.weight", "EK", 0},     {"blk.N.attn_q_norm.weight", "D", 0},
    {"blk.N.attn_k_norm.weight", "D", 0}, {"blk.N.attn_output.weight", "QE", 0}, {"blk.N.ffn_norm.weight", "E", 0},
    {"blk.N.ffn_gate.weight", "EF", 0},   {"blk.N.ffn_up.weight", "EF", 0},     {"blk.N.ffn_down.weight", "FE", 0},
    {"output_norm.weight", "E", 0},       {"output.weight", "EV", 1},           {NULL, NULL, 0}};
static const row qwen25vl_mmproj[] = {
    {"v.patch_embd.weight", "PP3e", 0},   {"v.patch_embd.weight.1", "PP3e", 0}, {"v.blk.N.ln1.weight", "e", 0},
    {"v.blk.N.attn_q.weight", "ee", 0},   {"v.blk.N.attn_q.bias", "e", 0},      {"v.blk.N.attn_k.weight", "ee", 0},
    {"v.blk.N.attn_k.bias", "e", 0},      {"v.blk.N.attn_v.weight", "ee", 0},   {"v.blk.N.attn_v.bias", "e", 0},
    {"v.blk.N.attn_out.weight", "ee", 0}, {"v.blk.N.attn_out.bias", "e", 0},    {"v.blk.N.ln2.weight", "e", 0},
    {"v.blk.N.ffn_gate.weight", "ef", 0}, {"v.blk.N.ffn_gate.bias", "f", 0},    {"v.blk.N.ffn_up.weight", "ef", 0},
    {"v.blk.N.ffn_up.bias", "f", 0},      {"v.blk.N.ffn_down.weight", "fe", 0}, {"v.blk.N.ffn_down.bias", "e", 0},
    {"v.post_ln.weight", "e", 0},         {"mm.0.weight", "MM", 0},             {"mm.0.bias", "M", 0},
    {"mm.2.weight", "Mp", 0},             {"mm.2.bias", "p", 0},                {NULL, NULL, 0}};
static const row qwen3vl_mmproj[] = {
    {"v.patch_embd.weight", "PP3e", 0},   {"v.patch_embd.weight.1", "PP3e", 0}, {"v.patch_embd.bias", "e", 0},
    {"v.position_embd.weight", "eG", 0},  {"v.blk.N.ln1.weight", "e", 0},       {"v.blk.N.ln1.bias", "e", 0},
    {"v.blk.N.attn_qkv.weight", "eT", 0}, {"v.blk.N.attn_qkv.bias", "T", 0},    {"v.blk.N.attn_out.weight", "ee", 0},
    {"v.blk.N.attn_out.bias", "e", 0},    {"v.blk.N.ln2.weight", "e", 0},       {"v.blk.N.ln2.bias", "e", 0},
    {"v.blk.N.ffn_up.weight", "ef", 0},   {"v.blk.N.ffn_up.bias", "f", 0},      {"v.blk.N.ffn_down.weight", "fe", 0},
    {"v.blk.N.ffn_down.bias", "e", 0},    {"v.deepstack.N.norm.weight", "M", 0}, {"v.deepstack.N.norm.bias", "M", 0},
    {"v.deepstack.N.fc1.weight", "MM", 0}, {"v.deepstack.N.fc1.bias", "M", 0},  {"v.deepstack.N.fc2.weight", "Mp", 0},
    {"v.deepstack.N.fc2.bias", "p", 0},   {"v.post_ln.weight", "e", 0},         {"v.post_ln.bias", "e", 0},
    {"mm.0.weight", "MM", 0},             {"mm.0.bias", "M", 0},                {"mm.2.weight", "Mp", 0},
    {"mm.2.bias", "p", 0},                {NULL, NULL, 0}};

/* Does `name` match `pat` (N = a decimal index)? The index goes to *idx. */
static int match(const char *pat, const char *name, long *idx)
{
    *idx = -1;
    for (; *pat; pat++) {
        if (*pat == 'N') {
            char *end;
            if (*name < '0' || *name > '9') return 0;
            *idx = strtol(name, &end, 10);
            name = end;
        } else if (*pat != *name++) {
            return 0;
        }
    }
    return *name == 0;
}

typedef struct syms {
    int64_t v['z' + 1];
} syms;

static void text_syms(const vl_gguf *g, const char *arch, syms *s)
{
    char k[96];
#define K(x) (snprintf(k, sizeof k, "%s." x, arch), k)
    memset(s, 0, sizeof *s);
    s->v['E'] = key_int(g, K("embedding_length"), -1);
    s->v['F'] = key_int(g, K("feed_forward_length"), -1);
    const int64_t nh = key_int(g, K("attention.head_count"), -1), nkv = key_int(g, K("attention.head_count_kv"), -1);
    s->v['D'] = key_int(g, K("attention.key_length"), s->v['E'] / nh);
    s->v['Q'] = nh * s->v['D'];
    s->v['K'] = nkv * s->v['D'];
    const vl_gguf_value *toks = NULL;
    vl_gguf_get_arr(g, "tokenizer.ggml.tokens", VL_GGUF_STRING, &toks);
    s->v['V'] = toks ? (int64_t)toks->v.arr.n : -1;
#undef K
}

static void vision_syms(const vl_gguf *g, syms *s)
{
    memset(s, 0, sizeof *s);
    s->v['e'] = key_int(g, "clip.vision.embedding_length", -1);
    s->v['f'] = key_int(g, "clip.vision.feed_forward_length", -1);
    s->v['P'] = key_int(g, "clip.vision.patch_size", -1);
    s->v['p'] = key_int(g, "clip.vision.projection_dim", -1);
    s->v['M'] = 4 * s->v['e'];
    s->v['T'] = 3 * s->v['e'];
    const int64_t grid = key_int(g, "clip.vision.image_size", -1) / s->v['P'];
    s->v['G'] = grid * grid;
    s->v['3'] = 3;
}

/* Every tensor matches one row with the shape its formula gives; each
 * per-block row occurs for exactly the blocks 0..n_block-1, each deepstack
 * row for exactly the `deepstack` layers (NULL: none expected). */
static void check_table(const vl_gguf *g, const row *table, const syms *s, int64_t n_block, const uint8_t *deepstack,
                        const char *what)
{
    int n_rows = 0;
    while (table[n_rows].name) n_rows++;
    uint64_t seen[64] = {0}; /* bit per index, for N rows (indices < 64 here) */
    int count[64] = {0};
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const vl_gguf_tensor *t = &g->tensors[i];
        int r = 0;
        long idx = -1;
        for (; r < n_rows; r++)
            if (match(table[r].name, t->name, &idx)) break;
        if (r == n_rows) {
            CHECK(0, "%s: tensor %s is not in the table", what, t->name);
            continue;
        }
        const char *sh = table[r].shape;
        int ok = t->n_dims == (int)strlen(sh);
        for (int d = 0; ok && d < t->n_dims; d++) ok = t->ne[d] == s->v[(unsigned char)sh[d]];
        CHECK(ok, "%s: %s has shape %lld x %lld x %lld x %lld, the table says %s", what, t->name, (long long)t->ne[0],
              (long long)t->ne[1], (long long)t->ne[2], (long long)t->ne[3], sh);
        count[r]++;
        if (idx >= 0 && idx < 64) seen[r] |= 1ull << idx;
        else if (strchr(table[r].name, 'N')) CHECK(0, "%s: %s index out of range", what, t->name);
    }
    uint64_t blocks = n_block >= 64 ? ~0ull : (1ull << n_block) - 1, ds = 0;
    for (int64_t l = 0; deepstack && l < n_block && l < 64; l++) ds |= (uint64_t)deepstack[l] << l;
    for (int r = 0; r < n_rows; r++) {
        const char *nm = table[r].name;
        if (strstr(nm, "deepstack.N")) CHECK(seen[r] == ds, "%s: %s not at exactly the deepstack layers", what, nm);
        else if (strchr(nm, 'N')) CHECK(seen[r] == blocks && count[r] == n_block, "%s: %s not once per block", what, nm);
        else CHECK(count[r] == 1 || (table[r].optional && count[r] == 0), "%s: %s appears %d times", what, nm, count[r]);
    }
}

static void check_text_table(const vl_gguf *g, const char *what)
{
    vl_str arch;
    REQUIRE(vl_gguf_get_str(g, "general.architecture", NULL, &arch) == VLLM_OK && arch.ptr, "%s: arch", what);
    char a[16];
    snprintf(a, sizeof a, "%.*s", (int)(arch.len < 15 ? arch.len : 15), arch.ptr);
    syms s;
    text_syms(g, a, &s);
    char k[64];
    snprintf(k, sizeof k, "%s.block_count", a);
    check_table(g, strcmp(a, "qwen2vl") ? qwen3vl_text : qwen2vl_text, &s, key_int(g, k, -1), NULL, what);
}

static void check_mmproj_table(const vl_gguf *g, const char *what)
{
    vl_str proj;
    REQUIRE(vl_gguf_get_str(g, "clip.projector_type", NULL, &proj) == VLLM_OK && proj.ptr, "%s: projector", what);
    syms s;
    vision_syms(g, &s);
    const int64_t n_block = key_int(g, "clip.vision.block_count", -1);
    const vl_gguf_value *ds = NULL;
    uint8_t flags[64] = {0};
    if (vl_str_eq(proj, "qwen3vl_merger")) {
        REQUIRE(vl_gguf_get_arr(g, "clip.vision.is_deepstack_layers", VL_GGUF_BOOL, &ds) == VLLM_OK && ds &&
                    ds->v.arr.n == (uint64_t)n_block && n_block <= 64,
                "%s: is_deepstack_layers", what);
        for (int64_t l = 0; l < n_block; l++) flags[l] = (uint8_t)vl_gguf_arr_int(ds, (uint64_t)l);
    }
    check_table(g, ds ? qwen3vl_mmproj : qwen25vl_mmproj, &s, n_block, ds ? flags : NULL, what);
}

typedef struct family {
    const char *set;                    /* tests/data/<set> */
    const char *preset;                 /* generator preset of the fixture's shape */
    const char *const *other_text;      /* another shape */
    const char *const *other_mmproj;
} family;

static const char *const q25_text[] = {"--preset", "tiny-qwen25vl", "--n-embd", "96", "--n-layer", "3", "--n-head",
                                       "6", "--n-head-kv", "3", "--n-ff", "128", "--n-vocab", "700",
                                       "--rope-sections", "3,2,3", "--tied", NULL};
static const char *const q25_mmproj[] = {"--preset", "tiny-qwen25vl-mmproj", "--v-embd", "48", "--v-layer", "5",
                                         "--v-head", "3", "--v-ff", "80", "--v-proj", "96", "--v-wa-pattern", "3",
                                         "--type", "F16", NULL};
static const char *const q3_text[] = {"--preset", "tiny-qwen3vl", "--n-embd", "96", "--n-layer", "4", "--n-head", "2",
                                      "--n-head-kv", "1", "--head-dim", "24", "--n-ff", "160", "--n-vocab", "800",
                                      "--rope-sections", "6,3,3", "--n-deepstack", "3", "--tied", NULL};
static const char *const q3_mmproj[] = {"--preset", "tiny-qwen3vl-mmproj", "--v-embd", "48", "--v-layer", "6",
                                        "--v-head", "4", "--v-ff", "96", "--v-proj", "96", "--v-image-size", "192",
                                        "--v-deepstack", "1,3,4", "--type", "F16", NULL};

static void check_family(const char *data, const family *f)
{
    char fix_text[1024], fix_mmproj[1024], config[1024], out[512], out_m[512], what[128];
    snprintf(fix_text, sizeof fix_text, "%s/%s/models/%s-main-text-F32.gguf", data, f->set, f->set);
    snprintf(fix_mmproj, sizeof fix_mmproj, "%s/%s/models/%s-main-mmproj-F32.gguf", data, f->set, f->set);
    snprintf(config, sizeof config, "%s/%s/models/%s-main-config.json", data, f->set, f->set);
    vl_gguf *ft = open_gguf(fix_text), *fm = open_gguf(fix_mmproj);
    REQUIRE(ft && fm, "fixture %s", f->set);
    /* the table itself is right: the fixtures satisfy it */
    snprintf(what, sizeof what, "%s fixture text", f->set);
    check_text_table(ft, what);
    snprintf(what, sizeof what, "%s fixture mmproj", f->set);
    check_mmproj_table(fm, what);

    /* the fixture's shape: identical schema */
    snprintf(out, sizeof out, "%s/%s-text.gguf", tmpdir, f->set);
    snprintf(out_m, sizeof out_m, "%s/%s-mmproj.gguf", tmpdir, f->set);
    char preset_m[64];
    snprintf(preset_m, sizeof preset_m, "%s-mmproj", f->preset);
    const char *a_text[] = {"--preset", f->preset, "--untied", NULL};
    const char *a_mmproj[] = {"--preset", preset_m, NULL};
    REQUIRE(run_gen(out, a_text) == 0 && run_gen(out_m, a_mmproj) == 0, "generator %s", f->preset);
    vl_gguf *gt = open_gguf(out), *gm = open_gguf(out_m);
    REQUIRE(gt && gm, "generated %s", f->preset);
    snprintf(what, sizeof what, "%s text", f->preset);
    compare_keys(gt, ft, 1, what);
    compare_tensors(gt, ft, what);
    compare_vocab(gt, ft, config, what);
    snprintf(what, sizeof what, "%s mmproj", f->preset);
    compare_keys(gm, fm, 1, what);
    compare_tensors(gm, fm, what);
    vl_gguf_close(gt);
    vl_gguf_close(gm);

    /* another shape (tied, F16 mmproj): the same keys, the table's shapes */
    REQUIRE(run_gen(out, f->other_text) == 0 && run_gen(out_m, f->other_mmproj) == 0, "generator %s other", f->preset);
    gt = open_gguf(out), gm = open_gguf(out_m);
    REQUIRE(gt && gm, "generated %s other", f->preset);
    snprintf(what, sizeof what, "%s other text", f->preset);
    compare_keys(gt, ft, 0, what);
    check_text_table(gt, what);
    CHECK(vl_gguf_find_tensor(gt, "output.weight") == NULL, "%s: tied model has output.weight", what);
    snprintf(what, sizeof what, "%s other mmproj", f->preset);
    compare_keys(gm, fm, 0, what);
    check_mmproj_table(gm, what);
    const vl_gguf_tensor *w = vl_gguf_find_tensor(gm, "mm.0.weight");
    CHECK(w && w->type == VL_TYPE_F16, "%s: F16 mmproj weights", what);
    vl_gguf_close(gt);
    vl_gguf_close(gm);
    vl_gguf_close(ft);
    vl_gguf_close(fm);
    unlink(out);
    unlink(out_m);
}

/* ---- 2. load and run ------------------------------------------------------------------- */

/* Logits of a chat prompt (plus, for qwen3vl, rows of random visual
 * embeddings with deepstack features): finite and not constant. */
static void run_forward(const char *path, const char *what, const char *arch, int64_t n_deepstack, int tied,
                        vl_pool *pool)
{
    vl_gguf *g = open_gguf(path);
    if (!g) return;
    vl_llm *m = NULL;
    vl_tokenizer *tok = NULL;
    if (vl_llm_load(g, &m) != VLLM_OK || vl_tokenizer_load(g, &tok) != VLLM_OK) {
        CHECK(0, "%s: %s", what, vllm_last_error());
        vl_llm_free(m);
        vl_gguf_close(g);
        return;
    }
    CHECK(!strcmp(m->hp.arch, arch) && m->hp.n_deepstack == n_deepstack && (m->output.data == m->tok_embd.data) == tied,
          "%s: loaded as %s, deepstack %d, tied %d", what, m->hp.arch, m->hp.n_deepstack,
          m->output.data == m->tok_embd.data);
    static const char prompt[] = "<|im_start|>user\n<|vision_start|>";
    vl_tokens ids = {0};
    REQUIRE(vl_tokenizer_encode(tok, prompt, strlen(prompt), 0, 1, &ids) == VLLM_OK, "%s: tokenize", what);
    /* the specials are one token each; "user\n" is whatever the random merges make of it */
    CHECK(ids.n >= 3 && ids.ids[0] == vl_tokenizer_find(tok, "<|im_start|>", 12) &&
              ids.ids[ids.n - 1] == vl_tokenizer_find(tok, "<|vision_start|>", 16),
          "%s: prompt tokenized to %zu ids", what, ids.n);
    vl_llm_state *s = NULL;
    REQUIRE(vl_llm_state_new(m, 64, VL_KV_F32, &s) == VLLM_OK, "%s: state: %s", what, vllm_last_error());
    CHECK(vl_llm_eval(m, s, pool, ids.ids, NULL, (int64_t)ids.n, 1) == VLLM_OK, "%s: eval: %s", what, vllm_last_error());
    if (n_deepstack > 0) {
        /* two visual rows [main | ds_0 | ds_1 ...] as the mmproj gives them */
        const int64_t E = m->hp.n_embd, stride = E * (1 + n_deepstack);
        float *rows = malloc(sizeof(float) * (size_t)(2 * stride));
        uint64_t st = 5;
        for (int64_t i = 0; i < 2 * stride; i++) {
            st = st * 6364136223846793005ull + 1442695040888963407ull;
            rows[i] = (float)((double)(st >> 11) / 9007199254740992.0 - 0.5) * 0.1f;
        }
        const vl_llm_batch b = {.n = 2, .embd = rows, .embd_stride = stride, .deepstack = rows + E};
        CHECK(vl_llm_eval_batch(m, s, pool, &b, 1) == VLLM_OK, "%s: visual batch: %s", what, vllm_last_error());
        free(rows);
    }
    int64_t n_rows = 0;
    const float *lg = vl_llm_logits(s, &n_rows);
    int finite = lg && n_rows == 1;
    float lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; finite && i < m->hp.n_vocab; i++) {
        finite = isfinite(lg[i]);
        lo = fminf(lo, lg[i]), hi = fmaxf(hi, lg[i]);
    }
    CHECK(finite && hi - lo > 1e-3f, "%s: logits %s (range %g)", what, finite ? "constant" : "not finite", hi - lo);
    vl_llm_state_free(s);
    free(ids.ids);
    vl_tokenizer_free(tok);
    vl_llm_free(m);
    vl_gguf_close(g);
}

static void test_forward(vl_pool *pool)
{
    static const struct {
        const char *arch, *type, *deepstack;
        int tied;
        int64_t want_ds;
    } cases[] = {
        {"qwen2vl", "F32", NULL, 0, 0}, {"qwen2vl", "Q4_K", NULL, 1, 0}, {"qwen3", "Q8_0", NULL, 0, 0},
        {"qwen3", "F16", NULL, 1, 0},   {"qwen3vl", "Q8_0", "2", 1, 2},  {"qwen3vl", "Q4_K", "1", 0, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char out[512], what[96];
        snprintf(out, sizeof out, "%s/fw-%zu.gguf", tmpdir, i);
        snprintf(what, sizeof what, "%s %s %s", cases[i].arch, cases[i].type, cases[i].tied ? "tied" : "untied");
        /* rows of 256 so Q4_K stays Q4_K; head_dim 64 != n_embd / n_head for the Qwen3 kinds */
        const int qwen3 = strncmp(cases[i].arch, "qwen3", 5) == 0;
        const char *args[32] = {"--preset", "tiny", "--arch", cases[i].arch, "--type", cases[i].type, "--n-embd", "256",
                                "--n-head", "8", "--n-head-kv", "2", "--n-ff", "512", "--n-layer", "3", "--n-vocab",
                                "600", cases[i].tied ? "--tied" : "--untied", "--head-dim", qwen3 ? "64" : "32"};
        int n = 21;
        if (cases[i].deepstack) args[n++] = "--n-deepstack", args[n++] = cases[i].deepstack;
        args[n] = NULL;
        REQUIRE(run_gen(out, args) == 0, "generator %s", what);
        vl_gguf *g = open_gguf(out);
        if (g) {
            const vl_gguf_tensor *q = vl_gguf_find_tensor(g, "blk.0.attn_q.weight");
            CHECK(q && q->type == vl_qref_type_from_name(cases[i].type) && q->ne[1] == 8 * (qwen3 ? 64 : 32), "%s: attn_q", what);
            vl_gguf_close(g);
        }
        run_forward(out, what, cases[i].arch, cases[i].want_ds, cases[i].tied, pool);
        unlink(out);
    }
}

/* ---- 3. the real vocabulary ------------------------------------------------------------- */

static void test_real_vocab(vl_pool *pool)
{
    char out[512];
    snprintf(out, sizeof out, "%s/qwen3vl-2b-small.gguf", tmpdir);
    /* Qwen3-VL-2B's vocabulary and special tokens with a small body */
    const char *args[] = {"--preset", "qwen3vl-2b", "--type", "Q8_0", "--n-embd", "64", "--n-layer", "2", "--n-head",
                          "4", "--n-head-kv", "2", "--head-dim", "32", "--n-ff", "64", "--rope-sections", "6,5,5",
                          "--n-deepstack", "2", NULL};
    REQUIRE(run_gen(out, args) == 0, "generator qwen3vl-2b");
    vl_gguf *g = open_gguf(out);
    REQUIRE(g, "qwen3vl-2b small");
    vl_tokenizer *tok = NULL;
    REQUIRE(vl_tokenizer_load(g, &tok) == VLLM_OK, "tokenizer: %s", vllm_last_error());
    CHECK(vl_tokenizer_n_vocab(tok) == 151936, "vocab %d", vl_tokenizer_n_vocab(tok));
    /* ids from Qwen/Qwen3-VL-2B-Instruct's config.json and tokenizer_config.json */
    static const struct { const char *text; int32_t id; } want[] = {
        {"<|endoftext|>", 151643}, {"<|im_start|>", 151644},  {"<|im_end|>", 151645},  {"<|vision_start|>", 151652},
        {"<|vision_end|>", 151653}, {"<|vision_pad|>", 151654}, {"<|image_pad|>", 151655}, {"<|video_pad|>", 151656},
        {"<tool_call>", 151657},   {"<think>", 151667},       {"</think>", 151668}};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        CHECK(vl_tokenizer_find(tok, want[i].text, strlen(want[i].text)) == want[i].id, "%s at %d, want %d",
              want[i].text, vl_tokenizer_find(tok, want[i].text, strlen(want[i].text)), want[i].id);
    CHECK(vl_tokenizer_bos(tok) == 151643 && vl_tokenizer_eos(tok) == 151645 && !vl_tokenizer_add_bos(tok), "bos/eos");
    CHECK(vl_tokenizer_is_eog(tok, 151645) && vl_tokenizer_is_control(tok, 151652), "eog / control");
    static const char prompt[] = "<|vision_start|><|video_pad|><|vision_end|>";
    vl_tokens ids = {0};
    CHECK(vl_tokenizer_encode(tok, prompt, strlen(prompt), 0, 1, &ids) == VLLM_OK && ids.n == 3 &&
              ids.ids[0] == 151652 && ids.ids[1] == 151656 && ids.ids[2] == 151653,
          "vision block tokenized to %zu ids", ids.n);
    free(ids.ids);
    vl_tokenizer_free(tok);
    vl_gguf_close(g);
    run_forward(out, "qwen3vl-2b vocabulary", "qwen3vl", 2, 1, pool);
    unlink(out);
}

/* ---- 4. refusals ------------------------------------------------------------------------- */

static void test_refusals(void)
{
    char out[512];
    snprintf(out, sizeof out, "%s/bad.gguf", tmpdir);
    static const char *const bad[][16] = {
        {"--preset", "tiny-qwen25vl", "--rope-sections", "4,4,4", NULL},      /* 12 pairs > head_dim/2 = 8 */
        {"--preset", "tiny-qwen3vl", "--n-deepstack", "4", NULL},             /* above 3 layers */
        {"--preset", "tiny-qwen3vl-mmproj", "--v-deepstack", "1,4", NULL},    /* layer 4 of 4 */
        {"--preset", "tiny-qwen3vl-mmproj", "--v-deepstack", "2,1", NULL},    /* not increasing */
        {"--preset", "tiny-qwen25vl-mmproj", "--v-wa-pattern", "0", NULL},
        {"--preset", "tiny-qwen25vl-mmproj", "--projector", "qwen9_merger", NULL},
        {"--preset", "tiny-qwen25vl-mmproj", "--v-head", "4", NULL},          /* head dim 8 ok; */
        {"--preset", "tiny-qwen25vl-mmproj", "--v-embd", "24", "--v-head", "4", NULL}, /* head dim 6: no 2-D rope */
        {"--preset", "qwen3-1.7b-mmproj", NULL},                              /* qwen3 has no vision tower */
        {"--preset", "tiny-qwen3vl", "--rope-sections", "1,2", NULL},         /* needs 3 or 4 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int rc = run_gen(out, bad[i]);
        if (i == 6) CHECK(rc == 0, "valid case %zu refused", i);
        else CHECK(rc != 0, "case %zu (%s %s) accepted", i, bad[i][1], bad[i][2] ? bad[i][3] : "");
    }
    unlink(out);
}

TEST_MAIN_BEGIN
    if (argc < 2) TEST_SKIP("usage: test_gen_qwen PATH-TO-videollm-gen-model");
    const char *data = getenv("VIDEOLLM_TEST_DATA");
    if (!data) TEST_SKIP("VIDEOLLM_TEST_DATA not set");
    gen_exe = argv[1];
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(tmpdir, sizeof tmpdir, "%s/vl-genq-XXXXXX", base);
    REQUIRE(mkdtemp(tmpdir) != NULL, "mkdtemp");
    const family fams[] = {{"tiny-qwen25vl", "tiny-qwen25vl", q25_text, q25_mmproj},
                           {"tiny-qwen3vl", "tiny-qwen3vl", q3_text, q3_mmproj}};
    for (size_t i = 0; i < sizeof fams / sizeof *fams; i++) check_family(data, &fams[i]);
    vl_pool *pool = vl_pool_create(2);
    test_forward(pool);
    test_real_vocab(pool);
    vl_pool_free(pool);
    test_refusals();
    rmdir(tmpdir);
TEST_MAIN_END
