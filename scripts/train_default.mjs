#!/usr/bin/env node
// train_default.mjs — `npm run train-default`: trains the demo's default model,
// a small GPT-2-architecture model over bytes, on the King James Bible
// (Debian's bible-kjv), and writes it to demo/models/kjv-bytes/ with its
// tokenizer files, a loss curve and a model card.
//
// Deterministic: the initialisation, the batches and the held-out split come
// from fixed seeds, and the arithmetic is this package's (WebAssembly SIMD128
// in Node), so a rerun on this machine reproduces the weights.
//   node scripts/train_default.mjs [--steps N] [--out DIR]
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensure, have, root } from './lib.mjs';
import { buildWasm } from './build.mjs';
import { byteConfig, byteTokenizerFiles, gpt2ParamShapes } from './byte_model.mjs';

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '5000' },
    out: { type: 'string', default: join(root, 'demo/models/kjv-bytes') },
    layers: { type: 'string', default: '2' },
    embd: { type: 'string', default: '128' },
    heads: { type: 'string', default: '4' },
    ctx: { type: 'string', default: '64' },
    batch: { type: 'string', default: '16' },
    lr: { type: 'string', default: '3e-3' },
    seed: { type: 'string', default: '1234' },
    'repeat-frac': { type: 'string', default: '0.75' },
    'random-frac': { type: 'string', default: '0.67' },
  },
});
const STEPS = +values.steps;
const DIMS = { layers: +values.layers, embd: +values.embd, heads: +values.heads, ctx: +values.ctx };
const BATCH = +values.batch;
const LR = +values.lr;
const SEED = +values.seed;
const REPEAT = +values['repeat-frac'];
const RANDOM = +values['random-frac'];
const EVAL_EVERY = 100;

buildWasm();
const { HookedModel, Tensor, Trainer, writeSafetensors, previousTokenScores, inductionScores } = await import('../web/index.js');

// ---------------------------------------------------------------- data

ensure([{ ok: () => have('bible'), pkg: 'bible-kjv', what: "the King James Bible (Debian's bible-kjv)" }]);
const raw = execFileSync('bible', ['-f', 'Gen1:1-Rev22:21'], { encoding: 'latin1', maxBuffer: 64 << 20 });
// One verse a line, each prefixed with its reference ("Ge1:1 "): keep the text.
const text = raw.split('\n').map((l) => l.replace(/^\S*\d+:\d+ /, '')).filter((l) => l.length).join('\n') + '\n';
const bytes = Buffer.from(text, 'latin1');
const heldStart = Math.floor(bytes.length * 0.95); // the last 5% (most of Revelation's neighbours) is held out
const train = bytes.subarray(0, heldStart);
const held = bytes.subarray(heldStart);

function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * B windows of T bytes from `data` at positions drawn by `rand`. A fraction
 * `repeat` of the rows is a span of T/2 bytes followed by the same span again:
 * text repeats itself, but rarely within 128 bytes, and without such rows a
 * model this small does not learn in-context copying (induction heads) in a
 * budget of minutes. The repeated spans are Bible text too.
 */
function batch(data, B, T, rand, repeat = 0, random = 0) {
  const ids = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    if (rand() < repeat) {
      const n = T / 2;
      const letters = rand() < random; // a span of random lowercase letters instead of text
      const start = Math.floor(rand() * (data.length - n));
      for (let t = 0; t < n; t++) ids[b * T + t] = ids[b * T + n + t] = letters ? 97 + Math.floor(rand() * 26) : data[start + t];
      continue;
    }
    const start = Math.floor(rand() * (data.length - T));
    for (let t = 0; t < T; t++) ids[b * T + t] = data[start + t];
  }
  return new Tensor(ids, [B, T]);
}

// ---------------------------------------------------------------- model

