/* The library's one thread pool.
 *
 * vl_pool_run() runs fn(ctx, ith, nth) on nth = vl_pool_size() threads,
 * the caller being thread 0, and returns when every part is done. Workers
 * spin briefly between jobs (token-by-token decoding issues hundreds of
 * small jobs per token, so waking from sleep each time would cost more
 * than the work) and then sleep on a condition variable, so an idle pool
 * costs no CPU.
 *
 * OpenBLAS is pinned to one thread (see gemm.c): all parallelism comes
 * from this pool, so the two never oversubscribe the cores.
 *
 * Thread-safety: one vl_pool_run() at a time per pool (a session owns its
 * pool). */
#ifndef VL_CORE_THREADPOOL_H
#define VL_CORE_THREADPOOL_H

typedef struct vl_pool vl_pool;

typedef void (*vl_task_fn)(void *ctx, int ith, int nth);

/* n_threads <= 0 means vl_cpu_default_threads() (cpu.h: the performance
 * cores, or every online CPU). Returns NULL on failure. */
vl_pool *vl_pool_create(int n_threads);
void vl_pool_free(vl_pool *pool);
int vl_pool_size(const vl_pool *pool);

/* Run fn on all threads of the pool (or just the caller if pool is NULL). */
void vl_pool_run(vl_pool *pool, vl_task_fn fn, void *ctx);

/* Split [0, n) into nth nearly equal chunks; chunk ith is [*begin, *end).
 * `align` rounds chunk boundaries up to a multiple (1 for none). */
void vl_split_range(long long n, int ith, int nth, long long align, long long *begin, long long *end);

/* Number of online CPUs (at least 1). */
int vl_cpu_count(void);

#endif
