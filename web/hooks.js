// hooks.js — Unseal's pre-implemented hooks (unseal.hooks.common_hooks and
// rome_hooks), with their known bugs fixed:
//   - replace_activation / hidden_patch moved the replacement to
//     `input.device`, which fails for modules whose input is a tuple, and
//     hidden_patch built its index string from the replacement's rank (",:"
//     per dim), so a [B, C] replacement indexed too many dims;
//   - additive_output_noise drew from the global RNG (not reproducible);
//   - logit_hook unembedded the raw residual stream, skipping ln_f;
//   - the attention-logit view split c_proj as (head_dim, num_heads), but
//     GPT-2 merges heads head-major: rows h*hs .. h*hs+hs-1 belong to head h.
// Index strings go through the safe parser in indexing.js.

import { UnsealError } from './errors.js';
import { Tensor } from './tensor.js';
import { Hook } from './hooked_model.js';
import { gather, scatter } from './indexing.js';

/**
 * Saves the output to saveCtx.output. Use it directly as a hook function
 * (`new Hook('0', hooks.saveOutput, 'k')`, as in Unseal) or call it with
 * options: `hooks.saveOutput({ copy: false })` keeps the view itself, which is
 * only valid during the hook call.
 */
export function saveOutput(...args) {
  if (args.length >= 3 && args[2] instanceof Tensor) {
    args[0].output = args[2].clone();
    return undefined;
  }
  const { copy = true } = args[0] ?? {};
  return (saveCtx, input, output) => {
    saveCtx.output = copy ? output.clone() : output;
  };
}

/**
 * Replaces output[indices] with `replacement` (a number, Tensor or
 * Float32Array broadcast from the right over the selection).
 * Example: indices ':,3,:' and a [C] replacement set position 3 of every row.
 */
export function replaceActivation(indices, replacement) {
  if (typeof indices !== 'string') throw new UnsealError('ERR_INVALID_ARG', `replaceActivation: indices must be an index string such as ':,3,:', got ${typeof indices}`);
  const rep = replacement instanceof Tensor ? replacement.clone() : replacement;
  return (saveCtx, input, output) => {
    scatter(output, indices, rep);
  };
}

