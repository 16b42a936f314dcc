/* Session snapshots: everything needed to continue a conversation later —
 * the token history, the KV cache of the used positions and their
 * positions, the open media turn — in one zstd stream (snapshot_stream.c).
 *
 * Layout of the decompressed stream (little-endian):
 *   "VLLMSNAP" u32 version
 *   u64 model identity (FNV-1a over the text GGUF's metadata and tensor
 *       directory, and the mmproj's when one is loaded)
 *   family (not in versions 2-3): name of the text architecture, name of
 *       the vision projector ("" = text only), each as i32 length + bytes;
 *       i32 pin_e_to_zero (the text-position rule: (p,p,p,0) under
 *       llamacpp_compat, else (p,p,p,p))
 *   i32 n_layer, n_head_kv, head_dim, kv_type, n_past, turns, pending,
 *       turn_open, outro_pending; u64 text_len; text bytes
 *   i32 history[n_past]
 *   i32 n_spans; n_spans × (i32 start, i32 end, i32 kind, f64 pts)
 *       (evictable live frames and finished turns; version 3 had no pts,
 *       version 2 no kind either: all frames)
 *   i32 turn_start  (the open turn's first position or -1; not in version 2)
 *   f64 last_frame_pts  (not in versions 2-3)
 *   i32 positions[n_past × VL_POS_SECTIONS]  (t, h, w, e of every row; not
 *       in versions 2-3, whose rows all had the 1-D text positions)
 *   per layer, per KV head: K then V of positions [0, n_past)
 *   "SNAPEND!"
 * The positions are written for every row, always: 16 bytes against the
 * row's KV (n_layer × n_head_kv × 2 × head_dim values, 1.5 KB in the tiny
 * test model and tens of KB in real ones), so skipping rows that follow
 * the 1-D text rule would save nothing worth a second code path.
 * Loading checks every field against the session before touching it, so
 * a snapshot of another model or family, a truncated or corrupt file is
 * a clean error and leaves the session as it was. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/atomic_file.h"
#include "session_internal.h"
#include "snapshot_stream.h"

#define SNAP_MAGIC "VLLMSNAP"
#define SNAP_END "SNAPEND!"
#define SNAP_VERSION 4u
#define SNAP_VERSION_OLDEST 2u   /* still read: see the layout for what they lack */
#define SNAP_NAME_MAX 64         /* bytes of an architecture or projector name */
#define SNAP_POS_MAX (INT32_MAX / 2) /* positions vl_llm_state_set_positions accepts are below */

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

/* What gives a row's positions their meaning: the text architecture
 * (1-D or which M-RoPE), the vision projector (how visual blocks were laid
 * out) and the text-position rule. */
typedef struct snap_family {
    char arch[SNAP_NAME_MAX + 1];
    char projector[SNAP_NAME_MAX + 1]; /* "" = text only */
    int32_t pin_e_to_zero;
} snap_family;

static void family_of(const vllm_model *m, snap_family *f)
{
    memset(f, 0, sizeof *f);
    snprintf(f->arch, sizeof f->arch, "%s", m->llm->hp.arch);
    const char *proj = m->vision ? vl_vision_projector_name(m->vision) : NULL;
    snprintf(f->projector, sizeof f->projector, "%s", proj ? proj : "");
    f->pin_e_to_zero = m->llm->hp.pin_e_to_zero;
}

static int multi_section(const vl_llm_hparams *hp) { return hp->rope.kind >= VL_ROPE_MROPE; }

/* ---- writing ----------------------------------------------------------------- */

static void put_name(vl_snap_writer *w, const char *name)
{
    vl_snap_put_i32(w, (int32_t)strlen(name));
    vl_snap_put(w, name, strlen(name));
}

static void put_f64(vl_snap_writer *w, double v) { vl_snap_put(w, &v, 8); }

