// pool_worker.js — one compute thread of the threaded build (unseal-mt.wasm).
//
// Started by threads.js (a worker_threads Worker in Node, a module Web Worker
// in browsers). It instantiates the same compiled module over the same shared
// memory, moves its stack pointer to the block the main thread allocated for
// it, and then lives inside usw_pool_worker_main: C code that waits for jobs
// of the pool (src/core/threadpool.c) and runs their kernel tasks. It never
// calls hooks, never allocates, and returns only when the pool removes it.
//
// Messages: in  { type: 'init', module, memory, pool, stackTop } -> out { type: 'ready' }
//           in  { type: 'start', id }  -> (runs until removed) -> out { type: 'exited', id }
//           out { type: 'error', message } on any failure before 'start'.
import { moduleImports } from './imports.js';

const isNode = typeof process !== 'undefined' && !!process.versions?.node;
let port = isNode ? null : self;
const post = (msg) => port.postMessage(msg);
let exports = null;
let pool = 0;

async function onMessage(msg) {
  try {
    if (msg.type === 'init') {
      const noHooks = () => {
        throw new Error('a compute worker was asked to call a hook');
      };
      const instance = await WebAssembly.instantiate(msg.module, moduleImports(msg.module, msg.memory, noHooks));
      exports = instance.exports;
      pool = msg.pool;
      exports.stackRestore(msg.stackTop); // this thread's own stack
      post({ type: 'ready' });
    } else if (msg.type === 'start') {
      exports.usw_pool_worker_main(pool, msg.id); // until removed
      post({ type: 'exited', id: msg.id });
    }
  } catch (e) {
    post({ type: 'error', message: e?.message ?? String(e) });
  }
}

// No top-level await: bundlers build workers as classic scripts by default.
if (isNode) {
  const name = 'node:worker_threads';
  import(/* @vite-ignore */ name).then((m) => {
    port = m.parentPort;
    port.on('message', onMessage);
  });
} else {
  self.onmessage = (e) => onMessage(e.data);
}
