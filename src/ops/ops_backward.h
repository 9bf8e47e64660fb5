/* ops_backward.h — the backward passes of the ops in ops.h, the cross-entropy
 * loss, and the two GEMM-shaped backwards of a GPT-2 (matmul, attention), on
 * raw f32 buffers, llm.c style.
 *
 * Conventions, stated once:
 *   - `<op>_backward(dinp, dweight, ..., dout, inp, ...)`: every gradient
 *     output ACCUMULATES (`+=`), so that a tensor used twice (tied weights,
 *     residual branches) collects both contributions; zero the gradients
 *     before a backward. The one exception is the loss, which writes dlogits.
 *   - A gradient output may be NULL where it says so, to skip that work.
 *   - Row-major; dimension names as in gpt2.c: N rows (leading dims
 *     flattened), C columns, B batch, T positions, H heads, hs head size,
 *     V vocabulary. Everything is borrowed for the call; nothing is kept.
 *   - Reductions over a row (means, dot products, bias sums) are accumulated
 *     in double, as the forwards in ops_scalar.c accumulate LayerNorm.
 *   - Functions that allocate scratch return a us_status (US_ERR_OOM, or
 *     US_ERR_INVALID_ARG for a negative size or a missing operand); nothing
 *     prints, nothing is global.
 *
 * Ops built on the GEMM (matmul, attention) come twice: the fast path through
 * us_gemm_f32 (src/kernels/gemm.h), and `__scalar`, plain loops kept forever
 * as its oracle. Only agreement to rounding error is promised
 * (tests/c/test_backward.c); today the matmul's two paths sum every product
 * in the same order and agree bit for bit, the attention's do not. */
#ifndef US_OPS_BACKWARD_H
#define US_OPS_BACKWARD_H
#include <stdint.h>

#include "kernels/gemm.h"
#include "unseal.h"

/* ---------------------------------------------------------------- LayerNorm */

/* us_layernorm_f32 that also saves, per row, the mean and 1/sqrt(var + eps)
 * the backward needs. out [N, C], mean [N], rstd [N], inp [N, C]; weight and
 * bias [C] or NULL. `out` equals us_layernorm_f32's output bit for bit (same
 * double accumulation, same float rounding, same operation order); mean[r]
 * and rstd[r] are exactly the floats it uses. */
void us_layernorm_forward_stats(float *out, float *mean, float *rstd, const float *inp, const float *weight,
                                const float *bias, int64_t N, int32_t C, float eps);

/* Backward of LayerNorm given the forward's mean and rstd [N]:
 *   dinp [N, C]   += d loss / d inp          (may be NULL)
 *   dweight [C]   += sum_r dout * xhat        (NULL when weight is NULL)
 *   dbias [C]     += sum_r dout               (may be NULL)
 * with xhat = (inp - mean) * rstd. weight [C] may be NULL
 * (elementwise_affine=False: treated as all ones). */
void us_layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                           const float *weight, const float *mean, const float *rstd, int64_t N, int32_t C);

/* ---------------------------------------------------------------- activations
 *
 * Elementwise: dinp[i] += dout[i] * f'(x[i]) over n values, with f' written
 * as PyTorch's CPU kernels write it. */

/* GELU(approximate='tanh'): with u = sqrt(2/pi) (x + 0.044715 x^3), t = tanh u,
 * f' = 0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2). */
void us_gelu_tanh_backward(float *dinp, const float *inp, const float *dout, int64_t n);
/* Exact GELU: f' = Phi(x) + x phi(x), the normal CDF and density. */
void us_gelu_erf_backward(float *dinp, const float *inp, const float *dout, int64_t n);
/* ReLU: dout where x > 0, and 0 where x <= 0 (the gradient at 0 is 0). A NaN
 * input passes dout through, as torch's threshold_backward does. */
void us_relu_backward(float *dinp, const float *inp, const float *dout, int64_t n);
/* tanh, from the forward's OUTPUT y: f' = 1 - y^2. */
void us_tanh_backward(float *dinp, const float *out, const float *dout, int64_t n);
/* sigmoid, from the forward's OUTPUT y: f' = y (1 - y). */
void us_sigmoid_backward(float *dinp, const float *out, const float *dout, int64_t n);

/* Softmax over the middle axis of [outer, dim, inner] (as us_softmax_f32),
 * from the forward's OUTPUT y: dinp_d += y_d (dout_d - sum_j y_j dout_j), the
 * dot product accumulated in double. Entries with y = 0 (masked with -inf in
 * the forward) get no gradient. */
void us_softmax_backward(float *dinp, const float *out, const float *dout, int64_t outer, int32_t dim,
                         int64_t inner);

/* ---------------------------------------------------------------- matmul */

/* Where the forward's weight lives. */
typedef enum us_weight_layout {
    US_W_NK = 0, /* W [N, K]: torch.nn.Linear (out_features, in_features) */
    US_W_KN = 1  /* W [K, N]: HF's Conv1D (nx, nf), GPT-2's c_attn, c_proj, c_fc */
} us_weight_layout;

/* Backward of out [M, N] = inp [M, K] · W (+ bias [N]), W as `layout` says:
 *   dinp [M, K]            += dout · W_nk        (needs weight)
 *   dweight [N, K] / [K, N] += doutᵀ · inp, in W's own layout (needs inp)
 *   dbias [N]              += sum over rows of dout
 * Any of dinp, dweight, dbias may be NULL to skip it; an operand that a
 * requested gradient needs must not be NULL (US_ERR_INVALID_ARG).
 * M, K, N >= 0 (0 is a no-op).
 *
 * The fast path runs us_gemm_f32 over packs of the transposed operands. It
 * mallocs its scratch and packs per call and frees them before returning.
 * Scratch is bounded by working in blocks of 64 output columns (dinp) or rows
 * (dweight): about 64 * (M + max(K, N)) floats for the block, plus one
 * pack of a 64-column slice of W (64 * N floats, dinp) and one pack of inp
 * or dout (M * K or M * N floats, dweight). For GPT-2's lm_head (V = 50257,
 * W [V, C]) that is ~13 MB plus the activations' size, never a V x C copy.
 * On US_ERR_OOM the gradients may hold part of the update: treat them as lost. */
