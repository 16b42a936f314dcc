/* Media into a session: frames, videos and images become visual tokens
 * evaluated into the context as they arrive, inside an open user turn
 * that the next question closes.
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
#include "decode/video.h"
#include "compression/budget.h"
#include "compression/token_prune.h"
#include "decoder/chat.h"
#include "decoder/video_prompt.h"
#include "encoder/preprocess.h"
#include "session_internal.h"

#define FAKE "<fake_token_around_image>"
#define GLOBAL "<global-img>"

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

static vllm_status text_add(vllm_session *s, const char *t) { return text_append(s, t, strlen(t)); }

/* Tokenize and evaluate the accumulated text. */
static vllm_status flush_text(vllm_session *s)
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

static vllm_status grow_floats(float **buf, size_t *cap, size_t n, const char *what)
{
    if (n <= *cap) return VLLM_OK;
    float *p = realloc(*buf, n * sizeof *p);
    if (!p) return vl_error(VLLM_ERR_NOMEM, "out of memory for %s (%zu floats)", what, n);
    *buf = p;
    *cap = n;
    return VLLM_OK;
}

/* ---- turn bookkeeping -------------------------------------------------------- */

/* Start a user turn that media goes into. `space`: the chat template puts
 * "User: " before a video and "User:" before an image (transformers'
 * template: ':' when the first content item is an image, ': ' otherwise). */
vllm_status vl_session_open_turn(vllm_session *s, int space)
{
    vllm_model *m = s->model;
    if (!m->vision)
        return vl_error(VLLM_ERR_STATE, "this model was loaded without an mmproj (vllm_model_params.mmproj_path): it cannot take images or video");
    if (m->chat != VL_CHAT_SMOLVLM)
        return vl_error(VLLM_ERR_UNSUPPORTED, "media prompts are implemented for the SmolVLM chat format only (this model uses %s)",
                        vl_chat_format_name(m->chat));
    if (s->turn_open) return VLLM_OK;
    s->armed = 0; /* media ends any generation in progress */
    if (s->pending >= 0) { /* the last answer's final token belongs to the context */
        VL_TRY(vl_session_eval(s, &s->pending, NULL, 1, 0));
        s->pending = -1;
    }
    const int first = vl_llm_state_n_past(s->st) == 0 || s->turns == 0;
    if (first) {
        char fixed[256];
        const size_t n = vl_chat_opening(m->chat, s->system_prompt, fixed, sizeof fixed);
        char *opening = n < sizeof fixed ? fixed : malloc(n + 1);
        if (!opening) return vl_error(VLLM_ERR_NOMEM, "out of memory");
        if (opening != fixed) vl_chat_opening(m->chat, s->system_prompt, opening, n + 1);
        vllm_status st = text_add(s, opening);
        if (opening != fixed) free(opening);
        VL_TRY(st);
    }
    VL_TRY(text_add(s, first ? "User:" : "<end_of_utterance>\nUser:"));
    if (space) VL_TRY(text_add(s, " "));
    s->turn_open = 1;
    s->turns++;
    return VLLM_OK;
}

vllm_status vl_session_media_close_turn(vllm_session *s, const char *prompt, char **out)
{
    /* A copy: the turn stays open until the question has been evaluated
     * (vl_session_media_turn_closed), so a failed query loses nothing. */
    const char *outro = s->outro_pending ? VL_VIDEO_OUTRO : "", *tail = "<end_of_utterance>\nAssistant:";
    const size_t n = s->text_len + strlen(outro) + strlen(prompt) + strlen(tail) + 1;
    *out = malloc(n);
    if (!*out) return vl_error(VLLM_ERR_NOMEM, "out of memory");
    snprintf(*out, n, "%.*s%s%s%s", (int)s->text_len, s->text ? s->text : "", outro, prompt, tail);
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
    vl_compress_free(&s->cmp);
}

/* ---- encoding and evaluation --------------------------------------------------- */

