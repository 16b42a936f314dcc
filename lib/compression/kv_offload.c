/* The compressed offload tier of the KV cache (see kv_offload.h). */
#include "compression/kv_offload.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zstd.h>

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

vllm_status vl_kv_store_init(vl_kv_store *st, const vl_kv_store_settings *set, int32_t n_sum)
{
    memset(st, 0, sizeof *st);
    st->spill_fd = -1;
    if (set->max_ram_bytes <= 0 || set->max_file_bytes < 0 || n_sum < 0 ||
        (set->elem_size != 1 && set->elem_size != 2 && set->elem_size != 4))
        return vl_error(VLLM_ERR_INVALID_ARG, "KV offload: RAM cap %lld, file cap %lld, element size %d are not valid",
                        (long long)set->max_ram_bytes, (long long)set->max_file_bytes, set->elem_size);
    st->set = *set;
    if (set->spill_dir) {
        st->spill_dir = strdup(set->spill_dir);
        if (!st->spill_dir) return vl_error(VLLM_ERR_NOMEM, "out of memory");
    }
    st->set.spill_dir = st->spill_dir;
    if (st->set.zstd_level == 0) st->set.zstd_level = 1;
    st->n_sum = n_sum;
    return VLLM_OK;
}

void vl_kv_store_free(vl_kv_store *st)
{
    for (int32_t i = 0; i < st->n; i++) {
        free(st->b[i].hist);
        free(st->b[i].key_mean);
        free(st->b[i].blob);
    }
    free(st->b);
    free(st->scratch);
    free(st->spill_dir);
    if (st->spill_fd >= 0) close(st->spill_fd);
    memset(st, 0, sizeof *st);
    st->spill_fd = -1;
}

static vllm_status scratch(vl_kv_store *st, size_t n)
{
    if (n <= st->scratch_cap) return VLLM_OK;
    uint8_t *p = realloc(st->scratch, n);
    if (!p) return vl_error(VLLM_ERR_NOMEM, "KV offload: out of memory for a %zu-byte block", n);
    st->scratch = p;
    st->scratch_cap = n;
    return VLLM_OK;
}

/* Byte planes: byte j of every element together. The high bytes of f16/f32
 * values (sign, exponent) vary little, so zstd finds them as runs. */
static void shuffle(const uint8_t *in, uint8_t *out, size_t n, int es)
{
    const size_t ne = n / (size_t)es;
    for (size_t i = 0; i < ne; i++)
        for (int j = 0; j < es; j++) out[(size_t)j * ne + i] = in[i * (size_t)es + (size_t)j];
    memcpy(out + ne * (size_t)es, in + ne * (size_t)es, n - ne * (size_t)es);
}

static void unshuffle(const uint8_t *in, uint8_t *out, size_t n, int es)
{
    const size_t ne = n / (size_t)es;
    for (size_t i = 0; i < ne; i++)
        for (int j = 0; j < es; j++) out[i * (size_t)es + (size_t)j] = in[(size_t)j * ne + i];
    memcpy(out + ne * (size_t)es, in + ne * (size_t)es, n - ne * (size_t)es);
}

static vllm_status open_spill(vl_kv_store *st)
{
    if (st->spill_fd >= 0) return VLLM_OK;
    size_t len = strlen(st->spill_dir) + 32;
    char *path = malloc(len);
    if (!path) return vl_error(VLLM_ERR_NOMEM, "out of memory");
    snprintf(path, len, "%s/videollm-kv-XXXXXX", st->spill_dir);
    int fd = mkstemp(path);
    if (fd < 0) {
        vllm_status e = vl_error(VLLM_ERR_IO, "KV offload: cannot create a spill file in '%s' (%s)", st->spill_dir,
                                 strerror(errno));
        free(path);
        return e;
    }
    unlink(path); /* anonymous: gone when closed, even after a crash */
    free(path);
    st->spill_fd = fd;
    return VLLM_OK;
}

