/* gemm.h — f32 matrix multiply for Linear layers: C = A · Wᵀ (+ bias).
 *
 * Contract, stated once (row-major, counts in elements, not bytes):
 *   A    [M, K]  rows lda floats apart (lda >= K), borrowed for the call.
 *   W    [N, K]  the PyTorch Linear weight layout (out_features, in_features).
 *   bias [N]     optional (NULL means no bias), borrowed for the call.
 *   C    [M, N]  rows ldc floats apart (ldc >= N), written for j < N only:
 *                the floats between N and ldc in each row are never touched.
 *   M, N or K may be 0 (K == 0 gives C = bias, or zeros).
 *   A and C must not overlap. No NaN/Inf special-casing: IEEE semantics.
 *
 * Use: pack W once (us_gemm_weights_new), multiply many times (us_gemm_f32),
 * free the pack (us_gemm_weights_free). The pack is an opaque, caller-owned
 * copy of W rearranged for the fastest kernel of this build, so W itself may be
 * freed or edited after packing (re-pack to see edits).
 *
 * Kernels are named XNNPACK-style: <dtype>_<op>_<MR>x<NR>__<isa>, where MR
 * rows of A and NR columns of W make one register tile. us_gemm_f32 picks the
 * kernel at compile time (see gemm.c): the SIMD128 kernels when built with
 * -msimd128 (or natively with -DUS_SIMDE, through SIMDe, for sanitizer tests),
 * else a portable scalar-blocked kernel. us_f32_gemm_nt__scalar is the plain
 * reference, kept forever as the oracle for the tests.
 *
 * Numerics: every output is a float sum of float products, without FMA and
 * without -ffast-math. Today every kernel sums in k order from 0 and adds the
 * bias last, exactly like the reference, so results match it bit for bit; the
 * contract promises only agreement to rounding error, so that future kernels
 * (K split into partial sums, relaxed-SIMD FMA) stay within it.
 */
#ifndef US_KERNELS_GEMM_H
#define US_KERNELS_GEMM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* --------------------------------------------------------------- public API */

/* Packed weights: an opaque, caller-owned copy of W [N, K] (PyTorch Linear
 * layout, row-major) rearranged for the fastest kernel of this build. */
typedef struct us_gemm_weights us_gemm_weights;

/* Returns an owned pack of W [N, K] (rows K floats apart), or NULL on OOM or
 * when N or K is negative. W is borrowed for the call only. */
us_gemm_weights *us_gemm_weights_new(const float *W, int32_t N, int32_t K);

/* The same pack made from Wᵀ [K, N] (rows ldw >= N floats apart): HF's Conv1D
 * weight layout [nx, nf], and the V of attention's pattern · V. */
us_gemm_weights *us_gemm_weights_new_kn(const float *Wt, int32_t N, int32_t K, int32_t ldw);

/* Frees a pack; NULL is a no-op. */
void us_gemm_weights_free(us_gemm_weights *w);

/* N and K of a pack (the shape of the W it was made from). */
int32_t us_gemm_weights_n(const us_gemm_weights *w);
int32_t us_gemm_weights_k(const us_gemm_weights *w);

/* C[M, N] = A[M, K] · Wᵀ (+ bias[N] if bias != NULL), with N and K those of
 * the pack. Rows of A are lda floats apart, rows of C ldc apart. M may be 0.
 * Uses the best kernel compiled into this build. Borrows everything. */
void us_gemm_f32(int32_t M, const float *A, int32_t lda, const us_gemm_weights *w,
                 const float *bias, float *C, int32_t ldc);

/* us_gemm_f32 spread over the threads of pool (see core/threadpool.h; NULL
 * or a pool without workers: this thread only). The same bits as us_gemm_f32
 * whatever the thread count: the pack's panels are cut into chunks, and each
 * output is computed by one thread, with the same kernel, in the same k
 * order. Small products stay on one thread. Call from the pool's main thread. */
