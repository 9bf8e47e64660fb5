#!/usr/bin/env node
// fuzz.mjs — builds and runs the libFuzzer harnesses of tests/fuzz (clang,
// native, with AddressSanitizer + UndefinedBehaviorSanitizer; LeakSanitizer
// comes with ASan). See tests/fuzz/README.md.
//
//   node scripts/fuzz.mjs build                 build every target into build/fuzz/
//   node scripts/fuzz.mjs smoke [target ...]    each target for 30 s (CI); exit 1 on any finding
//   node scripts/fuzz.mjs long [target ...]     each target until 10 M executions, two at a time
//   node scripts/fuzz.mjs run <target> [libFuzzer flags ...]   one target by hand
//   node scripts/fuzz.mjs coverage [target ...] line coverage of the parsers by the seeds + grown corpus
//
// Environment: US_FUZZ_SECONDS (smoke, default 30), US_FUZZ_RUNS (long,
// default 10000000), US_FUZZ_JOBS (targets at once, default 1 for smoke and
// 2 for long). A target starts from its committed seeds, tests/fuzz/corpus/<target>/
// (with the inputs of any bug found, regress-*), so each run replays them
// first; what it discovers goes to build/fuzz/corpus/<target>/ (not
// committed), and a crashing input to build/fuzz/artifacts/<target>/.
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ensure, have, root, run } from './lib.mjs';

// What each harness links: the core sources that parse outside input.
const JSON_IO = ['src/core/status.c', 'src/io/json.c'];
const TOKENIZER = [...JSON_IO, 'src/tokenizer/bpe.c', 'src/tokenizer/pretokenize.c', 'src/tokenizer/unicode_tables.c'];
export const TARGETS = {
  safetensors: [...JSON_IO, 'src/core/tensor.c', 'src/io/safetensors.c'],
  index: ['src/core/status.c', 'src/core/index.c'],
  hf_config: [...JSON_IO, 'src/io/hf_config.c'],
  shard_index: [...JSON_IO, 'src/io/shard_index.c'],
  tokenizer_json: TOKENIZER,
  vocab_merges: TOKENIZER,
  bpe_encode: TOKENIZER,
};

const out = join(root, 'build/fuzz');
const SAN = ['-fsanitize=address,undefined', '-fno-sanitize-recover=all', '-fno-omit-frame-pointer'];
const CFLAGS = ['-std=c11', '-g', '-O1', '-Wall', '-Wextra', '-Wno-unused-parameter', '-I', join(root, 'include'), '-I', join(root, 'src'), ...SAN];

function newest(dirs, pattern = /\.[ch]$/) {
  let t = 0;
  const walk = (p) => {
    if (!existsSync(p)) return;
    const s = statSync(p);
    if (s.isDirectory()) for (const e of readdirSync(p)) walk(join(p, e));
    else if (pattern.test(p)) t = Math.max(t, s.mtimeMs);
  };
  dirs.forEach((d) => walk(join(root, d)));
  return t;
}

/** Whether some /usr/lib/llvm-N/lib/clang/V/lib/linux holds libclang_rt.fuzzer. */
function haveLibFuzzer() {
  const ls = (d) => (existsSync(d) ? readdirSync(d) : []);
  return ls('/usr/lib').filter((d) => d.startsWith('llvm-')).some((llvm) =>
    ls(`/usr/lib/${llvm}/lib/clang`).some((v) => ls(`/usr/lib/${llvm}/lib/clang/${v}/lib/linux`).some((f) => f.startsWith('libclang_rt.fuzzer-'))));
}

const stale = (file, since) => !existsSync(file) || statSync(file).mtimeMs < since;

