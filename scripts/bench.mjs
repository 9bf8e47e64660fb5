#!/usr/bin/env node
// bench.mjs — `npm run bench`: a benchmark (never a test; it fails nothing).
// In one run, side by side:
//   1. Linear [128x768]·[768x3072] + bias: unseal-wasm's HookedModel.forward
//      (copy in, GEMM, copy out), its C forward alone, and onnxruntime-web
//      (wasm backend, SIMD, 1 thread) on the same Linear exported from PyTorch
//      by scripts/export_onnx.py with our weights; the outputs are compared.
//   2. What the hook mechanism costs on a GPT-2-shaped MLP: no hooks (C never
//      calls JS), one no-op hook on a leaf (C asks JS at every point, one
//      observe), and no-op hooks on every layer.
// Medians and minima after warmup; the tables go to stdout and, overwritten
// each run, to bench/RESULTS.md. Progress goes to stderr.
//
// Needs: `npm install` (devDependency onnxruntime-web) and Debian's
// python3-torch + python3-onnx under /usr/bin/python3 (installed with apt-get
// when running as root). A missing piece skips only its comparison.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { buildWasm } from './build.mjs';
import { have, root } from './lib.mjs';

const log = (...a) => console.error(...a);

// ------------------------------------------------------------ settings
const M = 128, K = 768, N = 3072; // Linear: [M, K] · [K, N] + bias
const LINEAR_WARMUP = 10, LINEAR_REPS = 150;
const MLP_BLOCKS = 4; // Sequential(Linear(768, 3072), GELU(), Linear(3072, 768)) each
const MLP_WARMUP = 3, MLP_ROUNDS = 60;
const TINY_WIDTH = 8, TINY_BATCH = 200, TINY_ROUNDS = 40; // the same tree with no compute to speak of
const PYTHON = '/usr/bin/python3';
const cacheDir = join(process.env.XDG_CACHE_HOME || join(os.homedir(), '.cache'), 'unseal-wasm');

// ------------------------------------------------------------ helpers
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
};
const min = (xs) => Math.min(...xs);
const f = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '–');
const pct = (x) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(2)} %`;

/** Deterministic uniform values in [-1, 1) (an LCG, so runs see the same input). */
function randomF32(n, seed) {
  let s = seed >>> 0;
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 31 - 1;
  }
  return a;
}

function maxAbsDiff(a, b) {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}
const maxAbs = (a) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

function machine() {
  const info = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.*)$/m.exec(info)?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown';
  const physical = /^cpu cores\s*:\s*(\d+)$/m.exec(info)?.[1];
  const logical = os.cpus().length;
  return {
    cpu: model,
    cores: physical ? `${logical} logical CPUs (\`cpu cores\`: ${physical})` : `${logical} logical CPUs`,
    node: process.version,
    v8: process.versions.v8,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
  };
}

// ------------------------------------------------------------ ONNX export
/** Makes sure torch and onnx import under /usr/bin/python3; returns null or why not. */
function ensureTorch() {
  const ok = () => existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import torch, onnx'], { stdio: 'ignore' }).status === 0;
  if (ok()) return null;
  const cmd = 'apt-get install -y python3-torch python3-onnx';
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot || !have('apt-get')) return `python3-torch / python3-onnx missing; install with: sudo apt-get update && sudo ${cmd}`;
  log(`Installing python3-torch python3-onnx (for the ONNX export) ...`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'python3-torch', 'python3-onnx'], { stdio: 'inherit', env });
  return ok() ? null : `installing python3-torch / python3-onnx failed; try: apt-get update && ${cmd}`;
}

/**
 * The .onnx of nn.Linear(K, N) with our weights, exported once and cached by
 * the hash of the weights and of the export script. Returns { path } or { skip }.
 */
