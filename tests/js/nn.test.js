// nn.test.js — module constructors: PyTorch's default initialisation bounds,
// seeding, reprs, argument errors, disposal.
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { describe, test } from 'node:test';
import { HookedModel, UnsealError, nn } from '../../web/index.js';

const code = (c) => (e) => e instanceof UnsealError && e.code === c;

describe('initialisation', () => {
  test('Linear: weight and bias in U(-1/sqrt(in), 1/sqrt(in)), filling the range', () => {
    const lin = nn.Linear(50, 400);
    const bound = 1 / Math.sqrt(50);
    for (const t of [lin.weight, lin.bias]) {
      const d = t.data;
      const max = Math.max(...d);
      const min = Math.min(...d);
      assert.ok(max <= bound && min >= -bound, `${min}..${max} outside ±${bound}`);
      assert.ok(max > 0.9 * bound && min < -0.9 * bound, 'the range is used');
    }
    assert.deepEqual([...lin.weight.shape], [400, 50]);
    assert.equal(nn.Linear(3, 2, { bias: false }).bias, null);
    lin.dispose();
  });

  test('Embedding: N(0, 1); LayerNorm: ones and zeros', () => {
    const emb = nn.Embedding(1000, 50);
    const d = emb.weight.data;
    const mean = d.reduce((a, b) => a + b, 0) / d.length;
    const std = Math.sqrt(d.reduce((a, b) => a + (b - mean) ** 2, 0) / d.length);
    assert.ok(Math.abs(mean) < 0.02, `mean ${mean}`);
    assert.ok(Math.abs(std - 1) < 0.02, `std ${std}`);
    const ln = nn.LayerNorm(5);
    assert.deepEqual([...ln.weight.data], [1, 1, 1, 1, 1]);
    assert.deepEqual([...ln.bias.data], [0, 0, 0, 0, 0]);
    assert.equal(nn.LayerNorm(5, { elementwiseAffine: false }).weight, undefined);
  });

  test('manualSeed makes initialisation reproducible; different seeds differ', () => {
    nn.manualSeed(123);
    const a = nn.Linear(4, 4).weight.data;
    nn.manualSeed(123);
    const b = nn.Linear(4, 4).weight.data;
    nn.manualSeed(124);
    const c = nn.Linear(4, 4).weight.data;
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
  });
});

describe('repr', () => {
  test('each module prints as PyTorch prints it', () => {
    const cases = [
      [nn.Linear(8, 64), 'Linear(in_features=8, out_features=64, bias=True)'],
      [nn.Linear(8, 64, { bias: false }), 'Linear(in_features=8, out_features=64, bias=False)'],
      [nn.ReLU(), 'ReLU()'],
      [nn.GELU(), "GELU(approximate='none')"],
      [nn.GELU({ approximate: 'tanh' }), "GELU(approximate='tanh')"],
      [nn.Tanh(), 'Tanh()'],
      [nn.Sigmoid(), 'Sigmoid()'],
      [nn.Softmax(-1), 'Softmax(dim=-1)'],
      [nn.LayerNorm(13), 'LayerNorm((13,), eps=1e-05, elementwise_affine=True)'],
      [nn.LayerNorm([7], { eps: 1e-3, elementwiseAffine: false }), 'LayerNorm((7,), eps=0.001, elementwise_affine=False)'],
      [nn.LayerNorm(4, { eps: 1e-12 }), 'LayerNorm((4,), eps=1e-12, elementwise_affine=True)'],
      [nn.Embedding(11, 13), 'Embedding(11, 13)'],
      [nn.Dropout(0.1), 'Dropout(p=0.1, inplace=False)'],
      [nn.Dropout(), 'Dropout(p=0.5, inplace=False)'],
      [nn.Dropout(0), 'Dropout(p=0.0, inplace=False)'],
      [nn.Identity(), 'Identity()'],
      [nn.Sequential(), 'Sequential()'],
    ];
    for (const [m, want] of cases) assert.equal(String(m), want);
  });

  test('console.log shows the repr, for modules and HookedModels', () => {
    const m = new HookedModel(nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.ReLU())));
    const want = 'Sequential(\n  (0): Linear(in_features=2, out_features=3, bias=True)\n  (1): Sequential(\n    (0): ReLU()\n  )\n)';
    assert.equal(inspect(m), want);
    assert.equal(inspect(m.model), want);
    m.dispose();
  });

  test('with or without new, and instanceof', () => {
    const a = new nn.Linear(2, 2);
    const b = nn.Linear(2, 2);
    assert.ok(a instanceof nn.Linear && b instanceof nn.Linear && b instanceof nn.Module);
    assert.ok(!(b instanceof nn.ReLU));
  });
});

describe('bad arguments are clear errors', () => {
  for (const [what, fn, re] of [
    ['Linear(0, 3)', () => nn.Linear(0, 3), /in_features must be a positive integer, got 0/],
    ['Linear(2.5, 3)', () => nn.Linear(2.5, 3), /in_features/],
    ['Linear(2, -1)', () => nn.Linear(2, -1), /out_features/],
    ["GELU({approximate: 'fast'})", () => nn.GELU({ approximate: 'fast' }), /'none' or 'tanh'/],
    ['Softmax()', () => nn.Softmax(), /dim must be an integer/],
    ['LayerNorm([2, 3])', () => nn.LayerNorm([2, 3]), /one dimension/],
    ['LayerNorm(4, {eps: -1})', () => nn.LayerNorm(4, { eps: -1 }), /eps/],
    ['Embedding(0, 2)', () => nn.Embedding(0, 2), /num_embeddings/],
    ['Dropout(1.5)', () => nn.Dropout(1.5), /between 0 and 1/],
    ['Sequential(42)', () => nn.Sequential(nn.ReLU(), 42), /argument 1 is not a module/],
    ['manualSeed(0.5)', () => nn.manualSeed(0.5), /integer/],
  ]) {
    test(what, () => assert.throws(fn, (e) => e instanceof UnsealError && e.code === 'ERR_INVALID_ARG' && re.test(e.message)));
  }

  test('a disposed module cannot be used, and dispose twice is fine', () => {
    const lin = nn.Linear(2, 2);
    lin.dispose();
    lin.dispose();
    assert.throws(() => lin.weight, code('ERR_DISPOSED'));
    assert.throws(() => nn.Sequential(lin), code('ERR_DISPOSED'));
    assert.throws(() => new HookedModel(lin), code('ERR_DISPOSED'));
  });

  test('HookedModel.dispose() disposes its whole tree', () => {
    const inner = nn.Linear(2, 2);
    const m = new HookedModel(nn.Sequential(inner, nn.ReLU()));
    m.dispose();
    assert.ok(inner.disposed);
    assert.throws(() => inner.weight, code('ERR_DISPOSED'));
  });

  test('a module shared by two live models survives disposing one', () => {
    const shared = nn.Linear(2, 2);
    const a = new HookedModel(nn.Sequential(shared));
    const b = new HookedModel(nn.Sequential(nn.Identity(), nn.Sequential(shared)));
    const want = b.forward([[1, 2]]).data;
    a.dispose();
    assert.ok(!shared.disposed);
    assert.deepEqual(b.forward([[1, 2]]).data, want);
    assert.deepEqual([...b.layers.get('1->0').weight.shape], [2, 2]);
    b.dispose();
    assert.ok(shared.disposed);
  });
});
