/* test_backward.c — the backward ops, the cross-entropy loss and the optimizer
 * (src/ops/ops_backward.h, src/train/adamw.h).
 *
 * How gradients are checked. Every op's gradient is compared with central
 * finite differences of a double-precision forward written here: for a
 * random dout, L(x) = sum dout * f(x), and
 *     ref_i = (L(x + h e_i) - L(x - h e_i)) / (2 h),   h = 1e-5 (1 + |x_i|).
 * In double this is accurate to ~1e-9 of the gradient's scale (truncation
 * h^2 |f'''| / 6 ~ 1e-11, cancellation 1e-16 |L| / h ~ 1e-10 for |L| ~ 10),
 * so what the comparison measures is the f32 backward's own rounding and
 * the rounding of the f32 activations it is given (pattern, mean, rstd, y).
 *
 * Tolerance (check_grad), per element of a gradient tensor:
 *     |got - ref| <= 1e-4 |ref| + 1e-5 max|ref| + 1e-9.
 * Each f32 gradient element here is built from at most a few dozen rounded
 * products (u = 6e-8 each) plus one rounding per saved activation, so its
 * error is below ~2e-6 of the size of the terms it adds up. Many elements
 * are small differences of larger terms (LayerNorm's dinp, softmax, attention
 * scores), so the error must be measured against the size of those terms,
 * for which the tensor's max|ref| stands in: 1e-5 of it leaves a margin of
 * 5-10x. A real mistake (a lost term, a sign, a transposed index, a missing
 * 1/sqrt(hs)) moves elements by a sizeable fraction of max|ref|, 1000x more.
 * The 1e-4 |ref| term absorbs the relative error of large elements, and
 * 1e-9 lets a tensor that is all zeros (LayerNorm of C = 1) compare. Where
 * an element can be far smaller than its terms for a reason of the op's own
 * (LayerNorm of C = 2), the test passes the terms' size in (check_grad_terms). The
 * worst error / tolerance ratio seen is printed at the end, so the margin
 * stays visible. Elementwise activations use their own bound (see there).
 *
 * Also checked: the fast GEMM paths (matmul, attention) against their scalar
 * references over edge shapes; accumulation (two calls on zeroed buffers
 * give twice one call, see check_doubled); NULL gradients skipping work
 * without changing the others;
 * the PyTorch conventions at special values (ReLU at 0 and NaN, masked
 * softmax entries, ignored targets); AdamW and clipping against numbers
 * computed with torch 1.13 and pasted below (no Python needed to run).
 *
 * No files, little memory: runs natively under ASan + UBSan and as WASI. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ops/ops.h"
#include "ops/ops_backward.h"
#include "train/adamw.h"

/* ---------------------------------------------------------------- helpers */

static int32_t rng_int(int32_t n) { /* [0, n) */
    return (int32_t)((rng_uniform() + 1.0f) * 0.5f * (float)n) % n;
}

/* Every test allocation is recorded and freed after the test (by RUN), so a
 * REQUIRE that returns early leaks nothing under LeakSanitizer. */
#define MAX_ALLOCS 4096
static void *allocs[MAX_ALLOCS];
static int n_allocs;

static void *talloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size);
    if (!p || n_allocs == MAX_ALLOCS) {
        fprintf(stderr, "test_backward: out of memory or too many allocations\n");
        exit(2);
    }
    allocs[n_allocs++] = p;
    return p;
}
static float *fzeros(size_t n) { return talloc(n, sizeof(float)); }
static double *dzeros(size_t n) { return talloc(n, sizeof(double)); }
static void free_all(void) {
    while (n_allocs > 0) free(allocs[--n_allocs]);
}
#define RUN(fn)         \
    do {                \
        US_RUN(fn);     \
        free_all();     \
    } while (0)

static float *frand(size_t n, float scale) {
    float *p = fzeros(n);
    for (size_t i = 0; i < n; i++) p[i] = scale * rng_uniform();
    return p;
}
static double *widen(const float *f, size_t n) {
    double *d = dzeros(n);
    for (size_t i = 0; i < n; i++) d[i] = f[i];
    return d;
}

static double worst_fd;    /* max (error / tolerance) over every finite-difference check */
static double worst_fast;  /* the same for fast-vs-scalar checks */
/* fast-path elements equal to their scalar reference bit for bit: [0] matmul, [1] attention */
static int64_t n_exact_fast[2], n_fast[2];

/* got[i] against ref[i] with tol[i]; prints the first few misses with `label`. */
static int check_tol(const char *label, const float *got, const double *ref, const double *tol, size_t n,
                     double *worst) {
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        const double err = fabs((double)got[i] - ref[i]);
        if (!(err <= tol[i])) {
            if (bad < 4)
                fprintf(stderr, "  %s[%zu]: got %.9g, want %.9g (|diff| %.3g > tol %.3g)\n", label, i, got[i],
                        ref[i], err, tol[i]);
            bad++;
        } else if (tol[i] > 0 && err / tol[i] > *worst) {
            *worst = err / tol[i];
        }
    }
    if (bad) {
        fprintf(stderr, "  %s: %d of %zu elements off\n", label, bad, n);
        us_h_cur_failed = 1;
    }
    return bad == 0;
}

/* The rule in the file comment: 1e-4 |ref| + 1e-5 max(max|ref|, terms) + 1e-9,
 * where `terms` (0 when max|ref| stands for it) is the size of the terms an
 * element is the difference of, when the gradient is much smaller than them. */
static int check_grad_terms(const char *label, const float *got, const double *ref, size_t n, double terms) {
    double mx = terms;
    for (size_t i = 0; i < n; i++) mx = fabs(ref[i]) > mx ? fabs(ref[i]) : mx;
    double *tol = malloc(sizeof(double) * (n ? n : 1));
    if (!tol) exit(2);
    for (size_t i = 0; i < n; i++) tol[i] = 1e-4 * fabs(ref[i]) + 1e-5 * mx + 1e-9;
    const int ok = check_tol(label, got, ref, tol, n, &worst_fd);
    free(tol);
    return ok;
}
static int check_grad(const char *label, const float *got, const double *ref, size_t n) {
    return check_grad_terms(label, got, ref, n, 0.0);
}

/* Accumulation: `twice` (two calls on zeroed buffers) must be 2 * `once`.
 * Exactly, when a call adds one float to each element (x + x = 2x): the fast
 * matmul and attention, elementwise ops, softmax, LayerNorm's dinp. Only to
 * rounding when a call adds several terms to an element one by one, since the
 * second call adds them onto a larger sum (LayerNorm's dweight and dbias, row
 * by row; embedding rows with repeated ids; the scalar attention's dq, dk,
 * dv): |twice - 2 once| <= 1e-5 (|2 once| + max|2 once|), far below the
 * |once| by which `=` instead of `+=` (or adding twice) would miss. */
static int64_t n_doubled, n_doubled_exact;
static int check_doubled(const char *label, const float *once, const float *twice, size_t n) {
    double mx = 0.0;
    for (size_t i = 0; i < n; i++) mx = fabs(2.0 * once[i]) > mx ? fabs(2.0 * once[i]) : mx;
    for (size_t i = 0; i < n; i++) {
        const double want = 2.0 * once[i];
        n_doubled++;
        n_doubled_exact += twice[i] == 2.0f * once[i];
        if (!(fabs(twice[i] - want) <= 1e-5 * (fabs(want) + mx))) {
            fprintf(stderr, "  %s[%zu]: two calls give %.9g, one call %.9g\n", label, i, twice[i], once[i]);
            us_h_cur_failed = 1;
            return 0;
        }
    }
    return 1;
}

static int same_bits(const float *a, const float *b, size_t n) { return memcmp(a, b, n * sizeof(float)) == 0; }

/* ref[i] = dL/dx[i] by central differences; x is perturbed in place and
 * restored. Non-finite entries (masked -inf scores) get 0. */
typedef double (*loss_fn)(const void *ctx);
static void fd_grad(double *ref, double *x, size_t n, loss_fn loss, const void *ctx) {
    for (size_t i = 0; i < n; i++) {
        const double x0 = x[i];
        if (!isfinite(x0)) {
            ref[i] = 0.0;
            continue;
        }
        const double h = 1e-5 * (1.0 + fabs(x0)), xp = x0 + h, xm = x0 - h;
        x[i] = xp;
        const double lp = loss(ctx);
        x[i] = xm;
        const double lm = loss(ctx);
        x[i] = x0;
        ref[i] = (lp - lm) / (xp - xm);
    }
}

/* ---------------------------------------------------------------- LayerNorm */

