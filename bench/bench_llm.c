/* Text-model speed: prompt prefill and token-by-token decode, each next to
 * the limit measured in the same run.
 *
 *   bench_llm [-t THREADS] [-p PREFILL_TOKENS] [-n DECODE_TOKENS] [-c LONG_CTX] MODEL.gguf...
 *
 * Figures (one `key=value` line per model, plus the machine limits):
 *   prefill_tok_s      P random tokens evaluated as one prompt (best of 3)
 *   prefill_gflops     2 * (weights per token) * P / time, plus attention
 *   prefill_vs_sgemm   prefill_gflops / sgemm GFLOP/s (1024x3072x768, same pool)
 *   decode_tok_s_ctx0  one token at a time from an empty context
 *   decode_tok_s_ctxN  one token at a time after an N-token prompt (-c, default
 *                      2048; smaller for multi-billion-parameter models)
 *   decode_limit_tok_s read bandwidth / weight bytes streamed per token
 *   decode_vs_limit    decode_tok_s_ctx0 / decode_limit_tok_s
 * The weights streamed per token are every matrix except the token
 * embedding table, of which only one row is read (unless it doubles as
 * the output matrix, as in tied models). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "core/gemm.h"
#include "core/dtype.h"
#include "core/gguf.h"
#include "decoder/llm.h"

static double sgemm_gflops(vl_pool *pool)
{
    const int M = 1024, N = 3072, K = 768;
    float *A = malloc((size_t)M * K * 4), *B = malloc((size_t)N * K * 4), *C = malloc((size_t)M * N * 4);
    for (size_t i = 0; i < (size_t)M * K; i++) A[i] = (float)(i % 13) * 0.01f;
    for (size_t i = 0; i < (size_t)N * K; i++) B[i] = (float)(i % 7) * 0.01f;
    double best = 1e9;
    for (int r = 0; r < 5; r++) {
        double t0 = vl_bench_now();
        vl_sgemm(pool, 1, M, N, K, A, K, B, K, C, N);
        double t = vl_bench_now() - t0;
        if (t < best) best = t;
    }
    free(A), free(B), free(C);
    return 2.0 * M * N * K / best * 1e-9;
}

static uint64_t streamed_bytes(const vl_llm *m)
{
    uint64_t b = m->weight_bytes;
    if (m->output.data != m->tok_embd.data) b -= (uint64_t)m->tok_embd.row_bytes * (uint64_t)m->tok_embd.n_out;
    return b;
}

static double flops_per_token(const vl_llm *m, int64_t ctx)
{
    const vl_llm_hparams *hp = &m->hp;
    double mat = 0;
    for (int il = 0; il < hp->n_layer; il++) {
        const vl_llm_layer *L = &m->layers[il];
        const vl_weight *w[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
        for (int i = 0; i < 7; i++) mat += 2.0 * (double)w[i]->n_in * (double)w[i]->n_out;
    }
    mat += 2.0 * (double)m->output.n_in * (double)m->output.n_out;
    /* QK^T and PV: 2 * 2 * head_dim * ctx per head per layer */
    mat += 4.0 * hp->n_layer * hp->n_head * (double)hp->head_dim * (double)ctx;
    return mat;
}

