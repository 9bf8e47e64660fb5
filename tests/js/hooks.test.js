// hooks.test.js — one test per rule of the hook semantics (README, "Hook semantics").
import assert from 'node:assert/strict';
import { beforeEach, afterEach, describe, test } from 'node:test';
import { HookedModel, Hook, Tensor, UnsealError, nn } from '../../web/index.js';
import { maxAbsDiff } from './helpers.js';

let model;
const x = () => new Tensor(Float32Array.from({ length: 16 }, (_, i) => Math.sin(i + 1)), [2, 8]);

beforeEach(() => {
  nn.manualSeed(1);
  model = new HookedModel(nn.Sequential(nn.Linear(8, 64), nn.ReLU(), nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 1))));
});
afterEach(() => model.dispose());

const throwsCode = (fn, code, re) => assert.throws(fn, (e) => {
  assert.ok(e instanceof UnsealError, `expected UnsealError, got ${e}`);
  assert.equal(e.code, code, e.message);
  if (re) assert.match(e.message, re);
  return true;
});

describe('attaching and running', () => {
  test('layers maps names to the very modules, in pre-order', () => {
    assert.deepEqual([...model.layers.keys()], ['0', '1', '2', '2->0', '2->1', '2->2']);
    assert.equal(model.layers.get('2'), model.model.children[2]);
    assert.equal(model.layers.get('2->0'), model.model.children[2].children[0]);
    assert.equal(String(model.layers.get('2->0')), 'Linear(in_features=64, out_features=256, bias=True)');
  });

  test('func(saveCtx, input, output) runs when its layer runs, with saveCtx = model.saveCtx[key]', () => {
    let calls = 0;
    model.forward(x(), { hooks: [new Hook('2->0', (ctx, input, output) => {
      calls++;
      assert.equal(ctx, model.saveCtx.k);
      assert.deepEqual([...input.shape], [2, 64]);
      assert.deepEqual([...output.shape], [2, 256]);
      ctx.seen = true;
    }, 'k')] });
    assert.equal(calls, 1);
    assert.deepEqual(model.saveCtx.k, { seen: true });
  });

  test('input is the previous layer\'s output, and a Sequential\'s output is its last child\'s', () => {
    const saved = {};
    const save = (name) => new Hook(name, (ctx, i, o) => { saved[name] = { i: i.clone(), o: o.clone() }; }, name);
    model.forward(x(), { hooks: ['0', '1', '2', '2->2'].map(save) });
    assert.deepEqual(saved['1'].i.data, saved['0'].o.data);
    assert.deepEqual(saved['2'].i.data, saved['1'].o.data);
    assert.deepEqual(saved['2'].o.data, saved['2->2'].o.data);
  });

  test('views are valid only during the call; clone() keeps a copy', () => {
    let view, copy;
    model.forward(x(), { hooks: [new Hook('0', (ctx, i, o) => { view = o; copy = o.clone(); assert.equal(o.isView, true); }, 'k')] });
    assert.throws(() => view.data, (e) => e.code === 'ERR_EXPIRED');
    assert.equal(copy.isView, false);
    assert.equal(copy.data.length, 128);
    model.forward(x());
    assert.equal(copy.data.length, 128); // untouched by later forwards
  });

  test('forward returns a JS-owned tensor that later forwards do not change', () => {
    const a = model.forward(x());
    const before = a.data.slice();
    model.forward(new Tensor(new Float32Array(16).fill(3), [2, 8]));
    assert.deepEqual(a.data, before);
    assert.equal(a.isView, false);
  });

  test('inputs: Tensor, {data, shape}, Float32Array with a shape option, nested arrays', () => {
    const t = x();
    const ref = model.forward(t).data;
    assert.deepEqual(model.forward({ data: t.data, shape: [2, 8] }).data, ref);
    assert.deepEqual(model.forward(t.data, { shape: [2, 8] }).data, ref);
    assert.deepEqual(model.forward(t.toArray()).data, ref);
  });
});

