/* The Qwen-VL text models beyond plain text parity (test_text_parity):
 *
 *  1. media prompts, text side: with llama.cpp's reference embeddings
 *     (ref/{image,video}/F32_ref_embd.f32, deepstack columns included) and
 *     the chunk list of F32_ref_info.json, the llama.cpp-rule M-RoPE
 *     positions (mrope_layout.c) equal llama.cpp's per-token positions
 *     (*_mrope_pos.i32) exactly, text continues where llama.cpp's n_past
 *     says, and the last logits and greedy ids after the prompt match
 *     llama.cpp's (this exercises M-RoPE sections and deepstack);
 *  2. the transformers rule (VL_MROPE_HF) against an independent rebuild of
 *     get_rope_index written here in its own token-scanning form, for a
 *     still, an odd-frame Qwen2.5-VL video with scaled temporal ids and a
 *     Qwen3-VL video with a block per frame;
 *  3. removing a text span or a whole visual block from the cache leaves
 *     the positions and layer-0 keys/values of a fresh evaluation without
 *     it (M-RoPE keys re-rotated in every section);
 *  4. plain `qwen3` (the Qwen3-VL text weights under the qwen3 architecture:
 *     1-D NEOX rope = interleaved M-RoPE with equal sections) and tied
 *     output (output.weight dropped, token_embd replaced by it);
 *  5. malformed M-RoPE metadata and misused batches get clear errors.
 * Fixture sets: $VIDEOLLM_FIXTURES, or tests/data/tiny-qwen25vl and
 * tiny-qwen3vl; files found by pattern, expected values from the JSON. */
#define VLLM_EXPERIMENTAL
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/gguf.h"
#include "core/quant.h"
#include "decoder/llm.h"
#include "decoder/mrope_layout.h"
#include "gguf_writer.h"
#include "fixture_set.h"
#include "harness.h"
#include "json.h"

static double max_abs_diff(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= m)) m = d;
    }
    return m;
}

static int argmax(const float *x, int n)
{
    int b = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return b;
}

static vl_llm *load_llm(const char *path, int compat, vl_gguf **g)
{
    REQUIRE(vl_gguf_open(path, 1, g) == VLLM_OK, "%s", vllm_last_error());
    vl_llm *m = NULL;
    const vl_llm_options o = {.llamacpp_compat = compat};
    REQUIRE(vl_llm_load_ex(*g, &o, &m) == VLLM_OK, "%s", vllm_last_error());
    return m;
}

/* ---- 1. media prompts against llama.cpp --------------------------------------------- */