/* Bit-for-bit: forward_stats and us_layernorm_f32 run the same arithmetic. */
static void test_layernorm_stats_bitwise(void) {
    static const int32_t shapes[][2] = {{1, 1}, {3, 5}, {4, 8}, {2, 17}, {7, 64}, {1, 768}, {5, 3}};
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const int32_t N = shapes[si][0], C = shapes[si][1];
        const size_t NC = (size_t)N * C;
        float *x = frand(NC, 3.0f), *w = frand(C, 1.0f), *b = frand(C, 1.0f);
        for (size_t i = 0; i < NC; i++) x[i] += 10.0f; /* a mean far from 0 */
        for (int affine = 0; affine < 2; affine++) {
            float *out = fzeros(NC), *ref = fzeros(NC), *mean = fzeros(N), *rstd = fzeros(N);
            us_layernorm_forward_stats(out, mean, rstd, x, affine ? w : NULL, affine ? b : NULL, N, C, 1e-5f);
            us_layernorm_f32(ref, x, affine ? w : NULL, affine ? b : NULL, N, C, 1e-5f);
            CHECK(same_bits(out, ref, NC));
            for (int32_t r = 0; r < N; r++) { /* the stats themselves, against double */
                double mu = 0, var = 0;
                for (int32_t c = 0; c < C; c++) mu += x[(size_t)r * C + c];
                mu /= C;
                for (int32_t c = 0; c < C; c++) var += (x[(size_t)r * C + c] - mu) * (x[(size_t)r * C + c] - mu);
                var /= C;
                CHECK_NEAR(mean[r], mu, 1e-6 * fabs(mu));
                CHECK_NEAR(rstd[r], 1.0 / sqrt(var + 1e-5f), 1e-6 / sqrt(var + 1e-5f));
            }
        }
    }
}

typedef struct {
    int32_t N, C;
    double eps;
    double *x, *w, *b, *dout; /* w, b NULL without affine */
} ln_ctx;

static double ln_loss(const void *p) {
    const ln_ctx *c = p;
    double L = 0.0;
    for (int32_t r = 0; r < c->N; r++) {
        const double *x = c->x + (size_t)r * c->C;
        double mu = 0.0, var = 0.0;
        for (int32_t i = 0; i < c->C; i++) mu += x[i];
        mu /= c->C;
        for (int32_t i = 0; i < c->C; i++) var += (x[i] - mu) * (x[i] - mu);
        var /= c->C;
        const double rs = 1.0 / sqrt(var + c->eps);
        for (int32_t i = 0; i < c->C; i++) {
            double y = (x[i] - mu) * rs;
            if (c->w) y *= c->w[i];
            if (c->b) y += c->b[i];
            L += c->dout[(size_t)r * c->C + i] * y;
        }
    }
    return L;
}

static void test_layernorm_backward(void) {
    static const int32_t shapes[][2] = {{1, 1}, {1, 2}, {3, 5}, {2, 8}, {4, 13}, {1, 33}, {6, 1}};
    char label[96];
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (int affine = 0; affine < 2; affine++) {
            const int32_t N = shapes[si][0], C = shapes[si][1];
            const size_t NC = (size_t)N * C;
            const float eps = 1e-5f;
            float *x = frand(NC, 2.0f), *dout = frand(NC, 1.0f);
            float *w = affine ? frand(C, 1.0f) : NULL, *b = affine ? frand(C, 1.0f) : NULL;
            for (size_t i = 0; i < NC; i++) x[i] += 0.5f;
            float *out = fzeros(NC), *mean = fzeros(N), *rstd = fzeros(N);
            us_layernorm_forward_stats(out, mean, rstd, x, w, b, N, C, eps);

            float *dx = fzeros(NC), *dw = fzeros(C), *db = fzeros(C);
            float *dx2 = fzeros(NC), *dw2 = fzeros(C), *db2 = fzeros(C);
            us_layernorm_backward(dx, affine ? dw : NULL, affine ? db : NULL, dout, x, w, mean, rstd, N, C);
            for (int k = 0; k < 2; k++)
                us_layernorm_backward(dx2, affine ? dw2 : NULL, affine ? db2 : NULL, dout, x, w, mean, rstd, N, C);

            ln_ctx c = {N, C, eps, widen(x, NC), affine ? widen(w, C) : NULL, affine ? widen(b, C) : NULL,
                        widen(dout, NC)};
            double *ref = dzeros(NC > (size_t)C ? NC : (size_t)C);
            snprintf(label, sizeof label, "layernorm N=%d C=%d affine=%d dinp", N, C, affine);
            fd_grad(ref, c.x, NC, ln_loss, &c);
            /* dinp = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)) can be far
             * smaller than its terms (C = 2: the output is +-1 whatever x is, and
             * the gradient ~eps), so measure against rstd * max|dxhat|. */
            double terms = 0.0;
            for (int32_t r = 0; r < N; r++)
                for (int32_t i = 0; i < C; i++) {
                    const double t = rstd[r] * fabs(dout[(size_t)r * C + i] * (w ? w[i] : 1.0f));
                    terms = t > terms ? t : terms;
                }
            check_grad_terms(label, dx, ref, NC, terms);
            check_doubled(label, dx, dx2, NC);
            if (affine) {
                snprintf(label, sizeof label, "layernorm N=%d C=%d dweight", N, C);
                fd_grad(ref, c.w, C, ln_loss, &c);
                check_grad(label, dw, ref, C);
                check_doubled(label, dw, dw2, C);
                snprintf(label, sizeof label, "layernorm N=%d C=%d dbias", N, C);
                fd_grad(ref, c.b, C, ln_loss, &c);
                check_grad(label, db, ref, C);
                check_doubled(label, db, db2, C);
                /* dinp = NULL skips dinp and changes nothing else */
                float *dw3 = fzeros(C), *db3 = fzeros(C);
                us_layernorm_backward(NULL, dw3, db3, dout, x, w, mean, rstd, N, C);
                CHECK(same_bits(dw3, dw, C) && same_bits(db3, db, C));
            }
        }
}

/* ---------------------------------------------------------------- activations */

static double f_gelu_tanh(double x) {
    return 0.5 * x * (1.0 + tanh(0.79788456080286535588 * (x + 0.044715 * x * x * x)));
}
static double f_gelu_erf(double x) { return 0.5 * x * (1.0 + erf(x * 0.70710678118654752440)); }
static double f_relu(double x) { return x > 0 ? x : 0.0; }
static double f_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

typedef void (*act_bwd)(float *, const float *, const float *, int64_t);
typedef void (*act_fwd)(float *, const float *, int64_t);
static const struct {
    const char *name;
    act_bwd bwd;
    act_fwd fwd;     /* non-NULL: the backward takes the forward's output */
    double (*f)(double);
} ACTS[] = {
    {"gelu_tanh", us_gelu_tanh_backward, NULL, f_gelu_tanh},
    {"gelu_erf", us_gelu_erf_backward, NULL, f_gelu_erf},
    {"relu", us_relu_backward, NULL, f_relu},
    {"tanh", us_tanh_backward, us_tanh_f32, tanh},
    {"sigmoid", us_sigmoid_backward, us_sigmoid_f32, f_sigmoid},
};

/* Elementwise ops: ref_i = dout_i (f(x_i + h) - f(x_i - h)) / 2h (the
 * finite difference of L, whose other terms cancel exactly). Tolerance
 * 1e-5 |ref| + 1e-6 |dout| (1 + x^2): the f32 derivative is a few roundings of
 * O(1) terms, except that 1 - t^2 (t = tanh, or y given to tanh's backward)
 * loses its relative accuracy as |t| -> 1, an absolute error of ~2u = 1.2e-7,
 * which GELU-tanh multiplies by 0.4 |x| (1 + 0.134 x^2) <= 14 for |x| <= 6:
 * 1.7e-6 |dout| against an allowance of 3.7e-5 |dout| there. */
static void test_activations_backward(void) {
    static const int64_t sizes[] = {1, 3, 7, 8, 33};
    char label[64];
    for (size_t a = 0; a < sizeof ACTS / sizeof ACTS[0]; a++)
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
            const int64_t n = sizes[si];
            float *x = frand((size_t)n, 6.0f), *dout = frand((size_t)n, 1.0f);
            for (int64_t i = 0; i < n; i++) /* keep ReLU's kink far from the differences */
                if (fabsf(x[i]) < 1e-2f) x[i] = 0.5f;
            const float *arg = x;
            if (ACTS[a].fwd) {
                float *y = fzeros((size_t)n);
                ACTS[a].fwd(y, x, n);
                arg = y;
            }
            float *dx = fzeros((size_t)n), *dx2 = fzeros((size_t)n);
            ACTS[a].bwd(dx, arg, dout, n);
            ACTS[a].bwd(dx2, arg, dout, n);
            ACTS[a].bwd(dx2, arg, dout, n);
            double *ref = dzeros((size_t)n), *tol = dzeros((size_t)n);
            for (int64_t i = 0; i < n; i++) {
                const double x0 = x[i], h = 1e-5 * (1.0 + fabs(x0));
                ref[i] = dout[i] * (ACTS[a].f(x0 + h) - ACTS[a].f(x0 - h)) / ((x0 + h) - (x0 - h));
                tol[i] = 1e-5 * fabs(ref[i]) + 1e-6 * fabs(dout[i]) * (1.0 + x0 * x0);
            }
            snprintf(label, sizeof label, "%s n=%d", ACTS[a].name, (int)n);
            check_tol(label, dx, ref, tol, (size_t)n, &worst_fd);
            check_doubled(label, dx, dx2, (size_t)n);
        }
}

