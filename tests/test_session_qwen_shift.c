/* Session features on M-RoPE families (Qwen2.5-VL, Qwen3-VL, default
 * mode), with live frames pushed in pairs:
 *  1. eviction: a session that evicts its oldest pair (every later row's
 *     keys re-rotated in all sections) holds what a fresh session given
 *     only the later frames holds: every row's positions exactly, and
 *     every layer-0 key and value (a layer-0 row depends only on its input
 *     and its positions) to the rounding of the second rotation (deeper
 *     layers remember the evicted rows they attended to, in any model: as
 *     test_kv_shift, only layer 0 can equal a fresh evaluation);
 *  2. offload: the evicted pair offloaded and recalled gives back the
 *     positions and keys of a session that never evicted it;
 *  3. pruning: the kept tokens of a pruned patch keep their own cells'
 *     (t, h, w) (not compacted positions), in cell order, inside the
 *     block's grid, and text after the block continues at 1 + the largest
 *     position given; the same for a pruned video (test-3.mp4, default
 *     sampling: Qwen2.5-VL's one block of 10 patches, Qwen3-VL's 10
 *     blocks), and its token budget (max_visual_tokens) holds.
 * Fixture sets: $VIDEOLLM_FIXTURES, or tests/data/tiny-qwen25vl and
 * tiny-qwen3vl; files by pattern. */
#define VLLM_EXPERIMENTAL
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/quant.h"
#include "fixture_set.h"
#include "harness.h"
#include "session/session_internal.h"
#include "vllm/videollm.h"

#define W 96
#define H 64

static vllm_model *load(const char *set)
{
    char tp[1400], mp[1400];
    REQUIRE(fx_find_model(set, "-text-F32.gguf", tp, sizeof tp) && fx_find_model(set, "-mmproj-F32.gguf", mp, sizeof mp),
            "no models/*-text-F32.gguf + *-mmproj-F32.gguf in %s", set);
    vllm_model_params p = vllm_model_default_params();
    p.mmproj_path = mp;
    vllm_model *m = NULL;
    REQUIRE(vllm_model_load(tp, &p, &m) == VLLM_OK, "%s", vllm_last_error());
    return m;
}

static vllm_session *session(vllm_model *m, float prune_rate)
{
    vllm_session_params sp = vllm_session_default_params();
    sp.n_ctx = 4096;
    sp.n_threads = 2;
    sp.prune_rate = prune_rate;
    vllm_session *s = NULL;
    REQUIRE(vllm_session_create(m, &sp, &s) == VLLM_OK, "%s", vllm_last_error());
    return s;
}

/* Frames from..to-1 of a moving pattern, 0.5 s apart. */
static void push(vllm_session *s, int from, int to)
{
    uint8_t *rgb = malloc((size_t)W * H * 3);
    for (int f = from; f < to; f++) {
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                for (int c = 0; c < 3; c++)
                    rgb[((size_t)y * W + x) * 3 + c] = (uint8_t)(((x + 5 * f) * (c + 1) + y * 3 + (x * y) % 17 * f) & 255);
        vllm_frame fr = {.struct_size = sizeof fr, .format = VLLM_PIXFMT_RGB24, .width = W, .height = H, .pts = 0.5 * f};
        fr.planes[0] = rgb;
        fr.strides[0] = W * 3;
        REQUIRE(vllm_session_push_frame(s, &fr) == VLLM_OK, "frame %d: %s", f, vllm_session_last_error(s));
    }
    free(rgb);
}

/* Positions exact and layer-0 K/V within `tol` (relative to the row's
 * largest element) over every row of both states. */
