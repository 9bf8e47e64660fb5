/* test_kernels.c — the f32 GEMM kernels against the scalar reference.
 *
 * us_gemm_f32 (whatever kernel this build selected: SIMD128, SIMD128 through
 * SIMDe, or portable scalar) is compared with us_f32_gemm_nt__scalar over edge
 * shapes: every M, N, K in {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 64, 67}
 * (smaller than, equal to and larger than the 4x8 tile and its 1-3 row
 * tails, and the 8-wide panels), with odd strides, with and without bias;
 * plus M = 0, N = 0, K = 0, a long K, a shape that spans several row blocks of
 * A, and one GPT-2-sized product. Every micro-kernel of the build is also
 * called directly, for every mr <= MR and nc <= NR, on a panel packed by hand
 * from the layout gemm.h documents. Every test checks that C outside its
 * [M, N] region is left bit for bit as it was.
 *
 * Tolerance, per element: |got - ref| <= 1e-5 * S + 1e-6, where
 * S = sum_k |a_k| |w_k| + |bias|. Both sides add the same rounded products
 * and may differ only in the order of summation (today's kernels keep k
 * order and match bit for bit, but gemm.h promises only rounding-level
 * agreement, leaving room for split-K or FMA kernels). Inputs are uniform in
 * [-1, 1), so rounding errors behave like a random walk: about
 * sqrt(K) * 2^-24 * S, which
 * is 3.3e-6 * S at K = 3072, our largest. 1e-5 leaves a 3x margin, yet a lost,
 * doubled or misplaced product (about S / K >= 3e-4 * S) is 30x over it. The
 * 1e-6 absolute term covers S == 0 (K = 0 without bias). The worst ratio
 * |got - ref| / S seen is printed at the end so the margin stays visible.
 *
 * Inputs are deterministic: a xorshift32 generator with fixed seeds. */
#include "kernels/gemm.h"
#include "kernels/vgelu.h"
#include "ops/ops.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* A value no kernel computes here, written around and between C's rows. */
static const float SENTINEL = -7777.25f;

static double worst_ratio; /* max |got - ref| / S over every element checked */

static float *alloc_random(size_t n) {
    float *p = malloc((n ? n : 1) * sizeof(float));
    if (p != NULL)
        for (size_t i = 0; i < n; i++) p[i] = rng_uniform();
    return p;
}

/* Runs one product C[M, N] = A[M, K] · Wᵀ (+ bias) through us_gemm_f32 and the
 * reference, with row strides lda >= K and ldc >= N, and checks every element
 * and the untouched padding. Returns 0 when all is well. */
static int check_gemm(int32_t M, int32_t N, int32_t K, int32_t lda, int32_t ldc, int with_bias) {
    const size_t a_len = (size_t)M * (size_t)lda, w_len = (size_t)N * (size_t)K;
    const size_t c_len = (size_t)M * (size_t)ldc;
    float *A = alloc_random(a_len), *W = alloc_random(w_len), *bias = alloc_random((size_t)N);
    float *got = malloc((c_len ? c_len : 1) * sizeof(float));
    float *ref = malloc((c_len ? c_len : 1) * sizeof(float));
    us_gemm_weights *pw = us_gemm_weights_new(W, N, K);
    int bad = 0;
    if (!A || !W || !bias || !got || !ref || !pw) {
        fprintf(stderr, "  out of memory\n");
        bad = 1;
        goto done;
    }
    CHECK(us_gemm_weights_n(pw) == N && us_gemm_weights_k(pw) == K);
    for (size_t i = 0; i < c_len; i++) got[i] = ref[i] = SENTINEL;
    /* The pack is a copy: scribbling on W after packing must not matter. */
    float *W_copy = malloc((w_len ? w_len : 1) * sizeof(float));
    if (W_copy == NULL) {
        bad = 1;
        goto done;
    }
    memcpy(W_copy, W, w_len * sizeof(float));
    for (size_t i = 0; i < w_len; i++) W[i] = 1e30f;

    us_gemm_f32(M, A, lda, pw, with_bias ? bias : NULL, got, ldc);
    us_f32_gemm_nt__scalar(M, N, K, A, lda, W_copy, K, with_bias ? bias : NULL, ref, ldc);

    for (int32_t m = 0; m < M && bad < 5; m++) {
        for (int32_t n = 0; n < ldc && bad < 5; n++) {
            const size_t at = (size_t)m * (size_t)ldc + (size_t)n;
            if (n >= N) { /* padding between rows: untouched */
                if (memcmp(&got[at], &SENTINEL, sizeof(float)) != 0) {
                    fprintf(stderr,
                            "  M=%d N=%d K=%d lda=%d ldc=%d: C[%d, %d] (padding) written\n", M,
                            N, K, lda, ldc, m, n);
                    bad++;
                }
                continue;
            }
            double s = with_bias ? fabs(bias[n]) : 0.0;
            for (int32_t k = 0; k < K; k++)
                s += fabs((double)A[(size_t)m * (size_t)lda + (size_t)k]) *
                     fabs((double)W_copy[(size_t)n * (size_t)K + (size_t)k]);
            const double diff = fabs((double)got[at] - (double)ref[at]);
            if (s > 0 && diff / s > worst_ratio) worst_ratio = diff / s;
            if (!(diff <= 1e-5 * s + 1e-6)) {
                fprintf(stderr,
                        "  M=%d N=%d K=%d lda=%d ldc=%d bias=%d: C[%d, %d] = %.9g, ref %.9g\n", M,
                        N, K, lda, ldc, with_bias, m, n, got[at], ref[at]);
                bad++;
            }
        }
    }
    free(W_copy);
done:
    us_gemm_weights_free(pw);
    free(A);
    free(W);
    free(bias);
    free(got);
    free(ref);
    return bad;
}

static const int32_t EDGE[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 64, 67};
#define N_EDGE ((int)(sizeof(EDGE) / sizeof(EDGE[0])))

/* The full cross-product M x N x K of EDGE (3375 shapes), tight strides,
 * bias on for odd-numbered shapes. */
static void test_edge_shapes_tight(void) {
    int failures = 0, shape = 0;
    for (int i = 0; i < N_EDGE; i++)
        for (int j = 0; j < N_EDGE; j++)
            for (int l = 0; l < N_EDGE; l++, shape++)
                failures += check_gemm(EDGE[i], EDGE[j], EDGE[l], EDGE[l], EDGE[j], shape & 1) != 0;
    CHECK(failures == 0);
}

