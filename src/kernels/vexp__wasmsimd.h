/* vexp__wasmsimd.h — exp over four lanes for x <= 0, shared by the SIMD128
 * kernels that need it (softmax in f32_attention__wasmsimd.c, GELU in
 * f32_vgelu__wasmsimd.c). Include after kernels/simd128.h.
 *
 * XNNPACK's rr2-p5 (f32-raddstoreexpminusmax): Cody-Waite range reduction
 * with ln2 split in two, a degree-5 polynomial; about 1-2 ulp, exp(0) = 1
 * exactly, inputs below -87.34 (where expf goes subnormal) flushed to 0, so
 * exp(-inf) = 0. NaN stays NaN. No FMA (SIMD128 has none). */
#ifndef US_KERNELS_VEXP_WASMSIMD_H
#define US_KERNELS_VEXP_WASMSIMD_H

US_INLINE v128_t vexp_nonpos(v128_t vx) {
    const v128_t vlog2e = wasm_f32x4_splat(0x1.715476p+0f);
    const v128_t vmagic_bias = wasm_f32x4_splat(0x1.8000FEp23f);
    const v128_t vminus_ln2_hi = wasm_f32x4_splat(-0x1.62E400p-1f);
    const v128_t vminus_ln2_lo = wasm_f32x4_splat(-0x1.7F7D1Cp-20f);
    const v128_t vc5 = wasm_f32x4_splat(0x1.0F9F9Cp-7f);
    const v128_t vc4 = wasm_f32x4_splat(0x1.573A1Ap-5f);
    const v128_t vc3 = wasm_f32x4_splat(0x1.555A80p-3f);
    const v128_t vc2 = wasm_f32x4_splat(0x1.FFFDC6p-2f);
    const v128_t vc1 = wasm_f32x4_splat(0x1.FFFFF6p-1f);
    const v128_t vdenorm_cutoff = wasm_f32x4_splat(-0x1.5D589Ep6f);

    /* n = round(x / ln2), with 127 already in the low bits (the magic bias):
     * s = 2^n is n's bits shifted into the exponent. */
    v128_t vn = wasm_f32x4_add(wasm_f32x4_mul(vx, vlog2e), vmagic_bias);
    const v128_t vs = wasm_i32x4_shl(vn, 23);
    vn = wasm_f32x4_sub(vn, vmagic_bias);
    /* t = x - n ln2, in two steps (ln2 split hi + lo) */
    v128_t vt = wasm_f32x4_add(wasm_f32x4_mul(vn, vminus_ln2_hi), vx);
    vt = wasm_f32x4_add(wasm_f32x4_mul(vn, vminus_ln2_lo), vt);
    /* exp(t) ~ 1 + t p(t), exp(x) = s + (t s) p(t) */
    v128_t vp = wasm_f32x4_add(wasm_f32x4_mul(vc5, vt), vc4);
    vp = wasm_f32x4_add(wasm_f32x4_mul(vp, vt), vc3);
    vp = wasm_f32x4_add(wasm_f32x4_mul(vp, vt), vc2);
    vp = wasm_f32x4_add(wasm_f32x4_mul(vp, vt), vc1);
    vt = wasm_f32x4_mul(vt, vs);
    const v128_t vf = wasm_f32x4_add(wasm_f32x4_mul(vt, vp), vs);
    return wasm_v128_andnot(vf, wasm_f32x4_lt(vx, vdenorm_cutoff));
}

#endif
