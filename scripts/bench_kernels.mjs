// bench_kernels.mjs — kernel-level measurements for scripts/bench.mjs, over
// build/bench/bench_kernels.wasm (scripts/bench_kernels.c: the library's own
// kernels compiled with the flags of web/unseal.wasm, plus a streaming read).
// Not part of the package; not a test.
//
//   buildKernelBench()        -> { path } | { skip }   (emcc; only when stale)
//   await loadKernelBench()   -> the module's exports and helpers
//   attention(kb, shape)      the attention kernels and a dense batched GEMM
//   gemv(kb, { N, K })        one-row products streaming a packed weight from DRAM
//   await bandwidth(threads)  a SIMD128 streaming read, in 1 or more threads
//
// Each measurement: one wasm call that loops `reps` times, reps chosen so a
// call lasts ~TARGET_MS; SAMPLES calls after a warmup; median and best.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..');
const OUT = join(root, 'build/bench/bench_kernels.wasm');
const SRC = join(root, 'scripts/bench_kernels.c');
const TARGET_MS = 25;
const SAMPLES = 15;
export const BANDWIDTH_BYTES = 256 * 2 ** 20; // per thread; far larger than any cache here

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
};

function cSources() {
  const list = (d) => readdirSync(join(root, d)).filter((f) => f.endsWith('.c')).sort().map((f) => join(d, f));
  return [...list('src/kernels'), ...list('src/core')];
}

/** Builds build/bench/bench_kernels.wasm when missing or older than its sources. */
export function buildKernelBench() {
  const srcs = cSources();
  const newest = Math.max(...[SRC, ...srcs.map((s) => join(root, s))].map((f) => statSync(f).mtimeMs),
    ...readdirSync(join(root, 'src/kernels')).filter((f) => f.endsWith('.h')).map((f) => statSync(join(root, 'src/kernels', f)).mtimeMs),
    statSync(join(root, 'include/unseal.h')).mtimeMs);
  if (existsSync(OUT) && statSync(OUT).mtimeMs >= newest) return { path: OUT };
  if (spawnSync('sh', ['-c', 'command -v emcc'], { stdio: 'ignore' }).status !== 0) return { skip: 'emcc not found (apt-get install -y emscripten)' };
  mkdirSync(join(root, 'build/bench'), { recursive: true });
  const env = { ...process.env, NODE_PATH: ['/usr/share/nodejs', process.env.NODE_PATH].filter(Boolean).join(':') };
  const args = ['-O3', '-msimd128', '-Iinclude', '-Isrc', 'scripts/bench_kernels.c', ...srcs, '-o', OUT,
    '--no-entry', '-sSTANDALONE_WASM=1', '-sALLOW_MEMORY_GROWTH=1', '-sMAXIMUM_MEMORY=4GB', '-sINITIAL_MEMORY=16MB',
    '-sERROR_ON_UNDEFINED_SYMBOLS=0', '-sWARN_ON_UNDEFINED_SYMBOLS=0'];
  const r = spawnSync('emcc', args, { cwd: root, env, encoding: 'utf8' });
  if (r.status !== 0) return { skip: `emcc failed building ${OUT.replace(root + '/', '')}: ${(r.stderr || '').trim().split('\n').slice(-3).join(' / ')}` };
  return { path: OUT, built: true };
}

/** Instantiates the kernel bench (a fresh memory each call). */
export async function loadKernelBench(path = OUT) {
  const module = await WebAssembly.compile(readFileSync(path));
  const imports = {};
  for (const imp of WebAssembly.Module.imports(module)) {
    imports[imp.module] ??= {};
    imports[imp.module][imp.name] = imp.name === 'emscripten_notify_memory_growth' ? () => {} : () => {
      throw new Error(`bench_kernels.wasm called the unexpected import ${imp.module}.${imp.name}`);
    };
  }
  const { exports: x } = await WebAssembly.instantiate(module, imports);
  x._initialize?.();
  const cstr = (p) => {
    const u8 = new Uint8Array(x.memory.buffer);
    let e = p;
    while (u8[e]) e++;
    return new TextDecoder().decode(u8.subarray(p, e));
  };
  const malloc = (bytes) => {
    const p = x.bk_malloc(bytes);
    if (!p) throw new Error(`bench_kernels.wasm: out of memory for ${bytes} bytes`);
    return p;
  };
  /** Fills n floats at p with uniform values in [-scale, scale) (an LCG: the same every run). */
  const fill = (p, n, seed, scale = 1) => {
    const f = new Float32Array(x.memory.buffer, p, n);
    let s = seed >>> 0;
    for (let i = 0; i < n; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      f[i] = (s / 2 ** 31 - 1) * scale;
    }
  };
  return { x, malloc, fill, attentionKernel: cstr(x.bk_attention_kernel_name()), gemmKernel: cstr(x.bk_gemm_kernel_name()) };
}

