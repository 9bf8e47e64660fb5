/* gemm.c — packing of Linear weights and the f32 GEMM driver; the one place
 * that chooses which micro-kernel a build uses (op code never does).
 *
 * us_gemm_f32 walks C in tiles: for each block of rows of A small enough to
 * stay in the L2 cache, for each panel of NR = 8 columns of W (kept in L1 while
 * it is used), for each group of MR rows: one micro-kernel call over all of K.
 * Layout of the pack and the micro-kernel contract: see gemm.h. */
#include "kernels/gemm.h"

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
 * Portable: 4x8 scalar tiles (compilers may auto-vectorise), any mr. */
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
    int32_t finite;   /* f16 packs: no half is inf or NaN (the fast kernels apply) */
    float *data;      /* f32 packs: [panels, k, NR], 64-byte aligned, inside this
                         allocation; NULL for f16 packs */
    uint16_t *data16; /* f16 packs: the same layout in halves; NULL for f32 packs */
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
    w->finite = 1;
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

/* f16 packs: the f32 layout, each value rounded once to the nearest half. */
static void note_finite(us_gemm_weights *w) {
    const size_t count = (size_t)w->panels * US_GEMM_NR * (size_t)w->k;
    for (size_t i = 0; i < count; i++)
        if ((w->data16[i] & 0x7c00u) == 0x7c00u) {
            w->finite = 0;
            return;
        }
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
    note_finite(w);
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
    note_finite(w);
    return w;
}

void us_gemm_weights_free(us_gemm_weights *w) { free(w); }

int32_t us_gemm_weights_n(const us_gemm_weights *w) { return w->n; }
int32_t us_gemm_weights_k(const us_gemm_weights *w) { return w->k; }
int us_gemm_weights_is_f16(const us_gemm_weights *w) { return w->data16 != NULL; }

size_t us_gemm_weights_bytes(const us_gemm_weights *w) {
    return (size_t)w->panels * US_GEMM_NR * (size_t)w->k * (w->data16 != NULL ? 2u : 4u);
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
}

/* ------------------------------------------------------------------- driver */

/* us_gemm_f32 over an f16 pack: the same walk over C as for f32 packs (row
 * blocks, panels, groups of 4 rows), with the f16 kernels. SIMD128: 4x8 for
 * full groups and for 2-3 leftover rows (aliased), 1x8 for one leftover row
 * and for M = 1; the "_finite" kernels when the pack holds no inf or NaN. */
static void gemm_f16(int32_t M, const float *A, int32_t lda, const us_gemm_weights *w,
                     const float *bias, float *C, int32_t ldc) {
    const size_t nr = US_GEMM_NR, mr = 4;
    const size_t N = (size_t)w->n, K = (size_t)w->k;
#if defined(US_GEMM_HAVE_WASMSIMD)
    const us_f32_f16w_gemm_ukernel_fn ukernel = w->finite ? us_f32_f16w_gemm_ukernel_4x8__wasmsimd_finite
                                                          : us_f32_f16w_gemm_ukernel_4x8__wasmsimd;
    const us_f32_f16w_gemm_ukernel_fn ukernel1 = w->finite ? us_f32_f16w_gemm_ukernel_1x8__wasmsimd_finite
                                                           : us_f32_f16w_gemm_ukernel_1x8__wasmsimd;
#else
    const us_f32_f16w_gemm_ukernel_fn ukernel = us_f32_f16w_gemm_ukernel_4x8__scalar;
    const us_f32_f16w_gemm_ukernel_fn ukernel1 = us_f32_f16w_gemm_ukernel_4x8__scalar;
#endif
    size_t mc = K > 0 ? US_GEMM_A_BLOCK_BYTES / (K * sizeof(float)) : (size_t)M;
    mc = mc < mr ? mr : mc - mc % mr;
    for (size_t m0 = 0; m0 < (size_t)M; m0 += mc) {
        const size_t mb = (size_t)M - m0 < mc ? (size_t)M - m0 : mc;
        for (size_t p = 0; p < (size_t)w->panels; p++) {
            const size_t n0 = p * nr;
            const size_t nc = N - n0 < nr ? N - n0 : nr;
            const uint16_t *wp = w->data16 + p * K * nr; /* [K, NR] */
            float bias_tail[US_GEMM_NR] = {0.0f};
            const float *bp = NULL;
            if (bias != NULL) {
                if (nc == nr) {
                    bp = bias + n0;
                } else {
                    memcpy(bias_tail, bias + n0, nc * sizeof(float));
                    bp = bias_tail;
                }
            }
            size_t m = m0;
            for (; m + mr <= m0 + mb; m += mr)
                ukernel(mr, nc, K, A + m * (size_t)lda, (size_t)lda, wp, bp, C + m * (size_t)ldc + n0, (size_t)ldc);
            const size_t left = m0 + mb - m;
            if (left == 1)
                ukernel1(1, nc, K, A + m * (size_t)lda, (size_t)lda, wp, bp, C + m * (size_t)ldc + n0, (size_t)ldc);
            else if (left > 1)
                ukernel(left, nc, K, A + m * (size_t)lda, (size_t)lda, wp, bp, C + m * (size_t)ldc + n0, (size_t)ldc);
        }
    }
}

void us_gemm_f32(int32_t M, const float *A, int32_t lda, const us_gemm_weights *w,
                 const float *bias, float *C, int32_t ldc) {
    const size_t nr = US_GEMM_NR, mr = US_GEMM_MR;
    const size_t N = (size_t)w->n, K = (size_t)w->k;
    if (M <= 0 || N == 0) return;
    if (w->data16 != NULL) {
        gemm_f16(M, A, lda, w, bias, C, ldc);
        return;
    }

    size_t mc = K > 0 ? US_GEMM_A_BLOCK_BYTES / (K * sizeof(float)) : (size_t)M;
    mc = mc < mr ? mr : mc - mc % mr;

    for (size_t m0 = 0; m0 < (size_t)M; m0 += mc) {
        const size_t mb = (size_t)M - m0 < mc ? (size_t)M - m0 : mc;
        for (size_t p = 0; p < (size_t)w->panels; p++) {
            const size_t n0 = p * nr;
            const size_t nc = N - n0 < nr ? N - n0 : nr;
            const float *wp = w->data + p * K * nr; /* [K, NR] */
            /* Kernels read NR bias floats: pad the last, partial panel. */
            float bias_tail[US_GEMM_NR] = {0.0f};
            const float *bp = NULL;
            if (bias != NULL) {
                if (nc == nr) {
                    bp = bias + n0;
                } else {
                    memcpy(bias_tail, bias + n0, nc * sizeof(float));
                    bp = bias_tail;
                }
            }
            size_t m = m0;
            for (; m + mr <= m0 + mb; m += mr)
                US_GEMM_UKERNEL(mr, nc, K, A + m * (size_t)lda, (size_t)lda, wp, bp,
                                C + m * (size_t)ldc + n0, (size_t)ldc);
            const float *a = A + m * (size_t)lda;
            float *c = C + m * (size_t)ldc + n0;
            switch (m0 + mb - m) { /* the last M % MR rows */
            case 1: US_GEMM_UKERNEL_TAIL1(1, nc, K, a, (size_t)lda, wp, bp, c, (size_t)ldc); break;
            case 2: US_GEMM_UKERNEL_TAIL2(2, nc, K, a, (size_t)lda, wp, bp, c, (size_t)ldc); break;
            case 3: US_GEMM_UKERNEL_TAIL3(3, nc, K, a, (size_t)lda, wp, bp, c, (size_t)ldc); break;
            default: break;
            }
        }
    }
}
