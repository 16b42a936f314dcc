#include "threadpool.h"

#include "cpu.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

/* About 50-100 µs of spinning before a worker goes to sleep. */
#define SPIN_ITERATIONS 20000

struct vl_pool {
    int n;
    pthread_t *threads;
    pthread_mutex_t mutex;
    pthread_cond_t wake;
    atomic_uint generation;  /* bumped once per job */
    atomic_int pending;      /* workers still running the current job */
    atomic_int sleeping;     /* workers blocked on `wake` */
    atomic_int stop;
    vl_task_fn fn;
    void *ctx;
};

typedef struct worker_arg {
    vl_pool *pool;
    int ith;
} worker_arg;

static void *worker_main(void *p)
{
    worker_arg arg = *(worker_arg *)p;
    free(p);
    vl_pool *pool = arg.pool;
    /* Generation 0 is the pool's state at creation. Reading the counter
     * here instead would race with a vl_pool_run() issued before this
     * thread got scheduled: the worker would take that job's generation as
     * already seen and the caller would wait for it forever. */
    unsigned seen = 0;
    for (;;) {
        unsigned gen;
        int spins = 0;
        while ((gen = atomic_load_explicit(&pool->generation, memory_order_acquire)) == seen) {
            if (atomic_load_explicit(&pool->stop, memory_order_acquire)) return NULL;
            if (++spins < SPIN_ITERATIONS) {
                /* On a busy machine a spinning worker may hold the core the
                 * thread it waits for needs: offer it up now and then. */
                if (spins % 1024 == 0) sched_yield();
                else cpu_relax();
                continue;
            }
            pthread_mutex_lock(&pool->mutex);
            atomic_fetch_add(&pool->sleeping, 1);
            while (atomic_load(&pool->generation) == seen && !atomic_load(&pool->stop))
                pthread_cond_wait(&pool->wake, &pool->mutex);
            atomic_fetch_sub(&pool->sleeping, 1);
            pthread_mutex_unlock(&pool->mutex);
            spins = 0;
        }
        seen = gen;
        if (atomic_load_explicit(&pool->stop, memory_order_acquire)) return NULL;
        pool->fn(pool->ctx, arg.ith, pool->n);
        atomic_fetch_sub_explicit(&pool->pending, 1, memory_order_acq_rel);
    }
}

int vl_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

vl_pool *vl_pool_create(int n_threads)
{
    if (n_threads <= 0) n_threads = vl_cpu_default_threads();
    if (n_threads > 512) n_threads = 512;
    vl_pool *pool = calloc(1, sizeof *pool);
    if (!pool) return NULL;
    pool->n = n_threads;
    pthread_mutex_init(&pool->mutex, NULL);
    pthread_cond_init(&pool->wake, NULL);
    if (n_threads > 1) {
        pool->threads = calloc((size_t)n_threads - 1, sizeof *pool->threads);
        if (!pool->threads) {
            free(pool);
            return NULL;
        }
        for (int i = 1; i < n_threads; i++) {
            worker_arg *arg = malloc(sizeof *arg);
            if (arg) {
                arg->pool = pool;
                arg->ith = i;
            }
            if (!arg || pthread_create(&pool->threads[i - 1], NULL, worker_main, arg) != 0) {
                free(arg);
                pool->n = i; /* keep the threads that did start */
                break;
            }
        }
    }
    return pool;
}

void vl_pool_free(vl_pool *pool)
{
    if (!pool) return;
    pthread_mutex_lock(&pool->mutex);
    atomic_store(&pool->stop, 1);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->mutex);
    for (int i = 1; i < pool->n; i++) pthread_join(pool->threads[i - 1], NULL);
    pthread_cond_destroy(&pool->wake);
    pthread_mutex_destroy(&pool->mutex);
    free(pool->threads);
    free(pool);
}

int vl_pool_size(const vl_pool *pool) { return pool ? pool->n : 1; }

void vl_pool_run(vl_pool *pool, vl_task_fn fn, void *ctx)
{
    if (!pool || pool->n == 1) {
        fn(ctx, 0, 1);
        return;
    }
    pool->fn = fn;
    pool->ctx = ctx;
    atomic_store_explicit(&pool->pending, pool->n - 1, memory_order_release);
    atomic_fetch_add(&pool->generation, 1); /* seq_cst: pairs with `sleeping` */
    if (atomic_load(&pool->sleeping) > 0) {
        pthread_mutex_lock(&pool->mutex);
        pthread_cond_broadcast(&pool->wake);
        pthread_mutex_unlock(&pool->mutex);
    }
    fn(ctx, 0, pool->n);
    for (unsigned spins = 1; atomic_load_explicit(&pool->pending, memory_order_acquire) > 0; spins++) {
        if (spins % 1024 == 0) sched_yield();
        else cpu_relax();
    }
}

void vl_split_range(long long n, int ith, int nth, long long align, long long *begin, long long *end)
{
    if (align < 1) align = 1;
    long long units = (n + align - 1) / align;
    long long per = units / nth, extra = units % nth;
    long long b = ith * per + (ith < extra ? ith : extra);
    long long e = b + per + (ith < extra ? 1 : 0);
    b *= align;
    e *= align;
    *begin = b < n ? b : n;
    *end = e < n ? e : n;
}
