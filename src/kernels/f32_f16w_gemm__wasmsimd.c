/* f32_f16w_gemm__wasmsimd.c — SIMD128 GEMM micro-kernels over f16-stored
 * weights: f32 A, f32 C, f32 arithmetic; the panel holds IEEE halves that are
 * widened to f32 in registers (exactly) just before use.
 *
 *   us_f32_f16w_gemm_ukernel_4x8__wasmsimd[_finite]  4 rows x 8 columns
 *   us_f32_f16w_gemm_ukernel_1x8__wasmsimd[_finite]  1 row (M = 1: decode)
 *
 * Contract (see gemm.h, "micro-kernels"): exactly the f32 kernels' contract,
 * with w one f16 panel of kc x 8 halves (16 bytes per k, all read). Each
 * output is summed in k order from 0 and the bias added last, so the result
 * is bit for bit the f32 reference run on the widened weights.
 *
 * Widening, 8 halves (one v128 load) at a time, with integer ops (SIMD128 has
 * no half conversion): for a half h = s eeeee mmmmmmmmmm,
 *     lo16 = h << 13                  the f32's low 16 bits (3 mantissa bits)
 *     hi16 = (h >>s 3) & 0x8fff       its high 16 bits: sign, then e and the
 *                                     top 7 mantissa bits shifted into place
 *     f    = interleave(lo16, hi16)   bits s 000eeeee mmm..., i.e. h's value
 *                                     times 2^-112 as an f32 (exactly, even for
 *                                     subnormal halves, which land on f32
 *                                     subnormals with the same significand)
 *     f   *= 0x1p112f                 exact: a power of two, no overflow
 * That is 7 operations for 8 weights, exact for zeros, subnormals and normals.
 * It maps e = 31 (inf, NaN) to finite values of magnitude >= 2^16, which no
 * finite half reaches (max 65504), so the "_finite" kernels require a pack
 * without inf or NaN (us_gemm_weights_new_f16 records this), and the others
 * add the fix-up: where e = 31, OR in 0x7f800000, which turns 2^16 into inf
 * and 2^16 (1 + m) into the NaN with payload m; 8 more operations, exact for
 * every half (XNNPACK's f16-f32-vcvt does the same job with a select between
 * a normal and a subnormal path; this form is shorter because wasm f32
 * arithmetic never flushes subnormals).
 *
 * Measured in Node 20 on Zen 4 (V8 11.3): see gemm.c. Compiles when
 * targeting SIMD128, or natively through SIMDe when US_SIMDE is defined. */
#include "kernels/gemm.h"

#if defined(__wasm_simd128__) || defined(US_SIMDE)
#if defined(__wasm_simd128__)
#include <wasm_simd128.h>
#else
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/wasm/simd128.h>
#endif

#define US_INLINE static inline __attribute__((always_inline))

/* 8 halves -> two f32x4 (columns 0-3 and 4-7). EXACT: also inf and NaN. */
US_INLINE void widen8(v128_t vh, const int EXACT, v128_t *v0123, v128_t *v4567) {
    const v128_t vscale = wasm_f32x4_splat(0x1p112f);
    const v128_t vlo = wasm_i16x8_shl(vh, 13);
    const v128_t vhi = wasm_v128_and(wasm_i16x8_shr(vh, 3), wasm_i16x8_splat((int16_t)0x8fff));
    v128_t f0 = wasm_f32x4_mul(wasm_i16x8_shuffle(vlo, vhi, 0, 8, 1, 9, 2, 10, 3, 11), vscale);
    v128_t f1 = wasm_f32x4_mul(wasm_i16x8_shuffle(vlo, vhi, 4, 12, 5, 13, 6, 14, 7, 15), vscale);
    if (EXACT) {
        const v128_t vexp = wasm_i16x8_splat(0x7c00);
        const v128_t vspecial = wasm_i16x8_eq(wasm_v128_and(vh, vexp), vexp);
        const v128_t vinf = wasm_i32x4_splat(0x7f800000);
        f0 = wasm_v128_or(f0, wasm_v128_and(wasm_i16x8_shuffle(vspecial, vspecial, 0, 0, 1, 1, 2, 2, 3, 3), vinf));
        f1 = wasm_v128_or(f1, wasm_v128_and(wasm_i16x8_shuffle(vspecial, vspecial, 4, 4, 5, 5, 6, 6, 7, 7), vinf));
    }
    *v0123 = f0;
    *v4567 = f1;
}