struct us_threadpool;
void us_gemm_f32_parallel(struct us_threadpool *pool, int32_t M, const float *A, int32_t lda,
                          const us_gemm_weights *w, const float *bias, float *C, int32_t ldc);

/* Scalar reference over the unpacked weight W [N, K] (rows ldw floats apart),
 * kept forever as the oracle: plain loops, accumulate in float in k order,
 * then add the bias. */
void us_f32_gemm_nt__scalar(int32_t M, int32_t N, int32_t K, const float *A, int32_t lda,
                            const float *W, int32_t ldw, const float *bias, float *C,
                            int32_t ldc);

/* ------------------------------------------------------ f16-stored weights
 *
 * The same pack with its panels stored as IEEE binary16 ("half"): half the
 * memory, and half the bytes to stream per product, which is what bounds
 * M = 1 (one-token decode, each weight read once). W is ROUNDED ONCE, AT
 * PACKING, to the nearest half, ties to even (|w| >= 65520 becomes inf,
 * |w| <= 2^-25 becomes 0, |w| < 2^-14 a subnormal half: the relative error of
 * a normal weight is at most 2^-11, about 4.9e-4). Products then widen each
 * half exactly to f32 inside the micro-kernel and compute in f32 like the f32
 * pack, under the same contract: us_gemm_f32 over an f16 pack agrees with the
 * f32 reference run on the rounded weights (us_gemm_weights_unpack returns
 * them) to rounding error (bit for bit for M >= 2; for M = 1 the rare weights
 * that round to subnormal halves, inf or NaN are added last). Use and free
 * the pack like any other (us_gemm_f32, us_gemm_weights_free).
 * Speed (Node 20, Zen 4, one thread): for M = 1 about 1.5x faster than f32
 * when the weights stream from DRAM (decode), somewhat slower when they sit in
 * cache; for M >= 16 within a few % of f32; in between (M = 2..8) slower
 * than f32, as each panel is widened for few rows. See gemm.c. */

/* An owned f16 pack of W [N, K] (rows K floats apart), or NULL on OOM or when
 * N or K is negative. W is borrowed for the call only. */
us_gemm_weights *us_gemm_weights_new_f16(const float *W, int32_t N, int32_t K);

/* The same f16 pack made from Wᵀ [K, N] (rows ldw >= N floats apart). */
us_gemm_weights *us_gemm_weights_new_kn_f16(const float *Wt, int32_t N, int32_t K, int32_t ldw);

/* 1 when the pack stores f16, 0 for f32. */
int us_gemm_weights_is_f16(const us_gemm_weights *w);

/* Bytes of packed weights: ceil(N / 8) * 8 * K values of 4 or 2 bytes, plus
 * 6 bytes per f16 weight kept in the side list (see "F16 panels" below). */
size_t us_gemm_weights_bytes(const us_gemm_weights *w);

/* Writes the weights as the products use them into W [N, K] (rows ldw >= K
 * floats apart): for an f32 pack, W itself; for an f16 pack, the rounded
 * halves widened to f32. */
void us_gemm_weights_unpack(const us_gemm_weights *w, float *W, int32_t ldw);

/* Reading and writing parts of a pack in place, so that a pack can be the
 * only copy of a weight: filled from a file in pieces, read back on demand,
 * edited. Rectangles are given in W's [N, K] layout (rows n, columns k) or,
 * for the _t variants, in Wᵀ's [K, N] layout (HF's Conv1D weight: rows k,
 * columns n). Values written to an f16 pack are rounded as at packing; values
 * read are those the products use (us_gemm_weights_unpack's). Bounds are the
 * caller's to respect (0 <= n0, n0 + rows <= N, and so on).
 *   read:  dst[r * ldd + c] = W[n0 + r, k0 + c]     (r < rows, c < cols)
 *   write: W[n0 + r, k0 + c] = src[r * lds + c]
 *   _t:    the same with W[n0 + c, k0 + r], rows over k. */
