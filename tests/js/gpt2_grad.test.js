// gpt2_grad.test.js — the backward pass against PyTorch
// (tests/golden/gpt2/<cfg>/grads.safetensors, see GRADS.md): the loss, every
// parameter's gradient and every hook point's gradient; backward hooks that
// edit the gradient flowing on; runWithCache's gradients; errors.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { HookedModel, Hook, Tensor, UnsealError } from '../../web/index.js';
import { loadGpt2Golden, maxAbs, maxAbsDiff, readSafetensorsIndependently } from './helpers.js';

function close(got, want, what, rel = 1e-4) {
  assert.deepEqual([...got.shape], [...want.shape], `${what}: shape`);
  const d = maxAbsDiff(got.data, want.data);
  const tol = rel * maxAbs(want.data) + 1e-10;
  assert.ok(d <= tol, `${what}: max |diff| ${d} > ${tol}`);
}

for (const cfg of ['tiny', 'odd', 'wide']) {
  describe(`gradients against PyTorch: '${cfg}'`, async () => {
    const g = loadGpt2Golden(cfg);
    const meta = JSON.parse(readFileSync(join(g.dir, 'grads.json'), 'utf8'));
    const { tensors } = readSafetensorsIndependently(new Uint8Array(readFileSync(join(g.dir, 'grads.safetensors'))));
    const G = (k) => {
      const e = tensors[meta.aliases.map[k] ?? k];
      return new Tensor(e.data, e.shape);
    };
    const model = await HookedModel.fromPretrained(g.dir);
    const ids = G('input_ids');
    const canonical = (name) => (name.startsWith('transformer.') ? name : `transformer.${name}`);

    test('loss and every parameter gradient (wte with the tied head\'s share)', () => {
      model.zeroGrad();
      model.forward(ids, { grad: true });
      const { loss, scored } = model.backward({ loss: 'cross_entropy', targets: ids });
      assert.ok(Math.abs(loss - G('ce.loss').data[0]) < 1e-5, `loss ${loss}`);
      assert.equal(scored, ids.shape[0] * (ids.shape[1] - 1));
      const grads = model.grads();
      const names = Object.keys(tensors).filter((k) => k.startsWith('ce.param.')).map((k) => k.slice(9));
      assert.equal(names.length, Object.keys(grads).length);
      for (const n of names) close(grads[canonical(n)], G(`ce.param.${n}`), n);
    });

    test('ignored labels (-100) and accumulation until zeroGrad', () => {
      model.zeroGrad();
      model.forward(ids, { grad: true });
      const { loss } = model.backward({ loss: 'cross_entropy', targets: G('labels_ignored') });
      assert.ok(Math.abs(loss - G('ce_ign.loss').data[0]) < 1e-5);
      const once = model.grads();
      for (const k of Object.keys(tensors).filter((x) => x.startsWith('ce_ign.param.'))) close(once[canonical(k.slice(13))], G(k), k);
      model.forward(ids, { grad: true });
      model.backward({ loss: 'cross_entropy', targets: G('labels_ignored') });
      const twice = model.grads();
      const w = 'transformer.h.0.mlp.c_fc.weight';
      close(twice[w], new Tensor(once[w].data.map((x) => 2 * x), [...once[w].shape]), 'accumulated');
      model.zeroGrad();
      assert.ok(model.grads()[w].data.every((x) => x === 0));
    });

    test('every hook point\'s gradient, seen by backward hooks', () => {
      model.zeroGrad();
      model.forward(ids, { grad: true });
      const seen = new Map();
      const points = Object.keys(tensors).filter((k) => k.startsWith('ce.act.')).map((k) => k.slice(7));
      const all = [...new Set([...points, ...Object.keys(meta.aliases.map).filter((k) => k.startsWith('ce.act.')).map((k) => k.slice(7))])];
      const hooks = all.map((p) => new Hook(p, (ctx, gi, go) => { seen.set(p, go.clone()); }, p));
      model.backward({ loss: 'cross_entropy', targets: ids }, { hooks });
      for (const p of all) close(seen.get(p), G(`ce.act.${p}`), `grad of ${p}`);
      close(seen.get('lm_head') ?? G('ce.logits_grad'), G('ce.logits_grad'), 'logits grad');
    });

    test('runWithCache({ grads: true }) adds name_grad entries, leaving parameter gradients alone', () => {
      model.zeroGrad();
      const { cache } = model.runWithCache(ids, { names: ['transformer->h->0->attn->z', 'blocks.0.hook_resid_mid'], grads: true });
      close(cache.get('transformer->h->0->attn->z_grad'), G('ce.act.transformer->h->0->attn->z'), 'z_grad');
      close(cache.get('transformer->h->0->resid_mid_grad'), G('ce.act.transformer->h->0->resid_mid'), 'resid_mid_grad');
      assert.ok(model.grads()['transformer.ln_f.weight'].data.every((x) => x === 0));
    });
  });
}