/* PyTorch's values at the edges: ReLU's gradient is 0 at 0 and passes NaN
 * through (threshold_backward tests x <= 0); saturated activations give
 * exactly dout or 0. */
static void test_activations_special_values(void) {
    const float x[] = {0.0f, -0.0f, NAN, INFINITY, -INFINITY, 2.0f, -2.0f};
    const float d[] = {1.5f, 1.5f, 1.5f, 1.5f, 1.5f, 1.5f, 1.5f};
    float g[7] = {0};
    us_relu_backward(g, x, d, 7);
    CHECK(g[0] == 0.0f && g[1] == 0.0f && g[2] == 1.5f && g[3] == 1.5f && g[4] == 0.0f && g[5] == 1.5f &&
          g[6] == 0.0f);

    const float big[] = {20.0f, -20.0f, 1e4f, -1e4f};
    const float ones[] = {1, 1, 1, 1};
    float gt[4] = {0}, ge[4] = {0};
    us_gelu_tanh_backward(gt, big, ones, 4);
    us_gelu_erf_backward(ge, big, ones, 4);
    CHECK(gt[0] == 1.0f && gt[1] == 0.0f && gt[2] == 1.0f && gt[3] == 0.0f);
    CHECK(ge[0] == 1.0f && ge[1] == 0.0f && ge[2] == 1.0f && ge[3] == 0.0f);
    /* gelu'(0) = 0.5 for both forms */
    float z = 0.0f, one = 1.0f, g0 = 0.0f, g1 = 0.0f;
    us_gelu_tanh_backward(&g0, &z, &one, 1);
    us_gelu_erf_backward(&g1, &z, &one, 1);
    CHECK(g0 == 0.5f && g1 == 0.5f);

    const float sat[] = {1.0f, -1.0f, 0.0f};
    float th[3] = {0}, sg[3] = {0};
    us_tanh_backward(th, sat, ones, 3);  /* y = +-1: 0; y = 0: 1 */
    CHECK(th[0] == 0.0f && th[1] == 0.0f && th[2] == 1.0f);
    const float sy[] = {1.0f, 0.0f, 0.5f};
    us_sigmoid_backward(sg, sy, ones, 3); /* y = 1 or 0: 0; y = 0.5: 0.25 */
    CHECK(sg[0] == 0.0f && sg[1] == 0.0f && sg[2] == 0.25f);
}

/* ---------------------------------------------------------------- softmax */

typedef struct {
    int64_t outer, inner;
    int32_t dim;
    double *x, *dout;
} sm_ctx;

static double sm_loss(const void *p) {
    const sm_ctx *c = p;
    double L = 0.0;
    for (int64_t o = 0; o < c->outer; o++)
        for (int64_t j = 0; j < c->inner; j++) {
            const double *x = c->x + o * c->dim * c->inner + j;
            const double *dy = c->dout + o * c->dim * c->inner + j;
            double mx = -INFINITY, s = 0.0, dot = 0.0;
            for (int32_t d = 0; d < c->dim; d++) mx = x[d * c->inner] > mx ? x[d * c->inner] : mx;
            for (int32_t d = 0; d < c->dim; d++) {
                const double e = exp(x[d * c->inner] - mx);
                s += e;
                dot += e * dy[d * c->inner];
            }
            L += dot / s;
        }
    return L;
}

static void test_softmax_backward(void) {
    static const int32_t shapes[][3] = {{1, 1, 1}, {2, 3, 1}, {1, 5, 3}, {3, 8, 2}, {2, 13, 1}, {1, 1, 4}, {2, 9, 5}};
    char label[80];
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (int masked = 0; masked < 2; masked++) {
            const int64_t outer = shapes[si][0], inner = shapes[si][2];
            const int32_t dim = shapes[si][1];
            const size_t n = (size_t)(outer * dim * inner);
            float *x = frand(n, 3.0f), *dout = frand(n, 1.0f), *y = fzeros(n);
            /* Masked: the last entry of each softmax row is -inf when dim > 1
             * (as attention's causal mask), so y = 0 there. */
            if (masked && dim > 1)
                for (int64_t o = 0; o < outer; o++)
                    for (int64_t j = 0; j < inner; j++) x[o * dim * inner + (int64_t)(dim - 1) * inner + j] = -INFINITY;
            us_softmax_f32(y, x, outer, dim, inner);
            float *dx = fzeros(n), *dx2 = fzeros(n);
            us_softmax_backward(dx, y, dout, outer, dim, inner);
            us_softmax_backward(dx2, y, dout, outer, dim, inner);
            us_softmax_backward(dx2, y, dout, outer, dim, inner);
            sm_ctx c = {outer, inner, dim, widen(x, n), widen(dout, n)};
            double *ref = dzeros(n);
            fd_grad(ref, c.x, n, sm_loss, &c);
            snprintf(label, sizeof label, "softmax [%d, %d, %d] masked=%d", (int)outer, dim, (int)inner, masked);
            check_grad(label, dx, ref, n);
            check_doubled(label, dx, dx2, n);
            for (size_t i = 0; i < n; i++)
                if (isinf(x[i])) CHECK(dx[i] == 0.0f); /* masked entries: exactly no gradient */
        }
}

/* ---------------------------------------------------------------- matmul */

typedef struct {
    int32_t M, K, N;
    us_weight_layout layout;
    double *inp, *w, *b, *dout;
} mm_ctx;

static double mm_loss(const void *p) {
    const mm_ctx *c = p;
    double L = 0.0;
    for (int32_t m = 0; m < c->M; m++)
        for (int32_t n = 0; n < c->N; n++) {
            double o = c->b[n];
            for (int32_t k = 0; k < c->K; k++)
                o += c->inp[(size_t)m * c->K + k] *
                     (c->layout == US_W_NK ? c->w[(size_t)n * c->K + k] : c->w[(size_t)k * c->N + n]);
            L += c->dout[(size_t)m * c->N + n] * o;
        }
    return L;
}

typedef us_status (*mm_bwd)(float *, float *, float *, const float *, const float *, const float *, int32_t,
                            int32_t, int32_t, us_weight_layout);

static void test_matmul_backward_fd(void) {
    static const int32_t shapes[][3] = {{1, 1, 1}, {1, 3, 2}, {3, 5, 7}, {4, 8, 8}, {5, 9, 13}, {2, 17, 3}, {7, 1, 5}};
    static const mm_bwd fns[2] = {us_matmul_backward, us_matmul_backward__scalar};
    static const char *fn_names[2] = {"fast", "scalar"};
    char label[96];
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (int lay = 0; lay < 2; lay++) {
            const int32_t M = shapes[si][0], K = shapes[si][1], N = shapes[si][2];
            const us_weight_layout layout = lay ? US_W_KN : US_W_NK;
            const size_t MK = (size_t)M * K, KN = (size_t)K * N, MN = (size_t)M * N;
            float *inp = frand(MK, 1.0f), *w = frand(KN, 1.0f), *dout = frand(MN, 1.0f);
            mm_ctx c = {M, K, N, layout, widen(inp, MK), widen(w, KN), dzeros(N), widen(dout, MN)};
            double *rin = dzeros(MK), *rw = dzeros(KN), *rb = dzeros(N);
            fd_grad(rin, c.inp, MK, mm_loss, &c);
            fd_grad(rw, c.w, KN, mm_loss, &c);
            fd_grad(rb, c.b, N, mm_loss, &c);
            for (int f = 0; f < 2; f++) {
                float *din = fzeros(MK), *dw = fzeros(KN), *db = fzeros(N);
                float *din2 = fzeros(MK), *dw2 = fzeros(KN), *db2 = fzeros(N);
                REQUIRE(fns[f](din, dw, db, dout, inp, w, M, K, N, layout) == US_OK);
                for (int k = 0; k < 2; k++) REQUIRE(fns[f](din2, dw2, db2, dout, inp, w, M, K, N, layout) == US_OK);
                snprintf(label, sizeof label, "matmul %s %s M=%d K=%d N=%d", fn_names[f], lay ? "KN" : "NK", M, K, N);
                check_grad(label, din, rin, MK);
                check_grad(label, dw, rw, KN);
                check_grad(label, db, rb, N);
                check_doubled(label, din, din2, MK);
                check_doubled(label, dw, dw2, KN);
                check_doubled(label, db, db2, N);
                /* Each gradient alone (the others NULL, and operands they
                 * alone need NULL too) equals its value from the full call. */
                float *a = fzeros(MK), *bw = fzeros(KN), *bb = fzeros(N);
                CHECK(fns[f](a, NULL, NULL, dout, NULL, w, M, K, N, layout) == US_OK && same_bits(a, din, MK));
                CHECK(fns[f](NULL, bw, NULL, dout, inp, NULL, M, K, N, layout) == US_OK && same_bits(bw, dw, KN));
                CHECK(fns[f](NULL, NULL, bb, dout, NULL, NULL, M, K, N, layout) == US_OK && same_bits(bb, db, N));
            }
        }
}

