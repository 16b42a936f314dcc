/* Tokenizer tests against llama.cpp's own outputs:
 *  - every ggml-vocab-*.gguf with .inp/.out test vectors in $VIDEOLLM_VOCABS
 *    (default $VIDEOLLM_TEST_DATA/vocab) and the tiny SmolVLM2 vocab, with
 *    add_special=0, parse_special=0, plus detokenize(tokenize(s)) == s;
 *  - parse_special=1 prompts whose ids llama.cpp recorded in the tiny
 *    model's reference JSON files;
 *  - malformed tokenizer metadata in GGUFs built here in memory. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/gguf.h"
#include "decoder/tokenizer.h"
#include "fixture_set.h"
#include "harness.h"
#include "json.h"

/* ---- files ------------------------------------------------------------------ */

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            char *nb = realloc(buf, cap * 2 + 1);
            if (!nb) { free(buf); buf = NULL; break; }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) buf[n] = 0;
    *len = n;
    return buf;
}

/* Strict UTF-8 check (the round trip of byte-level BPE holds for it). */
static int valid_utf8(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned c = u[i];
        size_t k = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (!k || i + k > n) return 0;
        uint32_t cp = k == 1 ? c : c & (0x7F >> k);
        for (size_t j = 1; j < k; j++) {
            if ((u[i + j] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (u[i + j] & 0x3F);
        }
        if ((k == 2 && cp < 0x80) || (k == 3 && cp < 0x800) || (k == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += k;
    }
    return 1;
}

static vl_tokenizer *load_tok(const char *path)
{
    vl_gguf *g = NULL;
    vllm_status st = vl_gguf_open(path, 1, &g);
    CHECK(st == VLLM_OK, "open %s: %s", path, vl_error_message());
    if (st != VLLM_OK) return NULL;
    vl_tokenizer *t = NULL;
    st = vl_tokenizer_load(g, &t);
    CHECK(st == VLLM_OK, "tokenizer %s: %s", path, vl_error_message());
    vl_gguf_close(g); /* the tokenizer must not keep pointers into the file */
    return t;
}

/* Concatenated pieces (special = 0), like llama.cpp's detokenize without
 * its clean-up passes. */
static char *detok(const vl_tokenizer *t, const vl_tokens *v, size_t *len)
{
    size_t cap = 64, n = 0;
    char *out = malloc(cap);
    for (size_t i = 0; i < v->n && out; i++) {
        size_t need;
        vllm_status st = vl_tokenizer_piece(t, v->ids[i], 0, out + n, cap - n, &need);
        if (st == VLLM_ERR_BUFFER_TOO_SMALL) {
            while (cap - n < need) cap *= 2;
            char *o = realloc(out, cap);
            if (!o) { free(out); return NULL; }
            out = o;
            st = vl_tokenizer_piece(t, v->ids[i], 0, out + n, cap - n, &need);
        }
        CHECK(st == VLLM_OK, "piece %d: %s", v->ids[i], vl_error_message());
        n += need;
    }
    *len = n;
    return out;
}

static int has_special(const vl_tokenizer *t, const vl_tokens *v)
{
    for (size_t i = 0; i < v->n; i++) {
        char buf[512];
        size_t a, b;
        vl_tokenizer_piece(t, v->ids[i], 0, buf, sizeof buf, &a);
        vl_tokenizer_piece(t, v->ids[i], 1, buf, sizeof buf, &b);
        if (vl_tokenizer_is_control(t, v->ids[i]) || a != b) return 1;
        /* user-defined tokens: their text as a token of its own */
        if (vl_tokenizer_find(t, buf, b) == v->ids[i] && b > 1 && buf[0] == '<') return 1;
    }
    return 0;
}

/* ---- llama.cpp test vectors -------------------------------------------------------- */

static void run_vectors(const char *gguf, const char *inp, const char *outp, int parse_special)
{
    size_t ni, no;
    char *in = slurp(inp, &ni), *out = slurp(outp, &no);
    vl_tokenizer *t = in && out ? load_tok(gguf) : NULL;
    if (!t) {
        CHECK(0, "cannot run vectors for %s", gguf);
        free(in);
        free(out);
        return;
    }
    const char *sep = "\n__ggml_vocab_test__\n";
    size_t seplen = strlen(sep);
    int spm = strcmp(vl_tokenizer_model(t), "llama") == 0;
    int total = 0, pass = 0, rt_total = 0, rt_pass = 0;
    char *ip = in, *op = out;
    char *iend = in + ni;
    while (ip < iend && *op) {
        char *s = memmem(ip, (size_t)(iend - ip), sep, seplen);
        size_t slen = s ? (size_t)(s - ip) : (size_t)(iend - ip);
        char *eol = strchr(op, '\n');
        if (eol) *eol = 0;
        /* expected ids */
        vl_tokens want = { 0, 0, 0 }, got = { 0, 0, 0 };
        for (char *q = op; *q;) {
            char *e;
            long v = strtol(q, &e, 10);
            if (e == q) break;
            want.ids = realloc(want.ids, (want.n + 1) * sizeof *want.ids);
            want.ids[want.n++] = (int32_t)v;
            q = e;
        }
        vllm_status st = vl_tokenizer_encode(t, ip, slen, 0, parse_special, &got);
        int ok = st == VLLM_OK && got.n == want.n && (!got.n || !memcmp(got.ids, want.ids, got.n * sizeof *got.ids));
        total++;
        pass += ok;
        if (!ok) {
            fprintf(stderr, "  %s case %d (parse_special=%d): text '%.*s'\n    want:", gguf, total, parse_special,
                    (int)(slen > 80 ? 80 : slen), ip);
            for (size_t i = 0; i < want.n; i++) fprintf(stderr, " %d", want.ids[i]);
            fprintf(stderr, "\n    got: ");
            for (size_t i = 0; i < got.n; i++) fprintf(stderr, " %d", got.ids[i]);
            fprintf(stderr, "\n");
        }
        CHECK(ok, "%s: case %d differs from llama.cpp", gguf, total);
        /* round trip: byte-level BPE reproduces any valid UTF-8 text; SPM
         * adds one space in front of every raw fragment that starts the
         * text or follows a special token, which llama.cpp's detokenizer
         * removes only at the very start, so compare when no special
         * token was matched (removing that one leading space) */
        if (ok && valid_utf8(ip, slen) && !(spm && has_special(t, &got)) && !(parse_special && has_special(t, &got))) {
            size_t dl;
            char *d = detok(t, &got, &dl);
            char *dd = d;
            if (spm && dl > 0 && d[0] == ' ') dd++, dl--;
            int rt = d && dl == slen && memcmp(dd, ip, slen) == 0;
            rt_total++;
            rt_pass += rt;
            CHECK(rt, "%s: case %d does not round-trip: '%.*s'", gguf, total, (int)(dl > 80 ? 80 : dl), dd);
            free(d);
        }
        free(want.ids);
        free(got.ids);
        ip += slen + (s ? seplen : 0);
        op = eol ? eol + 1 : op + strlen(op);
        if (!s) break;
    }
    const char *base = strrchr(gguf, '/');
    printf("vocab %-40s %s/%s parse_special=%d: %d/%d cases match llama.cpp, %d/%d round-trip\n", base ? base + 1 : gguf,
           vl_tokenizer_model(t), vl_tokenizer_pre(t), parse_special, pass, total, rt_pass, rt_total);
    CHECK(total > 0, "%s: no cases", inp);
    vl_tokenizer_free(t);
    free(in);
    free(out);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int run_vocab_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    char *names[256];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 256) {
        size_t l = strlen(e->d_name);
        if (l > 5 && !strcmp(e->d_name + l - 5, ".gguf")) names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    int ran = 0;
    for (int i = 0; i < n; i++) {
        char g[4096], in[4200], out[4200];
        if ((size_t)snprintf(g, sizeof g, "%s/%.255s", dir, names[i]) >= sizeof g) continue;
        snprintf(in, sizeof in, "%s.inp", g);
        snprintf(out, sizeof out, "%s.out", g);
        FILE *a = fopen(in, "rb"), *b = fopen(out, "rb");
        if (a && b) {
            run_vectors(g, in, out, 0);
            ran++;
        }
        if (a) fclose(a);
        if (b) fclose(b);
        free(names[i]);
    }
    return ran;
}

/* ---- reference prompts with parse_special = 1 ---------------------------------------- */

/* The ids of a JSON array; NULL (n = 0) when it is not one. */
static int32_t *json_ids(const json *arr, size_t *n)
{
    *n = 0;
    if (!arr || arr->type != JV_ARR) return NULL;
    int32_t *ids = malloc((arr->n + 1) * sizeof *ids);
    for (size_t i = 0; ids && i < arr->n; i++) ids[i] = (int32_t)json_num(json_at(arr, i), -1);
    *n = ids ? arr->n : 0;
    return ids;
}

/* `cut` > 0: llama.cpp tokenized text[0..cut) and text[cut..) separately
 * (mtmd adds some texts as pieces of their own) and concatenated the ids. */
static int check_special_prompt_cut(const vl_tokenizer *t, const char *text, size_t len, size_t cut,
                                    const int32_t *want, size_t nw, const char *what)
{
    vl_tokens got = { 0, 0, 0 };
    vllm_status st = vl_tokenizer_encode(t, text, cut, 0, 1, &got);
    if (st == VLLM_OK) st = vl_tokenizer_encode(t, text + cut, len - cut, 0, 1, &got);
    int ok = st == VLLM_OK && got.n == nw && (!nw || !memcmp(got.ids, want, nw * sizeof *want));
    CHECK(ok, "%s: parse_special tokenization of '%.*s' differs from llama.cpp (%zu vs %zu ids)", what,
          (int)(len > 60 ? 60 : len), text, got.n, nw);
    free(got.ids);
    return ok;
}

static int check_special_prompt(const vl_tokenizer *t, const char *text, size_t len, const int32_t *want, size_t nw,
                                const char *what)
{
    return check_special_prompt_cut(t, text, len, 0, want, nw, what);
}

/* Every text chunk ({"type": "text", "token_ids": [...], "text": "..."})
 * of an mtmd info file. A missing file is skipped (not every set has
 * image and video references). */
static void check_chunks(const vl_tokenizer *t, const char *path)
{
    json *doc = json_load(path);
    if (!doc) {
        printf("reference chunks %s: not present, skipped\n", path);
        return;
    }
    const json *chunks = json_get(doc, "chunks");
    int cases = 0, ok = 0;
    for (size_t i = 0; chunks && i < chunks->n; i++) {
        const json *c = json_at(chunks, i);
        const char *text = json_str(json_get(c, "text"), NULL);
        size_t nw;
        int32_t *ids = json_ids(json_get(c, "token_ids"), &nw);
        if (text && ids) {
            size_t tl = strlen(text);
            /* mtmd's video path adds "Video:" as a text piece of its own
             * (tiny-smolvlm2/README.md, section 2), after the user-turn prefix */
            const char *vid = strstr(text, "Video:");
            size_t cutat = vid ? (size_t)(vid - text) : 0;
            cases++;
            ok += check_special_prompt_cut(t, text, tl, cutat, ids, nw, path);
        }
        free(ids);
    }
    printf("reference chunks %s: %d/%d match llama.cpp (parse_special=1)\n", path + (strlen(path) > 40 ? strlen(path) - 40 : 0), ok, cases);
    CHECK(cases > 0, "no text chunks in %s", path);
    json_free(doc);
}

/* The fixed sequence of ref/text/F32_ref_seq.json with parse_special = 1,
 * and with parse_special = 0, where CONTROL tokens are not matched and the
 * text stays text and round-trips. */
static void check_ref_sequence(const vl_tokenizer *t, const char *set)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/ref/text/F32_ref_seq.json", set);
    json *doc = json_load(path);
    CHECK(doc != NULL, "missing or invalid %s", path);
    if (!doc) return;
    const char *prompt = json_str(json_get(doc, "prompt"), NULL);
    size_t nw;
    int32_t *want = json_ids(json_get(doc, "token_ids"), &nw);
    CHECK(prompt && want && nw > 0, "%s: no prompt/token_ids", path);
    if (prompt && want) {
        const size_t pl = strlen(prompt);
        check_special_prompt(t, prompt, pl, want, nw, path);
        vl_tokens v = { 0, 0, 0 };
        CHECK(vl_tokenizer_encode(t, prompt, pl, 0, 0, &v) == VLLM_OK, "encode");
        int ctl = 0;
        for (size_t i = 0; i < v.n; i++) ctl |= vl_tokenizer_is_control(t, v.ids[i]);
        CHECK(!ctl, "parse_special=0 produced a CONTROL token");
        size_t dl;
        char *d = detok(t, &v, &dl);
        CHECK(d && dl == pl && !memcmp(d, prompt, pl), "parse_special=0 text does not round-trip");
        free(d);
        free(v.ids);
    }
    free(want);
    json_free(doc);
}

/* Everything a fixture set's references say about its tokenizer: the
 * test-tokenizer-0 vectors without (tiny-vocab) and with (tiny-vocab-special)
 * special-token parsing, the fixed sequence and every text chunk of the
 * image and video prompts. Files are found by pattern, so any set of the
 * same layout works. Returns the tokenizer for set-specific checks. */
static vl_tokenizer *test_fixture_set(const char *set)
{
    char g[8400], in[4200], out[4200];
    if (!fx_find_model(set, "-text-F32.gguf", g, sizeof g)) {
        CHECK(0, "no models/*-text-F32.gguf in %s", set);
        return NULL;
    }
    snprintf(in, sizeof in, "%s/ref/tokenizer/tiny-vocab.inp", set);
    snprintf(out, sizeof out, "%s/ref/tokenizer/tiny-vocab.out", set);
    run_vectors(g, in, out, 0);
    snprintf(in, sizeof in, "%s/ref/tokenizer/tiny-vocab-special.inp", set);
    snprintf(out, sizeof out, "%s/ref/tokenizer/tiny-vocab-special.out", set);
    FILE *f = fopen(out, "rb");
    if (f) {
        fclose(f);
        run_vectors(g, in, out, 1);
    }
    vl_tokenizer *t = load_tok(g);
    if (!t) return NULL;
    check_ref_sequence(t, set);
    snprintf(in, sizeof in, "%s/ref/image/F32_ref_info.json", set);
    check_chunks(t, in);
    snprintf(in, sizeof in, "%s/ref/video/F32_ref_info.json", set);
    check_chunks(t, in);
    return t;
}

/* Every entry of the set config's special_token_ids is that token's id
 * (keys naming a token by description, such as "\\n (...)", are skipped). */
static void check_special_ids(const vl_tokenizer *t, const char *set)
{
    char path[8400];
    if (!fx_find_model(set, "-config.json", path, sizeof path)) {
        printf("  no models/*-config.json, special ids not checked\n");
        return;
    }
    json *doc = json_load(path);
    CHECK(doc != NULL, "invalid %s", path);
    const json *ids = json_get(doc, "special_token_ids");
    int n = 0;
    for (size_t i = 0; ids && i < ids->n; i++) {
        const json *e = json_at(ids, i);
        if (strchr(e->key, ' ')) continue;
        const int32_t want = (int32_t)json_num(e, -1);
        const int32_t got = vl_tokenizer_find(t, e->key, strlen(e->key));
        CHECK(got == want, "%s: token '%s' has id %d, the config says %d", path, e->key, got, want);
        n++;
    }
    printf("  %d special token ids as in the set's config\n", n);
    CHECK(n > 0, "%s: no special_token_ids", path);
    json_free(doc);
}

/* SmolVLM2-specific expectations (tiny-smolvlm2/README.md 1.2). */
static void test_smolvlm2_specials(vl_tokenizer *t)
{
    /* README 1.2: EOG = {4096, 4136, 4138}; bos 4137 / eos 4136; no BOS added */
    for (int32_t id = 0; id < vl_tokenizer_n_vocab(t); id++) {
        int want = id == 4096 || id == 4136 || id == 4138;
        CHECK(vl_tokenizer_is_eog(t, id) == want, "is_eog(%d) = %d", id, vl_tokenizer_is_eog(t, id));
    }
    CHECK(vl_tokenizer_bos(t) == 4137 && vl_tokenizer_eos(t) == 4136, "bos %d eos %d", vl_tokenizer_bos(t),
          vl_tokenizer_eos(t));
    CHECK(!vl_tokenizer_add_bos(t), "add_bos must be false");
    CHECK(vl_tokenizer_n_vocab(t) == 4139, "n_vocab %d", vl_tokenizer_n_vocab(t));
    CHECK(!strcmp(vl_tokenizer_model(t), "gpt2") && !strcmp(vl_tokenizer_pre(t), "gpt-2"), "model/pre");
    CHECK(vl_tokenizer_find(t, "<global-img>", 12) == 4099, "find <global-img>");
    CHECK(vl_tokenizer_find(t, "\xc4\x8a\xc4\x8a", 4) == 628, "find ĊĊ");
    CHECK(vl_tokenizer_find(t, "no such token", 13) == -1, "find absent");
    CHECK(vl_tokenizer_is_control(t, 4137) && !vl_tokenizer_is_control(t, 4099), "control flags");

    /* pieces: CONTROL empty unless special, USER_DEFINED always its text */
    char buf[64];
    size_t len = 99;
    CHECK(vl_tokenizer_piece(t, 4136, 0, buf, sizeof buf, &len) == VLLM_OK && len == 0, "control piece not empty");
    CHECK(vl_tokenizer_piece(t, 4136, 1, buf, sizeof buf, &len) == VLLM_OK && len == 18 &&
              !memcmp(buf, "<end_of_utterance>", 18), "special piece");
    CHECK(vl_tokenizer_piece(t, 4099, 0, buf, sizeof buf, &len) == VLLM_OK && len == 12 &&
              !memcmp(buf, "<global-img>", 12), "user-defined piece");
    CHECK(vl_tokenizer_piece(t, 628, 0, buf, sizeof buf, &len) == VLLM_OK && len == 2 && !memcmp(buf, "\n\n", 2),
          "byte-level piece of 628");
    CHECK(vl_tokenizer_piece(t, 4136, 1, buf, 4, &len) == VLLM_ERR_BUFFER_TOO_SMALL && len == 18, "too small");
    CHECK(vl_tokenizer_piece(t, 4139, 0, buf, sizeof buf, &len) == VLLM_ERR_INVALID_ARG, "id == n_vocab");
    CHECK(vl_tokenizer_piece(t, -1, 0, buf, sizeof buf, &len) == VLLM_ERR_INVALID_ARG, "negative id");

    /* encode appends, and leaves the list untouched on error */
    vl_tokens v = { 0, 0, 0 };
    CHECK(vl_tokenizer_encode(t, "a", 1, 1, 0, &v) == VLLM_OK && v.n == 1, "encode a");
    CHECK(vl_tokenizer_encode(t, "a", 1, 1, 0, &v) == VLLM_OK && v.n == 2 && v.ids[1] == v.ids[0], "append");
    CHECK(vl_tokenizer_encode(t, NULL, 5, 0, 0, &v) == VLLM_ERR_INVALID_ARG && v.n == 2, "NULL text");
    free(v.ids);
    vl_tokenizer_free(t);
}

/* ---- malformed metadata ------------------------------------------------------------------- */

typedef struct gbuf {
    unsigned char *p;
    size_t n, cap;
    uint64_t nkv;
} gbuf;

static void put(gbuf *b, const void *d, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void put_u32(gbuf *b, uint32_t v) { put(b, &v, 4); }
static void put_u64(gbuf *b, uint64_t v) { put(b, &v, 8); }
static void put_s(gbuf *b, const char *s) { put_u64(b, strlen(s)); put(b, s, strlen(s)); }
static void kv_str(gbuf *b, const char *k, const char *v) { put_s(b, k); put_u32(b, 8); put_s(b, v); b->nkv++; }
static void kv_u32(gbuf *b, const char *k, uint32_t v) { put_s(b, k); put_u32(b, 4); put_u32(b, v); b->nkv++; }
static void kv_bool(gbuf *b, const char *k, int v) { unsigned char c = (unsigned char)v; put_s(b, k); put_u32(b, 7); put(b, &c, 1); b->nkv++; }
static void kv_strs(gbuf *b, const char *k, const char *const *v, size_t n)
{
    put_s(b, k); put_u32(b, 9); put_u32(b, 8); put_u64(b, n);
    for (size_t i = 0; i < n; i++) put_s(b, v[i]);
    b->nkv++;
}
static void kv_arr32(gbuf *b, const char *k, uint32_t type, const void *v, size_t n)
{
    put_s(b, k); put_u32(b, 9); put_u32(b, type); put_u64(b, n); put(b, v, n * 4);
    b->nkv++;
}

/* Header + the collected key-values; no tensors. */
static unsigned char *finish(gbuf *kvs, size_t *size)
{
    gbuf f = { 0, 0, 0, 0 };
    put(&f, "GGUF", 4);
    put_u32(&f, 3);
    put_u64(&f, 0);
    put_u64(&f, kvs->nkv);
    put(&f, kvs->p, kvs->n);
    free(kvs->p);
    *size = f.n;
    return f.p;
}

enum { F_MODEL = 1, F_PRE = 2, F_TOKENS = 4, F_TYPES = 8, F_MERGES = 16, F_BOS = 32 };

static const char *const k_toks[] = { "a", "b", "ab", "<s>" };
static const int32_t k_types[] = { 1, 1, 1, 3 };

/* A 4-token byte-level vocab ("a", "b", "ab" from merge "a b", control
 * "<s>"); `omit` drops parts, the rest replace them with bad values. */
static vllm_status try_load(int omit, const char *model, const char *pre, const char *const *merges, size_t nmerges,
                            const void *types, uint32_t types_type, size_t ntypes, uint32_t bos, int dup,
                            vl_tokenizer **out)
{
    gbuf b = { 0, 0, 0, 0 };
    const char *const dup_toks[] = { "a", "b", "ab", "a" };
    if (!(omit & F_MODEL)) kv_str(&b, "tokenizer.ggml.model", model);
    if (!(omit & F_PRE)) kv_str(&b, "tokenizer.ggml.pre", pre);
    if (!(omit & F_TOKENS)) kv_strs(&b, "tokenizer.ggml.tokens", dup ? dup_toks : k_toks, 4);
    if (!(omit & F_TYPES)) kv_arr32(&b, "tokenizer.ggml.token_type", types_type, types, ntypes);
    if (!(omit & F_MERGES)) kv_strs(&b, "tokenizer.ggml.merges", merges, nmerges);
    if (!(omit & F_BOS)) kv_u32(&b, "tokenizer.ggml.bos_token_id", bos);
    kv_bool(&b, "tokenizer.ggml.add_bos_token", 1);
    size_t size;
    unsigned char *file = finish(&b, &size);
    vl_gguf *g = NULL;
    vllm_status st = vl_gguf_open_memory(file, size, &g);
    CHECK(st == VLLM_OK, "synthetic GGUF does not parse: %s", vl_error_message());
    *out = NULL;
    if (st == VLLM_OK) st = vl_tokenizer_load(g, out);
    vl_gguf_close(g);
    free(file);
    return st;
}

static void expect_error(vllm_status want, const char *needle, vllm_status got, vl_tokenizer *t, const char *what)
{
    CHECK(got == want, "%s: status %d, want %d (%s)", what, got, want, vl_error_message());
    CHECK(strstr(vl_error_message(), needle) != NULL, "%s: message '%s' does not name '%s'", what,
          vl_error_message(), needle);
    CHECK(t == NULL, "%s: a tokenizer was returned on error", what);
    vl_tokenizer_free(t);
}

static void test_malformed(void)
{
    const char *good_merges[] = { "a b" };
    float ftypes[4] = { 1, 1, 1, 3 };
    vl_tokenizer *t;
    vllm_status st;

    /* the well-formed base case works, and independently: "ab" merges,
     * "ba" does not, "<s>" is BOS and is added */
    st = try_load(0, "gpt2", "gpt-2", good_merges, 1, k_types, 5, 4, 3, 0, &t);
    CHECK(st == VLLM_OK, "base vocab: %s", vl_error_message());
    if (t) {
        vl_tokens v = { 0, 0, 0 };
        CHECK(vl_tokenizer_encode(t, "abba", 4, 1, 0, &v) == VLLM_OK, "encode");
        int32_t want[] = { 3, 2, 1, 0 };
        CHECK(v.n == 4 && !memcmp(v.ids, want, sizeof want), "abba -> %zu ids", v.n);
        free(v.ids);
        vl_tokenizer_free(t);
    }

    /* every supported pre-tokenizer keeps a plain ASCII word whole, so the
     * merge result is the same for all of them */
    static const char *const pres[] = { "default", "gpt-2", "mpt", "llama3", "llama-bpe", "qwen2", "smollm",
                                        "starcoder", "refact", "falcon", "deepseek-llm", "deepseek-coder", "dbrx" };
    for (size_t i = 0; i < sizeof pres / sizeof *pres; i++) {
        st = try_load(0, "gpt2", pres[i], good_merges, 1, k_types, 5, 4, 3, 0, &t);
        CHECK(st == VLLM_OK, "pre %s: %s", pres[i], vl_error_message());
        if (!t) continue;
        vl_tokens v = { 0, 0, 0 };
        int32_t want[] = { 3, 2, 1, 0 };
        CHECK(vl_tokenizer_encode(t, "abba", 4, 1, 0, &v) == VLLM_OK && v.n == 4 && !memcmp(v.ids, want, sizeof want),
              "pre %s: abba", pres[i]);
        CHECK(!strcmp(vl_tokenizer_pre(t), pres[i]), "pre name %s", vl_tokenizer_pre(t));
        free(v.ids);
        vl_tokenizer_free(t);
    }

    st = try_load(F_TOKENS, "gpt2", "gpt-2", good_merges, 1, k_types, 5, 4, 3, 0, &t);
    expect_error(VLLM_ERR_FORMAT, "tokenizer.ggml.tokens", st, t, "missing tokens");
    st = try_load(F_MODEL, "gpt2", "gpt-2", good_merges, 1, k_types, 5, 4, 3, 0, &t);
    expect_error(VLLM_ERR_FORMAT, "tokenizer.ggml.model", st, t, "missing model");
    st = try_load(0, "bert-ish", "gpt-2", good_merges, 1, k_types, 5, 4, 3, 0, &t);
    expect_error(VLLM_ERR_UNSUPPORTED, "bert-ish", st, t, "unknown model");
    st = try_load(0, "gpt2", "no-such-pre", good_merges, 1, k_types, 5, 4, 3, 0, &t);
    expect_error(VLLM_ERR_UNSUPPORTED, "no-such-pre", st, t, "unknown pre");
    st = try_load(0, "gpt2", "gpt-2", good_merges, 1, k_types, 5, 3, 3, 0, &t);
    expect_error(VLLM_ERR_FORMAT, "token_type", st, t, "short token_type");
    st = try_load(0, "gpt2", "gpt-2", good_merges, 1, ftypes, 6, 4, 3, 0, &t);
    expect_error(VLLM_ERR_FORMAT, "token_type", st, t, "float token_type");
    st = try_load(F_MERGES, "gpt2", "gpt-2", good_merges, 1, k_types, 5, 4, 3, 0, &t);
    expect_error(VLLM_ERR_FORMAT, "tokenizer.ggml.merges", st, t, "missing merges");
    const char *unk_merge[] = { "a b", "a c" };
    st = try_load(0, "gpt2", "gpt-2", unk_merge, 2, k_types, 5, 4, 3, 0, &t);
    expect_error(VLLM_ERR_FORMAT, "a c", st, t, "merge of an unknown token");
    const char *bad_merge[] = { "ab" };
    st = try_load(0, "gpt2", "gpt-2", bad_merge, 1, k_types, 5, 4, 3, 0, &t);
    expect_error(VLLM_ERR_FORMAT, "merge 0", st, t, "merge without a space");
    st = try_load(0, "gpt2", "gpt-2", good_merges, 1, k_types, 5, 4, 4, 0, &t);
    expect_error(VLLM_ERR_FORMAT, "bos_token_id", st, t, "bos == n_vocab");
    st = try_load(0, "gpt2", "gpt-2", good_merges, 1, k_types, 5, 4, 3, 1, &t);
    expect_error(VLLM_ERR_FORMAT, "duplicate", st, t, "duplicate token");
    /* add_bos_token = true but no BOS: default id 11 is outside 4 tokens */
    st = try_load(F_BOS, "gpt2", "gpt-2", good_merges, 1, k_types, 5, 4, 0, 0, &t);
    expect_error(VLLM_ERR_FORMAT, "BOS", st, t, "add_bos without bos");

    /* SPM: scores of the wrong length / type */
    {
        gbuf b = { 0, 0, 0, 0 };
        const char *toks[] = { "<unk>", "<s>", "</s>" };
        float sc[2] = { 0, 0 };
        kv_str(&b, "tokenizer.ggml.model", "llama");
        kv_strs(&b, "tokenizer.ggml.tokens", toks, 3);
        kv_arr32(&b, "tokenizer.ggml.scores", 6, sc, 2);
        size_t size;
        unsigned char *file = finish(&b, &size);
        vl_gguf *g = NULL;
        CHECK(vl_gguf_open_memory(file, size, &g) == VLLM_OK, "spm gguf");
        t = NULL;
        st = vl_tokenizer_load(g, &t);
        expect_error(VLLM_ERR_FORMAT, "scores", st, t, "short scores");
        vl_gguf_close(g);
        free(file);
    }
}

TEST_MAIN_BEGIN
    const char *data = getenv("VIDEOLLM_TEST_DATA");
    if (!data) TEST_SKIP("VIDEOLLM_TEST_DATA not set");
    char dir[4096];
    const char *vocabs = getenv("VIDEOLLM_VOCABS");
    if (!vocabs) {
        snprintf(dir, sizeof dir, "%s/vocab", data);
        vocabs = dir;
    }
    int ran = run_vocab_dir(vocabs);
    CHECK(ran > 0, "no vocab test vectors found in %s", vocabs);

    /* the fixture sets: $VIDEOLLM_FIXTURES alone, or every set shipped in tests/data */
    static const char *const names[] = {"tiny-smolvlm2", "tiny-qwen25vl", "tiny-qwen3vl"};
    char sets[FX_MAX_SETS][FX_SET_PATH];
    const size_t n_sets = fx_sets(names, sizeof names / sizeof *names, sets);
    for (size_t i = 0; i < n_sets; i++) {
        const char *set = sets[i];
        printf("fixture set %s\n", set);
        vl_tokenizer *t = test_fixture_set(set);
        if (!t) continue;
        check_special_ids(t, set);
        if (vl_tokenizer_find(t, "<end_of_utterance>", 18) >= 0) test_smolvlm2_specials(t); /* frees t */
        else vl_tokenizer_free(t);
    }
    test_malformed();
TEST_MAIN_END
