/* f32_vgelu__wasmsimd.c — GELU(tanh) over four lanes at a time; the method
 * and its accuracy: see vgelu.h. */
#include "kernels/vgelu.h"

#if defined(__wasm_simd128__) || defined(US_SIMDE)
#include "kernels/simd128.h"

#include <string.h>

#include "kernels/vexp__wasmsimd.h" /* vexp_nonpos */

US_INLINE v128_t gelu4(v128_t vx) {
    const v128_t vk = wasm_f32x4_splat(0.79788456080286535588f); /* sqrt(2/pi) */
    const v128_t vc = wasm_f32x4_splat(0.044715f);
    const v128_t vminus2 = wasm_f32x4_splat(-2.0f);
    const v128_t vone = wasm_f32x4_splat(1.0f);
    /* u = k (x + c x^3), in the reference's order of operations */
    const v128_t vx3 = wasm_f32x4_mul(wasm_f32x4_mul(wasm_f32x4_mul(vc, vx), vx), vx);
    const v128_t vu = wasm_f32x4_mul(vk, wasm_f32x4_add(vx, vx3));
    const v128_t ve = vexp_nonpos(wasm_f32x4_mul(vminus2, wasm_f32x4_abs(vu))); /* exp(-2|u|) */
    const v128_t vnum = wasm_v128_bitselect(vone, ve, wasm_f32x4_ge(vu, wasm_f32x4_splat(0.0f)));
    return wasm_f32x4_div(wasm_f32x4_mul(vx, vnum), wasm_f32x4_add(vone, ve));
}

void us_f32_vgelu_tanh__wasmsimd(size_t n, const float *x, float *y) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const v128_t a = wasm_v128_load(x + i), b = wasm_v128_load(x + i + 4);
        wasm_v128_store(y + i, gelu4(a));
        wasm_v128_store(y + i + 4, gelu4(b));
    }
    for (; i + 4 <= n; i += 4) wasm_v128_store(y + i, gelu4(wasm_v128_load(x + i)));
    if (i < n) { /* 1-3 left: through a buffer, reading and writing only those */
        float buf[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        memcpy(buf, x + i, (n - i) * sizeof(float));
        wasm_v128_store(buf, gelu4(wasm_v128_load(buf)));
        memcpy(y + i, buf, (n - i) * sizeof(float));
    }
}
#endif
