/* ops_backward.c — backward passes, the cross-entropy loss, and the
 * GEMM-based backwards of matmul and attention (contracts in ops_backward.h).
 *
 * Every gradient is accumulated with `+=`, as in llm.c. Scalar loops first;
 * the matmul and attention backwards also have a fast path that turns each
 * product into us_gemm_f32 calls (C = A · Wᵀ over a packed W): the operand
 * that must be read "down the columns" is either packed (the pack transposes
 * it for free) or copied transposed into scratch, and the GEMM's output, which
 * the GEMM overwrites, lands in scratch before it is added to the gradient. */
#include "ops/ops_backward.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/gemm.h"

/* ---------------------------------------------------------------- LayerNorm */

void us_layernorm_forward_stats(float *out, float *mean, float *rstd, const float *inp, const float *weight,
                                const float *bias, int64_t N, int32_t C, float eps) {
    /* Keep this loop identical to us_layernorm_f32 (ops_scalar.c): the test
     * checks the two outputs bit for bit. */
    for (int64_t r = 0; r < N; r++) {
        const float *x = inp + r * C;
        float *y = out + r * C;
        double mu = 0.0;
        for (int32_t c = 0; c < C; c++) mu += x[c];
        mu /= C;
        double var = 0.0;
        for (int32_t c = 0; c < C; c++) {
            double d = x[c] - mu;
            var += d * d;
        }
        var /= C;
        float rs = (float)(1.0 / sqrt(var + eps));
        float m = (float)mu;
        for (int32_t c = 0; c < C; c++) {
            float v = (x[c] - m) * rs;
            if (weight) v *= weight[c];
            if (bias) v += bias[c];
            y[c] = v;
        }
        mean[r] = m;
        rstd[r] = rs;
    }
}

void us_layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                           const float *weight, const float *mean, const float *rstd, int64_t N, int32_t C) {
    for (int64_t r = 0; r < N; r++) {
        const float *x = inp + r * C, *dy = dout + r * C;
        const float m = mean[r], rs = rstd[r];
        /* dxhat = weight * dy; dinp = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) */
        double sum_dxhat = 0.0, sum_dxhat_xhat = 0.0;
        for (int32_t c = 0; c < C; c++) {
            const float xhat = (x[c] - m) * rs;
            const float dxhat = weight ? weight[c] * dy[c] : dy[c];
            sum_dxhat += dxhat;
            sum_dxhat_xhat += (double)dxhat * xhat;
        }
        const double mean_dxhat = sum_dxhat / C, mean_dxhat_xhat = sum_dxhat_xhat / C;
        for (int32_t c = 0; c < C; c++) {
            const float xhat = (x[c] - m) * rs;
            const float dxhat = weight ? weight[c] * dy[c] : dy[c];
            if (dbias) dbias[c] += dy[c];
            if (dweight) dweight[c] += xhat * dy[c];
            if (dinp) dinp[r * C + c] += (float)((dxhat - mean_dxhat - xhat * mean_dxhat_xhat) * rs);
        }
    }
}

/* ---------------------------------------------------------------- activations */

void us_gelu_tanh_backward(float *dinp, const float *inp, const float *dout, int64_t n) {
    const float k = 0.79788456080286535588f; /* sqrt(2/pi) */
    const float kappa = 0.044715f;
    for (int64_t i = 0; i < n; i++) {
        const float x = inp[i];
        const float x_sq = x * x;
        const float t = tanhf(k * (x + kappa * x_sq * x));
        const float left_derivative = 0.5f * (1.0f + t);
        const float right_derivative = 0.5f * x * (1.0f - t * t) * k * (1.0f + 3.0f * kappa * x_sq);
        dinp[i] += dout[i] * (left_derivative + right_derivative);
    }
}

