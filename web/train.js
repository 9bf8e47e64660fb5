// train.js — training a GPT-2 HookedModel: AdamW (decoupled weight decay, as
// torch.optim.AdamW), global gradient-norm clipping, linear warmup then a
// cosine schedule, on the cross-entropy of next-token prediction. The
// arithmetic is C (src/train/adamw.c); this file keeps the state and the loop.
//
// A loaded model holds its matmul weights only packed for the GEMM; the
// optimizer updates a plain f32 copy of every parameter, which a Trainer
// makes when it is created and frees again at dispose() (the packs then hold
// the trained values; with dtype 'f16', rounded).

import { UnsealError } from './errors.js';
import { C, heap, malloc } from './wasm.js';

export class Trainer {
  #mState = 0;
  #vState = 0;
  #n = 0;

  /**
   * @param model a GPT-2 HookedModel (HookedModel.fromPretrained)
   * @param {{ lr?: number, minLr?: number, warmup?: number, steps: number, betas?: [number, number], eps?: number, weightDecay?: number, clip?: number }} options
   *   steps: the schedule's length; clip: max global gradient norm (0 = off).
   *   Weight decay applies to every parameter, as torch.optim.AdamW over model.parameters().
   */
  constructor(model, { lr = 3e-4, minLr = 0, warmup = 0, steps, betas = [0.9, 0.95], eps = 1e-8, weightDecay = 0.1, clip = 1.0 } = {}) {
    if (!model?.config?.n_layer) throw new UnsealError('ERR_INVALID_ARG', 'Trainer: model must be a GPT-2 HookedModel');
    if (!Number.isInteger(steps) || steps < 1) throw new UnsealError('ERR_INVALID_ARG', `Trainer: steps (the schedule length) must be a positive integer, got ${steps}`);
    for (const [k, v] of Object.entries({ lr, minLr, eps, weightDecay, clip })) {
      if (typeof v !== 'number' || !(v >= 0)) throw new UnsealError('ERR_INVALID_ARG', `Trainer: ${k} must be a number >= 0, got ${v}`);
    }
    this.model = model;
    this.options = { lr, minLr, warmup, steps, betas, eps, weightDecay, clip };
    model._backend.setPlainWeights(true);
    this.step = 0; // optimizer steps taken
    this.#n = C.usw_gpt2_num_param_floats(model._backend._ptr());
    this.#mState = malloc(4 * this.#n, 'AdamW state');
    this.#vState = malloc(4 * this.#n, 'AdamW state');
    heap().u8.fill(0, this.#mState, this.#mState + 4 * this.#n);
    heap().u8.fill(0, this.#vState, this.#vState + 4 * this.#n);
  }

  /** The learning rate at optimizer step `step` (0-based). */
  lrAt(step) {
    const o = this.options;
    return C.usw_lr_cosine_warmup(step, o.warmup, o.steps, o.lr, o.minLr);
  }

  /**
   * One step on a batch of token ids [B, T] (targets default to the ids: next-token prediction).
   * @returns {{ step: number, loss: number, lr: number, gradNorm: number }}
   */
  trainStep(ids, targets = ids) {
    if (!this.#mState) throw new UnsealError('ERR_DISPOSED', 'this Trainer has been disposed');
    const { model } = this;
    model._backend.setPlainWeights(true); // (again, if another Trainer's dispose dropped it)
    model.zeroGrad();
    model.forward(ids, { grad: true });
    const { loss } = model.backward({ loss: 'cross_entropy', targets });
    const o = this.options;
    const lr = this.lrAt(this.step);
    this.step += 1;
    const gradNorm = C.usw_gpt2_adamw_step(model._backend._ptr(), model._backend.gradStore(), this.#mState, this.#vState,
      lr, o.betas[0], o.betas[1], o.eps, o.weightDecay, o.clip, this.step);
    return { step: this.step, loss, lr, gradNorm };
  }

  /** Mean next-token cross-entropy on a batch; changes no parameter or gradient. */
  evaluate(ids, targets = ids) {
    return this.model.loss(ids, { targets }).loss;
  }

  /** Frees the optimizer's state and the model's plain copy of its weights (the model keeps the trained values). */
  dispose() {
    if (!this.#mState) return;
    C.usw_free(this.#mState);
    C.usw_free(this.#vState);
    this.#mState = 0;
    this.#vState = 0;
    if (!this.model.disposed) this.model._backend.setPlainWeights(false);
  }
}
