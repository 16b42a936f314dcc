/* Text-model speed: prompt prefill and token-by-token decode, each next to
 * the limit measured in the same run.
 *
 *   bench_llm [-t THREADS] [-k KV_TYPE] [-p PREFILL[,PREFILL...]] [-n DECODE_TOKENS]
 *             [-c LONG_CTX] [-d DEPTH[,DEPTH...]] MODEL.gguf...
 *
 * -k: KV cache storage f32|f16|q8_0|q4_0 (default f16, the library's).
 * Figures (one `key=value` line per model, plus the machine limits):
 *   prefill_tok_s      P random tokens evaluated as one prompt (best of 3;
 *                      the first -p size)
 *   prefill_gflops     2 * (weights per token) * P / time, plus attention
 *   prefill_vs_sgemm   prefill_gflops / sgemm GFLOP/s (1024x3072x768, same pool)
 *   prefill_tok_s_P, prefill_vs_sgemm_P   the same per -p size (best of 3,
 *                      the sizes timed in turn in each of the 3 rounds), and
 *   prefill_rate_P_vs_P0  prefill_tok_s_P / prefill_tok_s of the first size
 *                      (a long prompt's rate against a short one's)
 *   decode_tok_s_ctx0  one token at a time from an empty context
 *   decode_tok_s_ctxN  one token at a time after an N-token prompt (-c, default
 *                      2048; smaller for multi-billion-parameter models)
 *   decode_limit_tok_s read bandwidth / weight bytes streamed per token
 *   decode_vs_limit    decode_tok_s_ctx0 / decode_limit_tok_s
 *   decode_tok_s_depthD, decode_limit_tok_s_depthD, decode_vs_limit_depthD
 *                      per -d depth: one token at a time after D cached
 *                      rows; the limit adds the K and V rows read at that
 *                      depth (2 * n_layer * n_head_kv * D rows of the KV
 *                      type) to the weights
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

#define MAX_SIZES 8

typedef struct bench_cfg {
    int P[MAX_SIZES], nP; /* prefill sizes */
    int D[MAX_SIZES], nD; /* decode depths */
    int N, ctx_long;
    vl_kv_type kv;
} bench_cfg;

/* Best-of-3 time of a P-token prompt from an empty cache. */
static double prefill_time(const vl_llm *m, vl_llm_state *st, vl_pool *pool, const int32_t *ids, int P)
{
    double best = 1e9;
    for (int r = 0; r < 3; r++) {
        vl_llm_state_truncate(st, 0);
        double t0 = vl_bench_now();
        if (vl_llm_eval(m, st, pool, ids, NULL, P, 1)) break;
        double t = vl_bench_now() - t0;
        if (t < best) best = t;
    }
    return best;
}

static double prefill_flops(const vl_llm *m, int P)
{
    double f = 0;
    for (int i = 0; i < P; i++) f += flops_per_token(m, i + 1);
    return f;
}

/* Prefill rates per size, and decode after each depth (ascending: the
 * cache is extended from one depth to the next and cut back after timing). */
static void bench_sizes(const vl_llm *m, vl_llm_state *st, vl_pool *pool, const int32_t *ids, const bench_cfg *c,
                        double read_bw, double sgemm, uint64_t bytes)
{
    /* best of 3 per size, the sizes taken in turn in each round, so that
     * load drifting on a shared machine hits every size alike */
    double best[MAX_SIZES];
    for (int i = 0; i < c->nP; i++) best[i] = 1e9;
    for (int r = 0; r < 3; r++)
        for (int i = 0; i < c->nP; i++) {
            vl_llm_state_truncate(st, 0);
            const double t0 = vl_bench_now();
            if (vl_llm_eval(m, st, pool, ids, NULL, c->P[i], 1)) break;
            const double t = vl_bench_now() - t0;
            best[i] = t < best[i] ? t : best[i];
        }
    double rate0 = 0;
    printf(" ");
    for (int i = 0; i < c->nP; i++) {
        const double t = best[i], rate = c->P[i] / t;
        if (!i) rate0 = rate;
        printf(" prefill_tok_s_%d=%.1f prefill_vs_sgemm_%d=%.2f", c->P[i], rate, c->P[i],
               prefill_flops(m, c->P[i]) / t * 1e-9 / sgemm);
        if (i) printf(" prefill_rate_%d_vs_%d=%.2f", c->P[i], c->P[0], rate / rate0);
    }
    printf("\n ");
    vl_llm_state_truncate(st, 0);
    const double kv_row = (double)vl_llm_state_span_bytes(st, 1) - 4.0 * VL_POS_SECTIONS; /* K + V of one row, all layers */
    for (int i = 0; i < c->nD; i++) {
        const int D = c->D[i], have = vl_llm_state_n_past(st);
        if (D > have) vl_llm_eval(m, st, pool, ids + have, NULL, D - have, 0);
        vl_llm_eval(m, st, pool, ids + D, NULL, 1, 1); /* warm-up */
        const double t0 = vl_bench_now();
        for (int k = 1; k <= c->N; k++) vl_llm_eval(m, st, pool, ids + D + k, NULL, 1, 1);
        const double tps = c->N / (vl_bench_now() - t0);
        vl_llm_state_truncate(st, D);
        const double limit = read_bw * 1e9 / ((double)bytes + kv_row * (D + 1 + c->N / 2));
        printf(" decode_tok_s_depth%d=%.1f decode_limit_tok_s_depth%d=%.1f decode_vs_limit_depth%d=%.2f", D, tps, D,
               limit, D, tps / limit);
    }
    printf("\n");
}