void us_gelu_erf_backward(float *dinp, const float *inp, const float *dout, int64_t n) {
    const float inv_sqrt2 = 0.70710678118654752440f;
    const float inv_sqrt_2pi = 0.39894228040143267794f;
    for (int64_t i = 0; i < n; i++) {
        const float x = inp[i];
        const float cdf = 0.5f * (1.0f + erff(x * inv_sqrt2));
        const float pdf = inv_sqrt_2pi * expf(-0.5f * x * x);
        dinp[i] += dout[i] * (cdf + x * pdf);
    }
}

void us_relu_backward(float *dinp, const float *inp, const float *dout, int64_t n) {
    for (int64_t i = 0; i < n; i++) dinp[i] += inp[i] <= 0.0f ? 0.0f : dout[i];
}

void us_tanh_backward(float *dinp, const float *out, const float *dout, int64_t n) {
    for (int64_t i = 0; i < n; i++) dinp[i] += dout[i] * (1.0f - out[i] * out[i]);
}

void us_sigmoid_backward(float *dinp, const float *out, const float *dout, int64_t n) {
    for (int64_t i = 0; i < n; i++) dinp[i] += dout[i] * out[i] * (1.0f - out[i]);
}

void us_softmax_backward(float *dinp, const float *out, const float *dout, int64_t outer, int32_t dim,
                         int64_t inner) {
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t j = 0; j < inner; j++) {
            const int64_t base = o * dim * inner + j;
            const float *y = out + base, *dy = dout + base;
            float *dx = dinp + base;
            double dot = 0.0;
            for (int32_t d = 0; d < dim; d++) dot += (double)y[d * inner] * dy[d * inner];
            for (int32_t d = 0; d < dim; d++) dx[d * inner] += (float)(y[d * inner] * (dy[d * inner] - dot));
        }
    }
}

/* ---------------------------------------------------------------- matmul */

/* Output columns (dinp) or rows (dweight) per block of the fast path. */
#define MATMUL_BLOCK 64

static us_status matmul_check(const float *dinp, const float *dweight, const float *dbias, const float *dout,
                              const float *inp, const float *weight, int32_t M, int32_t K, int32_t N,
                              us_weight_layout layout) {
    if (M < 0 || K < 0 || N < 0 || (layout != US_W_NK && layout != US_W_KN)) return US_ERR_INVALID_ARG;
    if ((dinp || dweight || dbias) && !dout) return US_ERR_INVALID_ARG;
    if ((dinp && !weight) || (dweight && !inp)) return US_ERR_INVALID_ARG;
    return US_OK;
}

static void bias_backward(float *dbias, const float *dout, int32_t M, int32_t N) {
    for (int32_t n = 0; n < N; n++) {
        double s = 0.0;
        for (int32_t m = 0; m < M; m++) s += dout[(size_t)m * N + n];
        dbias[n] += (float)s;
    }
}

us_status us_matmul_backward__scalar(float *dinp, float *dweight, float *dbias, const float *dout,
                                     const float *inp, const float *weight, int32_t M, int32_t K, int32_t N,
                                     us_weight_layout layout) {
    us_status st = matmul_check(dinp, dweight, dbias, dout, inp, weight, M, K, N, layout);
    if (st != US_OK) return st;
    const int nk = layout == US_W_NK;
    if (dinp) /* dinp[m, k] += sum_n dout[m, n] W_nk[n, k] */
        for (int32_t m = 0; m < M; m++)
            for (int32_t k = 0; k < K; k++) {
                float s = 0.0f;
                for (int32_t n = 0; n < N; n++)
                    s += dout[(size_t)m * N + n] * (nk ? weight[(size_t)n * K + k] : weight[(size_t)k * N + n]);
                dinp[(size_t)m * K + k] += s;
            }
    if (dweight) /* dW_nk[n, k] += sum_m dout[m, n] inp[m, k], stored in W's layout */
        for (int32_t n = 0; n < N; n++)
            for (int32_t k = 0; k < K; k++) {
                float s = 0.0f;
                for (int32_t m = 0; m < M; m++) s += dout[(size_t)m * N + n] * inp[(size_t)m * K + k];
                dweight[nk ? (size_t)n * K + k : (size_t)k * N + n] += s;
            }
    if (dbias) bias_backward(dbias, dout, M, N);
    return US_OK;
}

