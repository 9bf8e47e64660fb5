/* ops.h — the numerical operations behind the modules, on raw f32 buffers.
 *
 * Each op is written once here as a plain scalar loop: the reference, kept
 * forever, and what runs for ops that have no SIMD kernel. Matmul has SIMD
 * kernels, chosen in src/kernels/gemm.c, never here. Numerics follow
 * PyTorch's definitions (stated per op) so results agree to ~1e-6.
 *
 * Dimension names: N rows (all leading dims flattened), C the last dim. */
#ifndef US_OPS_H
#define US_OPS_H
#include <stdint.h>

/* out[i] = max(in[i], 0). NaN stays NaN, as torch.relu. out may equal in. */
void us_relu_f32(float *out, const float *in, int64_t n);
/* GELU, exact: 0.5 x (1 + erf(x / sqrt 2)). */
void us_gelu_erf_f32(float *out, const float *in, int64_t n);
/* GELU(approximate='tanh') = gelu_new: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
void us_gelu_tanh_f32(float *out, const float *in, int64_t n);
void us_tanh_f32(float *out, const float *in, int64_t n);
/* 1 / (1 + exp(-x)). */
void us_sigmoid_f32(float *out, const float *in, int64_t n);

/* Softmax over the middle axis of a tensor viewed as [outer, dim, inner]:
 * out = exp(x - max) / sum exp(x - max). A row of all -inf gives NaN, as PyTorch. */
void us_softmax_f32(float *out, const float *in, int64_t outer, int32_t dim, int64_t inner);

/* LayerNorm over the last C values of each of N rows: (x - mean) / sqrt(var + eps)
 * * weight + bias, with the biased variance. weight and bias may be NULL
 * (elementwise_affine=False). Mean and variance are accumulated in double. */
void us_layernorm_f32(float *out, const float *in, const float *weight, const float *bias,
                      int64_t N, int32_t C, float eps);

/* out[i, :] = table[ids[i], :] for i < n; table is [V, C]. Returns the index
 * of the first id outside [0, V), or -1 when all are valid (then out is written). */
int64_t us_embedding_f32(float *out, const int32_t *ids, int64_t n, const float *table, int32_t V,
                         int32_t C);
#endif
