// analysis.js — interpretability views computed from hooked forwards of a
// GPT-2 model: the logit lens and Unseal's attention × logits attribution.
//
// Shapes: B batch, T positions, V vocabulary, C model width, H heads,
// hs = C / H, L layers.

import { UnsealError } from './errors.js';
import { Tensor } from './tensor.js';
import { Hook } from './hooked_model.js';

function needGpt2(model, what) {
  if (!model?.config?.n_layer) throw new UnsealError('ERR_INVALID_ARG', `${what}: model must be a GPT-2 HookedModel (from HookedModel.fromPretrained)`);
}

/** log_softmax of one row, in place into out (float64 accumulation). */
function logSoftmaxRow(logits, off, V, out, outOff) {
  let mx = -Infinity;
  for (let v = 0; v < V; v++) mx = Math.max(mx, logits[off + v]);
  let sum = 0;
  for (let v = 0; v < V; v++) sum += Math.exp(logits[off + v] - mx);
  const lse = mx + Math.log(sum);
  for (let v = 0; v < V; v++) out[outOff + v] = logits[off + v] - lse;
}

/**
 * The logit lens: the residual stream before each block (and after the last)
 * read through ln_f and the unembedding.
 * @returns {{ layers: string[], topIds: Tensor, topProbs: Tensor, rank: Tensor, kl: Tensor, logprobs?: Tensor }}
 *   topIds/topProbs [L+1, B, T]: the most likely token and its probability;
 *   rank [L+1, B, T-1]: how many tokens rank above the true next token (0 = top);
 *   kl [L+1, B, T]: KL(final ‖ layer) in nats; logprobs [L+1, B, T, V] when
 *   options.logprobs is true (large: (L+1)·B·T·V floats).
 */
export function logitLens(model, input, { logprobs: keepLogprobs = false } = {}) {
  needGpt2(model, 'logitLens');
  const { n_layer: L, vocab_size: V } = model.config;
  const ids = model._backend.toInput(input);
  const [B, T] = ids.shape;
  const resid = [];
  const save = (i) => (ctx, inp, out) => { resid[i] = out.data.slice(); };
  const hooks = [new Hook('transformer->drop', save(0), '__lens_0')];
  for (let l = 0; l < L; l++) hooks.push(new Hook(`transformer->h->${l}`, save(l + 1), `__lens_${l + 1}`));
  model._run(ids, { hooks });
  for (const h of hooks) model.clearCtx(h.key);

  const N = B * T;
  const lp = Array.from({ length: L + 1 }, (_, l) => {
    const logits = model._unembed(resid[l], N, true);
    const out = new Float64Array(N * V);
    for (let r = 0; r < N; r++) logSoftmaxRow(logits, r * V, V, out, r * V);
    return out;
  });
  const topIds = new Int32Array((L + 1) * N);
  const topProbs = new Float32Array((L + 1) * N);
  const rank = new Int32Array((L + 1) * B * (T - 1));
  const kl = new Float32Array((L + 1) * N);
  const final = lp[L];
  for (let l = 0; l <= L; l++) {
    const cur = lp[l];
    for (let r = 0; r < N; r++) {
      const off = r * V;
      let best = 0;
      let k = 0;
      for (let v = 0; v < V; v++) {
        if (cur[off + v] > cur[off + best]) best = v;
        const pf = Math.exp(final[off + v]);
        if (pf > 0) k += pf * (final[off + v] - cur[off + v]);
      }
      topIds[l * N + r] = best;
      topProbs[l * N + r] = Math.exp(cur[off + best]);
      kl[l * N + r] = k;
      const b = Math.floor(r / T);
      const t = r % T;
      if (t < T - 1) {
        const target = ids.data[b * T + t + 1];
        let above = 0;
        for (let v = 0; v < V; v++) if (cur[off + v] > cur[off + target]) above++;
        rank[(l * B + b) * (T - 1) + t] = above;
      }
    }
  }
  const result = {
    layers: ['transformer->drop', ...Array.from({ length: L }, (_, l) => `transformer->h->${l}`)],
    topIds: new Tensor(topIds, [L + 1, B, T]),
    topProbs: new Tensor(topProbs, [L + 1, B, T]),
    rank: new Tensor(rank, [L + 1, B, T - 1]),
    kl: new Tensor(kl, [L + 1, B, T]),
  };
  if (keepLogprobs) {
    const all = new Float32Array((L + 1) * N * V);
    lp.forEach((x, l) => all.set(x, l * N * V));
    result.logprobs = new Tensor(all, [L + 1, B, T, V]);
  }
  return result;
}

