/* Shared helpers for the benchmarks: a monotonic clock and the machine's
 * memory bandwidth measured in the same run, so every figure can be
 * printed next to the limit it is judged against. */
#ifndef VL_BENCH_COMMON_H
#define VL_BENCH_COMMON_H

#include <stddef.h>

#include "core/threadpool.h"

/* Monotonic time in seconds. */
double vl_bench_now(void);

/* Streaming read bandwidth in GB/s (1e9 bytes/s): every pool thread sums
 * its share of a `bytes` buffer (use >> last-level cache, e.g. 256 MB);
 * best of several passes. */
double vl_bench_read_bandwidth(vl_pool *pool, size_t bytes);

/* memcpy bandwidth in GB/s, counting bytes read + bytes written. */
double vl_bench_copy_bandwidth(vl_pool *pool, size_t bytes);

#endif
