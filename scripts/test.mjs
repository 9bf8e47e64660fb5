#!/usr/bin/env node
// test.mjs — `npm test`: builds what is stale, then runs every test.
//   1. the C unit tests, native, under AddressSanitizer + UBSan (ctest)
//   2. the JS tests in Node's test runner, against web/unseal.wasm
// `node scripts/test.mjs c` or `js` runs one part.
import { readdirSync } from 'node:fs';
import { buildNative, buildWasm } from './build.mjs';
import { root, run } from './lib.mjs';

const part = process.argv[2] ?? 'all';

if (part === 'all' || part === 'c') {
  buildNative();
  run('ctest', ['--test-dir', 'build/native', '--output-on-failure']);
}
if (part === 'all' || part === 'js') {
  buildWasm({ withTests: true });
  const files = readdirSync(`${root}/tests/js`).filter((f) => f.endsWith('.test.js')).sort().map((f) => `tests/js/${f}`);
  run(process.execPath, ['--test', '--test-reporter=spec', ...files]);
}
