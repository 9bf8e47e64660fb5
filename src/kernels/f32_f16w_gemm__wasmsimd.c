/* f32_f16w_gemm__wasmsimd.c — SIMD128 kernels for f16-stored weights: f32 A,
 * f32 C, f32 arithmetic; the panels hold IEEE halves, widened to f32 exactly
 * in registers (SIMD128 has no half conversion: integer ops, as XNNPACK).
 *
 *   us_f16_f32_vcvt__wasmsimd               n halves -> n floats, exact for
 *                                           every half (a panel is widened
 *                                           once this way when M >= 2)
 *   us_f32_f16w_gemm_ukernel_1x8__wasmsimd  1 row x 8 columns straight from
 *                                           an f16 panel (M = 1: decode)
 *
 * Widening, for h = s eeeee mmmmmmmmmm: put h in the top 16 bits of a 32-bit
 * lane; then (lane >>s 3) & 0x8fffe000 keeps the sign in bit 31, clears its
 * copies in bits 28-30 and whatever sat in the low 16 bits, and leaves
 * 0eeeee mmmmmmmmmm in bits 13-27: the f32 whose value is h's times 2^-112,
 * exactly (a subnormal half becomes the f32 subnormal with the same
 * significand: wasm never flushes subnormals). Multiplying by 2^112 (exact)
 * gives h's value; e = 31 (inf, NaN) gives 2^16 and up, fixed by OR-ing in
 * 0x7f800000 where e = 31, which yields inf and the NaN with h's payload.
 *
 * vcvt gets h into the top of a lane by interleaving (h << 13) and the rest,
 * XNNPACK-like: 9 operations and a multiplication per 4 floats.
 *
 * The 1x8 GEMM kernel avoids all but 2 shifts and 2 ANDs per 8 weights:
 *   - no interleave: a lane of the load at w holds h[2i] | h[2i+1] << 16, and
 *     of the load at w - 1 (two bytes lower) h[2i-1] | h[2i] << 16, so the two
 *     loads give columns 1,3,5,7 and 0,2,4,6 with no shuffle; the accumulators
 *     are put back in column order once, at the end;
 *   - no multiplication by 2^112: the driver passes the row of A times 2^112
 *     instead. Each product a 2^112 * (w 2^-112) is the same real number as
 *     a * w, so it rounds to the same float: the sum is bit for bit the f32
 *     reference's on the widened weights, in k order from 0, bias last. This
 *     holds while a 2^112 does not overflow: |a| < 2^16 for every finite a
 *     (inf and NaN stay inf and NaN); the driver checks.
 *   - no inf/NaN fix-up: the panel must hold no inf or NaN. The f16 pack
 *     keeps those out of its panels (zeros there, plus an exact side list
 *     that the driver adds, see gemm.c), and with them the subnormal halves
 *     too when they are rare: on this Zen 4 every f32 multiplication with a
 *     subnormal operand costs ~60 cycles, and 0.2% subnormal halves (what
 *     GPT-2-like weights round to) made this kernel 1.45x slower. Subnormals
 *     left in a panel are still exact here, only slower.
 * Per 8 weights then: 3 loads (one a splat of A), 2 shifts, 2 ANDs, 2
 * multiplications, 2 additions, against the f32 kernel's 3 loads and 4
 * arithmetic operations. Reads the 2 bytes before w (the pack keeps them
 * inside its allocation). Compiles when targeting SIMD128, or natively through
 * SIMDe when US_SIMDE is defined (so the sanitizers check this source). */
#include "kernels/gemm.h"

#if defined(__wasm_simd128__) || defined(US_SIMDE)
#include "kernels/simd128.h"


/* 8 halves -> two f32x4 (halves 0-3 and 4-7) holding their values times
 * 2^-112, inf and NaN fixed up (they stay inf and NaN). */
US_INLINE void widen8_scaled(v128_t vh, v128_t *v0123, v128_t *v4567) {
    const v128_t vlo = wasm_i16x8_shl(vh, 13);
    const v128_t vhi = wasm_v128_and(wasm_i16x8_shr(vh, 3), wasm_i16x8_splat((int16_t)0x8fff));
    v128_t f0 = wasm_i16x8_shuffle(vlo, vhi, 0, 8, 1, 9, 2, 10, 3, 11);
    v128_t f1 = wasm_i16x8_shuffle(vlo, vhi, 4, 12, 5, 13, 6, 14, 7, 15);
    const v128_t vexp = wasm_i16x8_splat(0x7c00);
    const v128_t vspecial = wasm_i16x8_eq(wasm_v128_and(vh, vexp), vexp);
    const v128_t vinf = wasm_i32x4_splat(0x7f800000);
    f0 = wasm_v128_or(f0, wasm_v128_and(wasm_i16x8_shuffle(vspecial, vspecial, 0, 0, 1, 1, 2, 2, 3, 3), vinf));
    f1 = wasm_v128_or(f1, wasm_v128_and(wasm_i16x8_shuffle(vspecial, vspecial, 4, 4, 5, 5, 6, 6, 7, 7), vinf));
    *v0123 = f0;
    *v4567 = f1;
}

