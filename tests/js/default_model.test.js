// default_model.test.js — the demo's default model (demo/models/kjv-bytes,
// made by `npm run train-default`) shows what the demo displays: it predicts
// held-out text far better than byte frequencies do, and it has a
// previous-token head and an induction head, measured here again.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { HookedModel, Tensor, inductionScores, previousTokenScores } from '../../web/index.js';

const dir = fileURLToPath(new URL('../../demo/models/kjv-bytes', import.meta.url));
const model = await HookedModel.fromPretrained(dir);
const sample = new Uint8Array(readFileSync(`${dir}/heldout_sample.txt`));
const T = model.config.n_positions;
const windows = (n) => {
  const ids = new Int32Array(n * T);
  for (let b = 0; b < n; b++) ids.set(sample.subarray(b * T, (b + 1) * T), b * T);
  return new Tensor(ids, [n, T]);
};
let s = 7;
const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
const repeatedLetters = (B, n) => {
  const ids = new Int32Array(B * 2 * n);
  for (let b = 0; b < B; b++) for (let t = 0; t < n; t++) {
    const c = 97 + Math.floor(rand() * 26);
    ids[b * 2 * n + t] = c;
    ids[b * 2 * n + n + t] = c;
  }
  return new Tensor(ids, [B, 2 * n]);
};

test('held-out loss is well below the unigram baseline', () => {
  const { loss } = model.loss(windows(16));
  // The best possible unigram model of the sample itself: its byte entropy.
  const counts = new Map();
  for (const b of sample) counts.set(b, (counts.get(b) ?? 0) + 1);
  let entropy = 0;
  for (const c of counts.values()) entropy -= (c / sample.length) * Math.log(c / sample.length);
  assert.ok(loss < entropy - 1.0, `held-out loss ${loss.toFixed(3)} vs unigram ${entropy.toFixed(3)} nats/byte`);
  const card = readFileSync(`${dir}/MODEL_CARD.md`, 'utf8');
  assert.match(card, /held-out loss \| \*\*\d\.\d+ nats\/byte/);
  assert.match(card, /unigram baseline \| \d\.\d+ nats\/byte/);
});

test('a previous-token head: mean attention to t − 1 ≥ 0.5 on held-out text and on random letters', () => {
  const text = previousTokenScores(model, windows(4));
  const letters = previousTokenScores(model, repeatedLetters(4, T / 2));
  let found = false;
  text.toArray().forEach((row, l) => row.forEach((x, h) => { if (x >= 0.5 && letters.get(l, h) >= 0.5) found = true; }));
  assert.ok(found, `previous-token scores, text:\n${text}\nrandom letters:\n${letters}`);
});

test('an induction head: attention to the token after the earlier occurrence ≥ 0.3, and the second copy is predicted far better', () => {
  const r = inductionScores(model, repeatedLetters(8, T / 2));
  assert.ok(Math.max(...r.scores.data) >= 0.3, `induction scores:\n${r.scores}`);
  assert.ok(r.lossSecond < 0.5 * r.lossFirst, `loss on the first copy ${r.lossFirst}, on the second ${r.lossSecond}`);
  // and the model card reports what the model does
  const card = readFileSync(`${dir}/MODEL_CARD.md`, 'utf8');
  const reported = Number(/\| induction \(random letters, repeated\) \| layer \d+, head \d+ \| (\d\.\d+) \|/.exec(card)?.[1]);
  assert.ok(Math.abs(Math.max(...r.scores.data) - reported) < 0.05, `measured vs the card's ${reported}`);
});
