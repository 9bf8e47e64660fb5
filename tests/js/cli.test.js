// cli.test.js — `unseal-wasm` end to end in child processes: the files it
// writes are read back independently and compared with the library's values.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { HookedModel } from '../../web/index.js';
import { goldenDir, readSafetensorsIndependently } from './helpers.js';

const cli = fileURLToPath(new URL('../../web/cli.js', import.meta.url));
const modelDir = join(goldenDir, 'gpt2', 'tiny');
const run = (...args) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

test('run saves the chosen activations, readable back, equal to runWithCache', async () => {
  const out = join(mkdtempSync(join(tmpdir(), 'unseal-cli-')), 'acts.safetensors');
  const r = run('run', modelDir, '--ids', '5,1,7,7', '--save', 'transformer->h->*->attn->pattern', '--save', 'blocks.0.hook_resid_post', '--out', out);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /wrote 3 activations/);
  assert.match(r.stderr, /loading \[#+\] 100%/);
  const { tensors, metadata } = readSafetensorsIndependently(new Uint8Array(readFileSync(out)));
  assert.equal(metadata.producer, 'unseal-wasm');
  assert.deepEqual(Object.keys(tensors), ['input_ids', 'logits', 'transformer->h->0->attn->pattern', 'transformer->h->0', 'transformer->h->1->attn->pattern']); // execution order
  assert.deepEqual([...tensors.input_ids.data], [5, 1, 7, 7]);
  const model = await HookedModel.fromPretrained(modelDir);
  const ref = model.runWithCache([5, 1, 7, 7], { names: ['transformer->h->0', 'transformer->h->*->attn->pattern'] });
  for (const [name, t] of ref.cache) assert.deepEqual(tensors[name].data, t.data, name);
  assert.deepEqual(tensors.logits.data, ref.output.data);
  model.dispose();
});

test('layers, logit-lens --json and generate print what the library computes', async () => {
  const model = await HookedModel.fromPretrained(modelDir);
  const layers = run('layers', modelDir);
  assert.equal(layers.status, 0, layers.stderr);
  assert.ok(layers.stdout.startsWith(`${String(model)}\n`));
  assert.match(layers.stdout, /transformer->h->1->attn->z {2}ActivationPoint\(z/);
  assert.match(layers.stdout, /blocks\.1\.attn\.hook_pattern -> transformer->h->1->attn->pattern/);

  const lens = run('logit-lens', modelDir, '--ids', '3,4,5', '--json');
  assert.equal(lens.status, 0, lens.stderr);
  const j = JSON.parse(lens.stdout);
  const { logitLens } = await import('../../web/index.js');
  const want = logitLens(model, [3, 4, 5]);
  assert.deepEqual(j.topIds, want.topIds.toArray());
  assert.deepEqual(j.rank, want.rank.toArray());

  const gen = run('generate', modelDir, '--ids', '3,4,5', '--temperature', '0', '--max-new-tokens', '6');
  assert.equal(gen.status, 0, gen.stderr);
  assert.equal(gen.stdout.trim(), model.generate([3, 4, 5], { temperature: 0, maxNewTokens: 6 }).ids[0].join(','));
  model.dispose();
});

test('--help for each command; bad usage exits 2 with a message', () => {
  for (const cmd of ['--help', 'run --help', 'layers --help', 'logit-lens --help', 'generate --help']) {
    const r = run(...cmd.split(' '));
    assert.equal(r.status, 0);
    assert.match(r.stdout, /Usage: unseal-wasm/);
  }
  const bad = run('frobnicate');
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /unknown command 'frobnicate'/);
  const noInput = run('run', modelDir);
  assert.equal(noInput.status, 2);
  assert.match(noInput.stderr, /--prompt TEXT or --ids/);
  const missing = run('layers', join(tmpdir(), 'no-such-model-dir'));
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /config\.json: not found; .*\[ERR_NOT_FOUND\]/);
  const noTok = run('generate', modelDir, '--prompt', 'hi');
  assert.equal(noTok.status, 1);
  assert.match(noTok.stderr, /without tokenizer files/);
});