/* Fast path vs scalar reference. Both sum the same products (in the same
 * order today), so they may differ only by rounding: |fast - ref| <=
 * 1e-5 S + 1e-6 per element, S = |initial value| + sum |products| (as
 * test_kernels.c argues: a random walk of sqrt(M or N) * 2^-24 * S, < 1e-6 S
 * here; a lost or doubled product is >= S / 200). Gradients start from
 * random values, so `+=` is exercised too. */
static int compare_matmul(int32_t M, int32_t K, int32_t N, us_weight_layout layout) {
    const size_t MK = (size_t)M * K, KN = (size_t)K * N, MN = (size_t)M * N;
    float *inp = frand(MK, 1.0f), *w = frand(KN, 1.0f), *dout = frand(MN, 1.0f);
    float *g0[3] = {frand(MK, 1.0f), frand(KN, 1.0f), frand(N, 1.0f)}; /* initial din, dw, db */
    const size_t len[3] = {MK, KN, (size_t)N};
    float *fast[3], *ref[3];
    for (int i = 0; i < 3; i++) {
        fast[i] = fzeros(len[i]);
        ref[i] = fzeros(len[i]);
        memcpy(fast[i], g0[i], len[i] * sizeof(float));
        memcpy(ref[i], g0[i], len[i] * sizeof(float));
    }
    if (us_matmul_backward(fast[0], fast[1], fast[2], dout, inp, w, M, K, N, layout) != US_OK ||
        us_matmul_backward__scalar(ref[0], ref[1], ref[2], dout, inp, w, M, K, N, layout) != US_OK) {
        fprintf(stderr, "  matmul M=%d K=%d N=%d: failed\n", M, K, N);
        us_h_cur_failed = 1;
        return 1;
    }
    /* S per element, in double */
    double *S[3] = {dzeros(MK), dzeros(KN), dzeros(N)}, *want[3] = {dzeros(MK), dzeros(KN), dzeros(N)};
    for (int32_t m = 0; m < M; m++)
        for (int32_t n = 0; n < N; n++) {
            const double g = fabs(dout[(size_t)m * N + n]);
            S[2][n] += g;
            for (int32_t k = 0; k < K; k++) {
                const size_t wi = layout == US_W_NK ? (size_t)n * K + k : (size_t)k * N + n;
                S[0][(size_t)m * K + k] += g * fabs(w[wi]);
                S[1][wi] += g * fabs(inp[(size_t)m * K + k]);
            }
        }
    int bad = 0;
    char label[96];
    for (int i = 0; i < 3; i++) {
        for (size_t j = 0; j < len[i]; j++) {
            S[i][j] = 1e-5 * (S[i][j] + fabs(g0[i][j])) + 1e-6;
            want[i][j] = ref[i][j];
            n_fast[0]++;
            n_exact_fast[0] += fast[i][j] == ref[i][j];
        }
        snprintf(label, sizeof label, "matmul fast vs scalar %s M=%d K=%d N=%d grad %d", layout ? "KN" : "NK", M, K,
                 N, i);
        bad += !check_tol(label, fast[i], want[i], S[i], len[i], &worst_fast);
    }
    return bad;
}

static void test_matmul_fast_vs_scalar(void) {
    static const int32_t E[] = {1, 2, 3, 4, 5, 7, 8, 9, 13, 17};
    const int n = (int)(sizeof E / sizeof E[0]);
    int bad = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            for (int l = 0; l < n; l++) {
                bad += compare_matmul(E[i], E[j], E[l], (i + j + l) & 1 ? US_W_KN : US_W_NK);
                free_all(); /* 1000 shapes: keep the allocation list short */
            }
    /* Shapes that cross the 64-wide blocks of the fast path in K (dinp) and
     * in N or K (dweight), both layouts. */
    static const int32_t big[][3] = {{3, 64, 5}, {3, 65, 5},   {5, 130, 7}, {2, 7, 130},  {129, 3, 65},
                                     {67, 70, 66}, {1, 200, 1}, {200, 1, 1}, {1, 1, 200}, {33, 128, 64}};
    for (size_t s = 0; s < sizeof big / sizeof big[0]; s++)
        for (int lay = 0; lay < 2; lay++) {
            bad += compare_matmul(big[s][0], big[s][1], big[s][2], lay ? US_W_KN : US_W_NK);
            free_all();
        }
    CHECK(bad == 0);
}

/* Zero sizes are no-ops (K = 0 still sums dout into dbias); bad arguments
 * are refused before anything is written. */
/* us_matmul_backward_packed, the weight given as its pack: with an f32 pack,
 * bit for bit us_matmul_backward's gradients (the same products in the same
 * order); with an f16 pack, us_matmul_backward's over the rounded weights.
 * Both layouts, shapes across the 64-wide blocks, gradients accumulated. */
static void test_matmul_backward_packed(void) {
    static const int32_t shapes[][3] = {{1, 1, 1}, {3, 5, 7}, {5, 9, 13}, {3, 65, 5}, {67, 70, 66}, {2, 130, 9}};
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (int lay = 0; lay < 2; lay++)
            for (int f16 = 0; f16 < 2; f16++) {
                const int32_t M = shapes[si][0], K = shapes[si][1], N = shapes[si][2];
                const us_weight_layout layout = lay ? US_W_KN : US_W_NK;
                const size_t MK = (size_t)M * K, KN = (size_t)K * N;
                float *inp = frand(MK, 1.0f), *w = frand(KN, 1.0f), *dout = frand((size_t)M * N, 1.0f);
                if (f16) /* the weights the pack holds */
                    for (size_t i = 0; i < KN; i++) w[i] = us_f16_to_f32(us_f32_to_f16(w[i]));
                us_gemm_weights *pw = layout == US_W_NK ? (f16 ? us_gemm_weights_new_f16(w, N, K) : us_gemm_weights_new(w, N, K))
                                                        : (f16 ? us_gemm_weights_new_kn_f16(w, N, K, N) : us_gemm_weights_new_kn(w, N, K, N));
                REQUIRE(pw != NULL);
                float *g[2][3];
                for (int v = 0; v < 2; v++) {
                    g[v][0] = frand(MK, 1.0f), g[v][1] = frand(KN, 1.0f), g[v][2] = frand((size_t)N, 1.0f);
                    if (v) memcpy(g[1][0], g[0][0], MK * 4), memcpy(g[1][1], g[0][1], KN * 4), memcpy(g[1][2], g[0][2], (size_t)N * 4);
                }
                CHECK(us_matmul_backward(g[0][0], g[0][1], g[0][2], dout, inp, w, M, K, N, layout) == US_OK);
                CHECK(us_matmul_backward_packed(g[1][0], g[1][1], g[1][2], dout, inp, pw, M, layout) == US_OK);
                CHECK(same_bits(g[0][0], g[1][0], MK) && same_bits(g[0][1], g[1][1], KN) && same_bits(g[0][2], g[1][2], (size_t)N));
                float *a = fzeros(MK), *b = fzeros(MK);
                CHECK(us_matmul_backward_packed(a, NULL, NULL, dout, NULL, pw, M, layout) == US_OK);
                CHECK(us_matmul_backward(b, NULL, NULL, dout, NULL, w, M, K, N, layout) == US_OK && same_bits(a, b, MK));
                us_gemm_weights_free(pw);
            }
    CHECK(us_matmul_backward_packed(NULL, NULL, NULL, NULL, NULL, NULL, 1, US_W_NK) == US_ERR_INVALID_ARG);
}
static void test_matmul_edge_cases(void) {
    const float S = -7777.25f;
    float din[4] = {S, S, S, S}, dw[4] = {S, S, S, S}, db[4] = {S, S, S, S};
    const float dout[4] = {1, 2, 3, 4}, inp[4] = {1, 1, 1, 1}, w[4] = {1, 1, 1, 1};
    for (int f = 0; f < 2; f++) {
        const mm_bwd fn = f ? us_matmul_backward__scalar : us_matmul_backward;
        CHECK(fn(din, dw, db, dout, inp, w, 0, 2, 2, US_W_NK) == US_OK);       /* M = 0 */
        CHECK(fn(din, dw, db, dout, inp, w, 2, 2, 0, US_W_KN) == US_OK);       /* N = 0 */
        for (int i = 0; i < 4; i++) CHECK(din[i] == S && dw[i] == S && db[i] == S);
        float db0[2] = {0, 0};
        CHECK(fn(din, dw, db0, dout, inp, w, 2, 0, 2, US_W_NK) == US_OK);     /* K = 0: dbias only */
        CHECK(db0[0] == 4.0f && db0[1] == 6.0f);
        for (int i = 0; i < 4; i++) CHECK(din[i] == S && dw[i] == S);
        CHECK(fn(din, dw, db, dout, inp, w, -1, 2, 2, US_W_NK) == US_ERR_INVALID_ARG);
        CHECK(fn(din, dw, db, dout, inp, w, 2, 2, 2, (us_weight_layout)7) == US_ERR_INVALID_ARG);
        CHECK(fn(din, NULL, NULL, dout, inp, NULL, 2, 2, 2, US_W_NK) == US_ERR_INVALID_ARG); /* dinp needs W */
        CHECK(fn(NULL, dw, NULL, dout, NULL, w, 2, 2, 2, US_W_NK) == US_ERR_INVALID_ARG);  /* dW needs inp */
        CHECK(fn(NULL, NULL, db, NULL, inp, w, 2, 2, 2, US_W_NK) == US_ERR_INVALID_ARG);   /* needs dout */
        for (int i = 0; i < 4; i++) CHECK(din[i] == S && dw[i] == S && db[i] == S);
    }
}