/**
 * Unseal's attention × logits view, with GPT-2's head-major c_proj split
 * correctly: for every head h of `layer` and every (query q, key k), the direct
 * contribution of key k's value, through the head's output projection, to the
 * logit of the true next token t_q = ids[q + 1] (logits centred over the
 * vocabulary, as Unseal does):
 *   raw[h, q, k] = pattern[h, q, k] · (c[h, k] · (W_U[t_q] − mean_v W_U[v]))
 * where c[h, k] = v[h, k] · W_O[h], and with applyLnF (default) c is passed
 * through ln_f's linear part with the final residual's scale at q:
 * (c − mean c) / σ_q ⊙ w_f. pos and neg are the positive and negative parts,
 * each divided by its maximum, in [0, 1].
 * @returns {{ raw: Tensor, pos: Tensor, neg: Tensor, targets: number[] }} [H, T-1, T] each
 */
export function attentionLogitAttribution(model, input, { layer, batchIndex = 0, applyLnF = true } = {}) {
  needGpt2(model, 'attentionLogitAttribution');
  const { n_layer: L, n_head: H, n_embd: Cd, vocab_size: V } = model.config;
  if (!Number.isInteger(layer) || layer < 0 || layer >= L) throw new UnsealError('ERR_RANGE', `attentionLogitAttribution: layer ${layer} is out of range [0, ${L})`);
  const hs = Cd / H;
  const ids = model._backend.toInput(input);
  const [B, T] = ids.shape;
  if (!Number.isInteger(batchIndex) || batchIndex < 0 || batchIndex >= B) throw new UnsealError('ERR_RANGE', `attentionLogitAttribution: batchIndex ${batchIndex} is out of range [0, ${B})`);
  if (T < 2) throw new UnsealError('ERR_SHAPE', 'attentionLogitAttribution: needs at least 2 tokens (the last one has no next token)');
  const got = {};
  const keep = (name) => (ctx, i, o) => { got[name] = o.clone(); };
  const hooks = [
    new Hook(`transformer->h->${layer}->attn->v`, keep('v'), '__attr_v'),
    new Hook(`transformer->h->${layer}->attn->pattern`, keep('pattern'), '__attr_pattern'),
    new Hook('transformer->ln_f', (ctx, i) => { got.resid = i.clone(); }, '__attr_resid'),
  ];
  model._run(ids, { hooks });
  for (const h of hooks) model.clearCtx(h.key);

  const wO = model.layers.get(`transformer->h->${layer}->attn->c_proj`).weight.data; // [C, C], rows head-major
  const wU = model.layers.get('transformer->wte').weight.data; // [V, C]
  const wF = model.layers.get('transformer->ln_f').weight.data;
  const eps = model.config.layer_norm_epsilon;
  const Tq = T - 1;
  const targets = Array.from({ length: Tq }, (_, q) => ids.data[batchIndex * T + q + 1]);
  // u_q = W_U[t_q] - mean_v W_U[v]
  const meanU = new Float64Array(Cd);
  for (let v = 0; v < V; v++) for (let c = 0; c < Cd; c++) meanU[c] += wU[v * Cd + c];
  for (let c = 0; c < Cd; c++) meanU[c] /= V;
  // σ_q of the final residual
  const sigma = new Float64Array(Tq).fill(1);
  if (applyLnF) {
    for (let q = 0; q < Tq; q++) {
      const r = got.resid.data.subarray((batchIndex * T + q) * Cd, (batchIndex * T + q + 1) * Cd);
      let m = 0;
      for (const x of r) m += x;
      m /= Cd;
      let s = 0;
      for (const x of r) s += (x - m) * (x - m);
      sigma[q] = Math.sqrt(s / Cd + eps);
    }
  }
  const raw = new Float32Array(H * Tq * T);
  const c = new Float64Array(Cd);
  for (let h = 0; h < H; h++) {
    for (let k = 0; k < T; k++) {
      // c = v[b, h, k] · W_O[h]
      c.fill(0);
      const voff = ((batchIndex * H + h) * T + k) * hs;
      for (let d = 0; d < hs; d++) {
        const x = got.v.data[voff + d];
        const row = (h * hs + d) * Cd;
        for (let j = 0; j < Cd; j++) c[j] += x * wO[row + j];
      }
      let mean = 0;
      if (applyLnF) {
        for (let j = 0; j < Cd; j++) mean += c[j];
        mean /= Cd;
      }
      for (let q = 0; q < Tq; q++) {
        const p = got.pattern.data[((batchIndex * H + h) * T + q) * T + k];
        if (p === 0) continue;
        const t = targets[q];
        let dot = 0;
        for (let j = 0; j < Cd; j++) {
          const cj = applyLnF ? ((c[j] - mean) / sigma[q]) * wF[j] : c[j];
          dot += cj * (wU[t * Cd + j] - meanU[j]);
        }
        raw[(h * Tq + q) * T + k] = p * dot;
      }
    }
  }
  let maxPos = 0;
  let maxNeg = 0;
  for (const x of raw) {
    if (x > maxPos) maxPos = x;
    if (-x > maxNeg) maxNeg = -x;
  }
  const pos = raw.map((x) => Math.min(1, Math.max(0, x / Math.max(maxPos, 1e-30))));
  const neg = raw.map((x) => Math.min(1, Math.max(0, -x / Math.max(maxNeg, 1e-30))));
  const shape = [H, Tq, T];
  return { raw: new Tensor(raw, shape), pos: new Tensor(pos, shape), neg: new Tensor(neg, shape), targets };
}

