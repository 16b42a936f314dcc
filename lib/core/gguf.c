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

static vllm_status read_value(cursor *c, vl_gguf *g, vl_gguf_vtype t, vl_gguf_value *out, const char *key,
                              int depth)
{
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

    if (depth >= VL_GGUF_MAX_NESTING) {
        return vl_error(VLLM_ERR_FORMAT, "%s: key '%s': arrays nested deeper than %d at byte offset %llu",
                        g->path, key, VL_GGUF_MAX_NESTING, (unsigned long long)c->pos);
    }
    uint64_t at = c->pos;
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

    /* Every element occupies at least `min_bytes` in the file, so a count
     * larger than remaining/min_bytes is a lie: refuse before allocating. */
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
        vl_str *strs = arena_alloc(g, (size_t)n * sizeof *strs);
        if (!strs) return vl_error(VLLM_ERR_NOMEM, "%s: key '%s': out of memory for %llu strings", g->path, key,
                                   (unsigned long long)n);
        for (uint64_t i = 0; i < n; i++) VL_TRY(read_str(c, &strs[i], "array string", key));
        out->v.arr.strs = strs;
        return VLLM_OK;
    }
    vl_gguf_value *items = arena_alloc(g, (size_t)n * sizeof *items);
    if (!items) return vl_error(VLLM_ERR_NOMEM, "%s: key '%s': out of memory for %llu arrays", g->path, key,
                                (unsigned long long)n);
    for (uint64_t i = 0; i < n; i++) VL_TRY(read_value(c, g, VL_GGUF_ARRAY, &items[i], key, depth + 1));
    out->v.arr.items = items;
    return VLLM_OK;
}

int vl_str_eq(vl_str s, const char *c)
{
    size_t n = strlen(c);
    return s.len == n && memcmp(s.ptr, c, n) == 0;
}

/* Copy a vl_str into a bounded C buffer for messages. */
static const char *str_c(vl_str s, char *buf, size_t cap)
{
    size_t n = s.len < cap - 1 ? (size_t)s.len : cap - 1;
    memcpy(buf, s.ptr, n);
    buf[n] = '\0';
    return buf;
}

