/* bench_kernels.c — kernel-level measurements for scripts/bench.mjs: the
 * attention kernels on GPT-2's batched shapes, a dense GEMM on the same
 * shapes, a GEMV streaming a packed weight from DRAM, and a plain streaming
 * read (the memory bandwidth that bounds one-token decode).
 *
 * Not part of the package. scripts/bench_kernels.mjs builds it with emcc
 * (-O3 -msimd128, the flags of web/unseal.wasm) together with the library's
 * own sources (every .c file of src/kernels and src/core) into
 * build/bench/bench_kernels.wasm, a standalone module with no entry point;
 * JS allocates with bk_malloc, fills the buffers, and times one call that
 * loops `reps` times (so the JS/wasm call costs nothing measurable). Everything here only calls the
 * library's kernels; nothing is re-implemented except the streaming read.
 *
 * Layouts (row-major, counts in floats): GPT-2's, so the kernels see exactly
 * the strides they see in a forward.
 *   qkv  [T, 3C]  c_attn's output: head h's q at column h*hs, k at C + h*hs,
 *                 v at 2C + h*hs (C = H*hs); rows 3C apart.
 *   att  [H, T, S] scores / pattern, rows S apart.
 *   z    [T, C]   per-head outputs side by side (z_stride C).
 *   scratch       us_attention_scratch_floats(S, hs) floats. */
#include <emscripten.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <wasm_simd128.h>

#include "kernels/attention.h"
#include "kernels/gemm.h"

EMSCRIPTEN_KEEPALIVE void *bk_malloc(size_t n) { return malloc(n ? n : 1); }
EMSCRIPTEN_KEEPALIVE void bk_free(void *p) { free(p); }
EMSCRIPTEN_KEEPALIVE const char *bk_attention_kernel_name(void) { return us_attention_kernel_name(); }
EMSCRIPTEN_KEEPALIVE const char *bk_gemm_kernel_name(void) { return us_gemm_kernel_name(); }
EMSCRIPTEN_KEEPALIVE size_t bk_attention_scratch_floats(int32_t S, int32_t hs) {
    return us_attention_scratch_floats(S, hs);
}

/* Runs one attention step over H heads, reps times. T query rows over S keys
 * (past = S - T; T = S is a prefill). which:
 *   0  scores  = q · kᵀ / sqrt(hs), causal        (the [T x hs]·[hs x S] product)
 *   1  softmax of att's rows, in place            (run after 0 once, so rows are sane)
 *   2  z = pattern · v, causal                    (the [T x S]·[S x hs] product)
 *   3  z = pattern · v over every key (dense)     (the same product, no mask skipped)
 *   4  fused: scores, softmax and z in one pass   (what a forward does unwatched) */
EMSCRIPTEN_KEEPALIVE void bk_attention(int32_t which, int32_t reps, int32_t H, int32_t T, int32_t S,
                                       int32_t hs, const float *qkv, float *att, float *z,
                                       float *scratch) {
    const int32_t C = H * hs, ld = 3 * C;
    for (int32_t r = 0; r < reps; r++) {
        for (int32_t h = 0; h < H; h++) {
            /* q rows are the last T of the S rows held in qkv (as a KV cache would). */
            const float *q = qkv + (size_t)(S - T) * ld + h * hs;
            const float *k = qkv + C + h * hs;
            const float *v = qkv + 2 * C + h * hs;
            float *a = att + (size_t)h * T * S;
            float *zh = z + h * hs;
            switch (which) {
            case 0: us_attention_scores(T, S, hs, q, ld, k, ld, a, S, scratch); break;
            case 1: us_attention_softmax_rows(T, S, a, S); break;
            case 2: us_attention_pv(T, S, hs, a, S, v, ld, zh, C); break;
            case 3: us_attention_pv_dense(T, S, hs, a, S, v, ld, zh, C); break;
            case 4: us_attention_fused(T, S, hs, q, ld, k, ld, v, ld, zh, C, scratch); break;
            default: return;
            }
        }
    }
}