static int bench_model(const char *path, vl_pool *pool, int P, int N, int ctx_long, double read_bw, double sgemm)
{
    vl_gguf *g = NULL;
    vl_llm *m = NULL;
    if (vl_gguf_open(path, 1, &g) || vl_llm_load(g, &m)) {
        fprintf(stderr, "bench_llm: %s\n", vllm_last_error());
        vl_gguf_close(g);
        return 1;
    }
    vl_llm_state *st = NULL;
    if (vl_llm_state_new(m, ctx_long + N + 8 > P + 8 ? ctx_long + N + 8 : P + 8, VL_KV_F32, &st)) {
        fprintf(stderr, "bench_llm: %s\n", vllm_last_error());
        return 1;
    }
    int32_t *ids = malloc(sizeof *ids * (size_t)(ctx_long > P ? ctx_long : P));
    uint64_t seed = 42;
    for (int i = 0; i < (ctx_long > P ? ctx_long : P); i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        ids[i] = (int32_t)((seed >> 33) % (uint64_t)m->hp.n_vocab);
    }

    /* prefill: best of 3 */
    double best = 1e9;
    for (int r = 0; r < 3; r++) {
        vl_llm_state_truncate(st, 0);
        double t0 = vl_bench_now();
        if (vl_llm_eval(m, st, pool, ids, NULL, P, 1)) break;
        double t = vl_bench_now() - t0;
        if (t < best) best = t;
    }
    double prefill_flops = 0;
    for (int i = 0; i < P; i++) prefill_flops += flops_per_token(m, i + 1);
    const double prefill_tps = P / best, prefill_gf = prefill_flops / best * 1e-9;

    /* decode from an empty context */
    vl_llm_state_truncate(st, 0);
    vl_llm_eval(m, st, pool, ids, NULL, 1, 1); /* warm-up */
    double t0 = vl_bench_now();
    for (int i = 1; i <= N; i++) vl_llm_eval(m, st, pool, ids + i, NULL, 1, 1);
    const double dec0 = N / (vl_bench_now() - t0);

    /* decode after a long prompt */
    vl_llm_state_truncate(st, 0);
    vl_llm_eval(m, st, pool, ids, NULL, ctx_long, 0);
    t0 = vl_bench_now();
    for (int i = 0; i < N; i++) vl_llm_eval(m, st, pool, ids + i, NULL, 1, 1);
    const double decL = N / (vl_bench_now() - t0);

    const uint64_t bytes = streamed_bytes(m);
    const double limit = read_bw * 1e9 / (double)bytes;
    const char *type = vl_type_name(m->layers[0].wq.type);
    printf("model=%s arch=%s type=%s n_embd=%d n_layer=%d n_vocab=%d params=%llu streamed_MiB=%.1f\n", path, m->hp.arch,
           type, m->hp.n_embd, m->hp.n_layer, m->hp.n_vocab, (unsigned long long)m->n_params, bytes / 1048576.0);
    printf("  prefill_tokens=%d prefill_tok_s=%.1f prefill_gflops=%.1f prefill_vs_sgemm=%.2f\n", P, prefill_tps,
           prefill_gf, prefill_gf / sgemm);
    printf("  decode_tok_s_ctx0=%.1f decode_tok_s_ctx%d=%.1f decode_limit_tok_s=%.1f decode_vs_limit=%.2f\n", dec0,
           ctx_long, decL, limit, dec0 / limit);
    fflush(stdout);
    free(ids);
    vl_llm_state_free(st);
    vl_llm_free(m);
    vl_gguf_close(g);
    return 0;
}

int main(int argc, char **argv)
{
    int threads = 0, P = 512, N = 64, C = 2048, first = 1;
    for (; first < argc && argv[first][0] == '-'; first += 2) {
        if (first + 1 >= argc) break;
        if (!strcmp(argv[first], "-t")) threads = atoi(argv[first + 1]);
        else if (!strcmp(argv[first], "-p")) P = atoi(argv[first + 1]);
        else if (!strcmp(argv[first], "-n")) N = atoi(argv[first + 1]);
        else if (!strcmp(argv[first], "-c")) C = atoi(argv[first + 1]);
    }
    if (first >= argc || P < 1 || N < 1 || C < N + 1) {
        fprintf(stderr, "usage: bench_llm [-t THREADS] [-p PREFILL] [-n DECODE] [-c LONG_CTX > DECODE] MODEL.gguf...\n");
        return 2;
    }
    vl_pool *pool = vl_pool_create(threads);
    const double read_bw = vl_bench_read_bandwidth(pool, (size_t)256 << 20);
    const double sgemm = sgemm_gflops(pool);
    printf("threads=%d read_bandwidth_GB_s=%.1f sgemm_gflops=%.1f\n", vl_pool_size(pool), read_bw, sgemm);
    int rc = 0;
    for (int i = first; i < argc; i++) rc |= bench_model(argv[i], pool, P, N, C, read_bw, sgemm);
    vl_pool_free(pool);
    return rc;
}
