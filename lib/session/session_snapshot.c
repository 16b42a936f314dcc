/* Session snapshots: everything needed to continue a conversation later —
 * the token history, the KV cache of the used positions, the open media
 * turn — in one zstd stream.
 *
 * Layout of the decompressed stream (little-endian):
 *   "VLLMSNAP" u32 version
 *   u64 model identity (FNV-1a over the text GGUF's metadata and tensor
 *       directory, and the mmproj's when one is loaded)
 *   i32 n_layer, n_head_kv, head_dim, kv_type, n_past, turns, pending,
 *       turn_open, outro_pending; u64 text_len; text bytes
 *   i32 history[n_past]
 *   i32 n_spans; n_spans × (i32 start, i32 end, i32 kind)  (evictable live
 *       frames and finished turns; version 2 had no kind: all frames)
 *   i32 turn_start  (the open turn's first position or -1; not in version 2)
 *   per layer, per KV head: K then V of positions [0, n_past)
 *   "SNAPEND!"
 * Loading checks every field against the session before touching it, so
 * a snapshot of another model, a truncated or corrupt file is a clean
 * error and leaves the session as it was. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zstd.h>

#include "core/atomic_file.h"
#include "session_internal.h"

#define SNAP_MAGIC "VLLMSNAP"
#define SNAP_END "SNAPEND!"
#define SNAP_VERSION 3u
#define SNAP_VERSION_OLDEST 2u /* still read: its spans are all frames */
#define SNAP_LEVEL 1 /* KV data compresses little; favour speed */

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t model_identity(const vllm_model *m)
{
    uint64_t h = 0xcbf29ce484222325ull;
    h = fnv1a(h, m->gguf->base, (size_t)m->gguf->data_offset);
    if (m->mmproj) h = fnv1a(h, m->mmproj->base, (size_t)m->mmproj->data_offset);
    return h;
}

/* ---- writing ----------------------------------------------------------------- */

typedef struct zwriter {
    FILE *f;
    ZSTD_CCtx *cctx;
    uint8_t out[1 << 16];
    int failed;
    int err;      /* errno of the failed write, 0 if zstd failed */
} zwriter;

static void zw_put(zwriter *w, const void *p, size_t n, ZSTD_EndDirective mode)
{
    if (w->failed) return;
    ZSTD_inBuffer in = {p, n, 0};
    for (;;) {
        ZSTD_outBuffer out = {w->out, sizeof w->out, 0};
        size_t left = ZSTD_compressStream2(w->cctx, &out, &in, mode);
        if (ZSTD_isError(left) || fwrite(w->out, 1, out.pos, w->f) != out.pos) {
            w->failed = 1;
            w->err = ZSTD_isError(left) ? 0 : errno;
            return;
        }
        if (mode == ZSTD_e_end ? left == 0 : in.pos == in.size) return;
    }
}

static void zw_i32(zwriter *w, int32_t v) { zw_put(w, &v, 4, ZSTD_e_continue); }

