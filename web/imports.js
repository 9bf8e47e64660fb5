// imports.js — what an instance of unseal.wasm / unseal-mt.wasm imports.
// Used by the main instance (wasm.js) and by each compute worker
// (pool_worker.js), which must not load wasm.js (it instantiates the module).

import { UnsealError } from './errors.js';

/** The imports for `module`: our own (the hook relay; the shared memory of
 * the threaded build); anything else the C library pulled in gets a stub that
 * fails loudly if it is ever called (it never should be). */
export function moduleImports(module, memory, hook) {
  const own = {
    unseal: { hook },
    env: { emscripten_notify_memory_growth: () => {}, ...(memory ? { memory } : {}) },
  };
  const imports = {};
  for (const imp of WebAssembly.Module.imports(module)) {
    imports[imp.module] ??= {};
    const fn = own[imp.module]?.[imp.name];
    imports[imp.module][imp.name] = fn ?? ((...args) => {
      if (imp.module === 'wasi_snapshot_preview1' && imp.name === 'proc_exit') {
        throw new UnsealError('ERR_INVALID_ARG', `unseal.wasm aborted (exit code ${args[0]})`);
      }
      throw new UnsealError('ERR_INVALID_ARG', `unseal.wasm called the unexpected import ${imp.module}.${imp.name}`);
    });
  }
  return imports;
}
