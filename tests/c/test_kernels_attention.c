/* test_kernels_attention.c — the attention kernels (attention.h) against
 * their scalar references, over edge shapes.
 *
 * For every hs in {1, 5, 8, 64, 67} and every (T, S) with T <= S from
 * {1, 2, 7, 128, 129} (so past = S - T is 0 and positive), plus decode-like
 * shapes (T = 1 and 5 over S = 1024) and a few in between, with tight strides
 * and with odd, wider ones (q, k, v read in place from a wider buffer, z
 * written into a [T, H, hs]-like layout), the kernels of this build
 * (us_attention_*: SIMD128, SIMD128 through SIMDe, or scalar) are compared
 * with the us_f32_attention_*__scalar references:
 *   scores   bit for bit (both sum in d order from 0; the scale is the same
 *            division, or the identical multiplication by 1/8);
 *   softmax  against the exact softmax (in double) of the same float scores,
 *            per entry, relative: (|x - max| + 8 + sqrt(n)) 2^-24 (the float
 *            x - max that every f32 softmax rounds, PyTorch's too; a 1-2 ulp
 *            polynomial exp, 1 / sum and a product; a 4-lane sum of n terms),
 *            and the reference, whose one sequential sum may drift by ~n/2
 *            ulp, within (|x - max| + 8 + n/2) 2^-24 (so neither is the
 *            other's oracle here); masked entries exactly +0;
 *   z        bit for bit given the same pattern (both sum in s order); the
 *            dense z (every key) bit for bit its reference, and equal to
 *            the causal z when the masked entries are the softmax's zeros;
 *   fused    |fused - unfused| <= 1e-6 * sum_s p[t, s] |v[s, j]| per entry,
 *            for this build's fused against this build's (a)+(b)+(c) and for
 *            the scalar fused against the scalar (a)+(b)+(c);
 * and every buffer is exactly as long as the contract says it is read (heap
 * copies, so AddressSanitizer sees any over-read), masked pattern entries hold
 * NaN (so reading one would show), and the floats between a row's end and its
 * stride must come back untouched. The references themselves are checked
 * against double-precision sums, and the scalar softmax against
 * us_softmax_f32 (the op gpt2.c uses today) bit for bit.
 *
 * Inputs are deterministic (xorshift32, fixed seed): q and k uniform in
 * [-1, 1) times a gain that spreads the scores over about +-6 (a sharper,
 * more realistic softmax than uniform scores), v uniform in [-1, 1). The
 * worst ratios seen are printed at the end so the margins stay visible. */
#include "kernels/attention.h"
#include "ops/ops.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static const float SENTINEL = -7777.25f;

static int scalar_build; /* us_attention_* are the scalar references */
static double worst_softmax, worst_softmax_ref, worst_fused, worst_fused_scalar, worst_ref_scores;

/* A heap buffer of exactly rows-1 strides plus one row of `cols` floats:
 * what a kernel may read. Filled with gain * uniform. */
static float *alloc_rows(int32_t rows, int32_t cols, int32_t stride, float gain) {
    const size_t n = rows > 0 ? (size_t)(rows - 1) * (size_t)stride + (size_t)cols : 1;
    float *p = malloc(n * sizeof(float));
    if (p != NULL)
        for (size_t i = 0; i < n; i++) p[i] = gain * rng_uniform();
    return p;
}

static float *alloc_filled(size_t n, float value) {
    float *p = malloc((n ? n : 1) * sizeof(float));
    if (p != NULL)
        for (size_t i = 0; i < n; i++) p[i] = value;
    return p;
}

static int same_bits(float a, float b) { return memcmp(&a, &b, sizeof(float)) == 0; }

/* Row padding (columns cols..stride-1 of each of `rows` rows) still SENTINEL? */
static int padding_intact(const float *buf, int32_t rows, int32_t cols, int32_t stride) {
    for (int32_t r = 0; r < rows; r++)
        for (int32_t c = cols; c < stride; c++)
            if (!same_bits(buf[(size_t)r * stride + c], SENTINEL)) return 0;
    return 1;
}

typedef struct {
    int32_t T, S, hs;
    int32_t qs, ks, vs, ss, zs; /* strides of q, k, v, scores/pattern, z */
} shape;

