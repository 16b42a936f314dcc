/* GEMM / GEMV benchmark. Prints one machine-readable line per figure
 * ("bench_gemm <what> key=value ..."), each next to the limit it is judged
 * against, measured in the same run: sgemm GFLOP/s for the prefill path,
 * read bandwidth for the GEMV (decode) path.
 *
 * Usage: bench_gemm [threads] [prefill]   (default: all CPUs; "prefill":
 * only the limits and the prefill lines, for A/B runs of the GEMM paths) */
#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_common.h"
#include "core/blas.h"
#include "core/f16.h"
#include "core/gemm.h"
#include "core/igemm.h"
#include "core/kernels.h"
#include "core/matmul.h"
#include "core/quant.h"
#include "core/threadpool.h"
#include "core/vecdot.h"

static uint64_t rng = 88172645463325252ull;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}
static float rndf(void) { return (float)((int)(rnd() % 20001) - 10000) / 10000.0f; }

/* Time fn(ctx) repeatedly for at least `min_s` seconds; best single run. */
typedef void (*op_fn)(void *ctx);
static double best_time(op_fn fn, void *ctx, double min_s)
{
    fn(ctx); /* warm up */
    double best = 1e30, start = vl_bench_now();
    int runs = 0;
    while (runs < 3 || vl_bench_now() - start < min_s) {
        double t0 = vl_bench_now();
        fn(ctx);
        double t = vl_bench_now() - t0;
        if (t < best) best = t;
        runs++;
    }
    return best;
}

/* A weight matrix of `type` with random contents and sane scales (quantized
 * from random floats through the dequant-compatible layout). */
static void *make_weight(int32_t type, int64_t n_in, int64_t n_out)
{
    const size_t rb = vl_row_size(type, n_in);
    uint8_t *w = malloc(rb * (size_t)n_out);
    if (!w) return NULL;
    for (size_t i = 0; i < rb * (size_t)n_out; i++) w[i] = (uint8_t)rnd();
    const vl_type_traits *t = vl_type_traits_of(type);
    const uint16_t d = vl_f32_to_f16(0.01f);
    for (int64_t b = 0; b < (int64_t)(rb * (size_t)n_out) / t->type_size; b++) {
        uint8_t *blk = w + (size_t)b * t->type_size;
        switch (type) {
        case VL_TYPE_F32: { float v = rndf(); memcpy(blk, &v, 4); break; }
        case VL_TYPE_F16: { uint16_t v = vl_f32_to_f16(rndf()); memcpy(blk, &v, 2); break; }
        case VL_TYPE_Q6_K: memcpy(blk + 208, &d, 2); break;
        case VL_TYPE_Q4_1: case VL_TYPE_Q5_1: case VL_TYPE_Q4_K: case VL_TYPE_Q5_K: memcpy(blk + 2, &d, 2); /* fallthrough */
        default: memcpy(blk, &d, 2); break;
        }
    }
    return w;
}

/* ---- int8 GEMM peak: the micro-kernel alone on a cache-resident panel ---------- */

typedef struct ipeak_ctx {
    vl_pool *pool;
    vl_igemm_fn kernel;
    int32_t type;
    uint8_t *panel, *xu;
    float *dx, *y;
    int64_t n_in, reps;
} ipeak_ctx;

static void ipeak_part(void *p, int ith, int nth)
{
    (void)ith, (void)nth;
    const ipeak_ctx *c = p;
    const int64_t nsb = c->n_in / VL_IGEMM_SB;
    float y[VL_IGEMM_TOKS * VL_IGEMM_ROWS];
    for (int64_t r = 0; r < c->reps; r++)
        c->kernel(c->panel, nsb, c->xu, (size_t)c->n_in, c->dx, c->dx, (size_t)nsb, VL_IGEMM_TOKS, c->type, y, VL_IGEMM_ROWS,
                  VL_IGEMM_ROWS);
    c->y[ith] = y[ith % VL_IGEMM_ROWS]; /* keep the result alive */
}