/* Stores a 1x8 accumulator pair, nc in [1, 8] columns. */
US_INLINE void store_row(float *c, size_t nc, v128_t v0123, v128_t v4567) {
    if (nc == 8) {
        wasm_v128_store(c, v0123);
        wasm_v128_store(c + 4, v4567);
        return;
    }
    if (nc & 4) {
        wasm_v128_store(c, v0123);
        v0123 = v4567;
        c += 4;
    }
    if (nc & 2) {
        wasm_v128_store64_lane(c, v0123, 0);
        v0123 = wasm_i64x2_shuffle(v0123, v0123, 1, 1);
        c += 2;
    }
    if (nc & 1) wasm_v128_store32_lane(c, v0123, 0);
}

US_INLINE void gemm_4x8(const int EXACT, size_t mr, size_t nc, size_t kc, const float *a,
                        size_t a_stride, const uint16_t *w, const float *bias, float *c,
                        size_t c_stride) {
    /* Row pointers; rows past mr alias the row before (never past the end). */
    const float *a0 = a;
    float *c0 = c;
    const float *a1 = mr > 1 ? a0 + a_stride : a0;
    float *c1 = mr > 1 ? c0 + c_stride : c0;
    const float *a2 = mr > 2 ? a1 + a_stride : a1;
    float *c2 = mr > 2 ? c1 + c_stride : c1;
    const float *a3 = mr > 3 ? a2 + a_stride : a2;
    float *c3 = mr > 3 ? c2 + c_stride : c2;

    v128_t vacc0x0123 = wasm_f32x4_splat(0.0f), vacc0x4567 = wasm_f32x4_splat(0.0f);
    v128_t vacc1x0123 = wasm_f32x4_splat(0.0f), vacc1x4567 = wasm_f32x4_splat(0.0f);
    v128_t vacc2x0123 = wasm_f32x4_splat(0.0f), vacc2x4567 = wasm_f32x4_splat(0.0f);
    v128_t vacc3x0123 = wasm_f32x4_splat(0.0f), vacc3x4567 = wasm_f32x4_splat(0.0f);

    for (size_t k = kc; k != 0; k--) {
        v128_t vb0123, vb4567;
        widen8(wasm_v128_load(w), EXACT, &vb0123, &vb4567);
        w += 8;
        const v128_t va0 = wasm_v128_load32_splat(a0);
        a0 += 1;
        vacc0x0123 = wasm_f32x4_add(vacc0x0123, wasm_f32x4_mul(va0, vb0123));
        vacc0x4567 = wasm_f32x4_add(vacc0x4567, wasm_f32x4_mul(va0, vb4567));
        const v128_t va1 = wasm_v128_load32_splat(a1);
        a1 += 1;
        vacc1x0123 = wasm_f32x4_add(vacc1x0123, wasm_f32x4_mul(va1, vb0123));
        vacc1x4567 = wasm_f32x4_add(vacc1x4567, wasm_f32x4_mul(va1, vb4567));
        const v128_t va2 = wasm_v128_load32_splat(a2);
        a2 += 1;
        vacc2x0123 = wasm_f32x4_add(vacc2x0123, wasm_f32x4_mul(va2, vb0123));
        vacc2x4567 = wasm_f32x4_add(vacc2x4567, wasm_f32x4_mul(va2, vb4567));
        const v128_t va3 = wasm_v128_load32_splat(a3);
        a3 += 1;
        vacc3x0123 = wasm_f32x4_add(vacc3x0123, wasm_f32x4_mul(va3, vb0123));
        vacc3x4567 = wasm_f32x4_add(vacc3x4567, wasm_f32x4_mul(va3, vb4567));
    }

    if (bias != NULL) {
        const v128_t vbias0123 = wasm_v128_load(bias), vbias4567 = wasm_v128_load(bias + 4);
        vacc0x0123 = wasm_f32x4_add(vacc0x0123, vbias0123);
        vacc0x4567 = wasm_f32x4_add(vacc0x4567, vbias4567);
        vacc1x0123 = wasm_f32x4_add(vacc1x0123, vbias0123);
        vacc1x4567 = wasm_f32x4_add(vacc1x4567, vbias4567);
        vacc2x0123 = wasm_f32x4_add(vacc2x0123, vbias0123);
        vacc2x4567 = wasm_f32x4_add(vacc2x4567, vbias4567);
        vacc3x0123 = wasm_f32x4_add(vacc3x0123, vbias0123);
        vacc3x4567 = wasm_f32x4_add(vacc3x4567, vbias4567);
    }
    /* From the last row down, so aliased rows end with the same value. */
    store_row(c3, nc, vacc3x0123, vacc3x4567);
    store_row(c2, nc, vacc2x0123, vacc2x4567);
    store_row(c1, nc, vacc1x0123, vacc1x4567);
    store_row(c0, nc, vacc0x0123, vacc0x4567);
}