static void same_context(const vllm_session *a, const vllm_session *b, double tol, const char *what)
{
    const vl_llm_hparams *hp = &a->model->llm->hp;
    const int32_t n = vl_llm_state_n_past(a->st);
    CHECK(n == vl_llm_state_n_past(b->st), "%s: %d rows vs %d", what, n, vl_llm_state_n_past(b->st));
    if (n != vl_llm_state_n_past(b->st)) return;
    int bad_pos = 0;
    double worst = 0;
    for (int32_t r = 0; r < n; r++) {
        int32_t pa[VL_POS_SECTIONS], pb[VL_POS_SECTIONS];
        vl_llm_state_row_pos(a->st, r, pa);
        vl_llm_state_row_pos(b->st, r, pb);
        if (memcmp(pa, pb, sizeof pa) && !bad_pos++)
            fprintf(stderr, "%s: row %d: (%d,%d,%d,%d) vs fresh (%d,%d,%d,%d)\n", what, r, pa[0], pa[1], pa[2], pa[3], pb[0],
                    pb[1], pb[2], pb[3]);
        for (int h = 0; h < hp->n_head_kv; h++)
            for (int which = 0; which < 2; which++) {
                size_t rb;
                const float *x = vl_llm_state_kv_head(a->st, 0, h, which, &rb);
                const float *y = vl_llm_state_kv_head(b->st, 0, h, which, NULL);
                x = (const float *)((const uint8_t *)x + (size_t)r * rb), y = (const float *)((const uint8_t *)y + (size_t)r * rb);
                double d = 0, norm = 0;
                for (int i = 0; i < hp->head_dim; i++) d = fmax(d, fabs((double)x[i] - y[i])), norm = fmax(norm, fabs((double)y[i]));
                worst = fmax(worst, norm > 0 ? d / norm : d);
            }
    }
    printf("  %s: %d rows, positions %s, layer-0 K/V max rel diff %.3g\n", what, n, bad_pos ? "DIFFER" : "equal", worst);
    CHECK(!bad_pos && worst < tol, "%s: %d rows with other positions; K/V rel diff %.3g (bound %g)", what, bad_pos, worst, tol);
    const int32_t *ha, *hb;
    size_t na, nb;
    vllm_session_history(a, &ha, &na);
    vllm_session_history(b, &hb, &nb);
    CHECK(na == nb && !memcmp(ha, hb, na * sizeof *ha), "%s: the token histories differ", what);
}

static void eviction(const char *set)
{
    vllm_model *m = load(set);
    vllm_session *a = session(m, 0), *b = session(m, 0);
    push(a, 0, 6);  /* pairs (0,1) (2,3) (4,5) */
    push(b, 2, 6);  /* (2,3) (4,5) only */
    REQUIRE(a->n_spans == 3 && b->n_spans == 2, "spans: %d and %d (expected a span per pair)", a->n_spans, b->n_spans);
    REQUIRE(vl_session_evict_span(a, 0) == VLLM_OK, "evict: %s", vllm_last_error());
    same_context(a, b, 1e-5, "evicted pair vs fresh");
    vllm_session_free(a);
    vllm_session_free(b);

    /* offload: evict pair (0,1) into the store, recall it; = never evicted */
    vllm_session *c = session(m, 0), *d0 = session(m, 0);
    vllm_offload_params op = vllm_offload_default_params();
    op.enabled = 1;
    op.retrieve_top_k = 0;
    REQUIRE(vllm_session_set_offload(c, &op) == VLLM_OK, "%s", vllm_session_last_error(c));
    push(c, 0, 6);
    push(d0, 0, 6);
    REQUIRE(vl_session_evict_span(c, 0) == VLLM_OK, "evict: %s", vllm_last_error());
    int32_t back = 0;
    REQUIRE(vllm_session_recall(c, 0, 0.75, &back) == VLLM_OK && back == 1, "recall: %d back: %s", back,
            vllm_session_last_error(c));
    same_context(c, d0, 1e-5, "offloaded and recalled pair vs never evicted");
    /* a snapshot of the live M-RoPE context (pairs as spans) loads back
     * as the same context */
    char snap[] = "/tmp/vl_qwen_shift_XXXXXX";
    const int fd = mkstemp(snap);
    REQUIRE(fd >= 0, "mkstemp");
    close(fd);
    vllm_session *e = session(m, 0);
    REQUIRE(vllm_session_save(c, snap) == VLLM_OK, "save: %s", vllm_session_last_error(c));
    REQUIRE(vllm_session_load(e, snap) == VLLM_OK, "load: %s", vllm_session_last_error(e));
    CHECK(e->n_spans == c->n_spans, "spans after load: %d, before %d", e->n_spans, c->n_spans);
    same_context(e, c, 1e-12, "snapshot of the recalled context vs itself");
    remove(snap);
    vllm_session_free(e);
    vllm_session_free(c);
    vllm_session_free(d0);
    vllm_model_free(m);
}

