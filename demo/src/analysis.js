// analysis.js — everything the demo computes, with no DOM: the Web Worker
// (worker.js) runs it in the browser, and tests/js/demo.test.js runs it in
// Node against the library's own logitLens and attentionLogitAttribution.
//
// Every function takes the current interventions (head ablations) and runs
// them as hooks, so every view reflects them. The library's logitLens and
// attentionLogitAttribution take no hooks, which is why the two are rebuilt
// here from public pieces: one hooked forward that saves what the views need,
// then the unembedding (ln_f and W_U, as an nn.LayerNorm + nn.Linear model in
// wasm) for the lens.
//
// Shapes: T positions, C n_embd, H heads, hs = C / H, L layers, V vocabulary,
// row-major. Activations of the batch's row 0 are what the views show.

import { Hook, HookedModel, Tensor, nn } from 'unseal-wasm';

/** Thrown by a run whose `check` says it was cancelled. */
export class Cancelled extends Error {
  constructor() {
    super('cancelled');
    this.name = 'Cancelled';
  }
}

/** Thrown when attribution patching cannot run because the library has no gradients. */
export class NeedsGradients extends Error {
  constructor(detail) {
    super('Attribution patching needs gradients: the gradient API (model.forward(input, { grad: true }), model.backward(seed), ' +
      `runWithCache(input, { grads: true, seed })) is not available in this build of unseal-wasm${detail ? ` (${detail})` : ''}.`);
    this.name = 'NeedsGradients';
  }
}

// ---------------------------------------------------------------- per-model caches

const caches = new WeakMap();

/** Copies of weights the views need, and the unembedding model, made once per model. */
function cacheOf(model) {
  let c = caches.get(model);
  if (!c) {
    c = { wO: [] };
    caches.set(model, c);
  }
  return c;
}

/** Frees what the caches hold in wasm memory (call before disposing the model). */
export function releaseCaches(model) {
  const c = caches.get(model);
  c?.unembed?.dispose();
  caches.delete(model);
}

/** ln_f then the unembedding W_U (tied to wte), as a small wasm model: rows [n, C] → logits [n, V]. */
function unembedModel(model) {
  const c = cacheOf(model);
  if (!c.unembed) {
    const { n_embd: C, vocab_size: V, layer_norm_epsilon: eps } = model.config;
    const lnF = model.layers.get('transformer->ln_f');
    const ln = nn.LayerNorm(C, { eps });
    ln.weight = lnF.weight;
    ln.bias = lnF.bias;
    const unembed = nn.Linear(C, V, { bias: false });
    unembed.weight = model.layers.get('transformer->wte').weight; // [V, C], as Linear's [out, in]
    c.unembed = new HookedModel(nn.Sequential(ln, unembed));
  }
  return c.unembed;
}

function wU(model) {
  const c = cacheOf(model);
  c.wU ??= model.layers.get('transformer->wte').weight.data;
  return c.wU;
}

/** mean_v W_U[v]: logits are centred over the vocabulary in Unseal's attribution. */
function meanU(model) {
  const c = cacheOf(model);
  if (!c.meanU) {
    const { n_embd: C, vocab_size: V } = model.config;
    const w = wU(model);
    const m = new Float64Array(C);
    for (let v = 0; v < V; v++) for (let j = 0; j < C; j++) m[j] += w[v * C + j];
    for (let j = 0; j < C; j++) m[j] /= V;
    c.meanU = m;
  }
  return c.meanU;
}

function wO(model, layer) {
  const c = cacheOf(model);
  c.wO[layer] ??= model.layers.get(`transformer->h->${layer}->attn->c_proj`).weight.data; // [C, C], rows head-major
  return c.wO[layer];
}

function wF(model) {
  const c = cacheOf(model);
  c.wF ??= model.layers.get('transformer->ln_f').weight.data;
  return c.wF;
}

// ---------------------------------------------------------------- small numerics

/** log_softmax of row `off` of `logits` into out (float64), as the library's logitLens does. */
export function logSoftmaxRow(logits, off, V, out) {
  let mx = -Infinity;
  for (let v = 0; v < V; v++) mx = Math.max(mx, logits[off + v]);
  let sum = 0;
  for (let v = 0; v < V; v++) sum += Math.exp(logits[off + v] - mx);
  const lse = mx + Math.log(sum);
  for (let v = 0; v < V; v++) out[v] = logits[off + v] - lse;
  return out;
}