/* dinp [M, K] += dout [M, N] · W_nk, by blocks of kb <= 64 columns of dinp:
 * the pack of W_nk[:, k0 .. k0+kb) (its transpose, [kb, N]) times dout.
 * W_nk is `weight` in `layout`, or, when weight is NULL, the pack `packed`,
 * whose blocks are read out into scratch first (the same values, so the same
 * products bit for bit). */
static us_status matmul_dinp_fast(float *dinp, const float *dout, const float *weight,
                                  const us_gemm_weights *packed, int32_t M, int32_t K, int32_t N,
                                  us_weight_layout layout) {
    const int32_t blk = K < MATMUL_BLOCK ? K : MATMUL_BLOCK;
    float *c = malloc(sizeof(float) * (size_t)M * (size_t)blk); /* [M, kb] */
    float *col = weight ? NULL : malloc(sizeof(float) * (size_t)N * (size_t)blk); /* [N, kb] */
    if (!c || (!weight && !col)) {
        free(c);
        free(col);
        return US_ERR_OOM;
    }
    for (int32_t k0 = 0; k0 < K; k0 += blk) {
        const int32_t kb = K - k0 < blk ? K - k0 : blk;
        us_gemm_weights *w;
        if (weight) {
            w = layout == US_W_NK ? us_gemm_weights_new_kn(weight + k0, kb, N, K)
                                  : us_gemm_weights_new(weight + (size_t)k0 * N, kb, N);
        } else {
            us_gemm_weights_read(packed, 0, N, k0, kb, col, kb);
            w = us_gemm_weights_new_kn(col, kb, N, kb);
        }
        if (!w) {
            free(c);
            free(col);
            return US_ERR_OOM;
        }
        us_gemm_f32(M, dout, N, w, NULL, c, kb);
        us_gemm_weights_free(w);
        for (int32_t m = 0; m < M; m++) {
            float *dst = dinp + (size_t)m * K + k0;
            const float *src = c + (size_t)m * kb;
            for (int32_t j = 0; j < kb; j++) dst[j] += src[j];
        }
    }
    free(c);
    free(col);
    return US_OK;
}

/* dw [R, Q] += Xᵀ [R, M] · P [M, Q] for X [M, R] and P [M, Q]: P is packed
 * once (the pack of its transpose), Xᵀ is copied in blocks of rb <= 64 rows. */
static us_status matmul_dweight_fast(float *dw, const float *X, int32_t R, const float *P, int32_t Q,
                                     int32_t M) {
    const int32_t blk = R < MATMUL_BLOCK ? R : MATMUL_BLOCK;
    us_gemm_weights *w = us_gemm_weights_new_kn(P, Q, M, Q);
    float *a = malloc(sizeof(float) * (size_t)blk * (size_t)M); /* [rb, M] */
    float *c = malloc(sizeof(float) * (size_t)blk * (size_t)Q); /* [rb, Q] */
    us_status st = w && a && c ? US_OK : US_ERR_OOM;
    for (int32_t r0 = 0; st == US_OK && r0 < R; r0 += blk) {
        const int32_t rb = R - r0 < blk ? R - r0 : blk;
        for (int32_t m = 0; m < M; m++) {
            const float *src = X + (size_t)m * R + r0;
            for (int32_t j = 0; j < rb; j++) a[(size_t)j * M + m] = src[j];
        }
        us_gemm_f32(rb, a, M, w, NULL, c, Q);
        for (int32_t j = 0; j < rb; j++) {
            float *dst = dw + (size_t)(r0 + j) * Q;
            const float *src = c + (size_t)j * Q;
            for (int32_t q = 0; q < Q; q++) dst[q] += src[q];
        }
    }
    us_gemm_weights_free(w);
    free(a);
    free(c);
    return st;
}

