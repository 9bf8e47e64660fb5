/* attention.c — the one place that chooses which attention kernels a build
 * uses (op code never does), and the scratch size they share. Contracts:
 * see attention.h; the kernels: f32_attention__wasmsimd.c (SIMD128) and
 * f32_attention_scalar.c (references, portable fallback). */
#include "kernels/attention.h"

size_t us_attention_scratch_floats(int32_t S, int32_t hs) {
    if (S <= 0 || hs <= 0) return 0;
    return ((size_t)S + 7u) / 8u * 8u * (size_t)hs;
}

#if defined(US_ATTENTION_HAVE_WASMSIMD)

const char *us_attention_kernel_name(void) { return "f32_attention__wasmsimd"; }

void us_attention_scores(int32_t T, int32_t S, int32_t hs, const float *q, int32_t q_stride,
                         const float *k, int32_t k_stride, float *scores, int32_t scores_stride,
                         float *scratch) {
    us_f32_attention_scores__wasmsimd(T, S, hs, q, q_stride, k, k_stride, scores, scores_stride,
                                      scratch);
}

void us_attention_softmax_rows(int32_t T, int32_t S, float *scores, int32_t scores_stride) {
    us_f32_attention_softmax_rows__wasmsimd(T, S, scores, scores_stride);
}

void us_attention_pv(int32_t T, int32_t S, int32_t hs, const float *pattern,
                     int32_t pattern_stride, const float *v, int32_t v_stride, float *z,
                     int32_t z_stride) {
    us_f32_attention_pv__wasmsimd(T, S, hs, pattern, pattern_stride, v, v_stride, z, z_stride);
}

void us_attention_pv_dense(int32_t T, int32_t S, int32_t hs, const float *pattern,
                           int32_t pattern_stride, const float *v, int32_t v_stride, float *z,
                           int32_t z_stride) {
    us_f32_attention_pv_dense__wasmsimd(T, S, hs, pattern, pattern_stride, v, v_stride, z, z_stride);
}

void us_attention_fused(int32_t T, int32_t S, int32_t hs, const float *q, int32_t q_stride,
                        const float *k, int32_t k_stride, const float *v, int32_t v_stride,
                        float *z, int32_t z_stride, float *scratch) {
    us_f32_attention_fused__wasmsimd(T, S, hs, q, q_stride, k, k_stride, v, v_stride, z, z_stride,
                                     scratch);
}

#else

const char *us_attention_kernel_name(void) { return "f32_attention__scalar"; }

void us_attention_scores(int32_t T, int32_t S, int32_t hs, const float *q, int32_t q_stride,
                         const float *k, int32_t k_stride, float *scores, int32_t scores_stride,
                         float *scratch) {
    (void)scratch;
    us_f32_attention_scores__scalar(T, S, hs, q, q_stride, k, k_stride, scores, scores_stride);
}

void us_attention_softmax_rows(int32_t T, int32_t S, float *scores, int32_t scores_stride) {
    us_f32_attention_softmax_rows__scalar(T, S, scores, scores_stride);
}

void us_attention_pv(int32_t T, int32_t S, int32_t hs, const float *pattern,
                     int32_t pattern_stride, const float *v, int32_t v_stride, float *z,
                     int32_t z_stride) {
    us_f32_attention_pv__scalar(T, S, hs, pattern, pattern_stride, v, v_stride, z, z_stride);
}

void us_attention_pv_dense(int32_t T, int32_t S, int32_t hs, const float *pattern,
                           int32_t pattern_stride, const float *v, int32_t v_stride, float *z,
                           int32_t z_stride) {
    us_f32_attention_pv_dense__scalar(T, S, hs, pattern, pattern_stride, v, v_stride, z, z_stride);
}

void us_attention_fused(int32_t T, int32_t S, int32_t hs, const float *q, int32_t q_stride,
                        const float *k, int32_t k_stride, const float *v, int32_t v_stride,
                        float *z, int32_t z_stride, float *scratch) {
    (void)scratch;
    us_f32_attention_fused__scalar(T, S, hs, q, q_stride, k, k_stride, v, v_stride, z, z_stride);
}

#endif