static void pruning(const char *set)
{
    vllm_model *m = load(set);
    vllm_session *s = session(m, 0.5f);
    push(s, 0, 4); /* pairs (0,1) whole (no reference), (2,3) pruned */
    REQUIRE(s->n_spans == 2, "%d spans", s->n_spans);
    const int32_t *hist;
    size_t n;
    vllm_session_history(s, &hist, &n);
    const vl_span *sp = &s->spans[1];
    int32_t first = -1, last = -1, count = 0, moved = 0, bad = 0, prev_cell = -1, p0 = -1, gw = 0, gh = 0;
    /* the block's grid from the unpruned pair: its first and last visual rows */
    for (int32_t r = s->spans[0].start; r < s->spans[0].end; r++)
        if (hist[r] == -1) {
            int32_t q[VL_POS_SECTIONS];
            vl_llm_state_row_pos(s->st, r, q);
            if (first < 0) first = r, p0 = q[0];
            last = r;
            gh = q[1] - p0 + 1 > gh ? q[1] - p0 + 1 : gh;
            gw = q[2] - p0 + 1 > gw ? q[2] - p0 + 1 : gw;
        }
    const int32_t cells = last - first + 1;
    REQUIRE(cells == gh * gw, "first block: %d rows for a %dx%d grid", cells, gh, gw);
    int32_t max_pos = -1, t0 = -1, row_after = -1;
    for (int32_t r = sp->start; r < sp->end; r++) {
        int32_t q[VL_POS_SECTIONS];
        vl_llm_state_row_pos(s->st, r, q);
        if (hist[r] != -1) {
            if (t0 >= 0 && row_after < 0) row_after = r;
            continue;
        }
        if (t0 < 0) t0 = q[0];
        const int32_t y = q[1] - t0, x = q[2] - t0, cell = y * gw + x;
        bad += q[0] != t0 || q[3] != t0 || y < 0 || y >= gh || x < 0 || x >= gw || cell <= prev_cell;
        moved += cell != count; /* a compacted layout would give row k the cell k */
        prev_cell = cell;
        count++;
        for (int k = 0; k < 3; k++) max_pos = q[k] > max_pos ? q[k] : max_pos;
    }
    int32_t qa[VL_POS_SECTIONS] = {-1, -1, -1, -1};
    if (row_after >= 0) vl_llm_state_row_pos(s->st, row_after, qa);
    printf("  pruned pair: %d of %d tokens kept, %d not at their row's compacted cell; text after at %d (max %d)\n", count,
           cells, moved, qa[0], max_pos);
    CHECK(count == cells - (int)floor(0.5 * cells), "%d tokens kept of %d at rate 0.5", count, cells);
    CHECK(bad == 0 && moved > 0, "kept tokens: %d outside their grid or out of order, %d at original cells", bad, moved);
    CHECK(row_after >= 0 && qa[0] == max_pos + 1 && qa[1] == qa[0] && qa[2] == qa[0],
          "text after the pruned block at (%d,%d,%d), expected %d", qa[0], qa[1], qa[2], max_pos + 1);
    vllm_session_free(s);
    vllm_model_free(m);
}

/* Visual rows of the context in runs (a block each); per patch (a t
 * value) the cells must be in order inside the grid. */