us_status us_matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                             const float *weight, int32_t M, int32_t K, int32_t N, us_weight_layout layout) {
    us_status st = matmul_check(dinp, dweight, dbias, dout, inp, weight, M, K, N, layout);
    if (st != US_OK || M == 0) return st;
    if (dinp && K > 0 && N > 0) {
        st = matmul_dinp_fast(dinp, dout, weight, NULL, M, K, N, layout);
        if (st != US_OK) return st;
    }
    if (dweight && K > 0 && N > 0) {
        /* Linear: dW [N, K] += doutᵀ · inp.  Conv1D: dW [K, N] += inpᵀ · dout. */
        st = layout == US_W_NK ? matmul_dweight_fast(dweight, dout, N, inp, K, M)
                               : matmul_dweight_fast(dweight, inp, K, dout, N, M);
        if (st != US_OK) return st;
    }
    if (dbias) bias_backward(dbias, dout, M, N);
    return US_OK;
}

us_status us_matmul_backward_packed(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                                    const us_gemm_weights *w, int32_t M, us_weight_layout layout) {
    if (!w) return US_ERR_INVALID_ARG;
    const int32_t N = us_gemm_weights_n(w), K = us_gemm_weights_k(w);
    us_status st = matmul_check(dinp, dweight, dbias, dout, inp, (const float *)w, M, K, N, layout);
    if (st != US_OK || M == 0) return st;
    if (dinp && K > 0 && N > 0) {
        st = matmul_dinp_fast(dinp, dout, NULL, w, M, K, N, layout);
        if (st != US_OK) return st;
    }
    return us_matmul_backward(NULL, dweight, dbias, dout, inp, NULL, M, K, N, layout);
}

/* ---------------------------------------------------------------- embedding */

void us_embedding_backward(float *dtable, const int32_t *ids, int64_t n, const float *dout, int32_t C) {
    for (int64_t i = 0; i < n; i++) {
        float *dst = dtable + (int64_t)ids[i] * C;
        const float *src = dout + i * C;
        for (int32_t c = 0; c < C; c++) dst[c] += src[c];
    }
}

/* ---------------------------------------------------------------- attention */

static us_status attention_check(const float *dz, const float *q, const float *k, const float *v,
                                 const float *pattern, int32_t B, int32_t H, int32_t T, int32_t hs) {
    if (B < 0 || H < 0 || T < 0 || hs < 0) return US_ERR_INVALID_ARG;
    if (!dz || !q || !k || !v || !pattern) return US_ERR_INVALID_ARG;
    return US_OK;
}

us_status us_attention_backward__scalar(float *dq, float *dk, float *dv, float *dpattern, float *dscores,
                                        const float *dz, const float *q, const float *k, const float *v,
                                        const float *pattern, int32_t B, int32_t H, int32_t T, int32_t hs) {
    us_status st = attention_check(dz, q, k, v, pattern, B, H, T, hs);
    if (st != US_OK || B == 0 || H == 0 || T == 0) return st;
    const float scale = (float)sqrt((double)hs); /* as gpt2.c's forward divides */
    float *dp = malloc(sizeof(float) * (size_t)T); /* one row of d pattern */
    if (!dp) return US_ERR_OOM;
    for (int32_t b = 0; b < B; b++)
        for (int32_t h = 0; h < H; h++) {
            const size_t bh = (size_t)b * H + h;
            const float *qh = q + bh * T * hs, *kh = k + bh * T * hs, *vh = v + bh * T * hs;
            for (int32_t t = 0; t < T; t++) {
                const float *p = pattern + (bh * T + t) * T;       /* [T] */
                const float *dzt = dz + (((size_t)b * T + t) * H + h) * hs; /* [hs] */
                const int32_t s_end = dpattern ? T : t + 1;
                /* d pattern[t, s] = dz_t · v_s */
                for (int32_t s = 0; s < s_end; s++) {
                    float acc = 0.0f;
                    for (int32_t d = 0; d < hs; d++) acc += dzt[d] * vh[(size_t)s * hs + d];
                    dp[s] = acc;
                }
                if (dpattern)
                    for (int32_t s = 0; s < T; s++) dpattern[(bh * T + t) * T + s] += dp[s];
                /* dv_s += pattern[t, s] dz_t */
                if (dv)
                    for (int32_t s = 0; s <= t; s++)
                        for (int32_t d = 0; d < hs; d++) dv[(bh * T + s) * hs + d] += p[s] * dzt[d];
                /* softmax backward over s <= t, then through scores = q_t · k_s / scale */
                double dot = 0.0;
                for (int32_t s = 0; s <= t; s++) dot += (double)p[s] * dp[s];
                for (int32_t s = 0; s <= t; s++) {
                    const float ds = (float)(p[s] * (dp[s] - dot));
                    if (dscores) dscores[(bh * T + t) * T + s] += ds;
                    for (int32_t d = 0; d < hs; d++) {
                        if (dq) dq[(bh * T + t) * hs + d] += ds * kh[(size_t)s * hs + d] / scale;
                        if (dk) dk[(bh * T + s) * hs + d] += ds * qh[(size_t)t * hs + d] / scale;
                    }
                }
            }
        }
    free(dp);
    return US_OK;
}