/* Encode n_tiles planar u8 tiles into s->embd. */
vllm_status vl_session_encode_tiles(vllm_session *s, const uint8_t *u8, int n_tiles)
{
    vl_vision *v = s->model->vision;
    const int S = vl_vision_image_size(v), T = vl_vision_tokens_per_tile(v), E = vl_vision_n_embd_out(v);
    VL_TRY(grow_floats(&s->pix, &s->pix_cap, (size_t)n_tiles * 3 * S * S, "pixels"));
    VL_TRY(grow_floats(&s->embd, &s->embd_cap, (size_t)n_tiles * T * E, "visual embeddings"));
    float mean[3], std[3];
    vl_vision_norm(v, mean, std);
    vl_normalize_planar(u8, (size_t)n_tiles, S, mean, std, s->pix);
    const double t0 = vl_now_seconds();
    VL_TRY(vl_vision_encode(v, s->pool, s->pix, n_tiles, s->embd));
    s->stats.encode_seconds += vl_now_seconds() - t0;
    s->stats.n_frames_encoded += n_tiles;
    return VLLM_OK;
}

/* Flush the text, then evaluate n rows of visual embeddings. */
static vllm_status eval_visual(vllm_session *s, const float *embd, int n)
{
    VL_TRY(flush_text(s));
    VL_TRY(vl_session_eval(s, NULL, embd, (size_t)n, 0));
    s->stats.n_visual_tokens += n;
    return VLLM_OK;
}

/* Dedup, preprocess and encode one frame into s->embd; *dup = 1 when it
 * is a near-duplicate of the last kept frame (nothing encoded). */
static vllm_status encode_frame(vllm_session *s, const vl_rgb8 *img, int *dup)
{
    vl_vision *v = s->model->vision;
    const int S = vl_vision_image_size(v);
    /* [compression] dedup hook: a near-duplicate of the last kept frame
     * never reaches the encoder; its time passes without a label, so the
     * kept frames keep their true "Frame from MM:SS:" stamps. */
    VL_TRY(vl_compress_dedup(&s->cmp, img->data, img->width, img->height, img->stride, dup));
    if (*dup) {
        s->stats.n_frames_deduped++;
        return VLLM_OK;
    }
    uint8_t *tile = malloc((size_t)3 * S * S);
    if (!tile) return vl_error(VLLM_ERR_NOMEM, "out of memory for a %dx%d frame", S, S);
    const double t0 = vl_now_seconds();
    vllm_status st = vl_preprocess_video_frame(img, S, 0, tile);
    s->stats.decode_seconds += vl_now_seconds() - t0;
    if (!vllm_is_error(st)) st = vl_session_encode_tiles(s, tile, 1);
    free(tile);
    return st;
}

/* One video frame in SmolVLM2's layout: label, markers, visual tokens. */
vllm_status vl_session_append_frame(vllm_session *s, const vl_rgb8 *img, double pts, int live)
{
    int dup = 0;
    VL_TRY(encode_frame(s, img, &dup));
    if (dup) return VLLM_OK;
    return vl_session_append_encoded_frame(s, pts, live);
}

/* The rest of a frame once its visual tokens are in s->embd (also used
 * for frames encoded on another thread while an answer was generated). */
/* Room for `need` more positions plus the reserve kept for the question
 * and answer: evict the oldest live frames (whole spans: label, markers,
 * visual tokens, closing marker) and shift the rest of the context down
 * (keys re-rotated), so an endless stream runs in bounded memory. */
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

static vllm_status append_encoded_frame(vllm_session *s, double pts, int live);

vllm_status vl_session_append_encoded_frame(vllm_session *s, double pts, int live)
{
    s->media_depth++;
    vllm_status st = append_encoded_frame(s, pts, live);
    s->media_depth--;
    return st;
}

/* [compression] pruning hook: keep (or merge into) the tokens of the
 * frame in s->embd most changed since the previous kept frame; they are
 * compacted to the front of s->embd and take contiguous positions (1-D
 * RoPE). *n_vis: the tokens left. */
static vllm_status prune_frame_tokens(vllm_session *s, int *n_vis)
{
    vl_vision *v = s->model->vision;
    *n_vis = vl_vision_tokens_per_tile(v);
    VL_TRY(vl_compress_tokens(&s->cmp, s->embd, *n_vis, vl_vision_n_embd_out(v), n_vis));
    s->stats.n_tokens_pruned += s->cmp.last_pruned;
    return VLLM_OK;
}

