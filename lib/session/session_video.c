/* Videos into a session: sampled by the model family's rule, frames
 * grouped into the family's temporal patches (1 or 2 frames), each patch
 * encoded and pruned, all held until the clip is done, then placed by
 * the family (intro, labels or timestamps, blocks) inside the open turn.
 *
 * Dedup drops a frame before the encoder. In a family with frame pairs
 * the dropped frame's partner then pairs with the next kept frame
 * (transformers' rule pairs frames in order, so the pair still holds two
 * consecutive kept frames; its timestamp is the mean of the two); under
 * llama.cpp's pairing (compat) only frames next to each other in the
 * sampling pair, so the partner is encoded alone, as llama.cpp encodes a
 * frame whose neighbour is a timestamp.
 *
 * Frames are decoded, deduplicated and resized ahead of the encoder on a
 * thread of their own (video_ahead.h), so the encoder's pool never waits
 * for decoding unless the decoder is the slower side; once the frames are
 * encoded the vision weights leave resident memory before prefill. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compression/budget.h"
#include "compression/token_prune.h"
#include "core/log.h"
#include "decode/video.h"
#include "session_internal.h"
#include "video_ahead.h"

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

/* How the video's frames become patches: the plan, the frame size and
 * the patch's tokens. */
typedef struct video_job {
    vl_video_plan plan;
    int32_t planned;      /* frames */
    int w, h;             /* every frame's size after preprocessing */
    int32_t T;            /* tokens of one patch */
} video_job;

static int units(const vllm_session *s, int32_t frames)
{
    const int f = s->model->family->frames_per_unit;
    return (int)((frames + f - 1) / f);
}

/* (Re)plan with params p and start sampling. */
static vllm_status begin(vllm_session *s, vl_video *vid, const vllm_video_params *p, video_job *job)
{
    const vllm_model *m = s->model;
    const vl_video_info *info = vl_video_get_info(vid);
    vl_video_plan_free(&job->plan);
    memset(&job->plan, 0, sizeof job->plan);
    job->plan.sampling = vl_sampling_default();
    const int64_t total = vl_video_range_frames(vid, p->start, p->end); /* -1 when unknown: the rule says if it matters */
    VL_TRY(m->family->video_plan(m, info, total, p, &job->plan));
    job->plan.sampling.start = p->start;
    job->plan.sampling.end = p->end;
    VL_TRY(vl_video_sample_begin(vid, &job->plan.sampling));
    job->planned = vl_video_sample_planned(vid);
    if (job->planned < 0) { /* ffmpeg's fps filter: one frame per slot of the range */
        const double end = p->end > 0 && p->end < info->duration ? p->end : info->duration;
        const double n = ceil((end - p->start) * job->plan.sampling.fps - 1e-9);
        job->planned = n >= 1 ? (n < 1e6 ? (int32_t)n : 1000000) : 1;
        if (job->plan.sampling.max_frames > 0 && job->planned > job->plan.sampling.max_frames)
            job->planned = job->plan.sampling.max_frames;
    }
    if (job->planned <= 0) return vl_error(VLLM_ERR_DECODE, "the video yields no frames for this sampling");
    /* frames come at the coded size, rotated */
    const int rot = info->rotation == 90 || info->rotation == 270;
    const int W = rot ? info->coded_height : info->coded_width, H = rot ? info->coded_width : info->coded_height;
    VL_TRY(m->family->frame_size(m, job->planned, W, H, &job->w, &job->h));
    job->T = vl_patch_tokens(m, job->w, job->h);
    return VLLM_OK;
}

/* Sample fewer frames (n < planned), spread over the same range: the
 * caller's count or the rule's frame cap becomes n. */
static vllm_status resample_fewer(vllm_session *s, vl_video *vid, const vllm_video_params *p, int32_t n, video_job *job)
{
    vllm_video_params q = *p;
    if (q.n_frames > 0) q.n_frames = n;
    else q.max_frames = n;
    VL_TRY(begin(s, vid, &q, job));
    if (job->planned <= 0) return vl_error(VLLM_ERR_DECODE, "the video yields no frames for %d frames", n);
    return VLLM_OK;
}

