/* Media into a session: frames, videos and images become visual tokens
 * evaluated into the context as they arrive, inside an open user turn
 * that the next question closes. What the text around them says, how
 * they are preprocessed and where their positions come from is the model
 * family's business (lib/family): it hands pieces to the sink here.
 *
 * Prompt text is accumulated and tokenized only when visual tokens must
 * follow it (or when the question closes the turn). Visual spans always
 * follow a special token, where the reference tokenizer splits the text
 * anyway, so tokenizing piecewise gives exactly the ids transformers
 * gets from the whole prompt string. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "decode/image.h"
#include "session_internal.h"

vllm_video_params vllm_video_default_params(void)
{
    vllm_video_params p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    return p;
}

/* ---- text accumulation ---------------------------------------------------- */

static vllm_status text_append(vllm_session *s, const char *t, size_t n)
{
    if (s->text_len + n + 1 > s->text_cap) {
        size_t cap = s->text_cap ? s->text_cap : 256;
        while (cap < s->text_len + n + 1) cap *= 2;
        char *p = realloc(s->text, cap);
        if (!p) return vl_error(VLLM_ERR_NOMEM, "out of memory for prompt text");
        s->text = p;
        s->text_cap = cap;
    }
    memcpy(s->text + s->text_len, t, n);
    s->text_len += n;
    s->text[s->text_len] = '\0';
    return VLLM_OK;
}

vllm_status vl_session_text_add(vllm_session *s, const char *t) { return text_append(s, t, strlen(t)); }
#define text_add vl_session_text_add

/* Tokenize and evaluate the accumulated text. */
vllm_status vl_session_flush_text(vllm_session *s)
#define flush_text vl_session_flush_text
{
    if (!s->text_len) return VLLM_OK;
    vl_tokens toks = {0};
    const int first = vl_llm_state_n_past(s->st) == 0;
    vllm_status st = vl_tokenizer_encode(s->model->tok, s->text, s->text_len, first, 1, &toks);
    if (!vllm_is_error(st) && toks.n) st = vl_session_eval(s, toks.ids, NULL, toks.n, 0);
    if (!vllm_is_error(st)) s->stats.n_media_text_tokens += (int64_t)toks.n;
    free(toks.ids);
    if (!vllm_is_error(st)) s->text_len = 0;
    return st;
}

vllm_status vl_grow_floats(float **buf, size_t *cap, size_t n, const char *what)
{
    if (n <= *cap) return VLLM_OK;
    float *p = realloc(*buf, n * sizeof *p);
    if (!p) return vl_error(VLLM_ERR_NOMEM, "out of memory for %s (%zu floats)", what, n);
    *buf = p;
    *cap = n;
    return VLLM_OK;
}

/* ---- the sink the family writes to ------------------------------------------ */

static vllm_status sink_text(void *sp, const char *text) { return text_add(sp, text); }

/* Positions of every cell of the block from where text continues now
 * (the model's own rule, or llama.cpp's in compat mode). */
static vllm_status block_positions(vllm_session *s, const vl_visual_block *b, int32_t **pos)
{
    const int64_t cells = vl_mrope_count(&b->grid, 1);
    if (cells < 0 || b->grid.grid_t != b->n_patches)
        return vl_error(VLLM_ERR_INTERNAL, "visual block of %d patches has grid %dx%dx%d", b->n_patches, b->grid.grid_t,
                        b->grid.grid_h, b->grid.grid_w);
    *pos = malloc((size_t)cells * VL_POS_SECTIONS * sizeof **pos);
    if (!*pos) return vl_error(VLLM_ERR_NOMEM, "out of memory for %lld positions", (long long)cells);
    int32_t next;
    const vl_mrope_rule rule = s->model->llamacpp_compat ? VL_MROPE_LLAMACPP : VL_MROPE_HF;
    vllm_status st = vl_mrope_positions(&b->grid, 1, rule, vl_session_next_pos(s), *pos, cells, &next);
    if (vllm_is_error(st)) free(*pos), *pos = NULL;
    return st;
}

/* Flush the text, then evaluate the block's rows: each kept token at its
 * own cell's position (pruned tokens keep their original (t, h, w)). */