static void check_media(const char *set, const char *media, vl_llm *m, vl_pool *pool)
{
    char path[2400];
    snprintf(path, sizeof path, "%s/ref/%s/F32_ref_info.json", set, media);
    json *info = json_load(path);
    if (!info) {
        printf("  %s: no %s, skipped\n", media, path);
        return;
    }
    const json *chunks = json_get(info, "chunks");
    const int n_prompt = (int)json_num(json_get(info, "n_prompt_tokens"), -1);
    const int n_embd_inp = (int)json_num(json_get(info, "n_embd_inp"), -1);
    const int n_img = (int)json_num(json_get(info, "n_image_tokens"), -1);
    const int E = m->hp.n_embd, V = m->hp.n_vocab;
    REQUIRE(chunks && n_prompt > 0 && n_img > 0 && n_embd_inp >= E, "%s: chunks/counts missing", path);
    CHECK(n_embd_inp == E * (1 + m->hp.n_deepstack), "%s: n_embd_inp %d, model %d x (1 + %d deepstack)", path,
          n_embd_inp, E, m->hp.n_deepstack);

    /* positions by the llama.cpp rule from the chunk list alone */
    vl_mrope_item *items = calloc(chunks->n, sizeof *items);
    for (size_t i = 0; i < chunks->n; i++) {
        const json *c = json_at(chunks, i);
        if (!strcmp(json_str(json_get(c, "type"), ""), "text")) {
            items[i].n_text = (int32_t)json_num(json_get(c, "n_tokens"), -1);
        } else {
            items[i].grid_t = 1; /* llama.cpp: one chunk per temporal patch */
            items[i].grid_h = (int32_t)json_num(json_get(c, "ny"), -1);
            items[i].grid_w = (int32_t)json_num(json_get(c, "nx"), -1);
        }
    }
    int32_t *pos = malloc((size_t)n_prompt * VL_POS_SECTIONS * sizeof *pos), next = -1;
    REQUIRE(vl_mrope_positions(items, (int)chunks->n, VL_MROPE_LLAMACPP, 0, pos, n_prompt, &next) == VLLM_OK, "%s",
            vllm_last_error());
    snprintf(path, sizeof path, "%s/ref/%s/%s", set, media, json_str(json_get(info, "mrope_pos_file"), "?"));
    int32_t *ref_pos = fx_load_raw(path, 4 * sizeof(int32_t), (size_t)n_prompt); /* section-major [4, n] */
    REQUIRE(ref_pos != NULL, "cannot read %s", path);
    int pos_diff = 0;
    for (int i = 0; i < n_prompt; i++)
        for (int k = 0; k < VL_POS_SECTIONS; k++) pos_diff += pos[i * VL_POS_SECTIONS + k] != ref_pos[k * n_prompt + i];
    const int n_past_ref = (int)json_num(json_get(info, "n_past_after_prompt"), -1);
    printf("  %s: %zu chunks, %d tokens: %d of %d positions differ from llama.cpp; next position %d (llama.cpp %d)\n",
           media, chunks->n, n_prompt, pos_diff, 4 * n_prompt, next, n_past_ref);
    CHECK(pos_diff == 0, "%s: M-RoPE positions differ from llama.cpp's", media);
    CHECK(next == n_past_ref, "%s: text continues at %d, llama.cpp at %d", media, next, n_past_ref);

    /* the prompt through the decoder: text rows by token (positions from the
     * state's running next position), visual rows by embedding with the
     * llama.cpp positions and the deepstack columns */
    snprintf(path, sizeof path, "%s/ref/%s/%s", set, media, json_str(json_get(info, "embd_file"), "?"));
    float *embd = fx_load_raw(path, (size_t)n_embd_inp * sizeof(float), (size_t)n_img);
    REQUIRE(embd != NULL, "cannot read %s", path);
    vl_llm_state *st = NULL;
    REQUIRE(vl_llm_state_new(m, n_prompt + 64, VL_KV_F32, &st) == VLLM_OK, "%s", vllm_last_error());
    int row = 0;
    vllm_status s = VLLM_OK;
    for (size_t i = 0; i < chunks->n && s == VLLM_OK; i++) {
        const json *c = json_at(chunks, i);
        const int last = i + 1 == chunks->n;
        vl_llm_batch b = {0};
        int32_t *ids = NULL;
        if (items[i].n_text > 0) {
            const json *tj = json_get(c, "token_ids");
            ids = malloc(tj->n * sizeof *ids);
            for (size_t k = 0; k < tj->n; k++) ids[k] = (int32_t)json_num(json_at(tj, k), -1);
            b = (vl_llm_batch){.n = (int64_t)tj->n, .tokens = ids};
        } else {
            const int off = (int)json_num(json_get(c, "embd_row_offset"), -1);
            const int n = items[i].grid_h * items[i].grid_w;
            REQUIRE(off >= 0 && off + n <= n_img, "chunk %zu: rows %d+%d of %d", i, off, n, n_img);
            b = (vl_llm_batch){.n = n,
                               .embd = embd + (size_t)off * n_embd_inp,
                               .embd_stride = n_embd_inp,
                               .pos = pos + (size_t)row * VL_POS_SECTIONS,
                               .deepstack = m->hp.n_deepstack ? embd + (size_t)off * n_embd_inp + E : NULL};
        }
        s = vl_llm_eval_batch(m, st, pool, &b, last);
        row += (int)b.n;
        free(ids);
    }
    CHECK(s == VLLM_OK, "%s: eval: %s", media, vllm_last_error());
    CHECK(row == n_prompt, "%s: %d rows evaluated, %d prompt tokens", media, row, n_prompt);
    CHECK(vl_llm_state_next_pos(st) == n_past_ref, "%s: state continues at %d, llama.cpp at %d", media,
          vl_llm_state_next_pos(st), n_past_ref);
    for (int i = 0; i < n_prompt && s == VLLM_OK; i++) {
        int32_t p[VL_POS_SECTIONS];
        vl_llm_state_row_pos(st, i, p);
        int same = 1;
        for (int k = 0; k < VL_POS_SECTIONS; k++) same &= p[k] == ref_pos[k * n_prompt + i];
        if (!same) {
            CHECK(0, "%s: row %d cached at (%d,%d,%d,%d), llama.cpp used (%d,%d,%d,%d)", media, i, p[0], p[1], p[2], p[3],
                  ref_pos[i], ref_pos[n_prompt + i], ref_pos[2 * n_prompt + i], ref_pos[3 * n_prompt + i]);
            break;
        }
    }

    snprintf(path, sizeof path, "%s/ref/%s/%s", set, media, json_str(json_get(info, "last_logits_file"), "?"));
    float *ref = fx_load_raw(path, sizeof(float), (size_t)V);
    const float *lg = vl_llm_logits(st, NULL);
    double err = 1;
    if (ref && lg) {
        err = max_abs_diff(lg, ref, (size_t)V);
        /* README: < 1e-4 given the reference embeddings (numpy 1e-7) */
        printf("  %s: last logits max |diff| = %.3g\n", media, err);
        CHECK(err < 1e-4, "%s: last logits max |diff| %.3g", media, err);
    }
    /* greedy ids, teacher-forced on llama.cpp's path where the gap is clear */
    const json *gen = json_get(info, "generated_ids"), *gaps = json_get(info, "top1_minus_top2_logit_gap_per_step");
    int compared = 0;
    for (size_t i = 0; gen && i < gen->n && s == VLLM_OK; i++) {
        lg = vl_llm_logits(st, NULL);
        const int32_t want = (int32_t)json_num(json_at(gen, i), -1);
        if (json_num(json_at(gaps, i), 0) > 2 * err + 1e-6) {
            CHECK(argmax(lg, V) == want, "%s: step %zu: %d, llama.cpp %d", media, i, argmax(lg, V), want);
            compared++;
        }
        s = vl_llm_eval(m, st, pool, &want, NULL, 1, 1);
    }
    printf("  %s: greedy ids: %d of %zu steps compared\n", media, compared, gen ? gen->n : 0);
    CHECK(compared > 0, "%s: no greedy step compared", media);
    vl_llm_state_free(st);
    free(ref);
    free(embd);
    free(ref_pos);
    free(pos);
    free(items);
    json_free(info);
}