/* The same batched product with the library's general GEMM: for each of H
 * heads, C_h [M, N] = A_h [M, K] · B_h [K, N], with A [H, M, K], B [H, K, N]
 * and C [H, M, N] contiguous. pack = 1: the pack of B_h (us_gemm_weights_new_kn)
 * is made and freed inside the timed loop, as a batched matmul whose right
 * operand is an activation must; pack = 0: the packs are made once, before
 * the loop (the GEMM kernel alone). Returns 0, or 1 on OOM. */
EMSCRIPTEN_KEEPALIVE int32_t bk_batched_gemm(int32_t pack, int32_t reps, int32_t H, int32_t M, int32_t K,
                                             int32_t N, const float *A, const float *B, float *Cm) {
    us_gemm_weights *packs[64] = {0};
    if (H > 64) return 1;
    if (!pack) {
        for (int32_t h = 0; h < H; h++) {
            packs[h] = us_gemm_weights_new_kn(B + (size_t)h * K * N, N, K, N);
            if (!packs[h]) return 1;
        }
    }
    for (int32_t r = 0; r < reps; r++) {
        for (int32_t h = 0; h < H; h++) {
            us_gemm_weights *w = packs[h];
            if (pack && !(w = us_gemm_weights_new_kn(B + (size_t)h * K * N, N, K, N))) return 1;
            us_gemm_f32(M, A + (size_t)h * M * K, K, w, NULL, Cm + (size_t)h * M * N, N);
            if (pack) us_gemm_weights_free(w);
        }
    }
    for (int32_t h = 0; h < H; h++) us_gemm_weights_free(packs[h]);
    return 0;
}

/* A pack of W [N, K] (PyTorch Linear layout), f32 or (f16 = 1) half; NULL on OOM. */
EMSCRIPTEN_KEEPALIVE us_gemm_weights *bk_pack(const float *W, int32_t N, int32_t K, int32_t f16) {
    return f16 ? us_gemm_weights_new_f16(W, N, K) : us_gemm_weights_new(W, N, K);
}
EMSCRIPTEN_KEEPALIVE void bk_pack_free(us_gemm_weights *w) { us_gemm_weights_free(w); }
EMSCRIPTEN_KEEPALIVE double bk_pack_bytes(const us_gemm_weights *w) { return (double)us_gemm_weights_bytes(w); }

/* reps times: C [M, N] = A [M, K] · Wᵀ for the pack w (GEMV when M = 1). */
EMSCRIPTEN_KEEPALIVE void bk_gemm(int32_t reps, int32_t M, const float *A, const us_gemm_weights *w, float *Cm) {
    for (int32_t r = 0; r < reps; r++) us_gemm_f32(M, A, us_gemm_weights_k(w), w, NULL, Cm, us_gemm_weights_n(w));
}

/* Reads n_bytes (a multiple of 64) at p, reps times, with SIMD128 loads
 * folded by xor into four independent accumulators: the cheapest possible
 * use of each byte, so the time is the memory system's. Returns the fold,
 * so the reads cannot be optimised away. */
EMSCRIPTEN_KEEPALIVE uint32_t bk_stream_read(const void *p, size_t n_bytes, int32_t reps) {
    v128_t a0 = wasm_i32x4_splat(0), a1 = a0, a2 = a0, a3 = a0;
    for (int32_t r = 0; r < reps; r++) {
        const v128_t *v = (const v128_t *)p;
        for (size_t i = 0; i + 4 <= n_bytes / 16; i += 4) {
            a0 = wasm_v128_xor(a0, wasm_v128_load(v + i));
            a1 = wasm_v128_xor(a1, wasm_v128_load(v + i + 1));
            a2 = wasm_v128_xor(a2, wasm_v128_load(v + i + 2));
            a3 = wasm_v128_xor(a3, wasm_v128_load(v + i + 3));
        }
    }
    v128_t a = wasm_v128_xor(wasm_v128_xor(a0, a1), wasm_v128_xor(a2, a3));
    return (uint32_t)wasm_i32x4_extract_lane(a, 0) ^ (uint32_t)wasm_i32x4_extract_lane(a, 1) ^
           (uint32_t)wasm_i32x4_extract_lane(a, 2) ^ (uint32_t)wasm_i32x4_extract_lane(a, 3);
}
