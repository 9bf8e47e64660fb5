/* threadpool.c — see threadpool.h for the contract.
 *
 * One job at a time, announced by bumping `generation`:
 *   main:   fn, ctx, n_tasks, next = 0, acked = 0; quorum = n_workers;
 *           generation++ (release); wake sleepers;
 *           claim tasks (next++) until none are left; spin until acked == quorum.
 *   worker: wait until generation != the last one it served; if its id is no
 *           longer below n_workers, leave; read fn, ctx, n_tasks; claim tasks
 *           until none are left; acked++ (release).
 * The main thread rewrites the job's fields only after every worker of the
 * quorum has acknowledged the previous job, so a worker never reads a job
 * half-written, and no worker can miss a generation (each one waits for it).
 * Tasks are claimed dynamically (one fetch_add each), so a slow thread (a
 * busy core, a late wake-up) costs at most the tasks it took. */
#include "core/threadpool.h"

#include <stdatomic.h>
#include <stdlib.h>

#if defined(__wasm__)
#if defined(__wasm_atomics__)
#define US_POOL_WASM_THREADS 1
#endif
#elif defined(US_THREADS)
#include <sched.h>
#define US_POOL_NATIVE_THREADS 1
#endif

/* Loads of `generation` a worker spins through before it sleeps: long enough
 * to bridge the gap between two GEMMs of a forward (a hook's JS, a layer
 * norm), short enough not to hold a core for long when the model is idle. */
#define US_POOL_SPIN (1 << 16)

struct us_threadpool {
    _Atomic int32_t generation; /* the futex word workers sleep on */
    _Atomic int32_t next;       /* next unclaimed task of the current job */
    _Atomic int32_t acked;      /* workers done with the current job */
    _Atomic int32_t n_workers;  /* workers taking part (ids 0 .. n_workers-1) */
    int32_t max_workers;
    /* The current job: written by main before the generation bump. */
    int32_t n_tasks;
    us_task_fn fn;
    void *ctx;
    /* The generation at each worker's reservation: it serves every later one. */
    _Atomic int32_t seen0[US_THREADPOOL_MAX_WORKERS];
};

int us_threadpool_supported(void) {
#if defined(US_POOL_WASM_THREADS) || defined(US_POOL_NATIVE_THREADS)
    return 1;
#else
    return 0;
#endif
}

us_threadpool *us_threadpool_new(int32_t max_workers) {
    if (max_workers < 0 || max_workers > US_THREADPOOL_MAX_WORKERS) return NULL;
    us_threadpool *p = calloc(1, sizeof *p);
    if (p) p->max_workers = max_workers;
    return p;
}

void us_threadpool_free(us_threadpool *pool) { free(pool); }

int32_t us_threadpool_threads(const us_threadpool *pool) {
    return pool ? 1 + atomic_load_explicit((_Atomic int32_t *)&pool->n_workers, memory_order_relaxed) : 1;
}

static void wake_all(us_threadpool *p) {
#if defined(US_POOL_WASM_THREADS)
    __builtin_wasm_memory_atomic_notify((int *)&p->generation, (unsigned)-1);
#else
    (void)p;
#endif
}

/* Worker: waits until generation != seen, returns the new one. */
static int32_t wait_for_job(us_threadpool *p, int32_t seen) {
    for (int i = 0; i < US_POOL_SPIN; i++) {
        const int32_t g = atomic_load_explicit(&p->generation, memory_order_acquire);
        if (g != seen) return g;
    }
    for (;;) {
        const int32_t g = atomic_load_explicit(&p->generation, memory_order_acquire);
        if (g != seen) return g;
#if defined(US_POOL_WASM_THREADS)
        __builtin_wasm_memory_atomic_wait32((int *)&p->generation, seen, -1);
#elif defined(US_POOL_NATIVE_THREADS)
        sched_yield();
#endif
    }
}

/* Main: announces the job already written into p and wakes the workers;
 * returns the quorum of workers that will acknowledge it. */
static int32_t announce(us_threadpool *p) {
    atomic_store_explicit(&p->next, 0, memory_order_relaxed);
    atomic_store_explicit(&p->acked, 0, memory_order_relaxed);
    const int32_t quorum = atomic_load_explicit(&p->n_workers, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_acq_rel);
    wake_all(p);
    return quorum;
}

static void wait_acks(us_threadpool *p, int32_t quorum) {
    while (atomic_load_explicit(&p->acked, memory_order_acquire) < quorum) {
    }
}

int32_t us_threadpool_add_worker(us_threadpool *pool) {
    if (!pool || !us_threadpool_supported()) return -1;
    const int32_t id = atomic_load_explicit(&pool->n_workers, memory_order_relaxed);
    if (id >= pool->max_workers) return -1;
    atomic_store_explicit(&pool->seen0[id], atomic_load_explicit(&pool->generation, memory_order_relaxed),
                          memory_order_release);
    atomic_store_explicit(&pool->n_workers, id + 1, memory_order_release);
    return id;
}

void us_threadpool_remove_workers(us_threadpool *pool, int32_t keep) {
    if (!pool) return;
    if (keep < 0) keep = 0;
    if (keep >= atomic_load_explicit(&pool->n_workers, memory_order_relaxed)) return;
    atomic_store_explicit(&pool->n_workers, keep, memory_order_release);
    /* An empty job: the removed see their id out of range and leave; the kept
     * acknowledge it like any job. */
    pool->n_tasks = 0;
    pool->fn = NULL;
    pool->ctx = NULL;
    wait_acks(pool, announce(pool));
}

void us_threadpool_worker_main(us_threadpool *pool, int32_t id) {
    if (!pool || id < 0 || id >= pool->max_workers) return;
    int32_t seen = atomic_load_explicit(&pool->seen0[id], memory_order_acquire);
    for (;;) {
        seen = wait_for_job(pool, seen);
        if (id >= atomic_load_explicit(&pool->n_workers, memory_order_acquire)) return;
        const int32_t n = pool->n_tasks;
        const us_task_fn fn = pool->fn;
        void *ctx = pool->ctx;
        for (int32_t t = atomic_fetch_add_explicit(&pool->next, 1, memory_order_relaxed); t < n;
             t = atomic_fetch_add_explicit(&pool->next, 1, memory_order_relaxed))
            fn(ctx, t, id + 1);
        atomic_fetch_add_explicit(&pool->acked, 1, memory_order_acq_rel);
    }
}

void us_parallel_for(us_threadpool *pool, int32_t n_tasks, us_task_fn fn, void *ctx) {
    if (n_tasks <= 0) return;
    if (!pool || n_tasks == 1 || atomic_load_explicit(&pool->n_workers, memory_order_relaxed) == 0) {
        for (int32_t t = 0; t < n_tasks; t++) fn(ctx, t, 0);
        return;
    }
    pool->n_tasks = n_tasks;
    pool->fn = fn;
    pool->ctx = ctx;
    const int32_t quorum = announce(pool);
    for (int32_t t = atomic_fetch_add_explicit(&pool->next, 1, memory_order_relaxed); t < n_tasks;
         t = atomic_fetch_add_explicit(&pool->next, 1, memory_order_relaxed))
        fn(ctx, t, 0);
    wait_acks(pool, quorum);
}

void us_task_range(int64_t n, int32_t n_tasks, int32_t task, int64_t *begin, int64_t *end) {
    const int64_t base = n / n_tasks, extra = n % n_tasks;
    *begin = task * base + (task < extra ? task : extra);
    *end = *begin + base + (task < extra ? 1 : 0);
}