static int fail_shape(const shape *c, const char *what) {
    fprintf(stderr, "  T=%d S=%d hs=%d qs=%d ks=%d vs=%d ss=%d zs=%d: %s\n", c->T, c->S, c->hs, c->qs,
            c->ks, c->vs, c->ss, c->zs, what);
    return 1;
}

/* Runs all four kernels and the references on one shape. Returns the number
 * of failed checks (0 when all is well). */
static int check_case(const shape *c) {
    const int32_t T = c->T, S = c->S, hs = c->hs, past = S - T;
    const float gain = 2.5f / powf((float)hs, 0.25f); /* scores ~ gain^2 sqrt(hs) / 3 spread */
    float *q = alloc_rows(T, hs, c->qs, gain), *k = alloc_rows(S, hs, c->ks, gain);
    float *v = alloc_rows(S, hs, c->vs, 1.0f);
    const size_t n_sc = (size_t)T * c->ss, n_z = (size_t)T * c->zs;
    float *sc = alloc_filled(n_sc, SENTINEL), *sc_ref = alloc_filled(n_sc, SENTINEL);
    float *pat_in = alloc_filled(n_sc, SENTINEL);
    float *z = alloc_filled(n_z, SENTINEL), *z_ref = alloc_filled(n_z, SENTINEL);
    float *zf = alloc_filled(n_z, SENTINEL), *zf_ref = alloc_filled(n_z, SENTINEL);
    const size_t n_scratch = us_attention_scratch_floats(S, hs);
    float *scratch = alloc_filled(n_scratch, 1e30f);
    int bad = 0;
    if (!q || !k || !v || !sc || !sc_ref || !pat_in || !z || !z_ref || !zf || !zf_ref || !scratch) {
        bad = fail_shape(c, "out of memory");
        goto done;
    }

    /* (a) scores: bit for bit, and the reference near a double sum */
    us_attention_scores(T, S, hs, q, c->qs, k, c->ks, sc, c->ss, scratch);
    us_f32_attention_scores__scalar(T, S, hs, q, c->qs, k, c->ks, sc_ref, c->ss);
    for (int32_t t = 0; t < T && !bad; t++)
        for (int32_t s = 0; s < S && !bad; s++) {
            const size_t at = (size_t)t * c->ss + s;
            if (!same_bits(sc[at], sc_ref[at])) {
                char m[96];
                snprintf(m, sizeof m, "scores[%d, %d] = %.9g, ref %.9g", t, s, sc[at], sc_ref[at]);
                bad += fail_shape(c, m);
            }
            if (s > past + t) {
                if (!(isinf(sc_ref[at]) && sc_ref[at] < 0)) bad += fail_shape(c, "masked score not -inf");
                continue;
            }
            double dot = 0, mag = 0;
            for (int32_t d = 0; d < hs; d++) {
                const double x = (double)q[(size_t)t * c->qs + d] * k[(size_t)s * c->ks + d];
                dot += x;
                mag += fabs(x);
            }
            const double scale = sqrt((double)hs);
            const double ratio = fabs(sc_ref[at] - dot / scale) / (mag / scale + 1e-30);
            if (ratio > worst_ref_scores) worst_ref_scores = ratio;
            if (ratio > 1e-5) bad += fail_shape(c, "scalar scores far from the double sum");
        }
    if (!padding_intact(sc, T, S, c->ss)) bad += fail_shape(c, "scores padding written");

    /* (b) softmax: near the reference, the reference equal to us_softmax_f32 */
    memcpy(pat_in, sc, n_sc * sizeof(float)); /* keep the scores for later */
    us_attention_softmax_rows(T, S, sc, c->ss);
    us_f32_attention_softmax_rows__scalar(T, S, sc_ref, c->ss);
    float *row = malloc((size_t)S * sizeof(float));
    if (row == NULL) {
        bad += fail_shape(c, "out of memory");
        goto done;
    }
    for (int32_t t = 0; t < T && !bad; t++) {
        const float *x = pat_in + (size_t)t * c->ss; /* the scores */
        us_softmax_f32(row, x, 1, S, 1);
        double mx = -INFINITY, den = 0, sum = 0;
        for (int32_t s = 0; s <= past + t; s++) mx = x[s] > mx ? x[s] : mx;
        for (int32_t s = 0; s <= past + t; s++) den += exp((double)x[s] - mx);
        for (int32_t s = 0; s < S && !bad; s++) {
            const size_t at = (size_t)t * c->ss + s;
            if (!same_bits(row[s], sc_ref[at])) bad += fail_shape(c, "scalar softmax differs from us_softmax_f32");
            if (s > past + t) {
                if (!same_bits(sc[at], 0.0f)) bad += fail_shape(c, "masked pattern entry not +0");
                continue;
            }
            const double truth = exp((double)x[s] - mx) / den;
            const double diff = fabs(sc[at] - truth), diff_ref = fabs(sc_ref[at] - truth);
            /* Error budget in units of 2^-24 relative: the float x - max
             * (|x - max| ulp of exp's argument, shared by every f32 softmax,
             * PyTorch's too), 8 for exp, 1 / sum and the last product, and the
             * sum of n terms: a random walk of ~sqrt(n) in 4 lanes, up to ~n/2
             * for the reference's single sequential sum. */
            const double n = past + t + 1, arg = fabs((double)x[s] - mx);
            const double tol_ref = (arg + 8.0 + 0.5 * n) * 0x1p-24;
            const double tol = scalar_build ? tol_ref : (arg + 8.0 + sqrt(n)) * 0x1p-24;
            if (diff / truth / tol > worst_softmax) worst_softmax = diff / truth / tol;
            if (diff_ref / truth / tol_ref > worst_softmax_ref) worst_softmax_ref = diff_ref / truth / tol_ref;
            if (!(diff <= tol * truth + 1e-37) || !(diff_ref <= tol_ref * truth + 1e-37)) {
                char m[128];
                snprintf(m, sizeof m, "pattern[%d, %d] = %.9g, ref %.9g, exact %.9g", t, s, sc[at], sc_ref[at], truth);
                bad += fail_shape(c, m);
            }
            sum += sc[at];
        }
        if (!bad && !(fabs(sum - 1.0) <= 1e-5)) bad += fail_shape(c, "a pattern row does not sum to 1");
    }
    free(row);
    if (!padding_intact(sc, T, S, c->ss)) bad += fail_shape(c, "pattern padding written");

    /* (c) z: bit for bit given the same pattern, whose masked entries hold
     * NaN (never read) */
    for (int32_t t = 0; t < T; t++)
        for (int32_t s = 0; s < S; s++)
            pat_in[(size_t)t * c->ss + s] = s > past + t ? NAN : sc[(size_t)t * c->ss + s];
    us_attention_pv(T, S, hs, pat_in, c->ss, v, c->vs, z, c->zs);
    us_f32_attention_pv__scalar(T, S, hs, pat_in, c->ss, v, c->vs, z_ref, c->zs);
    for (int32_t t = 0; t < T && !bad; t++)
        for (int32_t j = 0; j < hs && !bad; j++) {
            const size_t at = (size_t)t * c->zs + j;
            if (!same_bits(z[at], z_ref[at])) {
                char m[96];
                snprintf(m, sizeof m, "z[%d, %d] = %.9g, ref %.9g", t, j, z[at], z_ref[at]);
                bad += fail_shape(c, m);
            }
        }
    if (!padding_intact(z, T, hs, c->zs)) bad += fail_shape(c, "z padding written");

    /* (c') dense: with the exact zeros of the pattern, the causal z bit for
     * bit; with random values in the masked region, the dense reference bit
     * for bit */
    us_attention_pv_dense(T, S, hs, sc, c->ss, v, c->vs, zf, c->zs);
    for (int32_t t = 0; t < T && !bad; t++)
        for (int32_t j = 0; j < hs && !bad; j++)
            if (!same_bits(zf[(size_t)t * c->zs + j], z[(size_t)t * c->zs + j]))
                bad += fail_shape(c, "dense z over a causal pattern differs from the causal z");
    for (int32_t t = 0; t < T; t++)
        for (int32_t s = past + t + 1; s < S; s++) pat_in[(size_t)t * c->ss + s] = rng_uniform();
    us_attention_pv_dense(T, S, hs, pat_in, c->ss, v, c->vs, zf, c->zs);
    us_f32_attention_pv_dense__scalar(T, S, hs, pat_in, c->ss, v, c->vs, zf_ref, c->zs);
    for (int32_t t = 0; t < T && !bad; t++)
        for (int32_t j = 0; j < hs && !bad; j++)
            if (!same_bits(zf[(size_t)t * c->zs + j], zf_ref[(size_t)t * c->zs + j]))
                bad += fail_shape(c, "dense z differs from the dense reference");
    if (!padding_intact(zf, T, hs, c->zs)) bad += fail_shape(c, "dense z padding written");
    for (size_t i = 0; i < n_z; i++) zf[i] = zf_ref[i] = SENTINEL;

    /* (d) fused against (a)+(b)+(c) of the same build, and the scalar fused
     * against the scalar (a)+(b)+(c) */
    us_attention_fused(T, S, hs, q, c->qs, k, c->ks, v, c->vs, zf, c->zs, scratch);
    us_f32_attention_pv__scalar(T, S, hs, sc_ref, c->ss, v, c->vs, z_ref, c->zs);
    us_f32_attention_fused__scalar(T, S, hs, q, c->qs, k, c->ks, v, c->vs, zf_ref, c->zs);
    for (int32_t t = 0; t < T && !bad; t++)
        for (int32_t j = 0; j < hs && !bad; j++) {
            const size_t at = (size_t)t * c->zs + j;
            double mag = 0;
            for (int32_t s = 0; s <= past + t; s++)
                mag += (double)sc[(size_t)t * c->ss + s] * fabs(v[(size_t)s * c->vs + j]);
            const double d1 = fabs((double)zf[at] - z[at]), d2 = fabs((double)zf_ref[at] - z_ref[at]);
            if (d1 / mag > worst_fused) worst_fused = d1 / mag;
            if (d2 / mag > worst_fused_scalar) worst_fused_scalar = d2 / mag;
            if (!(d1 <= 1e-6 * mag + 1e-30) || !(d2 <= 1e-6 * mag + 1e-30)) {
                char m[160];
                snprintf(m, sizeof m, "fused z[%d, %d] = %.9g (unfused %.9g); scalar fused %.9g (unfused %.9g)",
                         t, j, zf[at], z[at], zf_ref[at], z_ref[at]);
                bad += fail_shape(c, m);
            }
        }
    if (!padding_intact(zf, T, hs, c->zs)) bad += fail_shape(c, "fused z padding written");
done:
    free(q), free(k), free(v), free(sc), free(sc_ref), free(pat_in);
    free(z), free(z_ref), free(zf), free(zf_ref), free(scratch);
    return bad;
}