/** Compiles the core objects once (instrumented for coverage) and links each harness. */
export function build(targets = Object.keys(TARGETS)) {
  ensure([
    { ok: () => have('clang'), pkg: 'clang', what: 'clang' },
    { ok: haveLibFuzzer, pkg: 'libclang-rt-dev', what: "clang's libFuzzer runtime (libclang_rt.fuzzer)" },
  ]);
  mkdirSync(join(out, 'obj'), { recursive: true });
  const headers = Math.max(newest(['include', 'src'], /\.h$/), statSync(join(root, 'scripts/fuzz.mjs')).mtimeMs);
  const objects = new Map();
  for (const t of targets) {
    for (const src of TARGETS[t]) {
      if (objects.has(src)) continue;
      const obj = join(out, 'obj', src.replace(/[/.]/g, '_') + '.o');
      if (stale(obj, Math.max(headers, statSync(join(root, src)).mtimeMs))) {
        run('clang', [...CFLAGS, '-fsanitize=fuzzer-no-link', '-c', join(root, src), '-o', obj]);
      }
      objects.set(src, obj);
    }
  }
  const harnesses = newest(['tests/fuzz']);
  for (const t of targets) {
    const exe = join(out, `fuzz_${t}`);
    const deps = Math.max(headers, harnesses, ...TARGETS[t].map((s) => statSync(objects.get(s)).mtimeMs));
    if (!stale(exe, deps)) continue;
    console.log(`Building build/fuzz/fuzz_${t}`);
    run('clang', [...CFLAGS, '-fsanitize=fuzzer', join(root, `tests/fuzz/fuzz_${t}.c`), ...TARGETS[t].map((s) => objects.get(s)), '-lm', '-o', exe]);
  }
}

/** libFuzzer's arguments for one target: work corpus first (written), seeds second (read). */
function fuzzArgs(t, extra) {
  const work = join(out, 'corpus', t);
  const artifacts = join(out, 'artifacts', t);
  mkdirSync(work, { recursive: true });
  mkdirSync(artifacts, { recursive: true });
  const dict = join(root, `tests/fuzz/${t}.dict`);
  return [
    `-artifact_prefix=${artifacts}/`,
    '-timeout=10', // an input taking 10 s is a finding (quadratic blow-ups)
    '-rss_limit_mb=2560',
    '-print_final_stats=1',
    ...(existsSync(dict) ? [`-dict=${dict}`] : []),
    ...extra,
    work,
    join(root, 'tests/fuzz/corpus', t),
  ];
}

/** Runs one target; resolves to { target, code, runs, execPerSec, seconds, log }. */
function fuzzOne(t, extra) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(join(out, `fuzz_${t}`), fuzzArgs(t, extra), { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    // The whole output also goes to build/fuzz/logs/<target>.log, to follow a long run.
    mkdirSync(join(out, 'logs'), { recursive: true });
    const file = createWriteStream(join(out, 'logs', `${t}.log`));
    const keep = (chunk) => {
      file.write(chunk);
      log += chunk;
      if (log.length > 1 << 20) log = log.slice(-(1 << 19)); // the tail is what matters
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('close', (code, signal) => {
      file.end();
      const stat = (k) => Number((log.match(new RegExp(`stat::${k}:\\s+(\\d+)`)) ?? [])[1] ?? NaN);
      resolve({ target: t, code: code ?? signal, runs: stat('number_of_executed_units'), execPerSec: stat('average_exec_per_sec'), seconds: (Date.now() - started) / 1000, log });
    });
  });
}

async function fuzzAll(targets, extra, jobs) {
  const queue = [...targets];
  const results = [];
  const worker = async () => {
    for (let t = queue.shift(); t; t = queue.shift()) {
      console.log(`fuzz_${t}: running ${extra.join(' ')}`);
      const r = await fuzzOne(t, extra);
      const ok = r.code === 0;
      console.log(`fuzz_${t}: ${ok ? 'ok' : `FAILED (exit ${r.code})`}, ${r.runs} executions, ${r.execPerSec} exec/s, ${r.seconds.toFixed(0)} s`);
      if (!ok) console.log(r.log.split('\n').slice(-60).join('\n'));
      results.push(r);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, jobs) }, worker));
  console.log('\ntarget            executions   exec/s   seconds  result');
  for (const t of targets) {
    const r = results.find((x) => x.target === t);
    console.log(`${t.padEnd(16)} ${String(r.runs).padStart(11)} ${String(r.execPerSec).padStart(8)} ${r.seconds.toFixed(0).padStart(9)}  ${r.code === 0 ? 'ok' : 'FAILED'}`);
  }
  const failed = results.filter((r) => r.code !== 0);
  if (failed.length) {
    console.error(`\n${failed.length} target(s) failed: ${failed.map((r) => r.target).join(', ')}; the inputs are in build/fuzz/artifacts/<target>/`);
    process.exit(1);
  }
}

