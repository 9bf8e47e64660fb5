#!/usr/bin/env node
// build.mjs — builds the C core.
//   node scripts/build.mjs wasm     web/unseal.wasm and web/unseal-mt.wasm (threaded) with Emscripten (SIMD128), if stale
//   node scripts/build.mjs native   the native library and C tests (ASan + UBSan) in build/native
// Missing tools are installed with apt-get when running as root; otherwise the
// exact command to run is printed.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ensure, have, mtime, newest, root, run, sources } from './lib.mjs';

const emEnv = { ...process.env, NODE_PATH: ['/usr/share/nodejs', process.env.NODE_PATH].filter(Boolean).join(':') };

// Up to date when web/unseal.wasm (and, for tests, the C tests built as wasm)
// are newer than every source file.
function wasmFresh(withTests) {
  const src = newest([...sources, 'tests/c']);
  for (const f of ['web/unseal.wasm', 'web/unseal-mt.wasm']) if (!existsSync(join(root, f)) || mtime(f) < newest(sources)) return false;
  return !withTests || (existsSync(join(root, 'build/wasm/ctests')) && newest(['build/wasm/ctests']) >= src);
}

export function buildWasm({ force = false, withTests = false } = {}) {
  if (!force && wasmFresh(withTests)) return;
  ensure([
    { ok: () => have('emcc') && have('emcmake'), pkg: 'emscripten', what: 'emcc (Emscripten)' },
    { ok: () => have('cmake'), pkg: 'cmake', what: 'cmake' },
    { ok: () => existsSync('/usr/share/nodejs/acorn'), pkg: 'node-acorn', what: "acorn (Emscripten's JS optimiser needs it)" },
  ]);
  console.log('Building web/unseal.wasm and web/unseal-mt.wasm ...');
  run('emcmake', ['cmake', '-S', '.', '-B', 'build/wasm', '-DCMAKE_BUILD_TYPE=Release'], { env: emEnv, stdio: ['ignore', 'ignore', 'inherit'] });
  run('cmake', ['--build', 'build/wasm', '-j', '2'], { env: emEnv });
}

export function buildNative() {
  ensure([
    { ok: () => have('cmake'), pkg: 'cmake', what: 'cmake' },
    { ok: () => have('cc'), pkg: 'gcc', what: 'a C compiler' },
    { ok: () => existsSync('/usr/include/simde/wasm/simd128.h'), pkg: 'libsimde-dev', what: 'SIMDe (to test the SIMD128 kernels natively)' },
  ]);
  run('cmake', ['-S', '.', '-B', 'build/native', '-DCMAKE_BUILD_TYPE=Debug', '-DUS_SANITIZE=ON'], { stdio: ['ignore', 'ignore', 'inherit'] });
  run('cmake', ['--build', 'build/native', '-j', '2']);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const what = process.argv[2] ?? 'wasm';
  if (what === 'wasm') buildWasm({ force: process.argv.includes('--force') });
  else if (what === 'native') buildNative();
  else {
    console.error('usage: node scripts/build.mjs wasm|native [--force]');
    process.exit(2);
  }
}
