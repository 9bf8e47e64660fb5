#!/usr/bin/env node
// scale.mjs — do big GPT-2s fit in wasm32's 4 GB? Not a test, not in CI, not
// part of `npm run bench`: run by hand (it writes several GB), ideally with
// `nice`:
//
//   nice node scripts/scale.mjs [--models=medium,xl,xl-single] [--xl-dtype=f32|f16]
//
// For each model it writes a folder of random weights with the model's exact
// shapes into ~/.cache/unseal-wasm/scale/ (kept; regenerated only when this
// script or the shape changed), then, in a fresh child process, loads it with
// HookedModel.fromPretrained, runs a forward of [1, T] ids with hooks, and a
// second without, and records load time, forward times, wasm memory and peak
// RSS, or the error and how much memory the model would need. The results go
// to bench/SCALE.md (README links it; the bench's targets table reads the
// JSON in its last line).
//
//   medium     GPT-2 medium's shape (355 M parameters), F32 file, loaded as f32
//   xl         GPT-2 XL's shape (1.56 B parameters), loaded with dtype: 'f16';
//              written as F32 shards under 1 GiB (or F16 with --xl-dtype=f16,
//              or automatically when the disk is short) plus
//              model.safetensors.index.json, since Node's fs.readFile refuses
//              files over 2 GiB
//   xl-single  the same XL as ONE model.safetensors (6.2 GB, as HF ships
//              gpt2-xl), written as a sparse file: a valid header and zeros,
//              no disk used; shows what a user with the real file meets
//
// Weights: every matrix uniform with standard deviation 0.02 (GPT-2's
// initializer_range), biases 0, LayerNorm gains 1 and shifts 0; an LCG per
// tensor, so files are reproducible.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, ftruncateSync, mkdirSync, openSync, readFileSync, rmSync, statfsSync, writeFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';

const log = (...a) => console.error(...a);
const SELF = fileURLToPath(import.meta.url);
const root = join(fileURLToPath(new URL('.', import.meta.url)), '..');
const cacheDir = join(process.env.XDG_CACHE_HOME || join(os.homedir(), '.cache'), 'unseal-wasm', 'scale');
const GiB = 2 ** 30, MiB = 2 ** 20;
const WASM32 = 4 * GiB; // the most a wasm32 memory can hold
const SHARD_BYTES = GiB; // under Node's 2 GiB fs.readFile limit with room to spare
const T = 64; // tokens per forward
// Bump when the weights written change (names, values, layout): the cache key.
const GENERATOR = 'scale.mjs weights v1: uniform std 0.02 per-tensor LCG, biases 0, LN 1/0';

const argv = process.argv.slice(2);
const arg = (name) => argv.find((x) => x.startsWith(`--${name}=`))?.slice(name.length + 3);

const BASE_CONFIG = {
  activation_function: 'gelu_new', architectures: ['GPT2LMHeadModel'], attn_pdrop: 0.1, bos_token_id: 50256, embd_pdrop: 0.1,
  eos_token_id: 50256, initializer_range: 0.02, layer_norm_epsilon: 1e-5, model_type: 'gpt2', n_ctx: 1024, n_inner: null,
  n_positions: 1024, resid_pdrop: 0.1, scale_attn_weights: true, vocab_size: 50257,
};
const MODELS = {
  medium: { label: 'GPT-2 medium (f32)', dir: 'gpt2-medium-random', config: { n_embd: 1024, n_layer: 24, n_head: 16 }, fileDtype: 'F32', load: 'f32', layout: 'single' },
  xl: { label: 'GPT-2 XL shape (dtype: \'f16\')', dir: 'gpt2-xl-random', config: { n_embd: 1600, n_layer: 48, n_head: 25 }, fileDtype: 'F32', load: 'f16', layout: 'shards' },
  'xl-single': { label: 'GPT-2 XL shape, one 6.2 GB model.safetensors (dtype: \'f16\')', dir: 'gpt2-xl-single-sparse', config: { n_embd: 1600, n_layer: 48, n_head: 25 }, fileDtype: 'F32', load: 'f16', layout: 'sparse' },
};

