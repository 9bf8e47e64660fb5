// format.test.js — Tensor printing equals PyTorch's str(tensor), from tests/golden/tensor_format.json.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Tensor } from '../../web/index.js';
import { goldenDir } from './helpers.js';

const cases = JSON.parse(readFileSync(join(goldenDir, 'tensor_format.json'), 'utf8'));

for (const c of cases) {
  test(`str of a tensor of shape [${c.shape}] equals PyTorch's`, () => {
    assert.equal(String(new Tensor(Float32Array.from(c.data), c.shape)), c.str);
  });
}
