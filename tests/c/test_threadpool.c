/* test_threadpool.c — the parallel-for (src/core/threadpool.c) and the GEMM
 * spread over it (us_gemm_f32_parallel): every task runs exactly once, on a
 * valid thread index; workers join and leave between jobs; the threaded GEMM
 * gives the single-thread GEMM's bits over edge shapes, f32 and f16 packs.
 *
 * Natively the workers are pthreads (US_THREADS); built as single-thread
 * WebAssembly (the C tests' WASI build) the pool has no workers and the same
 * checks cover the inline path. The threaded wasm build is covered from JS
 * (tests/js/threads.test.js). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/threadpool.h"
#include "harness.h"
#include "kernels/gemm.h"

#if defined(US_THREADS) && !defined(__wasm__)
#include <pthread.h>
#define HAVE_PTHREADS 1
#endif

#define N_WORKERS 3

/* What one worker thread runs: the pool and its id there. */
typedef struct {
    us_threadpool *pool;
    int32_t id;
} worker_arg;

/* A pool and the threads running its workers, one slot each. */
typedef struct {
    us_threadpool *pool;
    worker_arg slots[N_WORKERS];
#ifdef HAVE_PTHREADS
    pthread_t threads[N_WORKERS];
#endif
} workers;

#ifdef HAVE_PTHREADS
static void *worker_thread(void *p) {
    const worker_arg *a = p;
    us_threadpool_worker_main(a->pool, a->id);
    return NULL;
}
#endif

/* Starts workers in slots from..to-1; returns how many joined (0 without threads). */
static int start_workers(workers *w, int from, int to) {
    int started = 0;
#ifdef HAVE_PTHREADS
    for (int i = from; i < to; i++) {
        const int32_t id = us_threadpool_add_worker(w->pool);
        if (id < 0) break;
        w->slots[i] = (worker_arg){w->pool, id};
        if (pthread_create(&w->threads[i], NULL, worker_thread, &w->slots[i]) != 0) break;
        started++;
    }
#else
    (void)from;
    (void)to;
    CHECK(us_threadpool_add_worker(w->pool) == -1 || us_threadpool_supported());
#endif
    return started;
}

/* Removes the workers of slots from..to-1 and joins their threads. */
static void stop_workers(workers *w, int from, int to) {
    us_threadpool_remove_workers(w->pool, from);
#ifdef HAVE_PTHREADS
    for (int i = from; i < to; i++) pthread_join(w->threads[i], NULL);
#else
    (void)to;
#endif
}

typedef struct {
    int32_t *count;  /* [n] times each task ran */
    int32_t *thread; /* [n] the thread that ran it */
    int32_t threads;
} count_ctx;

static void count_task(void *ctx, int32_t task, int32_t thread) {
    count_ctx *c = ctx;
    c->count[task]++; /* each task is run by one thread only */
    c->thread[task] = thread;
    volatile float x = 0; /* a little work, so that tasks spread */
    for (int i = 0; i < 200; i++) x += (float)i;
}

static void check_jobs(us_threadpool *pool, int rounds) {
    const int32_t sizes[] = {0, 1, 2, 3, 7, 64, 1000};
    for (int r = 0; r < rounds; r++)
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
            const int32_t n = sizes[s];
            int32_t count[1000], thread[1000];
            memset(count, 0, sizeof count);
            count_ctx c = {count, thread, us_threadpool_threads(pool)};
            us_parallel_for(pool, n, count_task, &c);
            int ok = 1;
            for (int32_t t = 0; t < n; t++) ok &= count[t] == 1 && thread[t] >= 0 && thread[t] < c.threads;
            CHECK(ok);
        }
}

static void test_parallel_for(void) {
    workers w = {.pool = us_threadpool_new(N_WORKERS)};
    us_threadpool *pool = w.pool;
    REQUIRE(pool != NULL);
    CHECK(us_threadpool_threads(pool) == 1);
    CHECK(us_threadpool_threads(NULL) == 1);
    check_jobs(NULL, 1);
    check_jobs(pool, 1);
    const int n = start_workers(&w, 0, N_WORKERS);
#ifdef HAVE_PTHREADS
    CHECK(n == N_WORKERS);
    CHECK(us_threadpool_add_worker(pool) == -1); /* full */
#endif
    CHECK(us_threadpool_threads(pool) == 1 + n);
    check_jobs(pool, 200);
    /* Leave and join between jobs. */
    if (n >= 2) {
        stop_workers(&w, 1, n);
        CHECK(us_threadpool_threads(pool) == 2);
        check_jobs(pool, 50);
        const int more = start_workers(&w, 1, n);
        CHECK(more == n - 1);
        CHECK(us_threadpool_threads(pool) == 1 + n);
        check_jobs(pool, 50);
    }
    stop_workers(&w, 0, n);
    CHECK(us_threadpool_threads(pool) == 1);
    check_jobs(pool, 1);
    us_threadpool_free(pool);
    CHECK(us_threadpool_new(-1) == NULL);
    CHECK(us_threadpool_new(US_THREADPOOL_MAX_WORKERS + 1) == NULL);
}