/* ---------------------------------------------------------------- embedding */

typedef struct {
    int64_t n;
    int32_t C;
    const int32_t *ids;
    double *table, *dout;
} emb_ctx;

static double emb_loss(const void *p) {
    const emb_ctx *c = p;
    double L = 0.0;
    for (int64_t i = 0; i < c->n; i++)
        for (int32_t j = 0; j < c->C; j++) L += c->dout[i * c->C + j] * c->table[(int64_t)c->ids[i] * c->C + j];
    return L;
}

static void test_embedding_backward(void) {
    static const int32_t shapes[][3] = {{1, 1, 1}, {5, 3, 3}, {9, 7, 8}, {4, 1, 5}, {13, 2, 1}}; /* n, V, C */
    char label[64];
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const int32_t n = shapes[si][0], V = shapes[si][1], C = shapes[si][2];
        int32_t *ids = talloc((size_t)n, sizeof(int32_t));
        for (int32_t i = 0; i < n; i++) ids[i] = rng_int(V); /* repeats when n > V */
        float *table = frand((size_t)V * C, 1.0f), *dout = frand((size_t)n * C, 1.0f);
        float *dt = fzeros((size_t)V * C), *dt2 = fzeros((size_t)V * C);
        us_embedding_backward(dt, ids, n, dout, C);
        us_embedding_backward(dt2, ids, n, dout, C);
        us_embedding_backward(dt2, ids, n, dout, C);
        emb_ctx c = {n, C, ids, widen(table, (size_t)V * C), widen(dout, (size_t)n * C)};
        double *ref = dzeros((size_t)V * C);
        fd_grad(ref, c.table, (size_t)V * C, emb_loss, &c);
        snprintf(label, sizeof label, "embedding n=%d V=%d C=%d", n, V, C);
        check_grad(label, dt, ref, (size_t)V * C);
        check_doubled(label, dt, dt2, (size_t)V * C);
    }
}

/* ---------------------------------------------------------------- attention */

typedef struct {
    int32_t B, H, T, hs;
    double *q, *k, *v, *dz;   /* [B,H,T,hs] x3, [B,T,H,hs] */
    double *pattern, *scores; /* [B,H,T,T], inputs of the two partial forwards */
} att_ctx;

/* sum dz * z for z_t = sum_s p[t, s] v_s, p [T, T] of one (b, h), s < s_end(t). */
static double att_z_loss(const att_ctx *c, int32_t b, int32_t h, const double *p, int full) {
    double L = 0.0;
    const double *vh = c->v + ((size_t)b * c->H + h) * c->T * c->hs;
    for (int32_t t = 0; t < c->T; t++) {
        const double *dzt = c->dz + (((size_t)b * c->T + t) * c->H + h) * c->hs;
        const int32_t s_end = full ? c->T : t + 1;
        for (int32_t d = 0; d < c->hs; d++) {
            double z = 0.0;
            for (int32_t s = 0; s < s_end; s++) z += p[(size_t)t * c->T + s] * vh[(size_t)s * c->hs + d];
            L += dzt[d] * z;
        }
    }
    return L;
}

/* Causal softmax of scores [T, T] over s <= t into p (0 above the diagonal). */
static void causal_softmax(double *p, const double *scores, int32_t T) {
    for (int32_t t = 0; t < T; t++) {
        const double *row = scores + (size_t)t * T;
        double mx = -INFINITY, s = 0.0;
        for (int32_t j = 0; j <= t; j++) mx = row[j] > mx ? row[j] : mx;
        for (int32_t j = 0; j <= t; j++) s += exp(row[j] - mx);
        for (int32_t j = 0; j < T; j++) p[(size_t)t * T + j] = j <= t ? exp(row[j] - mx) / s : 0.0;
    }
}

/* q·kᵀ / sqrt(hs) of one (b, h) into scores [T, T] (above the diagonal: -inf). */
static void att_scores(const att_ctx *c, int32_t b, int32_t h, double *scores) {
    const size_t off = ((size_t)b * c->H + h) * c->T * c->hs;
    for (int32_t t = 0; t < c->T; t++)
        for (int32_t s = 0; s < c->T; s++) {
            double acc = 0.0;
            for (int32_t d = 0; d < c->hs; d++) acc += c->q[off + (size_t)t * c->hs + d] * c->k[off + (size_t)s * c->hs + d];
            scores[(size_t)t * c->T + s] = s <= t ? acc / sqrt((double)c->hs) : -INFINITY;
        }
}

static double att_loss_qkv(const void *p) { /* the whole forward from q, k, v */
    const att_ctx *c = p;
    const size_t TT = (size_t)c->T * c->T;
    double *sc = malloc(sizeof(double) * TT), *pat = malloc(sizeof(double) * TT), L = 0.0;
    if (!sc || !pat) exit(2);
    for (int32_t b = 0; b < c->B; b++)
        for (int32_t h = 0; h < c->H; h++) {
            att_scores(c, b, h, sc);
            causal_softmax(pat, sc, c->T);
            L += att_z_loss(c, b, h, pat, 0);
        }
    free(sc);
    free(pat);
    return L;
}

static double att_loss_pattern(const void *p) { /* z = pattern · v, every entry of the pattern counts */
    const att_ctx *c = p;
    double L = 0.0;
    for (int32_t b = 0; b < c->B; b++)
        for (int32_t h = 0; h < c->H; h++)
            L += att_z_loss(c, b, h, c->pattern + ((size_t)b * c->H + h) * c->T * c->T, 1);
    return L;
}

static double att_loss_scores(const void *p) { /* from the scaled, masked scores */
    const att_ctx *c = p;
    const size_t TT = (size_t)c->T * c->T;
    double *pat = malloc(sizeof(double) * TT), L = 0.0;
    if (!pat) exit(2);
    for (int32_t b = 0; b < c->B; b++)
        for (int32_t h = 0; h < c->H; h++) {
            causal_softmax(pat, c->scores + ((size_t)b * c->H + h) * TT, c->T);
            L += att_z_loss(c, b, h, pat, 0);
        }
    free(pat);
    return L;
}

/* Random q, k, v, dz and the f32 pattern a forward would save (computed in
 * double, rounded once). Fills *c with double copies and the double scores. */