/** The k most likely tokens of one row of logits: { ids, probs, logits }. */
export function topK(logits, off, V, k) {
  const lp = logSoftmaxRow(logits, off, V, new Float64Array(V));
  const order = Array.from({ length: V }, (_, v) => v).sort((a, b) => lp[b] - lp[a] || a - b).slice(0, k);
  return { ids: order, probs: order.map((v) => Math.exp(lp[v])), logits: order.map((v) => logits[off + v]) };
}

function argmax(a, off, n) {
  let best = 0;
  for (let i = 1; i < n; i++) if (a[off + i] > a[off + best]) best = i;
  return best;
}

// ---------------------------------------------------------------- hook points

/** The residual stream entering block l (l = L: after the last block, before ln_f). */
export function residPoint(l) {
  return l === 0 ? 'transformer->drop' : `transformer->h->${l - 1}`;
}

/**
 * The per-position hook points the activations view offers: [{ name, label, size, layout }].
 * layout 'BT*' is [B, T, …]; 'BHT*' (q, k, v) is [B, H, T, hs] and is read as [T, H·hs].
 */
export function activationPoints(config) {
  const { n_layer: L, n_embd: C, n_head: H } = config;
  const F = config.n_inner ?? 4 * C;
  const pts = [{ name: 'transformer->drop', label: 'embeddings (resid_pre 0)', size: C, layout: 'BT*' }];
  for (let l = 0; l < L; l++) {
    const b = `transformer->h->${l}`;
    pts.push(
      { name: `${b}->mlp->act`, label: `${l}: MLP neurons (after GELU)`, size: F, layout: 'BT*' },
      { name: `${b}->mlp->c_fc`, label: `${l}: MLP neurons (before GELU)`, size: F, layout: 'BT*' },
      { name: `${b}->attn->z`, label: `${l}: attention z (per head, head-major)`, size: C, layout: 'BT*' },
      { name: `${b}->attn->q`, label: `${l}: attention q (per head, head-major)`, size: C, layout: 'BHT*' },
      { name: `${b}->attn->k`, label: `${l}: attention k (per head, head-major)`, size: C, layout: 'BHT*' },
      { name: `${b}->attn->v`, label: `${l}: attention v (per head, head-major)`, size: C, layout: 'BHT*' },
      { name: `${b}->attn`, label: `${l}: attention output`, size: C, layout: 'BT*' },
      { name: `${b}->mlp`, label: `${l}: MLP output`, size: C, layout: 'BT*' },
      { name: `${b}->resid_mid`, label: `${l}: residual after attention`, size: C, layout: 'BT*' },
      { name: b, label: `${l}: residual after block`, size: C, layout: 'BT*' },
    );
  }
  pts.push({ name: 'transformer->ln_f', label: 'final LayerNorm output', size: C, layout: 'BT*' });
  return pts;
}

// ---------------------------------------------------------------- interventions

/**
 * Hooks that ablate heads through their outputs z [B, T, H, hs] (before
 * c_proj): 'zero' sets the head's output to 0 at every position, 'mean'
 * replaces it by its mean over this prompt's positions.
 * @param {{ layer: number, head: number, mode: 'zero'|'mean' }[]} ablations
 */
export function ablationHooks(model, ablations = []) {
  const { n_layer: L, n_head: H, n_embd: C } = model.config;
  const hs = C / H;
  const byLayer = new Map();
  for (const a of ablations) {
    if (!(a.layer >= 0 && a.layer < L && a.head >= 0 && a.head < H)) continue;
    if (!byLayer.has(a.layer)) byLayer.set(a.layer, []);
    byLayer.get(a.layer).push(a);
  }
  return [...byLayer].map(([l, list]) => new Hook(`transformer->h->${l}->attn->z`, (ctx, input, z) => {
    const [B, T] = z.shape;
    const d = z.data;
    for (const { head, mode } of list) {
      for (let b = 0; b < B; b++) {
        const at = (t) => ((b * T + t) * H + head) * hs;
        if (mode === 'mean') {
          const mean = new Float64Array(hs);
          for (let t = 0; t < T; t++) for (let i = 0; i < hs; i++) mean[i] += d[at(t) + i];
          for (let t = 0; t < T; t++) for (let i = 0; i < hs; i++) d[at(t) + i] = mean[i] / T;
        } else {
          for (let t = 0; t < T; t++) d.fill(0, at(t), at(t) + hs);
        }
      }
    }
  }, `demo_ablate_${l}`));
}

