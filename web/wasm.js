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
import { moduleImports } from './imports.js';

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

// The two builds (see CMakeLists.txt): unseal.wasm, single-thread, its own
// memory; unseal-mt.wasm, the same over an imported SHARED memory, so that
// compute workers (threads.js, pool_worker.js) can run it too. The threaded
// one is chosen where it can run: Node (worker_threads), and pages that are
// cross-origin isolated (SharedArrayBuffer available) with Web Workers.
// `globalThis.UNSEAL_WASM_BUILD = 'single' | 'threaded'` (or the environment
// variable UNSEAL_WASM_BUILD in Node) forces one, set before importing.
const US_MT_INITIAL_PAGES = 256; // -sINITIAL_MEMORY=16MB
const US_MT_MAXIMUM_PAGES = 65536; // -sMAXIMUM_MEMORY=4GB

function threadsPossible() {
  if (typeof SharedArrayBuffer === 'undefined') return 'SharedArrayBuffer is not available (the page is not cross-origin isolated)';
  if (!isNode) {
    if (typeof Worker === 'undefined') return 'Web Workers are not available here';
    if (globalThis.crossOriginIsolated === false) return 'the page is not cross-origin isolated (COOP/COEP headers)';
  }
  try {
    new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
  } catch (e) {
    return `shared WebAssembly memory is not supported (${e.message})`;
  }
  return null;
}

function chooseBuild() {
  const forced = globalThis.UNSEAL_WASM_BUILD ?? (isNode ? process.env.UNSEAL_WASM_BUILD : undefined);
  if (forced !== undefined && forced !== '' && forced !== 'single' && forced !== 'threaded') {
    throw new UnsealError('ERR_INVALID_ARG', `UNSEAL_WASM_BUILD is '${forced}'; expected 'single' or 'threaded'`);
  }
  const why = threadsPossible();
  if (forced === 'threaded' && why) throw new UnsealError('ERR_INVALID_ARG', `UNSEAL_WASM_BUILD is 'threaded' but ${why}`);
  if (forced === 'single') return { threaded: false, why: 'UNSEAL_WASM_BUILD is single' };
  return { threaded: !why, why };
}

async function instantiate() {
  const choice = chooseBuild();
  // The plain string forms new URL('./unseal.wasm', import.meta.url) are what
  // bundlers (Vite, webpack 5) recognise and copy into the build.
  const url = choice.threaded
    ? (globalThis.UNSEAL_WASM_MT_URL ? new URL(globalThis.UNSEAL_WASM_MT_URL, import.meta.url) : new URL('./unseal-mt.wasm', import.meta.url))
    : (globalThis.UNSEAL_WASM_URL ? new URL(globalThis.UNSEAL_WASM_URL, import.meta.url) : new URL('./unseal.wasm', import.meta.url));
  let bytes;
  try {
    bytes = await fetchBytes(url);
  } catch (e) {
    if (e instanceof UnsealError) throw e;
    throw new UnsealError('ERR_IO', `${choice.threaded ? 'unseal-mt.wasm' : 'unseal.wasm'}: cannot read ${url} (${e.message}). ` +
      'Build it with `npm run build:wasm`, or set globalThis.UNSEAL_WASM_URL / UNSEAL_WASM_MT_URL.', { cause: e });
  }
  const module = await WebAssembly.compile(bytes);
  const memory = choice.threaded ? new WebAssembly.Memory({ initial: US_MT_INITIAL_PAGES, maximum: US_MT_MAXIMUM_PAGES, shared: true }) : null;
  const instance = await WebAssembly.instantiate(module, moduleImports(module, memory, (h, p, ph, i, o) => relay(h, p, ph, i, o)));
  instance.exports._initialize?.();
  // One object for both builds: the exports, and the memory (exported by the
  // single-thread build, imported by the threaded one).
  const exports = { ...instance.exports, memory: memory ?? instance.exports.memory };
  return { exports, module, threaded: choice.threaded, why: choice.why };
}

const loaded = await instantiate();

/** The raw exports (usw_* functions and memory). */
export const C = loaded.exports;

/** Which build runs: { name: 'unseal.wasm' | 'unseal-mt.wasm', threaded,
 * module (the compiled WebAssembly.Module, for the compute workers), why
 * (when single-thread: the reason threads are not used) }. */
export const build = { name: loaded.threaded ? 'unseal-mt.wasm' : 'unseal.wasm', threaded: loaded.threaded, module: loaded.module, why: loaded.why ?? null };

/** The compute pool every model runs on (src/core/threadpool.h): workers
 * join it through threads.js; without them it runs on the calling thread. */
export const pool = C.usw_pool_new(63);

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
  ptr >>>= 0; // addresses from 2 GiB up arrive as negative int32s
  const { u8: m } = heap();
  let end = ptr;
  while (m[end] !== 0) end++;
  // a copy: TextDecoder refuses views of shared memory (the threaded build)
  return decoder.decode(m.slice(ptr, end));
}

/**
 * malloc that throws ERR_OOM instead of returning 0. The address is unsigned
 * (wasm returns it as an int32, negative from 2 GiB up); index typed arrays
 * with `ptr >>> 2`, never `>> 2`, for the same reason.
 */
export function malloc(bytes, what = 'a buffer') {
  const p = C.usw_malloc(bytes);
  if (!p) throw new UnsealError('ERR_OOM', `out of wasm memory allocating ${bytes} bytes for ${what}`);
  return p >>> 0;
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
  const b = ptr >>> 2;
  const ndim = m[b + 1];
  const shape = [];
  for (let d = 0; d < ndim; d++) shape.push(m[b + 2 + d]);
  return { dtype: m[b], shape, data: m[b + 18] >>> 0 };
}

/** Writes a contiguous us_tensor descriptor at ptr. */
export function writeTensorDesc(ptr, dtype, shape, dataPtr) {
  const { i32: m } = heap();
  for (let d = 0; d < shape.length; d++) m[(ptr >>> 2) + 2 + d] = shape[d];
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
