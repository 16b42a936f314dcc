/* Attention alone (lib/decoder/attention.c) over a KV cache of many
 * layers, next to the read bandwidth measured in the same run.
 *
 *   bench_attention [-t THREADS] [-k f32|f16|q8_0|q4_0] [-d DEPTH] [-l LAYERS]
 *                   [-h N_HEAD -g N_HEAD_KV -e HEAD_DIM]
 *
 * Defaults: SmolLM2-135M's attention (9 heads over 3 KV heads of 64, 30
 * layers), f16, depth 8192. Every layer has its own cache, so a decode
 * step streams all of them from memory, as in the model.
 *   decode_ms_per_token   one query row per layer, all layers (best of 5)
 *   decode_GB_s           K/V bytes read per token / that time
 *   decode_vs_read_bw     decode_GB_s / read_bandwidth_GB_s
 *   prefill_ms_512        a 512-row batch after DEPTH - 512 rows, one layer (best of 3)
 *   prefill_gflops        4 * head_dim * visible keys per query row per head / time
 *   fma_peak_gflops       the pool's f32 FMA peak: every thread runs independent
 *                         8-wide FMA chains (AVX2+FMA; 0 without), measured
 *                         before and after the prefill, the better kept
 *   prefill_vs_fma_peak   prefill_gflops / fma_peak_gflops */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "core/cpu.h"
#include "core/dtype.h"
#include "core/f16.h"
#include "core/quant.h"
#include "decoder/attention.h"

#if defined(__x86_64__)
#include <immintrin.h>

/* 10 independent chains of 8-wide FMAs (enough to cover the latency on
 * every AVX2 core): the core's f32 multiply-add peak. */
__attribute__((target("avx2,fma"))) static float fma_chains(long iters)
{
    __m256 a0 = _mm256_set1_ps(0.5f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0;
    const __m256 x = _mm256_set1_ps(0.999f), y = _mm256_set1_ps(1e-4f);
    for (long i = 0; i < iters; i++) {
        a0 = _mm256_fmadd_ps(a0, x, y), a1 = _mm256_fmadd_ps(a1, x, y), a2 = _mm256_fmadd_ps(a2, x, y);
        a3 = _mm256_fmadd_ps(a3, x, y), a4 = _mm256_fmadd_ps(a4, x, y), a5 = _mm256_fmadd_ps(a5, x, y);
        a6 = _mm256_fmadd_ps(a6, x, y), a7 = _mm256_fmadd_ps(a7, x, y), a8 = _mm256_fmadd_ps(a8, x, y);
        a9 = _mm256_fmadd_ps(a9, x, y);
    }
    const __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                                   _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)), _mm256_add_ps(a8, a9)));
    float out[8];
    _mm256_storeu_ps(out, s);
    return out[0];
}
#endif

typedef struct peak_task {
    long iters;
    double seconds[256];
    volatile float sink;
} peak_task;

static void task_peak(void *ctx, int ith, int nth)
{
    (void)nth;
    peak_task *t = ctx;
    const double t0 = vl_bench_now();
#if defined(__x86_64__)
    t->sink = fma_chains(t->iters);
#endif
    if (ith < 256) t->seconds[ith] = vl_bench_now() - t0;
}

/* GFLOP/s of the pool's threads running FMA chains at once (best of 3;
 * the slowest thread of a pass sets its time). */
static double fma_peak_gflops(vl_pool *pool)
{
    const vl_cpu_features *f = vl_cpu();
    if (!f->avx2 || !f->fma) return 0.0;
    peak_task t = {.iters = 20000000};
    const int nth = vl_pool_size(pool) < 256 ? vl_pool_size(pool) : 256;
    double best = 1e9;
    for (int r = 0; r < 3; r++) {
        vl_pool_run(pool, task_peak, &t);
        double worst = 0;
        for (int i = 0; i < nth; i++) worst = t.seconds[i] > worst ? t.seconds[i] : worst;
        best = worst < best ? worst : best;
    }
    return (double)nth * t.iters * 10 * 16 / best * 1e-9;
}

