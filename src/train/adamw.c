/* adamw.c — AdamW, gradient clipping and the learning-rate schedule
 * (contracts in adamw.h), written in the order torch 1.13's
 * _single_tensor_adamw and clip_grad_norm_ compute them. */
#include "train/adamw.h"

#include <math.h>

us_status us_adamw_step(float *params, const float *grads, float *m, float *v, int64_t n, double lr, double beta1,
                        double beta2, double eps, double weight_decay, int64_t t) {
    if (t < 1 || n < 0 || (n > 0 && (!params || !grads || !m || !v))) return US_ERR_INVALID_ARG;
    /* Python-float scalars, each rounded to float once, as torch passes them to its kernels. */
    const float decay = (float)(1.0 - lr * weight_decay);
    const float b1 = (float)beta1, one_minus_b1 = (float)(1.0 - beta1);
    const float b2 = (float)beta2, one_minus_b2 = (float)(1.0 - beta2);
    const double bias_correction1 = 1.0 - pow(beta1, (double)t);
    const double bias_correction2 = 1.0 - pow(beta2, (double)t);
    const float neg_step_size = (float)(-(lr / bias_correction1));
    const float bias_correction2_sqrt = (float)sqrt(bias_correction2);
    const float feps = (float)eps;
    for (int64_t i = 0; i < n; i++) {
        const float g = grads[i];
        const float p = params[i] * decay;              /* param.mul_(1 - lr * weight_decay) */
        const float mi = m[i] * b1 + one_minus_b1 * g;  /* exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1) */
        const float vi = v[i] * b2 + one_minus_b2 * g * g; /* exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2) */
        const float denom = sqrtf(vi) / bias_correction2_sqrt + feps;
        params[i] = p + neg_step_size * mi / denom;     /* param.addcdiv_(exp_avg, denom, value=-step_size) */
        m[i] = mi;
        v[i] = vi;
    }
    return US_OK;
}

double us_grad_global_norm(const float *grads, int64_t n) {
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += (double)grads[i] * grads[i];
    return sqrt(s);
}

double us_clip_grad_norm(float *grads, int64_t n, double max_norm) {
    const double norm = us_grad_global_norm(grads, n);
    const double coef = max_norm / (norm + 1e-6);
    if (!(coef >= 1.0)) { /* torch.clamp(coef, max=1.0), NaN included */
        const float c = (float)coef;
        for (int64_t i = 0; i < n; i++) grads[i] *= c;
    }
    return norm;
}

double us_lr_cosine_warmup(int64_t step, int64_t warmup, int64_t total, double lr_max, double lr_min) {
    const double pi = 3.14159265358979323846;
    if (step < 0) step = 0;
    if (warmup < 0) warmup = 0;
    if (step < warmup) return lr_max * (double)step / (double)warmup;
    if (step >= total) return lr_min;
    const double progress = (double)(step - warmup) / (double)(total - warmup);
    return lr_min + (lr_max - lr_min) * 0.5 * (1.0 + cos(pi * progress));
}
