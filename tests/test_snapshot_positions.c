/* Snapshots keep every row's positions. Under M-RoPE (Qwen2.5-VL,
 * Qwen3-VL) visual rows carry explicit (t, h, w, e) positions and text
 * continues at 1 + the largest position so far, so a snapshot that
 * restored rows as 1-D text positions would continue the conversation at
 * the wrong place. Here a context of text and two visual blocks (evaluated
 * with explicit positions, as a video's temporal patches are, each an
 * evictable frame span) is saved and loaded into a fresh session: every
 * row's positions, the next position, the spans and the logits of the
 * next token must equal the never-saved session's, also after evicting a
 * frame. Damaged snapshots and snapshots of another family are clean
 * errors that leave the session as it was; a version-3 snapshot written by
 * the old code (committed in tests/snapshots/, see its README) still loads.
 *
 *   test_snapshot_positions SNAPSHOT_DIR         run (fixture set: $VIDEOLLM_FIXTURES)
 *   test_snapshot_positions --write-text PATH    write the text-only snapshot
 *                                                 the old-format check loads
 *   test_snapshot_positions --write-context PATH the text + visual blocks one
 *                                                 (F16 KV; a fuzz seed) */
#define VLLM_EXPERIMENTAL
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>

#include "fixture_set.h"
#include "harness.h"
#include "session/session_internal.h"

enum { TEXT_N = 20 }; /* tokens of the old-format snapshot */

static vllm_model *load_model(const char *path, int compat)
{
    vllm_model_params mp = vllm_model_default_params();
    mp.llamacpp_compat = compat;
    vllm_model *m = NULL;
    REQUIRE(vllm_model_load(path, &mp, &m) == VLLM_OK, "%s: %s", path, vllm_last_error());
    return m;
}

static vllm_session *new_session(vllm_model *m, vllm_kv_type kv)
{
    vllm_session_params sp = vllm_session_default_params();
    sp.n_ctx = 128;
    sp.n_threads = 1;
    sp.kv_type = kv;
    vllm_session *s = NULL;
    REQUIRE(vllm_session_create(m, &sp, &s) == VLLM_OK, "%s", vllm_last_error());
    return s;
}

static int multi_section(const vllm_session *s) { return s->model->llm->hp.rope.kind >= VL_ROPE_MROPE; }

static void text_ids(const vllm_session *s, int32_t *ids, int n, int seed)
{
    const int32_t v = s->model->llm->hp.n_vocab < 4000 ? s->model->llm->hp.n_vocab : 4000;
    for (int i = 0; i < n; i++) ids[i] = (i * 37 + seed) % v;
}

/* A visual block of 2 temporal patches × 2 × 3 tokens at the next
 * position p0, laid out as transformers' get_rope_index lays out a video
 * with temporal step 2: token (k, y, x) at (p0 + 2k, p0 + y, p0 + x, p0 +
 * 2k). 1-D models get the same rows at text positions. A frame span. */
static void push_block(vllm_session *s, double pts)
{
    enum { T = 2, H = 2, W = 3, N = T * H * W };
    const int32_t E = s->model->llm->hp.n_embd, p0 = vl_llm_state_next_pos(s->st), start = vl_llm_state_n_past(s->st);
    float *embd = malloc((size_t)N * E * sizeof *embd);
    int32_t pos[N * VL_POS_SECTIONS];
    REQUIRE(embd, "out of memory");
    for (int64_t i = 0; i < (int64_t)N * E; i++) embd[i] = (float)((i * 7919 + start) % 2001 - 1000) / 1000.0f;
    for (int k = 0, i = 0; k < T; k++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++, i++) {
                int32_t *p = pos + i * VL_POS_SECTIONS;
                p[0] = p0 + 2 * k, p[1] = p0 + y, p[2] = p0 + x, p[3] = p0 + 2 * k;
            }
    const vl_llm_batch b = {.n = N, .embd = embd, .pos = multi_section(s) ? pos : NULL};
    REQUIRE(vl_session_hist_reserve(s, (size_t)start + N) == VLLM_OK && vl_session_spans_reserve(s) == VLLM_OK, "reserve");
    REQUIRE(vl_llm_eval_batch(s->model->llm, s->st, s->pool, &b, 0) == VLLM_OK, "%s", vllm_last_error());
    for (int i = 0; i < N; i++) s->hist[start + i] = -1;
    s->spans[s->n_spans++] = (vl_span){.start = start, .end = start + N, .pts = pts, .block = -1, .kind = VL_SPAN_FRAME};
    s->last_frame_pts = pts;
    free(embd);
    if (multi_section(s)) /* text goes on after the block's largest position, t = p0 + 2 */
        CHECK(vl_llm_state_next_pos(s->st) == p0 + 3, "next position after the block %d, want %d",
              vl_llm_state_next_pos(s->st), p0 + 3);
}