vllm_status vl_sess_save(vllm_session *s, const char *path)
{
    if (!s) return vl_error(VLLM_ERR_INVALID_ARG, "vllm_session_save: session is NULL");
    if (!path) return vl_session_fail(s, vl_error(VLLM_ERR_INVALID_ARG, "vllm_session_save: path is NULL"));
    /* a new file renamed over the old one: a failed save leaves the old snapshot */
    vl_atomic_file af;
    vllm_status ost = vl_atomic_file_open(&af, path, "the snapshot");
    if (vllm_is_error(ost)) return vl_session_fail(s, ost);
    zwriter *w = calloc(1, sizeof *w);
    if (!w) {
        vl_atomic_file_abort(&af);
        return vl_session_fail(s, vl_error(VLLM_ERR_NOMEM, "out of memory"));
    }
    w->f = af.f;
    w->cctx = ZSTD_createCCtx();
    if (!w->cctx) w->failed = 1;
    else {
        ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, SNAP_LEVEL);
        ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_checksumFlag, 1); /* corruption in the KV bytes is caught */
    }

    const vl_llm_hparams *hp = &s->model->llm->hp;
    const int32_t n_past = vl_llm_state_n_past(s->st);
    const uint32_t version = SNAP_VERSION;
    const uint64_t id = model_identity(s->model);
    zw_put(w, SNAP_MAGIC, 8, ZSTD_e_continue);
    zw_put(w, &version, 4, ZSTD_e_continue);
    zw_put(w, &id, 8, ZSTD_e_continue);
    zw_i32(w, hp->n_layer);
    zw_i32(w, hp->n_head_kv);
    zw_i32(w, hp->head_dim);
    zw_i32(w, (int32_t)vl_llm_state_kv_type(s->st));
    zw_i32(w, n_past);
    zw_i32(w, s->turns);
    zw_i32(w, s->pending);
    zw_i32(w, s->turn_open);
    zw_i32(w, s->outro_pending);
    const uint64_t text_len = s->text_len;
    zw_put(w, &text_len, 8, ZSTD_e_continue);
    if (text_len) zw_put(w, s->text, text_len, ZSTD_e_continue);
    if (n_past) zw_put(w, s->hist, (size_t)n_past * sizeof *s->hist, ZSTD_e_continue);
    zw_i32(w, s->n_spans);
    for (int i = 0; i < s->n_spans; i++) {
        zw_i32(w, s->spans[i].start);
        zw_i32(w, s->spans[i].end);
        zw_i32(w, (int32_t)s->spans[i].kind);
    }
    zw_i32(w, s->turn_start);
    for (int il = 0; il < hp->n_layer; il++)
        for (int h = 0; h < hp->n_head_kv; h++)
            for (int which = 0; which < 2; which++) {
                size_t row_bytes;
                const void *kv = vl_llm_state_kv_head(s->st, il, h, which, &row_bytes);
                zw_put(w, kv, (size_t)n_past * row_bytes, ZSTD_e_continue);
            }
    zw_put(w, SNAP_END, 8, ZSTD_e_end);
    const int failed = w->failed, err = w->err;
    ZSTD_freeCCtx(w->cctx);
    free(w);
    if (failed) {
        vl_atomic_file_abort(&af); /* only the temporary file goes */
        return vl_session_fail(s, vl_error(VLLM_ERR_IO, "%s: writing the snapshot failed (%s); the file was not changed",
                                           path, err ? strerror(err) : "compression error"));
    }
    ost = vl_atomic_file_commit(&af);
    return vllm_is_error(ost) ? vl_session_fail(s, ost) : VLLM_OK;
}

/* ---- reading ------------------------------------------------------------------ */

typedef struct zreader {
    FILE *f;
    ZSTD_DCtx *dctx;
    uint8_t in[1 << 16];
    ZSTD_inBuffer ib;
    size_t last;          /* last ZSTD_decompressStream result: 0 = frame complete */
    const char *path;
    long long file_bytes; /* read from the file so far */
    long long out_bytes;  /* decompressed so far */
} zreader;

static size_t zr_fill(zreader *r)
{
    r->ib.size = fread(r->in, 1, sizeof r->in, r->f);
    r->ib.pos = 0;
    r->ib.src = r->in;
    r->file_bytes += (long long)r->ib.size;
    return r->ib.size;
}

/* The file ended before the snapshot did. */
static vllm_status truncated(const zreader *r)
{
    if (r->file_bytes == 0) return vl_error(VLLM_ERR_FORMAT, "%s: the file is empty: not a snapshot", r->path);
    return vl_error(VLLM_ERR_FORMAT,
                    "%s: the snapshot is truncated: the file ends after %lld bytes, before the snapshot is complete "
                    "(a copy or save that was cut short)",
                    r->path, r->file_bytes);
}

/* Exactly n bytes or a FORMAT error: truncated, not a snapshot, or
 * corrupt (naming what was being read). */
