/* f32_gemm_1x8__wasmsimd.c — the SIMD128 GEMM micro-kernel: a 1x8 register
 * tile (1 row of A by 8 columns of W, 2 f32x4 accumulators).
 *
 * Used for the last row when M % 4 == 1, and for M = 1 (one token through a
 * Linear layer: memory-bound, each weight is read once).
 *
 * Contract (see gemm.h, "micro-kernels"): C row = A row · packed panel
 * (+ bias), for mr == 1, nc in [1, 8] columns, kc >= 0. Reads exactly kc
 * floats of A (no over-read) and the kc x 8 panel; writes exactly nc floats of
 * C and nothing else. Each output is summed in k order from 0 and the bias
 * added last, exactly as in the reference.
 *
 * Inner loop, per k: 1 broadcast of A (load32_splat), 2 vector loads of the
 * panel, 2 multiplies and 2 adds (no FMA in SIMD128). Compiles when
 * targeting SIMD128, or natively through SIMDe when US_SIMDE is defined (so
 * the sanitizers can check this exact source). */
#include "kernels/gemm.h"

#if defined(__wasm_simd128__) || defined(US_SIMDE)
#include "kernels/simd128.h"

void us_f32_gemm_ukernel_1x8__wasmsimd(size_t mr, size_t nc, size_t kc, const float *a,
                                       size_t a_stride, const float *w, const float *bias,
                                       float *c, size_t c_stride) {
    (void)mr;
    (void)a_stride;
    (void)c_stride;
    const float *a0 = a;
    float *c0 = c;

    v128_t vacc0x0123 = wasm_f32x4_splat(0.0f);
    v128_t vacc0x4567 = wasm_f32x4_splat(0.0f);

    /* k unrolled by 2, still in k order into the same accumulators. V8 then
     * runs one stack-limit check per two steps instead of one per step; in
     * Node 20 this made the 2x8 loop 1.7x faster when not inlined (1x8: same
     * speed either way, memory-bound). */
    size_t k = kc;
    for (; k >= 2; k -= 2) {
        const v128_t vb0123_0 = wasm_v128_load(w);
        const v128_t vb4567_0 = wasm_v128_load(w + 4);
        const v128_t va0_0 = wasm_v128_load32_splat(a0);
        vacc0x0123 = wasm_f32x4_add(vacc0x0123, wasm_f32x4_mul(va0_0, vb0123_0));
        vacc0x4567 = wasm_f32x4_add(vacc0x4567, wasm_f32x4_mul(va0_0, vb4567_0));
        const v128_t vb0123_1 = wasm_v128_load(w + 8);
        const v128_t vb4567_1 = wasm_v128_load(w + 12);
        const v128_t va0_1 = wasm_v128_load32_splat(a0 + 1);
        vacc0x0123 = wasm_f32x4_add(vacc0x0123, wasm_f32x4_mul(va0_1, vb0123_1));
        vacc0x4567 = wasm_f32x4_add(vacc0x4567, wasm_f32x4_mul(va0_1, vb4567_1));
        w += 16;
        a0 += 2;
    }
    if (k != 0) {
        const v128_t vb0123 = wasm_v128_load(w);
        const v128_t vb4567 = wasm_v128_load(w + 4);
        const v128_t va0 = wasm_v128_load32_splat(a0);
        vacc0x0123 = wasm_f32x4_add(vacc0x0123, wasm_f32x4_mul(va0, vb0123));
        vacc0x4567 = wasm_f32x4_add(vacc0x4567, wasm_f32x4_mul(va0, vb4567));
    }

    if (bias != NULL) {
        const v128_t vbias0123 = wasm_v128_load(bias);
        const v128_t vbias4567 = wasm_v128_load(bias + 4);
        vacc0x0123 = wasm_f32x4_add(vacc0x0123, vbias0123);
        vacc0x4567 = wasm_f32x4_add(vacc0x4567, vbias4567);
    }

    if (nc == 8) {
        wasm_v128_store(c0, vacc0x0123);
        wasm_v128_store(c0 + 4, vacc0x4567);
        return;
    }
    if (nc & 4) {
        wasm_v128_store(c0, vacc0x0123);
        vacc0x0123 = vacc0x4567;
        c0 += 4;
    }
    if (nc & 2) {
        wasm_v128_store64_lane(c0, vacc0x0123, 0);
        vacc0x0123 = wasm_i64x2_shuffle(vacc0x0123, vacc0x0123, 1, 1);
        c0 += 2;
    }
    if (nc & 1) {
        wasm_v128_store32_lane(c0, vacc0x0123, 0);
    }
}
#else
typedef int us_f32_gemm_1x8__wasmsimd_not_built; /* ISO C wants a declaration */
#endif