us_status us_matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                             const float *weight, int32_t M, int32_t K, int32_t N, us_weight_layout layout);
/* The same with the weight given as its GEMM pack w (W_nk [N, K] =
 * us_gemm_weights_n/k, e.g. a model's only copy of it): dinp from the pack's
 * values (bit for bit what us_matmul_backward gives for an f32 pack of the
 * same weight; an f16 pack's rounded values otherwise), dweight in `layout`.
 * Scratch: also N * 64 floats for a block of the pack's columns. */
us_status us_matmul_backward_packed(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                                    const us_gemm_weights *w, int32_t M, us_weight_layout layout);
/* The scalar reference: plain loops, each gradient element a float sum in
 * index order (n for dinp, m for dweight) added once to its destination;
 * dbias summed in double. Allocates nothing; same status rules. */
us_status us_matmul_backward__scalar(float *dinp, float *dweight, float *dbias, const float *dout,
                                     const float *inp, const float *weight, int32_t M, int32_t K, int32_t N,
                                     us_weight_layout layout);

/* ---------------------------------------------------------------- embedding */

/* dtable [V, C]: dtable[ids[i], :] += dout[i, :] for i < n (repeated ids
 * accumulate, in order of i). ids must be valid (checked by the forward). */
void us_embedding_backward(float *dtable, const int32_t *ids, int64_t n, const float *dout, int32_t C);

/* ---------------------------------------------------------------- attention */

/* Backward of one GPT-2 layer's causal attention, given what its forward
 * saved (gpt2.c's layout, no KV cache: keys are the same T positions):
 *   q, k, v    [B, H, T, hs]
 *   pattern    [B, H, T, T]  softmax_s(q_t·k_s / sqrt(hs)) over s <= t; 0 for s > t
 *   dz         [B, T, H, hs] gradient of z_t = sum_s pattern[t, s] v_s, per position
 * Accumulates (+=):
 *   dq, dk, dv [B, H, T, hs] (may each be NULL)
 *   dpattern   [B, H, T, T]  or NULL: d loss / d pattern, i.e. dz_t · v_s for
 *              EVERY (t, s), above the diagonal too: there the pattern is 0
 *              but z still depends on it linearly, and this is what PyTorch
 *              reports for a gradient hook on the pattern.
 *   dscores    [B, H, T, T]  or NULL: d loss / d scores, the scaled and masked
 *              pre-softmax scores (gpt2.c's "scores" point); 0 above the
 *              diagonal, where the mask cut the dependence.
 * Both are accumulated like every gradient here; each call computes its own
 * dscores from its own dpattern, never from what the buffer already held.
 * Returns US_ERR_OOM when scratch (3 T*T + T*hs floats, plus packs of
 * T*hs) cannot be allocated, US_ERR_INVALID_ARG for negative sizes or NULL
 * inputs. */
us_status us_attention_backward(float *dq, float *dk, float *dv, float *dpattern, float *dscores,
                                const float *dz, const float *q, const float *k, const float *v,
                                const float *pattern, int32_t B, int32_t H, int32_t T, int32_t hs);
/* The scalar reference (llm.c's loops), one (t, s) pair at a time: scratch of T floats. */
us_status us_attention_backward__scalar(float *dq, float *dk, float *dv, float *dpattern, float *dscores,
                                        const float *dz, const float *q, const float *k, const float *v,
                                        const float *pattern, int32_t B, int32_t H, int32_t T, int32_t hs);

/* ---------------------------------------------------------------- loss */

/* The label value that is not counted, as HF and torch's ignore_index. */
#define US_IGNORE_INDEX (-100)

/* Cross-entropy of logits [N, V] against targets [N] with torch's
 * F.cross_entropy(reduction='mean', ignore_index=-100) semantics, forward and
 * backward in one pass. (HF's GPT2LMHeadModel shifts first: logits of
 * positions 0..T-2 against ids 1..T-1; that shift is the caller's.)
 *   losses     [N] or NULL: per-row loss, log-sum-exp - logit[target]; 0 for
 *              ignored rows (reduction='none').
 *   dlogits    [N, V] or NULL: WRITTEN, not accumulated:
 *              (softmax - onehot) / n_counted for counted rows, 0 for ignored
 *              rows. It may alias logits (computed row by row, in place).
 *   *mean_loss mean over the counted rows (summed in double).
 *   *n_counted rows whose target is not US_IGNORE_INDEX.
 * Numerically stable (max subtracted before exp, sums in double). When no row
 * is counted, *mean_loss = 0 and dlogits is all 0 (torch would give NaN for
 * the mean: 0/0; 0 makes "nothing to learn" a no-op step instead).
 * A target outside [0, V) other than -100 returns US_ERR_RANGE before anything
 * is written; NULL logits/targets/mean_loss/n_counted or N, V < 0 return
 * US_ERR_INVALID_ARG. */
us_status us_crossentropy_forward_backward(float *losses, float *dlogits, const float *logits,
                                           const int32_t *targets, int32_t N, int32_t V, float *mean_loss,
                                           int32_t *n_counted);
#endif