/** Attention patterns of every layer for `ids`, as [L] Tensors [B, H, T, T]. */
function patterns(model, ids) {
  const L = model.config.n_layer;
  const out = [];
  const hooks = Array.from({ length: L }, (_, l) => new Hook(`transformer->h->${l}->attn->pattern`, (c, i, o) => { out[l] = o.clone(); }, `__pattern_${l}`));
  model._run(ids, { hooks });
  for (const h of hooks) model.clearCtx(h.key);
  return out;
}

/**
 * Previous-token scores: for every layer and head, the mean attention from
 * position t to t − 1 (over t ≥ 1 and the batch). A previous-token head
 * scores near 1.
 * @returns {Tensor} [L, H]
 */
export function previousTokenScores(model, input) {
  needGpt2(model, 'previousTokenScores');
  const ids = model._backend.toInput(input);
  const [B, T] = ids.shape;
  if (T < 2) throw new UnsealError('ERR_SHAPE', 'previousTokenScores: needs at least 2 tokens');
  const { n_layer: L, n_head: H } = model.config;
  const pats = patterns(model, ids);
  const out = new Float32Array(L * H);
  for (let l = 0; l < L; l++) for (let h = 0; h < H; h++) {
    let s = 0;
    for (let b = 0; b < B; b++) for (let t = 1; t < T; t++) s += pats[l].data[(((b * H + h) * T) + t) * T + t - 1];
    out[l * H + h] = s / (B * (T - 1));
  }
  return new Tensor(out, [L, H]);
}

/**
 * Induction scores on sequences made of a random first half repeated once
 * (ids [B, 2n], each row r ++ r): for every layer and head, the mean attention
 * from each token of the second copy (position t ≥ n) to the token after its
 * earlier occurrence (t − n + 1). Also the mean next-token loss on each copy:
 * a model with induction heads predicts the second copy far better.
 * @returns {{ scores: Tensor, lossFirst: number, lossSecond: number }} scores [L, H]
 */