const cfg = byteConfig(DIMS);
const init = rng(SEED);
const normal = () => Math.sqrt(-2 * Math.log(1 - init())) * Math.cos(2 * Math.PI * init());
const weights = gpt2ParamShapes(DIMS).map(([name, shape]) => {
  const n = shape.reduce((a, b) => a * b, 1);
  let data;
  if (/ln_\d|ln_f/.test(name)) data = new Float32Array(n).fill(name.endsWith('weight') ? 1 : 0);
  else if (name.endsWith('bias')) data = new Float32Array(n);
  else {
    // GPT-2's init: N(0, 0.02), the residual projections scaled by 1/sqrt(2L).
    const std = /c_proj\.weight$/.test(name) ? 0.02 / Math.sqrt(2 * DIMS.layers) : 0.02;
    data = Float32Array.from({ length: n }, () => std * normal());
  }
  return [name, new Tensor(data, shape)];
});
const tokFiles = byteTokenizerFiles();
const model = await HookedModel.fromPretrained({ 'config.json': JSON.stringify(cfg), 'model.safetensors': writeSafetensors(weights), ...tokFiles });
const nParams = weights.reduce((s, [, t]) => s + t.size, 0);

const trainer = new Trainer(model, { lr: LR, minLr: LR / 10, warmup: Math.min(200, Math.floor(STEPS / 10)), steps: STEPS, betas: [0.9, 0.95], weightDecay: 0.1, clip: 1.0 });
const batchRand = rng(SEED + 1);
const evalRand = rng(SEED + 2);
const heldBatches = Array.from({ length: 8 }, () => batch(held, BATCH, DIMS.ctx, evalRand));
const heldLoss = () => heldBatches.reduce((s, b) => s + trainer.evaluate(b), 0) / heldBatches.length;

// Unigram baseline: the entropy of the training bytes' frequencies, on held-out text.
const counts = new Float64Array(256).fill(1); // add-one smoothing
for (const b of train) counts[b]++;
const total = counts.reduce((a, b) => a + b, 0);
let unigram = 0;
for (const b of held) unigram -= Math.log(counts[b] / total);
unigram /= held.length;

console.log(`KJV: ${bytes.length} bytes (${train.length} train, ${held.length} held out); unigram baseline ${unigram.toFixed(3)} nats/byte`);
console.log(`model: ${JSON.stringify(DIMS)}, ${nParams} parameters; ${STEPS} steps of ${BATCH} x ${DIMS.ctx} bytes, lr ${LR}`);

const curve = [['step', 'train_loss', 'heldout_loss', 'lr']];
const t0 = Date.now();
let smooth = null;
for (let s = 1; s <= STEPS; s++) {
  const { loss, lr } = trainer.trainStep(batch(train, BATCH, DIMS.ctx, batchRand, REPEAT, RANDOM));
  smooth = smooth === null ? loss : 0.95 * smooth + 0.05 * loss;
  let h = '';
  if (s % EVAL_EVERY === 0 || s === STEPS) {
    h = heldLoss().toFixed(4);
    curve.push([s, loss.toFixed(4), h, lr.toExponential(3)]);
  } else if (s % 10 === 0) {
    curve.push([s, loss.toFixed(4), '', lr.toExponential(3)]);
  }
  const el = (Date.now() - t0) / 1000;
  const width = 30;
  const fill = Math.round((s / STEPS) * width);
  const eta = (el / s) * (STEPS - s);
  const line = `[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${s}/${STEPS} loss ${smooth.toFixed(3)}${h ? ` held-out ${h}` : ''} ${el.toFixed(0)}s eta ${eta.toFixed(0)}s`;
  if (process.stdout.isTTY) process.stdout.write(`\r${line}`);
  else if (s % EVAL_EVERY === 0 || s === STEPS) console.log(line);
}
if (process.stdout.isTTY) process.stdout.write('\n');
const seconds = (Date.now() - t0) / 1000;
const finalHeld = heldLoss();

// ---------------------------------------------------------------- circuits