/* The same cross-product with odd, wider strides (lda = K + 3, ldc = N + 5),
 * bias on for even-numbered shapes, so every shape runs both ways. */
static void test_edge_shapes_strided(void) {
    int failures = 0, shape = 0;
    for (int i = 0; i < N_EDGE; i++)
        for (int j = 0; j < N_EDGE; j++)
            for (int l = 0; l < N_EDGE; l++, shape++)
                failures += check_gemm(EDGE[i], EDGE[j], EDGE[l], EDGE[l] + 3, EDGE[j] + 5,
                                       !(shape & 1)) != 0;
    CHECK(failures == 0);
}

static void test_all_ones(void) {
    CHECK(check_gemm(1, 1, 1, 1, 1, 0) == 0);
    CHECK(check_gemm(1, 1, 1, 1, 1, 1) == 0);
    CHECK(check_gemm(1, 1, 1, 7, 9, 1) == 0);
}

/* M = 0 does nothing: A and C are never touched, so NULL is fine. */
static void test_m_zero(void) {
    float W[6] = {1, 2, 3, 4, 5, 6};
    us_gemm_weights *pw = us_gemm_weights_new(W, 2, 3);
    REQUIRE(pw != NULL);
    us_gemm_f32(0, NULL, 3, pw, NULL, NULL, 2);
    float C[2] = {SENTINEL, SENTINEL};
    us_gemm_f32(0, NULL, 3, pw, W, C, 2);
    CHECK(C[0] == SENTINEL && C[1] == SENTINEL);
    us_gemm_weights_free(pw);
    CHECK(check_gemm(0, 5, 7, 7, 5, 1) == 0);
}

/* N = 0 writes nothing; K = 0 gives C = bias (or zeros). */
static void test_n_or_k_zero(void) {
    CHECK(check_gemm(3, 0, 4, 4, 2, 1) == 0);
    CHECK(check_gemm(7, 9, 0, 1, 11, 1) == 0);
    CHECK(check_gemm(7, 9, 0, 1, 11, 0) == 0);
    float bias[3] = {1.5f, -2.0f, 0.25f}, C[6];
    us_gemm_weights *pw = us_gemm_weights_new(bias, 3, 0); /* no floats read */
    REQUIRE(pw != NULL);
    float A[1] = {0};
    us_gemm_f32(2, A, 0, pw, bias, C, 3);
    for (int i = 0; i < 6; i++) CHECK(C[i] == bias[i % 3]);
    us_gemm_f32(2, A, 0, pw, NULL, C, 3);
    for (int i = 0; i < 6; i++) CHECK(C[i] == 0.0f);
    us_gemm_weights_free(pw);
}

/* Exact small case worked by hand: integers, so any order gives the same. */
static void test_hand_worked(void) {
    const float A[2 * 3] = {1, 2, 3, 4, 5, 6};             /* [2, 3] */
    const float W[4 * 3] = {1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1}; /* [4, 3] */
    const float bias[4] = {10, 20, 30, 40};
    float C[2 * 5];
    for (int i = 0; i < 10; i++) C[i] = SENTINEL;
    us_gemm_weights *pw = us_gemm_weights_new(W, 4, 3);
    REQUIRE(pw != NULL);
    us_gemm_f32(2, A, 3, pw, bias, C, 5);
    const float want[2 * 5] = {11, 22, 33, 46, SENTINEL, 14, 25, 36, 55, SENTINEL};
    for (int i = 0; i < 10; i++) CHECK(C[i] == want[i]);
    us_gemm_weights_free(pw);
}

static void test_negative_shape_rejected(void) {
    float W[1] = {0};
    CHECK(us_gemm_weights_new(W, -1, 1) == NULL);
    CHECK(us_gemm_weights_new(W, 1, -1) == NULL);
    us_gemm_weights_free(NULL);
}

/* Long K, odd everything; a shape spanning several row blocks of A (K = 3072
 * makes blocks of about 40 rows); the GEMV shapes. */
static void test_long_k(void) {
    CHECK(check_gemm(37, 45, 1531, 1533, 47, 1) == 0);
    CHECK(check_gemm(13, 19, 1000, 1000, 19, 0) == 0);
    CHECK(check_gemm(101, 21, 3072, 3075, 23, 1) == 0);
    CHECK(check_gemm(1, 3072, 768, 768, 3072, 1) == 0);
    CHECK(check_gemm(1, 771, 3072, 3072, 773, 0) == 0);
}

/* One GPT-2-sized Linear: [128, 768] · [3072, 768]ᵀ. */
static void test_gpt2_mlp_shape(void) { CHECK(check_gemm(128, 3072, 768, 768, 3072, 1) == 0); }

/* One micro-kernel, called directly: every mr in [1, MR], nc in [1, NR] and a
 * range of kc, with a_stride and c_stride wider than needed, bias on and off.
 * The panel is packed here from gemm.h's description of the layout, so this
 * also pins the layout down. */