describe('backward hooks and errors', async () => {
  const model = await HookedModel.fromPretrained(loadGpt2Golden('tiny').dir);
  const ids = [[5, 6, 7, 8, 9], [1, 2, 3, 4, 5]];

  test('zeroing the gradient flowing out of layer 1\'s resid_mid cuts everything upstream', () => {
    model.zeroGrad();
    model.forward(ids, { grad: true });
    model.backward({ loss: 'cross_entropy', targets: ids }, { hooks: [new Hook('transformer->h->1->resid_mid', (ctx, gradIn) => { gradIn.data.fill(0); }, 'cut')] });
    const g = model.grads();
    const zero = (k) => g[k].data.every((x) => x === 0);
    assert.ok(zero('transformer.h.0.mlp.c_fc.weight') && zero('transformer.h.1.attn.c_attn.weight') && zero('transformer.wpe.weight'));
    assert.ok(!zero('transformer.h.1.mlp.c_fc.weight') && !zero('transformer.ln_f.weight') && !zero('transformer.wte.weight')); // wte: the tied head
  });

  test('returning a gradient replaces it; a wrong shape names the hook', () => {
    model.zeroGrad();
    model.forward(ids, { grad: true });
    model.backward({ loss: 'cross_entropy', targets: ids }, { hooks: [new Hook('transformer->h->0', (ctx, gi) => new Float32Array(gi.size), 'rep')] });
    assert.ok(model.grads()['transformer.wpe.weight'].data.every((x) => x === 0));
    model.forward(ids, { grad: true });
    assert.throws(() => model.backward({ loss: 'cross_entropy', targets: ids }, { hooks: [new Hook('transformer->h->0', () => new Float32Array(3), 'bad')] }),
      (e) => e instanceof UnsealError && e.code === 'ERR_HOOK_RETURN' && /'bad'/.test(e.message));
    assert.throws(() => model.backward({ loss: 'cross_entropy', targets: ids }, { hooks: [new Hook('transformer->wte', () => new Float32Array(3), 'ids')] }),
      (e) => e.code === 'ERR_HOOK_RETURN' && /token ids/.test(e.message));
  });

  test('a backward hook that throws leaves nothing attached; gradients are exact next time', () => {
    model.zeroGrad();
    model.forward(ids, { grad: true });
    model.backward({ loss: 'cross_entropy', targets: ids });
    const ref = model.grads()['transformer.h.0.ln_1.weight'].data;
    const boom = new Error('boom');
    model.zeroGrad();
    model.forward(ids, { grad: true });
    assert.throws(() => model.backward({ loss: 'cross_entropy', targets: ids }, { hooks: [new Hook('transformer->h->1', () => { throw boom; }, 'k')] }), (e) => e === boom);
    model.zeroGrad();
    model.forward(ids, { grad: true });
    model.backward({ loss: 'cross_entropy', targets: ids });
    assert.deepEqual(model.grads()['transformer.h.0.ln_1.weight'].data, ref);
  });

  test('clear errors: backward before a grad forward, bad seeds, labels out of range', async () => {
    const fresh = await HookedModel.fromPretrained(loadGpt2Golden('tiny').dir);
    assert.throws(() => fresh.backward({ loss: 'cross_entropy', targets: ids }), (e) => e.code === 'ERR_INVALID_ARG' && /grad: true/.test(e.message));
    fresh.forward(ids, { grad: true });
    assert.throws(() => fresh.backward(new Float32Array(3)), (e) => e.code === 'ERR_SHAPE' && /\[2, 5, 101\]/.test(e.message));
    assert.throws(() => fresh.backward({ loss: 'mse', targets: ids }), (e) => e.code === 'ERR_INVALID_ARG');
    assert.throws(() => fresh.backward({ loss: 'cross_entropy', targets: [[1, 2, 3]] }), (e) => e.code === 'ERR_SHAPE');
    assert.throws(() => fresh.backward({ loss: 'cross_entropy', targets: [[1, 2, 3, 4, 500], [1, 2, 3, 4, 5]] }), (e) => e.code === 'ERR_RANGE' && /500 at \[0, 4\]/.test(e.message));
    fresh.dispose();
  });

  test('a seed gradient equals the cross-entropy it stands for', () => {
    model.zeroGrad();
    const logits = model.forward(ids, { grad: true });
    model.backward({ loss: 'cross_entropy', targets: ids });
    const ref = model.grads()['transformer.h.1.attn.c_proj.weight'];
    // d(mean CE)/dlogits computed here in JS
    const [B, T, V] = logits.shape;
    const seed = new Float32Array(B * T * V);
    for (let b = 0; b < B; b++) for (let t = 0; t < T - 1; t++) {
      const row = logits.data.subarray((b * T + t) * V, (b * T + t + 1) * V);
      const mx = Math.max(...row);
      const ex = row.map((x) => Math.exp(x - mx));
      const sum = ex.reduce((a, x) => a + x, 0);
      for (let v = 0; v < V; v++) seed[(b * T + t) * V + v] = (ex[v] / sum - (v === ids[b][t + 1] ? 1 : 0)) / (B * (T - 1));
    }
    model.zeroGrad();
    model.forward(ids, { grad: true });
    model.backward(new Tensor(seed, [B, T, V]));
    close(model.grads()['transformer.h.1.attn.c_proj.weight'], ref, 'seeded', 1e-4);
  });
});
