/* attention.h — causal self-attention kernels for one (batch row, head), f32.
 *
 * Example: GPT-2's attention of head h over S = past + T positions, with the
 * pattern wanted by a hook (unfused), or not (fused):
 *
 *     float *scratch = malloc(us_attention_scratch_floats(S, hs) * sizeof(float));
 *     // watched: scores [T, S] and pattern [T, S] are materialised
 *     us_attention_scores(T, S, hs, q, q_stride, k, k_stride, att, S, scratch);
 *     us_attention_softmax_rows(T, S, att, S);            // att is now the pattern
 *     us_attention_pv(T, S, hs, att, S, v, v_stride, z, z_stride);
 *     // not watched: the same z with O(hs) extra memory per query row
 *     us_attention_fused(T, S, hs, q, q_stride, k, k_stride, v, v_stride, z, z_stride, scratch);
 *
 * Shapes and names (row-major, counts in floats, never bytes):
 *   T        query rows, S key/value rows, 1 <= T <= S; past = S - T.
 *            Query row t sits at position past + t and sees keys s <= past + t
 *            (the causal mask); keys s > past + t are "masked".
 *   hs       head size (the dot-product length and the width of z), hs >= 1.
 *   q [T, hs]    query rows q_stride >= hs floats apart.
 *   k [S, hs]    key rows k_stride >= hs apart, v [S, hs] value rows v_stride >= hs
 *                apart: so k and v can be read in place from a KV cache
 *                ([max_len, hs] per head, stride hs) or from c_attn's output
 *                ([B, T, 3C], stride 3C).
 *   scores, pattern [T, S]  rows scores_stride / pattern_stride >= S apart.
 *   z [T, hs]    rows z_stride >= hs apart, so heads can write [B, T, H, hs]
 *                in place (z_stride = H * hs).
 *   scratch  caller-owned, us_attention_scratch_floats(S, hs) floats, any
 *            alignment (64-byte aligned is best); its contents on entry and
 *            exit mean nothing (T = 1 does not touch it; the scalar builds
 *            never do). No kernel here allocates.
 * For a pointer, "borrowed" means read (or written) during the call only.
 * Inputs may alias each other (q, k and v may be one buffer); outputs must
 * not overlap any input, nor scratch. Invalid shapes (T < 1, S < T, hs < 1;
 * for us_attention_pv_dense, which has no mask, only T, S or hs < 1) make
 * every function a no-op that touches nothing. Floats between a row's
 * last column and its stride are never read or written.
 *
 * Numerics (HF GPT-2, eager attention):
 *   scores[t, s] = (sum_d q[t, d] k[s, d]) / (float)sqrt((double)hs), summed
 *                  in d order from 0 (bit for bit the reference; division by a
 *                  power of two is done as the identical multiplication),
 *                  and -INFINITY for masked keys.
 *   softmax      over a row's unmasked entries only (max and sum); masked
 *                entries become exactly 0.
 *   z[t, j]      = sum_{s <= past + t} pattern[t, s] v[s, j], summed in s
 *                order from 0 (bit for bit the reference). Masked entries of
 *                pattern are never read: they count as 0 whatever they hold
 *                (HF's matmul would use them if a hook wrote non-zeros there;
 *                us_attention_pv_dense does, for that case).
 *   fused        online softmax (flash-attention style) over blocks of keys:
 *                within a few 1e-7 of (a)+(b)+(c), relative to
 *                sum_s pattern[t, s] |v[s, j]| (the scale of z[t, j] before
 *                cancellation); the tests require 1e-6.
 * The SIMD128 softmax uses a polynomial exp (XNNPACK's rr2-p5, about 1-2 ulp,
 * exactly 1 at 0, exactly 0 below -87.3) and sums in 4 lanes: per entry it is
 * within (|x - max| + 8 + sqrt(n)) 2^-24 relative of the exact softmax of the
 * same float scores (n unmasked entries; the |x - max| comes from rounding
 * x - max to float, as in every f32 softmax), not bit for bit the scalar
 * reference, whose single sequential sum drifts more (up to ~n/2 ulp).
 * No -ffast-math, no FMA.
 *
 * Speed (Node 20, Zen 4, one thread, 12 heads of hs = 64): T = S = 128,
 * scores 0.24 ms (52 GFLOP/s counting only the unmasked half; 104 as the
 * dense [128x64]·[64x128] product it replaces), softmax 0.12 ms, z 0.21 ms
 * (59 / 118 GFLOP/s), fused 0.58 ms; T = S = 512: 3.8, 1.7, 3.9 and 9.0 ms.
 * Decode, T = 1 over a 1024-row cache of 12 layers streaming from DRAM:
 * about 3.2 ms per token for all layers, against 12 ms for packing K and V
 * and calling us_gemm_f32 per head.
 *
 * Kernels are chosen at compile time (see attention.c): SIMD128 when built
 * with -msimd128 (or natively with -DUS_SIMDE through SIMDe, for the
 * sanitizer tests), else the scalar references below, which stay forever as
 * the tests' oracle. */
#ifndef US_KERNELS_ATTENTION_H
#define US_KERNELS_ATTENTION_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Floats of scratch that us_attention_scores and us_attention_fused need for
 * S keys of size hs: ceil(S / 8) * 8 * hs (K packed into panels of 8 keys),
 * e.g. 8192 floats (32 KiB) for S = 128, hs = 64; 65536 (256 KiB) for S = 1024.
 * 0 when S or hs is not positive. */
