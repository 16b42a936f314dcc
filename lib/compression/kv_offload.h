/* The offload tier of the KV cache: spans of positions (one live frame
 * each) that no longer fit the context are kept here compressed instead
 * of being thrown away, and can be brought back into the context later.
 *
 * A block is the span's K and V rows over all layers (in the cache's
 * storage type), byte-shuffled by element size and zstd-compressed (level
 * 1: a 1080p stream offloads a frame per second, so speed matters more
 * than the last percent), plus what retrieval needs without touching the
 * blob: the frame's time, its token ids and a mean key per KV head of a
 * few layers. Blobs live in RAM up to a cap; past it the oldest move to an
 * anonymous spill file (when a directory is given) or are dropped, so a
 * stream of any length runs in bounded memory. Pure of session and model
 * types, so it is testable alone. Not thread-safe (the session lock
 * covers it). */
#ifndef VL_COMPRESSION_KV_OFFLOAD_H
#define VL_COMPRESSION_KV_OFFLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct vl_kv_store_settings {
    int64_t max_ram_bytes;  /* compressed blobs kept in memory; > 0 */
    int64_t max_file_bytes; /* spill file cap; 0 = no limit */
    const char *spill_dir;  /* directory for the spill file; NULL = no file (drop instead) */
    int elem_size;          /* byte-shuffle width: 4 (f32 rows), 2 (f16), 1 (quantized blocks) */
    int zstd_level;
} vl_kv_store_settings;

typedef enum vl_kv_tier { VL_KV_IN_RAM = 0, VL_KV_IN_FILE = 1, VL_KV_DROPPED = 2 } vl_kv_tier;

typedef struct vl_kv_block {
    double pts;          /* the frame's time (seconds) */
    int32_t n_tok;       /* positions in the span */
    int32_t src_p0;      /* position of its first row when captured (keys are rotated for it) */
    int32_t *hist;       /* n_tok token ids (-1 = visual) */
    float *key_mean;     /* retrieval summary, n_sum floats */
    uint8_t *blob;       /* compressed rows (RAM tier) */
    size_t blob_bytes, raw_bytes;
    int64_t file_off;    /* file tier */
    vl_kv_tier tier;
    int resident;        /* currently in the context (the blob stays valid) */
} vl_kv_block;

typedef struct vl_kv_store_counters {
    int64_t blocks_offloaded;  /* spans compressed into the store */
    int64_t blocks_spilled;    /* moved from RAM to the spill file */
    int64_t blocks_dropped;    /* lost to the caps */
    int64_t blocks_reloaded;   /* decompressed back into the context */
    int64_t retrievals;        /* questions that searched the store */
    int64_t raw_bytes, compressed_bytes; /* over all offloads */
    int64_t ram_bytes, file_bytes;       /* held now */
    double offload_seconds, reload_seconds;
} vl_kv_store_counters;

typedef struct vl_kv_store {
    vl_kv_store_settings set;
    char *spill_dir;
    int spill_fd;        /* -1 until the first spill */
    vl_kv_block *b;
    int32_t n, cap;
    int32_t n_sum;       /* floats per key_mean */
    uint8_t *scratch;    /* shuffle buffer */
    size_t scratch_cap;
    vl_kv_store_counters c;
} vl_kv_store;

vllm_status vl_kv_store_init(vl_kv_store *st, const vl_kv_store_settings *set, int32_t n_sum);
void vl_kv_store_free(vl_kv_store *st);

/* Compress `raw` (raw_bytes, rows as vl_llm_state_read writes them) into
 * a new block; *id gets its number. hist: n_tok ids; key_mean: n_sum. */
vllm_status vl_kv_store_put(vl_kv_store *st, const void *raw, size_t raw_bytes, double pts, int32_t n_tok,
                            int32_t src_p0, const int32_t *hist, const float *key_mean, int32_t *id);

/* Decompress block `id` into raw (its raw_bytes). VLLM_ERR_STATE for a
 * dropped block, VLLM_ERR_IO / VLLM_ERR_FORMAT if the spill file fails. */
vllm_status vl_kv_store_get(vl_kv_store *st, int32_t id, void *raw);

#endif