static int write_all(int fd, const uint8_t *p, size_t n, int64_t off)
{
    while (n > 0) {
        ssize_t w = pwrite(fd, p, n, (off_t)off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
        off += w;
    }
    return 0;
}

/* Keep RAM under its cap: the oldest blobs in RAM go to the spill file
 * (room permitting) or are dropped. Resident blocks move too: the context
 * holds their rows, the blob is only needed after a later eviction. */
static void enforce_caps(vl_kv_store *st)
{
    for (int32_t i = 0; i < st->n && st->c.ram_bytes > st->set.max_ram_bytes; i++) {
        vl_kv_block *b = &st->b[i];
        if (b->tier != VL_KV_IN_RAM) continue;
        int spilled = 0;
        if (st->spill_dir &&
            (st->set.max_file_bytes == 0 || st->c.file_bytes + (int64_t)b->blob_bytes <= st->set.max_file_bytes) &&
            open_spill(st) == VLLM_OK) {
            /* append-only: offsets only grow, a dropped block's bytes are not reused */
            int64_t off = st->c.file_bytes;
            if (write_all(st->spill_fd, b->blob, b->blob_bytes, off) == 0) {
                b->file_off = off;
                st->c.file_bytes += (int64_t)b->blob_bytes;
                b->tier = VL_KV_IN_FILE;
                st->c.blocks_spilled++;
                spilled = 1;
            }
        }
        if (!spilled) {
            b->tier = VL_KV_DROPPED;
            st->c.blocks_dropped++;
        }
        st->c.ram_bytes -= (int64_t)b->blob_bytes;
        free(b->blob);
        b->blob = NULL;
    }
}

vllm_status vl_kv_store_put(vl_kv_store *st, const void *raw, size_t raw_bytes, double pts, int32_t n_tok,
                            int32_t src_p0, const int32_t *hist, const float *key_mean, int32_t *id)
{
    const double t0 = now_seconds();
    if (st->n == st->cap) {
        int32_t cap = st->cap ? 2 * st->cap : 256;
        vl_kv_block *p = realloc(st->b, (size_t)cap * sizeof *p);
        if (!p) return vl_error(VLLM_ERR_NOMEM, "out of memory");
        st->b = p;
        st->cap = cap;
    }
    const size_t bound = ZSTD_compressBound(raw_bytes);
    VL_TRY(scratch(st, raw_bytes));
    vl_kv_block b = {.pts = pts, .n_tok = n_tok, .src_p0 = src_p0, .raw_bytes = raw_bytes, .file_off = -1};
    b.hist = malloc((size_t)(n_tok > 0 ? n_tok : 1) * sizeof *b.hist);
    b.key_mean = malloc((size_t)(st->n_sum > 0 ? st->n_sum : 1) * sizeof *b.key_mean);
    b.blob = malloc(bound);
    if (!b.hist || !b.key_mean || !b.blob) {
        free(b.hist);
        free(b.key_mean);
        free(b.blob);
        return vl_error(VLLM_ERR_NOMEM, "KV offload: out of memory for a %zu-byte block", raw_bytes);
    }
    if (n_tok > 0) memcpy(b.hist, hist, (size_t)n_tok * sizeof *hist);
    if (st->n_sum > 0) memcpy(b.key_mean, key_mean, (size_t)st->n_sum * sizeof *key_mean);
    shuffle(raw, st->scratch, raw_bytes, st->set.elem_size);
    size_t z = ZSTD_compress(b.blob, bound, st->scratch, raw_bytes, st->set.zstd_level);
    if (ZSTD_isError(z)) {
        free(b.hist);
        free(b.key_mean);
        free(b.blob);
        return vl_error(VLLM_ERR_INTERNAL, "KV offload: zstd: %s", ZSTD_getErrorName(z));
    }
    uint8_t *shrunk = realloc(b.blob, z ? z : 1);
    if (shrunk) b.blob = shrunk;
    b.blob_bytes = z;
    st->b[st->n] = b;
    *id = st->n++;
    st->c.blocks_offloaded++;
    st->c.raw_bytes += (int64_t)raw_bytes;
    st->c.compressed_bytes += (int64_t)z;
    st->c.ram_bytes += (int64_t)z;
    enforce_caps(st);
    st->c.offload_seconds += now_seconds() - t0;
    return VLLM_OK;
}

vllm_status vl_kv_store_get(vl_kv_store *st, int32_t id, void *raw)
{
    if (id < 0 || id >= st->n) return vl_error(VLLM_ERR_INVALID_ARG, "KV offload: no block %d", id);
    vl_kv_block *b = &st->b[id];
    if (b->tier == VL_KV_DROPPED)
        return vl_error(VLLM_ERR_STATE, "KV offload: block %d (frame at %.2f s) was dropped by the memory caps", id,
                        b->pts);
    const double t0 = now_seconds();
    VL_TRY(scratch(st, b->raw_bytes > b->blob_bytes ? b->raw_bytes : b->blob_bytes));
    const uint8_t *src = b->blob;
    uint8_t *filebuf = NULL;
    if (b->tier == VL_KV_IN_FILE) {
        filebuf = malloc(b->blob_bytes ? b->blob_bytes : 1);
        if (!filebuf) return vl_error(VLLM_ERR_NOMEM, "out of memory");
        size_t got = 0;
        while (got < b->blob_bytes) {
            ssize_t r = pread(st->spill_fd, filebuf + got, b->blob_bytes - got, (off_t)(b->file_off + (int64_t)got));
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) {
                free(filebuf);
                return vl_error(VLLM_ERR_IO, "KV offload: reading block %d from the spill file failed (%s)", id,
                                r < 0 ? strerror(errno) : "short file");
            }
            got += (size_t)r;
        }
        src = filebuf;
    }
    size_t n = ZSTD_decompress(st->scratch, b->raw_bytes, src, b->blob_bytes);
    free(filebuf);
    if (ZSTD_isError(n) || n != b->raw_bytes)
        return vl_error(VLLM_ERR_FORMAT, "KV offload: block %d does not decompress (%s)", id,
                        ZSTD_isError(n) ? ZSTD_getErrorName(n) : "wrong size");
    unshuffle(st->scratch, raw, b->raw_bytes, st->set.elem_size);
    st->c.blocks_reloaded++;
    st->c.reload_seconds += now_seconds() - t0;
    return VLLM_OK;
}