/* A frame's label, markers and n_vis visual tokens into the open turn. */
static vllm_status place_frame(vllm_session *s, const float *embd, int n_vis, double pts)
{
    char label[64];
    vl_video_frame_label(pts, label, sizeof label);
    VL_TRY(text_add(s, label));
    VL_TRY(text_add(s, FAKE GLOBAL));
    VL_TRY(eval_visual(s, embd, n_vis));
    VL_TRY(text_add(s, FAKE));
    s->outro_pending = 1;
    return VLLM_OK;
}

static vllm_status append_encoded_frame(vllm_session *s, double pts, int live)
{
    vl_vision *v = s->model->vision;
    /* room first: opening the turn may evaluate the last answer's final token */
    if (live) VL_TRY(vl_session_make_room(s, vl_vision_tokens_per_tile(v) + 32));
    VL_TRY(vl_session_open_turn(s, 1));
    int n_vis;
    VL_TRY(prune_frame_tokens(s, &n_vis));
    int32_t start = 0;
    if (live) {
        /* A live frame is its own span of positions, so it can be evicted
         * whole later: text before it is evaluated first, its closing
         * marker right after it. (A video file keeps transformers' exact
         * tokenization instead, which joins text across frames.) */
        VL_TRY(flush_text(s));
        VL_TRY(vl_session_make_room(s, n_vis + 24)); /* label and markers are ~12 tokens */
        start = vl_llm_state_n_past(s->st);
        /* the last question and answer (with this turn's opening text) end here */
        VL_TRY(vl_session_close_turn_span(s, start));
    }
    VL_TRY(place_frame(s, s->embd, n_vis, pts));
    if (live) {
        VL_TRY(flush_text(s));
        VL_TRY(add_span(s, start, vl_llm_state_n_past(s->st), pts, VL_SPAN_FRAME));
        s->last_frame_pts = pts;
    }
    return VLLM_OK;
}

/* ---- public entry points ---------------------------------------------------------- */

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
typedef struct media_undo {
    int32_t n_past;
    int turn_open, outro_pending, turns, pending;
    char *text;
    size_t text_len;
} media_undo;

static vllm_status media_undo_save(const vllm_session *s, media_undo *u)
{
    *u = (media_undo){vl_llm_state_n_past(s->st), s->turn_open, s->outro_pending, s->turns, s->pending, NULL, s->text_len};
    if (!u->text_len) return VLLM_OK;
    u->text = malloc(u->text_len);
    if (!u->text) return vl_error(VLLM_ERR_NOMEM, "out of memory");
    memcpy(u->text, s->text, u->text_len);
    return VLLM_OK;
}

/* After the push returned `st`: on error put the session back; either way
 * release `u`. */
static void media_undo_finish(vllm_session *s, media_undo *u, vllm_status st)
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


