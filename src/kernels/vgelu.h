/* vgelu.h — GELU(approximate='tanh') (HF's gelu_new, GPT-2's MLP activation)
 * over a vector of f32: y[i] = 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3).
 *
 *     us_gelu_tanh(pool, y, x, n);   // y, x: n floats; may be the same buffer
 *
 * The reference is us_gelu_tanh_f32 (src/ops/ops_scalar.c: libm tanhf, kept
 * forever as the oracle). The SIMD128 kernel uses the identity
 * 0.5 (1 + tanh(u)) = sigmoid(2u) = 1 / (1 + exp(-2u)), with exp taken of
 * -2|u| <= 0 only (no overflow):
 *     e = exp(-2|u|);  y = x * (u >= 0 ? 1 : e) / (1 + e)
 * which avoids the cancellation of 1 + tanh(u) for negative u, where the
 * reference itself loses accuracy: agreement with the reference is within
 * 2e-6 |x| + 1e-37 (tests/c/test_kernels.c); NaN, +-inf and -0 as the reference
 * (gelu(+inf) = inf, gelu(-inf) = NaN, as 0.5 * -inf * 0). About 15x faster than
 * the reference in V8 (libm tanhf is scalar).
 *
 * Kernels are chosen at compile time, like the GEMM's: SIMD128 when built
 * with -msimd128 (natively with -DUS_SIMDE, for the sanitizer tests). */
#ifndef US_KERNELS_VGELU_H
#define US_KERNELS_VGELU_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct us_threadpool;

/* y[i] = gelu_tanh(x[i]) for i < n with the best kernel of this build, spread
 * over the pool's threads in chunks (NULL: this thread). y == x is allowed;
 * otherwise they must not overlap. */
void us_gelu_tanh(struct us_threadpool *pool, float *y, const float *x, int64_t n);

/* "f32_vgelu_tanh__wasmsimd" or "f32_vgelu_tanh__scalar". Static storage. */
const char *us_vgelu_kernel_name(void);

#if defined(__wasm_simd128__) || defined(US_SIMDE)
#define US_VGELU_HAVE_WASMSIMD 1
void us_f32_vgelu_tanh__wasmsimd(size_t n, const float *x, float *y);
#endif

#ifdef __cplusplus
}
#endif
#endif
