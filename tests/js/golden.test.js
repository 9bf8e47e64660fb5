// golden.test.js — every golden model against PyTorch (tests/golden): names,
// reprs, state-dict keys, and every module call's input and output.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HookedModel, Hook, writeSafetensors } from '../../web/index.js';
import { builders, loadGolden, maxAbsDiff } from './helpers.js';

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
