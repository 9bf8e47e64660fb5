/* f32_gemm_4x8__scalar.c — the portable micro-kernel: a 4x8 register tile in
 * plain C, used by us_gemm_f32 when the build has no SIMD128 kernel.
 *
 * Contract (see gemm.h, "micro-kernels"): one tile of mr <= 4 rows by
 * nc <= 8 columns over one packed panel of kc x 8 floats; reads exactly mr rows
 * of A and writes exactly mr x nc floats of C. Sums each output in k order from
 * 0 and adds the bias last, like the reference, so results match it bit for
 * bit as long as neither is contracted to FMA (gcc does not in ISO C modes
 * such as -std=c11, where -ffp-contract=off is the default). */
#include "kernels/gemm.h"

void us_f32_gemm_ukernel_4x8__scalar(size_t mr, size_t nc, size_t kc, const float *a,
                                     size_t a_stride, const float *w, const float *bias,
                                     float *c, size_t c_stride) {
    float acc[4][8] = {{0.0f}};
    for (size_t k = 0; k < kc; k++) {
        const float *wk = w + k * 8; /* [8] */
        for (size_t i = 0; i < mr; i++) {
            const float ai = a[i * a_stride + k];
            for (size_t j = 0; j < 8; j++) acc[i][j] += ai * wk[j];
        }
    }
    for (size_t i = 0; i < mr; i++) {
        float *ci = c + i * c_stride;
        for (size_t j = 0; j < nc; j++) ci[j] = bias != NULL ? acc[i][j] + bias[j] : acc[i][j];
    }
}