/** HF GPT-2 tensors in file order: [name, shape, init] (init: 'w' matrix, 'zero', 'one'). */
function tensors(cfg) {
  const C = cfg.n_embd, F = cfg.n_inner ?? 4 * C;
  const list = [['transformer.wte.weight', [cfg.vocab_size, C], 'w'], ['transformer.wpe.weight', [cfg.n_positions, C], 'w']];
  for (let l = 0; l < cfg.n_layer; l++) {
    const p = `transformer.h.${l}.`;
    list.push([`${p}ln_1.weight`, [C], 'one'], [`${p}ln_1.bias`, [C], 'zero'],
      [`${p}attn.c_attn.weight`, [C, 3 * C], 'w'], [`${p}attn.c_attn.bias`, [3 * C], 'zero'],
      [`${p}attn.c_proj.weight`, [C, C], 'w'], [`${p}attn.c_proj.bias`, [C], 'zero'],
      [`${p}ln_2.weight`, [C], 'one'], [`${p}ln_2.bias`, [C], 'zero'],
      [`${p}mlp.c_fc.weight`, [C, F], 'w'], [`${p}mlp.c_fc.bias`, [F], 'zero'],
      [`${p}mlp.c_proj.weight`, [F, C], 'w'], [`${p}mlp.c_proj.bias`, [C], 'zero']);
  }
  list.push(['transformer.ln_f.weight', [C], 'one'], ['transformer.ln_f.bias', [C], 'zero']);
  return list;
}
const numel = (shape) => shape.reduce((a, b) => a * b, 1);

/** f32 -> IEEE half bits, round to nearest even (the values here are small and normal or zero). */
const f32buf = new Float32Array(1), u32buf = new Uint32Array(f32buf.buffer);
function toHalf(x) {
  f32buf[0] = x;
  const b = u32buf[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1), half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1))) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++;
  return sign | h;
}

/** Writes one tensor's values to fd in chunks: uniform with std 0.02, or constants. */
function writeTensor(fd, n, init, seed, dtype) {
  const CHUNK = 1 << 22;
  const bytesPer = dtype === 'F16' ? 2 : 4;
  const f = new Float32Array(Math.min(CHUNK, n));
  const h = dtype === 'F16' ? new Uint16Array(f.length) : null;
  const scale = 0.02 * Math.sqrt(3); // uniform [-a, a) has std a / sqrt(3)
  let s = seed >>> 0;
  for (let done = 0; done < n; done += f.length) {
    const m = Math.min(f.length, n - done);
    if (init === 'w') {
      for (let i = 0; i < m; i++) {
        s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
        f[i] = (s / 2 ** 31 - 1) * scale;
      }
    } else f.fill(init === 'one' ? 1 : 0, 0, m);
    if (h) {
      for (let i = 0; i < m; i++) h[i] = toHalf(f[i]);
      writeSync(fd, new Uint8Array(h.buffer, 0, m * 2));
    } else writeSync(fd, new Uint8Array(f.buffer, 0, m * bytesPer));
  }
}

function header(entries, dtype) {
  const bytesPer = dtype === 'F16' ? 2 : 4;
  const h = { __metadata__: { format: 'pt', generator: 'scripts/scale.mjs (random weights)' } };
  let off = 0;
  for (const [name, shape] of entries) {
    const b = numel(shape) * bytesPer;
    h[name] = { dtype, shape, data_offsets: [off, off + b] };
    off += b;
  }
  let json = JSON.stringify(h);
  json += ' '.repeat((8 - (json.length % 8)) % 8); // data 8-byte aligned, as safetensors writers do
  const bytes = Buffer.from(json, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(bytes.length));
  return { prefix: Buffer.concat([len, bytes]), dataBytes: off };
}