void us_gemm_weights_read(const us_gemm_weights *w, int32_t n0, int32_t rows, int32_t k0, int32_t cols,
                          float *dst, int32_t ldd);
void us_gemm_weights_read_t(const us_gemm_weights *w, int32_t k0, int32_t rows, int32_t n0, int32_t cols,
                            float *dst, int32_t ldd);
void us_gemm_weights_write(us_gemm_weights *w, int32_t n0, int32_t rows, int32_t k0, int32_t cols,
                           const float *src, int32_t lds);
void us_gemm_weights_write_t(us_gemm_weights *w, int32_t k0, int32_t rows, int32_t n0, int32_t cols,
                             const float *src, int32_t lds);

/* An owned pack of W = 0 [N, K], f16 when f16 != 0, to fill with the writes
 * above; NULL on OOM or when N or K is negative. */
us_gemm_weights *us_gemm_weights_new_zero(int32_t N, int32_t K, int f16);

/* After writes to an f16 pack, and before us_gemm_f32 uses it again: rebuilds
 * the side list of the halves its 1-row kernel must not meet (see "F16
 * panels"; a write puts every half back into the panels). Cheap when nothing
 * was written since; a no-op for f32 packs. Returns 0, or -1 on OOM (then the
 * pack must not be multiplied with; calling again may succeed). */
int us_gemm_weights_finish(us_gemm_weights *w);

/* The exact scalar conversions the f16 packs use: f32 -> f16 rounds to
 * nearest, ties to even (NaN stays NaN, quiet); f16 -> f32 is exact for every
 * half. Defined in src/core/tensor.c and declared publicly in unseal.h; the
 * same prototypes here, so kernels need not include the public header. */
uint16_t us_f32_to_f16(float f);
float us_f16_to_f32(uint16_t h);

/* Name of the kernel us_gemm_f32 uses in this build, e.g.
 * "f32_gemm_4x8__wasmsimd". Static storage. */
const char *us_gemm_kernel_name(void);

/* ------------------------------------------------- micro-kernels (internal)
 *
 * Packed layout (made by us_gemm_weights_new, shared by every kernel here):
 * W is cut into ceil(N / US_GEMM_NR) panels of US_GEMM_NR output columns.
 * Panel p holds, for k = 0..K-1 in order, the US_GEMM_NR floats
 * W[p*NR + 0, k], ..., W[p*NR + NR-1, k]; columns past N are zero. Panels are
 * K*NR floats apart and 64-byte aligned when K*NR*4 is a multiple of 64.
 *
 * A micro-kernel computes one tile: for i < mr, j < nc,
 *     c[i*c_stride + j] = sum_k a[i*a_stride + k] * w[k*NR + j]  (+ bias[j])
 * with
 *   mr in [1, MR] rows (the kernel's MR), nc in [1, NR] columns, kc >= 0;
 *   w    one packed panel, kc*NR floats, all read;
 *   bias NR readable floats (the caller pads the last panel) or NULL;
 *   a    reads exactly mr rows of kc floats: no over-read;
 *   c    writes exactly mr rows of nc floats: nothing else is touched.
 * Rows past mr are not computed separately: their pointers alias row mr-1,
 * which is computed again and stored again (same value), as in XNNPACK.
 */
#define US_GEMM_NR 8

typedef void (*us_f32_gemm_ukernel_fn)(size_t mr, size_t nc, size_t kc, const float *a,
                                       size_t a_stride, const float *w, const float *bias,
                                       float *c, size_t c_stride);

/* Portable: plain C, any compiler. */
void us_f32_gemm_ukernel_4x8__scalar(size_t mr, size_t nc, size_t kc, const float *a,
                                     size_t a_stride, const float *w, const float *bias,
                                     float *c, size_t c_stride);