static void att_setup(att_ctx *c, float **q, float **k, float **v, float **dz, float **pattern, int32_t B,
                      int32_t H, int32_t T, int32_t hs, float scale) {
    const size_t n = (size_t)B * H * T * hs, TT = (size_t)T * T, nTT = (size_t)B * H * TT;
    *q = frand(n, scale);
    *k = frand(n, scale);
    *v = frand(n, 1.0f);
    *dz = frand(n, 1.0f);
    *pattern = fzeros(nTT);
    c->B = B, c->H = H, c->T = T, c->hs = hs;
    c->q = widen(*q, n), c->k = widen(*k, n), c->v = widen(*v, n), c->dz = widen(*dz, n);
    c->scores = dzeros(nTT);
    c->pattern = dzeros(nTT);
    for (int32_t b = 0; b < B; b++)
        for (int32_t h = 0; h < H; h++) {
            const size_t off = ((size_t)b * H + h) * TT;
            att_scores(c, b, h, c->scores + off);
            causal_softmax(c->pattern + off, c->scores + off, T);
        }
    for (size_t i = 0; i < nTT; i++) (*pattern)[i] = (float)c->pattern[i];
    for (size_t i = 0; i < nTT; i++) c->pattern[i] = (*pattern)[i]; /* the FD sees what the backward sees */
}

typedef us_status (*att_bwd)(float *, float *, float *, float *, float *, const float *, const float *,
                             const float *, const float *, const float *, int32_t, int32_t, int32_t, int32_t);

static void test_attention_backward_fd(void) {
    static const int32_t shapes[][4] = {{1, 1, 1, 1}, {1, 1, 2, 3}, {1, 2, 5, 4}, {2, 1, 7, 5},
                                        {2, 3, 4, 8}, {1, 1, 9, 13}, {1, 2, 3, 1}};
    static const att_bwd fns[2] = {us_attention_backward, us_attention_backward__scalar};
    static const char *fn_names[2] = {"fast", "scalar"};
    char label[112];
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const int32_t B = shapes[si][0], H = shapes[si][1], T = shapes[si][2], hs = shapes[si][3];
        const size_t n = (size_t)B * H * T * hs, nTT = (size_t)B * H * T * T;
        att_ctx c;
        float *q, *k, *v, *dz, *pat;
        att_setup(&c, &q, &k, &v, &dz, &pat, B, H, T, hs, 1.5f);
        double *rq = dzeros(n), *rk = dzeros(n), *rv = dzeros(n), *rp = dzeros(nTT), *rs = dzeros(nTT);
        fd_grad(rq, c.q, n, att_loss_qkv, &c);
        fd_grad(rk, c.k, n, att_loss_qkv, &c);
        fd_grad(rv, c.v, n, att_loss_qkv, &c);
        fd_grad(rp, c.pattern, nTT, att_loss_pattern, &c);
        fd_grad(rs, c.scores, nTT, att_loss_scores, &c); /* -inf above the diagonal: 0 */
        for (int f = 0; f < 2; f++) {
            float *g[5], *g2[5];
            const size_t len[5] = {n, n, n, nTT, nTT};
            for (int i = 0; i < 5; i++) g[i] = fzeros(len[i]), g2[i] = fzeros(len[i]);
            REQUIRE(fns[f](g[0], g[1], g[2], g[3], g[4], dz, q, k, v, pat, B, H, T, hs) == US_OK);
            for (int r = 0; r < 2; r++)
                REQUIRE(fns[f](g2[0], g2[1], g2[2], g2[3], g2[4], dz, q, k, v, pat, B, H, T, hs) == US_OK);
            static const char *names[5] = {"dq", "dk", "dv", "dpattern", "dscores"};
            const double *refs[5] = {rq, rk, rv, rp, rs};
            for (int i = 0; i < 5; i++) {
                snprintf(label, sizeof label, "attention %s B=%d H=%d T=%d hs=%d %s", fn_names[f], B, H, T, hs,
                         names[i]);
                check_grad(label, g[i], refs[i], len[i]);
                check_doubled(label, g[i], g2[i], len[i]);
            }
            for (int32_t bh = 0; bh < B * H; bh++) /* dscores: exactly 0 where the mask cut */
                for (int32_t t = 0; t < T; t++)
                    for (int32_t s = t + 1; s < T; s++) CHECK(g[4][((size_t)bh * T + t) * T + s] == 0.0f);
            /* Subsets: each output alone equals its value from the full call. */
            float *one = fzeros(nTT > n ? nTT : n);
            for (int i = 0; i < 5; i++) {
                float *o[5] = {NULL, NULL, NULL, NULL, NULL};
                memset(one, 0, sizeof(float) * len[i]);
                o[i] = one;
                CHECK(fns[f](o[0], o[1], o[2], o[3], o[4], dz, q, k, v, pat, B, H, T, hs) == US_OK);
                CHECK(same_bits(one, g[i], len[i]));
            }
        }
    }
}

/* Fast vs scalar over edge shapes (T and hs around the GEMM's 4x8 tiles).
 * They differ in summation order only; tolerance 1e-5 (|ref| + max|ref|), as
 * check_grad's, against the scalar result (max over the tensor standing in
 * for the size of the terms). Both start from zero so that the tolerance
 * scales with the gradient itself; accumulation is checked elsewhere. */
static void test_attention_fast_vs_scalar(void) {
    static const int32_t Ts[] = {1, 2, 3, 5, 8, 9, 16, 17, 33};
    static const int32_t hss[] = {1, 3, 4, 8, 13, 64};
    static const int32_t BHs[][2] = {{1, 1}, {2, 3}};
    char label[112];
    int bad = 0;
    for (size_t a = 0; a < sizeof Ts / sizeof Ts[0]; a++)
        for (size_t b = 0; b < sizeof hss / sizeof hss[0]; b++) {
            const int32_t T = Ts[a], hs = hss[b], B = BHs[(a + b) & 1][0], H = BHs[(a + b) & 1][1];
            const size_t n = (size_t)B * H * T * hs, nTT = (size_t)B * H * T * T;
            att_ctx c;
            float *q, *k, *v, *dz, *pat;
            att_setup(&c, &q, &k, &v, &dz, &pat, B, H, T, hs, 2.0f);
            const size_t len[5] = {n, n, n, nTT, nTT};
            float *f[5], *s[5];
            for (int i = 0; i < 5; i++) f[i] = fzeros(len[i]), s[i] = fzeros(len[i]);
            REQUIRE(us_attention_backward(f[0], f[1], f[2], f[3], f[4], dz, q, k, v, pat, B, H, T, hs) == US_OK);
            REQUIRE(us_attention_backward__scalar(s[0], s[1], s[2], s[3], s[4], dz, q, k, v, pat, B, H, T, hs) ==
                    US_OK);
            for (int i = 0; i < 5; i++) {
                double *want = dzeros(len[i]), *tol = dzeros(len[i]), mx = 0.0;
                for (size_t j = 0; j < len[i]; j++) {
                    want[j] = s[i][j];
                    mx = fabs(want[j]) > mx ? fabs(want[j]) : mx;
                    n_fast[1]++;
                    n_exact_fast[1] += f[i][j] == s[i][j];
                }
                for (size_t j = 0; j < len[i]; j++) tol[j] = 1e-5 * (fabs(want[j]) + mx) + 1e-9;
                snprintf(label, sizeof label, "attention fast vs scalar B=%d H=%d T=%d hs=%d grad %d", B, H, T, hs, i);
                bad += !check_tol(label, f[i], want, tol, len[i], &worst_fast);
            }
            free_all();
        }
    CHECK(bad == 0);
}

static void test_attention_edge_cases(void) {
    float x[4] = {0};
    for (int f = 0; f < 2; f++) {
        const att_bwd fn = f ? us_attention_backward__scalar : us_attention_backward;
        CHECK(fn(x, x, x, x, x, x, x, x, x, x, -1, 1, 1, 1) == US_ERR_INVALID_ARG);
        CHECK(fn(x, x, x, x, x, NULL, x, x, x, x, 1, 1, 1, 1) == US_ERR_INVALID_ARG);
        CHECK(fn(x, x, x, x, x, x, x, x, x, x, 0, 1, 1, 1) == US_OK); /* B = 0: nothing */
        CHECK(fn(x, x, x, x, x, x, x, x, x, x, 1, 1, 0, 1) == US_OK); /* T = 0: nothing */
        /* hs = 0: z is empty, so every gradient is 0 */
        float dp[4] = {0}, ds[4] = {0}, pat[4] = {1, 0, 0.5f, 0.5f};
        CHECK(fn(NULL, NULL, NULL, dp, ds, x, x, x, x, pat, 1, 1, 2, 0) == US_OK);
        for (int i = 0; i < 4; i++) CHECK(dp[i] == 0.0f && ds[i] == 0.0f);
    }
}

/* ---------------------------------------------------------------- cross-entropy */

typedef struct {
    int32_t N, V;
    const int32_t *targets;
    double *logits;
} ce_ctx;