static int check_ukernel(us_f32_gemm_ukernel_fn ukernel, size_t MR, const char *name) {
    enum { NR = US_GEMM_NR };
    static const size_t KC[] = {0, 1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31};
    int bad = 0;
    for (size_t ki = 0; ki < sizeof(KC) / sizeof(KC[0]); ki++) {
        const size_t kc = KC[ki], a_stride = kc + 2, c_stride = NR + 3;
        float A[4 * 33], W[NR * 31], panel[31 * NR], bias[NR];
        float got[4 * (NR + 3)], ref[4 * (NR + 3)];
        for (size_t i = 0; i < MR * a_stride; i++) A[i] = rng_uniform();
        for (size_t i = 0; i < NR * kc; i++) W[i] = rng_uniform();
        for (size_t j = 0; j < NR; j++) bias[j] = rng_uniform();
        for (size_t mr = 1; mr <= MR; mr++) {
            for (size_t nc = 1; nc <= NR; nc++) {
                /* Panel: for each k, W[0..NR-1, k]; columns past nc are zero. */
                for (size_t k = 0; k < kc; k++)
                    for (size_t j = 0; j < NR; j++)
                        panel[k * NR + j] = j < nc ? W[j * kc + k] : 0.0f;
                /* A copy of exactly the floats the kernel may read, on the
                 * heap, so that the sanitizer sees any over-read. */
                const size_t a_len = (mr - 1) * a_stride + kc;
                float *a_exact = malloc((a_len ? a_len : 1) * sizeof(float));
                if (a_exact == NULL) return bad + 1;
                memcpy(a_exact, A, a_len * sizeof(float));
                for (int with_bias = 0; with_bias < 2; with_bias++) {
                    for (size_t i = 0; i < 4 * (NR + 3); i++) got[i] = ref[i] = SENTINEL;
                    ukernel(mr, nc, kc, a_exact, a_stride, panel, with_bias ? bias : NULL, got,
                            c_stride);
                    us_f32_gemm_nt__scalar((int32_t)mr, (int32_t)nc, (int32_t)kc, A,
                                           (int32_t)a_stride, W, (int32_t)kc,
                                           with_bias ? bias : NULL, ref, (int32_t)c_stride);
                    for (size_t i = 0; i < 4 * (NR + 3); i++) {
                        const size_t m = i / c_stride, n = i % c_stride;
                        double s = with_bias && n < nc ? fabs(bias[n]) : 0.0;
                        for (size_t k = 0; m < mr && n < nc && k < kc; k++)
                            s += fabs((double)A[m * a_stride + k]) * fabs((double)W[n * kc + k]);
                        const int inside = m < mr && n < nc;
                        const double diff = fabs((double)got[i] - (double)ref[i]);
                        const int ok = inside ? diff <= 1e-5 * s + 1e-6
                                              : memcmp(&got[i], &SENTINEL, sizeof(float)) == 0;
                        if (!ok && bad++ < 5)
                            fprintf(stderr,
                                    "  %s mr=%zu nc=%zu kc=%zu bias=%d: c[%zu, %zu] = %.9g, %s %.9g\n",
                                    name, mr, nc, kc, with_bias, m, n, got[i],
                                    inside ? "ref" : "untouched", inside ? ref[i] : SENTINEL);
                    }
                }
                free(a_exact);
            }
        }
    }
    return bad;
}

static void test_ukernels_direct(void) {
    CHECK(check_ukernel(us_f32_gemm_ukernel_4x8__scalar, 4, "4x8__scalar") == 0);
#if defined(US_GEMM_HAVE_WASMSIMD)
    CHECK(check_ukernel(us_f32_gemm_ukernel_4x8__wasmsimd, 4, "4x8__wasmsimd") == 0);
    CHECK(check_ukernel(us_f32_gemm_ukernel_3x8__wasmsimd, 3, "3x8__wasmsimd") == 0);
    CHECK(check_ukernel(us_f32_gemm_ukernel_2x8__wasmsimd, 2, "2x8__wasmsimd") == 0);
    CHECK(check_ukernel(us_f32_gemm_ukernel_1x8__wasmsimd, 1, "1x8__wasmsimd") == 0);
#endif
}

static void test_kernel_name(void) {
    const char *name = us_gemm_kernel_name();
    REQUIRE(name != NULL);
    printf("     kernel: %s\n", name);
    CHECK(strncmp(name, "f32_gemm_", 9) == 0);
}

/* us_gemm_weights_new_kn packs Wᵀ [K, N] (rows ldw apart) into the same pack
 * as us_gemm_weights_new packs W [N, K]: products agree bit for bit. */
static void test_pack_kn_equals_pack_nk(void) {
    static const int32_t sizes[][3] = {{1, 1, 1}, {3, 5, 7}, {4, 8, 16}, {9, 17, 33}, {2, 67, 31}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        const int32_t M = sizes[s][0], N = sizes[s][1], K = sizes[s][2], ldw = N + 3;
        float *A = alloc_random((size_t)M * K), *W = alloc_random((size_t)N * K);
        float *Wt = malloc(sizeof(float) * (size_t)K * ldw);
        float *c1 = malloc(sizeof(float) * (size_t)M * N), *c2 = malloc(sizeof(float) * (size_t)M * N);
        REQUIRE(A && W && Wt && c1 && c2);
        for (int32_t k = 0; k < K; k++)
            for (int32_t j = 0; j < ldw; j++) Wt[(size_t)k * ldw + j] = j < N ? W[(size_t)j * K + k] : 1e30f;
        us_gemm_weights *p1 = us_gemm_weights_new(W, N, K), *p2 = us_gemm_weights_new_kn(Wt, N, K, ldw);
        REQUIRE(p1 && p2);
        CHECK(us_gemm_weights_n(p2) == N && us_gemm_weights_k(p2) == K);
        us_gemm_f32(M, A, K, p1, NULL, c1, N);
        us_gemm_f32(M, A, K, p2, NULL, c2, N);
        CHECK(memcmp(c1, c2, sizeof(float) * (size_t)M * N) == 0);
        us_gemm_weights_free(p1);
        us_gemm_weights_free(p2);
        free(A); free(W); free(Wt); free(c1); free(c2);
    }
    CHECK(us_gemm_weights_new_kn(NULL, -1, 2, 0) == NULL);
}


/* ------------------------------------------------------ f16-stored weights */

static double worst_ratio_f16; /* max |got - ref| / S over the f16 products */

static int same_bits(float a, float b) { return memcmp(&a, &b, sizeof(float)) == 0; }

/* The exact value of a half from its fields, in double. */
static double half_value(uint16_t h) {
    const int e = (h >> 10) & 0x1f, m = h & 0x3ff;
    const double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(1024 + m, e - 25);
    return (h & 0x8000) ? -v : v;
}

/* Every one of the 65536 halves widens to its exact value (NaN payload kept)
 * and rounds back to itself (NaN: quieted, payload's top 9 bits kept). The
 * SIMD128 widening (vcvt) agrees with the scalar one on all of them. */
static void test_f16_conversions_exhaustive(void) {
    static uint16_t all[65536];
    static float wide[65536];
    int bad = 0;
    for (uint32_t i = 0; i < 65536; i++) {
        const uint16_t h = (uint16_t)i;
        all[i] = h;
        const float f = us_f16_to_f32(h);
        const double want = half_value(h);
        uint32_t bits;
        memcpy(&bits, &f, sizeof bits);
        if (isnan(want)) {
            if (!isnan(f) || ((bits >> 13) & 0x3ff) != (h & 0x3ffu) || (bits >> 31) != (h >> 15u)) bad++;
            if (us_f32_to_f16(f) != (uint16_t)(h | 0x0200u)) bad++;
        } else {
            if ((double)f != want || !signbit(f) != !signbit(want)) bad++;
            if (us_f32_to_f16(f) != h) bad++;
        }
        if (bad && bad < 4) fprintf(stderr, "  half %04x: %.9g, want %.9g, back %04x\n", (unsigned)h, f, want, (unsigned)us_f32_to_f16(f));
    }
    CHECK(bad == 0);
    us_f16_f32_vcvt__scalar(65536, all, wide);
    for (uint32_t i = 0; i < 65536; i++) CHECK(same_bits(wide[i], us_f16_to_f32((uint16_t)i)));
#if defined(US_GEMM_HAVE_WASMSIMD)
    /* n not a multiple of 8: the scalar tail too */
    us_f16_f32_vcvt__wasmsimd(65533, all, wide);
    int bad_simd = 0;
    for (uint32_t i = 0; i < 65533; i++) {
        const float want = us_f16_to_f32((uint16_t)i);
        bad_simd += isnan(want) ? !isnan(wide[i]) : !same_bits(wide[i], want);
    }
    CHECK(bad_simd == 0);
#endif
}

