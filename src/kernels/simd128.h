/* simd128.h — the SIMD128 intrinsics for the *__wasmsimd.c kernels: the real
 * <wasm_simd128.h> when compiling for WebAssembly with -msimd128, else
 * SIMDe's portable emulation of the same API (natively with -DUS_SIMDE, so
 * the sanitizer builds run these kernels too). Include inside
 * `#if defined(__wasm_simd128__) || defined(US_SIMDE)`.
 * US_INLINE: for the small helpers the kernels want inlined whatever the
 * optimiser's mood (tile shapes are constants at their call sites). */
#ifndef US_KERNELS_SIMD128_H
#define US_KERNELS_SIMD128_H

#if defined(__wasm_simd128__)
#include <wasm_simd128.h>
#else
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/wasm/simd128.h>
#endif

#define US_INLINE static inline __attribute__((always_inline))

#endif