static void run_ipeak(void *p)
{
    ipeak_ctx *c = p;
    vl_pool_run(c->pool, ipeak_part, c);
}

/* GOP/s (2 ops per multiply-add) of the integer GEMM micro-kernel on one
 * panel of `type` with n_in = 768 (~20 KB, L1/L2 resident), 8 tokens, every
 * thread running its own copy of the same work; 0 when the CPU has no
 * kernel. The AVX2 kernel's rate depends on the type's class (igemm_avx2.c). */
static double igemm_peak_gops(vl_pool *pool, int32_t type)
{
    const vl_igemm_fn kernel = vl_kernels_active()->igemm;
    if (!kernel) return 0.0;
    const int64_t n_in = 768, nsb = n_in / VL_IGEMM_SB;
    void *w = make_weight(type, n_in, VL_IGEMM_ROWS);
    ipeak_ctx c = {pool, kernel, type, aligned_alloc(64, (size_t)nsb * VL_IGEMM_SB_BYTES),
                   malloc((size_t)(VL_IGEMM_TOKS * n_in)), malloc(sizeof(float) * (size_t)(VL_IGEMM_TOKS * nsb)),
                   calloc(64, sizeof(float)), n_in, 200};
    vl_igemm_pack_panel(type, w, vl_row_size(type, n_in), n_in, VL_IGEMM_ROWS, c.panel);
    for (int64_t i = 0; i < VL_IGEMM_TOKS * n_in; i++) c.xu[i] = (uint8_t)rnd();
    for (int64_t i = 0; i < VL_IGEMM_TOKS * nsb; i++) c.dx[i] = 0.01f;
    const double t = best_time(run_ipeak, &c, 0.3);
    const double ops = 2.0 * VL_IGEMM_TOKS * VL_IGEMM_ROWS * (double)n_in * (double)c.reps * vl_pool_size(pool);
    free(w);
    free(c.panel);
    free(c.xu);
    free(c.dx);
    free(c.y);
    return ops / t / 1e9;
}

/* ---- sgemm ---------------------------------------------------------------------- */

typedef struct sgemm_ctx {
    vl_pool *pool;
    int64_t M, N, K;
    float *A, *B, *C;
} sgemm_ctx;

static void run_sgemm(void *p)
{
    sgemm_ctx *c = p;
    vl_sgemm(c->pool, 1, c->M, c->N, c->K, c->A, c->K, c->B, c->K, c->C, c->N);
}

static void run_cblas_m1(void *p)
{
    sgemm_ctx *c = p;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, 1, (int)c->N, (int)c->K, 1.0f, c->A, (int)c->K, c->B, (int)c->K,
                0.0f, c->C, (int)c->N);
}

/* OpenBLAS itself, one thread, whatever the library's BLAS (blas.h) is. */
static void run_cblas(void *p)
{
    sgemm_ctx *c = p;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)c->M, (int)c->N, (int)c->K, 1.0f, c->A, (int)c->K, c->B,
                (int)c->K, 0.0f, c->C, (int)c->N);
}

static double gflops_of(op_fn fn, vl_pool *pool, int64_t M, int64_t N, int64_t K)
{
    sgemm_ctx c = {pool, M, N, K, malloc(sizeof(float) * (size_t)(M * K)), malloc(sizeof(float) * (size_t)(N * K)),
                   malloc(sizeof(float) * (size_t)(M * N))};
    for (int64_t i = 0; i < M * K; i++) c.A[i] = rndf();
    for (int64_t i = 0; i < N * K; i++) c.B[i] = rndf();
    double t = best_time(fn, &c, 0.5);
    free(c.A);
    free(c.B);
    free(c.C);
    return 2.0 * (double)M * (double)N * (double)K / t / 1e9;
}

/* ---- prefill paths by CPU time -------------------------------------------------- */