/* ---- 2. transformers' get_rope_index, rebuilt independently --------------------------- */

enum { TOK_TEXT = 1, TOK_VSTART = 2, TOK_PAD = 3 };

/* transformers get_rope_index (Qwen2.5-VL / Qwen3-VL), in its own form: scan
 * input ids; at each vision-start token the next grid of the list begins;
 * text gets arange(text_len) + st_idx on all sections, the grid
 * [t_index*step | h | w] + text_len + st_idx; st_idx = max + 1. */
static int hf_rope_index(const int *ids, int n, const int (*grids)[3], const double *steps, int32_t (*out)[3])
{
    int st = 0, used = 0, g = 0;
    int32_t st_idx = 0;
    while (st < n) {
        int ed = st;
        while (ed < n && !(ed > 0 && ids[ed] == TOK_PAD && ids[ed - 1] == TOK_VSTART)) ed++;
        const int text_len = ed - st;
        for (int i = 0; i < text_len; i++) out[used + i][0] = out[used + i][1] = out[used + i][2] = st_idx + i;
        used += text_len;
        if (ed >= n) break;
        const int T = grids[g][0], H = grids[g][1], W = grids[g][2];
        int32_t mx = -1;
        for (int t = 0; t < T; t++)
            for (int h = 0; h < H; h++)
                for (int w = 0; w < W; w++) {
                    int32_t *o = out[used++];
                    o[0] = (int32_t)(long long)(t * steps[g]) + text_len + st_idx;
                    o[1] = h + text_len + st_idx;
                    o[2] = w + text_len + st_idx;
                    for (int k = 0; k < 3; k++) mx = o[k] > mx ? o[k] : mx;
                }
        st_idx = mx + 1;
        st = ed + T * H * W;
        g++;
    }
    return used;
}