#if defined(__wasm_simd128__) || defined(US_SIMDE)
#define US_GEMM_HAVE_WASMSIMD 1
/* WebAssembly SIMD128 (or SIMDe's emulation of it with -DUS_SIMDE). */
void us_f32_gemm_ukernel_4x8__wasmsimd(size_t mr, size_t nc, size_t kc, const float *a,
                                       size_t a_stride, const float *w, const float *bias,
                                       float *c, size_t c_stride);
/* Tails: the last M % 4 rows. */
void us_f32_gemm_ukernel_3x8__wasmsimd(size_t mr, size_t nc, size_t kc, const float *a,
                                       size_t a_stride, const float *w, const float *bias,
                                       float *c, size_t c_stride);
void us_f32_gemm_ukernel_2x8__wasmsimd(size_t mr, size_t nc, size_t kc, const float *a,
                                       size_t a_stride, const float *w, const float *bias,
                                       float *c, size_t c_stride);
void us_f32_gemm_ukernel_1x8__wasmsimd(size_t mr, size_t nc, size_t kc, const float *a,
                                       size_t a_stride, const float *w, const float *bias,
                                       float *c, size_t c_stride);
#endif

/* F16 panels: the same layout with halves in place of floats (16 bytes per k,
 * 8 columns; 2 bytes stay readable before the first panel). Kernels over them
 * keep the f32 kernels' contract, with w an f16 panel of kc x 8 halves, each
 * widened exactly to f32 before use.
 *
 * An f16 pack's panels hold no inf or NaN, and normally no subnormal half:
 * the weights that round to inf or NaN, and those that round to a subnormal
 * half (|w| < 2^-14: about 0.1-0.3% of GPT-2-like weights) when they are at
 * most 1% of the pack, are zeros in the panels and sit, as halves, in a side
 * list sorted by panel and k, which every f16 path adds back exactly (written
 * into the widened panel for M >= 2, added to C for M = 1). The M = 1 kernel
 * then needs no inf/NaN fix-up and rarely meets a subnormal f32 operand,
 * which costs about 60 cycles on Zen 4 (0.2% of them made it 1.45x slower). */
typedef void (*us_f32_f16w_gemm_ukernel_fn)(size_t mr, size_t nc, size_t kc, const float *a,
                                            size_t a_stride, const uint16_t *w, const float *bias,
                                            float *c, size_t c_stride);

/* Portable: plain C, any mr <= 4 (the fallback of every f16 path). */
void us_f32_f16w_gemm_ukernel_4x8__scalar(size_t mr, size_t nc, size_t kc, const float *a,
                                          size_t a_stride, const uint16_t *w, const float *bias,
                                          float *c, size_t c_stride);

/* y[i] = the exact f32 of half x[i], i < n (reference, and SIMD128 below). */
void us_f16_f32_vcvt__scalar(size_t n, const uint16_t *x, float *y);
/* y[i] = us_f32_to_f16(x[i]), i < n (reference, and SIMD128 below, bit for bit). */
void us_f32_f16_vcvt__scalar(size_t n, const float *x, uint16_t *y);

#if defined(US_GEMM_HAVE_WASMSIMD)
void us_f16_f32_vcvt__wasmsimd(size_t n, const uint16_t *x, float *y);
void us_f32_f16_vcvt__wasmsimd(size_t n, const float *x, uint16_t *y);
/* mr == 1, with two conditions (see f32_f16w_gemm__wasmsimd.c): the panel
 * holds no inf or NaN (f16 packs keep those in their side list), and a is the
 * row of A times 2^112 (0x1p112f), with |A| < 2^16 for every finite A. Also
 * reads the 2 bytes before w. */
void us_f32_f16w_gemm_ukernel_1x8__wasmsimd(size_t mr, size_t nc, size_t kc, const float *a,
                                            size_t a_stride, const uint16_t *w, const float *bias,
                                            float *c, size_t c_stride);
#endif

#ifdef __cplusplus
}
#endif
#endif
