// load_profile.mjs — how long loading a GPT-2 takes and how much memory it
// needs, quickly (scripts/bench.mjs section 3 measures the same with
// onnxruntime-web beside it, in minutes): the time from
// HookedModel.fromPretrained(dir) to the end of the first forward (T = 1),
// and after each stage the RSS, the peak RSS so far (maxRSS: what issue #4's
// "<= 1.25x the weights" is about) and the wasm memory.
//
//   node --expose-gc scripts/load_profile.mjs [dir] [--dtype f16] [--runs N]
//
// dir defaults to the bench's GPT-2 small (/usr/bin/python3
// scripts/make_gpt2_bench_model.py makes it). Each run is a fresh process, so
// that every one starts from a fresh wasm memory and peak; times are noisy on
// a busy machine (the CPU time is printed too), memory is not.
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args.splice(i, 2)[1] : dflt;
};
const dtype = opt('--dtype', 'f32');
const runs = Number(opt('--runs', 3));
const dir = args[0] ?? join(os.homedir(), '.cache/unseal-wasm/gpt2-small-bench');
const mib = (b) => (b / 2 ** 20).toFixed(0);

if (process.env.UNSEAL_LOAD_PROFILE_CHILD) {
  const { HookedModel } = await import('../web/index.js');
  const { heap } = await import('../web/wasm.js');
  const stage = (label, ms) => {
    globalThis.gc?.();
    globalThis.gc?.();
    console.log(`  ${label.padEnd(16)} ${ms === null ? '        ' : `${ms.toFixed(0).padStart(5)} ms`}  rss ${mib(process.memoryUsage().rss).padStart(4)} MiB  peak ${mib(process.resourceUsage().maxRSS * 1024).padStart(4)} MiB  wasm ${mib(heap().u8.byteLength).padStart(4)} MiB`);
  };
  stage('imported', null);
  const cpu0 = process.cpuUsage();
  let t = performance.now();
  const model = await HookedModel.fromPretrained(dir, { dtype });
  const load = performance.now() - t;
  stage('fromPretrained', load);
  t = performance.now();
  model.forward([464]);
  const first = performance.now() - t;
  stage('first forward', first);
  const cpu = process.cpuUsage(cpu0);
  console.log(`  load to the end of the first forward: ${(load + first).toFixed(0)} ms (CPU: user ${(cpu.user / 1e3).toFixed(0)} ms, system ${(cpu.system / 1e3).toFixed(0)} ms)`);
} else {
  let bytes = 0;
  try {
    bytes = statSync(join(dir, 'model.safetensors')).size;
  } catch {
    console.error(`${dir}/model.safetensors: not found (make it with /usr/bin/python3 scripts/make_gpt2_bench_model.py)`);
    process.exit(1);
  }
  console.log(`${dir}: model.safetensors ${mib(bytes)} MiB; 1.25x that is ${mib(1.25 * bytes)} MiB; dtype ${dtype}`);
  for (let r = 0; r < runs; r++) {
    console.log(`run ${r + 1}:`);
    execFileSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), dir, '--dtype', dtype], {
      stdio: 'inherit', env: { ...process.env, UNSEAL_LOAD_PROFILE_CHILD: '1' },
    });
  }
}