/** Hooks that call check() after every block, so a cancelled run stops within one block. */
function cancelHooks(model, check) {
  if (!check) return [];
  return Array.from({ length: model.config.n_layer }, (_, l) => new Hook(`transformer->h->${l}`, () => check(), `demo_cancel_${l}`));
}

function asIds(ids) {
  return ids instanceof Int32Array ? ids : Int32Array.from(ids);
}

// ---------------------------------------------------------------- the analysis

/**
 * One hooked forward of `ids` ([T] token ids) with the interventions, and
 * what the views show:
 *   topk: the k most likely next tokens after the last position
 *   lens: topIds, topProbs, kl [(L+1)·T] and rank [(L+1)·(T−1)], as the
 *         library's logitLens (the residual before each block and after the
 *         last, through ln_f and W_U)
 *   norms [(L+1)·T]: the residual stream's L2 norm per layer and position
 *   patterns [L·H·T·T]: attention patterns
 *   saved: what attribution() needs (values v [L][H·T·hs], final residual [T·C])
 */
export function analyse(model, ids, { ablations = [], check, k = 10 } = {}) {
  ids = asIds(ids);
  const { n_layer: L, n_head: H, n_embd: C, vocab_size: V } = model.config;
  const T = ids.length;
  const hs = C / H;
  const resid = [];
  const patterns = new Float32Array(L * H * T * T);
  const values = [];
  const hooks = [...ablationHooks(model, ablations)];
  hooks.push(new Hook(residPoint(0), (ctx, i, o) => { resid[0] = o.data.slice(0, T * C); }, 'demo_resid_0'));
  for (let l = 0; l < L; l++) {
    hooks.push(new Hook(`transformer->h->${l}->attn->pattern`, (ctx, i, o) => { patterns.set(o.data.subarray(0, H * T * T), l * H * T * T); }, `demo_pattern_${l}`));
    hooks.push(new Hook(`transformer->h->${l}->attn->v`, (ctx, i, o) => { values[l] = o.data.slice(0, H * T * hs); }, `demo_v_${l}`));
    hooks.push(new Hook(residPoint(l + 1), (ctx, i, o) => { resid[l + 1] = o.data.slice(0, T * C); }, `demo_resid_${l + 1}`));
  }
  hooks.push(...cancelHooks(model, check));
  const logits = model.forward(ids, { hooks });
  for (const h of hooks) model.clearCtx(h.key);

  const topk = topK(logits.data, (T - 1) * V, V, k);

  const norms = new Float32Array((L + 1) * T);
  for (let l = 0; l <= L; l++) {
    for (let t = 0; t < T; t++) {
      let s = 0;
      for (let j = 0; j < C; j++) s += resid[l][t * C + j] ** 2;
      norms[l * T + t] = Math.sqrt(s);
    }
  }
  check?.();
  const lens = logitLensOf(model, ids, resid, check);
  return { T, topk, lens, norms, patterns, saved: { values, residFinal: resid[L] } };
}

