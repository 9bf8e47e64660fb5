/* f32_gemm_scalar.c — the reference f32 GEMM, C = A · Wᵀ (+ bias), over the
 * unpacked PyTorch-layout weight W [N, K].
 *
 * This is the oracle the optimised kernels are tested against, so it stays
 * as plain as possible: three loops, one float accumulator per output, summed
 * in k order starting from 0, the bias added last. Contract: see gemm.h. */
#include "kernels/gemm.h"

void us_f32_gemm_nt__scalar(int32_t M, int32_t N, int32_t K, const float *A, int32_t lda,
                            const float *W, int32_t ldw, const float *bias, float *C,
                            int32_t ldc) {
    for (int32_t m = 0; m < M; m++) {
        const float *a = A + (size_t)m * (size_t)lda; /* [K] */
        float *c = C + (size_t)m * (size_t)ldc;       /* [N] */
        for (int32_t n = 0; n < N; n++) {
            const float *w = W + (size_t)n * (size_t)ldw; /* [K] */
            float acc = 0.0f;
            for (int32_t k = 0; k < K; k++) acc += a[k] * w[k];
            if (bias != NULL) acc += bias[n];
            c[n] = acc;
        }
    }
}
