/* GGUF writer for tests, fuzz seeds and the test-model generator.
 *
 * Builds a GGUF v3 (or v2: the layout is the same, only the version number
 * differs) in memory or to a file, in the order llama.cpp's gguf-py writes
 * it: header, key-value pairs in insertion order, tensor records, padding
 * to the alignment, tensor data (each tensor padded to the alignment).
 *
 * Scalar and string values have one call each; flat arrays take the
 * element type and raw little-endian elements; anything else (nested
 * arrays, deliberately odd encodings) is built with the small byte
 * buffer `vl_gwb` and added with vl_gw_add_val().
 *
 * All add functions return 0 on success and -1 on a bad argument (unknown
 * tensor type, row not a whole number of blocks) or out of memory; the
 * writer stays usable. Not thread-safe. */
#ifndef VL_TESTS_GGUF_WRITER_H
#define VL_TESTS_GGUF_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "core/gguf.h"

/* ---- a growable byte buffer for encoding values ----------------------- */

typedef struct vl_gwb {
    uint8_t *data;
    size_t len, cap;
    int failed; /* an allocation failed; the content is incomplete */
} vl_gwb;

void vl_gwb_bytes(vl_gwb *b, const void *p, size_t n);
void vl_gwb_u8(vl_gwb *b, uint8_t v);
void vl_gwb_u32(vl_gwb *b, uint32_t v);
void vl_gwb_u64(vl_gwb *b, uint64_t v);
void vl_gwb_f32(vl_gwb *b, float v);
/* A GGUF string: u64 length + bytes. */
void vl_gwb_str(vl_gwb *b, const char *s);
/* An array header: u32 element type + u64 count (elements follow). */
void vl_gwb_arr_header(vl_gwb *b, vl_gguf_vtype elem, uint64_t n);
void vl_gwb_free(vl_gwb *b);

/* ---- the writer ----------------------------------------------------------- */

typedef struct vl_gw vl_gw;

vl_gw *vl_gw_new(void);
void vl_gw_free(vl_gw *w);

/* GGUF version written in the header (default 3). */
void vl_gw_set_version(vl_gw *w, uint32_t version);

/* Data alignment (a power of two, default 32). A value other than 32 is
 * also recorded as the uint32 key general.alignment (at the current
 * position in the key order), as gguf-py does. Returns -1 if the value
 * is not a power of two. */
int vl_gw_set_alignment(vl_gw *w, uint32_t alignment);

int vl_gw_add_u8(vl_gw *w, const char *key, uint8_t v);
int vl_gw_add_i8(vl_gw *w, const char *key, int8_t v);
int vl_gw_add_u16(vl_gw *w, const char *key, uint16_t v);
int vl_gw_add_i16(vl_gw *w, const char *key, int16_t v);
int vl_gw_add_u32(vl_gw *w, const char *key, uint32_t v);
int vl_gw_add_i32(vl_gw *w, const char *key, int32_t v);
int vl_gw_add_u64(vl_gw *w, const char *key, uint64_t v);
int vl_gw_add_i64(vl_gw *w, const char *key, int64_t v);
int vl_gw_add_f32(vl_gw *w, const char *key, float v);
int vl_gw_add_f64(vl_gw *w, const char *key, double v);
int vl_gw_add_bool(vl_gw *w, const char *key, int v);
int vl_gw_add_str(vl_gw *w, const char *key, const char *v);

/* Flat array of a fixed-size type: `elems` holds n little-endian elements
 * of vl_gguf_vtype_size(elem) bytes each. */
int vl_gw_add_arr(vl_gw *w, const char *key, vl_gguf_vtype elem, uint64_t n, const void *elems);
int vl_gw_add_arr_str(vl_gw *w, const char *key, uint64_t n, const char *const *strs);

/* Any value: `type` and its encoded payload (what follows the type field
 * in the file), e.g. a nested array built with vl_gwb. */
int vl_gw_add_val(vl_gw *w, const char *key, vl_gguf_vtype type, const void *payload, size_t len);

/* A tensor of ggml type `type` with n_dims sizes ne[] (ggml order, ne[0]
 * contiguous). The data (vl_row_size(type, ne[0]) * rows bytes) is
 * copied; the _owned variant takes a malloc'ed buffer and frees it. */
int vl_gw_add_tensor(vl_gw *w, const char *name, int32_t type, int n_dims, const int64_t *ne, const void *data);
int vl_gw_add_tensor_owned(vl_gw *w, const char *name, int32_t type, int n_dims, const int64_t *ne, void *data);

/* Byte size of a tensor's data, 0 if the type is unknown or ne[0] is not
 * a whole number of blocks. */
size_t vl_gw_tensor_bytes(int32_t type, int n_dims, const int64_t *ne);

/* Where everything landed in the last serialization (offsets in bytes
 * from the start of the file). Valid until the next write or free. */
typedef struct vl_gw_layout {
    size_t n_kv, n_tensors;
    const size_t *kv_off;     /* each key-value pair (its key length field) */
    const size_t *tinfo_off;  /* each tensor record (its name length field) */
    size_t info_end;          /* end of the last tensor record, before padding */
    size_t data_off;          /* start of the data section */
    const size_t *tdata_off;  /* each tensor's data (absolute) */
    size_t size;              /* whole file */
} vl_gw_layout;

/* Serialize into a malloc'ed buffer (caller frees). */
int vl_gw_to_memory(vl_gw *w, uint8_t **buf, size_t *size);
/* Serialize to a file, streaming the tensor data. */
int vl_gw_write_file(vl_gw *w, const char *path);
const vl_gw_layout *vl_gw_layout_of(const vl_gw *w);

#endif