vllm_status vl_sess_save(vllm_session *s, const char *path)
{
    if (!s) return vl_error(VLLM_ERR_INVALID_ARG, "vllm_session_save: session is NULL");
    if (!path) return vl_session_fail(s, vl_error(VLLM_ERR_INVALID_ARG, "vllm_session_save: path is NULL"));
    /* a new file renamed over the old one: a failed save leaves the old snapshot */
    vl_atomic_file af;
    vllm_status ost = vl_atomic_file_open(&af, path, "the snapshot");
    if (vllm_is_error(ost)) return vl_session_fail(s, ost);
    vl_snap_writer *w = vl_snap_writer_new(af.f);
    if (!w) {
        vl_atomic_file_abort(&af);
        return vl_session_fail(s, vl_error(VLLM_ERR_NOMEM, "out of memory"));
    }

    const vl_llm_hparams *hp = &s->model->llm->hp;
    const int32_t n_past = vl_llm_state_n_past(s->st);
    const uint32_t version = SNAP_VERSION;
    const uint64_t id = model_identity(s->model);
    snap_family fam;
    family_of(s->model, &fam);
    vl_snap_put(w, SNAP_MAGIC, 8);
    vl_snap_put(w, &version, 4);
    vl_snap_put(w, &id, 8);
    put_name(w, fam.arch);
    put_name(w, fam.projector);
    vl_snap_put_i32(w, fam.pin_e_to_zero);
    const int32_t head[] = {hp->n_layer, hp->n_head_kv, hp->head_dim, (int32_t)vl_llm_state_kv_type(s->st), n_past,
                            s->turns,    s->pending,    s->turn_open, s->outro_pending};
    vl_snap_put(w, head, sizeof head);
    const uint64_t text_len = s->text_len;
    vl_snap_put(w, &text_len, 8);
    vl_snap_put(w, s->text, text_len);
    vl_snap_put(w, s->hist, (size_t)n_past * sizeof *s->hist);
    vl_snap_put_i32(w, s->n_spans);
    for (int i = 0; i < s->n_spans; i++) {
        const int32_t se[3] = {s->spans[i].start, s->spans[i].end, (int32_t)s->spans[i].kind};
        vl_snap_put(w, se, sizeof se);
        put_f64(w, s->spans[i].pts);
    }
    vl_snap_put_i32(w, s->turn_start);
    put_f64(w, s->last_frame_pts);
    for (int32_t i = 0; i < n_past; i++) {
        int32_t pos[VL_POS_SECTIONS];
        vl_llm_state_row_pos(s->st, i, pos);
        vl_snap_put(w, pos, sizeof pos);
    }
    for (int il = 0; il < hp->n_layer; il++)
        for (int h = 0; h < hp->n_head_kv; h++)
            for (int which = 0; which < 2; which++) {
                size_t row_bytes;
                const void *kv = vl_llm_state_kv_head(s->st, il, h, which, &row_bytes);
                vl_snap_put(w, kv, (size_t)n_past * row_bytes);
            }
    vl_snap_put(w, SNAP_END, 8);
    ost = vl_snap_writer_end(w, path);
    if (vllm_is_error(ost)) {
        vl_atomic_file_abort(&af); /* only the temporary file goes */
        return vl_session_fail(s, ost);
    }
    ost = vl_atomic_file_commit(&af);
    return vllm_is_error(ost) ? vl_session_fail(s, ost) : VLLM_OK;
}

/* ---- reading ------------------------------------------------------------------ */

/* Everything a snapshot holds, read into fresh buffers: the session
 * changes only once the whole snapshot has proved sound. */
typedef struct snap_body {
    uint32_t version;
    int32_t n_layer, n_head_kv, head_dim, kv_type, n_past, turns, pending, turn_open, outro_pending;
    uint64_t text_len;
    char *text;      /* text_len + 1 */
    int32_t *hist;   /* n_past */
    vl_span *spans;  /* n_spans */
    int32_t n_spans, turn_start;
    double last_frame_pts;
    int32_t *pos;    /* n_past × VL_POS_SECTIONS, NULL for versions 2-3 (1-D text positions) */
    uint8_t *kv;     /* n_layer × n_head_kv × 2 heads of n_past rows */
} snap_body;

static void body_free(snap_body *b)
{
    free(b->text);
    free(b->hist);
    free(b->spans);
    free(b->pos);
    free(b->kv);
}

static const char *kv_type_name(int32_t t)
{
    static const char *const names[] = {"f32", "f16", "q8_0", "q4_0"}; /* vllm_kv_type order */
    return t >= 0 && t < (int32_t)(sizeof names / sizeof *names) ? names[t] : "unknown";
}

static vllm_status get_name(vl_snap_reader *r, char out[SNAP_NAME_MAX + 1], const char *what)
{
    int32_t len;
    VL_TRY(vl_snap_get(r, &len, 4, what));
    if (len < 0 || len > SNAP_NAME_MAX)
        return vl_error(VLLM_ERR_FORMAT, "%s: %s of %d bytes (at most %d): the snapshot is corrupt", r->path, what, len,
                        SNAP_NAME_MAX);
    VL_TRY(vl_snap_get(r, out, (size_t)len, what));
    out[len] = '\0';
    if (strlen(out) != (size_t)len) return vl_error(VLLM_ERR_FORMAT, "%s: %s holds a NUL byte", r->path, what);
    return VLLM_OK;
}