function onnxFor(weightBytes) {
  const script = join(root, 'scripts/export_onnx.py');
  const hash = createHash('sha256').update(weightBytes).update(readFileSync(script)).digest('hex').slice(0, 16);
  const path = join(cacheDir, `linear_${M}x${K}x${N}_${hash}.onnx`);
  if (existsSync(path)) return { path, cached: true };
  const why = ensureTorch();
  if (why) return { skip: why };
  mkdirSync(cacheDir, { recursive: true });
  const weights = join(cacheDir, `linear_${hash}.safetensors`);
  writeFileSync(weights, weightBytes);
  log(`Exporting nn.Linear(${K}, ${N}) from PyTorch to ONNX ...`);
  const r = spawnSync(PYTHON, [script, '--weights', weights, '--out', path, '--rows', String(M), '--in', String(K), '--out-features', String(N)], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  rmSync(weights, { force: true });
  if (r.status !== 0) return { skip: `scripts/export_onnx.py failed (exit ${r.status ?? r.signal})` };
  log(r.stdout.trim());
  return { path, cached: false };
}

async function loadOrt() {
  try {
    const ort = await import('onnxruntime-web');
    return { ort, from: import.meta.resolve('onnxruntime-web').replace(`file://${root}/`, '') };
  } catch (e) {
    return { skip: `onnxruntime-web cannot be imported (${e.code ?? e.message}); run \`npm install\` for the devDependency` };
  }
}

// ------------------------------------------------------------ main
buildWasm(); // rebuilds web/unseal.wasm only if missing or stale
const { nn, HookedModel, Hook, kernelName } = await import('../web/index.js');
// Internal, benchmark only: the raw exports, to time the C forward without
// the JS copies around it. Not part of the package's API.
const { C, DTYPE_F32, ErrorSlot, TENSOR_BYTES, heap, malloc, writeTensorDesc } = await import('../web/wasm.js');

const mach = machine();
const started = new Date();
const t0 = performance.now();

// ---- 1. Linear --------------------------------------------------------------
log(`[1/2] Linear [${M}x${K}]·[${K}x${N}] + bias`);
nn.manualSeed(0);
const linear = nn.Linear(K, N);
const lm = new HookedModel(linear);
const x = randomF32(M * K, 1234);
const flop = 2 * M * K * N; // multiply-adds count 2; the bias (M·N adds) is left out

let t = performance.now();
const yOurs = lm.forward(x, { shape: [M, K] }).data;
const firstForward = performance.now() - t; // includes packing the weights once

// The C forward alone: a second us_model over the same Linear (sharing its
// packed weights), input placed in wasm memory once, output left there.
const err = new ErrorSlot();
const rawModel = C.usw_model_new(linear._handle, err.ptr);
err.check(rawModel ? 0 : 2, 'bench: ');
const inPtr = malloc(x.byteLength, 'bench input');
const descs = malloc(2 * TENSOR_BYTES, 'bench descriptors');
heap().f32.set(x, inPtr >> 2);
writeTensorDesc(descs, DTYPE_F32, [M, K], inPtr);
const cForward = () => err.check(C.usw_model_forward(rawModel, descs, descs + TENSOR_BYTES, 0, err.ptr), 'bench: ');
cForward();
const outPtr = heap().i32[(descs + TENSOR_BYTES + 72) >> 2] >>> 0; // us_tensor.data
const yC = heap().f32.slice(outPtr >> 2, (outPtr >> 2) + M * N);

// onnxruntime-web on the same Linear, same weights.
let ortInfo = await loadOrt();
let session = null, ortTensor = null, yOrt = null;
if (ortInfo.ort) {
  const onnx = onnxFor(lm.saveStateDict());
  if (onnx.skip) ortInfo = { skip: onnx.skip };
  else {
    const { ort } = ortInfo;
    ort.env.wasm.numThreads = 1;
    ort.env.logLevel = 'error';
    t = performance.now();
    session = await ort.InferenceSession.create(onnx.path, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
    ortInfo.createMs = performance.now() - t;
    ortInfo.onnx = onnx;
    ortTensor = new ort.Tensor('float32', x, [M, K]);
    yOrt = (await session.run({ x: ortTensor })).y.data;
  }
}
if (ortInfo.skip) log(`SKIPPED the onnxruntime-web comparison: ${ortInfo.skip}`);

// Warmup, then rounds that run every contender once, in rotating order, so
// slow drift of the machine hits all of them alike.
const linCases = [
  { name: 'ours', run: () => lm.forward(x, { shape: [M, K] }), ms: [] },
  { name: 'c', run: cForward, ms: [] },
];
if (session) linCases.push({ name: 'ort', run: () => session.run({ x: ortTensor }), async: true, ms: [] });
for (let r = -LINEAR_WARMUP; r < LINEAR_REPS; r++) {
  for (let i = 0; i < linCases.length; i++) {
    const c = linCases[(i + r + LINEAR_WARMUP) % linCases.length];
    const s = performance.now();
    if (c.async) await c.run();
    else c.run();
    if (r >= 0) c.ms.push(performance.now() - s);
  }
}
const lin = Object.fromEntries(linCases.map((c) => [c.name, { med: median(c.ms), min: min(c.ms), n: c.ms.length }]));
C.usw_model_free(rawModel);
C.usw_free(descs);
C.usw_free(inPtr);
err.free();
lm.dispose();

// ---- 2. Hook overhead -------------------------------------------------------
log(`[2/2] hook overhead: ${MLP_BLOCKS} x Sequential(Linear(768, 3072), GELU(), Linear(3072, 768)), input [${M}, 768]`);
nn.manualSeed(1);
const mlp = new HookedModel(nn.Sequential(...Array.from({ length: MLP_BLOCKS }, () => nn.Sequential(nn.Linear(768, 3072), nn.GELU(), nn.Linear(3072, 768)))));
const xm = randomF32(M * 768, 99);
const noop = () => {};
const points = [...mlp.layers.keys()];
const leaf = '0->0';
const oneHook = [new Hook(leaf, noop, 'noop')];
const allHooks = points.map((p) => new Hook(p, noop, `noop_${p}`));
const mlpCases = [
  { label: 'forward(x): no hooks, C never calls JS', calls: '0', hooks: undefined, ms: [] },
  { label: 'forward(x) again (A/A: the noise floor)', calls: '0', hooks: undefined, ms: [] },
  { label: `one no-op Hook on leaf '${leaf}'`, calls: `${points.length} asks + 1 observe`, hooks: oneHook, ms: [] },
  { label: `no-op Hooks on all ${points.length} layers`, calls: `${points.length} asks + ${points.length} observes`, hooks: allHooks, ms: [] },
];
for (let r = -MLP_WARMUP; r < MLP_ROUNDS; r++) {
  for (let i = 0; i < mlpCases.length; i++) {
    const c = mlpCases[(i + r + MLP_WARMUP) % mlpCases.length];
    const s = performance.now();
    mlp.forward(xm, { shape: [M, 768], hooks: c.hooks });
    if (r >= 0) c.ms.push(performance.now() - s);
  }
}
mlp.dispose();

// The mechanism alone: the same 16-point tree with 8-wide Linears and a
// [1, 8] input, so nearly all the time is the JS/C boundary and the hooks.
// Timed in batches of TINY_BATCH forwards; µs per forward from the median batch.
nn.manualSeed(2);
const w = TINY_WIDTH;
const tiny = new HookedModel(nn.Sequential(...Array.from({ length: MLP_BLOCKS }, () => nn.Sequential(nn.Linear(w, w), nn.GELU(), nn.Linear(w, w)))));
const xt = randomF32(w, 7);
const tinyAll = [...tiny.layers.keys()].map((p) => new Hook(p, noop, `noop_${p}`));
const tinyCases = [
  { label: 'no hooks', hooks: undefined, us: [] },
  { label: `one no-op Hook on '${leaf}'`, hooks: [new Hook(leaf, noop, 'noop')], us: [] },
  { label: `no-op Hooks on all ${tinyAll.length} layers`, hooks: tinyAll, us: [] },
];
for (let r = -3; r < TINY_ROUNDS; r++) {
  for (let i = 0; i < tinyCases.length; i++) {
    const c = tinyCases[(i + r + 3) % tinyCases.length];
    const s = performance.now();
    for (let b = 0; b < TINY_BATCH; b++) tiny.forward(xt, { shape: [1, w], hooks: c.hooks });
    if (r >= 0) c.us.push(((performance.now() - s) * 1000) / TINY_BATCH);
  }
}
tiny.dispose();
for (const c of tinyCases) c.med = median(c.us);

const base = mlpCases[0];
const baseMed = median(base.ms), baseMin = min(base.ms);
for (const c of mlpCases) {
  c.med = median(c.ms);
  c.min = min(c.ms);
  // Per round, this case against the no-hook run of the same round: immune to drift.
  c.paired = median(c.ms.map((v, i) => v / base.ms[i] - 1));
}

const totalS = (performance.now() - t0) / 1000;

// ------------------------------------------------------------ report
const ortVersion = ortInfo.ort ? ortInfo.ort.env.versions?.web ?? '?' : null;
const gf = (ms) => flop / (ms * 1e6);
const rows = [
  ['unseal-wasm `HookedModel.forward` (copy in + GEMM + copy out to a JS Tensor)', lin.ours],
  ['unseal-wasm C forward only (`usw_model_forward`, input already in wasm memory)', lin.c],
];
if (lin.ort) rows.push([`onnxruntime-web ${ortVersion} \`session.run\` (wasm, SIMD, 1 thread; incl. its copies)`, lin.ort]);
const md = [];
md.push('# unseal-wasm benchmark results', '');
md.push(`Generated by \`npm run bench\` (scripts/bench.mjs) on ${started.toISOString()}; overwritten on every run. Total run time ${totalS.toFixed(1)} s.`, '');
md.push('| machine | |', '|---|---|');
md.push(`| CPU | ${mach.cpu} |`, `| cores | ${mach.cores} |`, `| OS | ${mach.os} |`, `| Node | ${mach.node} (V8 ${mach.v8}) |`);
md.push(`| threads | 1: unseal-wasm is single-threaded; onnxruntime-web with \`ort.env.wasm.numThreads = 1\` |`);
md.push(`| GEMM kernel | \`${kernelName}\` |`);
md.push(`| onnxruntime-web | ${ortVersion ? `${ortVersion}, imported as \`onnxruntime-web\` (resolves to \`${ortInfo.from}\`)` : `skipped: ${ortInfo.skip}`} |`);
md.push('');
md.push(`## 1. Linear [${M}×${K}]·[${K}×${N}] + bias (${(flop / 1e9).toFixed(3)} GFLOP = 2·M·K·N per forward)`, '');
md.push(`${LINEAR_WARMUP} warmup + ${LINEAR_REPS} timed runs of each, interleaved. GFLOP/s from the median (best from the min).`, '');
md.push('| what | median ms | min ms | GFLOP/s | best GFLOP/s | time / ORT | GFLOP/s / ORT |', '|---|---:|---:|---:|---:|---:|---:|');
for (const [label, s] of rows) {
  const vs = lin.ort ? [f(s.med / lin.ort.med), f(lin.ort.med / s.med)] : ['–', '–'];
  md.push(`| ${label} | ${f(s.med)} | ${f(s.min)} | ${f(gf(s.med), 1)} | ${f(gf(s.min), 1)} | ${vs[0]} | ${vs[1]} |`);
}
md.push(`| JS side of our forward (difference of medians: copies, allocation, checks) | ${f(lin.ours.med - lin.c.med)} | | | | | |`);
md.push('');
md.push(`- First forward (packs the weights once): ${f(firstForward)} ms.`);
md.push(`- C forward vs public forward output: max abs diff ${maxAbsDiff(yC, yOurs).toExponential(2)}.`);
if (yOrt) {
  const d = maxAbsDiff(yOurs, yOrt);
  md.push(`- Same weights in both (ours written with \`saveStateDict\`, read by scripts/export_onnx.py): max abs diff ours vs ORT ${d.toExponential(2)} (max |y| ${f(maxAbs(yOurs), 3)})${d > 1e-3 ? ' — **LARGER THAN EXPECTED**' : ''}.`);
  md.push(`- ORT session creation (excluded from timings): ${f(ortInfo.createMs, 0)} ms; .onnx ${ortInfo.onnx.cached ? 'from' : 'written to'} the cache \`${ortInfo.onnx.path.replace(os.homedir(), '~')}\`.`);
} else {
  md.push(`- onnxruntime-web comparison SKIPPED: ${ortInfo.skip}`);
}
md.push('');
md.push(`## 2. Cost of the hook mechanism: ${MLP_BLOCKS} × Sequential(Linear(768, 3072), GELU(), Linear(3072, 768)), input [${M}, 768]`, '');
md.push(`${MLP_WARMUP} warmup + ${MLP_ROUNDS} rounds; each round runs every case once, in rotating order. Overhead is against the no-hook case; "paired" is the median over rounds of (case / no-hook of the same round − 1). Goal: under 2 % for one hook.`, '');
md.push('| case | calls into JS per forward | median ms | min ms | overhead (medians) | overhead (mins) | overhead (paired) |', '|---|---|---:|---:|---:|---:|---:|');
for (const c of mlpCases) {
  const first = c === base;
  md.push(`| ${c.label} | ${c.calls} | ${f(c.med)} | ${f(c.min)} | ${first ? '—' : pct(c.med / baseMed - 1)} | ${first ? '—' : pct(c.min / baseMin - 1)} | ${first ? '—' : pct(c.paired)} |`);
}
md.push('');
md.push(`The mechanism alone, without the arithmetic: the same ${points.length}-point tree with Linear(${w}, ${w}) layers and a [1, ${w}] input; ${TINY_ROUNDS} rounds of ${TINY_BATCH} forwards per case. "Added" is the cost over no hooks, also as a share of the full-size no-hook forward above (${f(baseMed)} ms).`, '');
md.push('| case (tiny tree) | µs per forward | added µs | added, as % of the full-size forward |', '|---|---:|---:|---:|');
for (const c of tinyCases) {
  const add = c.med - tinyCases[0].med;
  const first = c === tinyCases[0];
  md.push(`| ${c.label} | ${f(c.med, 1)} | ${first ? '—' : f(add, 1)} | ${first ? '—' : `${((100 * add) / (baseMed * 1000)).toFixed(3)} %`} |`);
}
md.push('');
md.push('## Reproduce', '');
md.push('```sh', 'npm install            # the devDependency onnxruntime-web', 'apt-get install -y python3-torch python3-onnx   # for scripts/export_onnx.py (done by the bench when root)', 'npm run bench          # builds web/unseal.wasm if stale, then writes this file', '```', '');
const text = md.join('\n');

mkdirSync(join(root, 'bench'), { recursive: true });
writeFileSync(join(root, 'bench/RESULTS.md'), text);
console.log(text);
log(`wrote bench/RESULTS.md (${totalS.toFixed(1)} s)`);