/** The logit lens of saved residuals [L+1][T·C], computed layer by layer (memory: T·V per layer). */
function logitLensOf(model, ids, resid, check) {
  const { n_layer: L, n_embd: C, vocab_size: V } = model.config;
  const T = ids.length;
  const unembed = unembedModel(model);
  const logProbs = (l) => {
    const logits = unembed.forward(new Tensor(resid[l], [T, C])).data;
    const lp = new Float64Array(T * V);
    const row = new Float64Array(V);
    for (let t = 0; t < T; t++) lp.set(logSoftmaxRow(logits, t * V, V, row), t * V);
    return lp;
  };
  const final = logProbs(L);
  const finalP = final.map(Math.exp);
  const topIds = new Int32Array((L + 1) * T);
  const topProbs = new Float32Array((L + 1) * T);
  const rank = new Int32Array((L + 1) * Math.max(0, T - 1));
  const kl = new Float32Array((L + 1) * T);
  for (let l = 0; l <= L; l++) {
    check?.();
    const cur = l === L ? final : logProbs(l);
    for (let t = 0; t < T; t++) {
      const off = t * V;
      let best = 0;
      let k = 0;
      for (let v = 0; v < V; v++) {
        if (cur[off + v] > cur[off + best]) best = v;
        const pf = finalP[off + v];
        if (pf > 0) k += pf * (final[off + v] - cur[off + v]);
      }
      topIds[l * T + t] = best;
      topProbs[l * T + t] = Math.exp(cur[off + best]);
      kl[l * T + t] = k;
      if (t < T - 1) {
        const target = ids[t + 1];
        let above = 0;
        for (let v = 0; v < V; v++) if (cur[off + v] > cur[off + target]) above++;
        rank[l * (T - 1) + t] = above;
      }
    }
  }
  return { topIds, topProbs, rank, kl };
}

/**
 * Unseal's attention × logits for one layer, from analyse()'s saved values
 * (the library's attentionLogitAttribution, with the interventions applied):
 * raw[h, q, k] = pattern[h, q, k] · (c[h, k] · (W_U[t_q] − mean_v W_U[v])), where
 * c[h, k] = v[h, k] · W_O[h] passed through ln_f's linear part with the final
 * residual's scale at q; t_q = ids[q + 1]. pos/neg: the positive and negative
 * parts, each divided by its maximum. Zero-ablated heads contribute nothing.
 * @returns {{ raw: Float32Array, pos: Float32Array, neg: Float32Array, targets: number[] }} [H, T−1, T] each
 */
