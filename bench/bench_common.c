#include "bench_common.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double vl_bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct bw_job {
    const uint64_t *src;
    uint64_t *dst;
    size_t n; /* uint64 words */
    volatile uint64_t sink[64];
} bw_job;

/* Eight independent accumulators so the loop is bound by loads, not adds. */
static void read_part(void *ctx, int ith, int nth)
{
    bw_job *j = ctx;
    long long b, e;
    vl_split_range((long long)j->n, ith, nth, 64, &b, &e);
    uint64_t a[8] = {0};
    for (long long i = b; i + 8 <= e; i += 8)
        for (int k = 0; k < 8; k++) a[k] += j->src[i + k];
    j->sink[ith % 64] = a[0] + a[1] + a[2] + a[3] + a[4] + a[5] + a[6] + a[7];
}

static void copy_part(void *ctx, int ith, int nth)
{
    bw_job *j = ctx;
    long long b, e;
    vl_split_range((long long)j->n, ith, nth, 64, &b, &e);
    if (e > b) memcpy(j->dst + b, j->src + b, (size_t)(e - b) * 8);
}

static double measure(vl_pool *pool, size_t bytes, int copy)
{
    bw_job j;
    memset(&j, 0, sizeof j);
    j.n = bytes / 8;
    uint64_t *src = malloc(j.n * 8), *dst = copy ? malloc(j.n * 8) : NULL;
    if (!src || (copy && !dst)) {
        free(src);
        free(dst);
        return 0.0;
    }
    for (size_t i = 0; i < j.n; i++) src[i] = i; /* touch every page */
    if (dst) memset(dst, 0, j.n * 8);
    j.src = src;
    j.dst = dst;
    double best = 1e30;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = vl_bench_now();
        vl_pool_run(pool, copy ? copy_part : read_part, &j);
        double t = vl_bench_now() - t0;
        if (t < best) best = t;
    }
    free(src);
    free(dst);
    return (double)bytes * (copy ? 2.0 : 1.0) / best / 1e9;
}

double vl_bench_read_bandwidth(vl_pool *pool, size_t bytes) { return measure(pool, bytes, 0); }

double vl_bench_copy_bandwidth(vl_pool *pool, size_t bytes) { return measure(pool, bytes, 1); }