/** Times call(reps): reps grown until one call lasts ~TARGET_MS; { med, min } ms per rep. */
function timeReps(call, { samples = SAMPLES, target = TARGET_MS } = {}) {
  let reps = 1;
  for (;;) {
    const s = performance.now();
    call(reps);
    const dt = performance.now() - s;
    if (dt >= target / 4 || reps >= 1 << 20) {
      reps = Math.max(1, Math.round((reps * target) / Math.max(dt, 1e-3)));
      break;
    }
    reps *= 4;
  }
  call(reps); // warmup at the final size
  const ms = [];
  for (let i = 0; i < samples; i++) {
    const s = performance.now();
    call(reps);
    ms.push((performance.now() - s) / reps);
  }
  return { med: median(ms), min: Math.min(...ms), reps, samples };
}

/**
 * The attention kernels on GPT-2's layout for H heads, T queries over S keys of
 * size hs, plus the same products as a dense batched GEMM. FLOP counts:
 * `flop` is the multiply-adds (x2) a kernel performs (the causal ones skip
 * masked keys, ~half at T = S); `denseFlop` the dense product of that shape.
 */
export function attention(kb, { H = 12, T = 128, S = 128, hs = 64 } = {}) {
  const { x, malloc, fill } = kb;
  const C = H * hs;
  const qkv = malloc(4 * S * 3 * C), att = malloc(4 * H * T * S), z = malloc(4 * T * C);
  const scratch = malloc(4 * Math.max(1, x.bk_attention_scratch_floats(S, hs)));
  fill(qkv, S * 3 * C, 11);
  const past = S - T;
  const causalMacs = hs * (T * past + (T * (T + 1)) / 2) * H; // keys s <= past + t per query row
  const denseMacs = T * S * hs * H;
  const rows = [];
  const run = (which) => (reps) => x.bk_attention(which, reps, H, T, S, hs, qkv, att, z, scratch);
  run(0)(1);
  run(1)(1); // att now holds a real causal pattern for the pv kernels
  rows.push({ key: 'scores', what: `q·kᵀ/√hs, causal (\`us_attention_scores\`): ${H} × [${T}×${hs}]·[${hs}×${S}]`, flop: 2 * causalMacs, denseFlop: 2 * denseMacs, ...timeReps(run(0)) });
  run(1)(1);
  // In place on rows that already hold a pattern: the same work as on scores
  // (every unmasked entry exponentiated and summed), and the rows stay finite.
  rows.push({ key: 'softmax', what: `causal softmax of the rows, in place (\`us_attention_softmax_rows\`): ${H} × [${T}×${S}]`, flop: null, denseFlop: null, ...timeReps(run(1)) });
  rows.push({ key: 'pv', what: `pattern·v, causal (\`us_attention_pv\`): ${H} × [${T}×${S}]·[${S}×${hs}]`, flop: 2 * causalMacs, denseFlop: 2 * denseMacs, ...timeReps(run(2)) });
  rows.push({ key: 'pv_dense', what: `pattern·v over every key, dense (\`us_attention_pv_dense\`): ${H} × [${T}×${S}]·[${S}×${hs}]`, flop: 2 * denseMacs, denseFlop: 2 * denseMacs, ...timeReps(run(3)) });
  rows.push({ key: 'fused', what: `fused scores + softmax + pattern·v (\`us_attention_fused\`, the unwatched forward's path)`, flop: 4 * causalMacs, denseFlop: 4 * denseMacs, ...timeReps(run(4)) });
  [qkv, att, z, scratch].forEach((p) => x.bk_free(p));

  // The same shape as a general dense batched matmul: [M=T, K=hs]·[K=hs, N=S] per head.
  const A = malloc(4 * H * T * hs), B = malloc(4 * H * hs * S), Cm = malloc(4 * H * T * S);
  fill(A, H * T * hs, 21);
  fill(B, H * hs * S, 22);
  const gemmFlop = 2 * H * T * hs * S;
  for (const pack of [0, 1]) {
    if (x.bk_batched_gemm(pack, 1, H, T, hs, S, A, B, Cm)) throw new Error('bench_kernels.wasm: out of memory in bk_batched_gemm');
    rows.push({ key: pack ? 'gemm_pack' : 'gemm', what: pack
      ? `dense batched GEMM, packing each right operand inside the loop (\`us_gemm_weights_new_kn\` + \`us_gemm_f32\`): ${H} × [${T}×${hs}]·[${hs}×${S}]`
      : `dense batched GEMM, right operands packed beforehand (\`us_gemm_f32\` alone): ${H} × [${T}×${hs}]·[${hs}×${S}]`,
    flop: gemmFlop, denseFlop: gemmFlop, ...timeReps((reps) => x.bk_batched_gemm(pack, reps, H, T, hs, S, A, B, Cm)) });
  }
  [A, B, Cm].forEach((p) => x.bk_free(p));
  return rows;
}