static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The two GEMM paths of quantized weights (dequantized tiles + sgemm, the
 * integer GEMM) on a 1-thread pool, so the whole call runs on this thread,
 * timed by this thread's CPU time, alternating, best of 5 each: on a
 * machine shared with other jobs wall time mostly measures the neighbours
 * (two-thread runs wait for the slower, descheduled worker), CPU time the
 * work itself. Prints int8_vs_f32 = f32 time / int8 time. */
static void prefill_cpu_ab(vl_pool *pool1, vl_matmul_scratch *s, int32_t type, int64_t n_in, int64_t n_out,
                           int64_t n_tok)
{
    const vl_weight W = {type, n_in, n_out, vl_row_size(type, n_in), make_weight(type, n_in, n_out)};
    float *x = malloc(sizeof(float) * (size_t)(n_in * n_tok)), *y = malloc(sizeof(float) * (size_t)(n_out * n_tok));
    if (!W.data || !x || !y) return;
    for (int64_t i = 0; i < n_in * n_tok; i++) x[i] = rndf();
    double best[2] = {1e30, 1e30};
    for (int r = 0; r < 6; r++) /* the first round warms both up */
        for (int pi = 0; pi < 2; pi++) {
            const double t0 = thread_cpu_s();
            vl_matmul_path_run(pool1, s, &W, x, n_tok, y, pi ? VL_MATMUL_GEMM_INT8 : VL_MATMUL_GEMM_F32);
            const double t = thread_cpu_s() - t0;
            if (r > 0 && t < best[pi]) best[pi] = t;
        }
    const double ops = 2.0 * (double)n_in * (double)n_out * (double)n_tok;
    printf("bench_gemm prefill_cpu_1t type=%s n_tok=%lld n_in=%lld n_out=%lld f32_tiles_gops=%.1f int8_gops=%.1f "
           "int8_vs_f32=%.2f\n",
           vl_type_name(type), (long long)n_tok, (long long)n_in, (long long)n_out, ops / best[0] / 1e9,
           ops / best[1] / 1e9, best[0] / best[1]);
    free((void *)W.data);
    free(x);
    free(y);
}

static double sgemm_gflops(vl_pool *pool, int64_t M, int64_t N, int64_t K) { return gflops_of(run_sgemm, pool, M, N, K); }

/* ---- matmul (GEMV and prefill) ----------------------------------------------------- */

/* GEMV timings cycle through enough copies of the weights (>= 256 MB) that
 * none of them is still in the 32 MB L3 from the previous call: a model's
 * decode step streams every weight from DRAM too. */
#define MAX_COPIES 64
typedef struct mm_ctx {
    vl_pool *pool;
    vl_matmul_scratch *s;
    vl_weight W;
    void *copies[MAX_COPIES];
    int n_copies, next;
    float *x, *y;
    int64_t n_tok;
    vl_matmul_path path;
} mm_ctx;

static void run_mm(void *p)
{
    mm_ctx *c = p;
    c->W.data = c->copies[c->next++ % c->n_copies];
    vl_matmul_path_run(c->pool, c->s, &c->W, c->x, c->n_tok, c->y, c->path);
}

static int mm_setup_n(mm_ctx *c, vl_pool *pool, vl_matmul_scratch *s, int32_t type, int64_t n_in, int64_t n_out,
                      int64_t n_tok, vl_matmul_path path, int stream)
{
    memset(c, 0, sizeof *c);
    c->pool = pool;
    c->s = s;
    c->W = (vl_weight){type, n_in, n_out, vl_row_size(type, n_in), make_weight(type, n_in, n_out)};
    c->copies[0] = (void *)c->W.data;
    c->n_copies = 1;
    const size_t bytes = c->W.row_bytes * (size_t)n_out;
    while (stream && c->n_copies < MAX_COPIES && (size_t)c->n_copies * bytes < ((size_t)256 << 20)) {
        c->copies[c->n_copies] = malloc(bytes);
        if (!c->copies[c->n_copies]) break;
        memcpy(c->copies[c->n_copies], c->copies[0], bytes);
        c->n_copies++;
    }
    c->x = malloc(sizeof(float) * (size_t)(n_in * n_tok));
    c->y = malloc(sizeof(float) * (size_t)(n_out * n_tok));
    c->n_tok = n_tok;
    c->path = path;
    if (!c->W.data || !c->x || !c->y) return 0;
    for (int64_t i = 0; i < n_in * n_tok; i++) c->x[i] = rndf();
    return 1;
}

