/* f32_f16_vcvt__wasmsimd.c — n floats to n halves, bit for bit
 * us_f32_to_f16 (round to nearest, ties to even), 8 at a time with SIMD128
 * integer operations (SIMD128 has no half conversion). Filling an f16 pack
 * from a file converts every weight once; this makes that ~5x cheaper.
 *
 * For |x| in the range of normal halves, [2^-14, 65520) (bits a =
 * 0x38800000 .. 0x477fefff), the half is the top 19 bits of a, rounded:
 *     h = (a + 0xfff + ((a >> 13) & 1)) >> 13   (ties to even: the kept
 *                                               bit decides the carry)
 *     h -= (127 - 15) << 10                     (the exponent's bias)
 * a carry out of the mantissa bumps the exponent, as it should (65504 is the
 * largest value that stays finite, and a < 0x477ff000 keeps it so). Zero
 * (either sign) gives the sign alone. Any other value (subnormal halves,
 * overflow to inf, inf, NaN) sends its group of 8 to us_f32_to_f16: weights
 * rarely need it (GPT-2's: about 1 group in 100). Compiles for SIMD128, or
 * natively through SIMDe with US_SIMDE (so the sanitizers check it). */
#include "kernels/gemm.h"

#if defined(__wasm_simd128__) || defined(US_SIMDE)
#include "kernels/simd128.h"

#include <string.h>

/* 4 floats' bits -> 4 halves in the low 16 bits of each lane; *ok is set to
 * all-ones lanes where the fast formula applies (normal halves and zeros). */
static inline v128_t narrow4(v128_t x, v128_t *ok) {
    const v128_t sign = wasm_v128_and(wasm_u32x4_shr(x, 16), wasm_i32x4_splat(0x8000));
    const v128_t a = wasm_v128_and(x, wasm_i32x4_splat(0x7fffffff));
    const v128_t lsb = wasm_v128_and(wasm_u32x4_shr(a, 13), wasm_i32x4_splat(1));
    v128_t h = wasm_u32x4_shr(wasm_i32x4_add(wasm_i32x4_add(a, wasm_i32x4_splat(0xfff)), lsb), 13);
    h = wasm_i32x4_sub(h, wasm_i32x4_splat(112 << 10));
    const v128_t normal = wasm_v128_and(wasm_u32x4_ge(a, wasm_i32x4_splat(0x38800000)),
                                        wasm_u32x4_lt(a, wasm_i32x4_splat(0x477ff000)));
    const v128_t zero = wasm_i32x4_eq(a, wasm_i32x4_splat(0));
    *ok = wasm_v128_or(normal, zero);
    return wasm_v128_or(wasm_v128_andnot(h, zero), sign);
}

void us_f32_f16_vcvt__wasmsimd(size_t n, const float *x, uint16_t *y) {
    for (; n >= 8; n -= 8, x += 8, y += 8) {
        v128_t ok0, ok1;
        const v128_t h0 = narrow4(wasm_v128_load(x), &ok0), h1 = narrow4(wasm_v128_load(x + 4), &ok1);
        if (wasm_i32x4_all_true(wasm_v128_and(ok0, ok1))) {
            wasm_v128_store(y, wasm_u16x8_narrow_i32x4(h0, h1)); /* lanes are 0 .. 0xffff: no saturation */
        } else {
            for (size_t i = 0; i < 8; i++) y[i] = us_f32_to_f16(x[i]);
        }
    }
    for (; n != 0; n--) *y++ = us_f32_to_f16(*x++);
}
#endif