static vllm_status take_video_params(const vllm_video_params *in, vllm_video_params *p)
{
    *p = vllm_video_default_params();
    if (!in) return VLLM_OK;
    if (in->struct_size < offsetof(vllm_video_params, end) + sizeof in->end || in->struct_size > 4096)
        return vl_error(VLLM_ERR_INVALID_ARG, "vllm_video_params.struct_size = %zu is not valid", in->struct_size);
    memcpy(p, in, in->struct_size < sizeof *p ? in->struct_size : sizeof *p);
    p->struct_size = sizeof *p;
#define BAD(cond, field, fmt, range)                                                                             \
    if (cond) return vl_error(VLLM_ERR_INVALID_ARG, "vllm_video_params." #field " = " fmt " is out of range (" range ")", p->field)
    BAD(!(p->fps >= 0) || p->fps > 1000, fps, "%g", "0..1000 frames per second; 0 = the model's default");
    BAD(p->max_frames < 0, max_frames, "%d", ">= 0; 0 = the model's default");
    BAD(p->n_frames < 0, n_frames, "%d", ">= 0; 0 = sample by fps");
    BAD(!(p->start >= 0), start, "%g", "seconds >= 0");
    BAD(!(p->end == p->end), end, "%g", "seconds; <= 0 = to the end");
    /* [decode] negative = no timeout; NaN and absurd values are mistakes */
    if (!(p->io_timeout_s <= 1e6) && !(p->io_timeout_s < 0))
        return vl_error(VLLM_ERR_INVALID_ARG, "vllm_video_params.io_timeout_s = %g is out of range (seconds, at most 1e6; < 0 for none)",
                        p->io_timeout_s);
    /* [compression] 0 means "the session's setting", so only negatives and NaN are wrong here */
    BAD(!(p->dedup_threshold >= 0), dedup_threshold, "%g", ">= 0; 0 = the session's setting");
    BAD(!(p->prune_rate >= 0), prune_rate, "%g", ">= 0; 0 = the session's setting");
    BAD(p->prune_merge < 0, prune_merge, "%d", ">= 0");
    BAD(p->max_visual_tokens < 0, max_visual_tokens, "%d", ">= 0; 0 = no budget");
#undef BAD
    return VLLM_OK;
}

/* Sample n < *planned frames instead, spread over the same range (both
 * rules sample min(rule, cap) frames uniformly). */
static vllm_status resample_fewer(vl_video *vid, vl_sampling *sp, int32_t n, int32_t *planned)
{
    if (sp->policy == VL_SAMPLE_UNIFORM) sp->n_frames = n;
    else sp->max_frames = n;
    VL_TRY(vl_video_sample_begin(vid, sp));
    *planned = vl_video_sample_planned(vid);
    if (*planned <= 0) return vl_error(VLLM_ERR_DECODE, "the video yields no frames for %d frames", n);
    return VLLM_OK;
}

/* [compression] This video's settings (a field left 0 takes the
 * session's), a fresh reference frame (its first frame is kept whole),
 * and the token budget, which may resample with fewer frames. The
 * session's settings come back in push_video_common. */
static vllm_status video_compress_begin(vllm_session *s, vl_video *vid, vl_sampling *sp, const vllm_video_params *p,
                                        int32_t *planned)
{
    vl_compress_settings c = s->cmp_session;
    if (p->dedup_threshold > 0) c.dedup_threshold = p->dedup_threshold;
    if (p->prune_rate > 0) c.prune_rate = p->prune_rate;
    if (p->prune_merge) c.merge = p->prune_merge;
    VL_TRY(vl_compress_check(&c, "vllm_video_params"));
    vl_compress_reset(&s->cmp);
    s->cmp.set = c;
    if (p->max_visual_tokens <= 0) return VLLM_OK;
    const int T = vl_vision_tokens_per_tile(s->model->vision);
    vl_budget_plan plan;
    VL_TRY(vl_budget_plan_video(*planned, T, vl_prune_keep_count(T, c.prune_rate), p->max_visual_tokens, &plan));
    if (plan.keep_per_frame < T) s->cmp.set.keep_override = plan.keep_per_frame;
    if (plan.n_frames < *planned) VL_TRY(resample_fewer(vid, sp, plan.n_frames, planned));
    return VLLM_OK;
}

/* A video that does not fit: say how much it needs, estimated from
 * `per_frame` positions for each of its `planned` frames. */
static vllm_status video_too_long(vllm_session *s, int64_t per_frame, int32_t planned)
{
    char what[128];
    snprintf(what, sizeof what, "the video (%d frames of about %lld positions each)", planned, (long long)per_frame);
    return vl_session_context_full(s, what, per_frame * planned);
}

/* Default sampling (no n_frames or max_frames given) never overflows the
 * context: when the planned frames, their markers and the room kept for
 * the question and the default answer do not fit in what is left of the
 * context, sample fewer frames, uniformly, as the token budget does. */
static vllm_status fit_default_sampling(vllm_session *s, vl_video *vid, vl_sampling *sp, const vllm_video_params *p,
                                        int32_t *planned)
{
    if (p->n_frames > 0 || p->max_frames > 0) return VLLM_OK; /* the caller chose the frame count */
    const int T = vl_vision_tokens_per_tile(s->model->vision);
    const int keep = s->cmp.set.keep_override > 0 ? s->cmp.set.keep_override : vl_prune_keep_count(T, s->cmp.set.prune_rate);
    const int32_t n_ctx = vl_llm_state_n_ctx(s->st);
    const int32_t reserve = vl_session_reserve(s); /* 512 from a 2048-position context up */
    const int64_t room = (int64_t)n_ctx - vl_llm_state_n_past(s->st) - (int64_t)s->text_len - reserve;
    const int32_t fit = vl_media_plan_frames_for_room(s->model, room, keep);
    if (fit >= *planned) return VLLM_OK;
    if (fit < 1)
        return vl_error(VLLM_ERR_CONTEXT_FULL,
                        "no room for a video: one frame takes %d positions and %d are kept for the question and answer, "
                        "but only %lld of the %d-position context are free (use a larger n_ctx / -c, or reset the session)",
                        T + s->model->plan.frame_markers + s->model->plan.video_overhead, reserve,
                        (long long)(n_ctx - vl_llm_state_n_past(s->st)), n_ctx);
    VL_LOG_WARN("sampling %d frames instead of %d: that is what fits in the %d-position context with %d positions "
                "kept for the question and answer (a larger n_ctx / -c keeps more)", fit, *planned, n_ctx, reserve);
    return resample_fewer(vid, sp, fit, planned);
}

/* A video's frames, encoded (and pruned) but not yet in the context: the
 * prompt's intro line announces how many frames follow, and a damaged
 * clip can deliver fewer than planned, so the intro is written once all
 * frames are known. Bounded by the context: frames that cannot fit are
 * refused while sampling. */
typedef struct vl_held_frames {
    float *embd;      /* the frames' visual tokens, one after another */
    size_t embd_cap;  /* floats */
    size_t n_rows;    /* visual tokens held */
    double *pts;
    int *n_vis;
    int n, cap;
} vl_held_frames;

static void held_frames_free(vl_held_frames *h)
{
    free(h->embd);
    free(h->pts);
    free(h->n_vis);
}

/* Keep the frame in s->embd (n_vis tokens of E floats). */
static vllm_status hold_frame(vl_held_frames *h, const float *embd, int n_vis, int E, double pts)
{
    if (h->n == h->cap) {
        const int cap = h->cap ? 2 * h->cap : 32;
        double *tp = realloc(h->pts, (size_t)cap * sizeof *tp);
        if (tp) h->pts = tp;
        int *np = realloc(h->n_vis, (size_t)cap * sizeof *np);
        if (np) h->n_vis = np;
        if (!tp || !np) return vl_error(VLLM_ERR_NOMEM, "out of memory for %d video frames", cap);
        h->cap = cap;
    }
    const size_t need = (h->n_rows + (size_t)n_vis) * (size_t)E;
    if (need > h->embd_cap) {
        size_t cap = h->embd_cap ? h->embd_cap : need;
        while (cap < need) cap *= 2;
        VL_TRY(grow_floats(&h->embd, &h->embd_cap, cap, "the video's visual tokens"));
    }
    memcpy(h->embd + h->n_rows * (size_t)E, embd, (size_t)n_vis * E * sizeof *embd);
    h->n_rows += (size_t)n_vis;
    h->pts[h->n] = pts;
    h->n_vis[h->n++] = n_vis;
    return VLLM_OK;
}

/* Decode, dedup, encode and prune every sampled frame into `held`. */
static vllm_status sample_and_encode(vllm_session *s, vl_video *vid, const vllm_video_params *p, int32_t planned,
                                     vl_held_frames *held)
{
    const int E = vl_vision_n_embd_out(s->model->vision);
    const int64_t free_positions = (int64_t)vl_llm_state_n_ctx(s->st) - vl_llm_state_n_past(s->st) - (int64_t)s->batch_n;
    for (int32_t i = 0;; i++) {
        if (atomic_load(&s->cancel)) return vl_error(VLLM_ERR_CANCELLED, "video ingestion cancelled");
        vl_rgb_frame fr;
        const double t0 = vl_now_seconds();
        vllm_status st = vl_video_sample_next(vid, &fr);
        s->stats.decode_seconds += vl_now_seconds() - t0;
        if (st == VLLM_DONE) return VLLM_OK;
        VL_TRY(st);
        s->stats.n_frames_seen++;
        vl_rgb8 img = {fr.rgb, fr.width, fr.height, (size_t)fr.stride};
        int dup = 0, n_vis = 0;
        VL_TRY(encode_frame(s, &img, &dup));
        if (!dup) {
            VL_TRY(prune_frame_tokens(s, &n_vis));
            VL_TRY(hold_frame(held, s->embd, n_vis, E, fr.pts));
            /* visual tokens and markers alone no longer fit: stop decoding now */
            const int64_t at_least = (int64_t)held->n_rows + (int64_t)held->n * s->model->plan.frame_markers;
            if (at_least > free_positions)
                return video_too_long(s, (at_least + held->n - 1) / held->n, planned);
        }
        if (p->progress && p->progress(p->progress_user_data, "video", (float)(i + 1) / (float)planned))
            return vl_error(VLLM_ERR_CANCELLED, "video ingestion cancelled by the progress callback");
    }
}

/* The turn's video part in SmolVLM2's layout: the intro line for the
 * frames actually given, then each frame. */
static vllm_status place_held_frames(vllm_session *s, const vl_video_info *info, const vllm_video_params *p,
                                     const vl_held_frames *held)
{
    VL_TRY(vl_session_open_turn(s, 1));
    char intro[256];
    const double span = (p->end > 0 && p->end < info->duration ? p->end : info->duration) - p->start;
    vl_video_intro(held->n, span > 0 ? span : info->duration, intro, sizeof intro);
    VL_TRY(text_add(s, intro));
    const int E = vl_vision_n_embd_out(s->model->vision);
    size_t row = 0;
    for (int i = 0; i < held->n; i++) {
        VL_TRY(place_frame(s, held->embd + row * (size_t)E, held->n_vis[i], held->pts[i]));
        row += (size_t)held->n_vis[i];
    }
    return vl_session_flush(s);
}

static vllm_status ingest_video(vllm_session *s, vl_video *vid, const vllm_video_params *p)
{
    const int64_t pos0 = vl_llm_state_n_past(s->st) + (int64_t)s->batch_n;
    vl_sampling sp = vl_sampling_default();
    sp.policy = p->n_frames > 0 ? VL_SAMPLE_UNIFORM : VL_SAMPLE_FPS;
    sp.fps = p->fps > 0 ? p->fps : VL_SMOLVLM_VIDEO_FPS;
    sp.max_frames = p->max_frames > 0 ? p->max_frames : VL_SMOLVLM_VIDEO_MAX_FRAMES;
    sp.n_frames = p->n_frames;
    sp.start = p->start;
    sp.end = p->end;
    VL_TRY(vl_video_sample_begin(vid, &sp));
    const vl_video_info *info = vl_video_get_info(vid);
    int32_t planned = vl_video_sample_planned(vid);
    if (planned <= 0) return vl_error(VLLM_ERR_DECODE, "the video yields no frames for this sampling");
    VL_TRY(video_compress_begin(s, vid, &sp, p, &planned)); /* [compression] */
    VL_TRY(fit_default_sampling(s, vid, &sp, p, &planned));

    vl_held_frames held = {0};
    vllm_status st = sample_and_encode(s, vid, p, planned, &held);
    if (!vllm_is_error(st) && held.n == 0)
        st = vl_error(VLLM_ERR_DECODE, "none of the video's %d planned frames could be decoded", planned);
    if (!vllm_is_error(st)) {
        st = place_held_frames(s, info, p, &held);
        if (st == VLLM_ERR_CONTEXT_FULL) { /* with their text: say what each frame took */
            const int64_t used = vl_llm_state_n_past(s->st) + (int64_t)s->batch_n - pos0;
            st = video_too_long(s, (used + held.n - 1) / held.n, planned);
        }
    }
    held_frames_free(&held);
    return st;
}

static vllm_status push_video_common(vllm_session *s, const char *path, const void *data, size_t size,
                                     const vllm_video_params *params)
{
    vllm_video_params p;
    VL_TRY(take_video_params(params, &p));
    if (!s->model->vision)
        return vl_error(VLLM_ERR_STATE, "this model was loaded without an mmproj: it cannot take video");
    atomic_store(&s->cancel, 0);
    media_undo undo;
    VL_TRY(media_undo_save(s, &undo));

    vl_video *vid = NULL;
    const double t0 = vl_now_seconds();
    /* [decode] a stalled source times out; vllm_session_cancel interrupts a waiting read */
    const vl_video_open_opts oo = {.cancel = &s->cancel, .io_timeout_s = p.io_timeout_s};
    vllm_status st = path ? vl_video_open_ex(path, &oo, &vid) : vl_video_open_memory_ex(data, size, &oo, &vid);
    s->stats.decode_seconds += vl_now_seconds() - t0;
    if (!vllm_is_error(st)) {
        s->batching = 1; /* frames and their text go to the model in big batches */
        s->media_depth++;
        st = ingest_video(s, vid, &p);
        s->batching = 0;
        s->batch_n = vllm_is_error(st) ? 0 : s->batch_n;
        if (!vllm_is_error(st)) st = vl_session_flush(s);
        s->media_depth--;
    }
    media_undo_finish(s, &undo, st);
    s->cmp.set = s->cmp_session; /* [compression] back to the session's settings */
    vl_video_close(vid);
    return st;
}

vllm_status vl_sess_push_video(vllm_session *s, const char *path_or_url, const vllm_video_params *params)
{
    if (!s) return vl_error(VLLM_ERR_INVALID_ARG, "vllm_session_push_video: session is NULL");
    if (!path_or_url) return vl_session_fail(s, vl_error(VLLM_ERR_INVALID_ARG, "vllm_session_push_video: path is NULL"));
    vllm_status st = push_video_common(s, path_or_url, NULL, 0, params);
    return vllm_is_error(st) ? vl_session_fail(s, st) : VLLM_OK;
}

vllm_status vl_sess_push_video_buffer(vllm_session *s, const void *data, size_t size, const vllm_video_params *params)
{
    if (!s) return vl_error(VLLM_ERR_INVALID_ARG, "vllm_session_push_video_buffer: session is NULL");
    if (!data || !size) return vl_session_fail(s, vl_error(VLLM_ERR_INVALID_ARG, "vllm_session_push_video_buffer: empty buffer"));
    vllm_status st = push_video_common(s, NULL, data, size, params);
    return vllm_is_error(st) ? vl_session_fail(s, st) : VLLM_OK;
}

static vllm_status push_image(vllm_session *s, const char *path)
{
    vl_vision *v = s->model->vision;
    if (!v) return vl_error(VLLM_ERR_STATE, "this model was loaded without an mmproj: it cannot take images");
    vl_image img;
    memset(&img, 0, sizeof img);
    const double t0 = vl_now_seconds();
    VL_TRY(vl_image_load(path, &img));
    vl_rgb8 rgb = {img.data, img.width, img.height, img.stride};
    vl_tiles tiles;
    memset(&tiles, 0, sizeof tiles);
    vllm_status st = vl_preprocess_image(&rgb, vl_vision_image_size(v), vl_vision_preproc_image_size(v),
                                         s->model->preproc, &tiles);
    vl_image_free(&img);
    s->stats.decode_seconds += vl_now_seconds() - t0;
    /* llama.cpp writes "User: " before an image, transformers "User:" */
    if (!vllm_is_error(st)) st = vl_session_open_turn(s, s->model->preproc == VL_PREPROC_LLAMACPP);
    if (!vllm_is_error(st)) st = vl_session_encode_tiles(s, tiles.u8, tiles.n_tiles);
    int n_pieces = vl_idefics3_layout_size(tiles.rows, tiles.cols);
    vl_prompt_piece *pieces = vllm_is_error(st) ? NULL : calloc((size_t)n_pieces, sizeof *pieces);
    if (!vllm_is_error(st) && !pieces) st = vl_error(VLLM_ERR_NOMEM, "out of memory");
    if (!vllm_is_error(st)) n_pieces = vl_idefics3_layout(tiles.rows, tiles.cols, pieces, n_pieces);
    const int T = vl_vision_tokens_per_tile(v), E = vl_vision_n_embd_out(v);
    for (int i = 0; i < n_pieces && !vllm_is_error(st); i++) {
        if (pieces[i].tile >= 0)
            st = eval_visual(s, s->embd + (size_t)pieces[i].tile * T * E, T);
        else
            st = text_add(s, pieces[i].text);
    }
    free(pieces);
    vl_tiles_free(&tiles);
    return st;
}

vllm_status vl_sess_push_image(vllm_session *s, const char *path)
{
    if (!s) return vl_error(VLLM_ERR_INVALID_ARG, "vllm_session_push_image: session is NULL");
    if (!path) return vl_session_fail(s, vl_error(VLLM_ERR_INVALID_ARG, "vllm_session_push_image: path is NULL"));
    atomic_store(&s->cancel, 0);
    media_undo undo;
    vllm_status st = media_undo_save(s, &undo);
    if (vllm_is_error(st)) return vl_session_fail(s, st);
    s->media_depth++;
    st = push_image(s, path);
    s->media_depth--;
    media_undo_finish(s, &undo, st);
    return vllm_is_error(st) ? vl_session_fail(s, st) : VLLM_OK;
}