/* Rounding to nearest, ties to even, at every boundary: for each pair of
 * adjacent halves of the same sign, their midpoint (exact in f32) rounds to
 * the even one, and the floats just below and above it to the near one;
 * including 65504 / 65520 (-> inf), the subnormals, 2^-25 (-> 0) and f32
 * subnormals (-> 0). */
/* us_f32_f16_vcvt (scalar, and SIMD128 when built) equals us_f32_to_f16 bit
 * for bit: over every f32 bit pattern whose low 15 bits are one of a few
 * values (2^17 * 8 patterns: every exponent and sign, mantissas at, beside
 * and between the rounding ties), and every pattern near the edges of the
 * normal halves (2^-14, 65504 .. 65520, 2^-24 / 2^-25) and near zero; in
 * groups that mix fast and slow lanes, and with n not a multiple of 8. */
static void test_f32_to_f16_vcvt(void) {
    static const uint32_t low[] = {0x0000, 0x0fff, 0x1000, 0x1001, 0x2fff, 0x3000, 0x5a5a, 0x7fff};
    static const uint32_t edges[] = {0x38800000u, 0x477fe000u, 0x477ff000u, 0x33800000u, 0x33000000u, 0x00000000u,
                                     0x7f800000u, 0x7fc00000u};
    const size_t n = (size_t)(1u << 17) * 8 + sizeof edges / sizeof edges[0] * 2 * 4096;
    float *x = malloc(sizeof(float) * n);
    uint16_t *y = malloc(sizeof(uint16_t) * n);
    REQUIRE(x && y);
    size_t k = 0;
    for (uint32_t hi = 0; hi < (1u << 17); hi++)
        for (size_t l = 0; l < 8; l++) {
            const uint32_t bits = hi << 15 | low[(l + hi) % 8]; /* rotate: fast and slow lanes mix */
            memcpy(&x[k++], &bits, sizeof bits);
        }
    for (size_t e = 0; e < sizeof edges / sizeof edges[0]; e++)
        for (uint32_t d = 0; d < 4096; d++)
            for (uint32_t sgn = 0; sgn < 2; sgn++) {
                const uint32_t bits = (edges[e] - 2048u + d) ^ (sgn << 31);
                memcpy(&x[k++], &bits, sizeof bits);
            }
    REQUIRE(k == n);
    int bad = 0;
    us_f32_f16_vcvt__scalar(n, x, y);
    for (size_t i = 0; i < n; i++) bad += y[i] != us_f32_to_f16(x[i]);
    CHECK(bad == 0);
#if defined(US_GEMM_HAVE_WASMSIMD)
    for (size_t off = 0; off < 3; off++) {
        memset(y, 0, sizeof(uint16_t) * n);
        us_f32_f16_vcvt__wasmsimd(n - off * 5, x + off, y);
        int bad_simd = 0;
        for (size_t i = 0; i < n - off * 5; i++) {
            const int wrong = y[i] != us_f32_to_f16(x[off + i]);
            if (wrong && bad_simd < 3) fprintf(stderr, "  %.9g: %04x, want %04x\n", x[off + i], y[i], us_f32_to_f16(x[off + i]));
            bad_simd += wrong;
        }
        CHECK(bad_simd == 0);
    }
#endif
    free(x), free(y);
}

static void test_f32_to_f16_rounding(void) {
    int bad = 0;
    for (int sign = 0; sign < 2; sign++) {
        const uint16_t s = (uint16_t)(sign << 15);
        for (uint16_t h = 0; h < 0x7c00; h++) { /* h and h + 1 (0x7c00: inf, "65536") */
            const double lo = fabs(half_value(h)), hi = h + 1 == 0x7c00 ? 65536.0 : fabs(half_value((uint16_t)(h + 1)));
            const float mid = (float)((lo + hi) / 2);
            if ((double)mid != (lo + hi) / 2) bad++; /* must be exact */
            const float smid = sign ? -mid : mid;
            const uint16_t even = (h & 1) ? (uint16_t)(h + 1) : h;
            if (us_f32_to_f16(smid) != (uint16_t)(s | even)) bad++;
            if (us_f32_to_f16(nextafterf(smid, 0.0f)) != (uint16_t)(s | h)) bad++;
            if (us_f32_to_f16(nextafterf(smid, sign ? -INFINITY : INFINITY)) != (uint16_t)(s | (h + 1))) bad++;
        }
        const float sg = sign ? -1.0f : 1.0f;
        CHECK(us_f32_to_f16(sg * 0x1p-25f) == s);               /* halfway to 2^-24: even (0) */
        CHECK(us_f32_to_f16(sg * 0x1.000002p-25f) == (s | 1));  /* just above: 2^-24 */
        CHECK(us_f32_to_f16(sg * 0x1p-149f) == s);               /* f32 subnormal */
        CHECK(us_f32_to_f16(sg * 65504.0f) == (s | 0x7bff));
        CHECK(us_f32_to_f16(sg * 65519.996f) == (s | 0x7bff));
        CHECK(us_f32_to_f16(sg * 65520.0f) == (s | 0x7c00));
        CHECK(us_f32_to_f16(sg * 1e30f) == (s | 0x7c00));
        CHECK(us_f32_to_f16(sg * INFINITY) == (s | 0x7c00));
        CHECK(us_f32_to_f16(sg * 0.0f) == s);
    }
    CHECK(bad == 0);
    const uint16_t qnan = us_f32_to_f16(NAN);
    CHECK((qnan & 0x7c00) == 0x7c00 && (qnan & 0x3ff) != 0);
}

/* Weights for the f16 tests: uniform in [-1, 1), with every 97th value
 * replaced by a special one (values that round to subnormal halves, to
 * 65504, to inf, -0, NaN) when `specials` is set. */