/* [compression] This video's settings (a field left 0 takes the
 * session's), a fresh reference frame (its first patch is kept whole),
 * and the token budget, which may resample with fewer frames. The
 * session's settings come back in push_video_common. */
static vllm_status video_compress_begin(vllm_session *s, vl_video *vid, const vllm_video_params *p, video_job *job)
{
    vl_compress_settings c = s->cmp_session;
    if (p->dedup_threshold > 0) c.dedup_threshold = p->dedup_threshold;
    if (p->prune_rate > 0) c.prune_rate = p->prune_rate;
    if (p->prune_merge) c.merge = p->prune_merge;
    VL_TRY(vl_compress_check(&c, "vllm_video_params"));
    vl_compress_reset(&s->cmp);
    s->cmp.set = c;
    if (p->max_visual_tokens <= 0) return VLLM_OK;
    const int T = job->T, fpu = s->model->family->frames_per_unit;
    vl_budget_plan plan;
    VL_TRY(vl_budget_plan_video(units(s, job->planned), T, vl_prune_keep_count(T, c.prune_rate), p->max_visual_tokens, &plan));
    if (plan.keep_per_frame < T) s->cmp.set.keep_override = plan.keep_per_frame;
    if (plan.n_frames < units(s, job->planned)) VL_TRY(resample_fewer(s, vid, p, plan.n_frames * fpu, job));
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
 * context: when the planned patches, their text and the room kept for
 * the question and the default answer do not fit in what is left of the
 * context, sample fewer frames, uniformly, as the token budget does. */
static vllm_status fit_default_sampling(vllm_session *s, vl_video *vid, const vllm_video_params *p, video_job *job)
{
    if (p->n_frames > 0 || p->max_frames > 0) return VLLM_OK; /* the caller chose the frame count */
    const int T = job->T, fpu = s->model->family->frames_per_unit;
    const int keep = s->cmp.set.keep_override > 0 ? s->cmp.set.keep_override : vl_prune_keep_count(T, s->cmp.set.prune_rate);
    const int32_t n_ctx = vl_llm_state_n_ctx(s->st);
    const int32_t reserve = vl_session_reserve(s); /* 512 from a 2048-position context up */
    const int64_t room = (int64_t)n_ctx - vl_llm_state_n_past(s->st) - (int64_t)s->text_len - reserve;
    const int32_t fit = vl_media_plan_units_for_room(s->model, room, T, keep);
    if (fit >= units(s, job->planned)) return VLLM_OK;
    if (fit < 1)
        return vl_error(VLLM_ERR_CONTEXT_FULL,
                        "no room for a video: one frame takes %d positions and %d are kept for the question and answer, "
                        "but only %lld of the %d-position context are free (use a larger n_ctx / -c, or reset the session)",
                        T + s->model->plan.frame_markers + s->model->plan.video_overhead, reserve,
                        (long long)(n_ctx - vl_llm_state_n_past(s->st)), n_ctx);
    VL_LOG_WARN("sampling %d frames instead of %d: that is what fits in the %d-position context with %d positions "
                "kept for the question and answer (a larger n_ctx / -c keeps more)", fit * fpu, job->planned, n_ctx, reserve);
    return resample_fewer(s, vid, p, fit * fpu, job);
}

/* A video's patches, encoded (and pruned) but not yet in the context: the
 * prompt's intro line announces how many frames follow, and a damaged
 * clip can deliver fewer than planned, so the text is written once all
 * patches are known. Bounded by the context: patches that cannot fit are
 * refused while sampling. */
typedef struct vl_held {
    float *embd;      /* the patches' visual tokens, one after another */
    size_t embd_cap;  /* floats */
    size_t n_rows;    /* visual tokens held */
    int32_t *kept;    /* the kept cells of every patch, one list after another */
    size_t kept_n, kept_cap;
    vl_patch *p;      /* embd / kept set when placed (the buffers still grow until then) */
    size_t *row_at;   /* each patch's first row in embd */
    size_t *kept_at;  /* its first entry in kept, SIZE_MAX when all its cells are kept */
    int n, cap, n_frames;
} vl_held;

static void held_free(vl_held *h)
{
    free(h->embd);
    free(h->kept);
    free(h->p);
    free(h->row_at);
    free(h->kept_at);
}

/* Keep the patch in `embd` (n_vis rows of E floats; kept cells or NULL). */
static vllm_status hold(vl_held *h, const float *embd, int n_vis, const int32_t *kept, int E, const vl_patch *meta)
{
    if (h->n == h->cap) {
        const int cap = h->cap ? 2 * h->cap : 32;
        vl_patch *p = realloc(h->p, (size_t)cap * sizeof *p);
        if (p) h->p = p;
        size_t *r = realloc(h->row_at, (size_t)cap * sizeof *r);
        if (r) h->row_at = r;
        size_t *k = realloc(h->kept_at, (size_t)cap * sizeof *k);
        if (k) h->kept_at = k;
        if (!p || !r || !k) return vl_error(VLLM_ERR_NOMEM, "out of memory for %d video patches", cap);
        h->cap = cap;
    }
    const size_t need = (h->n_rows + (size_t)n_vis) * (size_t)E;
    if (need > h->embd_cap) {
        size_t cap = h->embd_cap ? h->embd_cap : need;
        while (cap < need) cap *= 2;
        VL_TRY(vl_grow_floats(&h->embd, &h->embd_cap, cap, "the video's visual tokens"));
    }
    if (kept && h->kept_n + (size_t)n_vis > h->kept_cap) {
        size_t cap = h->kept_cap ? h->kept_cap : 1024;
        while (cap < h->kept_n + (size_t)n_vis) cap *= 2;
        int32_t *k = realloc(h->kept, cap * sizeof *k);
        if (!k) return vl_error(VLLM_ERR_NOMEM, "out of memory for kept token indices");
        h->kept = k;
        h->kept_cap = cap;
    }
    memcpy(h->embd + h->n_rows * (size_t)E, embd, (size_t)n_vis * E * sizeof *embd);
    vl_patch p = *meta;
    p.n_tokens = n_vis;
    h->row_at[h->n] = h->n_rows;
    h->kept_at[h->n] = kept ? h->kept_n : SIZE_MAX;
    if (kept) {
        memcpy(h->kept + h->kept_n, kept, (size_t)n_vis * sizeof *kept);
        h->kept_n += (size_t)n_vis;
    }
    h->n_rows += (size_t)n_vis;
    h->n_frames += meta->n_frames;
    h->p[h->n++] = p;
    return VLLM_OK;
}

/* Frames waiting to fill a temporal patch. */
typedef struct patch_fill {
    uint8_t *u8;          /* frames_per_unit frames of w × h planar */
    int n;                /* frames in it */
    vl_patch meta;
} patch_fill;

/* Encode, prune and hold the frames in `f`. */
static vllm_status encode_fill(vllm_session *s, const video_job *job, patch_fill *f, vl_held *held,
                               int64_t free_positions)
{
    if (!f->n) return VLLM_OK;
    float *embd;
    VL_TRY(vl_session_encode(s, s->pool, f->u8, f->n, job->w, job->h, &embd));
    int n_vis;
    const int32_t *kept;
    VL_TRY(vl_session_prune(s, embd, job->T, &n_vis, &kept));
    f->meta.n_frames = f->n;
    VL_TRY(hold(held, embd, n_vis, kept, vl_vision_n_embd_out(s->model->vision), &f->meta));
    f->n = 0;
    /* visual tokens and their text alone no longer fit: stop decoding now */
    const int64_t at_least = (int64_t)held->n_rows + (int64_t)held->n * s->model->plan.frame_markers;
    if (at_least > free_positions) return video_too_long(s, (at_least + held->n - 1) / held->n, job->planned);
    return VLLM_OK;
}

/* Group, encode and prune every sampled frame into `held`; the frames
 * come decoded, deduplicated and preprocessed from the decode-ahead ring
 * (video_ahead.h), in order, with the in-line loop's decisions. */
static vllm_status sample_and_encode(vllm_session *s, vl_video *vid, const vllm_video_params *p, const video_job *job,
                                     vl_held *held)
{
    const vllm_model *m = s->model;
    const int fpu = m->family->frames_per_unit;
    const size_t frame_bytes = (size_t)3 * job->w * job->h;
    const int64_t free_positions = (int64_t)vl_llm_state_n_ctx(s->st) - vl_llm_state_n_past(s->st) - (int64_t)s->batch_n;
    patch_fill f = {.u8 = malloc((size_t)fpu * frame_bytes)};
    if (!f.u8) return vl_error(VLLM_ERR_NOMEM, "out of memory for %dx%d frames", job->w, job->h);
    vl_ahead *ahead = NULL;
    const vl_ahead_cfg cfg = {.m = m, .vid = vid, .w = job->w, .h = job->h, .dedup = &s->cmp, .threaded = vl_ahead_enabled()};
    vllm_status st = vl_ahead_start(&cfg, &ahead);
    int32_t last = -1; /* ordinal of the last frame in f */
    for (int32_t i = 0; !vllm_is_error(st); i++) {
        if (atomic_load(&s->cancel)) {
            st = vl_error(VLLM_ERR_CANCELLED, "video ingestion cancelled");
            break;
        }
        const double t0 = vl_now_seconds();
        const vl_ahead_item *it = vl_ahead_next(ahead);
        s->stats.decode_seconds += vl_now_seconds() - t0; /* waiting for the frame: decoding on this call's path */
        if (it->st == VLLM_DONE) {
            st = encode_fill(s, job, &f, held, free_positions); /* a lone last frame: alone through both kernels */
            break;
        }
        if (vllm_is_error(it->st)) {
            st = vl_ahead_raise(it, it->st);
            break;
        }
        s->stats.n_frames_seen++;
        int dup = 0;
        st = vl_ahead_raise(it, it->dedup_st);
        if (!vllm_is_error(st) && s->cmp.set.dedup_threshold > 0) {
            vl_compress_dedup_sig(&s->cmp, &it->sig, &dup);
            if (dup != it->dup) st = vl_error(VLLM_ERR_INTERNAL, "video: frame %d's dedup decisions disagree", i);
        }
        if (!vllm_is_error(st) && dup) s->stats.n_frames_deduped++;
        if (!vllm_is_error(st) && !dup) {
            /* a frame that cannot join the one waiting closes its patch first */
            if (f.n && !m->family->can_pair(m, &job->plan, last, i)) st = encode_fill(s, job, &f, held, free_positions);
            const int64_t index = job->plan.indices && i < job->plan.sampling.n_indices ? job->plan.indices[i] : it->index;
            if (!vllm_is_error(st) && !f.n)
                f.meta = (vl_patch){.pts = it->pts, .frame = i, .index0 = index};
            f.meta.index1 = index;
            if (!vllm_is_error(st)) st = vl_ahead_raise(it, it->prep_st);
            if (!vllm_is_error(st)) memcpy(f.u8 + (size_t)f.n * frame_bytes, it->u8, frame_bytes), f.n++, last = i;
            if (!vllm_is_error(st) && f.n == fpu) st = encode_fill(s, job, &f, held, free_positions);
        }
        if (!vllm_is_error(st) && p->progress &&
            p->progress(p->progress_user_data, "video", (float)(i + 1) / (float)job->planned))
            st = vl_error(VLLM_ERR_CANCELLED, "video ingestion cancelled by the progress callback");
    }
    vl_ahead_stop(ahead);
    free(f.u8);
    return st == VLLM_DONE ? VLLM_OK : st;
}

/* The turn's video part in the family's layout. */
static vllm_status place_held(vllm_session *s, const vl_video_info *info, const vllm_video_params *p,
                              const video_job *job, vl_held *held)
{
    VL_TRY(vl_session_open_turn(s, VL_MEDIA_VIDEO));
    for (int i = 0; i < held->n; i++) { /* now that nothing moves */
        held->p[i].embd = held->embd + held->row_at[i] * vl_vision_n_embd_out(s->model->vision);
        held->p[i].kept = held->kept_at[i] == SIZE_MAX ? NULL : held->kept + held->kept_at[i];
    }
    const double span = (p->end > 0 && p->end < info->duration ? p->end : info->duration) - p->start;
    const int a = vl_vision_is_dynamic(s->model->vision) ? vl_vision_align(s->model->vision) : 0;
    const vl_video_layout_in v = {.patches = held->p,
                                  .n_patches = held->n,
                                  .grid_h = a ? job->h / a : 0,
                                  .grid_w = a ? job->w / a : 0,
                                  .duration = span > 0 ? span : info->duration,
                                  .n_frames = held->n_frames,
                                  .plan = &job->plan};
    const vl_sink sink = vl_session_sink(s);
    VL_TRY(s->model->family->place_video(s->model, &v, &sink));
    s->outro_pending = 1;
    return vl_session_flush(s);
}

static vllm_status ingest(vllm_session *s, vl_video *vid, const vllm_video_params *p, video_job *job)
{
    const int64_t pos0 = vl_llm_state_n_past(s->st) + (int64_t)s->batch_n;
    VL_TRY(begin(s, vid, p, job));
    VL_TRY(video_compress_begin(s, vid, p, job)); /* [compression] */
    VL_TRY(fit_default_sampling(s, vid, p, job));

    vl_held held = {0};
    vllm_status st = sample_and_encode(s, vid, p, job, &held);
    vl_model_release_vision_pages(s->model); /* [memory] the text model's turn: prefill and the answer */
    if (!vllm_is_error(st) && held.n == 0)
        st = vl_error(VLLM_ERR_DECODE, "none of the video's %d planned frames could be decoded", job->planned);
    if (!vllm_is_error(st)) {
        st = place_held(s, vl_video_get_info(vid), p, job, &held);
        if (st == VLLM_ERR_CONTEXT_FULL) { /* with their text: say what each patch took */
            const int64_t used = vl_llm_state_n_past(s->st) + (int64_t)s->batch_n - pos0;
            st = video_too_long(s, (used + held.n - 1) / held.n, job->planned);
        }
    }
    held_free(&held);
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
    VL_TRY(vl_session_flush_pair(s)); /* a live frame waiting for its partner goes first */
    vl_media_undo undo;
    VL_TRY(vl_media_undo_save(s, &undo));

    vl_video *vid = NULL;
    const double t0 = vl_now_seconds();
    /* [decode] a stalled source times out; vllm_session_cancel interrupts a waiting read */
    const vl_video_open_opts oo = {.cancel = &s->cancel, .io_timeout_s = p.io_timeout_s};
    vllm_status st = path ? vl_video_open_ex(path, &oo, &vid) : vl_video_open_memory_ex(data, size, &oo, &vid);
    s->stats.decode_seconds += vl_now_seconds() - t0;
    video_job job;
    memset(&job, 0, sizeof job);
    if (!vllm_is_error(st)) {
        s->batching = 1; /* frames and their text go to the model in big batches */
        s->media_depth++;
        st = ingest(s, vid, &p, &job);
        s->batching = 0;
        s->batch_n = vllm_is_error(st) ? 0 : s->batch_n;
        if (!vllm_is_error(st)) st = vl_session_flush(s);
        s->media_depth--;
    }
    vl_video_plan_free(&job.plan);
    vl_media_undo_finish(s, &undo, st);
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