static vllm_status sink_visual(void *sp, const vl_visual_block *b)
{
    vllm_session *s = sp;
    VL_TRY(flush_text(s));
    const int W = vl_vision_n_embd_out(s->model->vision), ds = vl_vision_n_deepstack(s->model->vision) > 0;
    int32_t *all = NULL, *pos = NULL;
    vllm_status st = VLLM_OK;
    if (s->model->family->caps & VL_FAM_MROPE) {
        st = block_positions(s, b, &all);
        const size_t cells = (size_t)b->grid.grid_h * b->grid.grid_w;
        if (!vllm_is_error(st) && !(pos = malloc(cells * VL_POS_SECTIONS * sizeof *pos)))
            st = vl_error(VLLM_ERR_NOMEM, "out of memory");
    }
    for (int k = 0; k < b->n_patches && !vllm_is_error(st); k++) {
        const vl_patch *p = &b->patches[k];
        if (all) {
            const size_t cells = (size_t)b->grid.grid_h * b->grid.grid_w;
            for (int32_t i = 0; i < p->n_tokens; i++) {
                const size_t cell = (size_t)k * cells + (size_t)(p->kept ? p->kept[i] : i);
                memcpy(pos + (size_t)i * VL_POS_SECTIONS, all + cell * VL_POS_SECTIONS, VL_POS_SECTIONS * sizeof *pos);
            }
        }
        const vl_rows r = {.n = (size_t)p->n_tokens, .embd = p->embd, .stride = W, .pos = pos, .deepstack = ds};
        st = vl_session_eval_rows(s, &r, 0);
        if (!vllm_is_error(st)) s->stats.n_visual_tokens += p->n_tokens;
    }
    free(all);
    free(pos);
    return st;
}

vl_sink vl_session_sink(vllm_session *s) { return (vl_sink){sink_text, sink_visual, s}; }

/* ---- turn bookkeeping -------------------------------------------------------- */

/* The system prompt of the conversation's opening: the session's, else
 * the family's default (some templates have one). */
static const char *system_prompt(const vllm_session *s)
{
    return s->system_prompt ? s->system_prompt : s->model->family->default_system(s->model);
}

/* Start a user turn that media goes into; the family writes its opening. */
vllm_status vl_session_open_turn(vllm_session *s, vl_media_kind kind)
{
    vllm_model *m = s->model;
    if (!m->vision)
        return vl_error(VLLM_ERR_STATE, "this model was loaded without an mmproj (vllm_model_params.mmproj_path): it cannot take images or video");
    if (s->turn_open) return VLLM_OK;
    s->armed = 0; /* media ends any generation in progress */
    if (s->pending >= 0) { /* the last answer's final token belongs to the context */
        VL_TRY(vl_session_eval(s, &s->pending, NULL, 1, 0));
        s->pending = -1;
    }
    const int first = vl_llm_state_n_past(s->st) == 0 || s->turns == 0;
    char fixed[256];
    const size_t n = m->family->turn_open(m, first, system_prompt(s), kind, fixed, sizeof fixed);
    char *opening = n < sizeof fixed ? fixed : malloc(n + 1);
    if (!opening) return vl_error(VLLM_ERR_NOMEM, "out of memory");
    if (opening != fixed) m->family->turn_open(m, first, system_prompt(s), kind, opening, n + 1);
    vllm_status st = text_add(s, opening);
    if (opening != fixed) free(opening);
    VL_TRY(st);
    s->turn_open = 1;
    s->turns++;
    return VLLM_OK;
}

vllm_status vl_session_media_close_turn(vllm_session *s, const char *prompt, char **out)
{
    /* A copy: the turn stays open until the question has been evaluated
     * (vl_session_media_turn_closed), so a failed query loses nothing. */
    const vllm_model *m = s->model;
    const size_t tail = m->family->turn_close(m, s->outro_pending, prompt, NULL, 0);
    const size_t n = s->text_len + tail + 1;
    *out = malloc(n);
    if (!*out) return vl_error(VLLM_ERR_NOMEM, "out of memory");
    if (s->text_len) memcpy(*out, s->text, s->text_len);
    m->family->turn_close(m, s->outro_pending, prompt, *out + s->text_len, tail + 1);
    return VLLM_OK;
}

void vl_session_media_turn_closed(vllm_session *s)
{
    s->text_len = 0;
    s->turn_open = 0;
    s->outro_pending = 0;
    s->turns--; /* the query counts this turn */
}