static void build_context(vllm_session *s)
{
    int32_t ids[8];
    text_ids(s, ids, 8, 11);
    REQUIRE(vllm_session_eval_tokens(s, ids, 5) == VLLM_OK, "%s", vllm_session_last_error(s));
    push_block(s, 0.5);
    REQUIRE(vllm_session_eval_tokens(s, ids + 5, 3) == VLLM_OK, "%s", vllm_session_last_error(s));
    push_block(s, 1.0);
    REQUIRE(vllm_session_eval_tokens(s, ids, 4) == VLLM_OK, "%s", vllm_session_last_error(s));
}

/* 1 if b's context is a's: rows, their positions and tokens, the next
 * position, spans; each difference is reported. */
static int same_context(const vllm_session *a, const vllm_session *b, const char *when)
{
    const int failures = vl_test_failures;
    const int32_t n = vl_llm_state_n_past(a->st);
    CHECK(vl_llm_state_n_past(b->st) == n, "%s: %d rows, want %d", when, vl_llm_state_n_past(b->st), n);
    CHECK(vl_llm_state_next_pos(b->st) == vl_llm_state_next_pos(a->st), "%s: next position %d, want %d", when,
          vl_llm_state_next_pos(b->st), vl_llm_state_next_pos(a->st));
    const int before_rows = vl_test_failures; /* report the first row that differs, not every one */
    for (int32_t i = 0; i < n && i < vl_llm_state_n_past(b->st) && vl_test_failures == before_rows; i++) {
        int32_t pa[VL_POS_SECTIONS], pb[VL_POS_SECTIONS];
        vl_llm_state_row_pos(a->st, i, pa);
        vl_llm_state_row_pos(b->st, i, pb);
        CHECK(!memcmp(pa, pb, sizeof pa), "%s: row %d at (%d,%d,%d,%d), want (%d,%d,%d,%d)", when, i, pb[0], pb[1], pb[2],
              pb[3], pa[0], pa[1], pa[2], pa[3]);
        CHECK(a->hist[i] == b->hist[i], "%s: row %d holds token %d, want %d", when, i, b->hist[i], a->hist[i]);
    }
    CHECK(a->n_spans == b->n_spans, "%s: %d spans, want %d", when, b->n_spans, a->n_spans);
    for (int i = 0; i < a->n_spans && i < b->n_spans; i++) {
        const vl_span *x = &a->spans[i], *y = &b->spans[i];
        CHECK(x->start == y->start && x->end == y->end && x->kind == y->kind && x->pts == y->pts,
              "%s: span %d is %d..%d kind %d at %g s, want %d..%d kind %d at %g s", when, i, y->start, y->end, y->kind,
              y->pts, x->start, x->end, x->kind, x->pts);
    }
    CHECK(a->turn_start == b->turn_start && a->last_frame_pts == b->last_frame_pts,
          "%s: open turn %d, last frame %g s; want %d, %g s", when, b->turn_start, b->last_frame_pts, a->turn_start,
          a->last_frame_pts);
    return vl_test_failures == failures;
}

/* The logits after evaluating `tok` next (n_vocab floats, malloc'd). */
static float *next_logits(vllm_session *s, int32_t tok)
{
    const int32_t V = s->model->llm->hp.n_vocab;
    REQUIRE(vl_llm_eval(s->model->llm, s->st, s->pool, &tok, NULL, 1, 1) == VLLM_OK, "%s", vllm_last_error());
    float *out = malloc((size_t)V * sizeof *out);
    REQUIRE(out, "out of memory");
    memcpy(out, vl_llm_logits(s->st, NULL), (size_t)V * sizeof *out);
    return out;
}

