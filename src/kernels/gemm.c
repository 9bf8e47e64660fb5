/* gemm.c — packing of Linear weights and the f32 GEMM driver; the one place
 * that chooses which micro-kernel a build uses (op code never does).
 *
 * us_gemm_f32 walks C in tiles: for each block of rows of A small enough to
 * stay in the L2 cache, for each panel of NR = 8 columns of W (kept in L1 while
 * it is used), for each group of MR rows: one micro-kernel call over all of K.
 * Layout of the pack and the micro-kernel contract: see gemm.h. */
#include "kernels/gemm.h"

#include "core/threadpool.h"

#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* --------------------------------------------------------- kernel selection
 *
 * US_GEMM_UKERNEL takes full tiles of US_GEMM_MR rows; US_GEMM_UKERNEL_TAIL1..3
 * take the last M % MR rows, so that 1-3 leftover rows cost 1-3 rows, not MR.
 * They are called directly (not through a table) so that the optimiser may
 * inline them; in V8 the inlined tail loops ran up to 1.3x faster.
 *
 * SIMD128: 4x8 tiles (8 f32x4 accumulators), 1x8/2x8/3x8 for the tails.
 * Measured in Node 20 (V8 11.3) on this Zen 4, [128x768]·[768x3072], 1 thread:
 * 4x8 50-55 GFLOP/s; 5x8 and 6x8 ~26 (V8 keeps 15 xmm registers for
 * values, and 10-12 accumulators plus operands spill); 4x8 with k unrolled by
 * 2 ~34 (clang hoists the second step's loads, V8 spills). The 1x8 and 2x8
 * tails unroll k by 2, which they have registers for; splitting K into
 * partial sums for them was slower.
 * Portable: 4x8 scalar tiles (compilers may auto-vectorise), any mr.
 *
 * M = 1 (one-token decode) keeps the 1x8 kernel. Measured alternatives, for
 * [1x768]·[768x3072] in cache / from DRAM (40 distinct packs, as in decode,
 * where a model's weights never fit in cache): 1x8 0.143 / 0.29 ms (~32
 * GB/s, about this machine's single-thread DRAM bandwidth); two panels at
 * once (1x16, 4 chains) 0.12 / 0.40-0.60 ms; K split into even/odd partial
 * sums 0.13 / 0.29 ms (and no longer the reference's k order); 1x32 or 8
 * partial sums spill. So the f32 GEMV is already memory-bound where it
 * matters; the way to faster decode is fewer bytes: f16 packs, below.
 *
 * F16 packs (us_gemm_weights_new_f16): see gemm_f16 for the paths. Measured
 * against f32 packs, same shapes: M = 1 from DRAM 1.45-1.5x faster (0.20 vs
 * 0.30 ms; lm_head [1x768]·[768x50257] 3.3 vs 4.8 ms), M = 1 in cache 0.8x
 * (the widening costs more than the bytes it saves there), M = 4 0.65x,
 * M = 128 0.94-1.0x (one widening per panel serves all 32 row groups). */
#if defined(US_GEMM_HAVE_WASMSIMD)
#define US_GEMM_MR 4
#define US_GEMM_UKERNEL us_f32_gemm_ukernel_4x8__wasmsimd
#define US_GEMM_UKERNEL_TAIL1 us_f32_gemm_ukernel_1x8__wasmsimd
#define US_GEMM_UKERNEL_TAIL2 us_f32_gemm_ukernel_2x8__wasmsimd
#define US_GEMM_UKERNEL_TAIL3 us_f32_gemm_ukernel_3x8__wasmsimd
#define US_GEMM_NAME "f32_gemm_4x8__wasmsimd"
#else
#define US_GEMM_MR 4
#define US_GEMM_UKERNEL us_f32_gemm_ukernel_4x8__scalar
#define US_GEMM_UKERNEL_TAIL1 us_f32_gemm_ukernel_4x8__scalar
#define US_GEMM_UKERNEL_TAIL2 us_f32_gemm_ukernel_4x8__scalar
#define US_GEMM_UKERNEL_TAIL3 us_f32_gemm_ukernel_4x8__scalar
#define US_GEMM_NAME "f32_gemm_4x8__scalar"
#endif

const char *us_gemm_kernel_name(void) { return US_GEMM_NAME; }

/* Rows of A per block: enough that one block of A, MC x K floats, fills about
 * half of a 1 MiB L2, so every panel of W loaded into L1 serves all of them. */
#define US_GEMM_A_BLOCK_BYTES (512u * 1024u)

/* ------------------------------------------------------------------ packing */

struct us_gemm_weights {
    int32_t n, k;     /* shape of the W this pack was made from */
    int32_t panels;   /* ceil(n / NR) */
    float *data;      /* f32 packs: [panels, k, NR], 64-byte aligned, inside this
                         allocation; NULL for f16 packs */
    uint16_t *data16; /* f16 packs: the same layout in halves (zeros and normals
                         only); NULL for f32 packs */
    /* f16 packs: the halves that are subnormal, inf or NaN, kept out of the
     * panels (zeros there): at[i] = their index in data16, increasing;
     * half[i] = the half. Owned, one allocation (NULL when there are none). */
    size_t n_special;
    uint32_t *special_at;
    uint16_t *special_half;
    int unsplit; /* f16: written since the side list was made (all halves in the
                    panels, none in the side list): see us_gemm_weights_finish */
};

/* An uninitialised pack for W [N, K] with elements of elem bytes (4: f32,
 * 2: f16): the header and 64-byte aligned panels. */
static us_gemm_weights *pack_alloc_elem(int32_t N, int32_t K, size_t elem) {
    if (N < 0 || K < 0) return NULL;
    const size_t nr = US_GEMM_NR;
    const size_t panels = ((size_t)N + nr - 1) / nr;
    const size_t header = (sizeof(us_gemm_weights) + 63u) & ~(size_t)63u;
    if (K > 0 && panels * nr > (SIZE_MAX - header - 64u) / elem / (size_t)K)
        return NULL; /* would not fit in the address space */
    const size_t count = panels * nr * (size_t)K;
    unsigned char *mem = malloc(header + count * elem + 64u);
    if (mem == NULL) return NULL;
    us_gemm_weights *w = (us_gemm_weights *)(void *)mem;
    w->n = N;
    w->k = K;
    w->panels = (int32_t)panels;
    w->n_special = 0;
    w->special_at = NULL;
    w->special_half = NULL;
    w->unsplit = 0;
    const uintptr_t start = (uintptr_t)(mem + header);
    void *data = mem + header + ((64u - (start & 63u)) & 63u);
    w->data = elem == sizeof(float) ? (float *)data : NULL;
    w->data16 = elem == sizeof(float) ? NULL : (uint16_t *)data;
    return w;
}

static us_gemm_weights *pack_alloc(int32_t N, int32_t K) { return pack_alloc_elem(N, K, sizeof(float)); }

us_gemm_weights *us_gemm_weights_new(const float *W, int32_t N, int32_t K) {
    us_gemm_weights *w = pack_alloc(N, K);
    if (w == NULL) return NULL;
    const size_t nr = US_GEMM_NR;
    for (size_t p = 0; p < (size_t)w->panels; p++) {
        float *dst = w->data + p * (size_t)K * nr; /* [K, NR] */
        const size_t n0 = p * nr;
        const size_t nc = (size_t)N - n0 < nr ? (size_t)N - n0 : nr;
        for (size_t j = 0; j < nc; j++) {
            const float *src = W + (n0 + j) * (size_t)K; /* row n0 + j of W, [K] */
            for (size_t k = 0; k < (size_t)K; k++) dst[k * nr + j] = src[k];
        }
        for (size_t j = nc; j < nr; j++)
            for (size_t k = 0; k < (size_t)K; k++) dst[k * nr + j] = 0.0f;
    }
    return w;
}

us_gemm_weights *us_gemm_weights_new_kn(const float *Wt, int32_t N, int32_t K, int32_t ldw) {
    us_gemm_weights *w = pack_alloc(N, K);
    if (w == NULL) return NULL;
    const size_t nr = US_GEMM_NR;
    for (size_t p = 0; p < (size_t)w->panels; p++) {
        float *dst = w->data + p * (size_t)K * nr; /* [K, NR] */
        const size_t n0 = p * nr;
        const size_t nc = (size_t)N - n0 < nr ? (size_t)N - n0 : nr;
        for (size_t k = 0; k < (size_t)K; k++) {
            const float *src = Wt + k * (size_t)ldw + n0; /* row k of Wᵀ, columns n0.. */
            size_t j = 0;
            for (; j < nc; j++) dst[k * nr + j] = src[j];
            for (; j < nr; j++) dst[k * nr + j] = 0.0f;
        }
    }
    return w;
}

/* f16 packs: the f32 layout, each value rounded once to the nearest half.
 * Then the halves the 1x8 f16 kernel should not meet move to the side list:
 * inf and NaN always (it has no fix-up for them), subnormals when they are
 * rare (at most 1%: typical weights have 0.1-0.3%), as each costs that kernel
 * ~60 cycles while a side-list entry costs a few ns per row; when they are
 * many, they stay in the panels, where that kernel handles them exactly, and
 * (measured) without the per-operand penalty dominating. */
static int is_nonfinite_half(uint16_t h) { return (h & 0x7c00u) == 0x7c00u; }
static int is_subnormal_half(uint16_t h) { return (h & 0x7c00u) == 0 && (h & 0x3ffu) != 0; }

/* Returns 0, or -1 on OOM (the caller then frees the pack). */
static int split_specials(us_gemm_weights *w) {
    const size_t count = (size_t)w->panels * US_GEMM_NR * (size_t)w->k;
    size_t n_nonfinite = 0, n_subnormal = 0;
    for (size_t i = 0; i < count; i++) {
        n_nonfinite += (size_t)is_nonfinite_half(w->data16[i]);
        n_subnormal += (size_t)is_subnormal_half(w->data16[i]);
    }
    const int move_subnormals = n_subnormal <= count / 100;
    const size_t n = n_nonfinite + (move_subnormals ? n_subnormal : 0);
    if (n == 0) return 0;
    if (count > UINT32_MAX) return -1; /* indices are 32-bit */
    unsigned char *mem = malloc(n * (sizeof(uint32_t) + sizeof(uint16_t)));
    if (mem == NULL) return -1;
    w->special_at = (uint32_t *)(void *)mem;
    w->special_half = (uint16_t *)(void *)(mem + n * sizeof(uint32_t));
    for (size_t i = 0; i < count; i++) {
        const uint16_t h = w->data16[i];
        if (is_nonfinite_half(h) || (move_subnormals && is_subnormal_half(h))) {
            w->special_at[w->n_special] = (uint32_t)i;
            w->special_half[w->n_special++] = h;
            w->data16[i] = 0;
        }
    }
    return 0;
}

us_gemm_weights *us_gemm_weights_new_f16(const float *W, int32_t N, int32_t K) {
    us_gemm_weights *w = pack_alloc_elem(N, K, sizeof(uint16_t));
    if (w == NULL) return NULL;
    const size_t nr = US_GEMM_NR;
    for (size_t p = 0; p < (size_t)w->panels; p++) {
        uint16_t *dst = w->data16 + p * (size_t)K * nr; /* [K, NR] */
        const size_t n0 = p * nr;
        const size_t nc = (size_t)N - n0 < nr ? (size_t)N - n0 : nr;
        for (size_t j = 0; j < nc; j++) {
            const float *src = W + (n0 + j) * (size_t)K; /* row n0 + j of W, [K] */
            for (size_t k = 0; k < (size_t)K; k++) dst[k * nr + j] = us_f32_to_f16(src[k]);
        }
        for (size_t j = nc; j < nr; j++)
            for (size_t k = 0; k < (size_t)K; k++) dst[k * nr + j] = 0;
    }
    if (split_specials(w) != 0) {
        us_gemm_weights_free(w);
        return NULL;
    }
    return w;
}

us_gemm_weights *us_gemm_weights_new_kn_f16(const float *Wt, int32_t N, int32_t K, int32_t ldw) {
    us_gemm_weights *w = pack_alloc_elem(N, K, sizeof(uint16_t));
    if (w == NULL) return NULL;
    const size_t nr = US_GEMM_NR;
    for (size_t p = 0; p < (size_t)w->panels; p++) {
        uint16_t *dst = w->data16 + p * (size_t)K * nr; /* [K, NR] */
        const size_t n0 = p * nr;
        const size_t nc = (size_t)N - n0 < nr ? (size_t)N - n0 : nr;
        for (size_t k = 0; k < (size_t)K; k++) {
            const float *src = Wt + k * (size_t)ldw + n0; /* row k of Wᵀ, columns n0.. */
            size_t j = 0;
            for (; j < nc; j++) dst[k * nr + j] = us_f32_to_f16(src[j]);
            for (; j < nr; j++) dst[k * nr + j] = 0;
        }
    }
    if (split_specials(w) != 0) {
        us_gemm_weights_free(w);
        return NULL;
    }
    return w;
}

void us_gemm_weights_free(us_gemm_weights *w) {
    if (w == NULL) return;
    free(w->special_at); /* the side list's one allocation, or NULL */
    free(w);
}

int32_t us_gemm_weights_n(const us_gemm_weights *w) { return w->n; }
int32_t us_gemm_weights_k(const us_gemm_weights *w) { return w->k; }
int us_gemm_weights_is_f16(const us_gemm_weights *w) { return w->data16 != NULL; }

size_t us_gemm_weights_bytes(const us_gemm_weights *w) {
    return (size_t)w->panels * US_GEMM_NR * (size_t)w->k * (w->data16 != NULL ? 2u : 4u) +
           w->n_special * (sizeof(uint32_t) + sizeof(uint16_t));
}

void us_gemm_weights_unpack(const us_gemm_weights *w, float *W, int32_t ldw) {
    const size_t nr = US_GEMM_NR, K = (size_t)w->k;
    for (size_t n = 0; n < (size_t)w->n; n++) {
        const size_t p = n / nr, j = n % nr;
        float *dst = W + n * (size_t)ldw;
        if (w->data16 != NULL)
            for (size_t k = 0; k < K; k++) dst[k] = us_f16_to_f32(w->data16[(p * K + k) * nr + j]);
        else
            for (size_t k = 0; k < K; k++) dst[k] = w->data[(p * K + k) * nr + j];
    }
    for (size_t i = 0; i < w->n_special; i++) { /* f16: the side list's halves */
        const size_t at = w->special_at[i], p = at / (K * nr), k = at / nr % K, j = at % nr;
        W[(p * nr + j) * (size_t)ldw + k] = us_f16_to_f32(w->special_half[i]);
    }
}

/* ------------------------------------------------ reading and writing packs
 *
 * W[n, k] sits at index ((n / NR) * K + k) * NR + n % NR of data or data16.
 * An f16 pack's side list holds the halves whose panel slots are zero; reads
 * overlay them. A write first puts them back into the panels (the pack is
 * then "unsplit") so that no stale entry can outlive the value it stood for;
 * us_gemm_weights_finish makes the side list again. */

static size_t pack_at(const us_gemm_weights *w, size_t n, size_t k) {
    return ((n / US_GEMM_NR) * (size_t)w->k + k) * US_GEMM_NR + n % US_GEMM_NR;
}

us_gemm_weights *us_gemm_weights_new_zero(int32_t N, int32_t K, int f16) {
    us_gemm_weights *w = pack_alloc_elem(N, K, f16 ? sizeof(uint16_t) : sizeof(float));
    if (w == NULL) return NULL;
    const size_t count = (size_t)w->panels * US_GEMM_NR * (size_t)K;
    if (f16) memset(w->data16, 0, count * sizeof(uint16_t));
    else memset(w->data, 0, count * sizeof(float));
    return w;
}

/* The side list's halves back into the panels; the pack becomes unsplit. */
static void merge_specials(us_gemm_weights *w) {
    if (w->data16 == NULL) return;
    for (size_t i = 0; i < w->n_special; i++) w->data16[w->special_at[i]] = w->special_half[i];
    free(w->special_at);
    w->special_at = NULL;
    w->special_half = NULL;
    w->n_special = 0;
    w->unsplit = 1;
}

int us_gemm_weights_finish(us_gemm_weights *w) {
    if (w->data16 == NULL || !w->unsplit) return 0;
    if (split_specials(w) != 0) return -1;
    w->unsplit = 0;
    return 0;
}

/* Overlays the side list's halves that fall in rows [n0, n0 + rows) and
 * columns [k0, k0 + cols) of W, at dst[(n - n0) * sn + (k - k0) * sk]. */
static void overlay_specials(const us_gemm_weights *w, size_t n0, size_t rows, size_t k0, size_t cols, float *dst,
                             size_t sn, size_t sk) {
    if (w->n_special == 0 || rows == 0 || cols == 0) return;
    const size_t nr = US_GEMM_NR, K = (size_t)w->k;
    const size_t first = n0 / nr * K * nr, last = ((n0 + rows - 1) / nr + 1) * K * nr;
    size_t lo = 0, hi = w->n_special; /* the first entry at or after `first` */
    while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;
        if (w->special_at[mid] < first) lo = mid + 1;
        else hi = mid;
    }
    for (size_t i = lo; i < w->n_special && w->special_at[i] < last; i++) {
        const size_t at = w->special_at[i], k = at / nr % K, n = at / (K * nr) * nr + at % nr;
        if (n >= n0 && n < n0 + rows && k >= k0 && k < k0 + cols)
            dst[(n - n0) * sn + (k - k0) * sk] = us_f16_to_f32(w->special_half[i]);
    }
}

void us_gemm_weights_read(const us_gemm_weights *w, int32_t n0, int32_t rows, int32_t k0, int32_t cols,
                          float *dst, int32_t ldd) {
    const size_t nr = US_GEMM_NR;
    for (size_t r = 0; r < (size_t)rows; r++) {
        const size_t at = pack_at(w, (size_t)n0 + r, (size_t)k0);
        float *d = dst + r * (size_t)ldd;
        if (w->data16 != NULL)
            for (size_t c = 0; c < (size_t)cols; c++) d[c] = us_f16_to_f32(w->data16[at + c * nr]);
        else
            for (size_t c = 0; c < (size_t)cols; c++) d[c] = w->data[at + c * nr];
    }
    overlay_specials(w, (size_t)n0, (size_t)rows, (size_t)k0, (size_t)cols, dst, (size_t)ldd, 1);
}

void us_gemm_weights_read_t(const us_gemm_weights *w, int32_t k0, int32_t rows, int32_t n0, int32_t cols,
                            float *dst, int32_t ldd) {
    const size_t nr = US_GEMM_NR;
    for (size_t r = 0; r < (size_t)rows; r++) {
        float *d = dst + r * (size_t)ldd;
        size_t c = 0;
        while (c < (size_t)cols) { /* the columns of one panel at a time: NR contiguous slots */
            const size_t n = (size_t)n0 + c, j0 = n % nr;
            const size_t len = nr - j0 < (size_t)cols - c ? nr - j0 : (size_t)cols - c;
            const size_t at = pack_at(w, n, (size_t)k0 + r);
            if (w->data16 != NULL)
                for (size_t j = 0; j < len; j++) d[c + j] = us_f16_to_f32(w->data16[at + j]);
            else
                memcpy(d + c, w->data + at, len * sizeof(float));
            c += len;
        }
    }
    overlay_specials(w, (size_t)n0, (size_t)cols, (size_t)k0, (size_t)rows, dst, 1, (size_t)ldd);
}

/* Halves of n floats, the fastest way this build has (bit for bit the same). */
static void to_halves(size_t n, const float *x, uint16_t *y) {
#if defined(US_GEMM_HAVE_WASMSIMD)
    us_f32_f16_vcvt__wasmsimd(n, x, y);
#else
    us_f32_f16_vcvt__scalar(n, x, y);
#endif
}

#define US_GEMM_HALF_BLOCK 1024 /* halves converted at a time, on the stack */

void us_gemm_weights_write(us_gemm_weights *w, int32_t n0, int32_t rows, int32_t k0, int32_t cols,
                           const float *src, int32_t lds) {
    const size_t nr = US_GEMM_NR;
    merge_specials(w);
    for (size_t r = 0; r < (size_t)rows; r++) {
        const size_t at = pack_at(w, (size_t)n0 + r, (size_t)k0);
        const float *s = src + r * (size_t)lds;
        if (w->data16 != NULL) {
            uint16_t h[US_GEMM_HALF_BLOCK];
            for (size_t c0 = 0; c0 < (size_t)cols; c0 += US_GEMM_HALF_BLOCK) {
                const size_t len = (size_t)cols - c0 < US_GEMM_HALF_BLOCK ? (size_t)cols - c0 : US_GEMM_HALF_BLOCK;
                to_halves(len, s + c0, h);
                for (size_t c = 0; c < len; c++) w->data16[at + (c0 + c) * nr] = h[c];
            }
        } else {
            for (size_t c = 0; c < (size_t)cols; c++) w->data[at + c * nr] = s[c];
        }
    }
}

void us_gemm_weights_write_t(us_gemm_weights *w, int32_t k0, int32_t rows, int32_t n0, int32_t cols,
                             const float *src, int32_t lds) {
    const size_t nr = US_GEMM_NR;
    merge_specials(w);
    uint16_t h[US_GEMM_HALF_BLOCK];
    for (size_t r = 0; r < (size_t)rows; r++) {
        const float *s = src + r * (size_t)lds;
        size_t c = 0, h0 = 0; /* h holds the halves of s[h0 ..] */
        while (c < (size_t)cols) { /* the columns of one panel at a time: NR contiguous slots */
            const size_t n = (size_t)n0 + c, j0 = n % nr;
            const size_t len = nr - j0 < (size_t)cols - c ? nr - j0 : (size_t)cols - c;
            const size_t at = pack_at(w, n, (size_t)k0 + r);
            if (w->data16 != NULL) {
                if (c == 0 || c + len > h0 + US_GEMM_HALF_BLOCK) { /* the next block of halves */
                    h0 = c;
                    to_halves((size_t)cols - c < US_GEMM_HALF_BLOCK ? (size_t)cols - c : US_GEMM_HALF_BLOCK, s + c, h);
                }
                for (size_t j = 0; j < len; j++) w->data16[at + j] = h[c - h0 + j];
            } else if (len == US_GEMM_NR) { /* a whole panel row: a fixed-size copy */
                float *d = w->data + at;
                for (size_t j = 0; j < US_GEMM_NR; j++) d[j] = s[c + j];
            } else {
                memcpy(w->data + at, s + c, len * sizeof(float));
            }
            c += len;
        }
    }
}

/* ------------------------------------------------------------------- driver */

/* us_gemm_f32 over an f16 pack. SIMD128:
 *   M == 1 (decode: memory-bound, each weight used once): the row of A times
 *     2^112 into a buffer, the 1x8 f16 kernel on each panel (widening in
 *     registers), then the side list's products added to C;
 *   M >= 2, or a row with some finite |a| >= 2^16: each panel widened once
 *     into an f32 buffer with the side list's halves written in, then the f32
 *     kernels, so one widening serves every group of rows.
 * Portable builds, and SIMD128 when a buffer cannot be allocated: the
 * portable 4x8 f16 kernel, then the side list's products added to C. */
#define US_GEMM_F16_ROW_STACK 4096 /* floats: the M == 1 row buffer on the stack */

/* C[m, :] += A[m, k] * w for each side-list half w at (k, column), m < M:
 * after the panels' sums, so not in k order (agreement to rounding error). */
static void add_specials(int32_t M, const float *A, int32_t lda, const us_gemm_weights *w, float *C,
                         int32_t ldc) {
    const size_t nr = US_GEMM_NR, K = (size_t)w->k;
    for (size_t i = 0; i < w->n_special; i++) {
        const size_t at = w->special_at[i], k = at / nr % K, n = at / (K * nr) * nr + at % nr;
        const float wv = us_f16_to_f32(w->special_half[i]);
        for (size_t m = 0; m < (size_t)M; m++) C[m * (size_t)ldc + n] += A[m * (size_t)lda + k] * wv;
    }
}

static void gemm_f16_portable(int32_t M, const float *A, int32_t lda, const us_gemm_weights *w,
                              const float *bias, float *C, int32_t ldc) {
    const size_t nr = US_GEMM_NR, N = (size_t)w->n, K = (size_t)w->k;
    for (size_t p = 0; p < (size_t)w->panels; p++) {
        const size_t n0 = p * nr, nc = N - n0 < nr ? N - n0 : nr;
        float bias_tail[US_GEMM_NR] = {0.0f};
        if (bias != NULL) memcpy(bias_tail, bias + n0, nc * sizeof(float));
        for (size_t m = 0; m < (size_t)M; m += 4)
            us_f32_f16w_gemm_ukernel_4x8__scalar((size_t)M - m < 4 ? (size_t)M - m : 4, nc, K,
                                                 A + m * (size_t)lda, (size_t)lda, w->data16 + p * K * nr,
                                                 bias != NULL ? bias_tail : NULL, C + m * (size_t)ldc + n0,
                                                 (size_t)ldc);
    }
    add_specials(M, A, lda, w, C, ldc);
}

/* Rows m0.. of one panel p (nc <= NR valid columns) through the f32 kernels:
 * full MR-row tiles, then the last 1..3 rows with the tail kernels. */
static void panel_rows_f32(size_t m0, size_t mb, size_t nc, size_t K, const float *A, int32_t lda,
                           const float *wp, const float *bp, float *C, int32_t ldc, size_t n0) {
    const size_t mr = US_GEMM_MR;
    size_t m = m0;
    for (; m + mr <= m0 + mb; m += mr)
        US_GEMM_UKERNEL(mr, nc, K, A + m * (size_t)lda, (size_t)lda, wp, bp, C + m * (size_t)ldc + n0, (size_t)ldc);
    const float *a = A + m * (size_t)lda;
    float *c = C + m * (size_t)ldc + n0;
    switch (m0 + mb - m) { /* the last M % MR rows */
    case 1: US_GEMM_UKERNEL_TAIL1(1, nc, K, a, (size_t)lda, wp, bp, c, (size_t)ldc); break;
    case 2: US_GEMM_UKERNEL_TAIL2(2, nc, K, a, (size_t)lda, wp, bp, c, (size_t)ldc); break;
    case 3: US_GEMM_UKERNEL_TAIL3(3, nc, K, a, (size_t)lda, wp, bp, c, (size_t)ldc); break;
    default: break;
    }
}

/* The bias the kernels read for panel p: NR floats, the last, partial panel
 * padded into tail (NR floats). NULL without a bias. */
static const float *panel_bias(const float *bias, size_t n0, size_t nc, float *tail) {
    if (bias == NULL) return NULL;
    if (nc == US_GEMM_NR) return bias + n0;
    memset(tail, 0, US_GEMM_NR * sizeof(float));
    memcpy(tail, bias + n0, nc * sizeof(float));
    return tail;
}

/* Rows of A per block: MC, a multiple of MR (see US_GEMM_A_BLOCK_BYTES). */
static size_t block_rows(size_t M, size_t K) {
    size_t mc = K > 0 ? US_GEMM_A_BLOCK_BYTES / (K * sizeof(float)) : M;
    return mc < US_GEMM_MR ? US_GEMM_MR : mc - mc % US_GEMM_MR;
}

/* One GEMM's operands, and the part of the work a call does: panels
 * [p0, p1) of the pack, every row. Each output is computed by exactly one
 * call, always by the same kernel in the same k order, so any split of the
 * panels (any thread count) gives the same bits. */
typedef struct {
    int32_t M, lda, ldc;
    const float *A, *bias;
    const us_gemm_weights *w;
    float *C;
    const float *row112;   /* f16, M == 1: the row of A times 2^112, or NULL */
    unsigned char *panels; /* f16, M >= 2: per-thread [K, NR] f32 buffers (+64 for alignment) */
    size_t panel_bytes;    /* the stride between those buffers */
    int32_t n_tasks;       /* the panels are cut into this many chunks */
} gemm_job;

static void gemm_f32_panels(const gemm_job *j, size_t p0, size_t p1) {
    const size_t nr = US_GEMM_NR, N = (size_t)j->w->n, K = (size_t)j->w->k;
    const size_t mc = block_rows((size_t)j->M, K);
    for (size_t m0 = 0; m0 < (size_t)j->M; m0 += mc) {
        const size_t mb = (size_t)j->M - m0 < mc ? (size_t)j->M - m0 : mc;
        for (size_t p = p0; p < p1; p++) {
            const size_t n0 = p * nr, nc = N - n0 < nr ? N - n0 : nr;
            float tail[US_GEMM_NR];
            panel_rows_f32(m0, mb, nc, K, j->A, j->lda, j->w->data + p * K * nr, panel_bias(j->bias, n0, nc, tail),
                           j->C, j->ldc, n0);
        }
    }
}

#if defined(US_GEMM_HAVE_WASMSIMD)
/* f16 pack, M == 1, panels [p0, p1): the 1x8 f16 kernel on the scaled row. */
static void gemm_f16_row_panels(const gemm_job *j, size_t p0, size_t p1) {
    const size_t nr = US_GEMM_NR, N = (size_t)j->w->n, K = (size_t)j->w->k;
    for (size_t p = p0; p < p1; p++) {
        const size_t n0 = p * nr, nc = N - n0 < nr ? N - n0 : nr;
        float tail[US_GEMM_NR];
        us_f32_f16w_gemm_ukernel_1x8__wasmsimd(1, nc, K, j->row112, K, j->w->data16 + p * K * nr,
                                               panel_bias(j->bias, n0, nc, tail), j->C + n0, (size_t)j->ldc);
    }
}

/* f16 pack, M >= 2, panels [p0, p1): each panel widened once into panel
 * (K x NR floats, 64-byte aligned) with the side list's halves written in,
 * then the f32 kernels over every row. */
static void gemm_f16_widen_panels(const gemm_job *j, size_t p0, size_t p1, float *panel) {
    const us_gemm_weights *w = j->w;
    const size_t nr = US_GEMM_NR, N = (size_t)w->n, K = (size_t)w->k;
    const size_t mc = block_rows((size_t)j->M, K);
    /* the side list, walked along with the panels: its first entry in p0 */
    size_t si0 = 0, lo = 0, hi = w->n_special;
    while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;
        if (w->special_at[mid] < p0 * K * nr) lo = mid + 1;
        else hi = mid;
    }
    si0 = lo;
    for (size_t m0 = 0; m0 < (size_t)j->M; m0 += mc) {
        const size_t mb = (size_t)j->M - m0 < mc ? (size_t)j->M - m0 : mc;
        size_t si = si0;
        for (size_t p = p0; p < p1; p++) {
            const size_t n0 = p * nr, nc = N - n0 < nr ? N - n0 : nr;
            us_f16_f32_vcvt__wasmsimd(K * nr, w->data16 + p * K * nr, panel);
            for (; si < w->n_special && w->special_at[si] < (p + 1) * K * nr; si++)
                panel[w->special_at[si] - p * K * nr] = us_f16_to_f32(w->special_half[si]);
            float tail[US_GEMM_NR];
            panel_rows_f32(m0, mb, nc, K, j->A, j->lda, panel, panel_bias(j->bias, n0, nc, tail), j->C, j->ldc, n0);
        }
    }
}
#endif

/* Panels per task: enough tasks for the threads to balance (a few each), each
 * at least ~1/4 MFLOP so that handing it out stays cheap. */
static int32_t gemm_tasks(size_t M, size_t panels, size_t K, int32_t threads) {
    if (threads <= 1 || panels <= 1) return 1;
    const size_t flop_per_panel = 2u * M * K * US_GEMM_NR;
    size_t by_work = flop_per_panel ? (panels * flop_per_panel) / (1u << 18) : 1;
    size_t tasks = (size_t)threads * 4u;
    if (tasks > by_work) tasks = by_work;
    if (tasks > panels) tasks = panels;
    return tasks < 1 ? 1 : (int32_t)tasks;
}

/* The task functions, one per path: binaryen inlines a kernel with one call
 * site into its caller, and V8 allocates registers per function, so each hot
 * loop gets a small function of its own (the f16 M = 1 kernel inlined into
 * a task that also held the other paths ran 1.5x slower). */
static void gemm_task_f32(void *ctx, int32_t task, int32_t thread) {
    (void)thread;
    const gemm_job *j = ctx;
    int64_t p0, p1;
    us_task_range(j->w->panels, j->n_tasks, task, &p0, &p1);
    gemm_f32_panels(j, (size_t)p0, (size_t)p1);
}

#if defined(US_GEMM_HAVE_WASMSIMD)
static void gemm_task_f16_row(void *ctx, int32_t task, int32_t thread) {
    (void)thread;
    const gemm_job *j = ctx;
    int64_t p0, p1;
    us_task_range(j->w->panels, j->n_tasks, task, &p0, &p1);
    gemm_f16_row_panels(j, (size_t)p0, (size_t)p1);
}

static void gemm_task_f16_widen(void *ctx, int32_t task, int32_t thread) {
    const gemm_job *j = ctx;
    int64_t p0, p1;
    us_task_range(j->w->panels, j->n_tasks, task, &p0, &p1);
    unsigned char *mem = j->panels + (size_t)thread * j->panel_bytes;
    gemm_f16_widen_panels(j, (size_t)p0, (size_t)p1,
                          (float *)(void *)(mem + ((64u - ((uintptr_t)mem & 63u)) & 63u)));
}
#endif

/* us_gemm_f32 over an f16 pack (SIMD128 paths; see above). Returns 0, or -1
 * when a buffer could not be allocated (the caller then takes the portable path). */
static int gemm_f16(us_threadpool *pool, gemm_job *j) {
#if defined(US_GEMM_HAVE_WASMSIMD)
    const us_gemm_weights *w = j->w;
    const size_t nr = US_GEMM_NR, K = (size_t)w->k;
    const int32_t threads = us_threadpool_threads(pool);
    int scalable = j->M == 1;
    for (size_t k = 0; scalable && k < K; k++) {
        const float x = j->A[k] < 0 ? -j->A[k] : j->A[k];
        scalable = !(x >= 0x1p16f && x <= FLT_MAX); /* NaN, inf: fine */
    }
    j->n_tasks = gemm_tasks((size_t)j->M, (size_t)w->panels, K, threads);
    if (scalable) {
        float stack_row[US_GEMM_F16_ROW_STACK];
        float *row = K <= US_GEMM_F16_ROW_STACK ? stack_row : malloc(K * sizeof(float));
        if (row != NULL) {
            for (size_t k = 0; k < K; k++) row[k] = j->A[k] * 0x1p112f; /* exact */
            j->row112 = row;
            us_parallel_for(pool, j->n_tasks, gemm_task_f16_row, j);
            if (row != stack_row) free(row);
            add_specials(1, j->A, j->lda, w, j->C, j->ldc);
            return 0;
        }
    }
    j->row112 = NULL;
    j->panel_bytes = (K * nr * sizeof(float) + 64u + 63u) & ~(size_t)63u;
    j->panels = malloc(j->panel_bytes * (size_t)threads); /* indexed by thread */
    if (j->panels == NULL) return -1;
    us_parallel_for(pool, j->n_tasks, gemm_task_f16_widen, j);
    free(j->panels);
    return 0;
#else
    (void)pool;
    (void)j;
    return -1;
#endif
}

void us_gemm_f32_parallel(us_threadpool *pool, int32_t M, const float *A, int32_t lda,
                          const us_gemm_weights *w, const float *bias, float *C, int32_t ldc) {
    if (M <= 0 || w->n == 0) return;
    gemm_job j = {M, lda, ldc, A, bias, w, C, NULL, NULL, 0, 1};
    if (w->data16 != NULL) {
        if (gemm_f16(pool, &j) != 0) gemm_f16_portable(M, A, lda, w, bias, C, ldc);
        return;
    }
    j.n_tasks = gemm_tasks((size_t)M, (size_t)w->panels, (size_t)w->k, us_threadpool_threads(pool));
    us_parallel_for(pool, j.n_tasks, gemm_task_f32, &j);
}

void us_gemm_f32(int32_t M, const float *A, int32_t lda, const us_gemm_weights *w,
                 const float *bias, float *C, int32_t ldc) {
    us_gemm_f32_parallel(NULL, M, A, lda, w, bias, C, ldc);
}