static void check_hf_rule(void)
{
    /* a: still image 5x6; b: Qwen2.5-VL video, 3 temporal patches (an odd
     * frame count padded to pairs) of 4x8 at 2 fps => second_per_grid_t 1,
     * tokens_per_second 2 => step 2; c: Qwen3-VL, 3 frames each a block of
     * its own after a "<t seconds>" text; d: a step that truncates (0.75). */
    struct {
        const char *name;
        int n_items;
        vl_mrope_item items[8];
    } cases[] = {
        {"still", 3, {{.n_text = 4}, {.grid_t = 1, .grid_h = 5, .grid_w = 6}, {.n_text = 7}}},
        {"qwen2.5-vl video", 3, {{.n_text = 5}, {.grid_t = 3, .grid_h = 4, .grid_w = 8, .t_step = 2}, {.n_text = 6}}},
        {"qwen3-vl video", 7,
         {{.n_text = 3}, {.grid_t = 1, .grid_h = 4, .grid_w = 8}, {.n_text = 4}, {.grid_t = 1, .grid_h = 4, .grid_w = 8},
          {.n_text = 4}, {.grid_t = 1, .grid_h = 4, .grid_w = 8}, {.n_text = 5}}},
        {"fractional step", 3, {{.n_text = 2}, {.grid_t = 5, .grid_h = 2, .grid_w = 3, .t_step = 0.75}, {.n_text = 2}}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        /* the token sequence HF sees: a vision-start before each block */
        int ids[512], n = 0, grids[8][3], ng = 0;
        double steps[8];
        for (int i = 0; i < cases[c].n_items; i++) {
            const vl_mrope_item *it = &cases[c].items[i];
            if (it->n_text) {
                for (int k = 0; k < it->n_text; k++) ids[n++] = TOK_TEXT;
                ids[n - 1] = i + 1 < cases[c].n_items ? TOK_VSTART : TOK_TEXT;
            } else {
                for (int k = 0; k < it->grid_t * it->grid_h * it->grid_w; k++) ids[n++] = TOK_PAD;
                grids[ng][0] = it->grid_t, grids[ng][1] = it->grid_h, grids[ng][2] = it->grid_w;
                steps[ng++] = it->t_step;
            }
        }
        int32_t want[512][3];
        const int nw = hf_rope_index(ids, n, (const int(*)[3])grids, steps, want);
        int32_t got[512 * VL_POS_SECTIONS], next = -1;
        REQUIRE(vl_mrope_positions(cases[c].items, cases[c].n_items, VL_MROPE_HF, 0, got, 512, &next) == VLLM_OK, "%s",
                vllm_last_error());
        int diff = nw != n;
        for (int i = 0; i < n && i < nw; i++) {
            for (int k = 0; k < 3; k++) diff += got[i * VL_POS_SECTIONS + k] != want[i][k];
            diff += got[i * VL_POS_SECTIONS + 3] != want[i][0]; /* e = t */
        }
        int32_t mx = 0;
        for (int i = 0; i < nw; i++)
            for (int k = 0; k < 3; k++) mx = want[i][k] > mx ? want[i][k] : mx;
        printf("  transformers rule, %s: %d tokens, %d positions differ, next %d (rebuild %d)\n", cases[c].name, n, diff,
               next, mx + 1);
        CHECK(diff == 0, "%s: positions differ from the get_rope_index rebuild", cases[c].name);
        CHECK(next == mx + 1, "%s: next %d, rebuild %d", cases[c].name, next, mx + 1);
    }
    /* bad layouts are refused, naming the item */
    vl_mrope_item bad[2] = {{.n_text = 2}, {.grid_t = 1, .grid_h = 0, .grid_w = 3}};
    int32_t buf[64], next;
    CHECK(vl_mrope_positions(bad, 2, VL_MROPE_HF, 0, buf, 16, &next) == VLLM_ERR_INVALID_ARG &&
              strstr(vllm_last_error(), "item 1"),
          "zero grid accepted: %s", vllm_last_error());
    vl_mrope_item big[1] = {{.grid_t = 2, .grid_h = 4, .grid_w = 4}};
    CHECK(vl_mrope_positions(big, 1, VL_MROPE_HF, 0, buf, 16, &next) == VLLM_ERR_INVALID_ARG, "overflowing layout");
}

/* ---- 3. context shift with M-RoPE ------------------------------------------------------ */

/* Layout: text A (8) | visual block (grid 3x4, random rows) | text B (6).
 * Remove a span; positions and layer-0 K/V must equal a fresh evaluation
 * of the layout without it. */
static void check_shift(vl_llm *m, vl_pool *pool, const char *what)
{
    const int E = m->hp.n_embd, W = E * (1 + m->hp.n_deepstack);
    int32_t A[8] = {4097, 385, 263, 198, 46, 1198, 2402, 4105}, B[6] = {4106, 257, 640, 4098, 198, 4097};
    float *vis = malloc((size_t)12 * W * sizeof *vis);
    unsigned r = 12345;
    for (int i = 0; i < 12 * W; i++) {
        r = r * 1103515245u + 12345u;
        vis[i] = ((float)(r >> 8) / (float)(1u << 24) - 0.5f) * 0.1f;
    }
    const vl_mrope_rule rule = m->hp.llamacpp_compat ? VL_MROPE_LLAMACPP : VL_MROPE_HF;

    /* variant 0: remove A[2..5) (text); 1: remove the whole block; 2: read
     * the block, remove it, insert it back (the offload tier's round trip) */
    for (int variant = 0; variant < 3; variant++) {
        vl_llm_state *s1 = NULL, *s2 = NULL;
        REQUIRE(vl_llm_state_new(m, 64, VL_KV_F32, &s1) == VLLM_OK && vl_llm_state_new(m, 64, VL_KV_F32, &s2) == VLLM_OK,
                "%s", vllm_last_error());
        /* full layout */
        vl_mrope_item grid = {.grid_t = 1, .grid_h = 3, .grid_w = 4};
        int32_t vpos[12 * VL_POS_SECTIONS], next;
        REQUIRE(vl_llm_eval(m, s1, pool, A, NULL, 8, 0) == VLLM_OK, "%s", vllm_last_error());
        REQUIRE(vl_mrope_positions(&grid, 1, rule, vl_llm_state_next_pos(s1), vpos, 12, &next) == VLLM_OK, "%s",
                vllm_last_error());
        vl_llm_batch vb = {.n = 12, .embd = vis, .embd_stride = W, .pos = vpos, .deepstack = m->hp.n_deepstack ? vis + E : NULL};
        REQUIRE(vl_llm_eval_batch(m, s1, pool, &vb, 0) == VLLM_OK, "%s", vllm_last_error());
        CHECK(vl_llm_state_next_pos(s1) == next, "%s: next position %d after the block, layout says %d", what,
              vl_llm_state_next_pos(s1), next);
        REQUIRE(vl_llm_eval(m, s1, pool, B, NULL, 6, 0) == VLLM_OK, "%s", vllm_last_error());
        if (variant == 0) REQUIRE(vl_llm_state_remove(s1, 2, 5) == VLLM_OK, "%s", vllm_last_error());
        else REQUIRE(vl_llm_state_remove(s1, 8, 20) == VLLM_OK, "%s", vllm_last_error());
        if (variant == 2) {
            /* the block comes back from a copy taken before the removal */
            vl_llm_state *s0 = NULL;
            REQUIRE(vl_llm_state_new(m, 64, VL_KV_F32, &s0) == VLLM_OK, "%s", vllm_last_error());
            REQUIRE(vl_llm_eval(m, s0, pool, A, NULL, 8, 0) == VLLM_OK, "%s", vllm_last_error());
            REQUIRE(vl_mrope_positions(&grid, 1, rule, vl_llm_state_next_pos(s0), vpos, 12, &next) == VLLM_OK, "%s",
                    vllm_last_error());
            REQUIRE(vl_llm_eval_batch(m, s0, pool, &vb, 0) == VLLM_OK, "%s", vllm_last_error());
            REQUIRE(vl_llm_eval(m, s0, pool, B, NULL, 6, 0) == VLLM_OK, "%s", vllm_last_error());
            void *buf = malloc(vl_llm_state_span_bytes(s0, 12));
            REQUIRE(vl_llm_state_read(s0, 8, 20, buf) == VLLM_OK, "%s", vllm_last_error());
            CHECK(vl_llm_state_insert(s1, 8, 12, buf, 8) == VLLM_OK, "insert: %s", vllm_last_error());
            free(buf);
            vl_llm_state_free(s0);
        }

        /* fresh: the same layout without the span */
        int32_t A2[8];
        int nA = 0;
        for (int i = 0; i < 8; i++)
            if (variant >= 1 || i < 2 || i >= 5) A2[nA++] = A[i];
        REQUIRE(vl_llm_eval(m, s2, pool, A2, NULL, nA, 0) == VLLM_OK, "%s", vllm_last_error());
        if (variant != 1) {
            REQUIRE(vl_mrope_positions(&grid, 1, rule, vl_llm_state_next_pos(s2), vpos, 12, &next) == VLLM_OK, "%s",
                    vllm_last_error());
            REQUIRE(vl_llm_eval_batch(m, s2, pool, &vb, 0) == VLLM_OK, "%s", vllm_last_error());
        }
        REQUIRE(vl_llm_eval(m, s2, pool, B, NULL, 6, 0) == VLLM_OK, "%s", vllm_last_error());
        CHECK(vl_llm_state_n_past(s1) == vl_llm_state_n_past(s2) && vl_llm_state_next_pos(s1) == vl_llm_state_next_pos(s2),
              "%s: rows %d/%d, next %d/%d", what, vl_llm_state_n_past(s1), vl_llm_state_n_past(s2),
              vl_llm_state_next_pos(s1), vl_llm_state_next_pos(s2));
        int pos_same = 1;
        for (int i = 0; i < vl_llm_state_n_past(s1); i++) {
            int32_t p1[4], p2[4];
            vl_llm_state_row_pos(s1, i, p1);
            vl_llm_state_row_pos(s2, i, p2);
            pos_same &= !memcmp(p1, p2, sizeof p1);
        }
        CHECK(pos_same, "%s: shifted positions differ from a fresh layout", what);
        /* In layer 0 a key depends only on its input row and positions, so
         * every layer-0 key and value must equal the fresh evaluation's, to
         * the rounding of the second rotation (later layers saw the removed
         * rows, as in test_kv_shift) */
        double err = 0;
        const int hd = m->hp.head_dim;
        for (int h = 0; h < m->hp.n_head_kv; h++)
            for (int which = 0; which < 2; which++) {
                const float *k1 = vl_llm_state_kv_head(s1, 0, h, which, NULL), *k2 = vl_llm_state_kv_head(s2, 0, h, which, NULL);
                for (int i = 0; i < vl_llm_state_n_past(s2) * hd; i++) err = fmax(err, fabs((double)k1[i] - k2[i]));
            }
        printf("  shift (%s), removing %s: layer-0 K/V max |diff| vs fresh = %.3g\n", what,
               variant == 2 ? "and re-inserting the visual block" : variant ? "the visual block" : "a text span", err);
        CHECK(err < 1e-5, "%s: shifted layer-0 K/V differ from a fresh evaluation by %.3g", what, err);
        vl_llm_state_free(s1);
        vl_llm_state_free(s2);
    }
    free(vis);
}

/* ---- 4. plain qwen3 and tied output ----------------------------------------------------- */

/* The source model's hyper-parameters and tensors under architecture
 * `arch` (tied: token_embd := output.weight, no output.weight); sections /
 * n_deepstack keys written when given (n_sections > 0, n_ds >= 0). */
typedef struct variant {
    const char *arch;
    int tied;
    const int32_t *sections;
    int n_sections;
    int64_t n_ds;
} variant;

static vllm_status load_variant(const vl_gguf *src, const vl_llm *vl, const variant *v, uint8_t **file, vl_gguf **g,
                                vl_llm **out)
{
    vl_gw *w = vl_gw_new();
    const vl_llm_hparams *hp = &vl->hp;
    char k[128];
#define KEY(x) (snprintf(k, sizeof k, "%s.%s", v->arch, x), k)
    vl_gw_add_str(w, "general.architecture", v->arch);
    vl_gw_add_u32(w, KEY("context_length"), (uint32_t)hp->n_ctx_train);
    vl_gw_add_u32(w, KEY("embedding_length"), (uint32_t)hp->n_embd);
    vl_gw_add_u32(w, KEY("block_count"), (uint32_t)hp->n_layer);
    vl_gw_add_u32(w, KEY("feed_forward_length"), (uint32_t)hp->n_ff);
    vl_gw_add_u32(w, KEY("attention.head_count"), (uint32_t)hp->n_head);
    vl_gw_add_u32(w, KEY("attention.head_count_kv"), (uint32_t)hp->n_head_kv);
    vl_gw_add_u32(w, KEY("attention.key_length"), (uint32_t)hp->head_dim);
    vl_gw_add_u32(w, KEY("attention.value_length"), (uint32_t)hp->head_dim);
    vl_gw_add_f32(w, KEY("rope.freq_base"), hp->rope.base);
    vl_gw_add_f32(w, KEY("attention.layer_norm_rms_epsilon"), hp->rms_eps);
    if (v->n_sections > 0) vl_gw_add_arr(w, KEY("rope.dimension_sections"), VL_GGUF_INT32, (uint64_t)v->n_sections, v->sections);
    if (v->n_ds >= 0) vl_gw_add_u32(w, KEY("n_deepstack_layers"), (uint32_t)v->n_ds);
#undef KEY
    const vl_gguf_tensor *outw = vl_gguf_find_tensor(src, "output.weight");
    REQUIRE(outw != NULL, "the source model has no output.weight");
    for (uint64_t i = 0; i < src->n_tensors; i++) {
        const vl_gguf_tensor *t = &src->tensors[i];
        if (v->tied && !strcmp(t->name, "output.weight")) continue;
        const vl_gguf_tensor *data = v->tied && !strcmp(t->name, "token_embd.weight") ? outw : t;
        REQUIRE(vl_gw_add_tensor(w, t->name, data->type, t->n_dims, t->ne, data->data) == 0, "tensor %s", t->name);
    }
    size_t size;
    REQUIRE(vl_gw_to_memory(w, file, &size) == 0, "serialize");
    vl_gw_free(w);
    REQUIRE(vl_gguf_open_memory(*file, size, g) == VLLM_OK, "%s", vllm_last_error());
    *out = NULL;
    return vl_llm_load(*g, out);
}

static vl_llm *derive(const vl_gguf *src, const vl_llm *vl, int tied, uint8_t **file, vl_gguf **g)
{
    const variant v = {.arch = "qwen3", .tied = tied, .n_ds = -1};
    vl_llm *m = NULL;
    REQUIRE(load_variant(src, vl, &v, file, g, &m) == VLLM_OK, "%s", vllm_last_error());
    return m;
}

/* Malformed M-RoPE metadata and misused batches: clear errors naming the
 * key or value, nothing loaded or evaluated. */
static void check_bad_input(const vl_gguf *src, const vl_llm *vl, vl_pool *pool)
{
    const int32_t too_many[4] = {8, 4, 4, 8}, negative[4] = {8, -1, 4, 0}, good[4] = {8, 4, 4, 0};
    const struct {
        variant v;
        const char *needle;
    } bad[] = {
        {{.arch = "qwen3vl", .sections = too_many, .n_sections = 4, .n_ds = 2}, "dimension_sections"},
        {{.arch = "qwen3vl", .sections = negative, .n_sections = 4, .n_ds = 2}, "-1"},
        {{.arch = "qwen3vl", .n_ds = 2}, "dimension_sections"},
        {{.arch = "qwen3vl", .sections = good, .n_sections = 2, .n_ds = 2}, "dimension_sections"},
        {{.arch = "qwen3vl", .sections = good, .n_sections = 4, .n_ds = 99}, "n_deepstack_layers"},
        {{.arch = "qwen2vl", .sections = good, .n_sections = 4, .n_ds = -1}, "attn_q.bias"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        uint8_t *file = NULL;
        vl_gguf *g = NULL;
        vl_llm *m = NULL;
        vllm_status st = load_variant(src, vl, &bad[i].v, &file, &g, &m);
        /* qwen2vl: biases are optional, and the file's QK-norm tensors are
         * not an input of that architecture: it loads without them */
        if (!strcmp(bad[i].needle, "attn_q.bias")) {
            CHECK(st == VLLM_OK && m && m->layers[0].q_norm == NULL, "qwen2vl variant: %s", vllm_last_error());
        } else {
            CHECK(st == VLLM_ERR_FORMAT && !m && strstr(vllm_last_error(), bad[i].needle),
                  "bad case %zu: status %d, message '%s' (want '%s')", i, st, vllm_last_error(), bad[i].needle);
        }
        vl_llm_free(m);
        vl_gguf_close(g);
        free(file);
    }
    vl_llm_state *st = NULL;
    REQUIRE(vl_llm_state_new(vl, 16, VL_KV_F32, &st) == VLLM_OK, "%s", vllm_last_error());
    const int E = vl->hp.n_embd;
    float rows[2 * 64 * 4] = {0};
    int32_t pos[2 * VL_POS_SECTIONS] = {0, 0, 0, 0, 1, 1, -5, 1};
    vl_llm_batch b = {.n = 2, .embd = rows, .pos = pos};
    CHECK(E <= 64 && vl_llm_eval_batch(vl, st, pool, &b, 1) == VLLM_ERR_INVALID_ARG && strstr(vllm_last_error(), "-5"),
          "negative position accepted: %s", vllm_last_error());
    b = (vl_llm_batch){.n = 2, .embd = rows, .embd_stride = E, .deepstack = rows + E};
    CHECK(vl_llm_eval_batch(vl, st, pool, &b, 1) == VLLM_ERR_INVALID_ARG && strstr(vllm_last_error(), "deepstack"),
          "deepstack rows that do not fit the stride accepted: %s", vllm_last_error());
    b = (vl_llm_batch){.n = 2, .embd = rows, .embd_stride = E - 1};
    CHECK(vl_llm_eval_batch(vl, st, pool, &b, 1) == VLLM_ERR_INVALID_ARG && strstr(vllm_last_error(), "stride"),
          "short stride accepted: %s", vllm_last_error());
    CHECK(vl_llm_state_n_past(st) == 0 && vl_llm_state_next_pos(st) == 0, "a refused batch changed the state");
    vl_llm_state_free(st);
}

/* Logits of the reference sequence, tokens given as embedding rows of `embd_src` (the untied input table). */
static float *seq_logits(const vl_llm *m, const vl_llm *embd_src, const int32_t *ids, int n, vl_pool *pool)
{
    const int E = m->hp.n_embd;
    float *rows = malloc((size_t)n * E * sizeof *rows);
    for (int i = 0; i < n; i++)
        vl_dequantize_row(embd_src->tok_embd.type,
                          (const uint8_t *)embd_src->tok_embd.data + (size_t)ids[i] * embd_src->tok_embd.row_bytes,
                          rows + (size_t)i * E, E);
    vl_llm_state *st = NULL;
    REQUIRE(vl_llm_state_new(m, n + 4, VL_KV_F32, &st) == VLLM_OK, "%s", vllm_last_error());
    REQUIRE(vl_llm_eval(m, st, pool, NULL, rows, n, 2) == VLLM_OK, "%s", vllm_last_error());
    float *lg = malloc((size_t)n * m->hp.n_vocab * sizeof *lg);
    memcpy(lg, vl_llm_logits(st, NULL), (size_t)n * m->hp.n_vocab * sizeof *lg);
    vl_llm_state_free(st);
    free(rows);
    return lg;
}

static void check_qwen3(const char *set, const char *model_path, vl_pool *pool)
{
    char path[2400];
    snprintf(path, sizeof path, "%s/ref/text/F32_ref_seq.json", set);
    json *j = json_load(path);
    REQUIRE(j != NULL, "cannot read %s", path);
    const json *tj = json_get(j, "token_ids");
    const int n = (int)tj->n;
    int32_t *ids = malloc((size_t)n * sizeof *ids);
    for (int i = 0; i < n; i++) ids[i] = (int32_t)json_num(json_at(tj, i), -1);
    vl_gguf *g0 = NULL;
    vl_llm *vl = load_llm(model_path, 0, &g0); /* model-correct: text e = p */
    const int V = vl->hp.n_vocab;
    snprintf(path, sizeof path, "%s/ref/text/%s", set, json_str(json_get(j, "logits_file"), "?"));
    float *ref = fx_load_raw(path, sizeof(float) * (size_t)V, (size_t)n);
    REQUIRE(ref != NULL, "cannot read %s", path);
    float *base = seq_logits(vl, vl, ids, n, pool);
    for (int tied = 0; tied < 2; tied++) {
        uint8_t *file = NULL;
        vl_gguf *g = NULL;
        vl_llm *q3 = derive(g0, vl, tied, &file, &g);
        CHECK(q3->hp.rope.kind == VL_ROPE_NEOX && q3->layers[0].q_norm && (q3->output.data == q3->tok_embd.data) == tied,
              "qwen3 model not bound as expected");
        float *lg = seq_logits(q3, vl, ids, n, pool);
        const double same = max_abs_diff(lg, base, (size_t)n * V), vs_ref = max_abs_diff(lg, ref, (size_t)n * V);
        printf("  qwen3%s: vs qwen3vl with equal sections %.3g, vs llama.cpp's qwen3vl (e pinned to 0) %.3g\n",
               tied ? " (tied output)" : "", same, vs_ref);
        CHECK(same < 1e-6, "qwen3%s differs from qwen3vl text by %.3g", tied ? " tied" : "", same);
        CHECK(vs_ref < 1e-4, "qwen3%s differs from llama.cpp by %.3g", tied ? " tied" : "", vs_ref);
        free(lg);
        vl_llm_free(q3);
        vl_gguf_close(g);
        free(file);
    }
    check_bad_input(g0, vl, pool);
    /* the default (model-correct) qwen3vl text differs from llama.cpp only
     * by the pinned e section: measurable but small (README 1.3: ~4e-6) */
    const double d = max_abs_diff(base, ref, (size_t)n * V);
    printf("  qwen3vl model-correct text vs llama.cpp: %.3g\n", d);
    CHECK(d > 0 && d < 1e-4, "model-correct qwen3vl vs llama.cpp: %.3g", d);
    free(base);
    free(ref);
    free(ids);
    vl_llm_free(vl);
    vl_gguf_close(g0);
    json_free(j);
}

TEST_MAIN_BEGIN
    char sets[FX_MAX_SETS][FX_SET_PATH];
    const size_t n_sets = fx_qwen_sets(sets);
    vl_pool *pool = vl_pool_create(2);
    int ran = 0;
    for (size_t i = 0; i < n_sets; i++) {
        char models[1100], path[2200];
        const char *set = sets[i];
        snprintf(models, sizeof models, "%s/models", set);
        if (!fx_find_in(models, "-text-F32.gguf", path, sizeof path)) {
            CHECK(0, "no models/*-text-F32.gguf in %s", set);
            continue;
        }
        printf("fixture set %s\n", set);
        vl_gguf *g = NULL;
        vl_llm *m = load_llm(path, 1, &g);
        if (m->hp.rope.kind != VL_ROPE_MROPE && m->hp.rope.kind != VL_ROPE_IMROPE) {
            printf("  %s is not an M-RoPE model, skipped\n", m->hp.arch);
            vl_llm_free(m);
            vl_gguf_close(g);
            continue;
        }
        check_media(set, "image", m, pool);
        check_media(set, "video", m, pool);
        check_shift(m, pool, "llama.cpp positions");
        vl_gguf *g2 = NULL;
        vl_llm *md = load_llm(path, 0, &g2);
        check_shift(md, pool, "transformers positions");
        if (m->hp.rope.kind == VL_ROPE_IMROPE) check_qwen3(set, path, pool);
        vl_llm_free(md);
        vl_gguf_close(g2);
        vl_llm_free(m);
        vl_gguf_close(g);
        ran++;
    }
    check_hf_rule();
    vl_pool_free(pool);
    REQUIRE(ran > 0, "no M-RoPE fixture set found");
TEST_MAIN_END
