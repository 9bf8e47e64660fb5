/* vgelu.c — which GELU kernel a build uses, and its split over threads. */
#include "kernels/vgelu.h"

#include "core/threadpool.h"
#include "ops/ops.h" /* us_gelu_tanh_f32, the reference */

/* Elements per task: a chunk takes ~10 us with SIMD128, so that handing it
 * out stays cheap; a multiple of 8 (the kernel's main loop). */
#define US_VGELU_CHUNK 16384

typedef struct {
    float *y;
    const float *x;
    int64_t n;
} gelu_job;

static void gelu_range(float *y, const float *x, int64_t n) {
#if defined(US_VGELU_HAVE_WASMSIMD)
    us_f32_vgelu_tanh__wasmsimd((size_t)n, x, y);
#else
    us_gelu_tanh_f32(y, x, n);
#endif
}

static void gelu_task(void *ctx, int32_t task, int32_t thread) {
    (void)thread;
    const gelu_job *j = ctx;
    const int64_t i = (int64_t)task * US_VGELU_CHUNK;
    gelu_range(j->y + i, j->x + i, j->n - i < US_VGELU_CHUNK ? j->n - i : US_VGELU_CHUNK);
}

void us_gelu_tanh(us_threadpool *pool, float *y, const float *x, int64_t n) {
    if (n <= 0) return;
    const int64_t tasks = (n + US_VGELU_CHUNK - 1) / US_VGELU_CHUNK;
    if (tasks == 1 || us_threadpool_threads(pool) == 1 || tasks > INT32_MAX) {
        gelu_range(y, x, n);
        return;
    }
    gelu_job j = {y, x, n};
    us_parallel_for(pool, (int32_t)tasks, gelu_task, &j);
}

const char *us_vgelu_kernel_name(void) {
#if defined(US_VGELU_HAVE_WASMSIMD)
    return "f32_vgelu_tanh__wasmsimd";
#else
    return "f32_vgelu_tanh__scalar";
#endif
}