static void check_same_next_logits(vllm_session *a, vllm_session *b, double tol, const char *when)
{
    const int32_t V = a->model->llm->hp.n_vocab;
    if (vl_llm_state_n_past(a->st) != vl_llm_state_n_past(b->st)) return; /* same_context said so */
    float *la = next_logits(a, 7), *lb = next_logits(b, 7);
    double worst = 0;
    for (int32_t i = 0; i < V; i++) worst = fmax(worst, fabs((double)la[i] - lb[i]));
    CHECK(worst <= tol, "%s: next-token logits differ by up to %g (allowed %g)", when, worst, tol);
    vl_llm_state_truncate(a->st, vl_llm_state_n_past(a->st) - 1);
    vl_llm_state_truncate(b->st, vl_llm_state_n_past(b->st) - 1);
    free(la);
    free(lb);
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    REQUIRE(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    rewind(f);
    unsigned char *b = malloc(*n + 1);
    REQUIRE(b && fread(b, 1, *n, f) == *n, "cannot read %s", path);
    fclose(f);
    return b;
}

static void spit(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    REQUIRE(f && fwrite(p, 1, n, f) == n && fclose(f) == 0, "cannot write %s", path);
}

/* A load of `path` into r fails with `want`, its message holding `words`,
 * and r's context stays that of `ref`. */
static void check_refused(vllm_session *r, const vllm_session *ref, const char *path, vllm_status want,
                          const char *word, const char *what)
{
    const vllm_status st = vllm_session_load(r, path);
    CHECK(st == want, "%s: load gave %s (%s), want %s", what, vllm_status_string(st), vllm_session_last_error(r),
          vllm_status_string(want));
    CHECK(!word || strstr(vllm_session_last_error(r), word), "%s: message lacks '%s': %s", what, word,
          vllm_session_last_error(r));
    same_context(ref, r, what);
}

/* The snapshot's position of row `row`, section `k` set to `v`: the
 * stream decompressed, patched at the version-4 layout's offset and
 * compressed again with a valid checksum (a crafted file, not a flipped
 * bit the checksum would catch). */
static int craft_position(const vllm_session *s, const char *in, const char *out, int32_t row, int k, int32_t v)
{
    size_t n;
    unsigned char *z = slurp(in, &n);
    const size_t cap = 8u << 20;
    unsigned char *raw = malloc(cap);
    REQUIRE(raw, "out of memory");
    ZSTD_DCtx *d = ZSTD_createDCtx();
    ZSTD_inBuffer ib = {z, n, 0};
    ZSTD_outBuffer ob = {raw, cap, 0};
    REQUIRE(ZSTD_decompressStream(d, &ob, &ib) == 0, "%s does not decompress in one go", in);
    const size_t at = 8 + 4 + 8 + (4 + strlen(s->model->llm->hp.arch)) + 4 + 4 + 9 * 4 + 8 + s->text_len +
                      4 * (size_t)vl_llm_state_n_past(s->st) + 4 + (size_t)s->n_spans * 20 + 4 + 8 +
                      ((size_t)row * VL_POS_SECTIONS + (size_t)k) * 4;
    int32_t old;
    memcpy(&old, raw + at, 4);
    int32_t want[VL_POS_SECTIONS];
    vl_llm_state_row_pos(s->st, row, want);
    CHECK(old == want[k], "version-4 layout: found %d where row %d's position should be, want %d", old, row, want[k]);
    if (old != want[k]) {
        free(raw);
        free(z);
        ZSTD_freeDCtx(d);
        return 0;
    }
    memcpy(raw + at, &v, 4);
    ZSTD_CCtx *c = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
    const size_t zb = ZSTD_compressBound(ob.pos);
    unsigned char *o = malloc(zb);
    const size_t zn = ZSTD_compress2(c, o, zb, raw, ob.pos);
    REQUIRE(!ZSTD_isError(zn), "recompress");
    spit(out, o, zn);
    ZSTD_freeCCtx(c);
    ZSTD_freeDCtx(d);
    free(o);
    free(raw);
    free(z);
    return 1;
}

/* Another shipped set's text model of another architecture (NULL if none). */
static vllm_model *other_family(const vllm_model *m)
{
    const char *data = getenv("VIDEOLLM_TEST_DATA");
    DIR *d = opendir(data && *data ? data : "tests/data");
    vllm_model *o = NULL;
    for (struct dirent *e; d && !o && (e = readdir(d));) {
        char set[4200], path[4400];
        snprintf(set, sizeof set, "%s/%s", data && *data ? data : "tests/data", e->d_name);
        if (e->d_name[0] == '.' || !fx_find_model(set, "-text-F32.gguf", path, sizeof path)) continue;
        o = load_model(path, 0);
        if (!strcmp(o->llm->hp.arch, m->llm->hp.arch)) vllm_model_free(o), o = NULL;
    }
    if (d) closedir(d);
    return o;
}

static void write_text_snapshot(const char *text_model, const char *out)
{
    vllm_model *m = load_model(text_model, 0);
    vllm_session *s = new_session(m, VLLM_KV_F16);
    int32_t ids[TEXT_N];
    text_ids(s, ids, TEXT_N, 5);
    REQUIRE(vllm_session_eval_tokens(s, ids, TEXT_N) == VLLM_OK && vllm_session_save(s, out) == VLLM_OK, "%s",
            vllm_session_last_error(s));
    vllm_session_free(s);
    vllm_model_free(m);
}

/* The committed version-3 snapshot of this set (tests/snapshots/v3-SET.snap):
 * TEXT_N text tokens at the 1-D text positions, equal to a fresh
 * evaluation of the same tokens. */
static void check_old_snapshot(vllm_model *m, const char *dir)
{
    const char *set = strrchr(fx_set_dir(), '/') ? strrchr(fx_set_dir(), '/') + 1 : fx_set_dir();
    char path[4400];
    snprintf(path, sizeof path, "%s/v3-%s.snap", dir, set);
    if (access(path, R_OK) != 0) {
        printf("no version-3 snapshot of set %s (%s): old-format check skipped\n", set, path);
        return;
    }
    vllm_session *old = new_session(m, VLLM_KV_F16), *fresh = new_session(m, VLLM_KV_F16);
    REQUIRE(vllm_session_load(old, path) == VLLM_OK, "%s", vllm_session_last_error(old));
    int32_t ids[TEXT_N];
    text_ids(fresh, ids, TEXT_N, 5);
    REQUIRE(vllm_session_eval_tokens(fresh, ids, TEXT_N) == VLLM_OK, "%s", vllm_session_last_error(fresh));
    const int pin = m->llm->hp.pin_e_to_zero;
    for (int32_t i = 0; i < TEXT_N && vl_llm_state_n_past(old->st) == TEXT_N; i++) {
        int32_t p[VL_POS_SECTIONS];
        vl_llm_state_row_pos(old->st, i, p);
        CHECK(p[0] == i && p[1] == i && p[2] == i && p[3] == (pin ? 0 : i), "old snapshot: row %d at (%d,%d,%d,%d)", i,
              p[0], p[1], p[2], p[3]);
    }
    same_context(fresh, old, "version-3 snapshot");
    check_same_next_logits(fresh, old, 1e-4, "version-3 snapshot against a fresh evaluation");
    printf("version-3 snapshot %s loads: %d rows at 1-D positions\n", path, vl_llm_state_n_past(old->st));
    vllm_session_free(old);
    vllm_session_free(fresh);
}

TEST_MAIN_BEGIN
    char tp[4400];
    fx_require_model("-text-F32.gguf", tp, sizeof tp);
    if (argc == 3 && !strcmp(argv[1], "--write-text")) {
        write_text_snapshot(tp, argv[2]);
        return vl_test_failures != 0;
    }
    if (argc == 3 && !strcmp(argv[1], "--write-context")) {
        vllm_model *m = load_model(tp, 0);
        vllm_session *s = new_session(m, VLLM_KV_F16);
        build_context(s);
        REQUIRE(vllm_session_save(s, argv[2]) == VLLM_OK, "%s", vllm_session_last_error(s));
        vllm_session_free(s);
        vllm_model_free(m);
        return vl_test_failures != 0;
    }
    REQUIRE(argc == 2, "usage: %s SNAPSHOT_DIR | --write-text PATH | --write-context PATH", argv[0]);
    vllm_model *m = load_model(tp, 0);
    vllm_session *s = new_session(m, VLLM_KV_F32), *r = new_session(m, VLLM_KV_F32);
    char dir[] = "/tmp/videollm-snappos-XXXXXX", snap[200], bad[200];
    REQUIRE(mkdtemp(dir), "mkdtemp");
    snprintf(snap, sizeof snap, "%s/ctx.snap", dir);
    snprintf(bad, sizeof bad, "%s/bad.snap", dir);

    /* the round trip: positions, spans, next position, next logits */
    build_context(s);
    REQUIRE(vllm_session_save(s, snap) == VLLM_OK, "%s", vllm_session_last_error(s));
    REQUIRE(vllm_session_load(r, snap) == VLLM_OK, "%s", vllm_session_last_error(r));
    const int before = vl_test_failures;
    same_context(s, r, "loaded");
    check_same_next_logits(s, r, 0, "loaded");
    printf("%s (%s): %d rows, next position %d, round trip %s\n", m->llm->hp.arch, multi_section(s) ? "M-RoPE" : "1-D",
           vl_llm_state_n_past(s->st), vl_llm_state_next_pos(s->st), vl_test_failures == before ? "equal" : "DIFFERS");

    /* damaged files: clean errors, the loaded context untouched */
    size_t n;
    unsigned char *good = slurp(snap, &n);
    const size_t cuts[] = {0, 5, 30, n / 4, n / 2, n - 40, n - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        spit(bad, good, cuts[i]);
        char what[64];
        snprintf(what, sizeof what, "cut at %zu of %zu bytes", cuts[i], n);
        check_refused(r, s, bad, VLLM_ERR_FORMAT, cuts[i] ? "truncated" : "empty", what);
    }
    const int32_t visual_row = 5; /* the first block's first row */
    if (craft_position(s, snap, bad, visual_row, 1, -3))
        check_refused(r, s, bad, VLLM_ERR_FORMAT, "position -3 of row 5", "a negative position");
    if (!multi_section(s)) { /* a 1-D model's rows are their index */
        if (craft_position(s, snap, bad, visual_row, 0, 9))
            check_refused(r, s, bad, VLLM_ERR_FORMAT, "row 5 of this 1-D", "a 1-D row off its index");
    }

    /* another family or text-position rule: refused by name */
    vllm_model *o = other_family(m);
    if (o) {
        vllm_session *x = new_session(o, VLLM_KV_F32), *xref = new_session(o, VLLM_KV_F32);
        check_refused(x, xref, snap, VLLM_ERR_INVALID_ARG, m->llm->hp.arch, "a snapshot of another family");
        printf("refused: %s\n", vllm_session_last_error(x));
        CHECK(strstr(vllm_session_last_error(x), o->llm->hp.arch), "message lacks '%s': %s", o->llm->hp.arch,
              vllm_session_last_error(x));
        vllm_session_free(x);
        vllm_session_free(xref);
        vllm_model_free(o);
    }
    char mp_path[4400]; /* the model with its projector: a snapshot of it is not the text model's */
    if (fx_find_model(NULL, "-mmproj-F32.gguf", mp_path, sizeof mp_path)) {
        vllm_model_params mpp = vllm_model_default_params();
        mpp.mmproj_path = mp_path;
        vllm_model *mv = NULL;
        REQUIRE(vllm_model_load(tp, &mpp, &mv) == VLLM_OK, "%s", vllm_last_error());
        vllm_session *v = new_session(mv, VLLM_KV_F32);
        int32_t ids[4];
        text_ids(v, ids, 4, 3);
        REQUIRE(vllm_session_eval_tokens(v, ids, 4) == VLLM_OK && vllm_session_save(v, bad) == VLLM_OK, "%s",
                vllm_session_last_error(v));
        check_refused(r, s, bad, VLLM_ERR_INVALID_ARG, vl_vision_projector_name(mv->vision),
                      "a snapshot of the model with its projector");
        printf("refused: %s\n", vllm_session_last_error(r));
        vllm_session_free(v);
        vllm_model_free(mv);
    }
    if (multi_section(s)) {
        vllm_model *mc = load_model(tp, 1);
        vllm_session *x = new_session(mc, VLLM_KV_F32), *xref = new_session(mc, VLLM_KV_F32);
        check_refused(x, xref, snap, VLLM_ERR_INVALID_ARG, "llamacpp_compat", "a snapshot without llamacpp_compat");
        printf("refused: %s\n", vllm_session_last_error(x));
        vllm_session_free(x);
        vllm_session_free(xref);
        vllm_model_free(mc);
    }

    /* spans round-trip: evicting the first frame in both gives the same context */
    REQUIRE(vl_session_evict_span(s, 0) == VLLM_OK && vl_session_evict_span(r, 0) == VLLM_OK, "%s", vllm_last_error());
    same_context(s, r, "after evicting the first frame");
    check_same_next_logits(s, r, 0, "after evicting the first frame");

    check_old_snapshot(m, argv[1]);

    remove(snap);
    remove(bad);
    rmdir(dir);
    free(good);
    vllm_session_free(r);
    vllm_session_free(s);
    vllm_model_free(m);
TEST_MAIN_END