/* Mean over counted rows of logsumexp - logit[target], in double. */
static double ce_loss(const void *p) {
    const ce_ctx *c = p;
    double total = 0.0;
    int count = 0;
    for (int32_t i = 0; i < c->N; i++) {
        if (c->targets[i] == US_IGNORE_INDEX) continue;
        const double *x = c->logits + (size_t)i * c->V;
        double mx = -INFINITY, s = 0.0;
        for (int32_t j = 0; j < c->V; j++) mx = x[j] > mx ? x[j] : mx;
        for (int32_t j = 0; j < c->V; j++) s += exp(x[j] - mx);
        total += mx + log(s) - x[c->targets[i]];
        count++;
    }
    return count ? total / count : 0.0;
}

static double ce_row_loss(const ce_ctx *c, int32_t i) {
    ce_ctx one = {1, c->V, c->targets + i, c->logits + (size_t)i * c->V};
    return ce_loss(&one);
}

static void test_crossentropy(void) {
    static const int32_t shapes[][2] = {{1, 1}, {1, 2}, {3, 5}, {4, 8}, {6, 13}, {9, 3}};
    char label[80];
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (int with_ignored = 0; with_ignored < 2; with_ignored++) {
            const int32_t N = shapes[si][0], V = shapes[si][1];
            const size_t NV = (size_t)N * V;
            float *logits = frand(NV, 4.0f);
            int32_t *targets = talloc((size_t)N, sizeof(int32_t));
            int32_t want_count = 0;
            for (int32_t i = 0; i < N; i++) {
                targets[i] = with_ignored && N > 1 && i % 3 == 1 ? US_IGNORE_INDEX : rng_int(V);
                want_count += targets[i] != US_IGNORE_INDEX;
            }
            float *dl = frand(NV, 100.0f), *losses = frand((size_t)N, 100.0f); /* garbage: must be overwritten */
            float mean = -1.0f;
            int32_t count = -1;
            REQUIRE(us_crossentropy_forward_backward(losses, dl, logits, targets, N, V, &mean, &count) == US_OK);
            ce_ctx c = {N, V, targets, widen(logits, NV)};
            const double want_mean = ce_loss(&c);
            double *ref = dzeros(NV);
            fd_grad(ref, c.logits, NV, ce_loss, &c);
            snprintf(label, sizeof label, "cross-entropy N=%d V=%d ignored=%d", N, V, with_ignored);
            CHECK(count == want_count);
            CHECK_NEAR(mean, want_mean, 1e-6 * fabs(want_mean) + 1e-7);
            check_grad(label, dl, ref, NV);
            for (int32_t i = 0; i < N; i++) {
                if (targets[i] == US_IGNORE_INDEX) {
                    CHECK(losses[i] == 0.0f);
                    for (int32_t j = 0; j < V; j++) CHECK(dl[(size_t)i * V + j] == 0.0f);
                } else {
                    const double want = ce_row_loss(&c, i);
                    CHECK_NEAR(losses[i], want, 1e-6 * fabs(want) + 1e-7);
                }
            }
            /* Written, not accumulated: a second call gives the same floats;
             * in place (dlogits = logits) too; and without losses/dlogits. */
            float *dl2 = fzeros(NV), *inplace = fzeros(NV), mean2 = 0, mean3 = 0;
            int32_t count2 = 0, count3 = 0;
            memcpy(dl2, dl, NV * sizeof(float));
            memcpy(inplace, logits, NV * sizeof(float));
            CHECK(us_crossentropy_forward_backward(NULL, dl2, logits, targets, N, V, &mean2, &count2) == US_OK);
            CHECK(same_bits(dl2, dl, NV) && mean2 == mean && count2 == count);
            CHECK(us_crossentropy_forward_backward(NULL, inplace, inplace, targets, N, V, &mean3, &count3) == US_OK);
            CHECK(same_bits(inplace, dl, NV) && mean3 == mean);
            CHECK(us_crossentropy_forward_backward(NULL, NULL, logits, targets, N, V, &mean3, &count3) == US_OK);
            CHECK(mean3 == mean && count3 == count);
        }
}

static void test_crossentropy_edge_cases(void) {
    /* Every row ignored: mean 0, dlogits and losses all written as 0. */
    const float logits[6] = {1, 2, 3, 4, 5, 6};
    const int32_t none[2] = {US_IGNORE_INDEX, US_IGNORE_INDEX};
    float dl[6] = {9, 9, 9, 9, 9, 9}, losses[2] = {9, 9}, mean = 9;
    int32_t count = 9;
    CHECK(us_crossentropy_forward_backward(losses, dl, logits, none, 2, 3, &mean, &count) == US_OK);
    CHECK(mean == 0.0f && count == 0 && losses[0] == 0.0f && losses[1] == 0.0f);
    for (int i = 0; i < 6; i++) CHECK(dl[i] == 0.0f);
    CHECK(us_crossentropy_forward_backward(NULL, NULL, NULL, NULL, 0, 3, &mean, &count) == US_OK);
    CHECK(mean == 0.0f && count == 0);

    /* V = 1: the one class is certain, loss 0 and gradient 0. */
    const float l1[2] = {3.5f, -100.0f};
    const int32_t t1[2] = {0, 0};
    float d1[2] = {9, 9};
    CHECK(us_crossentropy_forward_backward(NULL, d1, l1, t1, 2, 1, &mean, &count) == US_OK);
    CHECK(mean == 0.0f && count == 2 && d1[0] == 0.0f && d1[1] == 0.0f);

    /* Large logits: no overflow, and the loss of [1000, 0, -1000] aiming at
     * class 1 is 1000 + log(1 + e^-1000 + e^-2000) = 1000 exactly in f32. */
    const float big[6] = {1000.0f, 0.0f, -1000.0f, 88.0f, 89.0f, 90.0f};
    const int32_t tb[2] = {1, 2};
    float db[6], lb[2];
    CHECK(us_crossentropy_forward_backward(lb, db, big, tb, 2, 3, &mean, &count) == US_OK);
    CHECK(lb[0] == 1000.0f);
    const double l2 = 90.0 + log(1.0 + exp(-1.0) + exp(-2.0)) - 90.0; /* 0.4076 */
    CHECK_NEAR(lb[1], l2, 1e-6);
    CHECK_NEAR(mean, (1000.0 + l2) / 2, 1e-4);
    CHECK(db[0] == 0.5f && db[1] == -0.5f && db[2] == 0.0f); /* (softmax - onehot) / 2 */
    for (int i = 0; i < 6; i++) CHECK(isfinite(db[i]));

    /* A target outside [0, V) (other than -100) is refused before writing. */
    const int32_t bad1[2] = {1, 3}, bad2[2] = {-1, 0};
    float keep[6] = {7, 7, 7, 7, 7, 7}, lk[2] = {7, 7};
    CHECK(us_crossentropy_forward_backward(lk, keep, logits, bad1, 2, 3, &mean, &count) == US_ERR_RANGE);
    CHECK(us_crossentropy_forward_backward(lk, keep, logits, bad2, 2, 3, &mean, &count) == US_ERR_RANGE);
    for (int i = 0; i < 6; i++) CHECK(keep[i] == 7.0f);
    CHECK(lk[0] == 7.0f && lk[1] == 7.0f);
    CHECK(us_crossentropy_forward_backward(NULL, keep, logits, bad1, -1, 3, &mean, &count) == US_ERR_INVALID_ARG);
    CHECK(us_crossentropy_forward_backward(NULL, keep, logits, bad1, 2, 3, NULL, &count) == US_ERR_INVALID_ARG);
}

/* ---------------------------------------------------------------- optimizer */

/* Two AdamW steps, the expected numbers from torch 1.13 on CPU:
 *   p = torch.tensor([0.5, -1.25, 2.0, 0.0, -0.75, 3.5, 1e-3], requires_grad=True)
 *   opt = torch.optim.AdamW([p], lr=0.1, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1)
 *   for g in (g1, g2): p.grad = g; opt.step()      # printed with "%.9g"
 * with g1, g2 as below (a zero gradient, a tiny one, a repeated one).
 * Tolerance: 2 ulps (relative 2.4e-7 of |value|, plus 1e-12). The float
 * operations are torch's, in torch's order, but torch's CPU add_(grad,
 * alpha=1 - beta1) is a fused multiply-add (m*beta1 + alpha*g rounded once)
 * and ours rounds twice, as the rest of this code base (no FMA): on this
 * example 2 of the 14 m values differ by 1 ulp (and nothing else does);
 * libm's pow for the bias corrections could add another. */
static int near_ulps(float got, float want) {
    return fabsf(got - want) <= 2.4e-7f * fabsf(want) + 1e-12f;
}

