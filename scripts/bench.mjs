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
//   3. GPT-2 small prefill: HookedModel.fromPretrained + forward on [1, T]
//      token ids against onnxruntime-web's session.run on the same model
//      (random weights, GPT-2 small's shape) exported from PyTorch by
//      scripts/make_gpt2_bench_model.py; load times, RSS, logits compared.
//      Runs first, in the fresh process, so its RSS deltas are clean.
// Medians and minima after warmup; the tables go to stdout and, overwritten
// each run, to bench/RESULTS.md. Progress goes to stderr.
//
//   node scripts/bench.mjs [--sections=1,2,3]
// A run of only some sections prints its tables and leaves bench/RESULTS.md.
//
// Needs: `npm install` (devDependency onnxruntime-web) and Debian's
// python3-torch + python3-onnx under /usr/bin/python3 (installed with apt-get
// when running as root). A missing piece skips only its comparison.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { buildWasm } from './build.mjs';
import { have, root } from './lib.mjs';

const log = (...a) => console.error(...a);

// ------------------------------------------------------------ settings
const M = 128, K = 768, N = 3072; // Linear: [M, K] · [K, N] + bias
const LINEAR_WARMUP = 10, LINEAR_REPS = 150;
const MLP_BLOCKS = 4; // Sequential(Linear(768, 3072), GELU(), Linear(3072, 768)) each
const MLP_WARMUP = 3, MLP_ROUNDS = 60;
const TINY_WIDTH = 8, TINY_BATCH = 200, TINY_ROUNDS = 40; // the same tree with no compute to speak of
// GPT-2 small prefill: sequence lengths and [warmup, timed] runs of each
// engine per length (fewer for long inputs, to bound the time). The last
// length is optional: it runs only if section 3 is projected to stay within
// GPT2_BUDGET_S (model generation and loading not counted).
const GPT2_TS = [1, 32, 128, 512];
const GPT2_RUNS = { 1: [3, 20], 32: [2, 12], 128: [1, 6], 512: [1, 3] };
const GPT2_OPTIONAL_T = 512;
const GPT2_BUDGET_S = 150;
const GPT2_SEED = 4242;
const PYTHON = '/usr/bin/python3';
const cacheDir = join(process.env.XDG_CACHE_HOME || join(os.homedir(), '.cache'), 'unseal-wasm');
const gpt2Dir = join(cacheDir, 'gpt2-small-bench');
const GPT2_SCRIPT = 'scripts/make_gpt2_bench_model.py';
const GPT2_REFERENCE = 'tests/golden/gpt2_reference.py';

const SECTIONS = (() => {
  const a = process.argv.slice(2).find((x) => x.startsWith('--sections='));
  const s = new Set((a ? a.slice('--sections='.length) : '1,2,3').split(',').map(Number));
  if (![...s].every((n) => [1, 2, 3].includes(n))) {
    console.error('usage: node scripts/bench.mjs [--sections=1,2,3]');
    process.exit(2);
  }
  return s;
})();

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

/** Deterministic token ids in [0, vocab) (the same LCG). */
function randomIds(n, vocab, seed) {
  let s = seed >>> 0;
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = Math.floor((s / 2 ** 32) * vocab);
  }
  return a;
}

// A real collection before each memory reading, so garbage (e.g. the file
// bytes a loader has already copied into wasm memory) is not counted.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');
const MiB = 2 ** 20;

/** {name: {shape, data}} of a safetensors file with F32 / I32 entries. */
function readSafetensors(path) {
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  const out = {};
  for (const [name, e] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [b, end] = e.data_offsets;
    const bytes = buf.buffer.slice(buf.byteOffset + 8 + n + b, buf.byteOffset + 8 + n + end);
    out[name] = { shape: e.shape, data: e.dtype === 'I32' ? new Int32Array(bytes) : new Float32Array(bytes) };
  }
  return out;
}

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

/**
 * Section 3's model: an HF folder + .onnx made by scripts/make_gpt2_bench_model.py
 * in ~/.cache/unseal-wasm/gpt2-small-bench, regenerated when missing or when
 * the script or the reference model changed (the key: the script's). Returns
 * { dir, stamp, cached, makeS } or { skip }.
 */