void us_f16_f32_vcvt__wasmsimd(size_t n, const uint16_t *x, float *y) {
    const v128_t vscale = wasm_f32x4_splat(0x1p112f);
    for (; n >= 8; n -= 8, x += 8, y += 8) {
        v128_t f0, f1;
        widen8_scaled(wasm_v128_load(x), &f0, &f1);
        wasm_v128_store(y, wasm_f32x4_mul(f0, vscale)); /* inf, NaN: unchanged */
        wasm_v128_store(y + 4, wasm_f32x4_mul(f1, vscale));
    }
    for (; n != 0; n--) *y++ = us_f16_to_f32(*x++);
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

/* The 8 halves of one k (zeros and normals only) as two f32x4 of their
 * values times 2^-112: columns 0,2,4,6 (from the load two bytes lower) and
 * 1,3,5,7. */
US_INLINE void widen8_split(const uint16_t *w, v128_t *veven, v128_t *vodd) {
    /* see the top of the file */
    const v128_t vmask = wasm_i32x4_splat((int32_t)0x8fffe000u);
    *veven = wasm_v128_and(wasm_i32x4_shr(wasm_v128_load(w - 1), 3), vmask);
    *vodd = wasm_v128_and(wasm_i32x4_shr(wasm_v128_load(w), 3), vmask);
}

void us_f32_f16w_gemm_ukernel_1x8__wasmsimd(size_t mr, size_t nc, size_t kc, const float *a,
                                            size_t a_stride, const uint16_t *w, const float *bias,
                                            float *c, size_t c_stride) {
    (void)mr, (void)a_stride, (void)c_stride;
    /* k unrolled by 2 (same accumulators, k order kept), as the f32 1x8
     * kernel; accumulators in widen8_split's even/odd column order, put back
     * in order once at the end. */
    v128_t vacc0246 = wasm_f32x4_splat(0.0f), vacc1357 = wasm_f32x4_splat(0.0f);
    size_t k = kc;
    for (; k >= 2; k -= 2) {
        v128_t vb0246, vb1357;
        widen8_split(w, &vb0246, &vb1357);
        const v128_t va0 = wasm_v128_load32_splat(a);
        vacc0246 = wasm_f32x4_add(vacc0246, wasm_f32x4_mul(va0, vb0246));
        vacc1357 = wasm_f32x4_add(vacc1357, wasm_f32x4_mul(va0, vb1357));
        widen8_split(w + 8, &vb0246, &vb1357);
        const v128_t va1 = wasm_v128_load32_splat(a + 1);
        vacc0246 = wasm_f32x4_add(vacc0246, wasm_f32x4_mul(va1, vb0246));
        vacc1357 = wasm_f32x4_add(vacc1357, wasm_f32x4_mul(va1, vb1357));
        w += 16;
        a += 2;
    }
    if (k != 0) {
        v128_t vb0246, vb1357;
        widen8_split(w, &vb0246, &vb1357);
        const v128_t va = wasm_v128_load32_splat(a);
        vacc0246 = wasm_f32x4_add(vacc0246, wasm_f32x4_mul(va, vb0246));
        vacc1357 = wasm_f32x4_add(vacc1357, wasm_f32x4_mul(va, vb1357));
    }
    v128_t vacc0123 = wasm_i32x4_shuffle(vacc0246, vacc1357, 0, 4, 1, 5);
    v128_t vacc4567 = wasm_i32x4_shuffle(vacc0246, vacc1357, 2, 6, 3, 7);
    if (bias != NULL) {
        vacc0123 = wasm_f32x4_add(vacc0123, wasm_v128_load(bias));
        vacc4567 = wasm_f32x4_add(vacc4567, wasm_v128_load(bias + 4));
    }
    store_row(c, nc, vacc0123, vacc4567);
}
#else
typedef int us_f32_f16w_gemm__wasmsimd_not_built; /* ISO C wants a declaration */
#endif
