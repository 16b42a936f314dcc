/* The zstd byte stream of a session snapshot (see snapshot_stream.h). */
#include "snapshot_stream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SNAP_LEVEL 1 /* KV data compresses little; favour speed */

/* ---- writing ----------------------------------------------------------------- */

vl_snap_writer *vl_snap_writer_new(FILE *f)
{
    vl_snap_writer *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->f = f;
    w->cctx = ZSTD_createCCtx();
    if (!w->cctx) w->failed = 1;
    else {
        ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, SNAP_LEVEL);
        ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_checksumFlag, 1); /* corruption in the KV bytes is caught */
    }
    return w;
}

static void put(vl_snap_writer *w, const void *p, size_t n, ZSTD_EndDirective mode)
{
    if (w->failed) return;
    ZSTD_inBuffer in = {p, n, 0};
    for (;;) {
        ZSTD_outBuffer out = {w->out, sizeof w->out, 0};
        size_t left = ZSTD_compressStream2(w->cctx, &out, &in, mode);
        if (ZSTD_isError(left) || fwrite(w->out, 1, out.pos, w->f) != out.pos) {
            w->failed = 1;
            w->err = ZSTD_isError(left) ? 0 : errno;
            return;
        }
        if (mode == ZSTD_e_end ? left == 0 : in.pos == in.size) return;
    }
}

void vl_snap_put(vl_snap_writer *w, const void *p, size_t n) { put(w, p, n, ZSTD_e_continue); }

void vl_snap_put_i32(vl_snap_writer *w, int32_t v) { put(w, &v, 4, ZSTD_e_continue); }

vllm_status vl_snap_writer_end(vl_snap_writer *w, const char *path)
{
    put(w, "", 0, ZSTD_e_end);
    const int failed = w->failed, err = w->err;
    ZSTD_freeCCtx(w->cctx);
    free(w);
    if (!failed) return VLLM_OK;
    return vl_error(VLLM_ERR_IO, "%s: writing the snapshot failed (%s); the file was not changed", path,
                    err ? strerror(err) : "compression error");
}

/* ---- reading ------------------------------------------------------------------ */

vllm_status vl_snap_reader_open(vl_snap_reader *r, const char *path)
{
    memset(r, 0, sizeof *r);
    r->path = path;
    r->f = fopen(path, "rb");
    if (!r->f) return vl_error(VLLM_ERR_IO, "%s: cannot open the snapshot", path);
    r->dctx = ZSTD_createDCtx();
    return r->dctx ? VLLM_OK : vl_error(VLLM_ERR_NOMEM, "out of memory");
}

void vl_snap_reader_close(vl_snap_reader *r)
{
    ZSTD_freeDCtx(r->dctx);
    if (r->f) fclose(r->f);
    r->dctx = NULL;
    r->f = NULL;
}

static size_t fill(vl_snap_reader *r)
{
    r->ib.size = fread(r->in, 1, sizeof r->in, r->f);
    r->ib.pos = 0;
    r->ib.src = r->in;
    r->file_bytes += (long long)r->ib.size;
    return r->ib.size;
}

/* The file ended before the snapshot did. */
static vllm_status truncated(const vl_snap_reader *r)
{
    if (r->file_bytes == 0) return vl_error(VLLM_ERR_FORMAT, "%s: the file is empty: not a snapshot", r->path);
    return vl_error(VLLM_ERR_FORMAT,
                    "%s: the snapshot is truncated: the file ends after %lld bytes, before the snapshot is complete "
                    "(a copy or save that was cut short)",
                    r->path, r->file_bytes);
}

vllm_status vl_snap_get(vl_snap_reader *r, void *p, size_t n, const char *what)
{
    ZSTD_outBuffer out = {p, n, 0};
    while (out.pos < out.size) {
        if (r->ib.pos == r->ib.size && fill(r) == 0) return truncated(r);
        size_t ret = ZSTD_decompressStream(r->dctx, &out, &r->ib);
        if (ZSTD_isError(ret)) {
            if (r->out_bytes + (long long)out.pos == 0) /* not even the start decodes */
                return vl_error(VLLM_ERR_FORMAT, "%s: not a libvideollm snapshot (not zstd data: %s)", r->path,
                                ZSTD_getErrorName(ret));
            return vl_error(VLLM_ERR_FORMAT, "%s: the snapshot is corrupt (%s) in %s", r->path, ZSTD_getErrorName(ret),
                            what);
        }
        r->last = ret;
    }
    r->out_bytes += (long long)n;
    return VLLM_OK;
}

vllm_status vl_snap_reader_finish(vl_snap_reader *r)
{
    uint8_t extra;
    for (;;) {
        if (r->last == 0) return VLLM_OK; /* frame and checksum fully decoded */
        ZSTD_outBuffer out = {&extra, 1, 0};
        if (r->ib.pos == r->ib.size) fill(r);
        size_t ret = ZSTD_decompressStream(r->dctx, &out, &r->ib);
        if (ZSTD_isError(ret))
            return vl_error(VLLM_ERR_FORMAT, "%s: snapshot is corrupt (%s)", r->path, ZSTD_getErrorName(ret));
        if (out.pos) return vl_error(VLLM_ERR_FORMAT, "%s: unexpected data after the snapshot's end marker", r->path);
        r->last = ret;
        if (ret != 0 && r->ib.size == 0) return truncated(r);
    }
}
