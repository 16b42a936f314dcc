/* GGUF reader (versions 2 and 3), as written by llama.cpp's gguf-py.
 *
 * The file is mapped (or read) once; metadata is parsed into a small tree
 * whose strings point into the mapping, and tensor data is addressed in
 * place. Every count, length and offset is checked against the bytes that
 * are actually there before it is used, so a hostile file costs at most a
 * bounded allocation and returns VLLM_ERR_FORMAT with the key or tensor
 * name and the byte offset of the problem.
 *
 * Thread-safety: a vl_gguf is immutable after vl_gguf_open*(); any number
 * of threads may read it. */
#ifndef VL_CORE_GGUF_H
#define VL_CORE_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define VL_GGUF_MAX_DIMS 4
#define VL_GGUF_MAX_NESTING 8

typedef enum vl_gguf_vtype {
    VL_GGUF_UINT8 = 0,
    VL_GGUF_INT8 = 1,
    VL_GGUF_UINT16 = 2,
    VL_GGUF_INT16 = 3,
    VL_GGUF_UINT32 = 4,
    VL_GGUF_INT32 = 5,
    VL_GGUF_FLOAT32 = 6,
    VL_GGUF_BOOL = 7,
    VL_GGUF_STRING = 8,
    VL_GGUF_ARRAY = 9,
    VL_GGUF_UINT64 = 10,
    VL_GGUF_INT64 = 11,
    VL_GGUF_FLOAT64 = 12,
    VL_GGUF_VTYPE_COUNT
} vl_gguf_vtype;

/* A length-delimited string inside the file (not NUL-terminated). */
typedef struct vl_str {
    const char *ptr;
    uint64_t len;
} vl_str;

typedef struct vl_gguf_value vl_gguf_value;
struct vl_gguf_value {
    vl_gguf_vtype type;
    union {
        uint64_t u;     /* UINT8..UINT64 and BOOL */
        int64_t i;      /* INT8..INT64 */
        double f;       /* FLOAT32, FLOAT64 */
        vl_str s;       /* STRING */
        struct {
            vl_gguf_vtype elem;  /* element type */
            uint64_t n;          /* element count */
            const void *raw;     /* fixed-size elements: little-endian, unaligned */
            vl_str *strs;        /* elem == STRING */
            vl_gguf_value *items; /* elem == ARRAY (nested arrays) */
        } arr;
    } v;
};

typedef struct vl_gguf_kv {
    vl_str key;
    vl_gguf_value value;
    uint64_t offset;     /* byte offset of the key in the file (for messages) */
} vl_gguf_kv;

typedef struct vl_gguf_tensor {
    char name[96];       /* NUL-terminated copy */
    int32_t type;        /* vl_type */
    int32_t n_dims;
    int64_t ne[VL_GGUF_MAX_DIMS]; /* ggml order: ne[0] is the contiguous dimension; unused = 1.
                                   * Every ne >= 1 and their product fits in int64. */
    uint64_t offset;     /* relative to the data section */
    uint64_t size;       /* bytes */
    const void *data;    /* in the mapping */
} vl_gguf_tensor;

typedef struct vl_gguf {
    uint32_t version;
    uint32_t alignment;
    uint64_t n_kv;
    vl_gguf_kv *kv;
    uint64_t n_tensors;
    vl_gguf_tensor *tensors;
    uint64_t data_offset;  /* start of the tensor data section */
    const uint8_t *base;   /* whole file */
    uint64_t size;
    char path[256];        /* for messages ("<memory>" when opened from memory) */
    /* private */
    int mapped;
    int owns_buffer;
    void *arena;           /* allocations for the metadata tree */
    void *index;           /* hash tables over key and tensor names */
} vl_gguf;

/* Open a file; use_mmap=0 reads it into memory instead. */
vllm_status vl_gguf_open(const char *path, int use_mmap, vl_gguf **out);

/* Parse `size` bytes the caller keeps alive (and unchanged) for the
 * lifetime of the returned reader. */
vllm_status vl_gguf_open_memory(const void *data, size_t size, vl_gguf **out);

void vl_gguf_close(vl_gguf *g);

/* Lookups. Key lookups are exact and case-sensitive. */
const vl_gguf_kv *vl_gguf_find(const vl_gguf *g, const char *key);
const vl_gguf_tensor *vl_gguf_find_tensor(const vl_gguf *g, const char *name);

/* Typed getters. A missing key yields `def` and VLLM_OK; a present key of
 * an incompatible type (or an integer out of the requested range) is
 * VLLM_ERR_FORMAT naming the key. The *_req variants make absence an
 * error too. Integers accept any integer GGUF type; floats accept FLOAT32,
 * FLOAT64 and integers; bools accept BOOL. */
vllm_status vl_gguf_get_int(const vl_gguf *g, const char *key, int64_t def, int64_t *out);
vllm_status vl_gguf_get_int_req(const vl_gguf *g, const char *key, int64_t *out);
vllm_status vl_gguf_get_i32_range(const vl_gguf *g, const char *key, int64_t def, int64_t lo,
                                  int64_t hi, int32_t *out);
vllm_status vl_gguf_get_float(const vl_gguf *g, const char *key, double def, double *out);
vllm_status vl_gguf_get_bool(const vl_gguf *g, const char *key, int def, int *out);
/* Strings: out->ptr is NULL when the key is missing and def is NULL. */
vllm_status vl_gguf_get_str(const vl_gguf *g, const char *key, const char *def, vl_str *out);
/* Arrays: `elem` is the required element type (or VL_GGUF_VTYPE_COUNT for
 * any); *out is NULL when missing. */
vllm_status vl_gguf_get_arr(const vl_gguf *g, const char *key, vl_gguf_vtype elem,
                            const vl_gguf_value **out);

/* Element i of a fixed-size numeric array, converted. */
int64_t vl_gguf_arr_int(const vl_gguf_value *arr, uint64_t i);
double vl_gguf_arr_float(const vl_gguf_value *arr, uint64_t i);

/* Name of a value type ("uint32"). */
const char *vl_gguf_vtype_name(vl_gguf_vtype t);

/* Bytes of one element of a fixed-size type, 0 for STRING/ARRAY/unknown. */
size_t vl_gguf_vtype_size(vl_gguf_vtype t);

/* Compare a vl_str with a C string. */
int vl_str_eq(vl_str s, const char *c);

#endif
