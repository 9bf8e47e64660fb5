/* f32_f16_vcvt__scalar.c — n floats to n halves with us_f32_to_f16 (round to
 * nearest, ties to even): the reference of us_f32_f16_vcvt__wasmsimd, and
 * what portable builds use to fill f16 packs. */
#include "kernels/gemm.h"

void us_f32_f16_vcvt__scalar(size_t n, const float *x, uint16_t *y) {
    for (size_t i = 0; i < n; i++) y[i] = us_f32_to_f16(x[i]);
}