static float *alloc_weights(size_t n, int specials) {
    static const float SPECIAL[] = {3e-5f, -1e-7f, 6.1e-5f, 65504.0f, -0.0f, 1e-9f, 70000.0f, -INFINITY, NAN};
    float *p = alloc_random(n);
    if (p != NULL && specials)
        for (size_t i = 0; i < n; i += 97) p[i] = SPECIAL[(i / 97) % (sizeof SPECIAL / sizeof SPECIAL[0])];
    return p;
}

/* The f16 pack of W (both layouts) holds exactly the rounded weights: its
 * unpacked values equal us_f16_to_f32(us_f32_to_f16(W)) bit for bit (NaN:
 * NaN), whatever moved to the side list. */
static void test_f16_pack_bit_exact(void) {
    static const int32_t sizes[][2] = {{1, 1}, {3, 5}, {8, 16}, {17, 33}, {67, 31}, {300, 97}};
    for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; t++)
        for (int specials = 0; specials < 2; specials++) {
            const int32_t N = sizes[t][0], K = sizes[t][1], ldw = N + 3;
            float *W = alloc_weights((size_t)N * K, specials), *Wt = malloc(sizeof(float) * (size_t)K * ldw);
            float *u1 = malloc(sizeof(float) * (size_t)N * (K + 2)), *u2 = malloc(sizeof(float) * (size_t)N * (K + 2));
            REQUIRE(W && Wt && u1 && u2);
            for (int32_t k = 0; k < K; k++)
                for (int32_t j = 0; j < ldw; j++) Wt[(size_t)k * ldw + j] = j < N ? W[(size_t)j * K + k] : 1e30f;
            us_gemm_weights *p1 = us_gemm_weights_new_f16(W, N, K), *p2 = us_gemm_weights_new_kn_f16(Wt, N, K, ldw);
            REQUIRE(p1 && p2);
            CHECK(us_gemm_weights_is_f16(p1) && us_gemm_weights_is_f16(p2));
            CHECK(us_gemm_weights_n(p1) == N && us_gemm_weights_k(p2) == K);
            const size_t panels_bytes = (size_t)(N + 7) / 8 * 8 * (size_t)K * 2;
            CHECK(us_gemm_weights_bytes(p1) >= panels_bytes && us_gemm_weights_bytes(p1) == us_gemm_weights_bytes(p2));
            us_gemm_weights_unpack(p1, u1, K + 2);
            us_gemm_weights_unpack(p2, u2, K + 2);
            int bad = 0;
            for (int32_t n = 0; n < N; n++)
                for (int32_t k = 0; k < K; k++) {
                    const float want = us_f16_to_f32(us_f32_to_f16(W[(size_t)n * K + k]));
                    const float g1 = u1[(size_t)n * (K + 2) + k], g2 = u2[(size_t)n * (K + 2) + k];
                    bad += isnan(want) ? !(isnan(g1) && isnan(g2)) : !(same_bits(g1, want) && same_bits(g2, want));
                }
            CHECK(bad == 0);
            us_gemm_weights *p32 = us_gemm_weights_new(W, N, K); /* f32 packs unpack to W itself */
            REQUIRE(p32 != NULL);
            CHECK(!us_gemm_weights_is_f16(p32) && us_gemm_weights_bytes(p32) == 2 * panels_bytes);
            us_gemm_weights_unpack(p32, u1, K + 2);
            for (int32_t n = 0; n < N; n++)
                CHECK(memcmp(u1 + (size_t)n * (K + 2), W + (size_t)n * K, sizeof(float) * (size_t)K) == 0);
            us_gemm_weights_free(p1), us_gemm_weights_free(p2), us_gemm_weights_free(p32);
            free(W), free(Wt), free(u1), free(u2);
        }
    CHECK(us_gemm_weights_new_f16(NULL, -1, 2) == NULL);
    CHECK(us_gemm_weights_new_kn_f16(NULL, 2, -1, 2) == NULL);
}

/* Unpacks p into W [N, K] and compares with ref's unpacking bit for bit (NaN:
 * any NaN). Returns the number of differing weights. */
static int packs_differ(const us_gemm_weights *p, const us_gemm_weights *ref) {
    const int32_t N = us_gemm_weights_n(ref), K = us_gemm_weights_k(ref);
    float *a = malloc(sizeof(float) * ((size_t)N * K + 1)), *b = malloc(sizeof(float) * ((size_t)N * K + 1));
    if (!a || !b) return -1;
    us_gemm_weights_unpack(p, a, K);
    us_gemm_weights_unpack(ref, b, K);
    int bad = 0;
    for (size_t i = 0; i < (size_t)N * K; i++) bad += isnan(b[i]) ? !isnan(a[i]) : !same_bits(a[i], b[i]);
    free(a), free(b);
    return bad;
}

/* A pack filled in place (us_gemm_weights_new_zero, then writes of
 * rectangles in both layouts, then us_gemm_weights_finish) equals the pack
 * made from the whole W at once: the same values, the same side list, the
 * same products bit for bit; reads of any rectangle return the unpacked
 * values; an edit after finishing (specials in, specials out) equals packing
 * the edited W. */
