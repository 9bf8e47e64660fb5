// seed.test.js — the seed example (demo/seed.mjs, Unseal's tutorial) end to
// end in a child process, its printed output checked line by line.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { HookedModel, nn } from '../../web/index.js';

const script = fileURLToPath(new URL('../../demo/seed.mjs', import.meta.url));

test('the seed example runs and prints what the tutorial shows', () => {
  const out = execFileSync(process.execPath, [script], { encoding: 'utf8' });
  const expectedRepr = [
    'Sequential(',
    '  (0): Linear(in_features=8, out_features=64, bias=True)',
    '  (1): ReLU()',
    '  (2): Sequential(',
    '    (0): Linear(in_features=64, out_features=256, bias=True)',
    '    (1): ReLU()',
    '    (2): Linear(in_features=256, out_features=1, bias=True)',
    '  )',
    ')',
  ].join('\n');
  assert.ok(out.startsWith(`${expectedRepr}\n`), out);
  assert.ok(out.includes("[ '0', '1', '2', '2->0', '2->1', '2->2' ]"));
  assert.ok(out.includes('Linear(in_features=64, out_features=256, bias=True)\ntensor([['));

  // The saved output is the first layer applied to the saved input: recompute
  // it from the same seeded weights.
  const tensors = [...out.matchAll(/tensor\((\[[\s\S]*?\])\)/g)].map((m) => JSON.parse(m[1]).flat());
  assert.equal(tensors.length, 3);
  const [x, y] = tensors;
  assert.equal(x.length, 8);
  assert.equal(y.length, 64);
  nn.manualSeed(0);
  const model = new HookedModel(nn.Sequential(nn.Linear(8, 64), nn.ReLU(), nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 1))));
  const { data: W } = model.layers.get('0').weight;
  const { data: b } = model.layers.get('0').bias;
  for (let j = 0; j < 64; j++) {
    let acc = b[j];
    for (let k = 0; k < 8; k++) acc += W[j * 8 + k] * x[k];
    assert.ok(Math.abs(acc - y[j]) < 1e-3, `output ${j}: ${acc} vs printed ${y[j]}`); // printed with 4 decimals
  }
  model.dispose();
});