describe('editing activations', () => {
  test('writing into output.data edits the activation in place, downstream included', () => {
    const out = model.forward(x(), { hooks: [new Hook('2->1', (ctx, i, o) => { o.data.fill(0); }, 'zero')] });
    const bias = model.layers.get('2->2').bias.data[0];
    assert.deepEqual([...out.data], [bias, bias]);
  });

  test('returning a Tensor or Float32Array of the same shape replaces the output', () => {
    const viaTensor = model.forward(x(), { hooks: [new Hook('2->1', (ctx, i, o) => new Tensor(new Float32Array(512), [2, 256]), 'r')] });
    const viaArray = model.forward(x(), { hooks: [new Hook('2->1', () => new Float32Array(512), 'r')] });
    const bias = model.layers.get('2->2').bias.data[0];
    assert.deepEqual([...viaTensor.data], [bias, bias]);
    assert.deepEqual([...viaArray.data], [bias, bias]);
  });

  test('a replacement equals the same edit made in place', () => {
    const scale = (o) => o.data.map((v) => v * 2);
    const a = model.forward(x(), { hooks: [new Hook('0', (ctx, i, o) => { o.data.set(scale(o)); }, 'a')] });
    const b = model.forward(x(), { hooks: [new Hook('0', (ctx, i, o) => new Tensor(scale(o), [...o.shape]), 'a')] });
    assert.deepEqual(a.data, b.data);
    assert.notDeepEqual(a.data, model.forward(x()).data);
  });

  for (const [what, ret, re] of [
    ['a number', 3, /returned Number/],
    ['null', null, /returned null/],
    ['an Array', [1, 2], /returned an Array/],
    ['a Tensor of the wrong shape', new Tensor(new Float32Array(256), [1, 256]), /shape \[1, 256\].*\[2, 256\]/],
    ['a Float32Array of the wrong length', new Float32Array(3), /length 3/],
  ]) {
    test(`returning ${what} is an error naming the hook`, () => {
      throwsCode(() => model.forward(x(), { hooks: [new Hook('2->1', () => ret, 'bad_hook')] }), 'ERR_HOOK_RETURN', /bad_hook/);
      assert.match((() => { try { model.forward(x(), { hooks: [new Hook('2->1', () => ret, 'bad_hook')] }); } catch (e) { return e.message; } })(), re);
    });
  }
});

describe('order', () => {
  test('hooks on one layer run in list order, each seeing the previous one\'s output', () => {
    const log = [];
    model.forward(x(), { hooks: [
      new Hook('0', (c, i, o) => { log.push(['a', o.data[0]]); o.data[0] = 100; }, 'a'),
      new Hook('0', (c, i, o) => { log.push(['b', o.data[0]]); return new Float32Array(o.size).fill(7); }, 'b'),
      new Hook('0', (c, i, o) => { log.push(['c', o.data[0]]); }, 'c'),
    ] });
    assert.equal(log.map((l) => l[0]).join(''), 'abc');
    assert.equal(log[1][1], 100);
    assert.equal(log[2][1], 7);
  });

  test('across layers, hooks run in execution order (children before their Sequential)', () => {
    const log = [];
    const names = ['2', '0', '2->2', '1', '2->0', '2->1'];
    model.forward(x(), { hooks: names.map((n) => new Hook(n, () => { log.push(n); }, n)) });
    assert.deepEqual(log, ['0', '1', '2->0', '2->1', '2->2', '2']);
  });

  test('a module that runs twice fires its hooks twice', () => {
    const relu = nn.ReLU();
    const m = new HookedModel(nn.Sequential(nn.Linear(3, 3), relu, nn.Linear(3, 3), relu));
    try {
      assert.deepEqual([...m.layers.keys()], ['0', '1', '2']);
      let n = 0;
      m.forward([[1, 2, 3]], { hooks: [new Hook('1', () => { n++; }, 'count')] });
      assert.equal(n, 2);
    } finally {
      m.dispose();
    }
  });
});

describe('saveCtx', () => {
  test('reset to {} whenever a forward uses the key; other keys stay until clearCtx', () => {
    model.forward(x(), { hooks: [new Hook('0', (c) => { c.a = 1; }, 'first'), new Hook('1', (c) => { c.b = 2; }, 'second')] });
    assert.deepEqual(model.saveCtx, { first: { a: 1 }, second: { b: 2 } });
    model.forward(x(), { hooks: [new Hook('0', (c) => { assert.deepEqual(c, {}); c.z = 3; }, 'first')] });
    assert.deepEqual(model.saveCtx, { first: { z: 3 }, second: { b: 2 } });
    model.forward(x());
    assert.deepEqual(model.saveCtx, { first: { z: 3 }, second: { b: 2 } });
    model.clearCtx('first');
    assert.deepEqual(model.saveCtx, { second: { b: 2 } });
    model.clearCtx();
    assert.deepEqual(model.saveCtx, {});
  });
});