/** Writes the model folder unless a current one is there. Returns { dir, files, bytes, cached }. */
function makeModel(key, spec, fileDtype) {
  const cfg = { ...BASE_CONFIG, ...spec.config, torch_dtype: fileDtype === 'F16' ? 'float16' : 'float32' };
  const dir = join(cacheDir, spec.dir);
  const list = tensors(cfg);
  const stampKey = createHash('sha256').update(JSON.stringify({ GENERATOR, cfg, fileDtype, layout: spec.layout, SHARD_BYTES })).digest('hex').slice(0, 16);
  const stampPath = join(dir, 'stamp.json');
  if (existsSync(stampPath)) {
    const st = JSON.parse(readFileSync(stampPath, 'utf8'));
    if (st.key === stampKey) return { ...st, dir, cached: true };
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), `${JSON.stringify(cfg, null, 2)}\n`);
  const bytesPer = fileDtype === 'F16' ? 2 : 4;
  const t = performance.now();
  // Group tensors into files: one, or shards of at most SHARD_BYTES.
  let groups;
  if (spec.layout === 'shards') {
    groups = [[]];
    let size = 0;
    for (const e of list) {
      const b = numel(e[1]) * bytesPer;
      if (size + b > SHARD_BYTES && groups[groups.length - 1].length) {
        groups.push([]);
        size = 0;
      }
      groups[groups.length - 1].push(e);
      size += b;
    }
  } else groups = [list];
  const files = [];
  const weightMap = {};
  let total = 0, seed = 1;
  groups.forEach((g, gi) => {
    const name = groups.length === 1 ? 'model.safetensors' : `model-${String(gi + 1).padStart(5, '0')}-of-${String(groups.length).padStart(5, '0')}.safetensors`;
    const { prefix, dataBytes } = header(g, fileDtype);
    const path = join(dir, name);
    const fd = openSync(path, 'w');
    try {
      writeSync(fd, prefix);
      if (spec.layout === 'sparse') ftruncateSync(fd, prefix.length + dataBytes); // zeros, no blocks on disk
      else for (const [tname, shape, init] of g) {
        log(`  ${name}: ${tname} [${shape.join(', ')}]`);
        writeTensor(fd, numel(shape), init, seed++, fileDtype);
      }
    } finally {
      closeSync(fd);
    }
    for (const [tname] of g) weightMap[tname] = name;
    files.push({ name, bytes: prefix.length + dataBytes });
    total += dataBytes;
  });
  if (groups.length > 1) writeFileSync(join(dir, 'model.safetensors.index.json'), `${JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 1)}\n`);
  const params = list.reduce((a, [, s]) => a + numel(s), 0);
  const st = { key: stampKey, config: cfg, fileDtype, params, files, dataBytes: total, seconds: (performance.now() - t) / 1000, layout: spec.layout };
  writeFileSync(stampPath, `${JSON.stringify(st, null, 1)}\n`);
  return { ...st, dir, cached: false };
}

/** What the library holds in wasm memory for this config (src/models/gpt2.c's
 * packed models, what fromPretrained makes): the matmul weights (Conv1D and
 * wte, which is also the tied lm_head) only as GEMM packs in the load dtype;
 * wpe, biases and LayerNorms as f32. */
function budget(cfg, load) {
  const C = cfg.n_embd, F = cfg.n_inner ?? 4 * C, L = cfg.n_layer, V = cfg.vocab_size, P = cfg.n_positions;
  const small = P * C + L * (3 * C + C + F + C + 4 * C) + 2 * C; // wpe, biases, LayerNorms
  const padded = (n, k) => Math.ceil(n / 8) * 8 * k;
  const packWeights = L * (padded(3 * C, C) + padded(C, C) + padded(F, C) + padded(C, F)) + padded(V, C);
  const bytesPer = load === 'f16' ? 2 : 4;
  const acts = T * (3 * C + 2 * F + 8 * C + V) * 4; // the largest per-forward scratch, roughly (logits dominate)
  return { storageBytes: 4 * small, packBytes: packWeights * bytesPer, actBytes: acts, total: 4 * small + packWeights * bytesPer + acts };
}

