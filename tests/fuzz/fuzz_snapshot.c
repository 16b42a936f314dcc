/* libFuzzer target for vllm_session_load (session_snapshot.c and
 * snapshot_stream.c): arbitrary snapshot files into a session of the tiny
 * Qwen3-VL text model (M-RoPE, F16 KV cache, 64 positions).
 *
 * Byte 0 of the input chooses how the rest reaches the loader: even = the
 * decompressed stream, compressed here with a valid checksum so mutations
 * reach every field check instead of dying in zstd; odd = the file's bytes
 * as they are (the zstd layer: truncation, bad frames, trailing data).
 * Checks: no crash/UB/leak; a refused file leaves the session's context as
 * it was; a loaded one leaves a usable session (one more token evaluates
 * at the next position).
 *
 * Model: $VIDEOLLM_FUZZ_MODEL, else tests/data/tiny-qwen3vl's F32 text
 * model (path baked in at compile time). Seeds: tests/fuzz/corpus/snapshot/
 * (snapshots of that model, each as a file (mode byte 1) and as its
 * decompressed stream (mode byte 0): tests/snapshots/v3-tiny-qwen3vl.snap,
 * and version-4 ones written by `test_snapshot_positions --write-text` /
 * `--write-context` with VIDEOLLM_FIXTURES=tests/data/tiny-qwen3vl). */
#define VLLM_EXPERIMENTAL
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>

#include "session/session_internal.h"

#ifndef VL_FUZZ_DATA_DIR
#define VL_FUZZ_DATA_DIR "tests/data"
#endif

static vllm_model *g_model;
static vllm_session *g_sess;
static char g_path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const char *path = getenv("VIDEOLLM_FUZZ_MODEL");
    if (!path) path = VL_FUZZ_DATA_DIR "/tiny-qwen3vl/models/tiny-qwen3vl-main-text-F32.gguf";
    vllm_session_params sp = vllm_session_default_params();
    sp.n_ctx = 64;
    sp.n_threads = 1;
    sp.kv_type = VLLM_KV_F16;
    if (vllm_model_load(path, NULL, &g_model) != VLLM_OK || vllm_session_create(g_model, &sp, &g_sess) != VLLM_OK) {
        fprintf(stderr, "fuzz_snapshot: cannot load %s: %s\n", path, vllm_last_error());
        abort();
    }
    snprintf(g_path, sizeof g_path, "/tmp/fuzz_snapshot.%d.snap", (int)getpid());
    return 0;
}

static void write_input(const uint8_t *data, size_t size)
{
    FILE *f = fopen(g_path, "wb");
    if (!f) abort();
    if (size && !(data[0] & 1)) {
        ZSTD_CCtx *c = ZSTD_createCCtx();
        ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
        const size_t cap = ZSTD_compressBound(size - 1);
        uint8_t *z = malloc(cap);
        const size_t n = z ? ZSTD_compress2(c, z, cap, data + 1, size - 1) : 0;
        if (!z || ZSTD_isError(n) || fwrite(z, 1, n, f) != n) abort();
        free(z);
        ZSTD_freeCCtx(c);
    } else if (size > 1 && fwrite(data + 1, 1, size - 1, f) != size - 1) {
        abort();
    }
    fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    write_input(data, size);
    vllm_session *s = g_sess;
    const int32_t n_past = vl_llm_state_n_past(s->st), next = vl_llm_state_next_pos(s->st);
    if (vllm_session_load(s, g_path) != VLLM_OK) {
        if (vl_llm_state_n_past(s->st) != n_past || vl_llm_state_next_pos(s->st) != next) {
            fprintf(stderr, "a refused snapshot changed the session: %d rows at %d, were %d at %d (%s)\n",
                    vl_llm_state_n_past(s->st), vl_llm_state_next_pos(s->st), n_past, next, vllm_session_last_error(s));
            abort();
        }
        unlink(g_path);
        return 0;
    }
    unlink(g_path);
    const int32_t at = vl_llm_state_next_pos(s->st), tok = 1;
    if (vl_llm_state_n_past(s->st) < vl_llm_state_n_ctx(s->st)) {
        if (vllm_session_eval_tokens(s, &tok, 1) != VLLM_OK) {
            fprintf(stderr, "a loaded snapshot left an unusable session: %s\n", vllm_session_last_error(s));
            abort();
        }
        int32_t pos[VL_POS_SECTIONS];
        vl_llm_state_row_pos(s->st, vl_llm_state_n_past(s->st) - 1, pos);
        if (pos[0] != at) abort(); /* text goes on at the restored next position */
    }
    vllm_session_reset(s);
    return 0;
}