/* Version 4's family block against the session's model: a snapshot of
 * another family is refused by name before the identity check, whose
 * message could only say "a different model". */
static vllm_status check_family(vl_snap_reader *r, const vllm_model *m)
{
    snap_family got, want;
    family_of(m, &want);
    VL_TRY(get_name(r, got.arch, "the text architecture"));
    VL_TRY(get_name(r, got.projector, "the vision projector name"));
    VL_TRY(vl_snap_get(r, &got.pin_e_to_zero, 4, "the text-position rule"));
    if (strcmp(got.arch, want.arch) || strcmp(got.projector, want.projector))
        return vl_error(VLLM_ERR_INVALID_ARG,
                        "%s: the snapshot was taken with a %s text model and %s%s, this session has a %s text model "
                        "and %s%s: its positions and KV cache cannot continue here",
                        r->path, got.arch, *got.projector ? "projector " : "no projector", got.projector, want.arch,
                        *want.projector ? "projector " : "no projector", want.projector);
    /* 1-D models read only t: the e rule changes nothing in their cache */
    if ((got.pin_e_to_zero != 0) != (want.pin_e_to_zero != 0) && multi_section(&m->llm->hp))
        return vl_error(VLLM_ERR_INVALID_ARG,
                        "%s: the snapshot was taken with llamacpp_compat %s (text positions (p, p, p, %s)), the "
                        "session's model was loaded with it %s: load the model with the snapshot's llamacpp_compat",
                        r->path, got.pin_e_to_zero ? "on" : "off", got.pin_e_to_zero ? "0" : "p",
                        want.pin_e_to_zero ? "on" : "off");
    return VLLM_OK;
}

static vllm_status read_header(vl_snap_reader *r, vllm_session *s, snap_body *b)
{
    char magic[8];
    uint64_t id;
    VL_TRY(vl_snap_get(r, magic, 8, "the magic"));
    if (memcmp(magic, SNAP_MAGIC, 8) != 0) return vl_error(VLLM_ERR_FORMAT, "%s: not a libvideollm snapshot", r->path);
    VL_TRY(vl_snap_get(r, &b->version, 4, "the version"));
    if (b->version < SNAP_VERSION_OLDEST || b->version > SNAP_VERSION)
        return vl_error(VLLM_ERR_UNSUPPORTED, "%s: snapshot version %u, this library reads versions %u to %u", r->path,
                        b->version, SNAP_VERSION_OLDEST, SNAP_VERSION);
    VL_TRY(vl_snap_get(r, &id, 8, "the model identity"));
    if (b->version >= 4) VL_TRY(check_family(r, s->model));
    if (id != model_identity(s->model))
        return vl_error(VLLM_ERR_INVALID_ARG, "%s: the snapshot was taken with a different model (or mmproj)", r->path);
    VL_TRY(vl_snap_get(r, &b->n_layer, 9 * sizeof(int32_t), "the header")); /* the nine i32 fields from n_layer on */
    VL_TRY(vl_snap_get(r, &b->text_len, 8, "the header"));
    const vl_llm_hparams *hp = &s->model->llm->hp;
    if (b->n_layer != hp->n_layer || b->n_head_kv != hp->n_head_kv || b->head_dim != hp->head_dim)
        return vl_error(VLLM_ERR_FORMAT, "%s: snapshot shape %d/%d/%d does not match the model", r->path, b->n_layer,
                        b->n_head_kv, b->head_dim);
    if (b->kv_type != (int32_t)vl_llm_state_kv_type(s->st))
        return vl_error(VLLM_ERR_INVALID_ARG,
                        "%s: the snapshot's KV type %s differs from the session's %s (create the session with "
                        "vllm_session_params.kv_type = the snapshot's)",
                        r->path, kv_type_name(b->kv_type), kv_type_name((int32_t)vl_llm_state_kv_type(s->st)));
    if (b->n_past < 0 || b->n_past > vl_llm_state_n_ctx(s->st))
        return vl_error(VLLM_ERR_CONTEXT_FULL, "%s: snapshot holds %d positions, the session's context is %d", r->path,
                        b->n_past, vl_llm_state_n_ctx(s->st));
    if (b->pending < -1 || b->pending >= hp->n_vocab || b->turns < 0 || (b->turn_open & ~1) || (b->outro_pending & ~1) ||
        b->text_len > (1u << 26))
        return vl_error(VLLM_ERR_FORMAT, "%s: snapshot header fields out of range", r->path);
    return VLLM_OK;
}

