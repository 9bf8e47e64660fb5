/* adamw.h — the optimizer side of training: AdamW, gradient-norm clipping and
 * a warmup + cosine learning-rate schedule, each matching the PyTorch function
 * named beside it (torch 1.13), on flat f32 buffers (llm.c keeps every
 * parameter, gradient and moment in one allocation each; pass those).
 *
 *     for (int64_t step = 0; step < total; step++) {
 *         ... zero grads, forward, loss, backward into grads ...
 *         us_clip_grad_norm(grads, n, 1.0);
 *         double lr = us_lr_cosine_warmup(step, warmup, total, 6e-4, 6e-5);
 *         us_adamw_step(params, grads, m, v, n, lr, 0.9, 0.95, 1e-8, 0.1, step + 1);
 *     }
 *
 * Hyperparameters are doubles, as PyTorch's are (Python floats): the scalar
 * coefficients are computed in double and rounded to float once; every
 * per-element operation is float, in torch's order. Nothing is allocated. */
#ifndef US_TRAIN_ADAMW_H
#define US_TRAIN_ADAMW_H
#include <stdint.h>

#include "unseal.h"

/* One torch.optim.AdamW step (amsgrad=False, maximize=False) over n values:
 *   p  = p * (1 - lr * weight_decay)           decoupled weight decay, first
 *   m  = beta1 * m + (1 - beta1) * g
 *   v  = beta2 * v + (1 - beta2) * g * g
 *   p += -(lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 * params, m, v [n] are updated in place; grads [n] is read. m and v start at
 * zero; t is the step number, 1 for the first step (torch's state['step']
 * after its increment). Returns US_ERR_INVALID_ARG for t < 1, n < 0 or a
 * NULL buffer (with n > 0), before touching anything. */
us_status us_adamw_step(float *params, const float *grads, float *m, float *v, int64_t n, double lr, double beta1,
                        double beta2, double eps, double weight_decay, int64_t t);

/* The L2 norm of grads [n], summed in double: sqrt(sum g^2). 0 for n = 0. */
double us_grad_global_norm(const float *grads, int64_t n);

/* torch.nn.utils.clip_grad_norm_(params, max_norm) over one flat buffer:
 * coef = max_norm / (norm + 1e-6); grads *= coef unless coef >= 1. So the
 * gradients are scaled exactly when norm > max_norm - 1e-6, and a NaN or
 * infinite norm scales them (by NaN or 0) as torch's error_if_nonfinite=False
 * does. Returns the norm before clipping. */
double us_clip_grad_norm(float *grads, int64_t n, double max_norm);

/* Learning rate for optimizer step `step` (counting from 0):
 *   step < warmup:          lr_max * step / warmup   (linear from 0: step 0 gives 0.0,
 *                                                     as HF's get_cosine_schedule_with_warmup)
 *   warmup <= step < total: lr_min + (lr_max - lr_min) * (1 + cos(pi * (step - warmup) / (total - warmup))) / 2
 *                           (lr_max at step == warmup)
 *   step >= total:          lr_min
 * A negative step counts as 0; warmup <= 0 means no warmup (step 0 then gives
 * lr_max). If total <= warmup there is no cosine phase: the ramp runs to
 * `warmup`, then lr_min. */
double us_lr_cosine_warmup(int64_t step, int64_t warmup, int64_t total, double lr_max, double lr_min);
#endif