/**
 * One-row products y [1, N] = x [1, K] · Wᵀ over a pack of W [N, K] (f32 and
 * f16) far larger than the caches, so every call streams the whole pack from
 * DRAM, as one-token decode does: effective GB/s = pack bytes / time.
 */
export function gemv(kb, { N = 50257, K = 768 } = {}) {
  const { x, malloc, fill } = kb;
  const W = malloc(4 * N * K);
  fill(W, N * K, 31, 0.05);
  const out = [];
  for (const f16 of [0, 1]) {
    const pack = x.bk_pack(W, N, K, f16);
    if (!pack) throw new Error('bench_kernels.wasm: out of memory packing');
    const a = malloc(4 * K), y = malloc(4 * N);
    fill(a, K, 32);
    const bytes = x.bk_pack_bytes(pack);
    const t = timeReps((reps) => x.bk_gemm(reps, 1, a, pack, y), { target: 40 });
    out.push({ dtype: f16 ? 'f16' : 'f32', N, K, bytes, ...t, gbs: bytes / (t.med * 1e6), bestGbs: bytes / (t.min * 1e6) });
    x.bk_pack_free(pack);
    x.bk_free(a);
    x.bk_free(y);
  }
  x.bk_free(W);
  return out;
}

/**
 * Memory bandwidth seen from wasm: each of `threads` threads (this one, or
 * worker_threads, each with its own instance and buffer of BANDWIDTH_BYTES)
 * streams its buffer `passes` times with SIMD128 loads, starting together.
 * Per-pass GB/s (1e9 bytes/s) per thread; the aggregate is all bytes over the
 * span from the first start to the last end.
 */
export async function bandwidth(threads = 1, { passes = 12 } = {}) {
  if (threads === 1) {
    const kb = await loadKernelBench();
    const r = readPasses(kb, passes, null);
    return { threads, perThread: [r], aggregate: (r.bytes * passes) / ((r.end - r.start) * 1e6), medianPass: r.bytes / (median(r.ms) * 1e6), bestPass: r.bytes / (Math.min(...r.ms) * 1e6) };
  }
  const sab = new SharedArrayBuffer(8);
  const flags = new Int32Array(sab); // [0]: workers ready, [1]: go
  const workers = Array.from({ length: threads }, () => new Worker(fileURLToPath(import.meta.url), { workerData: { sab, passes } }));
  const results = workers.map((w) => new Promise((res, rej) => {
    w.once('message', res);
    w.once('error', rej);
  }));
  while (Atomics.load(flags, 0) < threads) await new Promise((r) => setTimeout(r, 5));
  Atomics.store(flags, 1, 1);
  Atomics.notify(flags, 1);
  const per = await Promise.all(results);
  await Promise.all(workers.map((w) => w.terminate()));
  const start = Math.min(...per.map((p) => p.start)), end = Math.max(...per.map((p) => p.end));
  const total = per.reduce((s, p) => s + p.bytes * passes, 0);
  return { threads, perThread: per, aggregate: total / ((end - start) * 1e6), medianPass: per.reduce((s, p) => s + p.bytes / (median(p.ms) * 1e6), 0), bestPass: null };
}

function readPasses(kb, passes, flags) {
  const { x, malloc } = kb;
  const n = BANDWIDTH_BYTES;
  const p = malloc(n + 64);
  const p64 = (p + 63) & ~63;
  new Uint8Array(x.memory.buffer, p64, n).fill(1); // touch every page, so passes read real memory
  x.bk_stream_read(p64, n, 1); // warm the code path
  if (flags) {
    Atomics.add(flags, 0, 1);
    Atomics.wait(flags, 1, 0);
  }
  const ms = [];
  const start = performance.timeOrigin + performance.now();
  for (let i = 0; i < passes; i++) {
    const s = performance.now();
    x.bk_stream_read(p64, n, 1);
    ms.push(performance.now() - s);
  }
  const end = performance.timeOrigin + performance.now();
  x.bk_free(p);
  return { bytes: n, ms, start, end };
}

if (!isMainThread && workerData?.sab) {
  const kb = await loadKernelBench();
  const flags = new Int32Array(workerData.sab);
  parentPort.postMessage(readPasses(kb, workerData.passes, flags));
}
