#!/usr/bin/env node
// test.mjs — `npm test`: builds what is stale, then runs every test.
//   1. the C unit tests, native, under AddressSanitizer + UBSan (ctest)
//   2. the JS tests in Node's test runner, against the threaded build
//      (web/unseal-mt.wasm, 2 compute threads), then the tests that compare
//      numbers with PyTorch or across builds again against the single-thread
//      build (web/unseal.wasm), which browsers without cross-origin isolation use
// `node scripts/test.mjs c` or `js` runs one part.
import { existsSync, readdirSync } from 'node:fs';
import { buildNative, buildWasm } from './build.mjs';
import { ensure, root, run } from './lib.mjs';

const part = process.argv[2] ?? 'all';

if (part === 'all' || part === 'c') {
  buildNative();
  run('ctest', ['--test-dir', 'build/native', '--output-on-failure']);
}
if (part === 'all' || part === 'js') {
  buildWasm({ withTests: true });
  // The browser test drives Debian's Chromium with playwright-core (a devDependency).
  ensure([{ ok: () => existsSync(process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'), pkg: 'chromium', what: 'Chromium (for the browser test)' }]);
  if (!existsSync(`${root}/node_modules/playwright-core`)) run('npm', [existsSync(`${root}/package-lock.json`) ? 'ci' : 'install', '--no-audit', '--no-fund']);
  const files = readdirSync(`${root}/tests/js`).filter((f) => f.endsWith('.test.js')).sort().map((f) => `tests/js/${f}`);
  run(process.execPath, ['--test', '--test-reporter=spec', ...files], { env: { ...process.env, UNSEAL_THREADS: '2' } });
  const golden = ['golden', 'gpt2_golden', 'gpt2_grad', 'attribution', 'default_model', 'threads', 'seed'].map((f) => `tests/js/${f}.test.js`);
  console.log('\nThe golden tests again, on the single-thread build (UNSEAL_WASM_BUILD=single):');
  run(process.execPath, ['--test', '--test-reporter=dot', ...golden], { env: { ...process.env, UNSEAL_WASM_BUILD: 'single' } });
}