export function inductionScores(model, input) {
  needGpt2(model, 'inductionScores');
  const ids = model._backend.toInput(input);
  const [B, T2] = ids.shape;
  const n = T2 / 2;
  if (!Number.isInteger(n) || n < 2) throw new UnsealError('ERR_SHAPE', `inductionScores: rows must be a sequence repeated twice (even length >= 4), got length ${T2}`);
  for (let b = 0; b < B; b++) for (let t = 0; t < n; t++) {
    if (ids.data[b * T2 + t] !== ids.data[b * T2 + n + t]) throw new UnsealError('ERR_INVALID_ARG', `inductionScores: row ${b} is not a sequence repeated twice (position ${t} differs from ${n + t})`);
  }
  const { n_layer: L, n_head: H, vocab_size: V } = model.config;
  const pats = patterns(model, ids);
  const scores = new Float32Array(L * H);
  for (let l = 0; l < L; l++) for (let h = 0; h < H; h++) {
    let s = 0;
    for (let b = 0; b < B; b++) for (let t = n; t < T2; t++) s += pats[l].data[(((b * H + h) * T2) + t) * T2 + (t - n + 1)];
    scores[l * H + h] = s / (B * n);
  }
  // Next-token loss per copy: positions 0..n-2 predict within the first copy,
  // n..2n-2 within the second.
  const logits = model._run(ids, {});
  const row = new Float64Array(V);
  const lossAt = (b, t) => {
    const off = (b * T2 + t) * V;
    logSoftmaxRow(logits.data, off, V, row, 0);
    return -row[ids.data[b * T2 + t + 1]];
  };
  let first = 0;
  let second = 0;
  for (let b = 0; b < B; b++) for (let t = 0; t < n - 1; t++) {
    first += lossAt(b, t);
    second += lossAt(b, n + t);
  }
  return { scores: new Tensor(scores, [L, H]), lossFirst: first / (B * (n - 1)), lossSecond: second / (B * (n - 1)) };
}

// ---------------------------------------------------------------- attribution

/**
 * A scalar metric of the logits, as interpretability work uses:
 * { token, position = -1, baseline } is logit[token] − logit[baseline] (or
 * logit[token] alone) at `position`, summed over the batch; undefined means
 * the mean next-token cross-entropy.
 * @internal
 */
function metricOf(model, metric) {
  const V = model.config.vocab_size;
  if (metric === undefined) return null;
  const { token, position = -1, baseline } = metric;
  for (const [k, v] of [['token', token], ['baseline', baseline]]) {
    if (v !== undefined && (!Number.isInteger(v) || v < 0 || v >= V)) throw new UnsealError('ERR_RANGE', `metric: ${k} ${v} is outside the vocabulary [0, ${V})`);
  }
  if (token === undefined) throw new UnsealError('ERR_INVALID_ARG', 'metric: give { token, position?, baseline? }');
  const pos = (T) => {
    const p = position < 0 ? T + position : position;
    if (!Number.isInteger(p) || p < 0 || p >= T) throw new UnsealError('ERR_RANGE', `metric: position ${position} is outside [0, ${T})`);
    return p;
  };
  return {
    value(logits) {
      const [B, T] = logits.shape;
      const p = pos(T);
      let m = 0;
      for (let b = 0; b < B; b++) {
        const off = (b * T + p) * V;
        m += logits.data[off + token] - (baseline !== undefined ? logits.data[off + baseline] : 0);
      }
      return m;
    },
    seed(shape) {
      const [B, T] = shape;
      const p = pos(T);
      const g = new Float32Array(B * T * V);
      for (let b = 0; b < B; b++) {
        g[(b * T + p) * V + token] += 1;
        if (baseline !== undefined) g[(b * T + p) * V + baseline] -= 1;
      }
      return new Tensor(g, [B, T, V]);
    },
  };
}

/**
 * Gradient × input: for every point matching `names` (default: the embeddings
 * and every block's output), Σ over the last dimension of activation ·
 * d metric / d activation, per position: how much each position's activation
 * there pushes the metric, to first order.
 * @returns {{ points: Map<string, Tensor>, metric: number|null }} each [B, T] ([B, T, H] for z)
 */
export function gradientTimesInput(model, input, { metric, names = ['transformer->drop', 'transformer->h->*'] } = {}) {
  needGpt2(model, 'gradientTimesInput');
  const ids = model._backend.toInput(input);
  const m = metricOf(model, metric);
  const { output, cache } = model.runWithCache(ids, { names: withoutSubpoints(names), grads: true, seed: m ? (shape) => m.seed(shape) : undefined });
  const points = new Map();
  for (const [name, act] of cache) {
    if (name.endsWith('_grad')) continue;
    points.set(name, dotLast(act, cache.get(`${name}_grad`)));
  }
  return { points, metric: m ? m.value(output) : null };
}

