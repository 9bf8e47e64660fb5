/* ops_scalar.c — scalar reference implementations of the ops in ops.h. */
#include "ops/ops.h"

#include <math.h>
#include <string.h>

void us_relu_f32(float *out, const float *in, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = in[i] > 0.0f ? in[i] : (in[i] != in[i] ? in[i] : 0.0f);
}

void us_gelu_erf_f32(float *out, const float *in, int64_t n) {
    const float inv_sqrt2 = 0.70710678118654752440f;
    for (int64_t i = 0; i < n; i++) {
        float x = in[i];
        out[i] = 0.5f * x * (1.0f + erff(x * inv_sqrt2));
    }
}

void us_gelu_tanh_f32(float *out, const float *in, int64_t n) {
    const float k = 0.79788456080286535588f; /* sqrt(2/pi) */
    for (int64_t i = 0; i < n; i++) {
        float x = in[i];
        float inner = k * (x + 0.044715f * x * x * x);
        out[i] = 0.5f * x * (1.0f + tanhf(inner));
    }
}

void us_tanh_f32(float *out, const float *in, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = tanhf(in[i]);
}

void us_sigmoid_f32(float *out, const float *in, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = 1.0f / (1.0f + expf(-in[i]));
}

void us_softmax_f32(float *out, const float *in, int64_t outer, int32_t dim, int64_t inner) {
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t j = 0; j < inner; j++) {
            const float *x = in + o * dim * inner + j;
            float *y = out + o * dim * inner + j;
            float mx = -INFINITY;
            for (int32_t d = 0; d < dim; d++) mx = x[d * inner] > mx ? x[d * inner] : mx;
            float sum = 0.0f;
            for (int32_t d = 0; d < dim; d++) {
                float e = expf(x[d * inner] - mx);
                y[d * inner] = e;
                sum += e;
            }
            float inv = 1.0f / sum;
            for (int32_t d = 0; d < dim; d++) y[d * inner] *= inv;
        }
    }
}

void us_layernorm_f32(float *out, const float *in, const float *weight, const float *bias,
                      int64_t N, int32_t C, float eps) {
    for (int64_t r = 0; r < N; r++) {
        const float *x = in + r * C;
        float *y = out + r * C;
        double mean = 0.0;
        for (int32_t c = 0; c < C; c++) mean += x[c];
        mean /= C;
        double var = 0.0;
        for (int32_t c = 0; c < C; c++) {
            double d = x[c] - mean;
            var += d * d;
        }
        var /= C;
        float rstd = (float)(1.0 / sqrt(var + eps));
        float m = (float)mean;
        for (int32_t c = 0; c < C; c++) {
            float v = (x[c] - m) * rstd;
            if (weight) v *= weight[c];
            if (bias) v += bias[c];
            y[c] = v;
        }
    }
}

int64_t us_embedding_f32(float *out, const int32_t *ids, int64_t n, const float *table, int32_t V,
                         int32_t C) {
    for (int64_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= V) return i;
    for (int64_t i = 0; i < n; i++) memcpy(out + i * C, table + (int64_t)ids[i] * C, sizeof(float) * (size_t)C);
    return -1;
}