function gpt2Model() {
  const script = join(root, GPT2_SCRIPT);
  const reference = join(root, GPT2_REFERENCE);
  if (!existsSync(reference)) return { skip: `${GPT2_REFERENCE} is missing (the PyTorch GPT-2 the model is exported from)` };
  const key = createHash('sha256').update(readFileSync(script)).update(Buffer.from([0])).update(readFileSync(reference)).digest('hex').slice(0, 16);
  const files = ['config.json', 'model.safetensors', 'model.onnx', 'check.safetensors'];
  const current = () => {
    try {
      const stamp = JSON.parse(readFileSync(join(gpt2Dir, 'stamp.json'), 'utf8'));
      return stamp.key === key && files.every((f) => existsSync(join(gpt2Dir, f))) ? stamp : null;
    } catch {
      return null;
    }
  };
  let stamp = current();
  if (stamp) return { dir: gpt2Dir, stamp, cached: true };
  const why = ensureTorch();
  if (why) return { skip: why };
  log(`Making the GPT-2-small-shaped model (HF folder + ONNX, ~1.1 GB) in ${gpt2Dir} with ${GPT2_SCRIPT} ...`);
  const t = performance.now();
  const r = spawnSync(PYTHON, [script, '--out', gpt2Dir], { stdio: ['ignore', 2, 2] });
  if (r.status !== 0) return { skip: `${GPT2_SCRIPT} failed (exit ${r.status ?? r.signal})` };
  stamp = current();
  if (!stamp) return { skip: `${GPT2_SCRIPT} finished but left no current stamp.json in ${gpt2Dir}` };
  return { dir: gpt2Dir, stamp, cached: false, makeS: (performance.now() - t) / 1000 };
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
const ortInfo = await loadOrt();
if (ortInfo.skip) log(`SKIPPED every onnxruntime-web comparison: ${ortInfo.skip}`);
else {
  ortInfo.ort.env.wasm.numThreads = 1;
  ortInfo.ort.env.logLevel = 'error';
}

// ---- 3. GPT-2 small prefill (run first: the process is fresh, so RSS is clean)
async function benchGpt2() {
  log('[3] GPT-2 small prefill: the model ...');
  const model = gpt2Model();
  if (model.skip) return { skip: model.skip };
  const V = model.stamp.config.vocab_size;
  const res = { model, V, mem: [], rows: [], notes: [] };
  const stage = (label, ms) => {
    gc();
    gc();
    res.mem.push({ label, ms, rss: process.memoryUsage().rss, peak: process.resourceUsage().maxRSS * 1024, wasm: heap().u8.byteLength });
  };
  stage('baseline: both runtimes imported, neither model loaded', null);

  // unseal-wasm: load, then the first forward (which packs the GEMM weights).
  log('[3] loading with HookedModel.fromPretrained ...');
  let t = performance.now();
  const m = await HookedModel.fromPretrained(model.dir);
  stage('unseal-wasm `HookedModel.fromPretrained(dir)` (reads config.json + model.safetensors)', performance.now() - t);
  const firstIds = randomIds(1, V, GPT2_SEED);
  t = performance.now();
  m.forward(firstIds);
  stage('unseal-wasm first `forward` (T = 1; packs the GEMM weights once)', performance.now() - t);

  // onnxruntime-web: session, then its first run.
  let session = null;
  const ort = ortInfo.ort;
  const ortIdsOf = (ids) => new ort.Tensor('int64', BigInt64Array.from(ids, (v) => BigInt(v)), [1, ids.length]);
  const ortRun = async (x) => (await session.run({ input_ids: x })).logits;
  if (ort) {
    log('[3] creating the onnxruntime-web session ...');
    t = performance.now();
    session = await ort.InferenceSession.create(join(model.dir, 'model.onnx'), { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
    stage('onnxruntime-web `InferenceSession.create(model.onnx)` (wasm, graph optimisation "all")', performance.now() - t);
    const x = ortIdsOf(firstIds);
    t = performance.now();
    await ortRun(x);
    stage('onnxruntime-web first `session.run` (T = 1)', performance.now() - t);
  } else {
    res.ortSkip = ortInfo.skip;
  }

  // Both against PyTorch's logits from the generator (ids [1, 8]).
  const check = readSafetensors(join(model.dir, 'check.safetensors'));
  res.checkT = check.input_ids.data.length;
  res.oursVsTorch = maxAbsDiff(m.forward(check.input_ids.data).data, check.logits.data);
  if (session) res.ortVsTorch = maxAbsDiff((await ortRun(ortIdsOf(check.input_ids.data))).data, check.logits.data);

  // Prefill timings: each round runs both once, in alternating order.
  const sectionStart = performance.now();
  let prev = null;
  for (const T of GPT2_TS) {
    const [warm, reps] = GPT2_RUNS[T];
    if (T === GPT2_OPTIONAL_T && prev) {
      // Per-round time grows a little faster than T (attention is T²): 1.25x margin.
      const est = (prev.roundMs * (T / prev.T) * 1.25 * (warm + reps)) / 1000;
      const elapsed = (performance.now() - sectionStart) / 1000;
      if (elapsed + est > GPT2_BUDGET_S) {
        res.notes.push(`T = ${T} skipped: projected ${f(elapsed + est, 0)} s for the section's timings, over its ${GPT2_BUDGET_S} s budget.`);
        log(`[3] T = ${T} skipped (projected ${f(elapsed + est, 0)} s > ${GPT2_BUDGET_S} s)`);
        continue;
      }
    }
    log(`[3] T = ${T}: ${warm} warmup + ${reps} timed runs of each`);
    const ids = randomIds(T, V, GPT2_SEED + T);
    const x = session ? ortIdsOf(ids) : null;
    const cases = [{ name: 'ours', run: () => m.forward(ids), ms: [] }];
    if (session) cases.push({ name: 'ort', run: () => ortRun(x), async: true, ms: [] });
    const outs = {};
    for (let r = -warm; r < reps; r++) {
      for (let i = 0; i < cases.length; i++) {
        const c = cases[(i + r + warm) % cases.length];
        const s = performance.now();
        const y = c.async ? await c.run() : c.run();
        const dt = performance.now() - s;
        if (r >= 0) c.ms.push(dt);
        if (r === -warm) outs[c.name] = y.data;
      }
    }
    const row = { T, warm, reps, maxLogit: maxAbs(outs.ours) };
    for (const c of cases) row[c.name] = { med: median(c.ms), min: min(c.ms) };
    if (outs.ort) {
      if (outs.ort.length !== outs.ours.length) throw new Error(`GPT-2 T = ${T}: ORT gave ${outs.ort.length} logits, we gave ${outs.ours.length}`);
      row.diff = maxAbsDiff(outs.ours, outs.ort);
    }
    res.rows.push(row);
    prev = { T, roundMs: row.ours.med + (row.ort?.med ?? 0) };
  }
  res.timingS = (performance.now() - sectionStart) / 1000;
  m.dispose();
  await session?.release();
  return res;
}

// ---- 1. Linear --------------------------------------------------------------
async function benchLinear() {
  log(`[1] Linear [${M}x${K}]·[${K}x${N}] + bias`);
  nn.manualSeed(0);
  const linear = nn.Linear(K, N);
  const lm = new HookedModel(linear);
  const x = randomF32(M * K, 1234);

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
  let session = null, ortTensor = null, yOrt = null, ortSkip = ortInfo.skip, createMs, onnx;
  if (ortInfo.ort) {
    onnx = onnxFor(lm.saveStateDict());
    if (onnx.skip) ortSkip = onnx.skip;
    else {
      const { ort } = ortInfo;
      t = performance.now();
      session = await ort.InferenceSession.create(onnx.path, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
      createMs = performance.now() - t;
      ortTensor = new ort.Tensor('float32', x, [M, K]);
      yOrt = (await session.run({ x: ortTensor })).y.data;
    }
  }
  if (ortSkip && !ortInfo.skip) log(`SKIPPED the Linear's onnxruntime-web comparison: ${ortSkip}`);

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
  await session?.release();
  return { lin, firstForward, yC, yOurs, yOrt, ortSkip, createMs, onnx };
}

// ---- 2. Hook overhead -------------------------------------------------------
function benchHooks() {
  log(`[2] hook overhead: ${MLP_BLOCKS} x Sequential(Linear(768, 3072), GELU(), Linear(3072, 768)), input [${M}, 768]`);
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
  for (const c of mlpCases) {
    c.med = median(c.ms);
    c.min = min(c.ms);
    // Per round, this case against the no-hook run of the same round: immune to drift.
    c.paired = median(c.ms.map((v, i) => v / base.ms[i] - 1));
  }
  return { mlpCases, tinyCases, points, leaf, w };
}

const g2 = SECTIONS.has(3) ? await benchGpt2() : null;
if (g2?.skip) log(`SKIPPED section 3 (GPT-2 small prefill): ${g2.skip}`);
const l1 = SECTIONS.has(1) ? await benchLinear() : null;
const h2 = SECTIONS.has(2) ? benchHooks() : null;
const totalS = (performance.now() - t0) / 1000;

// ------------------------------------------------------------ report
const ortVersion = ortInfo.ort ? ortInfo.ort.env.versions?.web ?? '?' : null;
const md = [];
md.push('# unseal-wasm benchmark results', '');
md.push(`Generated by \`npm run bench\` (scripts/bench.mjs) on ${started.toISOString()}; overwritten on every run. Total run time ${totalS.toFixed(1)} s.`, '');
md.push('| machine | |', '|---|---|');
md.push(`| CPU | ${mach.cpu} |`, `| cores | ${mach.cores} |`, `| OS | ${mach.os} |`, `| Node | ${mach.node} (V8 ${mach.v8}) |`);
md.push(`| threads | 1: unseal-wasm is single-threaded; onnxruntime-web with \`ort.env.wasm.numThreads = 1\` |`);
md.push(`| GEMM kernel | \`${kernelName}\` |`);
md.push(`| onnxruntime-web | ${ortVersion ? `${ortVersion}, imported as \`onnxruntime-web\` (resolves to \`${ortInfo.from}\`)` : `skipped: ${ortInfo.skip}`} |`);
md.push('');

if (l1) {
  const { lin, firstForward, yC, yOurs, yOrt, ortSkip, createMs, onnx } = l1;
  const flop = 2 * M * K * N; // multiply-adds count 2; the bias (M·N adds) is left out
  const gf = (ms) => flop / (ms * 1e6);
  const rows = [
    ['unseal-wasm `HookedModel.forward` (copy in + GEMM + copy out to a JS Tensor)', lin.ours],
    ['unseal-wasm C forward only (`usw_model_forward`, input already in wasm memory)', lin.c],
  ];
  if (lin.ort) rows.push([`onnxruntime-web ${ortVersion} \`session.run\` (wasm, SIMD, 1 thread; incl. its copies)`, lin.ort]);
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
    md.push(`- ORT session creation (excluded from timings): ${f(createMs, 0)} ms; .onnx ${onnx.cached ? 'from' : 'written to'} the cache \`${onnx.path.replace(os.homedir(), '~')}\`.`);
  } else {
    md.push(`- onnxruntime-web comparison SKIPPED: ${ortSkip}`);
  }
  if (g2 && !g2.skip) md.push('- Section 3 ran before this one in the same process (for clean RSS readings there), so both wasm memories were already grown and ORT\'s runtime already started: the first forward and the session creation here are quicker than in a fresh process.');
  md.push('');
}