void vl_session_media_reset(vllm_session *s)
{
    s->n_spans = 0;
    s->turn_start = -1;
    s->last_frame_pts = -1;
    s->last_push_pts = -1;
    vl_session_offload_reset(s);
    s->turn_open = 0;
    s->outro_pending = 0;
    s->text_len = 0;
    free(s->pair.u8);
    s->pair.u8 = NULL;
    vl_compress_reset(&s->cmp); /* [compression] no reference frame in an empty context */
}

/* [compression] the session params' settings, used for pushed frames and
 * as the default for videos. */
vllm_status vl_session_media_configure(vllm_session *s, const vllm_session_params *p)
{
    vl_compress_settings c = {p->dedup_threshold, p->prune_rate, p->prune_merge, 0};
    VL_TRY(vl_compress_check(&c, "vllm_session_params"));
    s->cmp_session = c;
    s->cmp.set = c;
    return VLLM_OK;
}

void vl_session_media_free(vllm_session *s)
{
    free(s->spans);
    free(s->text);
    free(s->embd);
    free(s->pix);
    free(s->pair.u8);
    vl_compress_free(&s->cmp);
}

/* ---- encoding ------------------------------------------------------------------ */

vllm_status vl_encode_images(const vllm_model *m, vl_pool *pool, const uint8_t *u8, int n, int w, int h, float **pix,
                             size_t *pix_cap, float **embd, size_t *embd_cap)
{
    vl_vision *v = m->vision;
    const int dyn = vl_vision_is_dynamic(v), E = vl_vision_n_embd_out(v);
    const size_t plane = (size_t)w * h;
    const int64_t tokens = dyn ? (int64_t)(w / vl_vision_align(v)) * (h / vl_vision_align(v)) : (int64_t)n * vl_vision_tokens_per_tile(v);
    VL_TRY(vl_grow_floats(pix, pix_cap, (size_t)n * 3 * plane, "pixels"));
    VL_TRY(vl_grow_floats(embd, embd_cap, (size_t)tokens * E, "visual embeddings"));
    float mean[3], std[3];
    vl_vision_norm(v, mean, std);
    vl_normalize_planes(u8, (size_t)n, plane, mean, std, *pix);
    /* dynamic towers: one temporal patch of n (1 or 2) frames; tiles: n tiles */
    return dyn ? vl_vision_encode_frames(v, pool, *pix, n, w, h, *embd) : vl_vision_encode(v, pool, *pix, n, *embd);
}

vllm_status vl_session_encode(vllm_session *s, vl_pool *pool, const uint8_t *u8, int n, int w, int h, float **out)
{
    const double t0 = vl_now_seconds();
    VL_TRY(vl_encode_images(s->model, pool, u8, n, w, h, &s->pix, &s->pix_cap, &s->embd, &s->embd_cap));
    s->stats.encode_seconds += vl_now_seconds() - t0;
    s->stats.n_frames_encoded += n;
    *out = s->embd;
    return VLLM_OK;
}

/* The family's encode callback for stills. */
static vllm_status encode_cb(void *sp, const uint8_t *u8, int n, int w, int h, const float **out)
{
    vllm_session *s = sp;
    float *e = NULL;
    VL_TRY(vl_session_encode(s, s->pool, u8, n, w, h, &e));
    *out = e;
    return VLLM_OK;
}

/* Tokens of one encoded patch of w × h. */
int32_t vl_patch_tokens(const vllm_model *m, int w, int h)
{
    vl_vision *v = m->vision;
    if (!vl_vision_is_dynamic(v)) return vl_vision_tokens_per_tile(v);
    return (w / vl_vision_align(v)) * (h / vl_vision_align(v));
}

/* [compression] pruning hook: keep (or merge into) the tokens of the
 * patch in `embd` most changed since the previous kept one; they are
 * compacted to the front. *n_vis: the tokens left; *kept: their cells
 * (NULL when all are kept; valid until the next call), so M-RoPE
 * families place each at its original (t, h, w). */