// ------------------------------------------------------------ child: one model
if (arg('child')) {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc');
  const spec = JSON.parse(arg('child'));
  const out = { rssStart: process.memoryUsage().rss };
  let t = performance.now();
  const { HookedModel, Hook, hooks } = await import('../web/index.js');
  const { heap } = await import('../web/wasm.js');
  out.importMs = performance.now() - t;
  const wasmNow = () => heap().u8.byteLength;
  try {
    t = performance.now();
    const m = await HookedModel.fromPretrained(spec.dir, { dtype: spec.load });
    out.loadMs = performance.now() - t;
    gc();
    out.wasmAfterLoad = wasmNow();
    out.rssAfterLoad = process.memoryUsage().rss;
    const L = m.config.n_layer;
    let s = 12345;
    const ids = Int32Array.from({ length: T }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) % m.config.vocab_size));
    // Hooks: the residual norm at the last position after every block (TransformerLens
    // names), and layer 0's attention pattern saved.
    const norms = new Float32Array(L);
    const hookList = [new Hook('blocks.0.attn.hook_pattern', hooks.saveOutput, 'pattern0')];
    for (let l = 0; l < L; l++) {
      hookList.push(new Hook(`blocks.${l}.hook_resid_post`, (ctx, i, o) => {
        const C = o.shape[2];
        let n = 0;
        for (let c = 0; c < C; c++) n += o.data[(T - 1) * C + c] ** 2;
        norms[l] = Math.sqrt(n);
      }, `norm${l}`));
    }
    t = performance.now();
    const y = m.forward(ids, { hooks: hookList });
    out.forwardMs = performance.now() - t; // includes packing the weights (first forward)
    out.hooks = hookList.length;
    out.patternShape = m.saveCtx.pattern0.output?.shape ?? m.saveCtx.pattern0.shape ?? null;
    out.logitsShape = y.shape;
    out.finite = y.data.every(Number.isFinite) && norms.every(Number.isFinite);
    out.normFirstLast = [norms[0], norms[L - 1]];
    t = performance.now();
    m.forward(ids);
    out.forward2Ms = performance.now() - t;
    out.wasmAfterForward = wasmNow();
    out.ok = true;
    m.dispose();
  } catch (e) {
    out.ok = false;
    out.error = `${e.code ?? e.name}: ${e.message}`.replaceAll(os.homedir(), '~');
    out.wasmAtError = wasmNow();
  }
  out.rssEnd = process.memoryUsage().rss;
  out.peakRss = process.resourceUsage().maxRSS * 1024;
  console.log(`SCALE_CHILD_JSON ${JSON.stringify(out)}`);
  process.exit(0);
}