/* One row: k unrolled by 2 (same accumulators, k order kept), as the f32
 * 1x8 kernel, so V8 checks the loop once per two steps. */
US_INLINE void gemm_1x8(const int EXACT, size_t nc, size_t kc, const float *a, const uint16_t *w,
                        const float *bias, float *c) {
    v128_t vacc0123 = wasm_f32x4_splat(0.0f), vacc4567 = wasm_f32x4_splat(0.0f);
    size_t k = kc;
    for (; k >= 2; k -= 2) {
        v128_t vb0123, vb4567;
        widen8(wasm_v128_load(w), EXACT, &vb0123, &vb4567);
        const v128_t va0 = wasm_v128_load32_splat(a);
        vacc0123 = wasm_f32x4_add(vacc0123, wasm_f32x4_mul(va0, vb0123));
        vacc4567 = wasm_f32x4_add(vacc4567, wasm_f32x4_mul(va0, vb4567));
        widen8(wasm_v128_load(w + 8), EXACT, &vb0123, &vb4567);
        const v128_t va1 = wasm_v128_load32_splat(a + 1);
        vacc0123 = wasm_f32x4_add(vacc0123, wasm_f32x4_mul(va1, vb0123));
        vacc4567 = wasm_f32x4_add(vacc4567, wasm_f32x4_mul(va1, vb4567));
        w += 16;
        a += 2;
    }
    if (k != 0) {
        v128_t vb0123, vb4567;
        widen8(wasm_v128_load(w), EXACT, &vb0123, &vb4567);
        const v128_t va = wasm_v128_load32_splat(a);
        vacc0123 = wasm_f32x4_add(vacc0123, wasm_f32x4_mul(va, vb0123));
        vacc4567 = wasm_f32x4_add(vacc4567, wasm_f32x4_mul(va, vb4567));
    }
    if (bias != NULL) {
        vacc0123 = wasm_f32x4_add(vacc0123, wasm_v128_load(bias));
        vacc4567 = wasm_f32x4_add(vacc4567, wasm_v128_load(bias + 4));
    }
    store_row(c, nc, vacc0123, vacc4567);
}

void us_f32_f16w_gemm_ukernel_4x8__wasmsimd(size_t mr, size_t nc, size_t kc, const float *a,
                                            size_t a_stride, const uint16_t *w, const float *bias,
                                            float *c, size_t c_stride) {
    gemm_4x8(1, mr, nc, kc, a, a_stride, w, bias, c, c_stride);
}

void us_f32_f16w_gemm_ukernel_4x8__wasmsimd_finite(size_t mr, size_t nc, size_t kc,
                                                   const float *a, size_t a_stride,
                                                   const uint16_t *w, const float *bias, float *c,
                                                   size_t c_stride) {
    gemm_4x8(0, mr, nc, kc, a, a_stride, w, bias, c, c_stride);
}

void us_f32_f16w_gemm_ukernel_1x8__wasmsimd(size_t mr, size_t nc, size_t kc, const float *a,
                                            size_t a_stride, const uint16_t *w, const float *bias,
                                            float *c, size_t c_stride) {
    (void)mr, (void)a_stride, (void)c_stride;
    gemm_1x8(1, nc, kc, a, w, bias, c);
}

void us_f32_f16w_gemm_ukernel_1x8__wasmsimd_finite(size_t mr, size_t nc, size_t kc,
                                                   const float *a, size_t a_stride,
                                                   const uint16_t *w, const float *bias, float *c,
                                                   size_t c_stride) {
    (void)mr, (void)a_stride, (void)c_stride;
    gemm_1x8(0, nc, kc, a, w, bias, c);
}
#else
typedef int us_f32_f16w_gemm__wasmsimd_not_built; /* ISO C wants a declaration */
#endif
