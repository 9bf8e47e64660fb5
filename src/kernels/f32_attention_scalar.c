/* f32_attention_scalar.c — the reference attention kernels for one (batch
 * row, head): plain loops, kept forever as the oracle of the SIMD128 kernels
 * and as the portable fallback. Contracts: see attention.h.
 *
 * Scores and z are summed in order from 0 in float, the scale applied by
 * division as HF does (x / (float)sqrt((double)hs)); the softmax is
 * us_softmax_f32's (libm expf, a sequential sum, one multiplication by
 * 1 / sum) restricted to a row's unmasked entries, which gives the same bits
 * as us_softmax_f32 over the whole row with -inf at the masked entries. */
#include "kernels/attention.h"

#include <math.h>

static int bad_shape(int32_t T, int32_t S, int32_t hs) { return T < 1 || S < T || hs < 1; }

void us_f32_attention_scores__scalar(int32_t T, int32_t S, int32_t hs, const float *q,
                                     int32_t q_stride, const float *k, int32_t k_stride,
                                     float *scores, int32_t scores_stride) {
    if (bad_shape(T, S, hs)) return;
    const int32_t past = S - T;
    const float scale = (float)sqrt((double)hs);
    for (int32_t t = 0; t < T; t++) {
        const float *qt = q + (size_t)t * (size_t)q_stride; /* [hs] */
        float *row = scores + (size_t)t * (size_t)scores_stride; /* [S] */
        for (int32_t s = 0; s < S; s++) {
            if (s > past + t) {
                row[s] = -INFINITY;
                continue;
            }
            const float *ks = k + (size_t)s * (size_t)k_stride; /* [hs] */
            float acc = 0.0f;
            for (int32_t d = 0; d < hs; d++) acc += qt[d] * ks[d];
            row[s] = acc / scale;
        }
    }
}

void us_f32_attention_softmax_rows__scalar(int32_t T, int32_t S, float *scores,
                                           int32_t scores_stride) {
    if (T < 1 || S < T) return;
    const int32_t past = S - T;
    for (int32_t t = 0; t < T; t++) {
        float *row = scores + (size_t)t * (size_t)scores_stride;
        const int32_t n = past + t + 1; /* unmasked entries */
        float mx = -INFINITY;
        for (int32_t s = 0; s < n; s++) mx = row[s] > mx ? row[s] : mx;
        float sum = 0.0f;
        for (int32_t s = 0; s < n; s++) {
            const float e = expf(row[s] - mx);
            row[s] = e;
            sum += e;
        }
        const float inv = 1.0f / sum;
        for (int32_t s = 0; s < n; s++) row[s] *= inv;
        for (int32_t s = n; s < S; s++) row[s] = 0.0f;
    }
}

void us_f32_attention_pv__scalar(int32_t T, int32_t S, int32_t hs, const float *pattern,
                                 int32_t pattern_stride, const float *v, int32_t v_stride,
                                 float *z, int32_t z_stride) {
    if (bad_shape(T, S, hs)) return;
    const int32_t past = S - T;
    for (int32_t t = 0; t < T; t++) {
        const float *p = pattern + (size_t)t * (size_t)pattern_stride; /* [S] */
        float *zt = z + (size_t)t * (size_t)z_stride;                  /* [hs] */
        for (int32_t j = 0; j < hs; j++) {
            float acc = 0.0f;
            for (int32_t s = 0; s <= past + t; s++) acc += p[s] * v[(size_t)s * (size_t)v_stride + j];
            zt[j] = acc;
        }
    }
}

void us_f32_attention_pv_dense__scalar(int32_t T, int32_t S, int32_t hs, const float *pattern,
                                       int32_t pattern_stride, const float *v, int32_t v_stride,
                                       float *z, int32_t z_stride) {
    if (T < 1 || S < 1 || hs < 1) return;
    for (int32_t t = 0; t < T; t++) {
        const float *p = pattern + (size_t)t * (size_t)pattern_stride; /* [S] */
        float *zt = z + (size_t)t * (size_t)z_stride;                  /* [hs] */
        for (int32_t j = 0; j < hs; j++) {
            float acc = 0.0f;
            for (int32_t s = 0; s < S; s++) acc += p[s] * v[(size_t)s * (size_t)v_stride + j];
            zt[j] = acc;
        }
    }
}

/* Online softmax over blocks of FUSED_BLOCK keys: per query row, the running
 * max m, the running sum l of exp(score - m), and z itself as the running
 * sum of exp(score - m) v, rescaled by exp(m_old - m_new) when a block raises
 * the max. One rescale per block (not per key) keeps the rounding of the
 * rescales, which compounds, to S / FUSED_BLOCK steps. */
#define FUSED_BLOCK 32

void us_f32_attention_fused__scalar(int32_t T, int32_t S, int32_t hs, const float *q,
                                    int32_t q_stride, const float *k, int32_t k_stride,
                                    const float *v, int32_t v_stride, float *z, int32_t z_stride) {
    if (bad_shape(T, S, hs)) return;
    const int32_t past = S - T;
    const float scale = (float)sqrt((double)hs);
    for (int32_t t = 0; t < T; t++) {
        const float *qt = q + (size_t)t * (size_t)q_stride;
        float *zt = z + (size_t)t * (size_t)z_stride;
        const int32_t n = past + t + 1; /* keys this row sees */
        float m = -INFINITY, l = 0.0f;
        for (int32_t j = 0; j < hs; j++) zt[j] = 0.0f;
        for (int32_t s0 = 0; s0 < n; s0 += FUSED_BLOCK) {
            const int32_t nb = n - s0 < FUSED_BLOCK ? n - s0 : FUSED_BLOCK;
            float p[FUSED_BLOCK];
            float bmax = -INFINITY;
            for (int32_t i = 0; i < nb; i++) {
                const float *ks = k + (size_t)(s0 + i) * (size_t)k_stride;
                float acc = 0.0f;
                for (int32_t d = 0; d < hs; d++) acc += qt[d] * ks[d];
                p[i] = acc / scale;
                bmax = p[i] > bmax ? p[i] : bmax;
            }
            const float m_new = bmax > m ? bmax : m;
            const float corr = expf(m - m_new); /* 0 on the first block, 1 if m stays */
            float bsum = 0.0f;
            for (int32_t i = 0; i < nb; i++) {
                p[i] = expf(p[i] - m_new);
                bsum += p[i];
            }
            l = l * corr + bsum;
            for (int32_t j = 0; j < hs; j++) {
                float acc = zt[j] * corr;
                for (int32_t i = 0; i < nb; i++) acc += p[i] * v[(size_t)(s0 + i) * (size_t)v_stride + j];
                zt[j] = acc;
            }
            m = m_new;
        }
        const float inv = 1.0f / l;
        for (int32_t j = 0; j < hs; j++) zt[j] *= inv;
    }
}