static const int32_t HS[] = {1, 5, 8, 64, 67};
static const int32_t TS[] = {1, 2, 7, 128, 129};
#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

static shape make_shape(int32_t T, int32_t S, int32_t hs, int wide) {
    shape c = {T, S, hs, hs, hs, hs, S, hs};
    if (wide) { /* odd strides: q, k, v read in place from a [T, 3 hs + 1]
                   row, z written with 2 heads' room plus one */
        c.qs = c.ks = c.vs = 3 * hs + 1;
        c.ss = S + 3;
        c.zs = 2 * hs + 1;
    }
    return c;
}

/* Every hs x every (T <= S) of TS, tight strides. */
static void test_edge_shapes_tight(void) {
    int failures = 0;
    for (int h = 0; h < COUNT(HS); h++)
        for (int i = 0; i < COUNT(TS); i++)
            for (int j = i; j < COUNT(TS); j++) {
                const shape c = make_shape(TS[i], TS[j], HS[h], 0);
                failures += check_case(&c) != 0;
            }
    CHECK(failures == 0);
}

/* The same with odd, wider strides. */
static void test_edge_shapes_strided(void) {
    int failures = 0;
    for (int h = 0; h < COUNT(HS); h++)
        for (int i = 0; i < COUNT(TS); i++)
            for (int j = i; j < COUNT(TS); j++) {
                const shape c = make_shape(TS[i], TS[j], HS[h], 1);
                failures += check_case(&c) != 0;
            }
    CHECK(failures == 0);
}

