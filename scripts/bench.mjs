#!/usr/bin/env node
// bench.mjs — `npm run bench`: a benchmark (never a test; it fails nothing).
// unseal-wasm against onnxruntime-web (wasm backend, SIMD, same model, same
// thread count) where both can run the same thing, in one run:
//   1. Linear [128x768]·[768x3072] + bias: our public forward, our C forward
//      alone, and onnxruntime-web on the same Linear with our weights.
//   2. What the hook mechanism costs on a GPT-2-shaped MLP (module tree).
//   3. GPT-2 small prefill at T = 1, 32, 128, 512: fromPretrained + forward
//      against session.run on the same model exported from PyTorch; load
//      times and RSS. Runs first, in the fresh process, so RSS deltas are clean.
//   4. Attention-shaped batched matmuls (12 x [128x64]·[64x128] and the
//      pattern·V product): the library's attention kernels and GEMM, built
//      into a small bench module (scripts/bench_kernels.c), against
//      onnxruntime-web's batched MatMul.
//   5. One-token decode with the KV cache (generate), f32 and f16 weights,
//      against the bound set by the weight bytes read per token over the
//      memory bandwidth measured in this run.
//   6. Hooks on a GPT-2 small forward: none, 100 no-op JS hooks, runWithCache
//      caching every activation.
//   7. Loading from disk to the first forward, in fresh child processes (time,
//      peak RSS against the weights' bytes), ours and onnxruntime-web's.
//   8. Two threads: sections 1 and 3 (and 5) again in child processes, one
//      per engine: ours with `await setThreads(2)` (when the package has it),
//      ORT with numThreads = 2 (fixed before its first session).
//   9. Size of every web/*.wasm build.
// Medians and minima after warmup. The tables go to stdout and, on a full
// run, to bench/RESULTS.md (a targets table first) and README.md (the
// targets table between <!-- bench:begin --> and <!-- bench:end -->).
// Progress goes to stderr.
//
//   node scripts/bench.mjs [--sections=1,2,...,9]
// A run of only some sections prints its tables and writes nothing.
// Internal: --child=threads --engine=ours|ort [--threads=2], --child=load-ours,
// --child=load-ort: a section's fresh process, which prints one JSON line.
//
// Needs: `npm install` (devDependency onnxruntime-web) and Debian's
// python3-torch + python3-onnx under /usr/bin/python3 (installed with apt-get
// when running as root). A missing piece skips only its comparison, saying why.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import { gzipSync } from 'node:zlib';
import { buildWasm } from './build.mjs';
import { attention as benchAttentionKernels, bandwidth, buildKernelBench, gemv, loadKernelBench } from './bench_kernels.mjs';
import { render, updateReadme } from './bench_report.mjs';
import { have, root } from './lib.mjs';

const log = (...a) => console.error(...a);
const SELF = fileURLToPath(import.meta.url);

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
// Section 4: GPT-2 small's attention at T = S = 128.
const ATT = { H: 12, T: 128, S: 128, hs: 64 };
const ORT_MATMUL_WARMUP = 20, ORT_MATMUL_REPS = 200;
// Section 5: decode after a DECODE_PROMPT-token prompt, DECODE_STEPS timed
// steps per generate call, DECODE_REPEATS calls per dtype (interleaved).
const DECODE_PROMPT = 32, DECODE_STEPS = 64, DECODE_REPEATS = 3;
// Section 6: hooks on a GPT-2 small forward.
const HOOKS_T = 128, HOOKS_N = 100, HOOKS_WARMUP = 1, HOOKS_ROUNDS = 10;
// Section 7: fresh processes loading the model.
const LOAD_RUNS_OURS = 3, LOAD_RUNS_ORT = 1;
// Section 8: the 2-thread child.
const THREADS = 2;
const THREADS_TS = [1, 32, 128];
const THREADS_RUNS = { 1: [2, 12], 32: [1, 8], 128: [2, 9] };
const THREADS_LINEAR_REPS = 80;
const PYTHON = '/usr/bin/python3';
const cacheDir = join(process.env.XDG_CACHE_HOME || join(os.homedir(), '.cache'), 'unseal-wasm');
const gpt2Dir = join(cacheDir, 'gpt2-small-bench');
const GPT2_SCRIPT = 'scripts/make_gpt2_bench_model.py';
const GPT2_REFERENCE = 'tests/golden/gpt2_reference.py';
const ALL_SECTIONS = [1, 2, 3, 4, 5, 6, 7, 8, 9];

