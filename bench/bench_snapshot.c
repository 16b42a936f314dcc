/* bench_snapshot: what zstd buys session snapshots.
 *
 *   bench_snapshot -m TEXT.gguf [-n POSITIONS] [-t THREADS] [--dir DIR]
 *
 * For each KV cache type (f32, f16, q8_0, q4_0 when the head size allows it) a
 * session is filled with POSITIONS evaluated tokens (default 2048), then:
 *   zstd   vllm_session_save / vllm_session_load: file size, seconds
 *   raw    the same snapshot stream without compression (the file
 *          decompressed in memory first, untimed), written with fwrite and
 *          read back with fread: what an uncompressed snapshot would cost
 * Both write through the page cache (no fsync) in the same run, so the
 * ratio is compression cost and size saving against plain copying. The
 * raw figures are the limit: a snapshot cannot be saved faster than its
 * bytes can be written. Random-weight models give KV values with little
 * redundancy; real models' caches compress better. */
#define _GNU_SOURCE
#define VLLM_EXPERIMENTAL
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zstd.h>

#include "bench_common.h"
#include "vllm/videollm.h"

static long file_size(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

static unsigned char *read_all(const char *p, size_t *n)
{
    FILE *f = fopen(p, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(sz > 0 ? (size_t)sz : 1);
    if (b && fread(b, 1, (size_t)sz, f) != (size_t)sz) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *n = (size_t)sz;
    return b;
}

/* The snapshot's decompressed stream (its size is not in the frame
 * header: streaming compression), into a growing buffer. */
static unsigned char *decompress_all(const unsigned char *z, size_t zn, size_t *n)
{
    ZSTD_DStream *d = ZSTD_createDStream();
    size_t cap = zn * 2 + (1 << 20), len = 0;
    unsigned char *out = malloc(cap);
    ZSTD_inBuffer in = {z, zn, 0};
    while (out && d) {
        if (cap - len < (1 << 20)) {
            unsigned char *p = realloc(out, cap * 2);
            if (!p) break;
            out = p;
            cap *= 2;
        }
        ZSTD_outBuffer ob = {out + len, cap - len, 0};
        size_t r = ZSTD_decompressStream(d, &ob, &in);
        len += ob.pos;
        if (ZSTD_isError(r)) break;
        if (r == 0 && in.pos == in.size) {
            ZSTD_freeDStream(d);
            *n = len;
            return out;
        }
    }
    ZSTD_freeDStream(d);
    free(out);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *text = NULL, *dir = "/tmp";
    int n = 2048, threads = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-m")) text = argv[i + 1];
        else if (!strcmp(argv[i], "-n")) n = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-t")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--dir")) dir = argv[i + 1];
    }
    if (!text || n < 1) {
        fprintf(stderr, "usage: bench_snapshot -m TEXT.gguf [-n POSITIONS] [-t THREADS] [--dir DIR]\n");
        return 2;
    }
    vllm_model *m = NULL;
    if (vllm_model_load(text, NULL, &m)) {
        fprintf(stderr, "bench_snapshot: %s\n", vllm_last_error());
        return 1;
    }
    vllm_model_info mi = {.struct_size = sizeof mi};
    vllm_model_get_info(m, &mi);
    int32_t *ids = malloc(sizeof *ids * (size_t)n);
    for (int i = 0; i < n; i++) ids[i] = (int32_t)((i * 7919u + 13u) % (unsigned)(mi.n_vocab > 0 ? mi.n_vocab : 1));
    char path[4096], raw_path[4096];
    snprintf(path, sizeof path, "%s/bench-snapshot-%d.vsnap", dir, (int)getpid());
    snprintf(raw_path, sizeof raw_path, "%s/bench-snapshot-%d.raw", dir, (int)getpid());
    printf("# %s, %d positions; seconds are best of 3\n", text, n);
    printf("# kv    mode   bytes        ratio  save_s   load_s   save_MB/s load_MB/s\n");
    const vllm_kv_type kvs[] = {VLLM_KV_F32, VLLM_KV_F16, VLLM_KV_Q8_0, VLLM_KV_Q4_0};
    const char *names[] = {"f32", "f16", "q8_0", "q4_0"};
    int rc = 0;
    for (int k = 0; k < 4; k++) {
        vllm_session_params sp = vllm_session_default_params();
        sp.n_ctx = n + 16;
        sp.n_threads = threads;
        sp.kv_type = kvs[k];
        vllm_session *a = NULL, *b = NULL;
        if (vllm_session_create(m, &sp, &a) || vllm_session_create(m, &sp, &b)) {
            printf("%-5s (%s)\n", names[k], vllm_last_error());
            vllm_session_free(a);
            continue;
        }
        if (vllm_session_eval_tokens(a, ids, (size_t)n)) {
            fprintf(stderr, "bench_snapshot: %s\n", vllm_session_last_error(a));
            rc = 1;
            break;
        }
        double save = 1e9, load = 1e9;
        for (int r = 0; r < 3; r++) {
            double t0 = vl_bench_now();
            if (vllm_session_save(a, path)) rc = 1;
            double t1 = vl_bench_now();
            if (vllm_session_load(b, path)) rc = 1;
            double t2 = vl_bench_now();
            if (t1 - t0 < save) save = t1 - t0;
            if (t2 - t1 < load) load = t2 - t1;
        }
        if (rc) {
            fprintf(stderr, "bench_snapshot: %s / %s\n", vllm_session_last_error(a), vllm_session_last_error(b));
            break;
        }
        size_t zn = 0, rn = 0;
        unsigned char *z = read_all(path, &zn);
        unsigned char *raw = z ? decompress_all(z, zn, &rn) : NULL;
        if (!raw) {
            fprintf(stderr, "bench_snapshot: cannot decompress %s\n", path);
            rc = 1;
            break;
        }
        double wsave = 1e9, wload = 1e9;
        unsigned char *back = malloc(rn);
        for (int r = 0; r < 3 && back; r++) {
            double t0 = vl_bench_now();
            FILE *f = fopen(raw_path, "wb");
            if (!f || fwrite(raw, 1, rn, f) != rn || fclose(f)) rc = 1;
            double t1 = vl_bench_now();
            f = fopen(raw_path, "rb");
            if (!f || fread(back, 1, rn, f) != rn) rc = 1;
            if (f) fclose(f);
            double t2 = vl_bench_now();
            if (t1 - t0 < wsave) wsave = t1 - t0;
            if (t2 - t1 < wload) wload = t2 - t1;
        }
        printf("%-5s zstd   %-12ld %.3f  %.4f   %.4f   %-9.0f %.0f\n", names[k], file_size(path), (double)zn / (double)rn,
               save, load, rn / save / 1e6, rn / load / 1e6);
        printf("%-5s raw    %-12zu 1.000  %.4f   %.4f   %-9.0f %.0f\n", names[k], rn, wsave, wload, rn / wsave / 1e6,
               rn / wload / 1e6);
        free(back);
        free(raw);
        free(z);
        vllm_session_free(a);
        vllm_session_free(b);
    }
    remove(path);
    remove(raw_path);
    free(ids);
    vllm_model_free(m);
    return rc;
}