vllm_status vl_session_prune(vllm_session *s, float *embd, int n_tok, int *n_vis, const int32_t **kept)
{
    VL_TRY(vl_compress_tokens(&s->cmp, embd, n_tok, vl_vision_n_embd_out(s->model->vision), n_vis));
    s->stats.n_tokens_pruned += s->cmp.last_pruned;
    *kept = *n_vis < n_tok ? s->cmp.kept : NULL;
    return VLLM_OK;
}

/* ---- evictable spans ---------------------------------------------------------- */

/* Room for `need` more positions plus the reserve kept for the question
 * and answer: evict the oldest live frames (whole spans: their text and
 * visual tokens) and shift the rest of the context down (keys
 * re-rotated, every position section), so an endless stream runs in
 * bounded memory. */
int32_t vl_session_reserve(const vllm_session *s)
{
    const int32_t n_ctx = vl_llm_state_n_ctx(s->st);
    return n_ctx / 4 < 512 ? n_ctx / 4 : 512;
}

vllm_status vl_session_evict_until(vllm_session *s, int32_t free_positions)
{
    const int32_t n_ctx = vl_llm_state_n_ctx(s->st);
    while (n_ctx - vl_llm_state_n_past(s->st) < free_positions) {
        int i = 0; /* the oldest span not reloaded for the question at hand */
        while (i < s->n_spans && s->spans[i].pinned) i++;
        if (i == s->n_spans) break;
        VL_TRY(vl_session_evict_span(s, i));
    }
    return VLLM_OK;
}

vllm_status vl_session_make_room(vllm_session *s, int32_t need)
{
    const int32_t n_ctx = vl_llm_state_n_ctx(s->st);
    VL_TRY(vl_session_evict_until(s, need + vl_session_reserve(s)));
    if (vl_llm_state_n_past(s->st) + need > n_ctx) return vl_session_context_full(s, "a pushed frame", need);
    return VLLM_OK;
}

vllm_status vl_session_spans_reserve(vllm_session *s)
{
    if (s->n_spans < s->spans_cap) return VLLM_OK;
    int cap = s->spans_cap ? 2 * s->spans_cap : 64;
    vl_span *p = realloc(s->spans, (size_t)cap * sizeof *p);
    if (!p) return vl_error(VLLM_ERR_NOMEM, "out of memory");
    s->spans = p;
    s->spans_cap = cap;
    return VLLM_OK;
}

static vllm_status add_span(vllm_session *s, int32_t start, int32_t end, double pts, vl_span_kind kind)
{
    VL_TRY(vl_session_spans_reserve(s));
    s->spans[s->n_spans++] = (vl_span){.start = start, .end = end, .pts = pts, .block = -1, .kind = kind};
    return VLLM_OK;
}

/* The turn's time sorts after the frames it was asked about, so a frame
 * reloaded from before the question goes before the question. */
vllm_status vl_session_close_turn_span(vllm_session *s, int32_t end)
{
    if (s->turn_start < 0) return VLLM_OK;
    const int32_t start = s->turn_start;
    s->turn_start = -1;
    if (end <= start) return VLLM_OK;
    const double pts = s->last_frame_pts >= 0 ? nextafter(s->last_frame_pts, INFINITY) : -1.0;
    return add_span(s, start, end, pts, VL_SPAN_TURN);
}

/* ---- live frames ------------------------------------------------------------------ */

vllm_status vl_session_live_size(const vllm_session *s, int W, int H, int *w, int *h)
{
    /* a live patch is sized as a clip of one temporal patch */
    return s->model->family->frame_size(s->model, s->model->family->frames_per_unit, W, H, w, h);
}