static void video_pruning(const char *set)
{
    vllm_model *m = load(set);
    vllm_session *s = session(m, 0.5f);
    char path[1400];
    snprintf(path, sizeof path, "%s/test-3.mp4", fx_media_dir());
    REQUIRE(vllm_session_push_video(s, path, NULL) == VLLM_OK, "%s", vllm_session_last_error(s));
    const int32_t *hist;
    size_t n;
    vllm_session_history(s, &hist, &n);
    int patches = 0, rows = 0, bad = 0, moved = 0, patch_rows[64] = {0};
    int32_t p0 = -1, t = -1, last_cell = -1, gw = 0;
    for (size_t r = 0; r < n; r++) {
        if (hist[r] != -1) {
            p0 = -1; /* a block ends */
            continue;
        }
        int32_t q[VL_POS_SECTIONS];
        vl_llm_state_row_pos(s->st, (int32_t)r, q);
        if (p0 < 0) p0 = q[1], t = -1; /* h of a block's first cell (row 0) is its start */
        if (q[0] != t) t = q[0], last_cell = -1, patches++; /* a new patch */
        REQUIRE(patches <= 64, "too many patches");
        const int32_t y = q[1] - p0, x = q[2] - p0, cell = y * 4096 + x;
        if (patches == 1 && x + 1 > gw) gw = x + 1; /* the first patch is whole (no reference): its width */
        bad += y < 0 || x < 0 || cell <= last_cell || q[3] != q[0];
        moved += patches > 1 && y * gw + x != patch_rows[patches - 1]; /* compacted: row k at cell k */
        last_cell = cell;
        patch_rows[patches - 1]++;
        rows++;
    }
    const int first_patch = patch_rows[0], keep = first_patch - first_patch / 2;
    printf("  pruned video: %d patches, %d visual rows (first patch %d, then %d each), %d at moved cells\n", patches, rows,
           first_patch, keep, moved);
    CHECK(patches == 10 && rows == first_patch + (patches - 1) * keep, "%d patches, %d rows", patches, rows);
    CHECK(bad == 0 && moved > 0, "pruned video: %d rows out of order or outside their patch, %d at their own cells", bad, moved);
    vllm_session_stats st0 = {.struct_size = sizeof st0}, st1 = {.struct_size = sizeof st1};
    vllm_session_get_stats(s, &st0);
    vllm_session_reset(s);
    vllm_video_params vp = vllm_video_default_params();
    vp.max_visual_tokens = 4 * first_patch; /* a budget of 4 whole patches */
    REQUIRE(vllm_session_push_video(s, path, &vp) == VLLM_OK, "%s", vllm_session_last_error(s));
    vllm_session_get_stats(s, &st1);
    const long long used = (long long)(st1.n_visual_tokens - st0.n_visual_tokens);
    printf("  budget %d visual tokens: %lld used\n", vp.max_visual_tokens, used);
    CHECK(used > 0 && used <= vp.max_visual_tokens, "budget %d: %lld visual tokens", vp.max_visual_tokens, used);
    vllm_session_free(s);
    vllm_model_free(m);
}

TEST_MAIN_BEGIN
    char sets[FX_MAX_SETS][FX_SET_PATH];
    const size_t n_sets = fx_qwen_sets(sets);
    int ran = 0;
    for (size_t i = 0; i < n_sets; i++) {
        char mp[1400];
        const char *set = sets[i];
        if (!fx_find_model(set, "-mmproj-F32.gguf", mp, sizeof mp)) continue;
        vllm_model *m = load(set);
        const int qwen = m->family->caps & VL_FAM_MROPE;
        vllm_model_free(m);
        if (!qwen) continue;
        printf("fixture set %s\n", set);
        eviction(set);
        pruning(set);
        video_pruning(set);
        ran++;
    }
    if (!ran) TEST_SKIP("no Qwen-VL fixture set");
TEST_MAIN_END
