/* threadpool.h — a parallel-for over compute threads that share one memory.
 *
 * The calling thread ("main": the one that runs forward and calls the hooks)
 * hands out numbered tasks and takes part in them; worker threads only ever
 * run task functions, never hooks, never malloc. A job is synchronous: when
 * us_parallel_for returns, every task has run and its writes are visible.
 *
 *     us_threadpool *pool = us_threadpool_new(3);      // room for 3 workers
 *     // on each worker thread, once (WebAssembly: a Web Worker / worker_threads
 *     // instance of the same module over the same shared memory):
 *     //     us_threadpool_worker_main(pool, id);    // returns when removed
 *     us_parallel_for(pool, n_tasks, fn, ctx);       // fn(ctx, task, thread)
 *
 * Workers join in two steps so that no job ever waits for a thread that is
 * not running yet: the main thread reserves an id with us_threadpool_add_worker
 * (between jobs) and from then on every job waits for that worker, which must
 * therefore be started promptly with that id (the JS side reserves the id only
 * once the worker's module is instantiated and about to enter worker_main).
 * us_threadpool_remove_workers(pool, keep) makes workers keep.. exit
 * worker_main; the host then ends those threads.
 *
 * Waiting: workers spin a while, then sleep on a futex (memory.atomic.wait32
 * in WebAssembly, which a browser's main thread may not use); the main thread
 * only ever spins (briefly: it is itself doing tasks until the last is taken).
 *
 * Builds without threads (WebAssembly without -matomics, or natively without
 * US_THREADS) have the same API: us_threadpool_add_worker returns -1 and every
 * job runs on the calling thread. A NULL pool means the same everywhere.
 *
 * Task functions must be safe to run concurrently on distinct tasks, and must
 * not allocate (the wasm allocator of the single-thread libc has no locks):
 * callers pass per-thread scratch, indexed by `thread` (0 = main, 1.. =
 * workers, < us_threadpool_threads(pool)).
 *
 * Ownership: the pool is owned by its creator; us_threadpool_free only after
 * every worker has left worker_main (remove_workers(pool, 0), then join). */
#ifndef US_CORE_THREADPOOL_H
#define US_CORE_THREADPOOL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct us_threadpool us_threadpool;

/* One task: task in [0, n_tasks), thread in [0, us_threadpool_threads()). */
typedef void (*us_task_fn)(void *ctx, int32_t task, int32_t thread);

/* Most workers a pool takes (so up to 1 + this threads). */
#define US_THREADPOOL_MAX_WORKERS 63

/* An owned pool with room for max_workers (<= US_THREADPOOL_MAX_WORKERS)
 * workers and none joined yet, or NULL on OOM / bad count. */
us_threadpool *us_threadpool_new(int32_t max_workers);
void us_threadpool_free(us_threadpool *pool);

/* 1 + the workers currently taking part in jobs (1 for NULL). */
int32_t us_threadpool_threads(const us_threadpool *pool);

/* 1 when this build can run workers (atomics and a futex or spin wait). */
int us_threadpool_supported(void);

/* Main thread, between jobs: reserves the next worker id (returned), which
 * every later job waits for; -1 when full or unsupported. */
int32_t us_threadpool_add_worker(us_threadpool *pool);

/* Main thread, between jobs: workers with id >= keep leave worker_main at
 * their next wake-up and jobs stop waiting for them. */
void us_threadpool_remove_workers(us_threadpool *pool, int32_t keep);

/* Worker thread: runs the tasks of every job from its reservation on, until
 * removed. id is what us_threadpool_add_worker returned. */
void us_threadpool_worker_main(us_threadpool *pool, int32_t id);

/* Runs fn(ctx, task, thread) for every task in [0, n_tasks), spread over the
 * pool's threads (the caller is thread 0), and returns when all are done.
 * n_tasks <= 0 does nothing; a NULL pool, no workers or n_tasks == 1 run
 * inline in task order. */
void us_parallel_for(us_threadpool *pool, int32_t n_tasks, us_task_fn fn, void *ctx);

/* [begin, end) of chunk `task` when n items are cut into n_tasks chunks of
 * near-equal size (the first n % n_tasks chunks one item longer). */
void us_task_range(int64_t n, int32_t n_tasks, int32_t task, int64_t *begin, int64_t *end);

#ifdef __cplusplus
}
#endif
#endif