static vllm_status zr_get(zreader *r, void *p, size_t n, const char *what)
{
    ZSTD_outBuffer out = {p, n, 0};
    while (out.pos < out.size) {
        if (r->ib.pos == r->ib.size && zr_fill(r) == 0) return truncated(r);
        size_t ret = ZSTD_decompressStream(r->dctx, &out, &r->ib);
        if (ZSTD_isError(ret)) {
            if (r->out_bytes + (long long)out.pos == 0) /* not even the start decodes */
                return vl_error(VLLM_ERR_FORMAT, "%s: not a libvideollm snapshot (not zstd data: %s)", r->path,
                                ZSTD_getErrorName(ret));
            return vl_error(VLLM_ERR_FORMAT, "%s: the snapshot is corrupt (%s) in %s", r->path, ZSTD_getErrorName(ret),
                            what);
        }
        r->last = ret;
    }
    r->out_bytes += (long long)n;
    return VLLM_OK;
}

/* After the last field: the frame must end here, and its checksum hold. */
static vllm_status zr_finish(zreader *r)
{
    uint8_t extra;
    for (;;) {
        if (r->last == 0) return VLLM_OK; /* frame and checksum fully decoded */
        ZSTD_outBuffer out = {&extra, 1, 0};
        if (r->ib.pos == r->ib.size) zr_fill(r);
        size_t ret = ZSTD_decompressStream(r->dctx, &out, &r->ib);
        if (ZSTD_isError(ret))
            return vl_error(VLLM_ERR_FORMAT, "%s: snapshot is corrupt (%s)", r->path, ZSTD_getErrorName(ret));
        if (out.pos) return vl_error(VLLM_ERR_FORMAT, "%s: unexpected data after the snapshot's end marker", r->path);
        r->last = ret;
        if (ret != 0 && r->ib.size == 0) return truncated(r);
    }
}

typedef struct snap_header {
    uint32_t version;
    int32_t n_layer, n_head_kv, head_dim, kv_type, n_past, turns, pending, turn_open, outro_pending;
    uint64_t text_len;
} snap_header;

static const char *kv_type_name(int32_t t)
{
    static const char *const names[] = {"f32", "f16", "q8_0", "q4_0"}; /* vllm_kv_type order */
    return t >= 0 && t < (int32_t)(sizeof names / sizeof *names) ? names[t] : "unknown";
}

static vllm_status read_header(zreader *r, vllm_session *s, snap_header *h)
{
    char magic[8];
    uint32_t version;
    uint64_t id;
    VL_TRY(zr_get(r, magic, 8, "the magic"));
    if (memcmp(magic, SNAP_MAGIC, 8) != 0) return vl_error(VLLM_ERR_FORMAT, "%s: not a libvideollm snapshot", r->path);
    VL_TRY(zr_get(r, &version, 4, "the version"));
    if (version < SNAP_VERSION_OLDEST || version > SNAP_VERSION)
        return vl_error(VLLM_ERR_UNSUPPORTED, "%s: snapshot version %u, this library reads versions %u to %u", r->path,
                        version, SNAP_VERSION_OLDEST, SNAP_VERSION);
    h->version = version;
    VL_TRY(zr_get(r, &id, 8, "the model identity"));
    if (id != model_identity(s->model))
        return vl_error(VLLM_ERR_INVALID_ARG, "%s: the snapshot was taken with a different model (or mmproj)", r->path);
    VL_TRY(zr_get(r, &h->n_layer, 9 * sizeof(int32_t), "the header")); /* the nine i32 fields from n_layer on */
    VL_TRY(zr_get(r, &h->text_len, 8, "the header"));
    const vl_llm_hparams *hp = &s->model->llm->hp;
    if (h->n_layer != hp->n_layer || h->n_head_kv != hp->n_head_kv || h->head_dim != hp->head_dim)
        return vl_error(VLLM_ERR_FORMAT, "%s: snapshot shape %d/%d/%d does not match the model", r->path, h->n_layer,
                        h->n_head_kv, h->head_dim);
    if (h->kv_type != (int32_t)vl_llm_state_kv_type(s->st))
        return vl_error(VLLM_ERR_INVALID_ARG,
                        "%s: the snapshot's KV type %s differs from the session's %s (create the session with "
                        "vllm_session_params.kv_type = the snapshot's)",
                        r->path, kv_type_name(h->kv_type), kv_type_name((int32_t)vl_llm_state_kv_type(s->st)));
    if (h->n_past < 0 || h->n_past > vl_llm_state_n_ctx(s->st))
        return vl_error(VLLM_ERR_CONTEXT_FULL, "%s: snapshot holds %d positions, the session's context is %d", r->path,
                        h->n_past, vl_llm_state_n_ctx(s->st));
    if (h->pending < -1 || h->pending >= hp->n_vocab || h->turns < 0 || (h->turn_open & ~1) || (h->outro_pending & ~1) ||
        h->text_len > (1u << 26))
        return vl_error(VLLM_ERR_FORMAT, "%s: snapshot header fields out of range", r->path);
    return VLLM_OK;
}