if (h2) {
  const { mlpCases, tinyCases, points, leaf, w } = h2;
  const base = mlpCases[0];
  const baseMed = base.med, baseMin = base.min;
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
}

if (g2) {
  md.push('## 3. GPT-2 small prefill: `HookedModel.fromPretrained` + `forward` vs onnxruntime-web', '');
  if (g2.skip) {
    md.push(`SKIPPED: ${g2.skip}`, '');
  } else {
    const { model, rows, mem, V } = g2;
    const st = model.stamp;
    const cfg = st.config;
    const size = (n) => `${(statSync(join(model.dir, n)).size / 1e6).toFixed(0)} MB`;
    const home = (p) => p.replace(os.homedir(), '~');
    md.push(`GPT-2 small's shape (vocab ${cfg.vocab_size}, n_positions ${cfg.n_positions}, n_embd ${cfg.n_embd}, ${cfg.n_layer} layers, ${cfg.n_head} heads; ${(st.parameters / 1e6).toFixed(1)} M parameters) with random weights (seed ${st.seed}), made by \`${GPT2_SCRIPT}\` with the PyTorch GPT-2 of \`${GPT2_REFERENCE}\` and cached in \`${home(model.dir)}\` (key ${st.key}; ${model.cached ? 'from the cache' : `generated in this run, ${f(model.makeS, 0)} s`}): an HF folder (config.json + model.safetensors, ${size('model.safetensors')} F32) for unseal-wasm and \`model.onnx\` (${size('model.onnx')}, opset ${st.onnx.opset}, torch ${st.torch}) for onnxruntime-web. Both run in this process on the same ids: [1, T] random token ids (fixed seed); \`forward\` returns the logits [1, T, ${V}] as a JS Tensor, \`session.run\` the same as an ORT Tensor (each includes copying the logits out of wasm memory). Each round runs both once, alternating which goes first; the first runs of each T are warmup, excluded.`, '');
    md.push('| T | runs (warmup + timed) | unseal-wasm median ms | unseal-wasm min ms | ORT median ms | ORT min ms | ours / ORT (medians) | ours / ORT (mins) | unseal-wasm tokens/s | ORT tokens/s | max \\|logit diff\\| ours vs ORT |', '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const r of rows) {
      const o = r.ort;
      md.push(`| ${r.T} | ${r.warm} + ${r.reps} | ${f(r.ours.med, 1)} | ${f(r.ours.min, 1)} | ${o ? f(o.med, 1) : '–'} | ${o ? f(o.min, 1) : '–'} | ${o ? f(r.ours.med / o.med) : '–'} | ${o ? f(r.ours.min / o.min) : '–'} | ${f((1000 * r.T) / r.ours.med, 1)} | ${o ? f((1000 * r.T) / o.med, 1) : '–'} | ${o ? `${r.diff.toExponential(2)}${r.diff > 1e-3 ? ' **LARGE**' : ''}` : '–'} |`);
    }
    md.push('');
    md.push('Loading and memory, in the order measured (each engine loads once; a reading follows two forced GCs, so the loaders\' freed file buffers are not counted). RSS is `process.memoryUsage().rss`; peak is `process.resourceUsage().maxRSS` so far; the last column is unseal-wasm\'s wasm linear memory.', '');
    md.push('| stage | ms | RSS MiB | RSS added MiB | peak RSS MiB | unseal-wasm memory MiB |', '|---|---:|---:|---:|---:|---:|');
    mem.forEach((s, i) => {
      md.push(`| ${s.label} | ${s.ms === null ? '' : f(s.ms, 0)} | ${f(s.rss / MiB, 0)} | ${i ? f((s.rss - mem[i - 1].rss) / MiB, 0) : ''} | ${f(s.peak / MiB, 0)} | ${f(s.wasm / MiB, 0)} |`);
    });
    md.push('');
    const weightsMiB = (4 * st.parameters) / MiB;
    const afterLoad = mem[1].wasm / MiB;
    md.push(`- The weights alone are ${f(weightsMiB, 0)} MiB as f32 (wte counted once).${afterLoad > 1.8 * weightsMiB ? ` unseal-wasm's memory after loading is about twice that: the loader copies model.safetensors into wasm memory to parse it and frees it afterwards, but wasm memory never shrinks; the packed GEMM weights made at the first forward reuse that space, so the first forward adds almost nothing.` : ''} Load times are single cold-ish samples (file reads from the page cache included) and vary between runs by a second or more.`);
    const maxLogit = Math.max(...rows.map((r) => r.maxLogit));
    md.push(`- Agreement: max |logit| over the runs ${f(maxLogit, 3)}; against PyTorch's logits for [1, ${g2.checkT}] ids (saved by the generator): unseal-wasm ${g2.oursVsTorch.toExponential(2)}${g2.ortVsTorch !== undefined ? `, onnxruntime-web ${g2.ortVsTorch.toExponential(2)}` : ''}; the generator's own check of the .onnx in onnxruntime-web: ${st.onnx.ort_vs_torch_max_abs_diff === null ? 'not run' : Number(st.onnx.ort_vs_torch_max_abs_diff).toExponential(2)}.`);
    md.push(`- The .onnx is \`torch.onnx.export\` of the reference model unchanged (no wrapper; traced at T = 5, checked at T = 8, T dynamic). Its ops: ${Object.entries(st.onnx.ops).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k} ${v}`).join(', ')}. The tied lm_head became a MatMul against a transposed copy of wte (\`${st.onnx.largest_initializers[1][0]}\` [${st.onnx.largest_initializers[1][1].join(', ')}], 154 MB) beside the Gather's \`${st.onnx.largest_initializers[0][0]}\`: the .onnx holds that matrix twice; unseal-wasm keeps wte once and packs it for the lm_head GEMM at the first forward.`);
    md.push(`- Prefill timings took ${f(g2.timingS, 0)} s${g2.notes.length ? `; ${g2.notes.join(' ')}` : ''}.`);
    if (g2.ortSkip) md.push(`- onnxruntime-web comparison SKIPPED: ${g2.ortSkip}`);
    md.push('');
  }
}

md.push('## Reproduce', '');
md.push('```sh',
  'npm install            # the devDependency onnxruntime-web',
  'apt-get install -y python3-torch python3-onnx   # for scripts/export_onnx.py and section 3 (done by the bench when root)',
  `/usr/bin/python3 ${GPT2_SCRIPT}   # section 3's model into ~/.cache/unseal-wasm/gpt2-small-bench (~1.1 GB, ~30 s); the bench runs it when missing or stale`,
  'npm run bench          # builds web/unseal.wasm if stale, then writes this file',
  'node scripts/bench.mjs --sections=3   # one section only (prints, leaves this file)',
  '```', '');
const text = md.join('\n');

console.log(text);
if (SECTIONS.size === 3) {
  mkdirSync(join(root, 'bench'), { recursive: true });
  writeFileSync(join(root, 'bench/RESULTS.md'), text);
  log(`wrote bench/RESULTS.md (${totalS.toFixed(1)} s)`);
} else {
  log(`not writing bench/RESULTS.md: only section(s) ${[...SECTIONS].join(', ')} ran (${totalS.toFixed(1)} s)`);
}