const circuitRand = rng(SEED + 3);
const letters = [...'abcdefghijklmnopqrstuvwxyz'].map((c) => c.charCodeAt(0));
const randomRows = (B, n) => {
  const ids = new Int32Array(B * 2 * n);
  for (let b = 0; b < B; b++) for (let t = 0; t < n; t++) {
    const c = letters[Math.floor(circuitRand() * letters.length)];
    ids[b * 2 * n + t] = c;
    ids[b * 2 * n + n + t] = c;
  }
  return new Tensor(ids, [B, 2 * n]);
};
const prevHeld = previousTokenScores(model, heldBatches[0]);
const prevRandom = previousTokenScores(model, randomRows(8, DIMS.ctx / 2));
const induction = inductionScores(model, randomRows(8, DIMS.ctx / 2));
const fmt = (t) => t.toArray().map((r, l) => `  layer ${l}: ${r.map((x) => x.toFixed(2)).join(' ')}`).join('\n');
console.log(`previous-token scores (held-out text):\n${fmt(prevHeld)}`);
console.log(`previous-token scores (random letters):\n${fmt(prevRandom)}`);
console.log(`induction scores (random letters repeated):\n${fmt(induction.scores)}`);
console.log(`loss on the first copy ${induction.lossFirst.toFixed(3)}, on the second ${induction.lossSecond.toFixed(3)}`);

// ---------------------------------------------------------------- write

const out = values.out;
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'config.json'), `${JSON.stringify(cfg, null, 2)}\n`);
writeFileSync(join(out, 'model.safetensors'), model.saveStateDict());
for (const [f, t] of Object.entries(tokFiles)) writeFileSync(join(out, f), t);
// A sample of the held-out text, for the tests (which need no bible-kjv).
writeFileSync(join(out, 'heldout_sample.txt'), held.subarray(0, 16384));
writeFileSync(join(out, 'loss_curve.csv'), `${curve.map((r) => r.join(',')).join('\n')}\n`);

// A small SVG of the loss curve (train every 10 steps, held-out every 100).
const pts = curve.slice(1);
const maxLoss = Math.max(...pts.map((r) => +r[1]));
const X = (s) => 40 + (560 * s) / STEPS;
const Y = (l) => 20 + 260 * (1 - l / maxLoss);
const path = (col) => pts.filter((r) => r[col] !== '').map((r, i) => `${i ? 'L' : 'M'}${X(+r[0]).toFixed(1)},${Y(+r[col]).toFixed(1)}`).join(' ');
writeFileSync(join(out, 'loss_curve.svg'), `<svg xmlns="http://www.w3.org/2000/svg" width="620" height="320" font-family="sans-serif" font-size="11">
<rect width="620" height="320" fill="white"/>
<line x1="40" y1="280" x2="600" y2="280" stroke="#888"/><line x1="40" y1="20" x2="40" y2="280" stroke="#888"/>
<text x="300" y="312">step (0 to ${STEPS})</text><text x="4" y="24">${maxLoss.toFixed(1)}</text><text x="4" y="280">0</text>
<line x1="40" y1="${Y(unigram).toFixed(1)}" x2="600" y2="${Y(unigram).toFixed(1)}" stroke="#aaa" stroke-dasharray="4"/>
<text x="460" y="${(Y(unigram) - 4).toFixed(1)}" fill="#666">unigram ${unigram.toFixed(2)}</text>
<path d="${path(1)}" fill="none" stroke="#1f77b4"/><path d="${path(2)}" fill="none" stroke="#d62728" stroke-width="2"/>
<text x="480" y="50" fill="#1f77b4">train</text><text x="480" y="64" fill="#d62728">held-out</text>
</svg>
`);