static void test_adamw_two_steps(void) {
    float p[7] = {0.5f, -1.25f, 2.0f, 0.0f, -0.75f, 3.5f, 1e-3f};
    const float g1[7] = {0.1f, -0.2f, 0.0f, 1.5f, -3.0f, 1e-4f, 0.25f};
    const float g2[7] = {-0.3f, 0.05f, 0.0f, 2.0f, 0.5f, -1e-4f, 0.25f};
    static const float want_p[2][7] = {
        {0.395000011f, -1.13749993f, 1.98000002f, -0.100000001f, -0.642499983f, 3.36501026f, -0.0990099832f},
        {0.440468997f, -1.07917821f, 1.96020007f, -0.198732287f, -0.58222121f, 3.33662271f, -0.198019892f}};
    static const float want_m[2][7] = {
        {0.0100000007f, -0.0200000014f, 0.0f, 0.150000006f, -0.300000012f, 9.99999975e-06f, 0.0250000004f},
        {-0.0210000016f, -0.0130000012f, 0.0f, 0.335000008f, -0.220000014f, -1.00000045e-06f, 0.0474999994f}};
    static const float want_v[2][7] = {
        {1.00000007e-05f, 4.00000026e-05f, 0.0f, 0.0022499999f, 0.00899999961f, 9.99999996e-12f, 6.2500003e-05f},
        {9.99900076e-05f, 4.24600039e-05f, 0.0f, 0.00624775002f, 0.00924099889f, 1.99899992e-11f,
         0.000124937505f}};
    float m[7] = {0}, v[7] = {0};
    const float *grads[2] = {g1, g2};
    int exact = 0;
    for (int step = 0; step < 2; step++) {
        REQUIRE(us_adamw_step(p, grads[step], m, v, 7, 0.1, 0.9, 0.999, 1e-8, 0.1, step + 1) == US_OK);
        for (int i = 0; i < 7; i++) {
            if (!near_ulps(p[i], want_p[step][i]) || !near_ulps(m[i], want_m[step][i]) ||
                !near_ulps(v[i], want_v[step][i])) {
                fprintf(stderr, "  step %d [%d]: p %.9g (want %.9g) m %.9g (%.9g) v %.9g (%.9g)\n", step + 1, i, p[i],
                        want_p[step][i], m[i], want_m[step][i], v[i], want_v[step][i]);
                us_h_cur_failed = 1;
            }
            exact += p[i] == want_p[step][i] && m[i] == want_m[step][i] && v[i] == want_v[step][i];
        }
    }
    printf("     AdamW: %d of 14 (step, element) triples equal torch bit for bit\n", exact);
    /* t < 1 and bad sizes are refused, nothing touched */
    float keep = p[0];
    CHECK(us_adamw_step(p, g1, m, v, 7, 0.1, 0.9, 0.999, 1e-8, 0.1, 0) == US_ERR_INVALID_ARG);
    CHECK(us_adamw_step(p, g1, m, v, -1, 0.1, 0.9, 0.999, 1e-8, 0.1, 1) == US_ERR_INVALID_ARG);
    CHECK(us_adamw_step(NULL, g1, m, v, 7, 0.1, 0.9, 0.999, 1e-8, 0.1, 1) == US_ERR_INVALID_ARG);
    CHECK(p[0] == keep);
    CHECK(us_adamw_step(NULL, NULL, NULL, NULL, 0, 0.1, 0.9, 0.999, 1e-8, 0.1, 1) == US_OK);
}

/* torch.nn.utils.clip_grad_norm_ on [3, -4, 1, 0.5, 2] (norm 5.5), torch 1.13:
 * max_norm 2 gives [1.090909, -1.45454526, 0.363636315, 0.181818157, 0.72727263]. */
static void test_clip_grad_norm(void) {
    float g[5] = {3.0f, -4.0f, 1.0f, 0.5f, 2.0f};
    CHECK(us_grad_global_norm(g, 5) == 5.5);
    CHECK(us_grad_global_norm(g, 0) == 0.0);
    CHECK(us_clip_grad_norm(g, 5, 10.0) == 5.5); /* below max: untouched */
    CHECK(g[0] == 3.0f && g[1] == -4.0f && g[4] == 2.0f);
    CHECK(us_clip_grad_norm(g, 5, 2.0) == 5.5);
    const float want[5] = {1.090909f, -1.45454526f, 0.363636315f, 0.181818157f, 0.72727263f};
    for (int i = 0; i < 5; i++) CHECK(near_ulps(g[i], want[i]));
    CHECK_NEAR(us_grad_global_norm(g, 5), 2.0, 1e-6);
    /* torch's rule is coef = max_norm / (norm + 1e-6) < 1: a norm equal to
     * max_norm is still scaled, by 1 - 2e-7. */
    float e[2] = {3.0f, 4.0f};
    us_clip_grad_norm(e, 2, 5.0);
    CHECK(e[0] < 3.0f && e[0] > 2.9999f);
    /* A non-finite norm scales by NaN, as torch (error_if_nonfinite=False). */
    float nf[2] = {NAN, 1.0f};
    CHECK(isnan(us_clip_grad_norm(nf, 2, 1.0)));
    CHECK(isnan(nf[1]));
}

static void test_lr_schedule(void) {
    const double mx = 1e-3, mn = 1e-4;
    /* warmup 10 steps, cosine until step 110 */
    CHECK(us_lr_cosine_warmup(0, 10, 110, mx, mn) == 0.0); /* step 0 gives 0 */
    CHECK_NEAR(us_lr_cosine_warmup(1, 10, 110, mx, mn), 1e-4, 1e-18);
    CHECK_NEAR(us_lr_cosine_warmup(5, 10, 110, mx, mn), 5e-4, 1e-18);
    CHECK_NEAR(us_lr_cosine_warmup(10, 10, 110, mx, mn), mx, 1e-18); /* the peak */
    CHECK_NEAR(us_lr_cosine_warmup(60, 10, 110, mx, mn), (mx + mn) / 2, 1e-18);
    CHECK_NEAR(us_lr_cosine_warmup(35, 10, 110, mx, mn), mn + (mx - mn) * 0.5 * (1 + cos(3.14159265358979323846 / 4)),
               1e-18);
    CHECK_NEAR(us_lr_cosine_warmup(109, 10, 110, mx, mn), mn + (mx - mn) * 0.5 * (1 + cos(3.14159265358979323846 * 0.99)),
               1e-18);
    CHECK(us_lr_cosine_warmup(110, 10, 110, mx, mn) == mn);
    CHECK(us_lr_cosine_warmup(500, 10, 110, mx, mn) == mn);
    CHECK(us_lr_cosine_warmup(-3, 10, 110, mx, mn) == 0.0);
    /* no warmup: step 0 is the peak */
    CHECK(us_lr_cosine_warmup(0, 0, 100, mx, mn) == mx);
    CHECK(us_lr_cosine_warmup(0, -5, 100, mx, mn) == mx);
    /* monotone: up during warmup, down after */
    double prev = -1.0;
    for (int64_t s = 0; s <= 10; s++) {
        const double lr = us_lr_cosine_warmup(s, 10, 110, mx, mn);
        CHECK(lr > prev);
        prev = lr;
    }
    for (int64_t s = 11; s <= 110; s++) {
        const double lr = us_lr_cosine_warmup(s, 10, 110, mx, mn);
        CHECK(lr < prev);
        prev = lr;
    }
}

int main(void) {
    RUN(test_layernorm_stats_bitwise);
    RUN(test_layernorm_backward);
    RUN(test_activations_backward);
    RUN(test_activations_special_values);
    RUN(test_softmax_backward);
    RUN(test_matmul_backward_fd);
    RUN(test_matmul_fast_vs_scalar);
    RUN(test_matmul_edge_cases);
    RUN(test_matmul_backward_packed);
    RUN(test_embedding_backward);
    RUN(test_attention_backward_fd);
    RUN(test_attention_fast_vs_scalar);
    RUN(test_attention_edge_cases);
    RUN(test_crossentropy);
    RUN(test_crossentropy_edge_cases);
    RUN(test_adamw_two_steps);
    RUN(test_clip_grad_norm);
    RUN(test_lr_schedule);
    printf("worst error / tolerance: finite differences %.3g, fast vs scalar %.3g\n", worst_fd, worst_fast);
    printf("fast paths equal to their scalar reference bit for bit: matmul %lld of %lld, attention %lld of %lld\n",
           (long long)n_exact_fast[0], (long long)n_fast[0], (long long)n_exact_fast[1], (long long)n_fast[1]);
    printf("two calls exactly twice one call: %lld of %lld elements (the rest within rounding)\n",
           (long long)n_doubled_exact, (long long)n_doubled);
    return us_harness_summary();
}
