/* libFuzzer target: arbitrary bytes through the tiny SmolVLM2 vocab (BPE,
 * with USER_DEFINED and CONTROL tokens) and an SPM vocab, with both
 * parse_special modes, then every produced id back through
 * vl_tokenizer_piece. Checks: no crash/UB/leak, ids in range, and the
 * byte-level BPE round trip (detokenizing reproduces the input whenever
 * the input is valid UTF-8 and no CONTROL token was matched; USER_DEFINED
 * ones render as their own text).
 *
 * Vocabularies: $VIDEOLLM_FUZZ_BPE_VOCAB / $VIDEOLLM_FUZZ_SPM_VOCAB, else
 * the copies under tests/data (path baked in at compile time). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/gguf.h"
#include "decoder/tokenizer.h"

#ifndef VL_FUZZ_DATA_DIR
#define VL_FUZZ_DATA_DIR "tests/data"
#endif

static vl_tokenizer *g_tok[2];

static vl_tokenizer *load(const char *env, const char *def)
{
    const char *path = getenv(env);
    if (!path) path = def;
    vl_gguf *g = NULL;
    vl_tokenizer *t = NULL;
    if (vl_gguf_open(path, 1, &g) != VLLM_OK || vl_tokenizer_load(g, &t) != VLLM_OK) {
        fprintf(stderr, "fuzz_tokenizer: cannot load %s: %s\n", path, vl_error_message());
        abort();
    }
    vl_gguf_close(g);
    return t;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    g_tok[0] = load("VIDEOLLM_FUZZ_BPE_VOCAB", VL_FUZZ_DATA_DIR "/tiny-smolvlm2/models/tiny-smolvlm2-main-text-F32.gguf");
    g_tok[1] = load("VIDEOLLM_FUZZ_SPM_VOCAB", VL_FUZZ_DATA_DIR "/vocab/ggml-vocab-llama-spm.gguf");
    return 0;
}

static int valid_utf8(const uint8_t *u, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned c = u[i];
        size_t k = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (!k || i + k > n) return 0;
        uint32_t cp = k == 1 ? c : c & (0x7F >> k);
        for (size_t j = 1; j < k; j++) {
            if ((u[i + j] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (u[i + j] & 0x3F);
        }
        if ((k == 2 && cp < 0x80) || (k == 3 && cp < 0x800) || (k == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += k;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size ? size : 1);
    char *out = malloc(size * 8 + 64);
    if (!text || !out) abort();
    memcpy(text, data, size);
    for (int v = 0; v < 2; v++) {
        vl_tokenizer *t = g_tok[v];
        for (int ps = 0; ps < 2; ps++) {
            vl_tokens toks = { 0, 0, 0 };
            if (vl_tokenizer_encode(t, text, size, ps, ps, &toks) != VLLM_OK) abort();
            size_t n = 0;
            int special = 0;
            for (size_t i = 0; i < toks.n; i++) {
                int32_t id = toks.ids[i];
                if (id < 0 || id >= vl_tokenizer_n_vocab(t)) abort();
                size_t len = 0;
                char tmp[1];
                vllm_status st = vl_tokenizer_piece(t, id, 0, tmp, 0, &len);
                if (st != VLLM_OK && st != VLLM_ERR_BUFFER_TOO_SMALL) abort();
                /* pieces never expand the input more than 3x (U+FFFD for
                 * a bad byte) plus a space per SPM fragment */
                if (vl_tokenizer_piece(t, id, 0, out + n, size * 8 + 64 - n, &len) != VLLM_OK) abort();
                special |= vl_tokenizer_is_control(t, id);
                n += len;
            }
            /* byte-level BPE is lossless for valid UTF-8 without specials */
            if (v == 0 && !special && valid_utf8(data, size) && (n != size || memcmp(out, data, size) != 0)) abort();
            free(toks.ids);
        }
    }
    if (memcmp(text, data, size) != 0) abort(); /* input untouched */
    free(text);
    free(out);
    return 0;
}
