#include "gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dtype.h"

/* ---- metadata arena ------------------------------------------------------
 * All parse-time allocations hang off one list so a failed parse frees in
 * one sweep. Each allocation is bounded by the bytes left in the file. */

typedef struct arena_block {
    struct arena_block *next;
    max_align_t data[];
} arena_block;

static void *arena_alloc(vl_gguf *g, size_t n)
{
    arena_block *b = malloc(sizeof *b + (n ? n : 1));
    if (!b) return NULL;
    b->next = g->arena;
    g->arena = b;
    memset(b->data, 0, n);
    return b->data;
}

static void arena_free(vl_gguf *g)
{
    arena_block *b = g->arena;
    while (b) {
        arena_block *next = b->next;
        free(b);
        b = next;
    }
    g->arena = NULL;
}

/* ---- bounds-checked cursor ---------------------------------------------- */

typedef struct cursor {
    const uint8_t *base;
    uint64_t size;
    uint64_t pos;
    const vl_gguf *g;
} cursor;

static uint64_t remaining(const cursor *c) { return c->size - c->pos; }

static vllm_status truncated(const cursor *c, const char *what, const char *ctx)
{
    return vl_error(VLLM_ERR_FORMAT, "%s: truncated file: %s%s%s at byte offset %llu (file is %llu bytes)",
                    c->g->path, what, ctx ? " of " : "", ctx ? ctx : "", (unsigned long long)c->pos,
                    (unsigned long long)c->size);
}

static vllm_status read_bytes(cursor *c, void *dst, size_t n, const char *what, const char *ctx)
{
    if (remaining(c) < n) return truncated(c, what, ctx);
    memcpy(dst, c->base + c->pos, n);
    c->pos += n;
    return VLLM_OK;
}

static vllm_status read_u32(cursor *c, uint32_t *v, const char *what, const char *ctx)
{
    return read_bytes(c, v, 4, what, ctx);
}

static vllm_status read_u64(cursor *c, uint64_t *v, const char *what, const char *ctx)
{
    return read_bytes(c, v, 8, what, ctx);
}

static vllm_status read_str(cursor *c, vl_str *s, const char *what, const char *ctx)
{
    uint64_t start = c->pos;
    uint64_t len = 0;
    VL_TRY(read_u64(c, &len, what, ctx));
    if (len > remaining(c)) {
        return vl_error(VLLM_ERR_FORMAT,
                        "%s: %s%s%s at byte offset %llu claims %llu bytes but only %llu remain", c->g->path,
                        what, ctx ? " of " : "", ctx ? ctx : "", (unsigned long long)start,
                        (unsigned long long)len, (unsigned long long)remaining(c));
    }
    s->ptr = (const char *)c->base + c->pos;
    s->len = len;
    c->pos += len;
    return VLLM_OK;
}

/* ---- value types --------------------------------------------------------- */

