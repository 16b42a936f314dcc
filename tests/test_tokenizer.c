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
#include "harness.h"

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

static void run_vectors(const char *gguf, const char *inp, const char *outp)
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
        vllm_status st = vl_tokenizer_encode(t, ip, slen, 0, 0, &got);
        int ok = st == VLLM_OK && got.n == want.n && (!got.n || !memcmp(got.ids, want.ids, got.n * sizeof *got.ids));
        total++;
        pass += ok;
        if (!ok) {
            fprintf(stderr, "  %s case %d: text '%.*s'\n    want:", gguf, total, (int)(slen > 80 ? 80 : slen), ip);
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
        if (ok && valid_utf8(ip, slen) && !(spm && has_special(t, &got))) {
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
    printf("vocab %-40s %s/%s: %d/%d cases match llama.cpp, %d/%d round-trip\n", base ? base + 1 : gguf,
           vl_tokenizer_model(t), vl_tokenizer_pre(t), pass, total, rt_pass, rt_total);
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
            run_vectors(g, in, out);
            ran++;
        }
        if (a) fclose(a);
        if (b) fclose(b);
        free(names[i]);
    }
    return ran;
}

/* ---- reference prompts with parse_special = 1 ---------------------------------------- */

/* Parse the JSON string starting at the opening quote; returns malloc'ed bytes. */
static char *json_string(const char *p, const char **end, size_t *len)
{
    size_t cap = strlen(p) + 1, n = 0;
    char *o = malloc(cap);
    p++;
    while (*p && *p != '"') {
        if (*p != '\\') { o[n++] = *p++; continue; }
        p++;
        char c = *p++;
        switch (c) {
        case 'n': o[n++] = '\n'; break;
        case 't': o[n++] = '\t'; break;
        case 'r': o[n++] = '\r'; break;
        case 'b': o[n++] = '\b'; break;
        case 'f': o[n++] = '\f'; break;
        case 'u': {
            unsigned cp = (unsigned)strtoul((char[5]){ p[0], p[1], p[2], p[3], 0 }, NULL, 16);
            p += 4;
            if (cp >= 0xD800 && cp < 0xDC00 && p[0] == '\\' && p[1] == 'u') {
                unsigned lo = (unsigned)strtoul((char[5]){ p[2], p[3], p[4], p[5], 0 }, NULL, 16);
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                p += 6;
            }
            if (cp < 0x80) o[n++] = (char)cp;
            else if (cp < 0x800) { o[n++] = (char)(0xC0 | cp >> 6); o[n++] = (char)(0x80 | (cp & 63)); }
            else if (cp < 0x10000) {
                o[n++] = (char)(0xE0 | cp >> 12); o[n++] = (char)(0x80 | ((cp >> 6) & 63)); o[n++] = (char)(0x80 | (cp & 63));
            } else {
                o[n++] = (char)(0xF0 | cp >> 18); o[n++] = (char)(0x80 | ((cp >> 12) & 63));
                o[n++] = (char)(0x80 | ((cp >> 6) & 63)); o[n++] = (char)(0x80 | (cp & 63));
            }
            break;
        }
        default: o[n++] = c; break;
        }
    }
    *end = *p ? p + 1 : p;
    *len = n;
    return o;
}

static size_t json_ints(const char *p, int32_t *ids, size_t cap)
{
    size_t n = 0;
    p = strchr(p, '[');
    if (!p) return 0;
    p++;
    while (*p && *p != ']' && n < cap) {
        char *e;
        long v = strtol(p, &e, 10);
        if (e == p) { p++; continue; }
        ids[n++] = (int32_t)v;
        p = e;
    }
    return n;
}

/* `cut` > 0: llama.cpp tokenized text[0..cut) and text[cut..) separately
 * (mtmd adds some texts as pieces of their own) and concatenated the ids. */