/** Keeps only names that are block outputs when a glob like 'transformer->h->*' would match every sub-point. */
function withoutSubpoints(names) {
  if (typeof names === 'function' || names instanceof RegExp) return names;
  const list = Array.isArray(names) ? names : [names];
  return (n) => list.some((p) => (p === 'transformer->h->*' ? /^transformer->h->\d+$/.test(n) : p.includes('*') ? new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`).test(n) : p === n));
}

/** Σ over the last dim of a ⊙ b: [..., C] → [...]. */
function dotLast(a, b) {
  const C = a.shape.at(-1);
  const n = a.data.length / C;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let c = 0; c < C; c++) s += a.data[i * C + c] * b.data[i * C + c];
    out[i] = s;
  }
  return new Tensor(out, a.shape.slice(0, -1));
}

/**
 * Activation patching and its linear approximation (attribution patching),
 * from a corrupted run towards a clean one (equal lengths, batch of 1):
 *   exact[p, t]    = metric(corrupted with point p at position t patched from clean) − metric(corrupted)
 *   estimate[p, t] = Σ_c (clean − corrupted)[p, t, c] · d metric / d act (at the corrupted run)
 * Points default to the residual stream before each block and after the last
 * ('transformer->drop' and every block output); with `heads: true` the
 * attention z of every layer is patched per head instead (rows l·H + h).
 * `exact: false` skips the (slower) exact sweep.
 * @returns {{ rows: string[], estimate: Tensor, exact?: Tensor, clean: number, corrupted: number }} [rows, T]
 */
export function attributionPatching(model, clean, corrupted, { metric, heads = false, exact = true } = {}) {
  needGpt2(model, 'attributionPatching');
  const cl = model._backend.toInput(clean);
  const co = model._backend.toInput(corrupted);
  if (cl.shape[0] !== 1 || co.shape[0] !== 1 || cl.shape[1] !== co.shape[1]) {
    throw new UnsealError('ERR_SHAPE', `attributionPatching: clean and corrupted must be single prompts of equal length, got [${cl.shape}] and [${co.shape}]`);
  }
  const m = metricOf(model, metric);
  if (!m) throw new UnsealError('ERR_INVALID_ARG', 'attributionPatching: give a metric { token, position?, baseline? }');
  const { n_layer: L, n_head: H, n_embd: Cd } = model.config;
  const T = cl.shape[1];
  const points = heads ? Array.from({ length: L }, (_, l) => `transformer->h->${l}->attn->z`) : ['transformer->drop', ...Array.from({ length: L }, (_, l) => `transformer->h->${l}`)];
  const rows = heads ? points.flatMap((p, l) => Array.from({ length: H }, (_, h) => `L${l}H${h}`)) : points;
  const width = heads ? Cd / H : Cd;
  const cleanRun = model.runWithCache(cl, { names: points });
  const corrRun = model.runWithCache(co, { names: points, grads: true, seed: (shape) => m.seed(shape) });
  // Activations from plain forwards for both runs (the gradient run
  // materialises attention, which rounds differently from the fused kernel).
  const corrPlain = model.runWithCache(co, { names: points });
  const estimate = new Float32Array(rows.length * T);
  points.forEach((p, i) => {
    const a = cleanRun.cache.get(p).data;
    const b = corrPlain.cache.get(p).data;
    const g = corrRun.cache.get(`${p}_grad`).data;
    for (let t = 0; t < T; t++) {
      for (let h = 0; h < (heads ? H : 1); h++) {
        let s = 0;
        const off = heads ? (t * H + h) * width : t * width;
        for (let c = 0; c < width; c++) s += (a[off + c] - b[off + c]) * g[off + c];
        estimate[(heads ? i * H + h : i) * T + t] = s;
      }
    }
  });
  // The baseline from a plain forward: the same kernels as the patched runs
  // below (a gradient run materialises attention, which rounds differently).
  const base = m.value(corrPlain.output);
  const result = { rows, estimate: new Tensor(estimate, [rows.length, T]), clean: m.value(cleanRun.output), corrupted: base };
  if (exact) {
    const ex = new Float32Array(rows.length * T);
    points.forEach((p, i) => {
      const src = cleanRun.cache.get(p).data;
      for (let t = 0; t < T; t++) {
        for (let h = 0; h < (heads ? H : 1); h++) {
          const off = heads ? (t * H + h) * width : t * width;
          const logits = model._run(co, { hooks: [new Hook(p, (ctx, i2, o) => { o.data.set(src.subarray(off, off + width), off); }, '__patch')] });
          ex[(heads ? i * H + h : i) * T + t] = m.value(logits) - base;
        }
      }
    });
    model.clearCtx('__patch');
    result.exact = new Tensor(ex, [rows.length, T]);
  }
  return result;
}