static void test_pack_read_write(void) {
    static const int32_t sizes[][2] = {{1, 1}, {3, 5}, {8, 16}, {17, 33}, {67, 31}};
    for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; t++)
        for (int f16 = 0; f16 < 2; f16++)
            for (int specials = 0; specials < 2; specials++) {
                const int32_t N = sizes[t][0], K = sizes[t][1];
                float *W = alloc_weights((size_t)N * K, specials), *Wt = malloc(sizeof(float) * (size_t)K * N);
                float *got = malloc(sizeof(float) * (size_t)N * K), *want = malloc(sizeof(float) * (size_t)N * K);
                float *A = alloc_random((size_t)5 * K), *C1 = malloc(sizeof(float) * 5 * N), *C2 = malloc(sizeof(float) * 5 * N);
                REQUIRE(W && Wt && got && want && A && C1 && C2);
                for (int32_t k = 0; k < K; k++)
                    for (int32_t n = 0; n < N; n++) Wt[(size_t)k * N + n] = W[(size_t)n * K + k];
                us_gemm_weights *ref = f16 ? us_gemm_weights_new_f16(W, N, K) : us_gemm_weights_new(W, N, K);
                us_gemm_weights *p = us_gemm_weights_new_zero(N, K, f16);
                REQUIRE(ref && p);
                CHECK(us_gemm_weights_is_f16(p) == f16 && us_gemm_weights_n(p) == N && us_gemm_weights_k(p) == K);
                us_gemm_weights_unpack(p, got, K);
                for (size_t i = 0; i < (size_t)N * K; i++) CHECK(got[i] == 0.0f);
                /* rows [0, n1) as W, in two column pieces; the rest as Wᵀ, by rows of k in two pieces */
                const int32_t n1 = N / 2, k1 = K / 3;
                us_gemm_weights_write(p, 0, n1, 0, k1, W, K);
                us_gemm_weights_write(p, 0, n1, k1, K - k1, W + k1, K);
                us_gemm_weights_write_t(p, 0, k1, n1, N - n1, Wt + n1, N);
                us_gemm_weights_write_t(p, k1, K - k1, n1, N - n1, Wt + (size_t)k1 * N + n1, N);
                REQUIRE(us_gemm_weights_finish(p) == 0);
                CHECK(packs_differ(p, ref) == 0);
                CHECK(us_gemm_weights_bytes(p) == us_gemm_weights_bytes(ref));
                for (int32_t M = 1; M <= 5; M += 4) {
                    us_gemm_f32(M, A, K, p, NULL, C1, N);
                    us_gemm_f32(M, A, K, ref, NULL, C2, N);
                    CHECK(memcmp(C1, C2, sizeof(float) * (size_t)M * N) == 0);
                }
                /* reads of rectangles, in both layouts */
                us_gemm_weights_unpack(ref, want, K);
                const int32_t r0 = N / 3, rr = N - N / 3 - N / 4, c0 = K / 4, cc = K - K / 4 - K / 5;
                us_gemm_weights_read(p, r0, rr, c0, cc, got, cc);
                int bad = 0;
                for (int32_t r = 0; r < rr; r++)
                    for (int32_t c = 0; c < cc; c++) {
                        const float w = want[(size_t)(r0 + r) * K + c0 + c], g = got[(size_t)r * cc + c];
                        bad += isnan(w) ? !isnan(g) : !same_bits(g, w);
                    }
                us_gemm_weights_read_t(p, c0, cc, r0, rr, got, rr);
                for (int32_t c = 0; c < cc; c++)
                    for (int32_t r = 0; r < rr; r++) {
                        const float w = want[(size_t)(r0 + r) * K + c0 + c], g = got[(size_t)c * rr + r];
                        bad += isnan(w) ? !isnan(g) : !same_bits(g, w);
                    }
                CHECK(bad == 0);
                /* an edit of a finished pack: new values (and specials) over a rectangle */
                for (int32_t r = 0; r < rr; r++)
                    for (int32_t c = 0; c < cc; c++) {
                        const size_t i = (size_t)(r0 + r) * K + c0 + c;
                        W[i] = (r + c) % 5 == 0 ? (c % 2 ? 1e-6f : INFINITY) : rng_uniform();
                        got[(size_t)r * cc + c] = W[i];
                    }
                us_gemm_weights_write(p, r0, rr, c0, cc, got, cc);
                REQUIRE(us_gemm_weights_finish(p) == 0);
                us_gemm_weights *ref2 = f16 ? us_gemm_weights_new_f16(W, N, K) : us_gemm_weights_new(W, N, K);
                REQUIRE(ref2 != NULL);
                CHECK(packs_differ(p, ref2) == 0);
                CHECK(us_gemm_weights_bytes(p) == us_gemm_weights_bytes(ref2));
                us_gemm_f32(1, A, K, p, NULL, C1, N);
                us_gemm_f32(1, A, K, ref2, NULL, C2, N);
                CHECK(memcmp(C1, C2, sizeof(float) * (size_t)N) == 0);
                us_gemm_weights_free(p), us_gemm_weights_free(ref), us_gemm_weights_free(ref2);
                free(W), free(Wt), free(got), free(want), free(A), free(C1), free(C2);
            }
    CHECK(us_gemm_weights_new_zero(-1, 2, 0) == NULL && us_gemm_weights_new_zero(2, -1, 1) == NULL);
    us_gemm_weights *empty = us_gemm_weights_new_zero(0, 3, 1);
    REQUIRE(empty != NULL);
    CHECK(us_gemm_weights_finish(empty) == 0);
    us_gemm_weights_free(empty);
}

/* us_gemm_f32 over an f16 pack against the reference run on the rounded
 * weights (unpacked), with check_gemm's tolerance and padding checks. A is
 * scaled by a_gain (>= 2^16 takes M = 1 off its fast path). Returns the
 * number of failures. */
static int check_gemm_f16(int32_t M, int32_t N, int32_t K, int32_t lda, int32_t ldc, int with_bias,
                          int specials, float a_gain) {
    const size_t a_len = (size_t)M * lda, c_len = (size_t)M * ldc;
    float *A = alloc_random(a_len), *W = alloc_weights((size_t)N * K, specials), *bias = alloc_random((size_t)N);
    float *Wr = malloc(sizeof(float) * ((size_t)N * K + 1));
    float *got = malloc(sizeof(float) * (c_len + 1)), *ref = malloc(sizeof(float) * (c_len + 1));
    us_gemm_weights *pw = W ? us_gemm_weights_new_f16(W, N, K) : NULL;
    int bad = 0;
    if (!A || !W || !bias || !Wr || !got || !ref || !pw) {
        fprintf(stderr, "  out of memory\n");
        bad = 1;
        goto done;
    }
    for (size_t i = 0; i < a_len; i++) A[i] *= a_gain;
    us_gemm_weights_unpack(pw, Wr, K);
    for (size_t i = 0; i < c_len; i++) got[i] = ref[i] = SENTINEL;
    us_gemm_f32(M, A, lda, pw, with_bias ? bias : NULL, got, ldc);
    us_f32_gemm_nt__scalar(M, N, K, A, lda, Wr, K, with_bias ? bias : NULL, ref, ldc);
    for (int32_t m = 0; m < M && bad < 5; m++)
        for (int32_t n = 0; n < ldc && bad < 5; n++) {
            const size_t at = (size_t)m * ldc + n;
            if (n >= N) {
                if (!same_bits(got[at], SENTINEL)) {
                    fprintf(stderr, "  f16 M=%d N=%d K=%d: C[%d, %d] (padding) written\n", M, N, K, m, n);
                    bad++;
                }
                continue;
            }
            double s = with_bias ? fabs(bias[n]) : 0.0;
            int special = 0;
            for (int32_t k = 0; k < K; k++) {
                const double wv = Wr[(size_t)n * K + k];
                special |= isnan(wv) || isinf(wv);
                s += fabs((double)A[(size_t)m * lda + k]) * fabs(wv);
            }
            if (special) { /* inf/NaN weights: the same class of result */
                if (!(isnan(got[at]) == isnan(ref[at]) && (isnan(ref[at]) || same_bits(got[at], ref[at])))) {
                    fprintf(stderr, "  f16 M=%d N=%d K=%d: C[%d, %d] = %g, ref %g\n", M, N, K, m, n, got[at], ref[at]);
                    bad++;
                }
                continue;
            }
            const double diff = fabs((double)got[at] - ref[at]);
            if (s > 0 && diff / s > worst_ratio_f16) worst_ratio_f16 = diff / s;
            if (!(diff <= 1e-5 * s + 1e-6)) {
                fprintf(stderr, "  f16 M=%d N=%d K=%d lda=%d ldc=%d bias=%d: C[%d, %d] = %.9g, ref %.9g\n", M, N,
                        K, lda, ldc, with_bias, m, n, got[at], ref[at]);
                bad++;
            }
        }
done:
    us_gemm_weights_free(pw);
    free(A), free(W), free(bias), free(Wr), free(got), free(ref);
    return bad;
}