static int mm_setup(mm_ctx *c, vl_pool *pool, vl_matmul_scratch *s, int32_t type, int64_t n_in, int64_t n_out,
                    int64_t n_tok, vl_matmul_path path)
{
    return mm_setup_n(c, pool, s, type, n_in, n_out, n_tok, path, 0);
}

static void mm_free(mm_ctx *c)
{
    for (int i = 0; i < c->n_copies; i++) free(c->copies[i]);
    free(c->x);
    free(c->y);
}

int main(int argc, char **argv)
{
    const int nth = argc > 1 ? atoi(argv[1]) : vl_cpu_count();
    vl_pool *pool = vl_pool_create(nth), *pool1 = vl_pool_create(1);
    vl_matmul_scratch *s = vl_matmul_scratch_new();
    if (!pool || !pool1 || !s) return 1;
    const int prefill_only = argc > 2 && strcmp(argv[2], "prefill") == 0;
    /* cblas_sgemm with M = 1 as OpenBLAS runs it by default (its own
     * threads), before vl_sgemm pins it to one thread for the rest. */
    double m1_default[2] = {0, 0};
    openblas_set_num_threads(nth);
    for (int k = 0; k < 2 && !prefill_only; k++) {
        const int64_t K = k ? 3072 : 576, N = k ? 768 : 49152;
        sgemm_ctx b = {pool, 1, N, K, calloc((size_t)K, 4), calloc((size_t)(K * N), 4), calloc((size_t)N, 4)};
        m1_default[k] = 2.0 * (double)K * (double)N / best_time(run_cblas_m1, &b, 0.3) / 1e9;
        free(b.A);
        free(b.B);
        free(b.C);
    }
    vl_sgemm_init();
    openblas_set_num_threads(1);
    printf("bench_gemm info threads=%d kernels=%s\n", vl_pool_size(pool), vl_gemv_kernel_name());

    const size_t bw_bytes = (size_t)256 << 20;
    const double rd1 = vl_bench_read_bandwidth(pool1, bw_bytes), rdn = vl_bench_read_bandwidth(pool, bw_bytes);
    const double cpn = vl_bench_copy_bandwidth(pool, bw_bytes);
    printf("bench_gemm bandwidth read_1t_GBps=%.2f read_%dt_GBps=%.2f copy_%dt_GBps=%.2f\n", rd1, nth, rdn, nth, cpn);

    const double sg1 = sgemm_gflops(pool1, 1024, 3072, 768), sgn = sgemm_gflops(pool, 1024, 3072, 768);
    printf("bench_gemm sgemm M=1024 N=3072 K=768 gflops_1t=%.1f gflops_%dt=%.1f scaling=%.2f\n", sg1, nth, sgn, sgn / sg1);
    const int32_t peak_types[] = {VL_TYPE_Q8_0, VL_TYPE_Q4_0, VL_TYPE_Q4_K, VL_TYPE_Q6_K};
    for (size_t k = 0; k < sizeof peak_types / sizeof peak_types[0]; k++) {
        const double ip1 = igemm_peak_gops(pool1, peak_types[k]), ipn = igemm_peak_gops(pool, peak_types[k]);
        printf("bench_gemm int8_peak type=%s kernel=%s tile=8x16x768 gops_1t=%.1f gops_%dt=%.1f vs_sgemm_%dt=%.2f\n",
               vl_type_name(peak_types[k]), ipn > 0 ? vl_gemv_kernel_name() : "none", ip1, nth, ipn, nth, ipn / sgn);
    }
    /* The library's sgemm backend (-Dblas) against OpenBLAS on one thread:
     * ~1 when the library uses OpenBLAS, the own GEMM's speed with none. */
    const double cb1 = gflops_of(run_cblas, pool1, 1024, 3072, 768);
    printf("bench_gemm sgemm_backend blas=%s M=1024 N=3072 K=768 gflops_1t=%.1f openblas_gflops_1t=%.1f "
           "frac_of_openblas=%.2f\n", vl_blas_name(), sg1, cb1, sg1 / cb1);

    /* F32 GEMV vs cblas_sgemm with M = 1 */
    const int64_t shapes[2][2] = {{576, 49152}, {3072, 768}};
    for (int k = 0; k < 2 && !prefill_only; k++) {
        const int64_t K = shapes[k][0], N = shapes[k][1];
        mm_ctx c;
        mm_setup_n(&c, pool, s, VL_TYPE_F32, K, N, 1, VL_MATMUL_GEMV, 1);
        sgemm_ctx b = {pool, 1, N, K, c.x, (float *)c.copies[0], c.y};
        const double tb = best_time(run_cblas_m1, &b, 0.3), tg = best_time(run_mm, &c, 0.3);
        const double fl = 2.0 * (double)K * (double)N;
        printf("bench_gemm gemv_f32 n_in=%lld n_out=%lld cblas_m1_gflops_default_threads=%.2f cblas_m1_gflops_1t=%.2f "
               "gemv_gflops=%.2f gemv_GBps=%.2f speedup_vs_default=%.1f speedup_vs_1t=%.1f\n",
               (long long)K, (long long)N, m1_default[k], fl / tb / 1e9, fl / tg / 1e9, (double)K * N * 4 / tg / 1e9,
               fl / tg / 1e9 / m1_default[k], tb / tg);
        mm_free(&c);
    }

    /* GEMV bandwidth per weight type (1 token, all threads) */
    const int32_t types[] = {VL_TYPE_Q8_0, VL_TYPE_F16, VL_TYPE_Q4_0, VL_TYPE_Q5_0, VL_TYPE_Q4_K, VL_TYPE_Q5_K, VL_TYPE_Q6_K, VL_TYPE_BF16,
                             VL_TYPE_Q5_0, VL_TYPE_Q4_1, VL_TYPE_Q5_K};
    for (size_t k = 0; k < sizeof types / sizeof types[0] && !prefill_only; k++) {
        const int32_t t = types[k];
        const int64_t n_in = (t == VL_TYPE_Q8_0 || t == VL_TYPE_F16 || t == VL_TYPE_Q4_0 || t == VL_TYPE_BF16 ||
                              t == VL_TYPE_Q5_0 || t == VL_TYPE_Q4_1) ? 576 : 1536;
        const int64_t n_out = n_in == 576 ? 49152 : 18432;
        mm_ctx c;
        mm_setup_n(&c, pool, s, t, n_in, n_out, 1, VL_MATMUL_GEMV, 1);
        const double tg = best_time(run_mm, &c, 0.3);
        const double gbps = (double)c.W.row_bytes * (double)n_out / tg / 1e9;
        printf("bench_gemm gemv type=%s n_in=%lld n_out=%lld us=%.1f GBps=%.2f read_GBps=%.2f frac_of_read=%.2f\n",
               vl_type_name(t), (long long)n_in, (long long)n_out, tg * 1e6, gbps, rdn, gbps / rdn);
        mm_free(&c);
    }

    /* Prefill: 512 tokens through vl_matmul (integer GEMM, or dequantized tiles + sgemm) vs
     * sgemm on f32 weights of the same shape. */
    const int32_t ptypes[] = {VL_TYPE_F32, VL_TYPE_Q8_0, VL_TYPE_F16, VL_TYPE_Q4_0, VL_TYPE_Q5_0, VL_TYPE_Q4_K, VL_TYPE_Q5_K, VL_TYPE_Q6_K, VL_TYPE_BF16};
    /* SmolLM2-135M's FFN (576 <-> 1536) and SmolLM2-360M's (960 <-> 2560) */
    const int64_t pshapes[4][2] = {{576, 1536}, {1536, 576}, {960, 2560}, {2560, 960}};
    for (int sh = 0; sh < 4; sh++) {
        const int64_t n_in = pshapes[sh][0], n_out = pshapes[sh][1], n_tok = 512;
        const double ref = sgemm_gflops(pool, n_tok, n_out, n_in);
        for (size_t k = 0; k < sizeof ptypes / sizeof ptypes[0]; k++) {
            const int32_t t = ptypes[k];
            if (vl_row_size(t, n_in) == 0) continue;
            mm_ctx c;
            mm_setup(&c, pool, s, t, n_in, n_out, n_tok, VL_MATMUL_AUTO);
            const double tm = best_time(run_mm, &c, 0.3);
            const double gf = 2.0 * (double)n_in * (double)n_out * (double)n_tok / tm / 1e9;
            mm_free(&c);
            /* both GEMM paths on the same weights: dequantized tiles + sgemm,
             * and the integer GEMM where this CPU has a kernel (0 if not) */
            double gpath[2] = {0, 0};
            for (int pi = 0; pi < 2; pi++) {
                const vl_matmul_path path = pi ? VL_MATMUL_GEMM_INT8 : VL_MATMUL_GEMM_F32;
                if (pi && !(vl_igemm_supports(t) && vl_kernels_active()->igemm)) continue;
                mm_setup(&c, pool, s, t, n_in, n_out, n_tok, path);
                gpath[pi] = 2.0 * (double)n_in * (double)n_out * (double)n_tok / best_time(run_mm, &c, 0.3) / 1e9;
                mm_free(&c);
            }
            printf("bench_gemm prefill type=%s n_tok=%lld n_in=%lld n_out=%lld gflops=%.1f f32_tiles_gflops=%.1f "
                   "int8_gflops=%.1f sgemm_gflops=%.1f frac_of_sgemm=%.2f\n",
                   vl_type_name(t), (long long)n_tok, (long long)n_in, (long long)n_out, gf, gpath[0], gpath[1], ref,
                   gf / ref);
        }
    }

    /* The same two paths by CPU time on one thread (see prefill_cpu_ab) */
    const int32_t qtypes[] = {VL_TYPE_Q8_0, VL_TYPE_Q4_0, VL_TYPE_Q5_0, VL_TYPE_Q4_K, VL_TYPE_Q5_K, VL_TYPE_Q6_K};
    for (int sh = 0; sh < 4 && vl_kernels_active()->igemm; sh++)
        for (size_t k = 0; k < sizeof qtypes / sizeof qtypes[0]; k++)
            if (vl_row_size(qtypes[k], pshapes[sh][0]) > 0 && vl_igemm_supports(qtypes[k]))
                prefill_cpu_ab(pool1, s, qtypes[k], pshapes[sh][0], pshapes[sh][1], 512);

    /* GEMV vs GEMM crossover in tokens (Q8_0 and F16, 576 -> 1536) */
    for (int k = 0; k < 3 && !prefill_only; k++) {
        const int32_t t = k == 0 ? VL_TYPE_Q8_0 : k == 1 ? VL_TYPE_F16 : VL_TYPE_F32;
        for (int64_t nt = 1; nt <= 32; nt *= 2) {
            mm_ctx a, b;
            mm_setup(&a, pool, s, t, 576, 1536, nt, VL_MATMUL_GEMV);
            mm_setup(&b, pool, s, t, 576, 1536, nt, VL_MATMUL_GEMM);
            const double ta = best_time(run_mm, &a, 0.1), tb = best_time(run_mm, &b, 0.1);
            printf("bench_gemm crossover type=%s n_tok=%lld gemv_us=%.1f gemm_us=%.1f\n", vl_type_name(t), (long long)nt,
                   ta * 1e6, tb * 1e6);
            mm_free(&a);
            mm_free(&b);
        }
    }

    vl_matmul_scratch_free(s);
    vl_pool_free(pool);
    vl_pool_free(pool1);
    return 0;
}