size_t us_attention_scratch_floats(int32_t S, int32_t hs);

/* (a) scores[T, S] = q · kᵀ / sqrt(hs) with the causal mask (-INFINITY).
 * Writes every scores[t, s] for s < S. Borrows q, k; writes scores, scratch. */
void us_attention_scores(int32_t T, int32_t S, int32_t hs, const float *q, int32_t q_stride,
                         const float *k, int32_t k_stride, float *scores, int32_t scores_stride,
                         float *scratch);

/* (b) In place: each row t of scores [T, S] becomes the causal softmax of its
 * entries s <= past + t; entries s > past + t become exactly 0 (whatever they
 * held). A row whose unmasked entries are all -inf, or hold a NaN, becomes
 * NaN there, as PyTorch. */
void us_attention_softmax_rows(int32_t T, int32_t S, float *scores, int32_t scores_stride);

/* (c) z[T, hs] = pattern[T, S] · v[S, hs], reading for row t only pattern[t, s]
 * and v[s, :] for s <= past + t (the masked zero tail is skipped, not summed). */
void us_attention_pv(int32_t T, int32_t S, int32_t hs, const float *pattern,
                     int32_t pattern_stride, const float *v, int32_t v_stride, float *z,
                     int32_t z_stride);

/* (c') The same product over every key of every row, masked or not, like HF's
 * matmul(attn_weights, value): for when a hook may have written non-zeros
 * into the masked region (with exact zeros there, the result equals
 * us_attention_pv's bit for bit, for finite v). Any T >= 1, S >= 1. */
void us_attention_pv_dense(int32_t T, int32_t S, int32_t hs, const float *pattern,
                           int32_t pattern_stride, const float *v, int32_t v_stride, float *z,
                           int32_t z_stride);

/* (d) z = softmax(causal(q · kᵀ / sqrt(hs))) · v without materialising
 * scores or pattern: z itself holds the running sums, plus a few floats per
 * query row on the stack; scratch as for us_attention_scores. */
void us_attention_fused(int32_t T, int32_t S, int32_t hs, const float *q, int32_t q_stride,
                        const float *k, int32_t k_stride, const float *v, int32_t v_stride,
                        float *z, int32_t z_stride, float *scratch);

/* Name of the kernels this build uses: "f32_attention__wasmsimd" or
 * "f32_attention__scalar". Static storage. */
const char *us_attention_kernel_name(void);

/* ------------------------------------------------------ scalar references
 *
 * Same contracts as above, as plain loops: dot products and z sums in order
 * from 0, the scale applied by division, softmax with libm expf and a
 * sequential sum, then one multiplication by 1 / sum (exactly like
 * us_softmax_f32 over the whole row with -inf at masked entries).
 * The scalar references need no scratch (it may be NULL). The fused
 * reference is an online softmax one key at a time: the portable fallback. */
void us_f32_attention_scores__scalar(int32_t T, int32_t S, int32_t hs, const float *q,
                                     int32_t q_stride, const float *k, int32_t k_stride,
                                     float *scores, int32_t scores_stride);
void us_f32_attention_softmax_rows__scalar(int32_t T, int32_t S, float *scores,
                                           int32_t scores_stride);
void us_f32_attention_pv__scalar(int32_t T, int32_t S, int32_t hs, const float *pattern,
                                 int32_t pattern_stride, const float *v, int32_t v_stride,
                                 float *z, int32_t z_stride);
void us_f32_attention_pv_dense__scalar(int32_t T, int32_t S, int32_t hs, const float *pattern,
                                       int32_t pattern_stride, const float *v, int32_t v_stride,
                                       float *z, int32_t z_stride);
void us_f32_attention_fused__scalar(int32_t T, int32_t S, int32_t hs, const float *q,
                                    int32_t q_stride, const float *k, int32_t k_stride,
                                    const float *v, int32_t v_stride, float *z, int32_t z_stride);

#if defined(__wasm_simd128__) || defined(US_SIMDE)
#define US_ATTENTION_HAVE_WASMSIMD 1
/* SIMD128 (or SIMDe's emulation of it with -DUS_SIMDE): the same contracts,
 * with the scratch of us_attention_scratch_floats where named. */
void us_f32_attention_scores__wasmsimd(int32_t T, int32_t S, int32_t hs, const float *q,
                                       int32_t q_stride, const float *k, int32_t k_stride,
                                       float *scores, int32_t scores_stride, float *scratch);
void us_f32_attention_softmax_rows__wasmsimd(int32_t T, int32_t S, float *scores,
                                             int32_t scores_stride);
void us_f32_attention_pv__wasmsimd(int32_t T, int32_t S, int32_t hs, const float *pattern,
                                   int32_t pattern_stride, const float *v, int32_t v_stride,
                                   float *z, int32_t z_stride);
void us_f32_attention_pv_dense__wasmsimd(int32_t T, int32_t S, int32_t hs, const float *pattern,
                                         int32_t pattern_stride, const float *v, int32_t v_stride,
                                         float *z, int32_t z_stride);
void us_f32_attention_fused__wasmsimd(int32_t T, int32_t S, int32_t hs, const float *q,
                                      int32_t q_stride, const float *k, int32_t k_stride,
                                      const float *v, int32_t v_stride, float *z,
                                      int32_t z_stride, float *scratch);
#endif

#ifdef __cplusplus
}
#endif
#endif
