/* libFuzzer target for the GGUF reader: parse arbitrary bytes, then walk
 * everything a loader would touch (every key through every typed getter,
 * array elements, nested arrays, tensor lookups and the bytes at both
 * ends of each tensor's data). Any sanitizer report or crash is a bug;
 * rejections are expected.
 *
 * Seeds: tests/fuzz/corpus/gguf/ (written by gen_gguf_seeds). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "core/gguf.h"

static volatile uint64_t sink;

static void walk_value(const vl_gguf_value *v, int depth)
{
    if (v->type != VL_GGUF_ARRAY || depth > VL_GGUF_MAX_NESTING) return;
    uint64_t n = v->v.arr.n;
    if (v->v.arr.elem == VL_GGUF_STRING) {
        for (uint64_t i = 0; i < n && i < 256; i++)
            if (v->v.arr.strs[i].len) sink += (uint8_t)v->v.arr.strs[i].ptr[v->v.arr.strs[i].len - 1];
    } else if (v->v.arr.elem == VL_GGUF_ARRAY) {
        for (uint64_t i = 0; i < n && i < 256; i++) walk_value(&v->v.arr.items[i], depth + 1);
    } else if (n) {
        sink += (uint64_t)vl_gguf_arr_int(v, 0) + (uint64_t)vl_gguf_arr_int(v, n - 1);
        double f = vl_gguf_arr_float(v, n / 2);
        uint64_t bits;
        memcpy(&bits, &f, 8); /* (a float->int cast of NaN would be UB in the harness itself) */
        sink += bits;
        sink += (uint64_t)vl_gguf_arr_int(v, n); /* out of range: 0 */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vl_gguf *g = NULL;
    if (vl_gguf_open_memory(data, size, &g) != VLLM_OK) return 0;
    char key[256];
    for (uint64_t i = 0; i < g->n_kv; i++) {
        const vl_gguf_kv *kv = &g->kv[i];
        walk_value(&kv->value, 0);
        if (kv->key.len >= sizeof key || memchr(kv->key.ptr, 0, (size_t)kv->key.len)) continue;
        memcpy(key, kv->key.ptr, (size_t)kv->key.len);
        key[kv->key.len] = 0;
        if (vl_gguf_find(g, key) != kv) abort(); /* keys are unique: lookup finds this one */
        int64_t iv;
        double fv;
        int bv;
        int32_t i32;
        vl_str s;
        const vl_gguf_value *arr;
        vl_gguf_get_int(g, key, 0, &iv);
        vl_gguf_get_int_req(g, key, &iv);
        vl_gguf_get_i32_range(g, key, 0, -5, 1 << 20, &i32);
        vl_gguf_get_float(g, key, 0, &fv);
        vl_gguf_get_bool(g, key, 0, &bv);
        if (vl_gguf_get_str(g, key, NULL, &s) == VLLM_OK && s.ptr && s.len) sink += (uint8_t)s.ptr[s.len - 1];
        vl_gguf_get_arr(g, key, VL_GGUF_VTYPE_COUNT, &arr);
        vl_gguf_get_arr(g, key, VL_GGUF_STRING, &arr);
    }
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const vl_gguf_tensor *t = &g->tensors[i];
        if (vl_gguf_find_tensor(g, t->name) != t) abort();
        int64_t rows = t->ne[1] * t->ne[2] * t->ne[3]; /* must not overflow (UBSan checks) */
        if ((uint64_t)rows * vl_row_size(t->type, t->ne[0]) != t->size) abort();
        if (t->size) {
            const uint8_t *p = t->data;
            sink += p[0] + p[t->size - 1];
            if (p < g->base + g->data_offset || p + t->size > g->base + g->size) abort();
        }
    }
    sink += (uint64_t)(vl_gguf_find(g, "general.architecture") != NULL);
    vl_gguf_close(g);
    return 0;
}