/** Line coverage (llvm-cov) of each target's sources by its seeds and grown corpus, without sanitizers. */
function coverage(targets) {
  const tool = (name) => (have(`${name}-14`) ? `${name}-14` : name);
  const dir = join(out, 'coverage');
  mkdirSync(dir, { recursive: true });
  for (const t of targets) {
    const exe = join(dir, `fuzz_${t}`);
    const prof = join(dir, `${t}.profraw`);
    run('clang', ['-std=c11', '-g', '-O0', '-I', join(root, 'include'), '-I', join(root, 'src'), '-fsanitize=fuzzer', '-fprofile-instr-generate', '-fcoverage-mapping',
      join(root, `tests/fuzz/fuzz_${t}.c`), ...TARGETS[t].map((s) => join(root, s)), '-lm', '-o', exe]);
    const corpora = [join(out, 'corpus', t), join(root, 'tests/fuzz/corpus', t)].filter(existsSync);
    run(exe, ['-runs=0', ...corpora], { env: { ...process.env, LLVM_PROFILE_FILE: prof }, stdio: ['ignore', 'ignore', 'ignore'] });
    run(tool('llvm-profdata'), ['merge', '-sparse', prof, '-o', join(dir, `${t}.profdata`)]);
    console.log(`\nfuzz_${t}:`);
    const parsers = TARGETS[t].filter((s) => !/core\/(status|tensor)\.c|unicode_tables/.test(s)).map((s) => join(root, s));
    run(tool('llvm-cov'), ['report', exe, `-instr-profile=${join(dir, `${t}.profdata`)}`, ...parsers]);
  }
}

const [mode = 'smoke', ...rest] = process.argv.slice(2);
const pick = (names) => {
  const bad = names.filter((n) => !TARGETS[n]);
  if (bad.length) {
    console.error(`unknown target(s) ${bad.join(', ')}; targets: ${Object.keys(TARGETS).join(', ')}`);
    process.exit(2);
  }
  return names.length ? names : Object.keys(TARGETS);
};
if (mode === 'build') {
  build(pick(rest));
} else if (mode === 'smoke') {
  const targets = pick(rest);
  build(targets);
  await fuzzAll(targets, [`-max_total_time=${process.env.US_FUZZ_SECONDS ?? 30}`], Number(process.env.US_FUZZ_JOBS ?? 1));
} else if (mode === 'long') {
  const targets = pick(rest);
  build(targets);
  await fuzzAll(targets, [`-runs=${process.env.US_FUZZ_RUNS ?? 10000000}`], Number(process.env.US_FUZZ_JOBS ?? 2));
} else if (mode === 'coverage') {
  coverage(pick(rest));
} else if (mode === 'run' && TARGETS[rest[0]]) {
  build([rest[0]]);
  // With an input file or folder named, libFuzzer runs just that (reproducing a crash).
  const own = rest.slice(1).some((a) => !a.startsWith('-'));
  run(join(out, `fuzz_${rest[0]}`), own ? rest.slice(1) : fuzzArgs(rest[0], rest.slice(1)));
} else {
  console.error('usage: node scripts/fuzz.mjs build|smoke|long|coverage [target ...] | run <target> [libFuzzer flags ...]');
  console.error(`targets: ${Object.keys(TARGETS).join(', ')}`);
  process.exit(2);
}