/** A seeded normal generator (xorshift128+ and Box-Muller), or Math.random-seeded without a seed. */
function normalGenerator(seed) {
  let s0 = (seed ?? Math.floor(Math.random() * 2 ** 31)) >>> 0 || 0x9e3779b9;
  let s1 = (s0 * 0x85ebca6b) >>> 0 || 0xc2b2ae35;
  const next = () => {
    let x = s0;
    const y = s1;
    s0 = y;
    x ^= x << 23;
    x ^= x >>> 17;
    x ^= y ^ (y >>> 26);
    s1 = x >>> 0;
    return ((s0 + s1) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
}

/**
 * Adds N(mean, std²) noise to output[indices]. With a seed, every forward
 * adds the same noise (reproducible); without one, fresh noise each time.
 */
export function additiveOutputNoise(indices, { mean = 0, std = 0.1, seed } = {}) {
  if (typeof indices !== 'string') throw new UnsealError('ERR_INVALID_ARG', `additiveOutputNoise: indices must be an index string, got ${typeof indices}`);
  if (seed !== undefined && !Number.isInteger(seed)) throw new UnsealError('ERR_INVALID_ARG', `additiveOutputNoise: seed must be an integer, got ${seed}`);
  return (saveCtx, input, output) => {
    const normal = normalGenerator(seed);
    const sel = gather(output, indices);
    const noisy = sel.data.map((v) => v + mean + std * normal());
    scatter(output, indices, new Tensor(noisy, [...sel.shape]));
  };
}

/**
 * Replaces the hidden state at `position` (the second-to-last dim) with
 * `replacement`: [C], or [B, C] for one replacement per batch row.
 */
export function hiddenPatch(position, replacement) {
  if (!Number.isInteger(position)) throw new UnsealError('ERR_INVALID_ARG', `hiddenPatch: position must be an integer, got ${position}`);
  return replaceActivation(`...,${position},:`, replacement);
}

function headsIndex(heads) {
  if (heads === undefined || heads === null) return ':';
  if (typeof heads === 'string') return heads;
  if (Number.isInteger(heads)) return `[${heads}]`;
  if (Array.isArray(heads) && heads.every(Number.isInteger)) return `[${heads.join(',')}]`;
  throw new UnsealError('ERR_INVALID_ARG', `heads must be an integer, a list of integers or an index string, got ${JSON.stringify(heads)}`);
}

/**
 * A hook function for an attention `pattern` point that saves
 * saveCtx.attn = pattern[:, heads] ([B, h, T, S]).
 */
export function getAttention({ heads } = {}) {
  const idx = `:,${headsIndex(heads)},:,:`;
  return (saveCtx, input, output) => {
    if (output.shape.length !== 4) throw new UnsealError('ERR_SHAPE', `getAttention: expected an attention pattern [B, H, T, S], got [${output.shape.join(', ')}]; attach it to '…->attn->pattern'`);
    saveCtx.attn = gather(output, idx);
  };
}

/** The Hook that saves layer `layer`'s attention pattern for `heads` under `key`. */
export function createAttentionHook(layer, key, { heads } = {}) {
  if (!Number.isInteger(layer) || layer < 0) throw new UnsealError('ERR_INVALID_ARG', `createAttentionHook: layer must be a non-negative integer, got ${layer}`);
  return new Hook(`transformer->h->${layer}->attn->pattern`, getAttention({ heads }), key ?? `attention_${layer}`);
}

function listIndex(v, what) {
  if (v === undefined || v === null) return ':';
  if (Number.isInteger(v)) return `[${v}]`;
  if (Array.isArray(v) && v.every(Number.isInteger)) return `[${v.join(',')}]`;
  throw new UnsealError('ERR_INVALID_ARG', `${what} must be an integer or a list of integers, got ${JSON.stringify(v)}`);
}

/**
 * A Hook that saves the logits a layer's output would give (Unseal's
 * logit_hook, a logit lens for one layer) to saveCtx.logits:
 *   - by default on the block output ('transformer->h->{layer}'):
 *     lm_head(ln_f(resid)) (or lm_head(resid) with applyLnF: false),
 *     shape [B, P, K] for the chosen positions P and targets K;
 *   - with splitHeads, on the attention's z: each head's direct
 *     contribution z_h · W_O[h] through the unembedding, [B, H, P, K]. With
 *     applyLnF the contribution is centred and multiplied by ln_f's weight;
 *     ln_f's per-position scale is left out, as it depends on the whole
 *     residual stream (values stay comparable across heads at a position).
 */
export function createLogitHook(layer, model, { target, position, splitHeads = false, applyLnF = true, key } = {}) {
  if (!model?.config?.n_layer) throw new UnsealError('ERR_INVALID_ARG', 'createLogitHook: model must be a GPT-2 HookedModel (from HookedModel.fromPretrained)');
  const { n_layer: L, n_embd: Cd, n_head: H, vocab_size: V } = model.config;
  if (!Number.isInteger(layer) || layer < 0 || layer >= L) throw new UnsealError('ERR_RANGE', `createLogitHook: layer ${layer} is out of range [0, ${L})`);
  const posIdx = listIndex(position, 'position');
  const tgtIdx = listIndex(target, 'target');
  const hs = Cd / H;
  key ??= `${layer}_logits`;
  const pick = (logits, lead) => gather(new Tensor(logits, [...lead, V]), `${lead.map(() => ':').join(',')},${tgtIdx}`);

  if (!splitHeads) {
    return new Hook(`transformer->h->${layer}`, (saveCtx, input, output) => {
      const x = gather(output, `:,${posIdx},:`); // [B, P, C]
      const [B, P] = x.shape;
      saveCtx.logits = pick(model._unembed(x.data, B * P, applyLnF), [B, P]);
    }, key);
  }
  return new Hook(`transformer->h->${layer}->attn->z`, (saveCtx, input, z) => {
    // W_O: c_proj's Conv1D weight [C_in = H * hs, C_out], head-major rows.
    const wO = model.layers.get(`transformer->h->${layer}->attn->c_proj`).weight.data;
    const lnW = applyLnF ? model.layers.get('transformer->ln_f').weight.data : null;
    const zs = gather(z, `:,${posIdx},:,:`); // [B, P, H, hs]
    const [B, P] = zs.shape;
    const contrib = new Float32Array(B * H * P * Cd); // [B, H, P, C]
    for (let b = 0; b < B; b++) for (let p = 0; p < P; p++) for (let h = 0; h < H; h++) {
      const zoff = ((b * P + p) * H + h) * hs;
      const out = contrib.subarray(((b * H + h) * P + p) * Cd, ((b * H + h) * P + p + 1) * Cd);
      for (let d = 0; d < hs; d++) {
        const zv = zs.data[zoff + d];
        const row = (h * hs + d) * Cd;
        for (let c = 0; c < Cd; c++) out[c] += zv * wO[row + c];
      }
      if (lnW) {
        let mean = 0;
        for (let c = 0; c < Cd; c++) mean += out[c];
        mean /= Cd;
        for (let c = 0; c < Cd; c++) out[c] = (out[c] - mean) * lnW[c];
      }
    }
    saveCtx.logits = pick(model._unembed(contrib, B * H * P, false), [B, H, P]);
  }, key);
}