static int check_special_prompt_cut(const vl_tokenizer *t, const char *text, size_t len, size_t cut,
                                    const int32_t *want, size_t nw, const char *what)
{
    vl_tokens got = { 0, 0, 0 };
    vllm_status st = vl_tokenizer_encode(t, text, cut, 0, 1, &got);
    if (st == VLLM_OK) st = vl_tokenizer_encode(t, text + cut, len - cut, 0, 1, &got);
    int ok = st == VLLM_OK && got.n == nw && !memcmp(got.ids, want, nw * sizeof *want);
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

/* Every {"token_ids": [...], "text": "..."} chunk of an mtmd info file. */
static void check_chunks(const vl_tokenizer *t, const char *path)
{
    size_t n;
    char *doc = slurp(path, &n);
    if (!doc) {
        CHECK(0, "missing %s", path);
        return;
    }
    int cases = 0, ok = 0;
    static int32_t ids[4096];
    for (const char *p = strstr(doc, "\"token_ids\""); p; p = strstr(p + 1, "\"token_ids\"")) {
        const char *obj_end = strchr(p, '}');
        const char *tx = strstr(p, "\"text\"");
        if (!tx || (obj_end && tx > obj_end)) continue;
        size_t nw = json_ints(p, ids, 4096);
        tx = strchr(tx + 6, '"');
        const char *e;
        size_t tl;
        char *text = json_string(tx, &e, &tl);
        /* mtmd's video path adds "Video:" as a text piece of its own
         * (tiny-smolvlm2/README.md, section 2), after the user-turn prefix */
        const char *vid = memmem(text, tl, "Video:", 6);
        size_t cutat = vid ? (size_t)(vid - text) : 0;
        cases++;
        ok += check_special_prompt_cut(t, text, tl, cutat, ids, nw, path);
        free(text);
    }
    printf("reference chunks %s: %d/%d match llama.cpp (parse_special=1)\n", path + (strlen(path) > 40 ? strlen(path) - 40 : 0), ok, cases);
    CHECK(cases > 0, "no text chunks in %s", path);
    free(doc);
}

static void test_tiny_specials(const char *data)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tiny-smolvlm2/models/tiny-smolvlm2-main-text-F32.gguf", data);
    vl_tokenizer *t = load_tok(path);
    if (!t) return;

    /* the 16-token sequence of ref/text/F32_ref_seq.json */
    snprintf(path, sizeof path, "%s/tiny-smolvlm2/ref/text/F32_ref_seq.json", data);
    size_t n;
    char *doc = slurp(path, &n);
    CHECK(doc != NULL, "missing %s", path);
    if (doc) {
        const char *pp = strstr(doc, "\"prompt\"");
        const char *ti = strstr(doc, "\"token_ids\"");
        CHECK(pp && ti, "%s: no prompt/token_ids", path);
        if (pp && ti) {
            const char *e;
            size_t pl;
            char *prompt = json_string(strchr(pp + 8, '"'), &e, &pl);
            int32_t want[256];
            size_t nw = json_ints(ti, want, 256);
            CHECK(nw == 16, "expected the 16-token reference sequence, got %zu", nw);
            check_special_prompt(t, prompt, pl, want, nw, "F32_ref_seq.json");
            /* parse_special = 0: CONTROL tokens are not matched, the text
             * stays text and still round-trips */
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
            free(prompt);
        }
        free(doc);
    }
    snprintf(path, sizeof path, "%s/tiny-smolvlm2/ref/image/F32_ref_info.json", data);
    check_chunks(t, path);
    snprintf(path, sizeof path, "%s/tiny-smolvlm2/ref/video/F32_ref_info.json", data);
    check_chunks(t, path);

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

    char g[4096], in[4096], out[4096];
    snprintf(g, sizeof g, "%s/tiny-smolvlm2/models/tiny-smolvlm2-main-text-F32.gguf", data);
    snprintf(in, sizeof in, "%s/tiny-smolvlm2/ref/tokenizer/tiny-vocab.inp", data);
    snprintf(out, sizeof out, "%s/tiny-smolvlm2/ref/tokenizer/tiny-vocab.out", data);
    run_vectors(g, in, out);

    test_tiny_specials(data);
    test_malformed();
TEST_MAIN_END
