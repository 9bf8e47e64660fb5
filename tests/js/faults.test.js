// faults.test.js — failures in the middle of things: a hook that throws at
// every hook point of a GPT-2 forward, backward and generation leaves no hook
// attached and the next run exact; two workers share nothing but the package.
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { test } from 'node:test';
import { HookedModel, Hook } from '../../web/index.js';
import { loadGpt2Golden } from './helpers.js';

const dir = loadGpt2Golden('tiny').dir;
const model = await HookedModel.fromPretrained(dir);
const ids = [[3, 1, 4, 1, 5], [9, 2, 6, 5, 3]];
const points = [...model.layers.keys()].filter((n) => n !== 'transformer->h');
const boom = () => { throw new Error('boom'); };

test('a forward hook that throws at any point: its error, no hook left, the next forward exact', () => {
  const ref = model.forward(ids).data;
  let calls = 0;
  for (const p of points) {
    assert.throws(() => model.forward(ids, { hooks: [new Hook(p, () => { calls++; boom(); }, 'k')] }), /boom/, p);
    assert.deepEqual(model.forward(ids).data, ref, `after a throw at ${p}`);
  }
  assert.equal(calls, points.length);
});

test('a backward hook that throws at any point: gradients exact next time', () => {
  model.zeroGrad();
  model.forward(ids, { grad: true });
  model.backward({ loss: 'cross_entropy', targets: ids });
  const ref = model.grads();
  for (const p of points) {
    model.zeroGrad();
    model.forward(ids, { grad: true });
    assert.throws(() => model.backward({ loss: 'cross_entropy', targets: ids }, { hooks: [new Hook(p, boom, 'k')] }), /boom/, p);
  }
  model.zeroGrad();
  model.forward(ids, { grad: true });
  model.backward({ loss: 'cross_entropy', targets: ids });
  const again = model.grads();
  for (const k of Object.keys(ref)) assert.deepEqual(again[k].data, ref[k].data, k);
});

test('a hook that throws mid-generation at any point: the next generation is exact', () => {
  const ref = model.generate(ids, { maxNewTokens: 4, temperature: 0 }).ids;
  for (const p of points) {
    assert.throws(() => model.generate(ids, { maxNewTokens: 4, temperature: 0, hooks: [new Hook(p, (c, i, o, info) => { if (info.step === 2) boom(); }, 'k')] }), /boom/, p);
  }
  assert.deepEqual(model.generate(ids, { maxNewTokens: 4, temperature: 0 }).ids, ref);
});

test('two worker threads load and run the package independently, with equal results', async () => {
  const run = () => new Promise((resolve, reject) => {
    const w = new Worker(new URL('./fixtures/worker.mjs', import.meta.url), { workerData: { dir, ids } });
    w.once('message', resolve);
    w.once('error', reject);
  });
  const [a, b] = await Promise.all([run(), run()]);
  assert.ok(Array.isArray(a) && Array.isArray(b), `${a} / ${b}`);
  assert.deepEqual(a, b);
  assert.deepEqual(a, Array.from(model.forward(ids).data));
});

test('out of memory: a model too large for wasm32 is a clear error, and smaller models keep working', async () => {
  const { readFileSync } = await import('node:fs');
  const { nn } = await import('../../web/index.js');
  const cfg = JSON.parse(readFileSync(`${dir}/config.json`, 'utf8'));
  const huge = { ...cfg, n_embd: 4096, n_head: 32, n_layer: 16, vocab_size: 50257 };
  await assert.rejects(HookedModel.fromPretrained({ 'config.json': JSON.stringify(huge), 'model.safetensors': readFileSync(`${dir}/model.safetensors`) }),
    (e) => e.code === 'ERR_OOM' && /parameters do not fit in this address space/.test(e.message));
  assert.throws(() => nn.Linear(40000, 40000), (e) => e.code === 'ERR_OOM' && /nn\.Linear: out of wasm memory/.test(e.message));
  const ref = model.forward(ids).data;
  const again = await HookedModel.fromPretrained(dir);
  assert.deepEqual(again.forward(ids).data, ref);
  again.dispose();
});
