// golden.test.js — every golden model against PyTorch (tests/golden): names,
// reprs, state-dict keys, and every module call's input and output.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HookedModel, Hook, Tensor, writeSafetensors } from '../../web/index.js';
import { builders, goldenDir, loadGolden, maxAbs, maxAbsDiff, readSafetensorsIndependently } from './helpers.js';

const TOL = 1e-5;

for (const name of Object.keys(builders)) {
  test(`golden ${name}: names, reprs and every activation equal PyTorch's`, async () => {
    const g = loadGolden(name);
    const model = new HookedModel(builders[name]());
    try {
      assert.equal(String(model), g.meta.repr, 'repr of the whole model');
      assert.deepEqual([...model.layers.keys()], g.meta.layers.map(([n]) => n), 'layer names');
      for (const [n, repr] of g.meta.layers) assert.equal(String(model.layers.get(n)), repr, `repr of layer ${n}`);
      assert.deepEqual(Object.entries(model.stateDict()).map(([k, t]) => [k, [...t.shape]]), g.meta.state_dict, 'state-dict keys and shapes');

      await model.loadStateDict(writeSafetensors(g.params));
      // One hook on every layer records each call, in execution order.
      const seen = [];
      const hooks = [...model.layers.keys()].map((layer) => new Hook(layer, (ctx, input, output) => {
        seen.push({ layer, input: input.clone(), output: output.clone() });
      }, `rec_${layer}`));
      const out = model.forward(g.input, { hooks });
      assert.deepEqual(seen.map((c) => c.layer), g.meta.calls, 'calls in execution order');
      g.calls.forEach((want, i) => {
        const got = seen[i];
        assert.deepEqual([...got.input.shape], [...want.input.shape], `call ${i} (${want.layer}) input shape`);
        assert.deepEqual([...got.output.shape], [...want.output.shape], `call ${i} (${want.layer}) output shape`);
        const di = maxAbsDiff(got.input.data, want.input.data);
        const dout = maxAbsDiff(got.output.data, want.output.data);
        assert.ok(di <= TOL, `call ${i} (${want.layer}) input differs by ${di}`);
        assert.ok(dout <= TOL, `call ${i} (${want.layer}) output differs by ${dout}`);
      });
      assert.deepEqual([...out.shape], [...g.output.shape]);
      assert.ok(maxAbsDiff(out.data, g.output.data) <= TOL, 'output');
      // Without hooks: the same output, bit for bit.
      const plain = model.forward(g.input);
      assert.deepEqual(plain.data, out.data);
    } finally {
      model.dispose();
    }
  });
}

// Gradients: (output · grad_seed).sum() through every golden model, against
// PyTorch's parameter and input gradients and its full backward hooks.
for (const name of Object.keys(builders)) {
  test(`golden ${name}: gradients and backward-hook order equal PyTorch's`, async () => {
    const g = loadGolden(name);
    const { tensors } = readSafetensorsIndependently(new Uint8Array(readFileSync(join(goldenDir, `${name}.safetensors`))));
    const t = (k) => new Tensor(tensors[k].data, tensors[k].shape);
    const model = new HookedModel(builders[name]());
    try {
      await model.loadStateDict(writeSafetensors(g.params));
      model.forward(g.input, { grad: true });
      const seen = [];
      const hooks = [...model.layers.keys()].map((layer) => new Hook(layer, (ctx, gi, go) => {
        seen.push({ layer, gi: gi?.clone() ?? null, go: go.clone() });
      }, `g_${layer}`));
      const { inputGrad } = model.backward(t('grad_seed'), { hooks });
      assert.deepEqual(seen.map((s) => s.layer), g.meta.grad_calls, 'backward hook order');
      seen.forEach((s, i) => {
        close(s.go, t(`gcall.${i}.out`), `gcall ${i} (${s.layer}) gradOutput`);
        if (g.meta.grad_calls_have_in[i]) close(s.gi, t(`gcall.${i}.in`), `gcall ${i} (${s.layer}) gradInput`);
        else assert.equal(s.gi, null);
      });
      const grads = model.grads();
      for (const k of Object.keys(tensors).filter((x) => x.startsWith('grad.param.'))) close(grads[k.slice(11)], t(k), k);
      if (tensors['grad.input']) close(inputGrad, t('grad.input'), 'input gradient');
      else assert.equal(inputGrad, null);
    } finally {
      model.dispose();
    }
  });
}

function close(got, want, what) {
  assert.deepEqual([...got.shape], [...want.shape], `${what}: shape`);
  const d = maxAbsDiff(got.data, want.data);
  assert.ok(d <= 1e-5 + 1e-5 * maxAbs(want.data), `${what}: max |diff| ${d}`);
}
