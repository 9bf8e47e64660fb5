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

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* A value no kernel computes here, written around and between C's rows. */
static const float SENTINEL = -7777.25f;

static double worst_ratio; /* max |got - ref| / S over every element checked */

static uint32_t rng_state = 2463534242u;

static float rng_uniform(void) { /* xorshift32, mapped to [-1, 1) */
    uint32_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    rng_state = x;
    return (float)((double)(x >> 8) / 8388608.0 - 1.0);
}

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
    printf("worst |got - ref| / sum|a||w|: %.3g (tolerance 1e-5)\n", worst_ratio);
    return us_harness_summary();
}