int main(int argc, char **argv)
{
    int threads = 0, depth = 8192, layers = 30, n_head = 9, n_head_kv = 3, hd = 64;
    int32_t type = VL_TYPE_F16;
    const char *kv = "f16";
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *o = argv[i], *v = argv[i + 1];
        if (!strcmp(o, "-t")) threads = atoi(v);
        else if (!strcmp(o, "-d")) depth = atoi(v);
        else if (!strcmp(o, "-l")) layers = atoi(v);
        else if (!strcmp(o, "-h")) n_head = atoi(v);
        else if (!strcmp(o, "-g")) n_head_kv = atoi(v);
        else if (!strcmp(o, "-e")) hd = atoi(v);
        else if (!strcmp(o, "-k")) {
            kv = v;
            type = !strcmp(v, "f32") ? VL_TYPE_F32 : !strcmp(v, "q8_0") ? VL_TYPE_Q8_0 : !strcmp(v, "q4_0") ? VL_TYPE_Q4_0 : VL_TYPE_F16;
        }
    }
    const size_t rb = vl_row_size(type, hd);
    if (depth < 512 || layers < 1 || n_head_kv < 1 || n_head % n_head_kv || !rb) {
        fprintf(stderr, "bench_attention: bad shape (depth >= 512, n_head a multiple of n_head_kv, block types need head_dim %% 32 == 0)\n");
        return 2;
    }
    vl_pool *pool = vl_pool_create(threads);
    const double read_bw = vl_bench_read_bandwidth(pool, (size_t)256 << 20);
    const size_t head_stride = (size_t)(depth + 1) * rb, layer_bytes = head_stride * n_head_kv;
    uint8_t *k = malloc(layer_bytes * layers), *v = malloc(layer_bytes * layers);
    const int64_t Dq = (int64_t)n_head * hd;
    float *q = malloc(512 * Dq * sizeof *q), *out = malloc(512 * Dq * sizeof *out), row[1024];
    if (!k || !v || !q || !out || hd > 1024) return 1;
    uint64_t seed = 7;
    for (size_t r = 0; r < (size_t)(depth + 1) * n_head_kv * layers; r++) {
        for (int d = 0; d < hd; d++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            row[d] = (float)((seed >> 40) & 0xFFFF) / 32768.0f - 1.0f;
        }
        if (type == VL_TYPE_F32) memcpy(k + r * rb, row, rb);
        else if (type == VL_TYPE_F16) for (int d = 0; d < hd; d++) ((uint16_t *)(k + r * rb))[d] = vl_f32_to_f16(row[d]);
        else if (type == VL_TYPE_Q4_0) vl_quantize_row_q4_0(row, k + r * rb, hd);
        else vl_quantize_activations(type, row, k + r * rb, hd);
        memcpy(v + r * rb, k + r * rb, rb);
    }
    for (int64_t i = 0; i < 512 * Dq; i++) q[i] = (float)(i % 17) * 0.05f - 0.4f;
    vl_attn_scratch *scr = vl_attn_scratch_new();
    vl_attn_args a = {.n_head = n_head, .n_head_kv = n_head_kv, .head_dim = hd, .n = 1, .n_past = depth, .q = q,
                      .out = out, .head_stride = head_stride, .row_bytes = rb, .type = type};
    double best = 1e9;
    for (int r = 0; r < 5; r++) {
        const double t0 = vl_bench_now();
        for (int il = 0; il < layers; il++) {
            a.k = k + il * layer_bytes, a.v = v + il * layer_bytes;
            if (vl_attention(pool, scr, &a)) return 1;
        }
        const double t = vl_bench_now() - t0;
        best = t < best ? t : best;
    }
    const double bytes = 2.0 * layers * n_head_kv * (double)(depth + 1) * rb;
    a.n = 512, a.n_past = depth - 512, a.k = k, a.v = v;
    double peak = fma_peak_gflops(pool), pbest = 1e9;
    for (int r = 0; r < 3; r++) {
        const double t0 = vl_bench_now();
        if (vl_attention(pool, scr, &a)) return 1;
        const double t = vl_bench_now() - t0;
        pbest = t < pbest ? t : pbest;
    }
    const double peak_after = fma_peak_gflops(pool);
    peak = peak_after > peak ? peak_after : peak;
    double flops = 0;
    for (int i = 0; i < 512; i++) flops += 4.0 * hd * n_head * (double)(depth - 512 + i + 1);
    printf("threads=%d kv_type=%s n_head=%d n_head_kv=%d head_dim=%d layers=%d depth=%d read_bandwidth_GB_s=%.1f\n",
           vl_pool_size(pool), kv, n_head, n_head_kv, hd, layers, depth, read_bw);
    printf("decode_ms_per_token=%.3f decode_GB_s=%.1f decode_vs_read_bw=%.2f prefill_ms_512=%.1f prefill_gflops=%.1f "
           "fma_peak_gflops=%.1f prefill_vs_fma_peak=%.2f\n",
           best * 1e3, bytes / best * 1e-9, bytes / best * 1e-9 / read_bw, pbest * 1e3, flops / pbest * 1e-9, peak,
           peak > 0 ? flops / pbest * 1e-9 / peak : 0.0);
    vl_attn_scratch_free(scr);
    free(k), free(v), free(q), free(out);
    vl_pool_free(pool);
    return 0;
}