static vllm_status read_spans(vl_snap_reader *r, snap_body *b)
{
    VL_TRY(vl_snap_get(r, &b->n_spans, 4, "the frame spans"));
    if (b->n_spans < 0 || b->n_spans > b->n_past)
        return vl_error(VLLM_ERR_FORMAT, "%s: %d frame spans for %d positions", r->path, b->n_spans, b->n_past);
    if (b->n_spans && !(b->spans = malloc((size_t)b->n_spans * sizeof *b->spans)))
        return vl_error(VLLM_ERR_NOMEM, "out of memory");
    const size_t fields = b->version >= 3 ? 3 : 2;
    for (int32_t i = 0; i < b->n_spans; i++) {
        int32_t se[3] = {0, 0, VL_SPAN_FRAME};
        double pts = -1.0;
        VL_TRY(vl_snap_get(r, se, fields * sizeof *se, "the frame spans"));
        if (b->version >= 4) VL_TRY(vl_snap_get(r, &pts, 8, "the frame spans"));
        /* offload blocks are not saved: the store belongs to the old context */
        b->spans[i] = (vl_span){.start = se[0], .end = se[1], .pts = pts, .block = -1, .kind = (vl_span_kind)se[2]};
        if (se[2] != VL_SPAN_FRAME && se[2] != VL_SPAN_TURN)
            return vl_error(VLLM_ERR_FORMAT, "%s: span %d has unknown kind %d", r->path, i, se[2]);
        if (!(pts == -1.0 || (pts >= 0 && pts <= 1e10)))
            return vl_error(VLLM_ERR_FORMAT, "%s: span %d has time %g", r->path, i, pts);
        if (se[0] < (i ? b->spans[i - 1].end : 0) || se[1] <= se[0] || se[1] > b->n_past)
            return vl_error(VLLM_ERR_FORMAT, "%s: frame span %d (%d..%d) is out of order or range", r->path, i, se[0],
                            se[1]);
    }
    b->turn_start = -1;
    if (b->version >= 3) VL_TRY(vl_snap_get(r, &b->turn_start, 4, "the open turn"));
    if (b->turn_start < -1 || b->turn_start > b->n_past ||
        (b->turn_start >= 0 && b->n_spans && b->turn_start < b->spans[b->n_spans - 1].end))
        return vl_error(VLLM_ERR_FORMAT, "%s: open turn at position %d is out of range", r->path, b->turn_start);
    b->last_frame_pts = -1.0;
    if (b->version >= 4) VL_TRY(vl_snap_get(r, &b->last_frame_pts, 8, "the last frame's time"));
    if (!(b->last_frame_pts == -1.0 || (b->last_frame_pts >= 0 && b->last_frame_pts <= 1e10)))
        return vl_error(VLLM_ERR_FORMAT, "%s: last frame time %g is out of range", r->path, b->last_frame_pts);
    return VLLM_OK;
}

/* Every row's positions, checked as vl_llm_state_set_positions will; a
 * 1-D model's rows must be their own index (its keys are rotated by t). */
static vllm_status read_positions(vl_snap_reader *r, const vl_llm_hparams *hp, snap_body *b)
{
    if (b->version < 4) return VLLM_OK;
    const size_t n = (size_t)b->n_past * VL_POS_SECTIONS;
    if (!(b->pos = malloc(n * sizeof *b->pos + 1))) return vl_error(VLLM_ERR_NOMEM, "out of memory");
    VL_TRY(vl_snap_get(r, b->pos, n * sizeof *b->pos, "the positions"));
    for (size_t i = 0; i < n; i++) {
        const int32_t row = (int32_t)(i / VL_POS_SECTIONS);
        if (b->pos[i] < 0 || b->pos[i] >= SNAP_POS_MAX)
            return vl_error(VLLM_ERR_FORMAT, "%s: position %d of row %d is out of range", r->path, b->pos[i], row);
        if (!multi_section(hp) && i % VL_POS_SECTIONS == 0 && b->pos[i] != row)
            return vl_error(VLLM_ERR_FORMAT, "%s: row %d of this 1-D %s model has position %d", r->path, row, hp->arch,
                            b->pos[i]);
    }
    return VLLM_OK;
}

