// attribution.test.js — gradient × input and attribution patching (the
// linear approximation of activation patching) beside exact patching.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HookedModel, Hook, UnsealError, attributionPatching, gradientTimesInput } from '../../web/index.js';
import { loadGpt2Golden } from './helpers.js';

const model = await HookedModel.fromPretrained(loadGpt2Golden('wide').dir);
const clean = [[10, 20, 30, 40, 50, 60, 70, 80]];
const corrupted = [[10, 20, 33, 40, 50, 60, 70, 80]];
const metric = { token: 7, baseline: 9 };

test('exact patching: the final residual at the last position restores the clean metric; untouched positions before the change do nothing', () => {
  const r = attributionPatching(model, clean, corrupted, { metric });
  const [P, T] = r.exact.shape;
  assert.deepEqual(r.rows, ['transformer->drop', 'transformer->h->0', 'transformer->h->1']);
  assert.ok(Math.abs(r.exact.get(P - 1, T - 1) - (r.clean - r.corrupted)) < 1e-6);
  for (let p = 0; p < P; p++) for (let t = 0; t < 2; t++) {
    assert.equal(r.exact.get(p, t), 0); // positions 0-1: clean == corrupted there
    assert.equal(r.estimate.get(p, t), 0);
  }
  // At the last residual the linear estimate is close to the exact effect
  // (only ln_f is nonlinear there); at the embeddings a whole-vector swap is
  // far from linear and the two may even differ in sign, as is known of
  // attribution patching at layer 0.
  const last = r.exact.get(P - 1, T - 1);
  assert.ok(Math.abs(r.estimate.get(P - 1, T - 1) - last) < 0.2 * Math.abs(last));
});

test('the estimate is the directional derivative: a small step towards clean changes the metric by ε·estimate', () => {
  const r = attributionPatching(model, clean, corrupted, { metric, exact: false });
  const C = model.config.n_embd;
  const V = model.config.vocab_size;
  const src = model.runWithCache(clean, { names: 'transformer->drop' }).cache.get('transformer->drop').data;
  const value = (lg) => lg.data[7 * V + 7] - lg.data[7 * V + 9];
  const base = value(model.forward(corrupted));
  const eps = 1e-3;
  const stepped = model.forward(corrupted, { hooks: [new Hook('transformer->drop', (ctx, i, o) => {
    for (let c = 0; c < C; c++) o.data[2 * C + c] += eps * (src[2 * C + c] - o.data[2 * C + c]);
  }, 'step')] });
  const fd = (value(stepped) - base) / eps;
  assert.ok(Math.abs(fd - r.estimate.get(0, 2)) < 0.02 * Math.abs(r.estimate.get(0, 2)), `finite difference ${fd} vs estimate ${r.estimate.get(0, 2)}`);
});

test('per-head patching of z has one row per (layer, head)', () => {
  const r = attributionPatching(model, clean, corrupted, { metric, heads: true });
  const { n_layer: L, n_head: H } = model.config;
  assert.deepEqual([...r.estimate.shape], [L * H, 8]);
  assert.equal(r.rows[H + 1], 'L1H1');
  assert.ok(r.exact.data.some((x) => x !== 0));
  assert.equal(attributionPatching(model, clean, corrupted, { metric, exact: false }).exact, undefined);
});

test('gradient × input equals Σ activation · gradient from runWithCache', () => {
  const g = gradientTimesInput(model, clean, { metric: { token: 5 } });
  assert.deepEqual([...g.points.keys()], ['transformer->drop', 'transformer->h->0', 'transformer->h->1']);
  const { cache } = model.runWithCache(clean, { names: 'transformer->h->0', grads: true, seed: (shape) => {
    const s = new Float32Array(shape.reduce((a, b) => a * b, 1));
    s[(shape[1] - 1) * shape[2] + 5] = 1;
    return s;
  } });
  const a = cache.get('transformer->h->0').data;
  const d = cache.get('transformer->h->0_grad').data;
  const C = model.config.n_embd;
  for (let t = 0; t < 8; t++) {
    let s = 0;
    for (let c = 0; c < C; c++) s += a[t * C + c] * d[t * C + c];
    assert.ok(Math.abs(s - g.points.get('transformer->h->0').get(0, t)) < 1e-6);
  }
  const loss = gradientTimesInput(model, clean);
  assert.equal(loss.metric, null);
});

test('bad arguments are clear errors', () => {
  assert.throws(() => attributionPatching(model, clean, [[1, 2]], { metric }), (e) => e instanceof UnsealError && e.code === 'ERR_SHAPE');
  assert.throws(() => attributionPatching(model, clean, corrupted, {}), (e) => e.code === 'ERR_INVALID_ARG');
  assert.throws(() => attributionPatching(model, clean, corrupted, { metric: { token: 1e6 } }), (e) => e.code === 'ERR_RANGE');
  assert.equal(new Hook('x', () => {}, 'k').key, 'k');
});