export function attribution(model, ids, analysis, layer, { ablations = [] } = {}) {
  ids = asIds(ids);
  const { n_head: H, n_embd: C, layer_norm_epsilon: eps } = model.config;
  const hs = C / H;
  const T = ids.length;
  const Tq = T - 1;
  const { values, residFinal } = analysis.saved;
  const patterns = analysis.patterns;
  const wo = wO(model, layer);
  const wu = wU(model);
  const mu = meanU(model);
  const wf = wF(model);
  const targets = Array.from({ length: Tq }, (_, q) => ids[q + 1]);
  const sigma = new Float64Array(Tq);
  for (let q = 0; q < Tq; q++) {
    const r = residFinal.subarray(q * C, (q + 1) * C);
    let m = 0;
    for (const x of r) m += x;
    m /= C;
    let s = 0;
    for (const x of r) s += (x - m) * (x - m);
    sigma[q] = Math.sqrt(s / C + eps);
  }
  const zeroed = new Set(ablations.filter((a) => a.layer === layer && a.mode === 'zero').map((a) => a.head));
  const raw = new Float32Array(H * Tq * T);
  const c = new Float64Array(C);
  // u_q = W_U[t_q] − mean_v W_U[v], once per distinct target
  const u = new Map();
  for (const t of targets) {
    if (!u.has(t)) u.set(t, Float64Array.from({ length: C }, (_, j) => wu[t * C + j] - mu[j]));
  }
  for (let h = 0; h < H; h++) {
    if (zeroed.has(h)) continue;
    for (let k = 0; k < T; k++) {
      c.fill(0);
      const voff = (h * T + k) * hs;
      for (let d = 0; d < hs; d++) {
        const x = values[layer][voff + d];
        const row = (h * hs + d) * C;
        for (let j = 0; j < C; j++) c[j] += x * wo[row + j];
      }
      let mean = 0;
      for (let j = 0; j < C; j++) mean += c[j];
      mean /= C;
      for (let q = 0; q < Tq; q++) {
        const p = patterns[((layer * H + h) * T + q) * T + k];
        if (p === 0) continue;
        const uq = u.get(targets[q]);
        let dot = 0;
        for (let j = 0; j < C; j++) dot += ((c[j] - mean) / sigma[q]) * wf[j] * uq[j];
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
  return { raw, pos, neg, targets };
}

/**
 * The values of one hook point over the prompt, as [T, N] (row 0 of the
 * batch; q/k/v are transposed from [B, H, T, hs] to [T, H·hs]).
 * @returns {{ values: Float32Array, N: number }}
 */
export function activations(model, ids, point, { ablations = [], check } = {}) {
  ids = asIds(ids);
  const T = ids.length;
  let values;
  let N;
  const hooks = [...ablationHooks(model, ablations), new Hook(point, (ctx, i, o) => {
    const s = o.shape;
    if (/->attn->[qkv]$/.test(point)) {
      const [, H, , hs] = s;
      N = H * hs;
      values = new Float32Array(T * N);
      const d = o.data;
      for (let h = 0; h < H; h++) for (let t = 0; t < T; t++) for (let i2 = 0; i2 < hs; i2++) values[t * N + h * hs + i2] = d[((h * T) + t) * hs + i2];
    } else {
      N = s.slice(2).reduce((a, b) => a * b, 1);
      values = o.data.slice(0, T * N);
    }
  }, 'demo_activation'), ...cancelHooks(model, check)];
  model.forward(ids, { hooks });
  for (const h of hooks) model.clearCtx(h.key);
  return { values, N };
}

// ---------------------------------------------------------------- patching

/**
 * The metric patching restores: the logit difference between the clean
 * answer and the corrupted run's answer at the last position (or the clean
 * answer's logit alone when both runs predict the same token).
 */
function metricOf(answer, wrong) {
  return (logits, off) => logits[off + answer] - (wrong === null ? 0 : logits[off + wrong]);
}

/** The clean run's residual stream [L+1][T·C] and head outputs z [L][T·H·hs], and its logits. */
function savedRun(model, ids, ablations, check) {
  const { n_layer: L, n_embd: C } = model.config;
  const T = ids.length;
  const resid = [];
  const z = [];
  const hooks = [...ablationHooks(model, ablations)];
  for (let l = 0; l <= L; l++) hooks.push(new Hook(residPoint(l), (ctx, i, o) => { resid[l] = o.data.slice(0, T * C); }, `demo_resid_${l}`));
  for (let l = 0; l < L; l++) hooks.push(new Hook(`transformer->h->${l}->attn->z`, (ctx, i, o) => { z[l] = o.data.slice(0, T * C); }, `demo_z_${l}`));
  hooks.push(...cancelHooks(model, check));
  const logits = model.forward(ids, { hooks });
  for (const h of hooks) model.clearCtx(h.key);
  return { resid, z, logits: logits.data };
}

/** Resolves the answer tokens and the metric's clean and corrupted values. */
function patchSetup(model, cleanIds, corruptIds, { ablations, answer, wrong, check }) {
  const { vocab_size: V } = model.config;
  const T = cleanIds.length;
  if (corruptIds.length !== T) {
    throw new Error(`the clean and corrupted prompts must have the same number of tokens to patch position by position (clean: ${T}, corrupted: ${corruptIds.length})`);
  }
  const firstDiff = cleanIds.findIndex((t, i) => t !== corruptIds[i]);
  if (firstDiff < 0) throw new Error('the clean and corrupted prompts are the same; change at least one token of the corrupted prompt');
  const clean = savedRun(model, cleanIds, ablations, check);
  const corr = savedRun(model, corruptIds, ablations, check);
  const last = (T - 1) * V;
  const ans = answer ?? argmax(clean.logits, last, V);
  let wr = wrong ?? argmax(corr.logits, last, V);
  if (wr === ans) wr = null;
  const metric = metricOf(ans, wr);
  return { T, firstDiff, clean, corr, answer: ans, wrong: wr, metric, mClean: metric(clean.logits, last), mCorr: metric(corr.logits, last) };
}

/**
 * The exact activation-patching sweep: run the corrupted prompt, patch in one
 * clean activation, and measure how much of the clean answer comes back:
 *   restored = (m_patched − m_corrupted) / (m_clean − m_corrupted)
 * for every residual-stream point (L+1 layers × T positions; positions before
 * the first differing token are equal in both runs and score 0) and for every
 * head (its z at all positions). Patches run as batches, one row per patch.
 * @returns {{ answer, wrong, mClean, mCorr, firstDiff, resid: Float32Array [(L+1)·T], heads: Float32Array [L·H] }}
 */
export function patchingSweep(model, cleanIds, corruptIds, { ablations = [], answer, wrong, check, onProgress, maxFloats = 1 << 22 } = {}) {
  cleanIds = asIds(cleanIds);
  corruptIds = asIds(corruptIds);
  const { n_layer: L, n_head: H, n_embd: C, vocab_size: V } = model.config;
  const hs = C / H;
  const s = patchSetup(model, cleanIds, corruptIds, { ablations, answer, wrong, check });
  const { T, firstDiff, clean, metric, mClean, mCorr } = s;
  const denom = mClean - mCorr;
  const score = (m) => (Math.abs(denom) > 1e-9 ? (m - mCorr) / denom : m - mCorr);
  const rowsPerBatch = Math.max(1, Math.min(T, Math.floor(maxFloats / (T * V))));
  const total = (L + 1) * (T - firstDiff) + L * H;
  let done = 0;

  // Runs the corrupted prompt batched, one row per patch; patch(rowData, b, row) edits row b.
  const runPatched = (point, rows, patch) => {
    const batch = new Int32Array(rows.length * T);
    rows.forEach((_, b) => batch.set(corruptIds, b * T));
    const hook = new Hook(point, (ctx, i, o) => {
      const d = o.data;
      const per = d.length / rows.length;
      rows.forEach((row, b) => patch(d, b * per, row));
    }, 'demo_patch');
    const hooks = [...ablationHooks(model, ablations), hook, ...cancelHooks(model, check)];
    const logits = model.forward(new Tensor(batch, [rows.length, T]), { hooks }).data;
    for (const h of hooks) model.clearCtx(h.key);
    done += rows.length;
    onProgress?.({ done, total });
    return rows.map((_, b) => score(metric(logits, (b * T + T - 1) * V)));
  };

  const resid = new Float32Array((L + 1) * T);
  for (let l = 0; l <= L; l++) {
    for (let t0 = firstDiff; t0 < T; t0 += rowsPerBatch) {
      check?.();
      const positions = Array.from({ length: Math.min(rowsPerBatch, T - t0) }, (_, i) => t0 + i);
      const got = runPatched(residPoint(l), positions, (d, off, t) => d.set(clean.resid[l].subarray(t * C, (t + 1) * C), off + t * C));
      positions.forEach((t, i) => { resid[l * T + t] = got[i]; });
    }
  }
  const heads = new Float32Array(L * H);
  const headsPerBatch = Math.max(1, Math.min(H, rowsPerBatch));
  for (let l = 0; l < L; l++) {
    for (let h0 = 0; h0 < H; h0 += headsPerBatch) {
      check?.();
      const hList = Array.from({ length: Math.min(headsPerBatch, H - h0) }, (_, i) => h0 + i);
      const got = runPatched(`transformer->h->${l}->attn->z`, hList, (d, off, h) => {
        for (let t = 0; t < T; t++) d.set(clean.z[l].subarray((t * H + h) * hs, (t * H + h + 1) * hs), off + (t * H + h) * hs);
      });
      hList.forEach((h, i) => { heads[l * H + h] = got[i]; });
    }
  }
  return { answer: s.answer, wrong: s.wrong, mClean, mCorr, normalised: Math.abs(denom) > 1e-9, firstDiff, resid, heads };
}

/**
 * Attribution patching: the first-order estimate of the same sweep from one
 * clean run, one corrupted run and one backward pass of the metric on the
 * corrupted run: (a_clean − a_corrupted) · ∂m/∂a, normalised as the exact sweep.
 * Needs the library's gradient API; throws NeedsGradients when it is missing.
 * @returns {{ resid: Float32Array [(L+1)·T], heads: Float32Array [L·H] }}
 */
export function attributionPatching(model, cleanIds, corruptIds, { ablations = [], answer, wrong, check } = {}) {
  if (typeof model.backward !== 'function') throw new NeedsGradients('model.backward is missing');
  cleanIds = asIds(cleanIds);
  corruptIds = asIds(corruptIds);
  const { n_layer: L, n_head: H, n_embd: C, vocab_size: V } = model.config;
  const hs = C / H;
  const s = patchSetup(model, cleanIds, corruptIds, { ablations, answer, wrong, check });
  const { T, clean, mClean, mCorr } = s;
  const denom = mClean - mCorr;
  const norm = (x) => (Math.abs(denom) > 1e-9 ? x / denom : x);
  // ∂m/∂logits: +1 at the answer, −1 at the wrong answer, last position only.
  const seed = new Float32Array(T * V);
  seed[(T - 1) * V + s.answer] = 1;
  if (s.wrong !== null) seed[(T - 1) * V + s.wrong] = -1;
  const names = [...Array.from({ length: L + 1 }, (_, l) => residPoint(l)), ...Array.from({ length: L }, (_, l) => `transformer->h->${l}->attn->z`)];
  let cache;
  try {
    ({ cache } = model.runWithCache(corruptIds, { names, hooks: ablationHooks(model, ablations), grads: true, seed }));
  } catch (e) {
    throw new NeedsGradients(e.message);
  }
  const gradOf = (name) => {
    const g = cache.get(`${name}_grad`);
    if (!g) throw new NeedsGradients(`runWithCache returned no gradient for '${name}'`);
    return g.data;
  };
  const resid = new Float32Array((L + 1) * T);
  for (let l = 0; l <= L; l++) {
    const a = cache.get(residPoint(l)).data;
    const g = gradOf(residPoint(l));
    for (let t = 0; t < T; t++) {
      let x = 0;
      for (let j = 0; j < C; j++) x += (clean.resid[l][t * C + j] - a[t * C + j]) * g[t * C + j];
      resid[l * T + t] = norm(x);
    }
  }
  const heads = new Float32Array(L * H);
  for (let l = 0; l < L; l++) {
    const name = `transformer->h->${l}->attn->z`;
    const a = cache.get(name).data;
    const g = gradOf(name);
    for (let h = 0; h < H; h++) {
      let x = 0;
      for (let t = 0; t < T; t++) for (let i = 0; i < hs; i++) {
        const j = (t * H + h) * hs + i;
        x += (clean.z[l][j] - a[j]) * g[j];
      }
      heads[l * H + h] = norm(x);
    }
  }
  return { resid, heads };
}

// ---------------------------------------------------------------- head scores

/**
 * Per head, from the patterns of one prompt: the previous-token score (mean
 * attention from t to t − 1) and the induction score (mean attention from a
 * token whose preceding n-gram occurred before to the token that followed
 * that earlier occurrence; n = 3 for byte-level vocabularies, 1 otherwise).
 * induction is NaN when the prompt repeats nothing.
 * @returns {{ prev: Float32Array [L·H], induction: Float32Array [L·H], matches: number }}
 */
export function headScores(patterns, ids, { L, H, n = 1 }) {
  const T = ids.length;
  const prev = new Float32Array(L * H);
  const induction = new Float32Array(L * H).fill(NaN);
  // For each query t, the keys j + 1 where ids[j-n+1..j] equals ids[t-n+1..t].
  const targets = [];
  for (let t = n - 1; t < T; t++) {
    const keys = [];
    for (let j = n - 1; j < t - 1; j++) {
      let same = true;
      for (let i = 0; i < n && same; i++) same = ids[j - i] === ids[t - i];
      if (same) keys.push(j + 1);
    }
    if (keys.length) targets.push([t, keys]);
  }
  for (let l = 0; l < L; l++) {
    for (let h = 0; h < H; h++) {
      const base = (l * H + h) * T * T;
      let s = 0;
      for (let t = 1; t < T; t++) s += patterns[base + t * T + t - 1];
      prev[l * H + h] = T > 1 ? s / (T - 1) : 0;
      if (targets.length) {
        let a = 0;
        for (const [t, keys] of targets) for (const k of keys) a += patterns[base + t * T + k];
        induction[l * H + h] = a / targets.length;
      }
    }
  }
  return { prev, induction, matches: targets.length };
}
