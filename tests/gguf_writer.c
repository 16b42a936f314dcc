#include "gguf_writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"

/* ---- byte buffer ------------------------------------------------------------ */

void vl_gwb_bytes(vl_gwb *b, const void *p, size_t n)
{
    if (b->failed || n == 0) return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n) cap *= 2;
        uint8_t *d = realloc(b->data, cap);
        if (!d) {
            b->failed = 1;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

/* GGUF is little-endian; so is every machine this project targets, which
 * the encoders below assume (they copy native integers). */
void vl_gwb_u8(vl_gwb *b, uint8_t v) { vl_gwb_bytes(b, &v, 1); }
void vl_gwb_u32(vl_gwb *b, uint32_t v) { vl_gwb_bytes(b, &v, 4); }
void vl_gwb_u64(vl_gwb *b, uint64_t v) { vl_gwb_bytes(b, &v, 8); }
void vl_gwb_f32(vl_gwb *b, float v) { vl_gwb_bytes(b, &v, 4); }

void vl_gwb_str(vl_gwb *b, const char *s)
{
    size_t n = strlen(s);
    vl_gwb_u64(b, n);
    vl_gwb_bytes(b, s, n);
}

void vl_gwb_arr_header(vl_gwb *b, vl_gguf_vtype elem, uint64_t n)
{
    vl_gwb_u32(b, (uint32_t)elem);
    vl_gwb_u64(b, n);
}

void vl_gwb_free(vl_gwb *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

/* ---- writer ---------------------------------------------------------------- */

typedef struct gw_tensor {
    char *name;
    int32_t type;
    int n_dims;
    int64_t ne[VL_GGUF_MAX_DIMS];
    size_t size;
    void *data; /* owned */
} gw_tensor;

struct vl_gw {
    uint32_t version;
    uint32_t alignment;
    vl_gwb kv;      /* serialized key-value pairs */
    size_t n_kv;
    size_t *kv_rel; /* offset of each pair inside `kv` */
    size_t kv_rel_cap;
    gw_tensor *tensors;
    size_t n_tensors, cap_tensors;
    /* layout of the last serialization */
    size_t *kv_off, *tinfo_off, *tdata_off;
    vl_gw_layout layout;
};

vl_gw *vl_gw_new(void)
{
    vl_gw *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->version = 3;
    w->alignment = 32;
    return w;
}

void vl_gw_free(vl_gw *w)
{
    if (!w) return;
    for (size_t i = 0; i < w->n_tensors; i++) {
        free(w->tensors[i].name);
        free(w->tensors[i].data);
    }
    free(w->tensors);
    vl_gwb_free(&w->kv);
    free(w->kv_rel);
    free(w->kv_off);
    free(w->tinfo_off);
    free(w->tdata_off);
    free(w);
}

void vl_gw_set_version(vl_gw *w, uint32_t version) { w->version = version; }

int vl_gw_set_alignment(vl_gw *w, uint32_t alignment)
{
    if (alignment == 0 || (alignment & (alignment - 1))) return -1;
    w->alignment = alignment;
    return alignment == 32 ? 0 : vl_gw_add_u32(w, "general.alignment", alignment);
}

int vl_gw_add_val(vl_gw *w, const char *key, vl_gguf_vtype type, const void *payload, size_t len)
{
    if (!key) return -1;
    if (w->n_kv == w->kv_rel_cap) {
        size_t cap = w->kv_rel_cap ? 2 * w->kv_rel_cap : 16;
        size_t *p = realloc(w->kv_rel, cap * sizeof *p);
        if (!p) return -1;
        w->kv_rel = p;
        w->kv_rel_cap = cap;
    }
    size_t start = w->kv.len;
    vl_gwb_str(&w->kv, key);
    vl_gwb_u32(&w->kv, (uint32_t)type);
    vl_gwb_bytes(&w->kv, payload, len);
    if (w->kv.failed) {
        w->kv.failed = 0;
        w->kv.len = start;
        return -1;
    }
    w->kv_rel[w->n_kv++] = start;
    return 0;
}

int vl_gw_add_u8(vl_gw *w, const char *k, uint8_t v) { return vl_gw_add_val(w, k, VL_GGUF_UINT8, &v, 1); }
int vl_gw_add_i8(vl_gw *w, const char *k, int8_t v) { return vl_gw_add_val(w, k, VL_GGUF_INT8, &v, 1); }
int vl_gw_add_u16(vl_gw *w, const char *k, uint16_t v) { return vl_gw_add_val(w, k, VL_GGUF_UINT16, &v, 2); }
int vl_gw_add_i16(vl_gw *w, const char *k, int16_t v) { return vl_gw_add_val(w, k, VL_GGUF_INT16, &v, 2); }
int vl_gw_add_u32(vl_gw *w, const char *k, uint32_t v) { return vl_gw_add_val(w, k, VL_GGUF_UINT32, &v, 4); }
int vl_gw_add_i32(vl_gw *w, const char *k, int32_t v) { return vl_gw_add_val(w, k, VL_GGUF_INT32, &v, 4); }
int vl_gw_add_u64(vl_gw *w, const char *k, uint64_t v) { return vl_gw_add_val(w, k, VL_GGUF_UINT64, &v, 8); }
int vl_gw_add_i64(vl_gw *w, const char *k, int64_t v) { return vl_gw_add_val(w, k, VL_GGUF_INT64, &v, 8); }
int vl_gw_add_f32(vl_gw *w, const char *k, float v) { return vl_gw_add_val(w, k, VL_GGUF_FLOAT32, &v, 4); }
int vl_gw_add_f64(vl_gw *w, const char *k, double v) { return vl_gw_add_val(w, k, VL_GGUF_FLOAT64, &v, 8); }

int vl_gw_add_bool(vl_gw *w, const char *k, int v)
{
    uint8_t b = v != 0;
    return vl_gw_add_val(w, k, VL_GGUF_BOOL, &b, 1);
}

int vl_gw_add_str(vl_gw *w, const char *k, const char *v)
{
    if (!v) return -1;
    vl_gwb b = {0};
    vl_gwb_str(&b, v);
    int r = b.failed ? -1 : vl_gw_add_val(w, k, VL_GGUF_STRING, b.data, b.len);
    vl_gwb_free(&b);
    return r;
}

int vl_gw_add_arr(vl_gw *w, const char *k, vl_gguf_vtype elem, uint64_t n, const void *elems)
{
    size_t es = vl_gguf_vtype_size(elem);
    if (!es || (n && !elems)) return -1;
    vl_gwb b = {0};
    vl_gwb_arr_header(&b, elem, n);
    vl_gwb_bytes(&b, elems, (size_t)n * es);
    int r = b.failed ? -1 : vl_gw_add_val(w, k, VL_GGUF_ARRAY, b.data, b.len);
    vl_gwb_free(&b);
    return r;
}

int vl_gw_add_arr_str(vl_gw *w, const char *k, uint64_t n, const char *const *strs)
{
    if (n && !strs) return -1;
    vl_gwb b = {0};
    vl_gwb_arr_header(&b, VL_GGUF_STRING, n);
    for (uint64_t i = 0; i < n; i++) vl_gwb_str(&b, strs[i]);
    int r = b.failed ? -1 : vl_gw_add_val(w, k, VL_GGUF_ARRAY, b.data, b.len);
    vl_gwb_free(&b);
    return r;
}

size_t vl_gw_tensor_bytes(int32_t type, int n_dims, const int64_t *ne)
{
    if (n_dims < 1 || n_dims > VL_GGUF_MAX_DIMS) return 0;
    size_t row = vl_row_size(type, ne[0]);
    if (!row) return 0;
    size_t rows = 1;
    for (int d = 1; d < n_dims; d++) {
        if (ne[d] <= 0) return 0;
        rows *= (size_t)ne[d];
    }
    return row * rows;
}

int vl_gw_add_tensor_owned(vl_gw *w, const char *name, int32_t type, int n_dims, const int64_t *ne, void *data)
{
    size_t size = vl_gw_tensor_bytes(type, n_dims, ne);
    if (!name || !size || !data) {
        free(data);
        return -1;
    }
    if (w->n_tensors == w->cap_tensors) {
        size_t cap = w->cap_tensors ? 2 * w->cap_tensors : 16;
        gw_tensor *p = realloc(w->tensors, cap * sizeof *p);
        if (!p) {
            free(data);
            return -1;
        }
        w->tensors = p;
        w->cap_tensors = cap;
    }
    gw_tensor *t = &w->tensors[w->n_tensors];
    memset(t, 0, sizeof *t);
    t->name = malloc(strlen(name) + 1);
    if (!t->name) {
        free(data);
        return -1;
    }
    strcpy(t->name, name);
    t->type = type;
    t->n_dims = n_dims;
    for (int d = 0; d < VL_GGUF_MAX_DIMS; d++) t->ne[d] = d < n_dims ? ne[d] : 1;
    t->size = size;
    t->data = data;
    w->n_tensors++;
    return 0;
}

int vl_gw_add_tensor(vl_gw *w, const char *name, int32_t type, int n_dims, const int64_t *ne, const void *data)
{
    size_t size = vl_gw_tensor_bytes(type, n_dims, ne);
    if (!size || !data) return -1;
    void *copy = malloc(size);
    if (!copy) return -1;
    memcpy(copy, data, size);
    return vl_gw_add_tensor_owned(w, name, type, n_dims, ne, copy);
}

static size_t pad_to(size_t x, size_t a) { return (x + a - 1) / a * a; }

/* Header, metadata and tensor records into `h`; fills the layout. */
static int build_head(vl_gw *w, vl_gwb *h)
{
    free(w->kv_off);
    free(w->tinfo_off);
    free(w->tdata_off);
    w->kv_off = malloc((w->n_kv + 1) * sizeof(size_t));
    w->tinfo_off = malloc((w->n_tensors + 1) * sizeof(size_t));
    w->tdata_off = malloc((w->n_tensors + 1) * sizeof(size_t));
    if (!w->kv_off || !w->tinfo_off || !w->tdata_off) return -1;

    vl_gwb_bytes(h, "GGUF", 4);
    vl_gwb_u32(h, w->version);
    vl_gwb_u64(h, w->n_tensors);
    vl_gwb_u64(h, w->n_kv);
    size_t kv_base = h->len;
    for (size_t i = 0; i < w->n_kv; i++) w->kv_off[i] = kv_base + w->kv_rel[i];
    vl_gwb_bytes(h, w->kv.data, w->kv.len);

    size_t rel = 0;
    for (size_t i = 0; i < w->n_tensors; i++) {
        const gw_tensor *t = &w->tensors[i];
        w->tinfo_off[i] = h->len;
        vl_gwb_str(h, t->name);
        vl_gwb_u32(h, (uint32_t)t->n_dims);
        for (int d = 0; d < t->n_dims; d++) vl_gwb_u64(h, (uint64_t)t->ne[d]);
        vl_gwb_u32(h, (uint32_t)t->type);
        vl_gwb_u64(h, rel);
        w->tdata_off[i] = rel; /* made absolute below */
        rel = pad_to(rel + t->size, w->alignment);
    }
    if (h->failed) return -1;
    size_t info_end = h->len;
    size_t data_off = pad_to(info_end, w->alignment);
    for (size_t i = 0; i < w->n_tensors; i++) w->tdata_off[i] += data_off;

    vl_gw_layout *L = &w->layout;
    L->n_kv = w->n_kv;
    L->n_tensors = w->n_tensors;
    L->kv_off = w->kv_off;
    L->tinfo_off = w->tinfo_off;
    L->info_end = info_end;
    L->data_off = data_off;
    L->tdata_off = w->tdata_off;
    /* gguf-py pads the last tensor too; a file without tensors ends at
     * the end of its metadata. */
    L->size = w->n_tensors ? data_off + rel : info_end;
    return 0;
}

int vl_gw_to_memory(vl_gw *w, uint8_t **buf, size_t *size)
{
    *buf = NULL;
    *size = 0;
    vl_gwb h = {0};
    if (build_head(w, &h) != 0) {
        vl_gwb_free(&h);
        return -1;
    }
    size_t total = w->layout.size;
    uint8_t *out = calloc(1, total ? total : 1);
    if (!out) {
        vl_gwb_free(&h);
        return -1;
    }
    memcpy(out, h.data, h.len);
    for (size_t i = 0; i < w->n_tensors; i++)
        memcpy(out + w->tdata_off[i], w->tensors[i].data, w->tensors[i].size);
    vl_gwb_free(&h);
    *buf = out;
    *size = total;
    return 0;
}

int vl_gw_write_file(vl_gw *w, const char *path)
{
    vl_gwb h = {0};
    if (build_head(w, &h) != 0) {
        vl_gwb_free(&h);
        return -1;
    }
    FILE *f = fopen(path, "wb");
    if (!f) {
        vl_gwb_free(&h);
        return -1;
    }
    static const uint8_t zeros[4096];
    int ok = fwrite(h.data, 1, h.len, f) == h.len;
    size_t pos = h.len;
    for (size_t i = 0; ok && i <= w->n_tensors; i++) {
        size_t target = i < w->n_tensors ? w->tdata_off[i] : w->layout.size;
        while (ok && pos < target) {
            size_t n = target - pos < sizeof zeros ? target - pos : sizeof zeros;
            ok = fwrite(zeros, 1, n, f) == n;
            pos += n;
        }
        if (ok && i < w->n_tensors) {
            ok = fwrite(w->tensors[i].data, 1, w->tensors[i].size, f) == w->tensors[i].size;
            pos += w->tensors[i].size;
        }
    }
    if (fclose(f) != 0) ok = 0;
    vl_gwb_free(&h);
    return ok ? 0 : -1;
}

const vl_gw_layout *vl_gw_layout_of(const vl_gw *w) { return &w->layout; }