static int bench_model(const char *path, vl_pool *pool, const bench_cfg *c, double read_bw, double sgemm)
{
    const int P = c->P[0], N = c->N, ctx_long = c->ctx_long;
    int max_ids = ctx_long > P ? ctx_long : P;
    for (int i = 0; i < c->nP; i++) max_ids = c->P[i] > max_ids ? c->P[i] : max_ids;
    for (int i = 0; i < c->nD; i++) max_ids = c->D[i] + N + 2 > max_ids ? c->D[i] + N + 2 : max_ids;
    max_ids += N + 8;
    vl_gguf *g = NULL;
    vl_llm *m = NULL;
    if (vl_gguf_open(path, 1, &g) || vl_llm_load(g, &m)) {
        fprintf(stderr, "bench_llm: %s\n", vllm_last_error());
        vl_gguf_close(g);
        return 1;
    }
    vl_llm_state *st = NULL;
    if (vl_llm_state_new(m, max_ids, c->kv, &st)) {
        fprintf(stderr, "bench_llm: %s\n", vllm_last_error());
        return 1;
    }
    int32_t *ids = malloc(sizeof *ids * (size_t)max_ids);
    uint64_t seed = 42;
    for (int i = 0; i < max_ids; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        ids[i] = (int32_t)((seed >> 33) % (uint64_t)m->hp.n_vocab);
    }

    /* prefill: best of 3 */
    const double best = prefill_time(m, st, pool, ids, P);
    const double prefill_tps = P / best, prefill_gf = prefill_flops(m, P) / best * 1e-9;

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
    if (c->nP > 1 || c->nD) bench_sizes(m, st, pool, ids, c, read_bw, sgemm, bytes);
    fflush(stdout);
    free(ids);
    vl_llm_state_free(st);
    vl_llm_free(m);
    vl_gguf_close(g);
    return 0;
}

/* "a,b,c" -> sizes (each >= lo); the count, or -1 when malformed. */
static int parse_list(const char *s, int *out, int lo)
{
    int n = 0;
    for (char *end; *s && n < MAX_SIZES; s = *end == ',' ? end + 1 : end) {
        const long v = strtol(s, &end, 10);
        if (end == s || v < lo || v > (1 << 20) || (*end && *end != ',')) return -1;
        out[n++] = (int)v;
    }
    return *s ? -1 : n;
}

static int parse_kv(const char *s, vl_kv_type *kv)
{
    static const char *const names[] = {"f32", "f16", "q8_0", "q4_0"}; /* vl_kv_type order */
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, names[i])) return *kv = (vl_kv_type)i, 1;
    return 0;
}

int main(int argc, char **argv)
{
    int threads = 0, first = 1, ok = 1;
    bench_cfg c = {.P = {512}, .nP = 1, .N = 64, .ctx_long = 2048, .kv = VL_KV_F16};
    const char *kv_name = "f16";
    for (; first < argc && argv[first][0] == '-'; first += 2) {
        if (first + 1 >= argc) break;
        const char *v = argv[first + 1];
        if (!strcmp(argv[first], "-t")) threads = atoi(v);
        else if (!strcmp(argv[first], "-p")) ok &= (c.nP = parse_list(v, c.P, 1)) > 0;
        else if (!strcmp(argv[first], "-d")) ok &= (c.nD = parse_list(v, c.D, 0)) > 0;
        else if (!strcmp(argv[first], "-n")) c.N = atoi(v);
        else if (!strcmp(argv[first], "-c")) c.ctx_long = atoi(v);
        else if (!strcmp(argv[first], "-k")) ok &= parse_kv(kv_name = v, &c.kv);
        else ok = 0;
    }
    if (!ok || first >= argc || c.N < 1 || c.ctx_long < c.N + 1) {
        fprintf(stderr, "usage: bench_llm [-t THREADS] [-k f32|f16|q8_0|q4_0] [-p PREFILL[,PREFILL...]] [-n DECODE]\n"
                        "                 [-c LONG_CTX > DECODE] [-d DEPTH[,DEPTH...] ascending] MODEL.gguf...\n");
        return 2;
    }
    vl_pool *pool = vl_pool_create(threads);
    const double read_bw = vl_bench_read_bandwidth(pool, (size_t)256 << 20);
    const double sgemm = sgemm_gflops(pool);
    printf("threads=%d kv_type=%s read_bandwidth_GB_s=%.1f sgemm_gflops=%.1f\n", vl_pool_size(pool), kv_name, read_bw,
           sgemm);
    int rc = 0;
    for (int i = first; i < argc; i++) rc |= bench_model(argv[i], pool, &c, read_bw, sgemm);
    vl_pool_free(pool);
    return rc;
}