/* dst [rows, cols] += src [rows, cols] (/ div, when div != 1). */
static void add_block(float *dst, const float *src, size_t n, float div) {
    if (div == 1.0f)
        for (size_t i = 0; i < n; i++) dst[i] += src[i];
    else
        for (size_t i = 0; i < n; i++) dst[i] += src[i] / div;
}

/* out [n, n] = inᵀ for a square [n, n] matrix. */
static void transpose_square(float *out, const float *in, int32_t n) {
    for (int32_t i = 0; i < n; i++)
        for (int32_t j = 0; j < n; j++) out[(size_t)j * n + i] = in[(size_t)i * n + j];
}

/* res [M, N'] = A [M, K'] (rows lda apart) · Wt [K', N'] (rows ldw apart),
 * through a pack of Wt made for this one product. */
static us_status gemm_kn(float *res, int32_t M, const float *A, int32_t lda, const float *Wt, int32_t N,
                         int32_t K, int32_t ldw) {
    us_gemm_weights *w = us_gemm_weights_new_kn(Wt, N, K, ldw);
    if (!w) return US_ERR_OOM;
    us_gemm_f32(M, A, lda, w, NULL, res, N);
    us_gemm_weights_free(w);
    return US_OK;
}

us_status us_attention_backward(float *dq, float *dk, float *dv, float *dpattern, float *dscores,
                                const float *dz, const float *q, const float *k, const float *v,
                                const float *pattern, int32_t B, int32_t H, int32_t T, int32_t hs) {
    us_status st = attention_check(dz, q, k, v, pattern, B, H, T, hs);
    if (st != US_OK || B == 0 || H == 0 || T == 0) return st;
    const float scale = (float)sqrt((double)hs);
    const size_t TT = (size_t)T * T, Ths = (size_t)T * hs;
    const int need_dp = dpattern || dscores || dq || dk;
    /* Per (b, h): d pattern, d scores and a transpose [T, T]; a result [T, hs]. */
    float *dp = malloc(sizeof(float) * TT), *ds = malloc(sizeof(float) * TT), *tr = malloc(sizeof(float) * TT);
    float *res = malloc(sizeof(float) * (Ths ? Ths : 1));
    if (!dp || !ds || !tr || !res) st = US_ERR_OOM;
    for (int32_t b = 0; st == US_OK && b < B; b++)
        for (int32_t h = 0; st == US_OK && h < H; h++) {
            const size_t bh = (size_t)b * H + h;
            const float *qh = q + bh * Ths, *kh = k + bh * Ths, *vh = v + bh * Ths;
            const float *ph = pattern + bh * TT;
            const float *dzh = dz + (size_t)b * T * H * hs + (size_t)h * hs; /* [T, hs], rows H*hs apart */
            const int32_t ldz = H * hs;

            /* dv [T, hs] += patternᵀ · dz */
            if (dv && hs > 0) {
                transpose_square(tr, ph, T);
                if ((st = gemm_kn(res, T, tr, T, dzh, hs, T, ldz)) != US_OK) break;
                add_block(dv + bh * Ths, res, Ths, 1.0f);
            }
            if (!need_dp) continue;

            /* d pattern [T, T] = dz · vᵀ (every entry, above the diagonal too) */
            if (hs > 0) {
                us_gemm_weights *wv = us_gemm_weights_new(vh, T, hs);
                if (!wv) {
                    st = US_ERR_OOM;
                    break;
                }
                us_gemm_f32(T, dzh, ldz, wv, NULL, dp, T);
                us_gemm_weights_free(wv);
            } else {
                memset(dp, 0, sizeof(float) * TT);
            }
            if (dpattern) add_block(dpattern + bh * TT, dp, TT, 1.0f);

            /* d scores = softmax backward over s <= t; 0 above the diagonal */
            for (int32_t t = 0; t < T; t++) {
                const float *p = ph + (size_t)t * T, *g = dp + (size_t)t * T;
                float *o = ds + (size_t)t * T;
                double dot = 0.0;
                for (int32_t s = 0; s <= t; s++) dot += (double)p[s] * g[s];
                for (int32_t s = 0; s <= t; s++) o[s] = (float)(p[s] * (g[s] - dot));
                for (int32_t s = t + 1; s < T; s++) o[s] = 0.0f;
            }
            if (dscores) add_block(dscores + bh * TT, ds, TT, 1.0f);
            if (hs == 0) continue;

            /* dq [T, hs] += dscores · k / scale */
            if (dq) {
                if ((st = gemm_kn(res, T, ds, T, kh, hs, T, hs)) != US_OK) break;
                add_block(dq + bh * Ths, res, Ths, scale);
            }
            /* dk [T, hs] += dscoresᵀ · q / scale */
            if (dk) {
                transpose_square(tr, ds, T);
                if ((st = gemm_kn(res, T, tr, T, qh, hs, T, hs)) != US_OK) break;
                add_block(dk + bh * Ths, res, Ths, scale);
            }
        }
    free(dp);
    free(ds);
    free(tr);
    free(res);
    return st;
}