/* Decode (T = 1 over a long cache), a few new tokens over a cache, and
 * uneven mixes: every T % 4, S % 8 and S % 32 (the fused kernel's key
 * blocks) around block edges. */
static void test_decode_and_past(void) {
    static const int32_t TSP[][2] = {{1, 1024}, {5, 1024}, {3, 33}, {4, 32}, {4, 36}, {6, 40},
                                     {31, 95}, {64, 200}, {33, 100}, {1, 31}, {2, 64}, {9, 9}};
    int failures = 0;
    for (int i = 0; i < COUNT(TSP); i++)
        for (int h = 0; h < COUNT(HS); h++)
            for (int wide = 0; wide < 2; wide++) {
                const shape c = make_shape(TSP[i][0], TSP[i][1], HS[h], wide);
                failures += check_case(&c) != 0;
            }
    CHECK(failures == 0);
}

/* GPT-2 small: T = S = 512, hs = 64, and z written as [T, H, hs] (H = 12). */
static void test_gpt2_shape(void) {
    shape c = make_shape(512, 512, 64, 0);
    c.qs = c.ks = c.vs = 3 * 768;
    c.zs = 768;
    CHECK(check_case(&c) == 0);
}

/* A head that always prefers the newest key (scores rise with s): the fused
 * kernel raises its max, and rescales z, at every block. */