const best = (t) => {
  let bl = 0;
  let bh = 0;
  t.toArray().forEach((r, l) => r.forEach((x, h) => { if (x > t.get(bl, bh)) { bl = l; bh = h; } }));
  return { layer: bl, head: bh, score: t.get(bl, bh) };
};
const bp = best(prevHeld);
const bi = best(induction.scores);
writeFileSync(join(out, 'MODEL_CARD.md'), `# kjv-bytes: the default model of the unseal-wasm demo

A GPT-2-architecture language model over bytes, trained from scratch on the
King James Bible. It is small enough to ship in the repository and to run
instantly in a browser tab. Its circuits, as measured after training, are
listed below: the demo shows them (previous-token heads; induction heads where
they formed).

| | |
|---|---|
| architecture | GPT2LMHeadModel (HF semantics), ${DIMS.layers} layers, n_embd ${DIMS.embd}, ${DIMS.heads} heads, n_positions ${DIMS.ctx}, vocab 256 (bytes) |
| parameters | ${nParams} |
| tokenizer | GPT-2 byte-level BPE with no merges: token id = byte (vocab.json + merges.txt) |
| data | Debian's \`bible-kjv\`: \`bible -f "Gen1:1-Rev22:21"\`, verse references stripped, one verse a line; ${bytes.length} bytes |
| split | first 95% for training (${train.length} bytes), last 5% held out (${held.length} bytes) |
| training | ${STEPS} steps of ${BATCH} random windows of ${DIMS.ctx} bytes (a fraction ${REPEAT} of them a ${DIMS.ctx / 2}-byte span followed by the same span again — of the training text, or with probability ${RANDOM} of random lowercase letters — so that in-context copying pays off within this budget); AdamW (betas 0.9, 0.95, weight decay 0.1), gradient clipping at 1.0, linear warmup ${trainer.options.warmup} steps, cosine from ${LR} to ${LR / 10}; seed ${SEED} |
| time | ${seconds.toFixed(0)} s in Node ${process.version} (this package's WebAssembly SIMD128 build, 1 thread) |
| held-out loss | **${finalHeld.toFixed(3)} nats/byte** (${(finalHeld / Math.LN2).toFixed(3)} bits/byte) |
| unigram baseline | ${unigram.toFixed(3)} nats/byte (byte frequencies of the training text, on the held-out text) |
| final training loss | ${(+curve.at(-1)[1]).toFixed(3)} nats/byte |

![loss curve](loss_curve.svg) (also [loss_curve.csv](loss_curve.csv))

## Circuits, measured

Previous-token score: mean attention from position t to t − 1. Induction score:
on random lowercase letters repeated twice, mean attention from each token of
the second copy to the token after its earlier occurrence.

| | best head | score |
|---|---|---|
| previous-token (held-out text) | layer ${bp.layer}, head ${bp.head} | ${bp.score.toFixed(2)} |
| previous-token (random letters) | layer ${bp.layer}, head ${bp.head} | ${prevRandom.get(bp.layer, bp.head).toFixed(2)} |
| induction (random letters, repeated) | layer ${bi.layer}, head ${bi.head} | ${bi.score.toFixed(2)} |
| next-byte loss, first copy → second copy | | ${induction.lossFirst.toFixed(2)} → ${induction.lossSecond.toFixed(2)} nats |

Every head (rows: layers, columns: heads):

previous-token, held-out text:
\`\`\`
${fmt(prevHeld)}
\`\`\`
previous-token, random letters:
\`\`\`
${fmt(prevRandom)}
\`\`\`
induction, random letters repeated:
\`\`\`
${fmt(induction.scores)}
\`\`\`

tests/js/default_model.test.js measures these again on the committed files
(with \`heldout_sample.txt\`, the first 16 KB of the held-out split).

## Reproduce

\`\`\`sh
npm run train-default        # installs bible-kjv with apt-get when run as root
\`\`\`
`);
console.log(`wrote ${out} (${seconds.toFixed(0)} s): held-out ${finalHeld.toFixed(3)} vs unigram ${unigram.toFixed(3)} nats/byte`);
trainer.dispose();
model.dispose();