static vllm_status append_encoded(vllm_session *s, int32_t n_tokens, int grid_h, int grid_w, double pts,
                                  double pts_last, int n_frames)
{
    const vllm_model *m = s->model;
    /* room first: opening the turn may evaluate the last answer's final token */
    VL_TRY(vl_session_make_room(s, n_tokens + 32));
    VL_TRY(vl_session_open_turn(s, VL_MEDIA_FRAME));
    int n_vis;
    const int32_t *kept;
    VL_TRY(vl_session_prune(s, s->embd, n_tokens, &n_vis, &kept));
    /* A live patch is its own span of positions, so it can be evicted
     * whole later: text before it is evaluated first, its closing text
     * right after it. (A video file keeps transformers' exact
     * tokenization instead, which joins text across frames.) */
    VL_TRY(flush_text(s));
    VL_TRY(vl_session_make_room(s, n_vis + 24)); /* labels, markers, timestamps are ~12 tokens */
    const int32_t start = vl_llm_state_n_past(s->st);
    /* the last question and answer (with this turn's opening text) end here */
    VL_TRY(vl_session_close_turn_span(s, start));
    /* index0/index1: the frames' times in ms (the family's timestamps) */
    const vl_patch p = {.embd = s->embd, .n_tokens = n_vis, .kept = kept, .pts = pts, .n_frames = n_frames,
                        .index0 = llround(pts * 1000), .index1 = llround(pts_last * 1000)};
    const vl_sink sink = vl_session_sink(s);
    VL_TRY(m->family->place_live(m, &p, grid_h, grid_w, &sink));
    s->outro_pending = 1;
    VL_TRY(flush_text(s));
    VL_TRY(add_span(s, start, vl_llm_state_n_past(s->st), pts, VL_SPAN_FRAME));
    s->last_frame_pts = pts_last;
    return VLLM_OK;
}

vllm_status vl_session_append_encoded(vllm_session *s, int32_t n_tokens, int grid_h, int grid_w, double pts,
                                      double pts_last, int n_frames)
{
    s->media_depth++;
    vllm_status st = append_encoded(s, n_tokens, grid_h, grid_w, pts, pts_last, n_frames);
    s->media_depth--;
    return st;
}

/* Encode n frames of w × h (u8 planar, one after another) and append them. */
static vllm_status encode_append(vllm_session *s, const uint8_t *u8, int n, int w, int h, double pts, double pts_last)
{
    float *embd;
    VL_TRY(vl_session_encode(s, s->pool, u8, n, w, h, &embd));
    const int a = vl_vision_is_dynamic(s->model->vision) ? vl_vision_align(s->model->vision) : 0;
    return vl_session_append_encoded(s, vl_patch_tokens(s->model, w, h), a ? h / a : 0, a ? w / a : 0, pts, pts_last, n);
}

vllm_status vl_session_flush_pair(vllm_session *s)
{
    if (!s->pair.u8) return VLLM_OK;
    vl_pending_frame f = s->pair;
    s->pair.u8 = NULL;
    vllm_status st = encode_append(s, f.u8, 1, f.w, f.h, f.pts, f.pts);
    free(f.u8);
    return st;
}

vllm_status vl_session_preprocess_live(const vllm_session *s, const vl_rgb8 *img, uint8_t **u8, int *w, int *h)
{
    VL_TRY(vl_session_live_size(s, img->width, img->height, w, h));
    *u8 = malloc((size_t)3 * *w * *h);
    if (!*u8) return vl_error(VLLM_ERR_NOMEM, "out of memory for a %dx%d frame", *w, *h);
    vllm_status st = s->model->family->preprocess_frame(s->model, img, *w, *h, *u8);
    if (vllm_is_error(st)) free(*u8), *u8 = NULL;
    return st;
}

vllm_status vl_session_append_frame(vllm_session *s, const vl_rgb8 *img, double pts)
{
    /* [compression] dedup hook: a near-duplicate of the last kept frame
     * never reaches the encoder; its time passes without a label, so the
     * kept frames keep their true stamps (a dropped frame's would-be
     * partner waits for the next kept frame). */
    int dup = 0;
    VL_TRY(vl_compress_dedup(&s->cmp, img->data, img->width, img->height, img->stride, &dup));
    if (dup) {
        s->stats.n_frames_deduped++;
        return VLLM_OK;
    }
    uint8_t *u8 = NULL;
    int w, h;
    const double t0 = vl_now_seconds();
    vllm_status st = vl_session_preprocess_live(s, img, &u8, &w, &h);
    s->stats.decode_seconds += vl_now_seconds() - t0;
    VL_TRY(st);
    if (s->model->family->frames_per_unit == 1) {
        st = encode_append(s, u8, 1, w, h, pts, pts);
        free(u8);
        return st;
    }
    if (s->pair.u8 && (s->pair.w != w || s->pair.h != h)) { /* a new size cannot share a patch */
        st = vl_session_flush_pair(s);
        if (vllm_is_error(st)) {
            free(u8);
            return st;
        }
    }
    if (!s->pair.u8) { /* the first of a pair waits for its partner */
        s->pair = (vl_pending_frame){u8, w, h, pts};
        return VLLM_OK;
    }
    const size_t plane = (size_t)3 * w * h;
    uint8_t *two = malloc(2 * plane);
    if (!two) {
        free(u8);
        return vl_error(VLLM_ERR_NOMEM, "out of memory for a frame pair");
    }
    memcpy(two, s->pair.u8, plane);
    memcpy(two + plane, u8, plane);
    const double pts0 = s->pair.pts;
    free(s->pair.u8);
    s->pair.u8 = NULL;
    free(u8);
    st = encode_append(s, two, 2, w, h, pts0, pts);
    free(two);
    return st;
}