static int cmp_offset(const void *a, const void *b)
{
    const vl_gguf_tensor *x = *(vl_gguf_tensor *const *)a, *y = *(vl_gguf_tensor *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* ---- the parse ------------------------------------------------------------ */

static vllm_status parse(vl_gguf *g)
{
    cursor c = {g->base, g->size, 0, g};
    char magic[4];
    VL_TRY(read_bytes(&c, magic, 4, "magic", NULL));
    if (memcmp(magic, "GGUF", 4) != 0) {
        return vl_error(VLLM_ERR_FORMAT, "%s: not a GGUF file (magic bytes are %02x %02x %02x %02x, expected 'GGUF')",
                        g->path, (uint8_t)magic[0], (uint8_t)magic[1], (uint8_t)magic[2], (uint8_t)magic[3]);
    }
    VL_TRY(read_u32(&c, &g->version, "version", NULL));
    if (g->version != 2 && g->version != 3) {
        if (g->version == 1)
            return vl_error(VLLM_ERR_UNSUPPORTED, "%s: GGUF version 1 is obsolete; reconvert the model", g->path);
        if ((g->version & 0xffff) == 0 && g->version != 0)
            return vl_error(VLLM_ERR_UNSUPPORTED, "%s: big-endian GGUF (version field 0x%08x) is not supported",
                            g->path, g->version);
        return vl_error(VLLM_ERR_FORMAT, "%s: unknown GGUF version %u at byte offset 4", g->path, g->version);
    }
    VL_TRY(read_u64(&c, &g->n_tensors, "tensor count", NULL));
    VL_TRY(read_u64(&c, &g->n_kv, "metadata count", NULL));

    /* A key-value pair is at least 8 (key length) + 4 (type) + 1 bytes. */
    if (g->n_kv > remaining(&c) / 13) {
        return vl_error(VLLM_ERR_FORMAT, "%s: metadata count %llu at byte offset 16 exceeds what the %llu-byte file can hold",
                        g->path, (unsigned long long)g->n_kv, (unsigned long long)g->size);
    }
    g->kv = arena_alloc(g, (size_t)g->n_kv * sizeof *g->kv);
    if (!g->kv && g->n_kv) return vl_error(VLLM_ERR_NOMEM, "%s: out of memory for metadata", g->path);

    g->alignment = 32;
    for (uint64_t i = 0; i < g->n_kv; i++) {
        vl_gguf_kv *kv = &g->kv[i];
        kv->offset = c.pos;
        char idx[32];
        snprintf(idx, sizeof idx, "metadata entry %llu", (unsigned long long)i);
        VL_TRY(read_str(&c, &kv->key, "key", idx));
        char key[128];
        str_c(kv->key, key, sizeof key);
        if (kv->key.len == 0)
            return vl_error(VLLM_ERR_FORMAT, "%s: empty key at byte offset %llu", g->path, (unsigned long long)kv->offset);
        for (uint64_t j = 0; j < i; j++) {
            if (g->kv[j].key.len == kv->key.len && memcmp(g->kv[j].key.ptr, kv->key.ptr, kv->key.len) == 0)
                return vl_error(VLLM_ERR_FORMAT, "%s: duplicate key '%s' at byte offset %llu", g->path, key,
                                (unsigned long long)kv->offset);
        }
        uint32_t type = 0;
        VL_TRY(read_u32(&c, &type, "value type", key));
        if (type >= VL_GGUF_VTYPE_COUNT) {
            return vl_error(VLLM_ERR_FORMAT, "%s: key '%s': invalid value type %u at byte offset %llu", g->path, key,
                            type, (unsigned long long)(c.pos - 4));
        }
        VL_TRY(read_value(&c, g, (vl_gguf_vtype)type, &kv->value, key, 0));
        if (vl_str_eq(kv->key, "general.alignment")) {
            if (kv->value.type != VL_GGUF_UINT32 || kv->value.v.u == 0 || (kv->value.v.u & (kv->value.v.u - 1)))
                return vl_error(VLLM_ERR_FORMAT,
                                "%s: general.alignment at byte offset %llu must be a uint32 power of two",
                                g->path, (unsigned long long)kv->offset);
            g->alignment = (uint32_t)kv->value.v.u;
        }
    }

    /* A tensor record is at least 8 (name) + 4 (n_dims) + 8 (one dim) +
     * 4 (type) + 8 (offset) bytes. */
    if (g->n_tensors > remaining(&c) / 32) {
        return vl_error(VLLM_ERR_FORMAT, "%s: tensor count %llu at byte offset 8 exceeds what the %llu-byte file can hold",
                        g->path, (unsigned long long)g->n_tensors, (unsigned long long)g->size);
    }
    g->tensors = arena_alloc(g, (size_t)g->n_tensors * sizeof *g->tensors);
    if (!g->tensors && g->n_tensors) return vl_error(VLLM_ERR_NOMEM, "%s: out of memory for tensors", g->path);

    for (uint64_t i = 0; i < g->n_tensors; i++) {
        vl_gguf_tensor *t = &g->tensors[i];
        uint64_t at = c.pos;
        char idx[32];
        snprintf(idx, sizeof idx, "tensor %llu", (unsigned long long)i);
        vl_str name = {0};
        VL_TRY(read_str(&c, &name, "name", idx));
        if (name.len == 0 || name.len >= sizeof t->name) {
            return vl_error(VLLM_ERR_FORMAT, "%s: tensor %llu at byte offset %llu: name length %llu out of range 1..%zu",
                            g->path, (unsigned long long)i, (unsigned long long)at, (unsigned long long)name.len,
                            sizeof t->name - 1);
        }
        str_c(name, t->name, sizeof t->name);
        if (memchr(name.ptr, '\0', name.len))
            return vl_error(VLLM_ERR_FORMAT, "%s: tensor %llu at byte offset %llu: name contains a NUL byte", g->path,
                            (unsigned long long)i, (unsigned long long)at);
        for (uint64_t j = 0; j < i; j++) {
            if (strcmp(g->tensors[j].name, t->name) == 0)
                return vl_error(VLLM_ERR_FORMAT, "%s: duplicate tensor '%s' at byte offset %llu", g->path, t->name,
                                (unsigned long long)at);
        }
        uint32_t n_dims = 0;
        VL_TRY(read_u32(&c, &n_dims, "dimension count", t->name));
        if (n_dims < 1 || n_dims > VL_GGUF_MAX_DIMS) {
            return vl_error(VLLM_ERR_FORMAT, "%s: tensor '%s': %u dimensions at byte offset %llu (1..%d allowed)",
                            g->path, t->name, n_dims, (unsigned long long)(c.pos - 4), VL_GGUF_MAX_DIMS);
        }
        t->n_dims = (int32_t)n_dims;
        int64_t nel = 1;
        for (int d = 0; d < VL_GGUF_MAX_DIMS; d++) {
            t->ne[d] = 1;
            if ((uint32_t)d >= n_dims) continue;
            uint64_t ne = 0;
            VL_TRY(read_u64(&c, &ne, "dimension", t->name));
            if (ne > (uint64_t)INT64_MAX || (ne != 0 && (uint64_t)nel > (uint64_t)INT64_MAX / ne)) {
                return vl_error(VLLM_ERR_FORMAT, "%s: tensor '%s': dimension %d = %llu at byte offset %llu overflows",
                                g->path, t->name, d, (unsigned long long)ne, (unsigned long long)(c.pos - 8));
            }
            t->ne[d] = (int64_t)ne;
            nel *= (int64_t)ne;
        }
        uint32_t type = 0;
        VL_TRY(read_u32(&c, &type, "type", t->name));
        const vl_type_traits *tr = vl_type_traits_of((int32_t)type);
        if (!tr) {
            return vl_error(VLLM_ERR_FORMAT, "%s: tensor '%s': unknown type id %u at byte offset %llu", g->path,
                            t->name, type, (unsigned long long)(c.pos - 4));
        }
        t->type = (int32_t)type;
        if (t->ne[0] % tr->block_size != 0) {
            return vl_error(VLLM_ERR_FORMAT, "%s: tensor '%s': row length %lld is not a multiple of the %s block size %d",
                            g->path, t->name, (long long)t->ne[0], tr->name, tr->block_size);
        }
        uint64_t rows = (uint64_t)(t->ne[0] ? nel / t->ne[0] : 0);
        uint64_t row_bytes = (uint64_t)(t->ne[0] / tr->block_size) * (uint64_t)tr->type_size;
        if (row_bytes && rows > UINT64_MAX / row_bytes) {
            return vl_error(VLLM_ERR_FORMAT, "%s: tensor '%s': byte size overflows", g->path, t->name);
        }
        t->size = rows * row_bytes;
        VL_TRY(read_u64(&c, &t->offset, "data offset", t->name));
        if (t->offset % g->alignment != 0) {
            return vl_error(VLLM_ERR_FORMAT, "%s: tensor '%s': data offset %llu (at byte offset %llu) is not a multiple of the alignment %u",
                            g->path, t->name, (unsigned long long)t->offset, (unsigned long long)(c.pos - 8),
                            g->alignment);
        }
    }

    /* Tensor data starts at the next multiple of the alignment. */
    uint64_t data = c.pos + (g->alignment - c.pos % g->alignment) % g->alignment;
    g->data_offset = data;
    if (g->n_tensors == 0) return VLLM_OK;
    if (data > g->size) {
        return vl_error(VLLM_ERR_FORMAT, "%s: truncated file: tensor data section should start at byte offset %llu but the file is %llu bytes",
                        g->path, (unsigned long long)data, (unsigned long long)g->size);
    }
    uint64_t avail = g->size - data;
    vl_gguf_tensor **order = malloc((size_t)g->n_tensors * sizeof *order);
    if (!order) return vl_error(VLLM_ERR_NOMEM, "%s: out of memory", g->path);
    vllm_status st = VLLM_OK;
    for (uint64_t i = 0; i < g->n_tensors && st == VLLM_OK; i++) {
        vl_gguf_tensor *t = &g->tensors[i];
        order[i] = t;
        if (t->offset > avail || t->size > avail - t->offset) {
            st = vl_error(VLLM_ERR_FORMAT,
                          "%s: tensor '%s' (%llu bytes at data offset %llu, file offset %llu) extends past the end of the file (%llu bytes)",
                          g->path, t->name, (unsigned long long)t->size, (unsigned long long)t->offset,
                          (unsigned long long)(data + t->offset), (unsigned long long)g->size);
        }
        t->data = g->base + data + t->offset;
    }
    if (st == VLLM_OK) {
        qsort(order, (size_t)g->n_tensors, sizeof *order, cmp_offset);
        for (uint64_t i = 1; i < g->n_tensors; i++) {
            const vl_gguf_tensor *a = order[i - 1], *b = order[i];
            if (a->offset + a->size > b->offset) {
                st = vl_error(VLLM_ERR_FORMAT, "%s: tensors '%s' and '%s' overlap at data offset %llu", g->path,
                              a->name, b->name, (unsigned long long)b->offset);
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

vllm_status vl_gguf_open(const char *path, int use_mmap, vl_gguf **out)
{
    if (!out) return vl_error(VLLM_ERR_INVALID_ARG, "vl_gguf_open: out is NULL");
    *out = NULL;
    if (!path) return vl_error(VLLM_ERR_INVALID_ARG, "vl_gguf_open: path is NULL");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return vl_error(VLLM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return vl_error(VLLM_ERR_IO, "%s: not a regular file", path);
    }
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
    if (!g || !key) return NULL;
    for (uint64_t i = 0; i < g->n_kv; i++)
        if (vl_str_eq(g->kv[i].key, key)) return &g->kv[i];
    return NULL;
}

const vl_gguf_tensor *vl_gguf_find_tensor(const vl_gguf *g, const char *name)
{
    if (!g || !name) return NULL;
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (strcmp(g->tensors[i].name, name) == 0) return &g->tensors[i];
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
    int64_t v;
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

int64_t vl_gguf_arr_int(const vl_gguf_value *arr, uint64_t i)
{
    size_t es = vl_gguf_vtype_size(arr->v.arr.elem);
    if (!es || i >= arr->v.arr.n) return 0;
    vl_gguf_value v = {0};
    decode_scalar(arr->v.arr.elem, (const uint8_t *)arr->v.arr.raw + i * es, &v);
    if (is_signed_int(v.type)) return v.v.i;
    if (v.type == VL_GGUF_FLOAT32 || v.type == VL_GGUF_FLOAT64) return (int64_t)v.v.f;
    return (int64_t)v.v.u;
}

double vl_gguf_arr_float(const vl_gguf_value *arr, uint64_t i)
{
    size_t es = vl_gguf_vtype_size(arr->v.arr.elem);
    if (!es || i >= arr->v.arr.n) return 0;
    vl_gguf_value v = {0};
    decode_scalar(arr->v.arr.elem, (const uint8_t *)arr->v.arr.raw + i * es, &v);
    if (v.type == VL_GGUF_FLOAT32 || v.type == VL_GGUF_FLOAT64) return v.v.f;
    if (is_signed_int(v.type)) return (double)v.v.i;
    return (double)v.v.u;
}