describe('errors leave the model clean', () => {
  test('hooks are removed after a forward, also when a hook throws (the hook\'s own error)', () => {
    const ref = model.forward(x()).data;
    let calls = 0;
    const boom = new Error('boom');
    const hooks = [new Hook('2->1', (c, i, o) => { calls++; o.data.fill(9); throw boom; }, 'thrower'), new Hook('2->2', () => { calls++; }, 'after')];
    assert.throws(() => model.forward(x(), { hooks }), (e) => e === boom);
    assert.equal(calls, 1, 'the forward stopped at the throwing hook');
    assert.deepEqual(model.forward(x()).data, ref, 'the next forward is exact');
    assert.equal(calls, 1, 'no hook stayed attached');
  });

  test('hooks are removed when the model itself fails', () => {
    let calls = 0;
    throwsCode(() => model.forward(new Tensor(new Float32Array(7), [1, 7]), { hooks: [new Hook('0', () => { calls++; }, 'k')] }), 'ERR_SHAPE');
    model.forward(x());
    assert.equal(calls, 0);
  });

  test('an unknown layer lists the closest names', () => {
    throwsCode(() => model.forward(x(), { hooks: [new Hook('2->O', () => {}, 'k')] }), 'ERR_UNKNOWN_LAYER', /'2->O'.*closest are '2->0'/);
    throwsCode(() => model.forward(x(), { hooks: [new Hook('2.0', () => {}, 'k')] }), 'ERR_UNKNOWN_LAYER', /'2->0'/);
  });

  test('two hooks with one key in one call is an error, and nothing runs', () => {
    let calls = 0;
    model.saveCtx.dup = { keep: true };
    throwsCode(() => model.forward(x(), { hooks: [new Hook('0', () => { calls++; }, 'dup'), new Hook('1', () => { calls++; }, 'dup')] }), 'ERR_DUPLICATE_KEY', /'dup'/);
    assert.equal(calls, 0);
    assert.deepEqual(model.saveCtx.dup, { keep: true });
  });

  test('a wrong input shape names the layer and both shapes', () => {
    throwsCode(() => model.forward(new Tensor(new Float32Array(14), [2, 7])), 'ERR_SHAPE', /layer '0' \(Linear\).*\[\*, 8\].*\[2, 7\]/);
    const inner = new HookedModel(nn.Sequential(nn.Linear(4, 5), nn.Sequential(nn.Linear(6, 2))));
    try {
      throwsCode(() => inner.forward(new Tensor(new Float32Array(4), [1, 4])), 'ERR_SHAPE', /layer '1->0'.*\[\*, 6\].*\[1, 5\]/);
    } finally {
      inner.dispose();
    }
  });

  test('a forward from inside a hook is an error, and the model stays usable', () => {
    const ref = model.forward(x()).data;
    throwsCode(() => model.forward(x(), { hooks: [new Hook('0', () => { model.forward(x()); }, 'k')] }), 'ERR_REENTRANT');
    assert.deepEqual(model.forward(x()).data, ref);
  });

  test('not-a-hook and bad Hook arguments are clear errors', () => {
    throwsCode(() => model.forward(x(), { hooks: [{}] }), 'ERR_INVALID_ARG', /hooks\[0\]/);
    throwsCode(() => new Hook('0', 'not a function', 'k'), 'ERR_INVALID_ARG', /func/);
    throwsCode(() => new Hook('0', () => {}, ''), 'ERR_INVALID_ARG', /key/);
  });

  test('a disposed model is a clear error; dispose twice is fine', () => {
    const m = new HookedModel(nn.Sequential(nn.Linear(2, 2)));
    m.dispose();
    m.dispose();
    throwsCode(() => m.forward([[1, 2]]), 'ERR_DISPOSED');
    throwsCode(() => m.stateDict(), 'ERR_DISPOSED');
  });

  test('hooked and plain forwards agree exactly', () => {
    const ref = model.forward(x()).data;
    const hooked = model.forward(x(), { hooks: [...model.layers.keys()].map((k) => new Hook(k, () => {}, k)) }).data;
    assert.equal(maxAbsDiff(ref, hooked), 0);
  });
});
