// c_tests_wasm.test.js — the C unit tests (tests/c) compiled to WebAssembly
// with -msimd128 and run here under WASI: the same tests that ctest runs
// natively, now on the real SIMD128 kernels as Node executes them.
import assert from 'node:assert/strict';
import { closeSync, existsSync, openSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { WASI } from 'node:wasi';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dir = join(root, 'build/wasm/ctests');
const programs = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.wasm')).sort() : [];

test('the C unit tests were built as WebAssembly', () => {
  assert.ok(programs.length >= 4, `expected the C tests in ${dir} (built by npm test / node scripts/build.mjs wasm), found ${programs}`);
});

for (const file of programs) {
  test(`C tests as WebAssembly: ${file}`, async () => {
    const outPath = join(tmpdir(), `unseal-${process.pid}-${file}.out`);
    const fd = openSync(outPath, 'w');
    let code;
    try {
      const wasi = new WASI({ version: 'preview1', args: [file], env: {}, preopens: { '.': root, tests: join(root, 'tests') }, stdout: fd, stderr: fd, returnOnExit: true });
      const module = await WebAssembly.compile(readFileSync(join(dir, file)));
      const instance = await WebAssembly.instantiate(module, { ...wasi.getImportObject(), env: { emscripten_notify_memory_growth() {} } });
      code = wasi.start(instance);
    } finally {
      closeSync(fd);
    }
    const out = readFileSync(outPath, 'utf8');
    assert.equal(code, 0, out);
    assert.match(out, /(\d+) passed, 0 failed/);
  });
}