// ------------------------------------------------------------ main
const names = (arg('models') ?? 'medium,xl,xl-single').split(',');
for (const n of names) if (!MODELS[n]) {
  console.error(`unknown model '${n}'; choose from ${Object.keys(MODELS).join(', ')}`);
  process.exit(2);
}
mkdirSync(cacheDir, { recursive: true });
const started = new Date();
const fsInfo = statfsSync(cacheDir);
const freeBytes = fsInfo.bavail * fsInfo.bsize;
log(`free disk in ${cacheDir}: ${(freeBytes / 1e9).toFixed(1)} GB`);
const results = [];
for (const n of names) {
  const spec = MODELS[n];
  let fileDtype = spec.fileDtype;
  const cfg = { ...BASE_CONFIG, ...spec.config };
  const params = tensors(cfg).reduce((a, [, s]) => a + numel(s), 0);
  if (n === 'xl') fileDtype = (arg('xl-dtype') ?? '').toUpperCase() || fileDtype;
  let note = '';
  if (spec.layout !== 'sparse' && !existsSync(join(cacheDir, spec.dir, 'stamp.json'))) {
    const need = params * (fileDtype === 'F16' ? 2 : 4);
    if (need > freeBytes - 2e9 && fileDtype === 'F32') {
      fileDtype = 'F16';
      note = `disk short (${(freeBytes / 1e9).toFixed(1)} GB free, ${(need / 1e9).toFixed(1)} GB needed as F32): written as F16`;
    }
    if (params * (fileDtype === 'F16' ? 2 : 4) > freeBytes - 2e9) {
      results.push({ key: n, label: spec.label, ok: false, error: `not enough disk: ${(freeBytes / 1e9).toFixed(1)} GB free`, params });
      continue;
    }
  }
  log(`[${n}] ${spec.label}: ${(params / 1e6).toFixed(1)} M parameters, files ${fileDtype} (${spec.layout}) ...`);
  const model = makeModel(n, spec, fileDtype);
  log(`[${n}] ${model.cached ? 'from the cache' : `written in ${model.seconds.toFixed(0)} s`}: ${model.dir}`);
  const b = budget(model.config, spec.load);
  log(`[${n}] loading and running in a fresh process ...`);
  const r = spawnSync(process.execPath, [SELF, `--child=${JSON.stringify({ dir: model.dir, load: spec.load })}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 16 * MiB });
  const line = (r.stdout || '').split('\n').find((l) => l.startsWith('SCALE_CHILD_JSON '));
  const child = line ? JSON.parse(line.slice('SCALE_CHILD_JSON '.length)) : { ok: false, error: `the child process died (exit ${r.status ?? r.signal})${r.signal === 'SIGKILL' ? ' — killed, perhaps by the OOM killer' : ''}` };
  results.push({ key: n, label: spec.label, model, budget: b, note, ...child, loadS: child.loadMs / 1000, wasmBytes: child.wasmAfterForward ?? child.wasmAfterLoad ?? child.wasmAtError });
  log(`[${n}] ${child.ok ? `ok: load ${(child.loadMs / 1000).toFixed(1)} s, forward ${child.forwardMs.toFixed(0)} ms` : `FAILED: ${child.error}`}`);
}

// ------------------------------------------------------------ report
const cpu = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? os.cpus()[0]?.model;
const f = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '–');
const gib = (b) => `${f(b / GiB, 2)} GiB`;
const md = [];
md.push('# Scale: big GPT-2 shapes in wasm32', '');
md.push(`Generated by \`node scripts/scale.mjs\` (by hand; not in CI, not part of \`npm run bench\`) on ${started.toISOString()}, ${cpu}, ${os.cpus().length} logical CPUs, ${f(os.totalmem() / GiB, 1)} GiB RAM, Node ${process.version}, run under \`nice\`${os.loadavg()[0] > 1 ? ` on a busy machine (load average ${os.loadavg().map((x) => x.toFixed(2)).join(' / ')} at the end)` : ''}. Random weights of the real shapes (see the top of scripts/scale.mjs), cached in \`${cacheDir.replace(os.homedir(), '~')}\`. Each model loads in a fresh Node process: \`HookedModel.fromPretrained(dir, { dtype })\`, then \`forward\` of [1, ${T}] ids with 1 + n_layer hooks (the residual norm at the last position after every block, via TransformerLens names \`blocks.L.hook_resid_post\`, and \`hooks.saveOutput\` on \`blocks.0.attn.hook_pattern\`; this first forward also packs the weights), then a second forward without hooks. wasm32 memory is at most 4 GiB (${WASM32} bytes); web/unseal.wasm is linked with \`-sMAXIMUM_MEMORY=4GB\`.`, '');
md.push('| model | parameters | files | loaded as | load s | forward with hooks ms (first) | forward ms (second, no hooks) | wasm memory | peak RSS | result |', '|---|---:|---|---|---:|---:|---:|---:|---:|---|');
for (const x of results) {
  const files = x.model ? `${x.model.files.length} × ${x.model.fileDtype} (${gib(x.model.files.reduce((a, b) => a + b.bytes, 0))}${x.model.layout === 'sparse' ? ', sparse' : ''})` : '–';
  md.push(`| ${x.label} | ${f((x.params ?? x.model?.params) / 1e6, 1)} M | ${files} | ${MODELS[x.key].load} | ${f(x.loadMs / 1000, 1)} | ${f(x.forwardMs, 0)} | ${f(x.forward2Ms, 0)} | ${x.wasmBytes ? gib(x.wasmBytes) : '–'} | ${x.peakRss ? gib(x.peakRss) : '–'} | ${x.ok ? `ok: logits [${x.logitsShape.join(', ')}], all finite: ${x.finite}` : `**failed**: ${x.error.replace(/\|/g, '\\|')}`} |`);
}
md.push('');
md.push('What the library holds in wasm memory for each (src/models/gpt2.c\'s packed models, as fromPretrained makes them: the matmul weights, Conv1D and wte (also the tied lm_head), only as GEMM packs in the load dtype, streamed there from the file; wpe, biases and LayerNorms as f32; plus the forward\'s scratch, dominated by the logits):', '');
md.push('| model | f32 small parameters | packed weights | forward scratch (T = ' + T + ', rough) | total | vs 4 GiB |', '|---|---:|---:|---:|---:|---:|');
for (const x of results) if (x.budget) md.push(`| ${x.label} | ${gib(x.budget.storageBytes)} | ${gib(x.budget.packBytes)} (${MODELS[x.key].load}) | ${gib(x.budget.actBytes)} | ${gib(x.budget.total)} | ${f(x.budget.total / WASM32, 2)}× |`);
md.push('');
for (const x of results) {
  if (x.note) md.push(`- ${x.label}: ${x.note}.`);
  if (x.ok) md.push(`- ${x.label} ran: wasm memory ${gib(x.wasmBytes)} after the forwards (${f((100 * x.wasmBytes) / WASM32, 0)} % of 4 GiB); peak RSS ${gib(x.peakRss)} (the files, ${gib(x.model.files.reduce((a, b) => a + b.bytes, 0))}, are streamed in 1 MiB pieces, never held whole).`);
  else if (/greater than 2 GiB|ERR_FS_FILE_TOO_LARGE/.test(x.error ?? '')) {
    md.push(`- ${x.label} did not load: ${x.error}. In Node, \`fromPretrained(path)\` reads each weight file whole with \`fs.readFile\`, which refuses files over 2 GiB, so a single-file checkpoint of this size (HF's gpt2-xl ships one 6.4 GB model.safetensors) cannot be opened from a path at all; sharded files (\`model.safetensors.index.json\`, each shard under 2 GiB) get past this, and then meet the memory limit of the row above.`);
  } else if (!x.ok && x.budget) {
    md.push(`- ${x.label} did not run: ${x.error}. It needs about ${gib(x.budget.total)} of wasm memory (${f(x.budget.total / WASM32, 2)}× 4 GiB).`);
  }
}
md.push('', `Reproduce: \`nice node scripts/scale.mjs\` (writes ~${f(results.reduce((a, x) => a + (x.model && x.model.layout !== 'sparse' ? x.model.files.reduce((s, g) => s + g.bytes, 0) : 0), 0) / 1e9, 1)} GB under ${cacheDir.replace(os.homedir(), '~')} the first time).`, '');
const summary = { date: started.toISOString(), models: results.map((x) => ({ key: x.key, label: x.label, ok: !!x.ok, loadS: x.loadMs / 1000, forwardMs: x.forwardMs, wasmBytes: x.wasmBytes, peakRss: x.peakRss, error: x.error })) };
md.push(`<!-- scale-json: ${JSON.stringify(summary)} -->`, '');
const text = md.join('\n');
console.log(text);
if (!arg('models')) {
  writeFileSync(join(root, 'bench/SCALE.md'), text);
  log('wrote bench/SCALE.md');
} else log('not writing bench/SCALE.md (--models given: a partial run)');
