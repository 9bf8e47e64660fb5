/* f32_f16w_gemm_4x8__scalar.c — the portable micro-kernel over f16-stored
 * weights: a 4x8 tile in plain C, used by us_gemm_f32 for f16 packs when the
 * build has no SIMD128 kernel. Each half is widened exactly with
 * us_f16_to_f32, then everything is f32, as in f32_gemm_4x8__scalar.c.
 *
 * Contract (see gemm.h, "micro-kernels"): one tile of mr <= 4 rows by
 * nc <= 8 columns over one f16 panel of kc x 8 halves; reads exactly mr rows
 * of A and writes exactly mr x nc floats of C. Sums each output in k order
 * from 0 and adds the bias last. */
#include "kernels/gemm.h"

void us_f32_f16w_gemm_ukernel_4x8__scalar(size_t mr, size_t nc, size_t kc, const float *a,
                                          size_t a_stride, const uint16_t *w, const float *bias,
                                          float *c, size_t c_stride) {
    float acc[4][8] = {{0.0f}};
    for (size_t k = 0; k < kc; k++) {
        float wk[8];
        for (size_t j = 0; j < 8; j++) wk[j] = us_f16_to_f32(w[k * 8 + j]);
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

void us_f16_f32_vcvt__scalar(size_t n, const uint16_t *x, float *y) {
    for (size_t i = 0; i < n; i++) y[i] = us_f16_to_f32(x[i]);
}