size_t vl_gguf_vtype_size(vl_gguf_vtype t)
{
    switch (t) {
    case VL_GGUF_UINT8: case VL_GGUF_INT8: case VL_GGUF_BOOL: return 1;
    case VL_GGUF_UINT16: case VL_GGUF_INT16: return 2;
    case VL_GGUF_UINT32: case VL_GGUF_INT32: case VL_GGUF_FLOAT32: return 4;
    case VL_GGUF_UINT64: case VL_GGUF_INT64: case VL_GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

const char *vl_gguf_vtype_name(vl_gguf_vtype t)
{
    static const char *names[] = {"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
                                  "bool", "string", "array", "uint64", "int64", "float64"};
    return (unsigned)t < VL_GGUF_VTYPE_COUNT ? names[t] : "invalid";
}

static int is_signed_int(vl_gguf_vtype t)
{
    return t == VL_GGUF_INT8 || t == VL_GGUF_INT16 || t == VL_GGUF_INT32 || t == VL_GGUF_INT64;
}

static int is_unsigned_int(vl_gguf_vtype t)
{
    return t == VL_GGUF_UINT8 || t == VL_GGUF_UINT16 || t == VL_GGUF_UINT32 || t == VL_GGUF_UINT64;
}

/* Decode one fixed-size little-endian scalar at p into the value union. */
static void decode_scalar(vl_gguf_vtype t, const uint8_t *p, vl_gguf_value *v)
{
    v->type = t;
    switch (t) {
    case VL_GGUF_UINT8: v->v.u = p[0]; break;
    case VL_GGUF_BOOL: v->v.u = p[0] != 0; break;
    case VL_GGUF_INT8: v->v.i = (int8_t)p[0]; break;
    case VL_GGUF_UINT16: { uint16_t x; memcpy(&x, p, 2); v->v.u = x; break; }
    case VL_GGUF_INT16: { int16_t x; memcpy(&x, p, 2); v->v.i = x; break; }
    case VL_GGUF_UINT32: { uint32_t x; memcpy(&x, p, 4); v->v.u = x; break; }
    case VL_GGUF_INT32: { int32_t x; memcpy(&x, p, 4); v->v.i = x; break; }
    case VL_GGUF_UINT64: { uint64_t x; memcpy(&x, p, 8); v->v.u = x; break; }
    case VL_GGUF_INT64: { int64_t x; memcpy(&x, p, 8); v->v.i = x; break; }
    case VL_GGUF_FLOAT32: { float x; memcpy(&x, p, 4); v->v.f = x; break; }
    case VL_GGUF_FLOAT64: { double x; memcpy(&x, p, 8); v->v.f = x; break; }
    default: break;
    }
}

/* Read (out != NULL) or only validate (out == NULL) one value of type t.
 *
 * Parsing runs in two passes: the first validates the whole metadata with
 * out == NULL and allocates nothing, the second stores it. So counts are
 * only ever used to size an allocation after that many elements were
 * actually found in the file: a corrupted count in a multi-gigabyte file
 * fails cleanly instead of asking for gigabytes of metadata first. */
static vllm_status read_value(cursor *c, vl_gguf *g, vl_gguf_vtype t, vl_gguf_value *out, const char *key,
                              int depth)
{
    vl_gguf_value scratch;
    if (!out) out = &scratch;
    int store = out != &scratch;
    out->type = t;
    size_t fixed = vl_gguf_vtype_size(t);
    if (fixed) {
        if (remaining(c) < fixed) return truncated(c, "value", key);
        decode_scalar(t, c->base + c->pos, out);
        c->pos += fixed;
        return VLLM_OK;
    }
    if (t == VL_GGUF_STRING) return read_str(c, &out->v.s, "string value", key);
    if (t != VL_GGUF_ARRAY) {
        return vl_error(VLLM_ERR_FORMAT, "%s: key '%s': invalid value type %u at byte offset %llu", g->path,
                        key, (unsigned)t, (unsigned long long)(c->pos - 4));
    }

    uint64_t at = c->pos;
    if (depth >= VL_GGUF_MAX_NESTING) {
        return vl_error(VLLM_ERR_FORMAT, "%s: key '%s': arrays nested deeper than %d at byte offset %llu",
                        g->path, key, VL_GGUF_MAX_NESTING, (unsigned long long)at);
    }
    uint32_t elem = 0;
    uint64_t n = 0;
    VL_TRY(read_u32(c, &elem, "array element type", key));
    VL_TRY(read_u64(c, &n, "array length", key));
    if (elem >= VL_GGUF_VTYPE_COUNT) {
        return vl_error(VLLM_ERR_FORMAT, "%s: key '%s': invalid array element type %u at byte offset %llu",
                        g->path, key, elem, (unsigned long long)at);
    }
    out->v.arr.elem = (vl_gguf_vtype)elem;
    out->v.arr.n = n;
    out->v.arr.raw = NULL;
    out->v.arr.strs = NULL;
    out->v.arr.items = NULL;

    /* Every element occupies at least `min_bytes` in the file, so a count
     * larger than remaining/min_bytes is a lie: refuse it at once. */
    size_t esize = vl_gguf_vtype_size((vl_gguf_vtype)elem);
    uint64_t min_bytes = esize ? esize : (elem == VL_GGUF_STRING ? 8 : 12);
    if (n > remaining(c) / min_bytes) {
        return vl_error(VLLM_ERR_FORMAT,
                        "%s: key '%s': array at byte offset %llu claims %llu elements of type %s, more than the "
                        "%llu bytes left can hold",
                        g->path, key, (unsigned long long)at, (unsigned long long)n,
                        vl_gguf_vtype_name((vl_gguf_vtype)elem), (unsigned long long)remaining(c));
    }
    if (esize) {
        out->v.arr.raw = c->base + c->pos;
        c->pos += n * esize;
        return VLLM_OK;
    }
    if (elem == VL_GGUF_STRING) {
        vl_str *strs = NULL;
        if (store && n) {
            strs = arena_alloc(g, (size_t)n * sizeof *strs);
            if (!strs)
                return vl_error(VLLM_ERR_NOMEM, "%s: key '%s': out of memory for %llu strings", g->path, key,
                                (unsigned long long)n);
        }
        for (uint64_t i = 0; i < n; i++) {
            vl_str s;
            VL_TRY(read_str(c, &s, "array string", key));
            if (strs) strs[i] = s;
        }
        out->v.arr.strs = strs;
        return VLLM_OK;
    }
    vl_gguf_value *items = NULL;
    if (store && n) {
        items = arena_alloc(g, (size_t)n * sizeof *items);
        if (!items)
            return vl_error(VLLM_ERR_NOMEM, "%s: key '%s': out of memory for %llu arrays", g->path, key,
                            (unsigned long long)n);
    }
    for (uint64_t i = 0; i < n; i++)
        VL_TRY(read_value(c, g, VL_GGUF_ARRAY, items ? &items[i] : NULL, key, depth + 1));
    out->v.arr.items = items;
    return VLLM_OK;
}

int vl_str_eq(vl_str s, const char *c)
{
    size_t n = strlen(c);
    return s.len == n && (n == 0 || memcmp(s.ptr, c, n) == 0);
}

/* Copy a vl_str into a bounded C buffer for messages. Bytes outside
 * printable ASCII become '?', so a hostile key cannot put terminal escape
 * sequences (or a NUL that hides the rest) into an error message. */
static const char *str_c(vl_str s, char *buf, size_t cap)
{
    size_t n = s.len < cap - 1 ? (size_t)s.len : cap - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s.ptr[i];
        buf[i] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
    }
    buf[n] = '\0';
    return buf;
}

static const char *tensor_name_c(const vl_gguf_tensor *t, char *buf, size_t cap)
{
    vl_str s = {t->name, strlen(t->name)};
    return str_c(s, buf, cap);
}

static int cmp_offset(const void *a, const void *b)
{
    const vl_gguf_tensor *x = *(vl_gguf_tensor *const *)a, *y = *(vl_gguf_tensor *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* ---- name index ------------------------------------------------------------
 * Open-addressing hash tables over key and tensor names. They make the
 * duplicate checks linear (a file with a million keys must not cost 10^12
 * comparisons) and lookups constant-time. Slots hold index+1; 0 = empty. */

typedef struct vl_gguf_index {
    uint64_t kv_mask;
    uint64_t *kv_slots;
    uint64_t t_mask;
    uint64_t *t_slots;
} vl_gguf_index;

static uint64_t hash_bytes(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* A power-of-two table with at least twice as many slots as entries. */
static uint64_t *index_table(vl_gguf *g, uint64_t n, uint64_t *mask)
{
    uint64_t cap = 4;
    while (cap < 2 * n) cap <<= 1;
    *mask = cap - 1;
    return arena_alloc(g, (size_t)cap * sizeof(uint64_t));
}

static vl_gguf_index *get_index(const vl_gguf *g) { return g ? (vl_gguf_index *)g->index : NULL; }

/* ---- the parse ------------------------------------------------------------ */

/* One key-value pair at the cursor; kv == NULL validates only. */
static vllm_status parse_kv(cursor *c, vl_gguf *g, uint64_t i, vl_gguf_kv *kv)
{
    uint64_t at = c->pos;
    char idx[40];
    snprintf(idx, sizeof idx, "metadata entry %llu", (unsigned long long)i);
    vl_str k = {0};
    VL_TRY(read_str(c, &k, "key", idx));
    char key[128];
    str_c(k, key, sizeof key);
    if (k.len == 0)
        return vl_error(VLLM_ERR_FORMAT, "%s: %s has an empty key at byte offset %llu", g->path, idx,
                        (unsigned long long)at);
    uint32_t type = 0;
    VL_TRY(read_u32(c, &type, "value type", key));
    if (type >= VL_GGUF_VTYPE_COUNT) {
        return vl_error(VLLM_ERR_FORMAT, "%s: key '%s': invalid value type %u at byte offset %llu", g->path, key,
                        type, (unsigned long long)(c->pos - 4));
    }
    /* Scalars and strings allocate nothing, so the validation pass may
     * decode them into a scratch value; arrays are only walked. */
    vl_gguf_value scratch = {.type = (vl_gguf_vtype)type};
    vl_gguf_value *dst = kv ? &kv->value : (type == VL_GGUF_ARRAY ? NULL : &scratch);
    VL_TRY(read_value(c, g, (vl_gguf_vtype)type, dst, key, 0));
    const vl_gguf_value v = dst ? *dst : scratch;
    if (kv) {
        kv->key = k;
        kv->offset = at;
    }
    if (vl_str_eq(k, "general.alignment")) {
        /* llama.cpp's gguf.cpp demands a uint32 power of two as well. */
        if (v.type != VL_GGUF_UINT32 || v.v.u == 0 || (v.v.u & (v.v.u - 1))) {
            char val[32] = "";
            if (v.type == VL_GGUF_UINT32) snprintf(val, sizeof val, " (%llu)", (unsigned long long)v.v.u);
            return vl_error(VLLM_ERR_FORMAT,
                            "%s: key 'general.alignment' at byte offset %llu is a %s%s; it must be a uint32 power "
                            "of two",
                            g->path, (unsigned long long)at, vl_gguf_vtype_name(v.type), val);
        }
        g->alignment = (uint32_t)v.v.u;
    }
    return VLLM_OK;
}

/* One tensor record at the cursor into *t (which the caller owns). */
static vllm_status parse_tensor(cursor *c, vl_gguf *g, uint64_t i, vl_gguf_tensor *t)
{
    uint64_t at = c->pos;
    char idx[40];
    snprintf(idx, sizeof idx, "tensor %llu", (unsigned long long)i);
    vl_str name = {0};
    VL_TRY(read_str(c, &name, "name", idx));
    if (name.len == 0 || name.len >= sizeof t->name) {
        char shown[sizeof t->name];
        return vl_error(VLLM_ERR_FORMAT,
                        "%s: tensor %llu ('%s') at byte offset %llu: name length %llu out of range 1..%zu", g->path,
                        (unsigned long long)i, str_c(name, shown, sizeof shown), (unsigned long long)at,
                        (unsigned long long)name.len, sizeof t->name - 1);
    }
    if (memchr(name.ptr, '\0', name.len))
        return vl_error(VLLM_ERR_FORMAT, "%s: tensor %llu at byte offset %llu: name contains a NUL byte", g->path,
                        (unsigned long long)i, (unsigned long long)at);
    memcpy(t->name, name.ptr, name.len);
    t->name[name.len] = '\0';
    char shown[sizeof t->name];
    str_c(name, shown, sizeof shown);

    uint32_t n_dims = 0;
    VL_TRY(read_u32(c, &n_dims, "dimension count", shown));
    if (n_dims < 1 || n_dims > VL_GGUF_MAX_DIMS) {
        return vl_error(VLLM_ERR_FORMAT, "%s: tensor '%s': %u dimensions at byte offset %llu (1..%d allowed)",
                        g->path, shown, n_dims, (unsigned long long)(c->pos - 4), VL_GGUF_MAX_DIMS);
    }
    t->n_dims = (int32_t)n_dims;
    /* Every dimension is at least 1 and the element count fits in int64:
     * users multiply ne[] freely, so no product of them may overflow. */
    uint64_t nel = 1;
    for (int d = 0; d < VL_GGUF_MAX_DIMS; d++) {
        t->ne[d] = 1;
        if ((uint32_t)d >= n_dims) continue;
        uint64_t ne = 0;
        VL_TRY(read_u64(c, &ne, "dimension", shown));
        if (ne == 0 || ne > (uint64_t)INT64_MAX || nel > (uint64_t)INT64_MAX / ne) {
            return vl_error(VLLM_ERR_FORMAT,
                            "%s: tensor '%s': dimension %d = %llu at byte offset %llu is %s", g->path, shown, d,
                            (unsigned long long)ne, (unsigned long long)(c->pos - 8),
                            ne == 0 ? "zero" : "too large (the element count overflows int64)");
        }
        t->ne[d] = (int64_t)ne;
        nel *= ne;
    }
    uint32_t type = 0;
    VL_TRY(read_u32(c, &type, "type", shown));
    const vl_type_traits *tr = vl_type_traits_of((int32_t)type);
    if (!tr || type > INT32_MAX) {
        return vl_error(VLLM_ERR_FORMAT, "%s: tensor '%s': unknown type id %u at byte offset %llu", g->path, shown,
                        type, (unsigned long long)(c->pos - 4));
    }
    t->type = (int32_t)type;
    if (t->ne[0] % tr->block_size != 0) {
        return vl_error(VLLM_ERR_FORMAT,
                        "%s: tensor '%s' (record at byte offset %llu): row length %lld is not a multiple of the %s "
                        "block size %d",
                        g->path, shown, (unsigned long long)at, (long long)t->ne[0], tr->name, tr->block_size);
    }
    uint64_t blocks = (uint64_t)t->ne[0] / (uint64_t)tr->block_size;
    uint64_t rows = nel / (uint64_t)t->ne[0];
    if (blocks > UINT64_MAX / (uint64_t)tr->type_size ||
        rows > UINT64_MAX / (blocks * (uint64_t)tr->type_size)) {
        return vl_error(VLLM_ERR_FORMAT, "%s: tensor '%s' (record at byte offset %llu): byte size overflows",
                        g->path, shown, (unsigned long long)at);
    }
    t->size = rows * blocks * (uint64_t)tr->type_size;
    VL_TRY(read_u64(c, &t->offset, "data offset", shown));
    if (t->offset % g->alignment != 0) {
        return vl_error(VLLM_ERR_FORMAT,
                        "%s: tensor '%s': data offset %llu (at byte offset %llu) is not a multiple of the "
                        "alignment %u",
                        g->path, shown, (unsigned long long)t->offset, (unsigned long long)(c->pos - 8),
                        g->alignment);
    }
    t->data = NULL;
    return VLLM_OK;
}

static vllm_status parse(vl_gguf *g)
{
    cursor c = {g->base, g->size, 0, g};
    char magic[4];
    VL_TRY(read_bytes(&c, magic, 4, "magic", NULL));
    if (memcmp(magic, "GGUF", 4) != 0) {
        return vl_error(VLLM_ERR_FORMAT,
                        "%s: not a GGUF file (magic bytes at byte offset 0 are %02x %02x %02x %02x, expected "
                        "'GGUF')",
                        g->path, (uint8_t)magic[0], (uint8_t)magic[1], (uint8_t)magic[2], (uint8_t)magic[3]);
    }
    VL_TRY(read_u32(&c, &g->version, "version", NULL));
    if (g->version != 2 && g->version != 3) {
        if (g->version == 1)
            return vl_error(VLLM_ERR_UNSUPPORTED,
                            "%s: GGUF version 1 (byte offset 4) is obsolete; reconvert the model", g->path);
        if ((g->version & 0xffff) == 0 && g->version != 0)
            return vl_error(VLLM_ERR_UNSUPPORTED,
                            "%s: big-endian GGUF (version field 0x%08x at byte offset 4) is not supported", g->path,
                            g->version);
        return vl_error(VLLM_ERR_FORMAT, "%s: unknown GGUF version %u at byte offset 4", g->path, g->version);
    }
    VL_TRY(read_u64(&c, &g->n_tensors, "tensor count", NULL));
    VL_TRY(read_u64(&c, &g->n_kv, "metadata count", NULL));

    /* A key-value pair takes at least 8 (key length) + 1 (key) + 4 (type)
     * + 1 (value) bytes, a tensor record 8 + 1 + 4 + 8 + 4 + 8. Every
     * pass-1 iteration consumes that much or fails, so its cost is bounded
     * by the file size; when it fails on a count the file could never
     * hold, the message says so before naming the entry that ran out. */
    uint64_t after_header = remaining(&c);
    int kv_impossible = g->n_kv > after_header / 14;
    int t_impossible = kv_impossible || g->n_tensors > (after_header - g->n_kv * 14) / 33;

    /* Metadata, pass 1: validate everything, allocate nothing. */
    g->alignment = 32;
    uint64_t kv_start = c.pos;
    for (uint64_t i = 0; i < g->n_kv; i++) {
        vllm_status st = parse_kv(&c, g, i, NULL);
        if (vllm_is_error(st) && kv_impossible)
            return vl_error_prefix(st, "metadata count %llu at byte offset 16 is more than the %llu-byte file can hold",
                                   (unsigned long long)g->n_kv, (unsigned long long)g->size);
        VL_TRY(st);
    }
    uint64_t tensors_start = c.pos;

    /* Tensor records, pass 1 (each record is validated into a scratch). */
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        vl_gguf_tensor t;
        vllm_status st = parse_tensor(&c, g, i, &t);
        if (vllm_is_error(st) && t_impossible)
            return vl_error_prefix(st, "tensor count %llu at byte offset 8 is more than the %llu-byte file can hold",
                                   (unsigned long long)g->n_tensors, (unsigned long long)g->size);
        VL_TRY(st);
    }
    uint64_t info_end = c.pos;

    /* Pass 2: the counts are now known to be real. */
    vl_gguf_index *ix = arena_alloc(g, sizeof *ix);
    if (!ix) return vl_error(VLLM_ERR_NOMEM, "%s: out of memory", g->path);
    g->index = ix;
    g->kv = g->n_kv ? arena_alloc(g, (size_t)g->n_kv * sizeof *g->kv) : NULL;
    g->tensors = g->n_tensors ? arena_alloc(g, (size_t)g->n_tensors * sizeof *g->tensors) : NULL;
    ix->kv_slots = index_table(g, g->n_kv, &ix->kv_mask);
    ix->t_slots = index_table(g, g->n_tensors, &ix->t_mask);
    if ((g->n_kv && !g->kv) || (g->n_tensors && !g->tensors) || !ix->kv_slots || !ix->t_slots)
        return vl_error(VLLM_ERR_NOMEM, "%s: out of memory for %llu keys and %llu tensors", g->path,
                        (unsigned long long)g->n_kv, (unsigned long long)g->n_tensors);

    c.pos = kv_start;
    for (uint64_t i = 0; i < g->n_kv; i++) {
        vl_gguf_kv *kv = &g->kv[i];
        VL_TRY(parse_kv(&c, g, i, kv));
        uint64_t h = hash_bytes(kv->key.ptr, (size_t)kv->key.len) & ix->kv_mask;
        for (; ix->kv_slots[h]; h = (h + 1) & ix->kv_mask) {
            const vl_gguf_kv *o = &g->kv[ix->kv_slots[h] - 1];
            if (o->key.len == kv->key.len && memcmp(o->key.ptr, kv->key.ptr, (size_t)kv->key.len) == 0) {
                char key[128];
                return vl_error(VLLM_ERR_FORMAT, "%s: duplicate key '%s' at byte offset %llu (first at %llu)",
                                g->path, str_c(kv->key, key, sizeof key), (unsigned long long)kv->offset,
                                (unsigned long long)o->offset);
            }
        }
        ix->kv_slots[h] = i + 1;
    }
    if (c.pos != tensors_start)
        return vl_error(VLLM_ERR_INTERNAL, "%s: metadata passes disagree at byte offset %llu", g->path,
                        (unsigned long long)c.pos);

    for (uint64_t i = 0; i < g->n_tensors; i++) {
        vl_gguf_tensor *t = &g->tensors[i];
        uint64_t at = c.pos;
        VL_TRY(parse_tensor(&c, g, i, t));
        uint64_t h = hash_bytes(t->name, strlen(t->name)) & ix->t_mask;
        for (; ix->t_slots[h]; h = (h + 1) & ix->t_mask) {
            if (strcmp(g->tensors[ix->t_slots[h] - 1].name, t->name) == 0) {
                char shown[sizeof t->name];
                vl_str s = {t->name, strlen(t->name)};
                return vl_error(VLLM_ERR_FORMAT, "%s: duplicate tensor '%s' at byte offset %llu", g->path,
                                str_c(s, shown, sizeof shown), (unsigned long long)at);
            }
        }
        ix->t_slots[h] = i + 1;
    }

    /* Tensor data starts at the next multiple of the alignment. */
    uint64_t data = info_end + (g->alignment - info_end % g->alignment) % g->alignment;
    g->data_offset = data;
    if (g->n_tensors == 0) return VLLM_OK;
    if (data > g->size) {
        return vl_error(VLLM_ERR_FORMAT,
                        "%s: truncated file: tensor data section should start at byte offset %llu but the file is "
                        "%llu bytes",
                        g->path, (unsigned long long)data, (unsigned long long)g->size);
    }
    uint64_t avail = g->size - data;
    vl_gguf_tensor **order = malloc((size_t)g->n_tensors * sizeof *order);
    if (!order) return vl_error(VLLM_ERR_NOMEM, "%s: out of memory", g->path);
    vllm_status st = VLLM_OK;
    char n1[sizeof g->tensors[0].name], n2[sizeof g->tensors[0].name];
    for (uint64_t i = 0; i < g->n_tensors && st == VLLM_OK; i++) {
        vl_gguf_tensor *t = &g->tensors[i];
        order[i] = t;
        if (t->offset > avail || t->size > avail - t->offset) {
            st = vl_error(VLLM_ERR_FORMAT,
                          "%s: tensor '%s' (%llu bytes at data offset %llu, file offset %llu) extends past the end "
                          "of the file (%llu bytes)",
                          g->path, tensor_name_c(t, n1, sizeof n1), (unsigned long long)t->size,
                          (unsigned long long)t->offset, (unsigned long long)(data + t->offset),
                          (unsigned long long)g->size);
        } else {
            t->data = g->base + data + t->offset; /* only formed once known to be in range */
        }
    }
    if (st == VLLM_OK) {
        qsort(order, (size_t)g->n_tensors, sizeof *order, cmp_offset);
        for (uint64_t i = 1; i < g->n_tensors; i++) {
            const vl_gguf_tensor *a = order[i - 1], *b = order[i];
            if (a->offset + a->size > b->offset) {
                st = vl_error(VLLM_ERR_FORMAT,
                              "%s: tensors '%s' and '%s' overlap at data offset %llu (file offset %llu)", g->path,
                              tensor_name_c(a, n1, sizeof n1), tensor_name_c(b, n2, sizeof n2),
                              (unsigned long long)b->offset,
                              (unsigned long long)(data + b->offset));
                break;
            }
        }
    }
    free(order);
    return st;
}

static vl_gguf *new_reader(const char *path)
{
    vl_gguf *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    snprintf(g->path, sizeof g->path, "%s", path);
    return g;
}

vllm_status vl_gguf_open_memory(const void *data, size_t size, vl_gguf **out)
{
    if (!out) return vl_error(VLLM_ERR_INVALID_ARG, "vl_gguf_open_memory: out is NULL");
    *out = NULL;
    if (!data && size) return vl_error(VLLM_ERR_INVALID_ARG, "vl_gguf_open_memory: data is NULL");
    vl_gguf *g = new_reader("<memory>");
    if (!g) return vl_error(VLLM_ERR_NOMEM, "out of memory");
    g->base = data;
    g->size = size;
    vllm_status st = parse(g);
    if (vllm_is_error(st)) {
        vl_gguf_close(g);
        return st;
    }
    *out = g;
    return VLLM_OK;
}

/* What a non-regular file is, for the message. */
static const char *file_kind(mode_t m)
{
    if (S_ISDIR(m)) return "a directory";
    if (S_ISFIFO(m)) return "a FIFO (named pipe)";
    if (S_ISSOCK(m)) return "a socket";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    return "not a regular file";
}

/* Open a model file for reading, refusing anything but a regular file
 * before open() could block on it (a FIFO without a writer blocks in
 * open; a device can block or never end). stat() decides first; the open
 * is non-blocking and fstat() checks the file actually opened, in case
 * the path was swapped in between. */
static vllm_status open_regular(const char *path, int *fd_out, struct stat *sb)
{
    if (stat(path, sb) != 0) return vl_error(VLLM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (!S_ISREG(sb->st_mode))
        return vl_error(VLLM_ERR_IO, "%s: is %s, not a regular file: a model must be a GGUF file", path,
                        file_kind(sb->st_mode));
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) return vl_error(VLLM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (fstat(fd, sb) != 0 || !S_ISREG(sb->st_mode)) {
        const int bad = errno;
        close(fd);
        return vl_error(VLLM_ERR_IO, "%s: %s", path,
                        S_ISREG(sb->st_mode) ? strerror(bad) : "is not a regular file (it changed while opening)");
    }
    const int flags = fcntl(fd, F_GETFL);
    if (flags >= 0) (void)fcntl(fd, F_SETFL, flags & ~O_NONBLOCK); /* plain blocking reads from here */
    *fd_out = fd;
    return VLLM_OK;
}

vllm_status vl_gguf_open(const char *path, int use_mmap, vl_gguf **out)
{
    if (!out) return vl_error(VLLM_ERR_INVALID_ARG, "vl_gguf_open: out is NULL");
    *out = NULL;
    if (!path) return vl_error(VLLM_ERR_INVALID_ARG, "vl_gguf_open: path is NULL");
    int fd = -1;
    struct stat sb;
    VL_TRY(open_regular(path, &fd, &sb));
    if (sb.st_size == 0) {
        close(fd);
        return vl_error(VLLM_ERR_FORMAT, "%s: file is empty", path);
    }
    vl_gguf *g = new_reader(path);
    if (!g) {
        close(fd);
        return vl_error(VLLM_ERR_NOMEM, "out of memory");
    }
    g->size = (uint64_t)sb.st_size;
    if (use_mmap) {
        void *p = mmap(NULL, (size_t)g->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            close(fd);
            free(g);
            return vl_error(VLLM_ERR_IO, "%s: mmap failed: %s", path, strerror(errno));
        }
        g->base = p;
        g->mapped = 1;
    } else {
        uint8_t *buf = malloc((size_t)g->size);
        if (!buf) {
            close(fd);
            free(g);
            return vl_error(VLLM_ERR_NOMEM, "%s: out of memory reading %llu bytes", path, (unsigned long long)sb.st_size);
        }
        size_t got = 0;
        while (got < g->size) {
            ssize_t r = read(fd, buf + got, (size_t)g->size - got);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) {
                close(fd);
                free(buf);
                free(g);
                return vl_error(VLLM_ERR_IO, "%s: read failed at byte %zu", path, got);
            }
            got += (size_t)r;
        }
        g->base = buf;
        g->owns_buffer = 1;
    }
    close(fd);
    vllm_status st = parse(g);
    if (vllm_is_error(st)) {
        vl_gguf_close(g);
        return st;
    }
    *out = g;
    return VLLM_OK;
}

void vl_gguf_close(vl_gguf *g)
{
    if (!g) return;
    arena_free(g);
    if (g->mapped) munmap((void *)g->base, (size_t)g->size);
    if (g->owns_buffer) free((void *)g->base);
    free(g);
}

/* ---- lookups and typed getters ------------------------------------------- */

const vl_gguf_kv *vl_gguf_find(const vl_gguf *g, const char *key)
{
    const vl_gguf_index *ix = get_index(g);
    if (!ix || !key) return NULL;
    size_t n = strlen(key);
    for (uint64_t h = hash_bytes(key, n) & ix->kv_mask; ix->kv_slots[h]; h = (h + 1) & ix->kv_mask) {
        const vl_gguf_kv *kv = &g->kv[ix->kv_slots[h] - 1];
        if (vl_str_eq(kv->key, key)) return kv;
    }
    return NULL;
}

const vl_gguf_tensor *vl_gguf_find_tensor(const vl_gguf *g, const char *name)
{
    const vl_gguf_index *ix = get_index(g);
    if (!ix || !name) return NULL;
    for (uint64_t h = hash_bytes(name, strlen(name)) & ix->t_mask; ix->t_slots[h]; h = (h + 1) & ix->t_mask) {
        const vl_gguf_tensor *t = &g->tensors[ix->t_slots[h] - 1];
        if (strcmp(t->name, name) == 0) return t;
    }
    return NULL;
}

static vllm_status wrong_type(const vl_gguf *g, const vl_gguf_kv *kv, const char *key, const char *want)
{
    return vl_error(VLLM_ERR_FORMAT, "%s: key '%s' (byte offset %llu) has type %s, expected %s", g->path, key,
                    (unsigned long long)kv->offset, vl_gguf_vtype_name(kv->value.type), want);
}

vllm_status vl_gguf_get_int(const vl_gguf *g, const char *key, int64_t def, int64_t *out)
{
    const vl_gguf_kv *kv = vl_gguf_find(g, key);
    if (!kv) {
        *out = def;
        return VLLM_OK;
    }
    if (is_signed_int(kv->value.type)) {
        *out = kv->value.v.i;
    } else if (is_unsigned_int(kv->value.type)) {
        if (kv->value.v.u > (uint64_t)INT64_MAX)
            return vl_error(VLLM_ERR_FORMAT, "%s: key '%s' value %llu is out of range", g->path, key,
                            (unsigned long long)kv->value.v.u);
        *out = (int64_t)kv->value.v.u;
    } else {
        return wrong_type(g, kv, key, "an integer");
    }
    return VLLM_OK;
}

vllm_status vl_gguf_get_int_req(const vl_gguf *g, const char *key, int64_t *out)
{
    if (!vl_gguf_find(g, key)) return vl_error(VLLM_ERR_FORMAT, "%s: required key '%s' is missing", g->path, key);
    return vl_gguf_get_int(g, key, 0, out);
}

vllm_status vl_gguf_get_i32_range(const vl_gguf *g, const char *key, int64_t def, int64_t lo, int64_t hi,
                                  int32_t *out)
{
    int64_t v = def;
    VL_TRY(vl_gguf_get_int(g, key, def, &v));
    if (v < lo || v > hi)
        return vl_error(VLLM_ERR_FORMAT, "%s: key '%s' = %lld is outside the valid range %lld..%lld", g->path, key,
                        (long long)v, (long long)lo, (long long)hi);
    *out = (int32_t)v;
    return VLLM_OK;
}

vllm_status vl_gguf_get_float(const vl_gguf *g, const char *key, double def, double *out)
{
    const vl_gguf_kv *kv = vl_gguf_find(g, key);
    if (!kv) {
        *out = def;
        return VLLM_OK;
    }
    switch (kv->value.type) {
    case VL_GGUF_FLOAT32: case VL_GGUF_FLOAT64: *out = kv->value.v.f; return VLLM_OK;
    default:
        if (is_signed_int(kv->value.type)) { *out = (double)kv->value.v.i; return VLLM_OK; }
        if (is_unsigned_int(kv->value.type)) { *out = (double)kv->value.v.u; return VLLM_OK; }
        return wrong_type(g, kv, key, "a number");
    }
}

vllm_status vl_gguf_get_bool(const vl_gguf *g, const char *key, int def, int *out)
{
    const vl_gguf_kv *kv = vl_gguf_find(g, key);
    if (!kv) {
        *out = def;
        return VLLM_OK;
    }
    if (kv->value.type != VL_GGUF_BOOL) return wrong_type(g, kv, key, "bool");
    *out = kv->value.v.u != 0;
    return VLLM_OK;
}

vllm_status vl_gguf_get_str(const vl_gguf *g, const char *key, const char *def, vl_str *out)
{
    const vl_gguf_kv *kv = vl_gguf_find(g, key);
    if (!kv) {
        out->ptr = def;
        out->len = def ? strlen(def) : 0;
        return VLLM_OK;
    }
    if (kv->value.type != VL_GGUF_STRING) return wrong_type(g, kv, key, "string");
    *out = kv->value.v.s;
    return VLLM_OK;
}

vllm_status vl_gguf_get_arr(const vl_gguf *g, const char *key, vl_gguf_vtype elem, const vl_gguf_value **out)
{
    const vl_gguf_kv *kv = vl_gguf_find(g, key);
    *out = NULL;
    if (!kv) return VLLM_OK;
    if (kv->value.type != VL_GGUF_ARRAY) return wrong_type(g, kv, key, "array");
    if (elem != VL_GGUF_VTYPE_COUNT && kv->value.v.arr.elem != elem) {
        return vl_error(VLLM_ERR_FORMAT, "%s: key '%s' is an array of %s, expected an array of %s", g->path, key,
                        vl_gguf_vtype_name(kv->value.v.arr.elem), vl_gguf_vtype_name(elem));
    }
    *out = &kv->value;
    return VLLM_OK;
}

/* Saturating float -> int64 (a plain cast of NaN or of an out-of-range
 * value is undefined behaviour). */
static int64_t f64_to_i64(double f)
{
    if (f != f) return 0;
    if (f >= 9223372036854775807.0) return INT64_MAX;
    if (f <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)f;
}

int64_t vl_gguf_arr_int(const vl_gguf_value *arr, uint64_t i)
{
    if (!arr || arr->type != VL_GGUF_ARRAY) return 0;
    size_t es = vl_gguf_vtype_size(arr->v.arr.elem);
    if (!es || i >= arr->v.arr.n) return 0;
    vl_gguf_value v = {0};
    decode_scalar(arr->v.arr.elem, (const uint8_t *)arr->v.arr.raw + i * es, &v);
    if (is_signed_int(v.type)) return v.v.i;
    if (v.type == VL_GGUF_FLOAT32 || v.type == VL_GGUF_FLOAT64) return f64_to_i64(v.v.f);
    return v.v.u > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v.v.u;
}

double vl_gguf_arr_float(const vl_gguf_value *arr, uint64_t i)
{
    if (!arr || arr->type != VL_GGUF_ARRAY) return 0;
    size_t es = vl_gguf_vtype_size(arr->v.arr.elem);
    if (!es || i >= arr->v.arr.n) return 0;
    vl_gguf_value v = {0};
    decode_scalar(arr->v.arr.elem, (const uint8_t *)arr->v.arr.raw + i * es, &v);
    if (v.type == VL_GGUF_FLOAT32 || v.type == VL_GGUF_FLOAT64) return v.v.f;
    if (is_signed_int(v.type)) return (double)v.v.i;
    return (double)v.v.u;
}
