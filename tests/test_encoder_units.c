/* Encoder units:
 *  - the BF16 GEMM (AVX-512 kernel and scalar fallback) against a double
 *    reference computed here from bf16-rounded inputs, on ragged shapes
 *    (M not a multiple of 6, N not of 64, odd K);
 *  - mmproj loader errors on mutated copies of the fixture GGUF: unknown
 *    projector type (UNSUPPORTED, names it), wrong tensor shape (FORMAT,
 *    names the tensor and both shapes), missing hyper-parameter. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/f16.h"
#include "core/gguf.h"
#include "core/threadpool.h"
#include "encoder/encoder.h"
#include "encoder/gemm_bf16.h"
#include "fixture_set.h"
#include "harness.h"

static float bf(float x) { return vl_bf16_to_f32(vl_f32_to_bf16(x)); }

static void gemm_case(vl_pool *pool, int M, int N, int K, int with_bias)
{
    float *A = malloc((size_t)M * K * 4), *W = malloc((size_t)N * K * 4), *b = malloc((size_t)N * 4);
    float *C = malloc((size_t)M * N * 4);
    unsigned s = (unsigned)(M * 7 + N * 13 + K);
    for (int i = 0; i < M * K; i++) A[i] = (float)((s = s * 1103515245u + 12345u) >> 8) / 16777216.0f - 0.5f;
    for (int i = 0; i < N * K; i++) W[i] = (float)((s = s * 1103515245u + 12345u) >> 8) / 16777216.0f - 0.5f;
    for (int i = 0; i < N; i++) b[i] = (float)i * 0.01f;
    vl_bf16_packed *P;
    REQUIRE(vl_bf16_pack(W, N, K, &P) == VLLM_OK, "pack");
    void *scratch = aligned_alloc(64, (vl_bf16_scratch_size(M, K) + 63) & ~(size_t)63);
    for (int i = 0; i < M * N; i++) C[i] = NAN;
    vl_bf16_gemm(pool, M, A, K, P, with_bias ? b : NULL, C, N, scratch);
    double worst = 0;
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            double ref = with_bias ? b[n] : 0, mag = 0;
            for (int k = 0; k < K; k++) {
                double p = (double)bf(A[(size_t)m * K + k]) * bf(W[(size_t)n * K + k]);
                ref += p;
                mag += fabs(p);
            }
            double err = fabs(C[(size_t)m * N + n] - ref) / (mag + 1e-30);
            if (!(err <= worst)) worst = err;
        }
    /* f32 accumulation of exact bf16 products: relative to sum |products| */
    CHECK(worst < 1e-5, "bf16 gemm %dx%dx%d: worst error %.3g relative to sum|a*w|", M, N, K, worst);
    vl_bf16_packed_free(P);
    free(scratch);
    free(A), free(W), free(b), free(C);
}

/* Load from a mutated in-memory copy; returns the status. */
static vllm_status load_bytes(const uint8_t *buf, size_t n)
{
    vl_gguf *g;
    vllm_status st = vl_gguf_open_memory(buf, n, &g);
    if (st != VLLM_OK) return st;
    vl_vision *v = NULL;
    st = vl_vision_load(g, &v);
    vl_vision_free(v);
    vl_gguf_close(g);
    return st;
}

static uint8_t *find(uint8_t *buf, size_t n, const char *s)
{
    size_t k = strlen(s);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(buf + i, s, k) == 0) return buf + i;
    return NULL;
}

static void loader_errors(void)
{
    char path[4400];
    fx_require_model("-mmproj-F32.gguf", path, sizeof path);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "no fixture mmproj at %s; loader checks skipped\n", path);
        return;
    }
    fseek(f, 0, SEEK_END);
    size_t n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *orig = malloc(n), *buf = malloc(n);
    REQUIRE(fread(orig, 1, n, f) == n, "read");
    fclose(f);

    memcpy(buf, orig, n);
    CHECK(load_bytes(buf, n) == VLLM_OK, "unmodified: %s", vl_error_message());

    /* unknown projector (same length, so offsets stay valid) */
    memcpy(buf, orig, n);
    uint8_t *p = find(buf, n, "idefics3");
    REQUIRE(p, "projector string");
    memcpy(p, "idefics9", 8);
    vllm_status st = load_bytes(buf, n);
    CHECK(st == VLLM_ERR_UNSUPPORTED && strstr(vl_error_message(), "idefics9"), "unknown projector: %d %s", st,
          vl_error_message());

    /* wrong shape: v.blk.1.attn_q.weight ne[1] 32 -> 16 (data shrinks, stays in bounds) */
    memcpy(buf, orig, n);
    p = find(buf, n, "v.blk.1.attn_q.weight");
    REQUIRE(p, "tensor name");
    p += strlen("v.blk.1.attn_q.weight");
    uint32_t nd;
    memcpy(&nd, p, 4);
    REQUIRE(nd == 2, "n_dims %u", nd);
    uint64_t ne1;
    memcpy(&ne1, p + 4 + 8, 8);
    uint64_t half = ne1 / 2;
    memcpy(p + 4 + 8, &half, 8);
    st = load_bytes(buf, n);
    CHECK(st == VLLM_ERR_FORMAT && strstr(vl_error_message(), "v.blk.1.attn_q.weight") &&
              strstr(vl_error_message(), "expected"),
          "bad shape: %d %s", st, vl_error_message());
    fprintf(stderr, "shape error: %s\n", vl_error_message());

    /* missing hyper-parameter: rename the key */
    memcpy(buf, orig, n);
    p = find(buf, n, "clip.vision.block_count");
    REQUIRE(p, "key");
    p[5] = 'X';
    st = load_bytes(buf, n);
    CHECK(st == VLLM_ERR_FORMAT && strstr(vl_error_message(), "block_count"), "missing key: %d %s", st, vl_error_message());

    free(orig);
    free(buf);
}

TEST_MAIN_BEGIN
    vl_pool *pool = vl_pool_create(2);
    REQUIRE(pool, "pool");
    fprintf(stderr, "bf16 kernel: %s\n", vl_bf16_gemm_available() ? "avx512bf16" : "scalar fallback");
    gemm_case(pool, 1, 1, 1, 0);
    gemm_case(pool, 13, 70, 37, 1);
    gemm_case(pool, 6, 64, 32, 0);
    gemm_case(pool, 31, 200, 129, 1);
    gemm_case(NULL, 7, 3, 300, 1);
    loader_errors();
    vl_pool_free(pool);
TEST_MAIN_END