static vllm_status read_body(vl_snap_reader *r, vllm_session *s, snap_body *b)
{
    const vl_llm_hparams *hp = &s->model->llm->hp;
    VL_TRY(read_header(r, s, b));
    size_t row_bytes = 0;
    vl_llm_state_kv_head(s->st, 0, 0, 0, &row_bytes);
    const size_t kv_bytes = (size_t)b->n_past * row_bytes * (size_t)hp->n_layer * (size_t)hp->n_head_kv * 2;
    b->text = malloc(b->text_len + 1);
    b->hist = malloc(((size_t)b->n_past + 1) * sizeof *b->hist);
    b->kv = malloc(kv_bytes + 1);
    if (!b->text || !b->hist || !b->kv) return vl_error(VLLM_ERR_NOMEM, "out of memory loading %s", r->path);
    VL_TRY(vl_snap_get(r, b->text, b->text_len, "the prompt text"));
    b->text[b->text_len] = '\0';
    VL_TRY(vl_snap_get(r, b->hist, (size_t)b->n_past * sizeof *b->hist, "the token history"));
    for (int32_t i = 0; i < b->n_past; i++)
        if (b->hist[i] < -1 || b->hist[i] >= hp->n_vocab)
            return vl_error(VLLM_ERR_FORMAT, "%s: token %d at position %d is outside the vocabulary", r->path,
                            b->hist[i], i);
    VL_TRY(read_spans(r, b));
    VL_TRY(read_positions(r, hp, b));
    VL_TRY(vl_snap_get(r, b->kv, kv_bytes, "the KV cache"));
    char end[8];
    VL_TRY(vl_snap_get(r, end, 8, "the end marker"));
    if (memcmp(end, SNAP_END, 8) != 0) return vl_error(VLLM_ERR_FORMAT, "%s: snapshot end marker missing", r->path);
    return vl_snap_reader_finish(r);
}

/* The sound snapshot replaces the session's context (takes b's buffers). */
static void apply(vllm_session *s, snap_body *b)
{
    const vl_llm_hparams *hp = &s->model->llm->hp;
    size_t row_bytes = 0;
    vl_llm_state_kv_head(s->st, 0, 0, 0, &row_bytes);
    const size_t bytes = (size_t)b->n_past * row_bytes;
    vllm_session_reset(s);
    size_t at = 0;
    for (int il = 0; il < hp->n_layer; il++)
        for (int hh = 0; hh < hp->n_head_kv; hh++)
            for (int which = 0; which < 2; which++, at += bytes)
                memcpy(vl_llm_state_kv_head(s->st, il, hh, which, NULL), b->kv + at, bytes);
    vl_llm_state_set_n_past(s->st, b->n_past); /* 1-D text positions: what versions 2-3 had */
    /* checked by read_positions exactly as set_positions checks them, so
     * this cannot fail; 1-D models keep their own text rule (their e
     * section may follow another llamacpp_compat setting and is unused) */
    if (b->pos && multi_section(hp)) vl_llm_state_set_positions(s->st, b->pos, b->n_past);
    memcpy(s->hist, b->hist, (size_t)b->n_past * sizeof *b->hist);
    free(s->spans);
    s->spans = b->spans;
    s->n_spans = s->spans_cap = b->n_spans;
    b->spans = NULL;
    s->turn_start = b->turn_start;
    s->last_frame_pts = b->last_frame_pts;
    s->turns = b->turns;
    s->pending = b->pending;
    s->turn_open = b->turn_open;
    s->outro_pending = b->outro_pending;
    free(s->text);
    s->text = b->text;
    s->text_cap = b->text_len + 1;
    s->text_len = b->text_len;
    b->text = NULL;
}

vllm_status vl_sess_load(vllm_session *s, const char *path)
{
    if (!s) return vl_error(VLLM_ERR_INVALID_ARG, "vllm_session_load: session is NULL");
    if (!path) return vl_session_fail(s, vl_error(VLLM_ERR_INVALID_ARG, "vllm_session_load: path is NULL"));
    struct stat sb; /* a FIFO or device would block or never end */
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode))
        return vl_session_fail(s, vl_error(VLLM_ERR_INVALID_ARG, "%s: not a regular file: cannot be a snapshot", path));
    vl_snap_reader r;
    snap_body b = {0};
    vllm_status st = vl_snap_reader_open(&r, path);
    if (!vllm_is_error(st)) st = read_body(&r, s, &b);
    vl_snap_reader_close(&r);
    if (!vllm_is_error(st) && (size_t)b.n_past > s->hist_cap) {
        int32_t *p = realloc(s->hist, (size_t)b.n_past * sizeof *p);
        if (!p) st = vl_error(VLLM_ERR_NOMEM, "out of memory");
        else s->hist = p, s->hist_cap = (size_t)b.n_past;
    }
    if (!vllm_is_error(st)) apply(s, &b);
    body_free(&b);
    return vllm_is_error(st) ? vl_session_fail(s, st) : VLLM_OK;
}