static void test_fused_rising_scores(void) {
    const int32_t T = 40, S = 1000, hs = 64, past = S - T;
    float *q = malloc(sizeof(float) * T * hs), *k = malloc(sizeof(float) * S * hs);
    float *v = malloc(sizeof(float) * S * hs), *sc = malloc(sizeof(float) * T * S);
    float *z = malloc(sizeof(float) * T * hs), *zf = malloc(sizeof(float) * T * hs);
    float *zf_ref = malloc(sizeof(float) * T * hs);
    float *scratch = malloc(sizeof(float) * us_attention_scratch_floats(S, hs));
    REQUIRE(q && k && v && sc && z && zf && zf_ref && scratch);
    for (int32_t i = 0; i < T * hs; i++) q[i] = i % hs == 0 ? 1.0f : 0.01f * rng_uniform();
    for (int32_t s = 0; s < S; s++)
        for (int32_t d = 0; d < hs; d++)
            k[(size_t)s * hs + d] = d == 0 ? 0.02f * (float)s : rng_uniform();
    for (int32_t i = 0; i < S * hs; i++) v[i] = rng_uniform();
    us_attention_scores(T, S, hs, q, hs, k, hs, sc, S, scratch);
    us_attention_softmax_rows(T, S, sc, S);
    us_attention_pv(T, S, hs, sc, S, v, hs, z, hs);
    us_attention_fused(T, S, hs, q, hs, k, hs, v, hs, zf, hs, scratch);
    us_f32_attention_fused__scalar(T, S, hs, q, hs, k, hs, v, hs, zf_ref, hs);
    double worst = 0, worst_s = 0;
    for (int32_t t = 0; t < T; t++)
        for (int32_t j = 0; j < hs; j++) {
            double mag = 0;
            for (int32_t s = 0; s <= past + t; s++) mag += (double)sc[(size_t)t * S + s] * fabs(v[(size_t)s * hs + j]);
            const double r = fabs((double)zf[t * hs + j] - z[t * hs + j]) / mag;
            const double rs = fabs((double)zf_ref[t * hs + j] - z[t * hs + j]) / mag;
            worst = r > worst ? r : worst;
            worst_s = rs > worst_s ? rs : worst_s;
        }
    printf("     rising scores: fused %.3g, scalar fused %.3g (relative to sum p|v|)\n", worst, worst_s);
    CHECK(worst <= 1e-6);
    CHECK(worst_s <= 2e-6);
    free(q), free(k), free(v), free(sc), free(z), free(zf), free(zf_ref), free(scratch);
}

/* Special values: an unmasked -inf score gives weight 0; a NaN score makes
 * its row NaN (and only its row), in both softmaxes. */
static void test_softmax_special_values(void) {
    enum { T = 3, S = 9 };
    float a[T * S], b[T * S];
    for (int i = 0; i < T * S; i++) a[i] = rng_uniform();
    a[0 * S + 4] = -INFINITY; /* row 0 sees keys 0..6 */
    a[1 * S + 2] = NAN;       /* row 1 sees keys 0..7 */
    memcpy(b, a, sizeof a);
    us_attention_softmax_rows(T, S, a, S);
    us_f32_attention_softmax_rows__scalar(T, S, b, S);
    CHECK(a[4] == 0.0f && b[4] == 0.0f);
    for (int s = 0; s < 8; s++) CHECK(isnan(a[S + s]) && isnan(b[S + s]));
    CHECK(a[S + 8] == 0.0f && b[S + 8] == 0.0f);
    for (int s = 0; s < S; s++) {
        CHECK(!isnan(a[2 * S + s]));
        CHECK_NEAR(a[2 * S + s], b[2 * S + s], 1e-6 * b[2 * S + s]);
    }
}

