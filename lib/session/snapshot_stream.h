/* The byte stream of a session snapshot: one checksummed zstd frame
 * written to / read from a FILE. session_snapshot.c decides what the
 * bytes mean; this file only moves them and turns every way a file can
 * be wrong (empty, not zstd, truncated, corrupt, trailing data) into a
 * FORMAT error that names the file and the field being read. */
#ifndef VL_SESSION_SNAPSHOT_STREAM_H
#define VL_SESSION_SNAPSHOT_STREAM_H

#include <stdint.h>
#include <stdio.h>

#include <zstd.h>

#include "core/error.h"

typedef struct vl_snap_writer {
    FILE *f;
    ZSTD_CCtx *cctx;
    uint8_t out[1 << 16];
    int failed;
    int err; /* errno of the failed write, 0 if zstd failed */
} vl_snap_writer;

/* A writer onto f (NULL when out of memory). */
vl_snap_writer *vl_snap_writer_new(FILE *f);
/* Append n bytes (after a failure: nothing; the end reports it). */
void vl_snap_put(vl_snap_writer *w, const void *p, size_t n);
void vl_snap_put_i32(vl_snap_writer *w, int32_t v);
/* End the frame and free the writer: VLLM_OK, or VLLM_ERR_IO naming
 * `path` and the cause of the first failure. */
vllm_status vl_snap_writer_end(vl_snap_writer *w, const char *path);

typedef struct vl_snap_reader {
    FILE *f;
    ZSTD_DCtx *dctx;
    uint8_t in[1 << 16];
    ZSTD_inBuffer ib;
    size_t last;          /* last ZSTD_decompressStream result: 0 = frame complete */
    const char *path;
    long long file_bytes; /* read from the file so far */
    long long out_bytes;  /* decompressed so far */
} vl_snap_reader;

/* Open `path` (r->path keeps the pointer) for reading. */
vllm_status vl_snap_reader_open(vl_snap_reader *r, const char *path);
void vl_snap_reader_close(vl_snap_reader *r);
/* Exactly n bytes, or a FORMAT error: truncated, not a snapshot, or
 * corrupt in `what`. */
vllm_status vl_snap_get(vl_snap_reader *r, void *p, size_t n, const char *what);
/* After the last field: the frame must end here and its checksum hold. */
vllm_status vl_snap_reader_finish(vl_snap_reader *r);

#endif