/* ---- stills ------------------------------------------------------------------------- */

/* A failed or cancelled push (video or image) leaves the session as it
 * was: what is remembered here is everything a push changes besides the
 * statistics (which count the work done, failed or not).
 *  - the context: positions evaluated by the push are truncated away
 *    (including the last answer's final token, evaluated when the media
 *    turn opened: it is pending again);
 *  - the open turn: its unevaluated text, whether it is open, the
 *    "\n\n" outro flag and the turn count.
 * A generation in progress stays ended (media ends it before anything
 * is evaluated, and the logits it would continue from are gone).
 * Media pushes are not live frames: they add no evictable spans. A video
 * also resets the [compression] reference frame, so the next pushed frame
 * is kept whole. */
vllm_status vl_media_undo_save(const vllm_session *s, vl_media_undo *u)
{
    *u = (vl_media_undo){vl_llm_state_n_past(s->st), s->turn_open, s->outro_pending, s->turns, s->pending, NULL, s->text_len};
    if (!u->text_len) return VLLM_OK;
    u->text = malloc(u->text_len);
    if (!u->text) return vl_error(VLLM_ERR_NOMEM, "out of memory");
    memcpy(u->text, s->text, u->text_len);
    return VLLM_OK;
}

/* After the push returned `st`: on error put the session back; either way
 * release `u`. */
void vl_media_undo_finish(vllm_session *s, vl_media_undo *u, vllm_status st)
{
    if (vllm_is_error(st)) {
        s->batch_n = 0;
        vl_llm_state_truncate(s->st, u->n_past);
        s->has_logits = 0;
        s->text_len = 0;
        /* text_append cannot fail here: the buffer already held this text */
        if (u->text) (void)text_append(s, u->text, u->text_len);
        s->turn_open = u->turn_open, s->outro_pending = u->outro_pending, s->turns = u->turns, s->pending = u->pending;
    }
    free(u->text);
}


static vllm_status push_image(vllm_session *s, const char *path)
{
    vllm_model *m = s->model;
    if (!m->vision) return vl_error(VLLM_ERR_STATE, "this model was loaded without an mmproj: it cannot take images");
    VL_TRY(vl_session_flush_pair(s)); /* a live frame waiting for its partner goes first */
    vl_image img;
    memset(&img, 0, sizeof img);
    const double t0 = vl_now_seconds();
    VL_TRY(vl_image_load(path, &img));
    s->stats.decode_seconds += vl_now_seconds() - t0;
    const vl_rgb8 rgb = {img.data, img.width, img.height, img.stride};
    vllm_status st = vl_session_open_turn(s, VL_MEDIA_IMAGE);
    const vl_sink sink = vl_session_sink(s);
    if (!vllm_is_error(st)) st = m->family->image(m, &rgb, s, encode_cb, &sink);
    vl_image_free(&img);
    return st;
}

vllm_status vl_sess_push_image(vllm_session *s, const char *path)
{
    if (!s) return vl_error(VLLM_ERR_INVALID_ARG, "vllm_session_push_image: session is NULL");
    if (!path) return vl_session_fail(s, vl_error(VLLM_ERR_INVALID_ARG, "vllm_session_push_image: path is NULL"));
    atomic_store(&s->cancel, 0);
    vl_media_undo undo;
    vllm_status st = vl_media_undo_save(s, &undo);
    if (vllm_is_error(st)) return vl_session_fail(s, st);
    s->media_depth++;
    st = push_image(s, path);
    s->media_depth--;
    vl_media_undo_finish(s, &undo, st);
    return vllm_is_error(st) ? vl_session_fail(s, st) : VLLM_OK;
}