static void test_task_range(void) {
    for (int64_t n = 0; n < 40; n++)
        for (int32_t k = 1; k < 9; k++) {
            int64_t at = 0;
            int ok = 1;
            for (int32_t t = 0; t < k; t++) {
                int64_t b, e;
                us_task_range(n, k, t, &b, &e);
                ok &= b == at && e >= b && e - b <= n / k + 1 && e - b >= n / k;
                at = e;
            }
            CHECK(ok && at == n);
        }
}


/* us_gemm_f32_parallel on every pool state == us_gemm_f32, bit for bit. */
static void test_gemm_parallel_bits(void) {
    workers w = {.pool = us_threadpool_new(N_WORKERS)};
    us_threadpool *pool = w.pool;
    REQUIRE(pool != NULL);
    const int n = start_workers(&w, 0, N_WORKERS);
    /* Every combination of these, then a few decode-like shapes (M = 1, 2
     * with many panels: those split too, the f16 M = 1 path included). */
    const int32_t Ms[] = {1, 2, 3, 5, 17, 130}, Ns[] = {1, 7, 8, 9, 63, 200, 777}, Ks[] = {0, 1, 5, 64, 300};
    const int32_t extra[][3] = {{1, 4100, 512}, {2, 4100, 512}, {1, 3001, 1000}};
    const size_t n_grid = (sizeof Ms / sizeof *Ms) * (sizeof Ns / sizeof *Ns) * (sizeof Ks / sizeof *Ks);
    int bad = 0, cases = 0;
    for (size_t c = 0; c < n_grid + sizeof extra / sizeof *extra; c++)
        for (int f16 = 0; f16 < 2; f16++) {
            const size_t mi = c < n_grid ? c / (n_grid / (sizeof Ms / sizeof *Ms)) : 1;
            const size_t ni = c < n_grid ? c / (sizeof Ks / sizeof *Ks) % (sizeof Ns / sizeof *Ns) : 0;
            const size_t ki = c < n_grid ? c % (sizeof Ks / sizeof *Ks) : 0;
            const int32_t M = c < n_grid ? Ms[mi] : extra[c - n_grid][0];
            const int32_t N = c < n_grid ? Ns[ni] : extra[c - n_grid][1];
            const int32_t K = c < n_grid ? Ks[ki] : extra[c - n_grid][2];
            float *A = malloc(sizeof(float) * (size_t)M * (K ? K : 1)), *W = malloc(sizeof(float) * (size_t)N * (K ? K : 1));
            float *bias = malloc(sizeof(float) * (size_t)N), *C1 = malloc(sizeof(float) * (size_t)M * N),
                  *C2 = malloc(sizeof(float) * (size_t)M * N);
            for (int32_t i = 0; i < M * K; i++) A[i] = rng_uniform();
            for (int32_t i = 0; i < N * K; i++) W[i] = rng_uniform() * (i % 97 == 0 ? 1e-6f : 1.0f); /* some f16 subnormals */
            for (int32_t i = 0; i < N; i++) bias[i] = rng_uniform();
            us_gemm_weights *w = f16 ? us_gemm_weights_new_f16(W, N, K) : us_gemm_weights_new(W, N, K);
            if (!w) {
                bad++;
            } else {
                us_gemm_f32(M, A, K, w, (mi & 1) ? bias : NULL, C1, N);
                us_gemm_f32_parallel(pool, M, A, K, w, (mi & 1) ? bias : NULL, C2, N);
                bad += memcmp(C1, C2, sizeof(float) * (size_t)M * N) != 0;
                us_gemm_weights_free(w);
            }
            cases++;
            free(A), free(W), free(bias), free(C1), free(C2);
        }
    CHECK(bad == 0);
    if (bad) fprintf(stderr, "  %d of %d GEMMs differ with %d workers\n", bad, cases, n);
    stop_workers(&w, 0, n);
    us_threadpool_free(pool);
}

int main(void) {
    US_RUN(test_task_range);
    US_RUN(test_parallel_for);
    US_RUN(test_gemm_parallel_bits);
    return us_harness_summary();
}