/* M x N x K over edge sizes (M up to 33, so the f16 paths for M = 1, for
 * M >= 2 and their row tails), odd strides, bias on and off, with and
 * without special weights (side list). */
static void test_f16_gemm_edge_shapes(void) {
    static const int32_t MS[] = {1, 2, 3, 4, 5, 7, 9, 17, 33};
    int failures = 0, shape = 0;
    for (size_t i = 0; i < sizeof MS / sizeof MS[0]; i++)
        for (int j = 0; j < N_EDGE; j++)
            for (int l = 0; l < N_EDGE; l += 2, shape++) {
                const int32_t M = MS[i], N = EDGE[j], K = EDGE[l];
                const int wide = shape % 3 == 0;
                failures += check_gemm_f16(M, N, K, wide ? K + 3 : K, wide ? N + 5 : N, shape & 1, shape % 5 < 2, 1.0f) != 0;
            }
    CHECK(failures == 0);
}

/* Decode and prefill shapes of GPT-2 small; a long K for M = 1 (its row
 * buffer leaves the stack past 4096); M = 1 with |a| >= 2^16 (the widened-
 * panel path instead of the scaled row) and just below. */
static void test_f16_gemm_gpt2_and_large(void) {
    CHECK(check_gemm_f16(1, 3072, 768, 768, 3072, 1, 1, 1.0f) == 0);
    CHECK(check_gemm_f16(1, 771, 3072, 3075, 773, 0, 0, 1.0f) == 0);
    CHECK(check_gemm_f16(1, 37, 5000, 5000, 37, 1, 1, 1.0f) == 0);
    CHECK(check_gemm_f16(128, 768, 3072, 3072, 768, 1, 1, 1.0f) == 0);
    CHECK(check_gemm_f16(101, 21, 3072, 3075, 23, 1, 0, 1.0f) == 0);
    CHECK(check_gemm_f16(1, 45, 67, 67, 45, 1, 1, 70000.0f) == 0);
    CHECK(check_gemm_f16(1, 45, 67, 67, 45, 1, 1, 65535.0f) == 0);
}

/* Every half as a weight, K = 1 and A = 1 (so C = 0 + the widened weight,
 * bit for bit; NaN: NaN), through the M = 1 path, the M >= 2 path, and M = 1 with
 * A = 2^15 (C = 2^15 w exactly, unless it overflows) and A = 2^16 (off the
 * fast path). 3% of halves are subnormal: they stay in the panels. Then
 * the same with a few subnormals among many normals: the side list. */
static void test_f16_gemm_every_half(void) {
    enum { N = 65536 };
    float *W = malloc(sizeof(float) * N), *C = malloc(sizeof(float) * 4 * N);
    REQUIRE(W && C);
    for (uint32_t i = 0; i < N; i++) W[i] = us_f16_to_f32((uint16_t)i);
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) /* 0.3% subnormal: moved to the side list */
            for (uint32_t i = 0; i < N; i++) W[i] = i % 331 == 0 ? us_f16_to_f32((uint16_t)(1 + i % 1023)) : us_f16_to_f32((uint16_t)(0x3c00 + i % 1024));
        us_gemm_weights *pw = us_gemm_weights_new_f16(W, N, 1);
        REQUIRE(pw != NULL);
        CHECK(pass == 0 || us_gemm_weights_bytes(pw) > (size_t)N * 2);
        static const float gains[] = {1.0f, 0x1p15f, 0x1p16f};
        for (int g = 0; g < 3; g++)
            for (int32_t M = 1; M <= 4; M += 3) {
                const float A[4] = {gains[g], gains[g], gains[g], gains[g]};
                us_gemm_f32(M, A, 1, pw, NULL, C, N);
                int bad = 0;
                for (int32_t m = 0; m < M; m++)
                    for (uint32_t i = 0; i < N; i++) {
                        const float want = 0.0f + W[i] * gains[g], got = C[(size_t)m * N + i]; /* -0 sums to +0 */
                        const int wrong = isnan(want) ? !isnan(got) : !same_bits(got, want);
                        if (wrong && bad < 3) fprintf(stderr, "  half %04x: got %.9g, want %.9g\n", (unsigned)i, got, want);
                        bad += wrong;
                    }
                if (bad) fprintf(stderr, "  pass %d, A = %g, M = %d: %d wrong\n", pass, gains[g], M, bad);
                CHECK(bad == 0);
            }
        us_gemm_weights_free(pw);
    }
    free(W), free(C);
}

#if defined(US_GEMM_HAVE_WASMSIMD)
/* The 1x8 f16 micro-kernel, called directly on a hand-packed f16 panel (with
 * the 2 readable bytes before it), A prescaled by 2^112 as its contract
 * says: every nc, a range of kc, bias on and off; against the reference on
 * the widened weights, and nothing outside the row's nc floats written. */