const argv = process.argv.slice(2);
const arg = (name) => argv.find((x) => x.startsWith(`--${name}=`))?.slice(name.length + 3);
const CHILD = arg('child') ?? null;
const SECTIONS = (() => {
  const a = arg('sections');
  const s = new Set((a ?? ALL_SECTIONS.join(',')).split(',').map(Number));
  if (![...s].every((n) => ALL_SECTIONS.includes(n)) || (CHILD && !['threads', 'load-ours', 'load-ort'].includes(CHILD)) || (CHILD === 'threads' && !['ours', 'ort'].includes(arg('engine')))) {
    console.error(`usage: node scripts/bench.mjs [--sections=${ALL_SECTIONS.join(',')}]`);
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
const stats = (ms) => ({ med: median(ms), min: min(ms), n: ms.length });

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
const peakRss = () => process.resourceUsage().maxRSS * 1024;

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

/** Bytes of tensor data in a safetensors file (the sum of its entries' spans), from its header alone. */
function safetensorsDataBytes(path) {
  const fd = openSync(path, 'r');
  try {
    const len = Buffer.alloc(8);
    readSync(fd, len, 0, 8, 0);
    const n = Number(len.readBigUInt64LE(0));
    const head = Buffer.alloc(n);
    readSync(fd, head, 0, n, 8);
    let bytes = 0;
    for (const [name, e] of Object.entries(JSON.parse(head.toString('utf8')))) if (name !== '__metadata__') bytes += e.data_offsets[1] - e.data_offsets[0];
    return bytes;
  } finally {
    closeSync(fd);
  }
}

function machine() {
  const info = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.*)$/m.exec(info)?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown';
  const physical = /^cpu cores\s*:\s*(\d+)$/m.exec(info)?.[1];
  const cache = /^cache size\s*:\s*(.*)$/m.exec(info)?.[1]?.trim();
  const logical = os.cpus().length;
  return {
    cpu: model,
    cores: physical ? `${logical} logical CPUs (\`cpu cores\`: ${physical})` : `${logical} logical CPUs`,
    cache,
    memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    node: process.version,
    v8: process.versions.v8,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
  };
}

/** Runs this script as a child (`--child=name`), returns its JSON result or { skip }. */
function runChild(name, extra = []) {
  const r = spawnSync(process.execPath, [SELF, `--child=${name}`, ...extra], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 * 2 ** 20 });
  const line = (r.stdout || '').split('\n').reverse().find((l) => l.startsWith('BENCH_CHILD_JSON '));
  if (r.status !== 0 || !line) return { skip: `the child process \`node scripts/bench.mjs --child=${name}\` failed (exit ${r.status ?? r.signal})` };
  return JSON.parse(line.slice('BENCH_CHILD_JSON '.length));
}
const childReply = (obj) => console.log(`BENCH_CHILD_JSON ${JSON.stringify(obj)}`);

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

/** The .onnx of one batched MatMul a [H, Mm, Kk] · b [H, Kk, Nn] (both inputs), cached. */
function onnxMatmul(a, b) {
  const script = join(root, 'scripts/export_onnx_matmul.py');
  const hash = createHash('sha256').update(readFileSync(script)).digest('hex').slice(0, 12);
  const path = join(cacheDir, `matmul_${a.join('x')}_${b.join('x')}_${hash}.onnx`);
  if (existsSync(path)) return { path };
  const why = ensureTorch();
  if (why) return { skip: why };
  mkdirSync(cacheDir, { recursive: true });
  const r = spawnSync(PYTHON, [script, '--out', path, '--a', a.join(','), '--b', b.join(',')], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (r.status !== 0) return { skip: `scripts/export_onnx_matmul.py failed (exit ${r.status ?? r.signal})` };
  return { path };
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
  if (CHILD) return { skip: `the model in ${gpt2Dir} is missing or stale (the parent bench makes it)` };
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
let gpt2ModelCached = null;
const gpt2 = () => (gpt2ModelCached ??= gpt2Model());

async function loadOrt(threads) {
  try {
    const ort = await import('onnxruntime-web');
    // Must be set before the first session: the runtime starts its threads once.
    ort.env.wasm.numThreads = threads;
    ort.env.logLevel = 'error';
    return { ort, threads, version: ort.env.versions?.web ?? '?', from: import.meta.resolve('onnxruntime-web').replace(/^file:\/\/.*?(node_modules\/)/, '$1') };
  } catch (e) {
    return { skip: `onnxruntime-web cannot be imported (${e.code ?? e.message}); run \`npm install\` for the devDependency` };
  }
}

// ------------------------------------------------------------ child: loading
// Section 7: a fresh process loads the model once and runs one forward; the
// parent collects time and memory. No other section runs in it.
if (CHILD === 'load-ours' || CHILD === 'load-ort') {
  const model = gpt2();
  if (model.skip) {
    childReply({ skip: model.skip });
    process.exit(0);
  }
  const V = model.stamp.config.vocab_size;
  const ids = randomIds(1, V, GPT2_SEED);
  const rssAtStart = process.memoryUsage().rss;
  let t = performance.now();
  let load, first, importMs, baseline;
  if (CHILD === 'load-ours') {
    const { HookedModel } = await import('../web/index.js');
    importMs = performance.now() - t;
    baseline = process.memoryUsage().rss;
    t = performance.now();
    const m = await HookedModel.fromPretrained(model.dir);
    load = { ms: performance.now() - t, rss: process.memoryUsage().rss, peak: peakRss() };
    t = performance.now();
    m.forward(ids);
    first = { ms: performance.now() - t, rss: process.memoryUsage().rss, peak: peakRss() };
  } else {
    const o = await loadOrt(1);
    if (o.skip) {
      childReply({ skip: o.skip });
      process.exit(0);
    }
    importMs = performance.now() - t;
    baseline = process.memoryUsage().rss;
    t = performance.now();
    const session = await o.ort.InferenceSession.create(join(model.dir, 'model.onnx'), { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
    load = { ms: performance.now() - t, rss: process.memoryUsage().rss, peak: peakRss() };
    t = performance.now();
    await session.run({ input_ids: new o.ort.Tensor('int64', BigInt64Array.from(ids, (v) => BigInt(v)), [1, 1]) });
    first = { ms: performance.now() - t, rss: process.memoryUsage().rss, peak: peakRss() };
  }
  childReply({ importMs, rssAtStart, baseline, load, first });
  process.exit(0);
}

// ------------------------------------------------------------ main
if (!CHILD) buildWasm(); // rebuilds web/unseal.wasm only if missing or stale
const pkg = await import('../web/index.js');
const { nn, HookedModel, Hook, kernelName } = pkg;
// Internal, benchmark only: the raw exports, to time the C forward without
// the JS copies around it. Not part of the package's API.
const { C, DTYPE_F32, ErrorSlot, TENSOR_BYTES, heap, malloc, pool, writeTensorDesc } = await import('../web/wasm.js');

const threadsWanted = CHILD === 'threads' ? Number(arg('threads') ?? THREADS) : 1;
// Which engines this process times: both (the parent), or one (a 2-thread
// child: each engine alone, so neither's spinning worker threads steal the
// other's cores).
const ENGINES = new Set(CHILD === 'threads' ? [arg('engine')] : ['ours', 'ort']);
const ortInfo = ENGINES.has('ort') ? await loadOrt(threadsWanted) : { skip: 'not timed in this process' };
if (ortInfo.skip && ENGINES.has('ort')) log(`SKIPPED every onnxruntime-web comparison: ${ortInfo.skip}`);

/** Our thread count: setThreads/getThreads when this build has them (another engineer's work in progress). */
async function ourThreads(n) {
  if (typeof pkg.setThreads !== 'function') return { threads: 1, note: 'the package has no setThreads() yet: single-threaded' };
  try {
    if (n !== undefined) await pkg.setThreads(n);
    const got = typeof pkg.getThreads === 'function' ? pkg.getThreads() : n;
    return { threads: got, note: n !== undefined ? `\`await setThreads(${n})\`, then getThreads() = ${got}` : `getThreads() = ${got}` };
  } catch (e) {
    return { threads: typeof pkg.getThreads === 'function' ? pkg.getThreads() : 1, note: `setThreads(${n}) failed: ${e.message}` };
  }
}

// The GPT-2 small model of sections 3, 5, 6 (and 8's child), loaded once.
let sharedGpt2 = null;
async function sharedModel() {
  if (sharedGpt2) return sharedGpt2;
  const model = gpt2();
  if (model.skip) return { skip: model.skip };
  sharedGpt2 = { model, m: await HookedModel.fromPretrained(model.dir), V: model.stamp.config.vocab_size };
  return sharedGpt2;
}

// ---- 3. GPT-2 small prefill (run first: the process is fresh, so RSS is clean)
async function benchGpt2({ ts = GPT2_TS, runs = GPT2_RUNS, optionalT = GPT2_OPTIONAL_T } = {}) {
  log('[3] GPT-2 small prefill: the model ...');
  const model = gpt2();
  if (model.skip) return { skip: model.skip };
  const V = model.stamp.config.vocab_size;
  const res = { model, V, mem: [], rows: [], notes: [] };
  const stage = (label, ms) => {
    gc();
    gc();
    res.mem.push({ label, ms, rss: process.memoryUsage().rss, peak: peakRss(), wasm: heap().u8.byteLength });
  };
  stage('baseline: both runtimes imported, neither model loaded', null);

  // unseal-wasm: load (streamed straight into the GEMM packs), then the first forward.
  let t, m = null;
  const firstIds = randomIds(1, V, GPT2_SEED);
  if (ENGINES.has('ours')) {
    log('[3] loading with HookedModel.fromPretrained ...');
    t = performance.now();
    m = await HookedModel.fromPretrained(model.dir);
    stage('unseal-wasm `HookedModel.fromPretrained(dir)` (reads config.json + model.safetensors)', performance.now() - t);
    t = performance.now();
    m.forward(firstIds);
    stage('unseal-wasm first `forward` (T = 1)', performance.now() - t);
    sharedGpt2 = { model, m, V };
  }

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
  if (m) res.oursVsTorch = maxAbsDiff(m.forward(check.input_ids.data).data, check.logits.data);
  if (session) res.ortVsTorch = maxAbsDiff((await ortRun(ortIdsOf(check.input_ids.data))).data, check.logits.data);

  // Prefill timings: each round runs both once, in alternating order.
  const sectionStart = performance.now();
  let prev = null;
  for (const T of ts) {
    const [warm, reps] = runs[T];
    if (T === optionalT && prev) {
      // Per-round time grows a little faster than T (attention is T²): 1.25x margin.
      const est = (prev.roundMs * (T / prev.T) * 1.25 * (warm + reps)) / 1000;
      const elapsed = (performance.now() - sectionStart) / 1000;
      if (elapsed + est > GPT2_BUDGET_S) {
        res.notes.push(`T = ${T} skipped: projected ${est.toFixed(0)} s more for the section's timings, over its ${GPT2_BUDGET_S} s budget.`);
        log(`[3] T = ${T} skipped (projected ${(elapsed + est).toFixed(0)} s > ${GPT2_BUDGET_S} s)`);
        continue;
      }
    }
    log(`[3] T = ${T}: ${warm} warmup + ${reps} timed runs of each`);
    const ids = randomIds(T, V, GPT2_SEED + T);
    const x = session ? ortIdsOf(ids) : null;
    const cases = m ? [{ name: 'ours', run: () => m.forward(ids), ms: [] }] : [];
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
    const row = { T, warm, reps, maxLogit: maxAbs(outs.ours ?? outs.ort) };
    for (const c of cases) row[c.name] = stats(c.ms);
    if (outs.ort && outs.ours) {
      if (outs.ort.length !== outs.ours.length) throw new Error(`GPT-2 T = ${T}: ORT gave ${outs.ort.length} logits, we gave ${outs.ours.length}`);
      row.diff = maxAbsDiff(outs.ours, outs.ort);
    }
    res.rows.push(row);
    prev = { T, roundMs: (row.ours?.med ?? 0) + (row.ort?.med ?? 0) };
  }
  res.timingS = (performance.now() - sectionStart) / 1000;
  await session?.release();
  return res;
}

// ---- 1. Linear --------------------------------------------------------------
async function benchLinear({ reps = LINEAR_REPS } = {}) {
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
  if (pool !== undefined && C.usw_model_set_pool) C.usw_model_set_pool(rawModel, pool); // the package's threads, as HookedModel does
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
    onnx = CHILD ? (() => {
      // The child uses the parent's cached export (same weights: same seed).
      const hash = createHash('sha256').update(lm.saveStateDict()).update(readFileSync(join(root, 'scripts/export_onnx.py'))).digest('hex').slice(0, 16);
      const path = join(cacheDir, `linear_${M}x${K}x${N}_${hash}.onnx`);
      return existsSync(path) ? { path, cached: true } : { skip: `${path} is missing (section 1 of the parent bench writes it)` };
    })() : onnxFor(lm.saveStateDict());
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
  const linCases = ENGINES.has('ours') ? [
    { name: 'ours', run: () => lm.forward(x, { shape: [M, K] }), ms: [] },
    { name: 'c', run: cForward, ms: [] },
  ] : [];
  if (session) linCases.push({ name: 'ort', run: () => session.run({ x: ortTensor }), async: true, ms: [] });
  for (let r = -LINEAR_WARMUP; r < reps; r++) {
    for (let i = 0; i < linCases.length; i++) {
      const c = linCases[(i + r + LINEAR_WARMUP) % linCases.length];
      const s = performance.now();
      if (c.async) await c.run();
      else c.run();
      if (r >= 0) c.ms.push(performance.now() - s);
    }
  }
  const lin = Object.fromEntries(linCases.map((c) => [c.name, stats(c.ms)]));
  C.usw_model_free(rawModel);
  C.usw_free(descs);
  C.usw_free(inPtr);
  err.free();
  lm.dispose();
  await session?.release();
  return {
    lin, reps, firstForward, ortSkip, createMs, onnx,
    cVsPublic: maxAbsDiff(yC, yOurs),
    oursVsOrt: yOrt && ENGINES.has('ours') ? maxAbsDiff(yOurs, yOrt) : null,
    maxY: maxAbs(yOurs),
  };
}

// ---- 2. Hook overhead on a module tree -------------------------------------
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
    Object.assign(c, stats(c.ms));
    // Per round, this case against the no-hook run of the same round: immune to drift.
    c.paired = median(c.ms.map((v, i) => v / base.ms[i] - 1));
    delete c.hooks;
  }
  for (const c of tinyCases) delete c.hooks;
  return { mlpCases, tinyCases, points: points.length, leaf, w };
}

// ---- 4. Attention-shaped batched matmuls ------------------------------------
let kernelBench = null; // { kb } | { skip }: the bench module of scripts/bench_kernels.c, shared by 4 and 5
async function getKernelBench() {
  if (kernelBench) return kernelBench;
  const b = buildKernelBench();
  if (b.skip) return (kernelBench = { skip: b.skip });
  if (b.built) log('built build/bench/bench_kernels.wasm');
  try {
    kernelBench = { kb: await loadKernelBench(b.path) };
  } catch (e) {
    kernelBench = { skip: `loading build/bench/bench_kernels.wasm failed: ${e.message}` };
  }
  return kernelBench;
}

async function benchAttention() {
  log(`[4] attention-shaped batched matmuls: ${ATT.H} heads, T = S = ${ATT.T}, hs = ${ATT.hs}`);
  const kbInfo = await getKernelBench();
  const res = {};
  if (kbInfo.skip) res.skip = kbInfo.skip;
  else {
    res.kernels = benchAttentionKernels(kbInfo.kb, ATT);
    res.attentionKernel = kbInfo.kb.attentionKernel;
    res.gemmKernel = kbInfo.kb.gemmKernel;
  }
  // onnxruntime-web: one MatMul node over two inputs, for each product shape.
  const { H, T, S, hs } = ATT;
  res.ort = [];
  if (!ortInfo.ort) res.ortSkip = ortInfo.skip;
  else {
    for (const [key, a, b] of [['qk', [H, T, hs], [H, hs, S]], ['pv', [H, T, S], [H, S, hs]]]) {
      const o = onnxMatmul(a, b);
      if (o.skip) {
        res.ortSkip = o.skip;
        break;
      }
      const { ort } = ortInfo;
      const session = await ort.InferenceSession.create(o.path, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
      const feeds = { a: new ort.Tensor('float32', randomF32(a.reduce((p, q) => p * q), 5), a), b: new ort.Tensor('float32', randomF32(b.reduce((p, q) => p * q), 6), b) };
      const ms = [];
      for (let r = -ORT_MATMUL_WARMUP; r < ORT_MATMUL_REPS; r++) {
        const s = performance.now();
        await session.run(feeds);
        if (r >= 0) ms.push(performance.now() - s);
      }
      await session.release();
      res.ort.push({ key, a, b, flop: 2 * a[0] * a[1] * a[2] * b[2], ...stats(ms) });
    }
  }
  return res;
}

// ---- 5. Decode with the KV cache ---------------------------------------------
/**
 * Weight bytes one decode step streams: every Linear weight of every block
 * (c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj) and the tied lm_head (wte as
 * [V, C]), as packed (N rounded up to a multiple of 8 columns), at 4 bytes
 * (f32) or 2 (f16). Biases, LayerNorms, one wpe row and the KV cache are
 * counted apart (kvBytes at the median position), not in the bound.
 */
function decodeBytes(cfg, bytesPerWeight) {
  const Cc = cfg.n_embd, F = cfg.n_inner ?? 4 * Cc, L = cfg.n_layer, V = cfg.vocab_size;
  const padded = (n, k) => Math.ceil(n / 8) * 8 * k;
  const perLayer = padded(3 * Cc, Cc) + padded(Cc, Cc) + padded(F, Cc) + padded(Cc, F);
  const lmHead = padded(V, Cc);
  const small = L * (3 * Cc + Cc + F + Cc + 4 * Cc) + 2 * Cc + Cc; // biases, LN gains/shifts, ln_f, one wpe row (f32)
  return { weights: (L * perLayer + lmHead) * bytesPerWeight, linear: L * perLayer * bytesPerWeight, lmHead: lmHead * bytesPerWeight, small: 4 * small, perLayer, L, V, C: Cc, F };
}

/** Median ms per decode step of model.generate (greedy) after a prompt, from onToken timestamps. */
function decodeSteps(m, V, { prompt = DECODE_PROMPT, steps = DECODE_STEPS, seed = 77 } = {}) {
  const ids = randomIds(prompt, V, seed);
  const ms = [];
  let last = 0, prefill = 0;
  const s0 = performance.now();
  m.generate(ids, {
    maxNewTokens: steps + 1, temperature: 0,
    onToken: ({ step }) => {
      const now = performance.now();
      if (step === 0) prefill = now - s0;
      else ms.push(now - last);
      last = now;
    },
  });
  return { ms, prefill };
}

async function benchDecode({ dtypes = ['f32', 'f16'], repeats = DECODE_REPEATS, withBandwidth = true } = {}) {
  log('[5] decode with the KV cache ...');
  const shared = await sharedModel();
  if (shared.skip) return { skip: shared.skip };
  const { model, V } = shared;
  const cfg = model.stamp.config;
  const res = { prompt: DECODE_PROMPT, steps: DECODE_STEPS, repeats, runs: {}, notes: [] };
  const models = { f32: shared.m };
  if (dtypes.includes('f16')) {
    log('[5] loading the same model with dtype: \'f16\' ...');
    const t = performance.now();
    models.f16 = await HookedModel.fromPretrained(model.dir, { dtype: 'f16' });
    res.f16LoadMs = performance.now() - t;
  }
  const kbInfo = withBandwidth ? await getKernelBench() : { skip: 'not measured here' };
  const bw = [];
  if (withBandwidth) {
    if (kbInfo.skip) res.bandwidthSkip = kbInfo.skip;
    else bw.push(await bandwidth(1));
  }
  // Warmup, then interleaved repeats.
  for (const d of dtypes) decodeSteps(models[d], V, { steps: 8, seed: 1 });
  for (const d of dtypes) res.runs[d] = { ms: [], prefill: [], perRepeat: [] };
  for (let r = 0; r < repeats; r++) {
    for (const d of r % 2 ? [...dtypes].reverse() : dtypes) {
      log(`[5] ${d}: generate ${DECODE_STEPS + 1} tokens after ${DECODE_PROMPT} (repeat ${r + 1}/${repeats})`);
      const { ms, prefill } = decodeSteps(models[d], V, { seed: 100 + r });
      res.runs[d].ms.push(...ms);
      res.runs[d].prefill.push(prefill);
      res.runs[d].perRepeat.push(median(ms));
    }
  }
  if (withBandwidth && !kbInfo.skip) {
    bw.push(await bandwidth(1));
    log('[5] GEMV over the lm_head-shaped pack (f32, f16) ...');
    res.gemv = gemv(kbInfo.kb, { N: cfg.vocab_size, K: cfg.n_embd });
  }
  models.f16?.dispose();
  for (const d of dtypes) {
    const run = res.runs[d];
    Object.assign(run, stats(run.ms), { prefillMed: median(run.prefill) });
    run.bytes = decodeBytes(cfg, d === 'f16' ? 2 : 4);
    delete run.ms;
  }
  if (res.runs.f16 && res.runs.f32) res.pairedRatio = median(res.runs.f32.perRepeat.map((v, i) => v / res.runs.f16.perRepeat[i]));
  // KV cache read per step at the median position (f32 K and V of every layer).
  const midS = DECODE_PROMPT + DECODE_STEPS / 2;
  res.kvBytes = 2 * cfg.n_layer * midS * cfg.n_embd * 4;
  res.midS = midS;
  if (bw.length) {
    const passes = bw.flatMap((b) => b.perThread[0].ms.map((ms) => b.perThread[0].bytes / (ms * 1e6)));
    res.bandwidth = { streamMedian: median(passes), streamBest: Math.max(...passes), passes: passes.length, bytes: bw[0].perThread[0].bytes, runs: bw.length };
    const gemvF32 = res.gemv?.find((g) => g.dtype === 'f32')?.gbs ?? 0;
    res.bandwidth.used = Math.max(res.bandwidth.streamMedian, gemvF32);
    res.bandwidth.usedFrom = gemvF32 > res.bandwidth.streamMedian ? 'the f32 GEMV (higher than the streaming read)' : 'the streaming read';
  }
  return res;
}

// ---- 6. Hooks on a GPT-2 small forward ---------------------------------------
async function benchGpt2Hooks() {
  log(`[6] hooks on GPT-2 small, T = ${HOOKS_T}`);
  const shared = await sharedModel();
  if (shared.skip) return { skip: shared.skip };
  const { m, V } = shared;
  const ids = randomIds(HOOKS_T, V, 606);
  // Every point that fires in a forward (`transformer->h`, a ModuleList, never does).
  const firing = [...m.layers.keys()].filter((n) => m._backend.fires(n));
  const picked = Array.from({ length: Math.min(HOOKS_N, firing.length) }, (_, i) => firing[Math.floor((i * firing.length) / Math.min(HOOKS_N, firing.length))]);
  const noop = () => {};
  const hooks = picked.map((p, i) => new Hook(p, noop, `noop_${i}`));
  const kinds = {};
  for (const p of picked) {
    const k = p.replace(/->h->\d+/, '->h->L');
    kinds[k] = (kinds[k] ?? 0) + 1;
  }
  let cacheBytes = 0, cacheEntries = 0;
  const cases = [
    { key: 'none', label: 'forward(ids): no hooks', run: () => m.forward(ids), ms: [] },
    { key: 'aa', label: 'forward(ids) again (A/A: the noise floor)', run: () => m.forward(ids), ms: [] },
    { key: 'noop', label: `forward(ids, { hooks }): ${hooks.length} no-op JS hooks`, run: () => m.forward(ids, { hooks }), ms: [] },
    {
      key: 'cache', label: 'runWithCache(ids): every activation cloned into JS', ms: [],
      run: () => {
        const r = m.runWithCache(ids);
        cacheBytes = r.bytes;
        cacheEntries = r.cache.size;
      },
    },
  ];
  for (let r = -HOOKS_WARMUP; r < HOOKS_ROUNDS; r++) {
    for (let i = 0; i < cases.length; i++) {
      const c = cases[(i + r + HOOKS_WARMUP) % cases.length];
      gc(); // each case starts with a clean heap: runWithCache's garbage is not billed to the next case
      const s = performance.now();
      c.run();
      if (r >= 0) c.ms.push(performance.now() - s);
    }
  }
  const base = cases[0];
  for (const c of cases) {
    Object.assign(c, stats(c.ms));
    c.paired = median(c.ms.map((v, i) => v / base.ms[i] - 1));
  }
  for (const c of cases) {
    delete c.run;
  }
  return { T: HOOKS_T, cases, firing: firing.length, picked: picked.length, kinds, cacheBytes, cacheEntries, rounds: HOOKS_ROUNDS, warmup: HOOKS_WARMUP };
}

// ---- 7. Loading, in fresh processes -----------------------------------------
function benchLoad() {
  const model = gpt2();
  if (model.skip) return { skip: model.skip };
  const weightBytes = safetensorsDataBytes(join(model.dir, 'model.safetensors'));
  const fileBytes = statSync(join(model.dir, 'model.safetensors')).size;
  const res = { weightBytes, fileBytes, ours: [], ort: [] };
  for (let i = 0; i < LOAD_RUNS_OURS; i++) {
    log(`[7] fresh process: unseal-wasm load + first forward (${i + 1}/${LOAD_RUNS_OURS}) ...`);
    const r = runChild('load-ours');
    if (r.skip) return { skip: r.skip };
    res.ours.push(r);
  }
  if (!ortInfo.ort) res.ortSkip = ortInfo.skip;
  else {
    for (let i = 0; i < LOAD_RUNS_ORT; i++) {
      log(`[7] fresh process: onnxruntime-web session + first run (${i + 1}/${LOAD_RUNS_ORT}) ...`);
      const r = runChild('load-ort');
      if (r.skip) {
        res.ortSkip = r.skip;
        break;
      }
      res.ort.push(r);
    }
  }
  return res;
}

// ---- 8. Two threads (child processes) ----------------------------------------
// Each engine in its own child (`--child=threads --engine=ours|ort`): a thread
// pool that spins while idle would otherwise take the other engine's cores.
async function benchThreadsChild() {
  const engine = arg('engine');
  const ours = engine === 'ours' ? await ourThreads(threadsWanted) : null;
  log(`[8] child (${engine}): ${engine === 'ours' ? `unseal-wasm, ${ours.note}` : `onnxruntime-web, numThreads = ${threadsWanted}`}`);
  const out = { engine, wanted: threadsWanted, ours, ortThreads: ortInfo.ort ? ortInfo.ort.env.wasm.numThreads : null, ortSkip: engine === 'ort' ? ortInfo.skip : undefined };
  const l = await benchLinear({ reps: THREADS_LINEAR_REPS });
  out.l1 = { lin: l.lin, reps: l.reps, firstForward: l.firstForward, ortSkip: l.ortSkip, createMs: l.createMs, onnx: l.onnx, cVsPublic: engine === 'ours' ? l.cVsPublic : null };
  const g = await benchGpt2({ ts: THREADS_TS, runs: THREADS_RUNS, optionalT: null });
  out.g2 = g.skip ? { skip: g.skip } : { rows: g.rows, timingS: g.timingS, oursVsTorch: g.oursVsTorch, ortVsTorch: g.ortVsTorch, ortSkip: g.ortSkip };
  if (engine === 'ours' && ours.threads > 1 && !g.skip) {
    const d = await benchDecode({ withBandwidth: false, repeats: 2 });
    out.decode = d.skip ? { skip: d.skip } : d;
  }
  return out;
}

async function benchThreads() {
  const pre = await ourThreads();
  log(`[8] ${THREADS} threads, each engine in a child process (ours: ${typeof pkg.setThreads === 'function' ? `setThreads(${THREADS})` : 'no setThreads() in this build: 1 thread'}; ORT numThreads = ${THREADS}) ...`);
  const o = runChild('threads', [`--threads=${THREADS}`, '--engine=ours']);
  if (o.skip) return o;
  const t = ortInfo.ort ? runChild('threads', [`--threads=${THREADS}`, '--engine=ort']) : { skip: ortInfo.skip };
  // Merge: one Linear result and one set of prefill rows, as a single process would give.
  const res = { ours: o.ours, ortThreads: t.skip ? null : t.ortThreads, ortSkip: t.skip ?? t.ortSkip, mainThreads: pre, decode: o.decode };
  res.l1 = { ...o.l1, lin: { ...o.l1.lin, ...(t.skip ? {} : t.l1.lin) }, ortSkip: t.skip ?? t.l1?.ortSkip, createMs: t.l1?.createMs, onnx: t.l1?.onnx, oursVsOrt: null, separate: true };
  if (o.g2.skip) res.g2 = o.g2;
  else {
    res.g2 = { ...o.g2, ortVsTorch: t.g2?.ortVsTorch, ortSkip: t.skip ?? t.g2?.skip ?? t.g2?.ortSkip, separate: true };
    res.g2.rows = o.g2.rows.map((row) => ({ ...row, ort: t.g2?.rows?.find((x) => x.T === row.T)?.ort, diff: null }));
  }
  // The memory bandwidth with as many threads, for the decode bound.
  const kbInfo = await getKernelBench();
  if (!kbInfo.skip) {
    const b = await bandwidth(THREADS);
    res.bandwidth = { aggregate: b.aggregate, sumOfMedians: b.medianPass, threads: THREADS };
  }
  return res;
}

// ---- 9. .wasm sizes ---------------------------------------------------------------
function wasmSizes() {
  const dir = join(root, 'web');
  return readdirSync(dir).filter((n) => n.endsWith('.wasm')).sort().map((n) => {
    const bytes = readFileSync(join(dir, n));
    return { name: `web/${n}`, bytes: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length, mtime: statSync(join(dir, n)).mtime.toISOString() };
  });
}

// ------------------------------------------------------------ run
if (CHILD === 'threads') {
  childReply(await benchThreadsChild());
  sharedGpt2?.m.dispose();
  process.exit(0);
}

// Sections 1-7 are the 1-thread figures: pin our thread count should a
// threaded build default to more.
if (typeof pkg.setThreads === 'function') await ourThreads(1);
const mach = machine();
const started = new Date();
const loadAvgStart = os.loadavg();
const t0 = performance.now();
const r = {};
const timed = async (key, fn) => {
  const s = performance.now();
  r[key] = await fn();
  if (r[key]?.skip) log(`SKIPPED section ${key}: ${r[key].skip}`);
  (r.seconds ??= {})[key] = (performance.now() - s) / 1000;
};
if (SECTIONS.has(3)) await timed(3, () => benchGpt2());
if (SECTIONS.has(1)) await timed(1, () => benchLinear());
if (SECTIONS.has(2)) await timed(2, () => benchHooks());
if (SECTIONS.has(6)) await timed(6, () => benchGpt2Hooks());
if (SECTIONS.has(4)) await timed(4, () => benchAttention());
if (SECTIONS.has(5)) await timed(5, () => benchDecode());
sharedGpt2?.m.dispose();
sharedGpt2 = null;
if (SECTIONS.has(7)) await timed(7, () => benchLoad());
if (SECTIONS.has(8)) await timed(8, () => benchThreads());
if (SECTIONS.has(9)) await timed(9, () => wasmSizes());
const totalS = (performance.now() - t0) / 1000;

const ctx = {
  r, mach, started, totalS, loadAvg: { start: loadAvgStart, end: os.loadavg() },
  sections: [...SECTIONS].sort((a, b) => a - b),
  ours: await ourThreads(),
  ort: ortInfo.ort ? { version: ortInfo.version, from: ortInfo.from, threads: ortInfo.threads } : { skip: ortInfo.skip },
  kernelName,
  settings: {
    M, K, N, LINEAR_WARMUP, LINEAR_REPS, MLP_BLOCKS, MLP_WARMUP, MLP_ROUNDS, TINY_WIDTH, TINY_BATCH, TINY_ROUNDS,
    GPT2_SCRIPT, GPT2_REFERENCE, GPT2_BUDGET_S, ATT, ORT_MATMUL_WARMUP, ORT_MATMUL_REPS, THREADS, THREADS_LINEAR_REPS,
    LOAD_RUNS_OURS, LOAD_RUNS_ORT,
  },
  scale: existsSync(join(root, 'bench/SCALE.md')) ? readFileSync(join(root, 'bench/SCALE.md'), 'utf8') : null,
};
const { md, readme } = render(ctx);
console.log(md);
if (ALL_SECTIONS.every((s) => SECTIONS.has(s))) {
  mkdirSync(join(root, 'bench'), { recursive: true });
  writeFileSync(join(root, 'bench/RESULTS.md'), md);
  const u = updateReadme(join(root, 'README.md'), readme);
  log(`wrote bench/RESULTS.md${u ? ' and README.md\'s benchmark table' : ` (README.md NOT updated: ${u === false ? 'no <!-- bench:begin --> / <!-- bench:end --> markers' : 'unchanged'})`} (${totalS.toFixed(1)} s)`);
} else {
  log(`not writing bench/RESULTS.md or README.md: only section(s) ${ctx.sections.join(', ')} ran (${totalS.toFixed(1)} s)`);
}