/* ---------------------------------------------------------------- loss */

us_status us_crossentropy_forward_backward(float *losses, float *dlogits, const float *logits,
                                           const int32_t *targets, int32_t N, int32_t V, float *mean_loss,
                                           int32_t *n_counted) {
    if (N < 0 || V < 0 || !mean_loss || !n_counted || (N > 0 && (!logits || !targets)))
        return US_ERR_INVALID_ARG;
    int32_t count = 0;
    for (int32_t i = 0; i < N; i++) {
        if (targets[i] == US_IGNORE_INDEX) continue;
        if (targets[i] < 0 || targets[i] >= V) return US_ERR_RANGE;
        count++;
    }
    double total = 0.0;
    for (int32_t i = 0; i < N; i++) {
        const float *x = logits + (size_t)i * V;
        float *g = dlogits ? dlogits + (size_t)i * V : NULL; /* may alias x */
        const int32_t target = targets[i];
        if (target == US_IGNORE_INDEX) {
            if (losses) losses[i] = 0.0f;
            if (g) memset(g, 0, sizeof(float) * (size_t)V);
            continue;
        }
        const float x_target = x[target];
        float mx = -INFINITY;
        for (int32_t j = 0; j < V; j++) mx = x[j] > mx ? x[j] : mx;
        double sum = 0.0;
        for (int32_t j = 0; j < V; j++) {
            const float e = expf(x[j] - mx);
            sum += e;
            if (g) g[j] = e; /* x[j] is not read again */
        }
        const double loss = (double)mx + log(sum) - (double)x_target;
        if (losses) losses[i] = (float)loss;
        total += loss;
        if (g) {
            const double inv_sum = 1.0 / sum, inv_count = 1.0 / count;
            for (int32_t j = 0; j < V; j++) g[j] = (float)((g[j] * inv_sum - (j == target ? 1.0 : 0.0)) * inv_count);
        }
    }
    *n_counted = count;
    *mean_loss = count ? (float)(total / count) : 0.0f;
    return US_OK;
}