static void test_f16_ukernel_direct(void) {
    static const size_t KC[] = {0, 1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31};
    int bad = 0;
    for (size_t ki = 0; ki < sizeof KC / sizeof KC[0]; ki++) {
        const size_t kc = KC[ki];
        uint16_t buf[1 + 31 * 8];
        uint16_t *panel = buf + 1;
        float W[8 * 31], A[31], As[31], bias[8], got[11], ref[11];
        buf[0] = 0xffff; /* the byte pair before the panel: must not matter */
        for (size_t k = 0; k < kc; k++) {
            A[k] = rng_uniform();
            As[k] = A[k] * 0x1p112f;
        }
        for (size_t j = 0; j < 8; j++) bias[j] = rng_uniform();
        for (size_t nc = 1; nc <= 8; nc++) {
            for (size_t k = 0; k < kc; k++)
                for (size_t j = 0; j < 8; j++) {
                    const uint16_t h = j < nc ? us_f32_to_f16(rng_uniform()) : 0;
                    panel[k * 8 + j] = h;
                    W[j * (kc ? kc : 1) + k] = us_f16_to_f32(h);
                }
            for (int with_bias = 0; with_bias < 2; with_bias++) {
                for (int i = 0; i < 11; i++) got[i] = ref[i] = SENTINEL;
                us_f32_f16w_gemm_ukernel_1x8__wasmsimd(1, nc, kc, As, kc, panel, with_bias ? bias : NULL, got, 11);
                us_f32_gemm_nt__scalar(1, (int32_t)nc, (int32_t)kc, A, (int32_t)kc, W, (int32_t)(kc ? kc : 1),
                                       with_bias ? bias : NULL, ref, 11);
                for (size_t i = 0; i < 11; i++)
                    if (!same_bits(got[i], ref[i]) && bad++ < 5) /* bit for bit: same products, k order */
                        fprintf(stderr, "  f16 1x8 nc=%zu kc=%zu bias=%d: c[%zu] = %.9g, ref %.9g\n", nc, kc,
                                with_bias, i, got[i], ref[i]);
            }
        }
    }
    CHECK(bad == 0);
}
#endif


/* ------------------------------------------------------------------ GELU */

/* The GELU kernel of this build (and the dispatcher) against the reference
 * us_gelu_tanh_f32: lengths around the SIMD widths (tails of 1-3, the 8-wide
 * main loop), one large; values over the whole range including the regions
 * where x^3 overflows and where 1 + tanh(u) cancels; specials exactly. */
static void test_vgelu(void) {
    const int64_t lens[] = {0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 100003};
    double worst = 0.0;
    for (size_t li = 0; li < sizeof lens / sizeof *lens; li++) {
        const int64_t n = lens[li];
        float *x = malloc(sizeof(float) * (size_t)(n + 2)), *ref = malloc(sizeof(float) * (size_t)(n + 2)),
              *got = malloc(sizeof(float) * (size_t)(n + 2));
        uint32_t st = 99u + (uint32_t)n;
        for (int64_t i = 0; i < n + 2; i++) {
            st = st * 1664525u + 1013904223u;
            const float u = (float)(st >> 8) / 16777216.0f; /* [0, 1) */
            const int kind = (int)(i % 4);
            x[i] = kind == 0 ? (u - 0.5f) * 8.0f                       /* the usual range */
                 : kind == 1 ? (u - 0.5f) * 60.0f                      /* the tails */
                 : kind == 2 ? (u - 0.5f) * 2e-3f                      /* near 0 */
                             : ldexpf(u - 0.5f, (int)(st % 120) - 60); /* any scale */
        }
        us_gelu_tanh_f32(ref, x, n);
        got[n] = got[n + 1] = 12345.0f; /* canaries: nothing past n is written */
        us_gelu_tanh(NULL, got, x, n);
        CHECK(got[n] == 12345.0f && got[n + 1] == 12345.0f);
        int ok = 1;
        for (int64_t i = 0; i < n; i++) {
            const double d = fabs((double)got[i] - (double)ref[i]);
            const double tol = 2e-6 * fabs((double)x[i]) + 1e-37;
            if (!(d <= tol)) {
                if (ok) fprintf(stderr, "  gelu(%.9g) = %.9g, reference %.9g\n", x[i], got[i], ref[i]);
                ok = 0;
            }
            if (x[i] != 0.0f && d / fabs((double)x[i]) > worst) worst = d / fabs((double)x[i]);
        }
        CHECK(ok);
        /* in place */
        us_gelu_tanh(NULL, x, x, n);
        CHECK(n == 0 || memcmp(x, got, sizeof(float) * (size_t)n) == 0);
        free(x), free(ref), free(got);
    }
    const float special[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, 1e30f, -1e30f, 3.4e38f, -3.4e38f, 1e-40f, -1e-40f};
    const size_t ns = sizeof special / sizeof *special;
    float ref[sizeof special / sizeof *special], got[sizeof special / sizeof *special];
    us_gelu_tanh_f32(ref, special, (int64_t)ns);
    us_gelu_tanh(NULL, got, special, (int64_t)ns);
    for (size_t i = 0; i < ns; i++) {
        if (isnan(ref[i])) CHECK(isnan(got[i]));
        else if (fabsf(special[i]) < 1e-30f) CHECK(fabsf(got[i] - ref[i]) <= 1e-37f);
        else CHECK(got[i] == ref[i] && signbit(got[i]) == signbit(ref[i]));
    }
    printf("gelu %s: worst |got - ref| / |x| %.3g (tolerance 2e-6)\n", us_vgelu_kernel_name(), worst);
}

int main(void) {
    US_RUN(test_pack_kn_equals_pack_nk);
    US_RUN(test_kernel_name);
    US_RUN(test_hand_worked);
    US_RUN(test_all_ones);
    US_RUN(test_m_zero);
    US_RUN(test_n_or_k_zero);
    US_RUN(test_negative_shape_rejected);
    US_RUN(test_ukernels_direct);
    US_RUN(test_edge_shapes_tight);
    US_RUN(test_edge_shapes_strided);
    US_RUN(test_long_k);
    US_RUN(test_gpt2_mlp_shape);
    US_RUN(test_f16_conversions_exhaustive);
    US_RUN(test_f32_to_f16_rounding);
    US_RUN(test_f32_to_f16_vcvt);
    US_RUN(test_f16_pack_bit_exact);
    US_RUN(test_pack_read_write);
#if defined(US_GEMM_HAVE_WASMSIMD)
    US_RUN(test_f16_ukernel_direct);
#endif
    US_RUN(test_f16_gemm_every_half);
    US_RUN(test_f16_gemm_edge_shapes);
    US_RUN(test_f16_gemm_gpt2_and_large);
    US_RUN(test_vgelu);
    printf("worst |got - ref| / sum|a||w|: %.3g f32, %.3g f16 (tolerance 1e-5)\n", worst_ratio, worst_ratio_f16);
    return us_harness_summary();
}
