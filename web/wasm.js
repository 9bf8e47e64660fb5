// wasm.js — loads web/unseal.wasm and gives the rest of the package typed
// access to its memory.
//
// The module is a standalone WebAssembly binary (no Emscripten JS glue): we
// instantiate it ourselves, in Node from the file beside this one and in
// browsers with fetch. A bundler or page can point elsewhere by setting
// `globalThis.UNSEAL_WASM_URL` before importing the package.
//
// Struct layouts read here are pinned by _Static_asserts in src/wasm/exports.c.

import { UnsealError, fromStatus } from './errors.js';

const isNode = typeof process !== 'undefined' && !!process.versions?.node;

// The hook relay: C calls unseal.hook(handle, point, phase, in, out); the
// current HookedModel forward answers. Set by hooked_model.js.
let relay = () => 0;
export function setHookRelay(fn) {
  relay = fn;
}

async function fetchBytes(url) {
  if (isNode && url.protocol === 'file:') {
    const fsName = 'node:fs/promises';
    const fs = await import(/* @vite-ignore */ fsName);
    return fs.readFile(url);
  }
  const res = await fetch(url);
  if (!res.ok) throw new UnsealError('ERR_IO', `unseal.wasm: fetching ${url} failed with HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

async function instantiate() {
  // The plain string form new URL('./unseal.wasm', import.meta.url) is what
  // bundlers (Vite, webpack 5) recognise and copy into the build.
  const url = globalThis.UNSEAL_WASM_URL ? new URL(globalThis.UNSEAL_WASM_URL, import.meta.url) : new URL('./unseal.wasm', import.meta.url);
  let bytes;
  try {
    bytes = await fetchBytes(url);
  } catch (e) {
    if (e instanceof UnsealError) throw e;
    throw new UnsealError('ERR_IO', `unseal.wasm: cannot read ${url} (${e.message}). ` +
      'Build it with `npm run build:wasm`, or set globalThis.UNSEAL_WASM_URL.', { cause: e });
  }
  const module = await WebAssembly.compile(bytes);
  // Our own imports; anything else the C library pulled in gets a stub that
  // fails loudly if it is ever called (it never should be).
  const own = {
    unseal: { hook: (h, p, ph, i, o) => relay(h, p, ph, i, o) },
    env: { emscripten_notify_memory_growth: () => {} },
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
  const instance = await WebAssembly.instantiate(module, imports);
  instance.exports._initialize?.();
  return instance.exports;
}

/** The raw exports (usw_* functions and memory). */
export const C = await instantiate();

let u8 = new Uint8Array(C.memory.buffer);
let i32 = new Int32Array(C.memory.buffer);
let f32 = new Float32Array(C.memory.buffer);

/** Current views of wasm memory; re-made when memory has grown. */
export function heap() {
  if (u8.buffer !== C.memory.buffer) {
    u8 = new Uint8Array(C.memory.buffer);
    i32 = new Int32Array(C.memory.buffer);
    f32 = new Float32Array(C.memory.buffer);
  }
  return { u8, i32, f32 };
}

const decoder = new TextDecoder();
/** The NUL-terminated UTF-8 string at ptr. */
export function readCString(ptr) {
  if (!ptr) return null;
  const { u8: m } = heap();
  let end = ptr;
  while (m[end] !== 0) end++;
  return decoder.decode(m.subarray(ptr, end));
}

/** malloc that throws ERR_OOM instead of returning 0. */
export function malloc(bytes, what = 'a buffer') {
  const p = C.usw_malloc(bytes);
  if (!p) throw new UnsealError('ERR_OOM', `out of wasm memory allocating ${bytes} bytes for ${what}`);
  return p;
}

export const DTYPES = ['F32', 'F16', 'BF16', 'I32', 'I64'];
export const DTYPE_F32 = 0;
export const DTYPE_I32 = 3;

// us_tensor: dtype@0 ndim@4 shape[8]@8 stride[8]@40 data@72 name@76, 80 bytes.
export const TENSOR_BYTES = 80;
export const MAX_DIMS = 8;

/** Reads a us_tensor descriptor at ptr. */
export function readTensorDesc(ptr) {
  const { i32: m } = heap();
  const b = ptr >> 2;
  const ndim = m[b + 1];
  const shape = [];
  for (let d = 0; d < ndim; d++) shape.push(m[b + 2 + d]);
  return { dtype: m[b], shape, data: m[b + 18] >>> 0 };
}

/** Writes a contiguous us_tensor descriptor at ptr. */
export function writeTensorDesc(ptr, dtype, shape, dataPtr) {
  const { i32: m } = heap();
  for (let d = 0; d < shape.length; d++) m[(ptr >> 2) + 2 + d] = shape[d];
  C.usw_tensor_set(ptr, dtype, shape.length, dataPtr);
}

/** A reusable us_error in wasm memory: check(status) throws its message. */
export class ErrorSlot {
  constructor() {
    this.ptr = C.usw_error_new();
    if (!this.ptr) throw new UnsealError('ERR_OOM', 'out of wasm memory');
  }
  message() {
    return readCString(this.ptr + 4);
  }
  /** Throws the UnsealError for a non-zero status. */
  check(status, prefix = '') {
    if (status !== 0) throw fromStatus(status, this.message(), prefix);
  }
  free() {
    C.usw_free(this.ptr);
    this.ptr = 0;
  }
}

/** The GEMM micro-kernel this build uses, e.g. "f32_gemm_4x8__wasmsimd". */
export const kernelName = readCString(C.usw_kernel_name());