/* The dense product has no causal structure: any T, S >= 1, T > S too. */
static void test_pv_dense_any_shape(void) {
    static const int32_t shapes[][3] = {{9, 2, 5}, {5, 1, 8}, {1, 9, 67}, {130, 7, 64}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const int32_t T = shapes[i][0], S = shapes[i][1], hs = shapes[i][2];
        float *p = alloc_rows(T, S, S + 1, 1.0f), *v = alloc_rows(S, hs, hs + 2, 1.0f);
        float *z = alloc_filled((size_t)T * (hs + 3), SENTINEL), *zr = alloc_filled((size_t)T * (hs + 3), SENTINEL);
        REQUIRE(p && v && z && zr);
        us_attention_pv_dense(T, S, hs, p, S + 1, v, hs + 2, z, hs + 3);
        us_f32_attention_pv_dense__scalar(T, S, hs, p, S + 1, v, hs + 2, zr, hs + 3);
        CHECK(memcmp(z, zr, sizeof(float) * (size_t)T * (hs + 3)) == 0);
        CHECK(padding_intact(z, T, hs, hs + 3));
        free(p), free(v), free(z), free(zr);
    }
}

/* Invalid shapes touch nothing; the scratch size. */
static void test_invalid_shapes_and_scratch(void) {
    float buf[16];
    for (int i = 0; i < 16; i++) buf[i] = SENTINEL;
    const int32_t bad[][3] = {{0, 4, 2}, {3, 2, 2}, {2, 4, 0}, {-1, 4, 2}};
    for (int i = 0; i < COUNT(bad); i++) {
        const int32_t T = bad[i][0], S = bad[i][1], hs = bad[i][2];
        us_attention_scores(T, S, hs, buf, 2, buf, 2, buf, 4, buf);
        if (T < 1 || S < T) us_attention_softmax_rows(T, S, buf, 4); /* needs no hs */
        us_attention_pv(T, S, hs, buf, 4, buf, 2, buf, 2);
        if (T < 1 || S < 1 || hs < 1) us_attention_pv_dense(T, S, hs, buf, 4, buf, 2, buf, 2);
        us_attention_fused(T, S, hs, buf, 2, buf, 2, buf, 2, buf, 2, buf);
        us_f32_attention_fused__scalar(T, S, hs, buf, 2, buf, 2, buf, 2, buf, 2);
    }
    for (int i = 0; i < 16; i++) CHECK(same_bits(buf[i], SENTINEL));
    CHECK(us_attention_scratch_floats(128, 64) == 8192);
    CHECK(us_attention_scratch_floats(129, 67) == 136 * 67);
    CHECK(us_attention_scratch_floats(1, 1) == 8);
    CHECK(us_attention_scratch_floats(0, 64) == 0);
    CHECK(us_attention_scratch_floats(5, -1) == 0);
}

static void test_kernel_name(void) {
    const char *name = us_attention_kernel_name();
    REQUIRE(name != NULL);
    printf("     kernel: %s\n", name);
    CHECK(strncmp(name, "f32_attention__", 15) == 0);
}

int main(void) {
    scalar_build = strcmp(us_attention_kernel_name(), "f32_attention__scalar") == 0;
    US_RUN(test_kernel_name);
    US_RUN(test_invalid_shapes_and_scratch);
    US_RUN(test_softmax_special_values);
    US_RUN(test_pv_dense_any_shape);
    US_RUN(test_edge_shapes_tight);
    US_RUN(test_edge_shapes_strided);
    US_RUN(test_decode_and_past);
    US_RUN(test_gpt2_shape);
    US_RUN(test_fused_rising_scores);
    printf("worst: scalar scores vs double %.3g (1e-5); softmax vs exact %.3g, scalar softmax %.3g (of their budgets); "
           "fused %.3g, scalar fused %.3g (1e-6 of sum p|v|)\n",
           worst_ref_scores, worst_softmax, worst_softmax_ref, worst_fused, worst_fused_scalar);
    return us_harness_summary();
}