vllm_status vl_sess_load(vllm_session *s, const char *path)
{
    if (!s) return vl_error(VLLM_ERR_INVALID_ARG, "vllm_session_load: session is NULL");
    if (!path) return vl_session_fail(s, vl_error(VLLM_ERR_INVALID_ARG, "vllm_session_load: path is NULL"));
    struct stat sb; /* a FIFO or device would block or never end */
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode))
        return vl_session_fail(s, vl_error(VLLM_ERR_INVALID_ARG, "%s: not a regular file: cannot be a snapshot", path));
    zreader r = {0};
    r.path = path;
    r.f = fopen(path, "rb");
    if (!r.f) return vl_session_fail(s, vl_error(VLLM_ERR_IO, "%s: cannot open the snapshot", path));
    r.dctx = ZSTD_createDCtx();
    snap_header h;
    vllm_status st = r.dctx ? read_header(&r, s, &h) : vl_error(VLLM_ERR_NOMEM, "out of memory");

    /* Everything is read into fresh buffers first; the session changes
     * only once the whole snapshot has proved sound. */
    const vl_llm_hparams *hp = &s->model->llm->hp;
    char *text = NULL;
    int32_t *hist = NULL;
    uint8_t *kv = NULL;
    size_t row_bytes = 0;
    vl_llm_state_kv_head(s->st, 0, 0, 0, &row_bytes);
    const size_t head_bytes = vllm_is_error(st) ? 0 : (size_t)h.n_past * row_bytes;
    const size_t n_heads = (size_t)hp->n_layer * hp->n_head_kv * 2;
    if (!vllm_is_error(st)) {
        text = malloc(h.text_len + 1);
        hist = malloc(((size_t)h.n_past + 1) * sizeof *hist);
        kv = malloc(head_bytes * n_heads + 1);
        if (!text || !hist || !kv) st = vl_error(VLLM_ERR_NOMEM, "out of memory loading %s", path);
    }
    if (!vllm_is_error(st)) st = zr_get(&r, text, h.text_len, "the prompt text");
    if (!vllm_is_error(st)) st = zr_get(&r, hist, (size_t)h.n_past * sizeof *hist, "the token history");
    for (int32_t i = 0; !vllm_is_error(st) && i < h.n_past; i++)
        if (hist[i] < -1 || hist[i] >= hp->n_vocab)
            st = vl_error(VLLM_ERR_FORMAT, "%s: token %d at position %d is outside the vocabulary", path, hist[i], i);
    int32_t n_spans = 0;
    vl_span *spans = NULL;
    if (!vllm_is_error(st)) st = zr_get(&r, &n_spans, 4, "the frame spans");
    if (!vllm_is_error(st) && (n_spans < 0 || n_spans > h.n_past))
        st = vl_error(VLLM_ERR_FORMAT, "%s: %d frame spans for %d positions", path, n_spans, h.n_past);
    if (!vllm_is_error(st) && n_spans) {
        spans = malloc((size_t)n_spans * sizeof *spans);
        st = spans ? VLLM_OK : vl_error(VLLM_ERR_NOMEM, "out of memory");
        const size_t fields = h.version >= 3 ? 3 : 2;
        for (int32_t i = 0; !vllm_is_error(st) && i < n_spans; i++) {
            int32_t se[3] = {0, 0, VL_SPAN_FRAME};
            st = zr_get(&r, se, fields * sizeof *se, "the frame spans");
            /* times and offload blocks are not saved: the store belongs to the old context */
            spans[i] = (vl_span){.start = se[0], .end = se[1], .pts = -1.0, .block = -1, .kind = (vl_span_kind)se[2]};
            if (!vllm_is_error(st) && se[2] != VL_SPAN_FRAME && se[2] != VL_SPAN_TURN)
                st = vl_error(VLLM_ERR_FORMAT, "%s: span %d has unknown kind %d", path, i, se[2]);
        }
        for (int32_t i = 0; !vllm_is_error(st) && i < n_spans; i++)
            if (spans[i].start < (i ? spans[i - 1].end : 0) || spans[i].end <= spans[i].start || spans[i].end > h.n_past)
                st = vl_error(VLLM_ERR_FORMAT, "%s: frame span %d (%d..%d) is out of order or range", path, i,
                              spans[i].start, spans[i].end);
    }
    int32_t turn_start = -1;
    if (!vllm_is_error(st) && h.version >= 3) st = zr_get(&r, &turn_start, 4, "the open turn");
    if (!vllm_is_error(st) && (turn_start < -1 || turn_start > h.n_past ||
                               (turn_start >= 0 && n_spans && turn_start < spans[n_spans - 1].end)))
        st = vl_error(VLLM_ERR_FORMAT, "%s: open turn at position %d is out of range", path, turn_start);
    if (!vllm_is_error(st)) st = zr_get(&r, kv, head_bytes * n_heads, "the KV cache");
    char end[8];
    if (!vllm_is_error(st)) st = zr_get(&r, end, 8, "the end marker");
    if (!vllm_is_error(st) && memcmp(end, SNAP_END, 8) != 0)
        st = vl_error(VLLM_ERR_FORMAT, "%s: snapshot end marker missing", path);
    if (!vllm_is_error(st)) st = zr_finish(&r);

    if (!vllm_is_error(st) && (size_t)h.n_past > s->hist_cap) {
        int32_t *p = realloc(s->hist, (size_t)h.n_past * sizeof *p);
        if (!p) st = vl_error(VLLM_ERR_NOMEM, "out of memory");
        else s->hist = p, s->hist_cap = (size_t)h.n_past;
    }
    if (!vllm_is_error(st)) {
        vllm_session_reset(s);
        size_t at = 0;
        for (int il = 0; il < hp->n_layer; il++)
            for (int hh = 0; hh < hp->n_head_kv; hh++)
                for (int which = 0; which < 2; which++, at += head_bytes)
                    memcpy(vl_llm_state_kv_head(s->st, il, hh, which, NULL), kv + at, head_bytes);
        vl_llm_state_set_n_past(s->st, h.n_past);
        memcpy(s->hist, hist, (size_t)h.n_past * sizeof *hist);
        free(s->spans);
        s->spans = spans;
        s->n_spans = s->spans_cap = n_spans;
        spans = NULL;
        s->turn_start = turn_start;
        s->turns = h.turns;
        s->pending = h.pending;
        s->turn_open = h.turn_open;
        s->outro_pending = h.outro_pending;
        s->text_len = 0;
        if (h.text_len) {
            free(s->text);
            s->text = text;
            s->text_cap = h.text_len + 1;
            s->text_len = h.text_len;
            s->text[h.text_len] = '\0';
            text = NULL;
        }
    }
    free(text);
    free(hist);
    free(kv);
    free(spans);
    ZSTD_freeDCtx(r.dctx);
    fclose(r.f);
    return vllm_is_error(st) ? vl_session_fail(s, st) : VLLM_OK;
}
