// threads.js — the compute threads of the threaded build.
//
// In unseal-mt.wasm (see wasm.js for when it is chosen) the GEMMs and the
// attention heads of a forward are spread over a pool of threads
// (src/core/threadpool.c): the thread that calls `forward` (it alone calls the
// hooks) plus workers, each a Worker (pool_worker.js) running the same module
// over the same shared memory. Results are bit-identical for every thread
// count. In the single-thread build everything runs on the calling thread.
//
//   import { setThreads, getThreads, threadsInfo } from 'unseal-wasm';
//   await setThreads(2);   // resolves to the thread count in effect
//
// The import resolves once the pool has its default size (the machine's cores,
// at most 8; UNSEAL_THREADS overrides). Workers sleep when idle (after a short
// spin) and, in Node, do not keep the process alive.

import { UnsealError } from './errors.js';
import { C, build, malloc, pool } from './wasm.js';

const isNode = typeof process !== 'undefined' && !!process.versions?.node;
const STACK_BYTES = 256 * 1024; // per worker: the kernels use a few KiB
const MAX_THREADS = 64; // the calling thread + US_THREADPOOL_MAX_WORKERS

const workers = []; // workers[id] = { worker, stack, exited: Promise }
let queue = Promise.resolve(); // resizes run one after another

async function cores() {
  if (isNode) {
    const name = 'node:os';
    const os = await import(/* @vite-ignore */ name);
    return os.availableParallelism?.() ?? os.cpus().length;
  }
  return globalThis.navigator?.hardwareConcurrency ?? 1;
}

/** The threads a forward uses now: 1 + the workers that have joined. */
export function getThreads() {
  return C.usw_pool_threads(pool);
}

/** What runs: { build: 'unseal.wasm' | 'unseal-mt.wasm', threaded,
 * threads (now), maxThreads, why (when single-thread: why threads are off) }. */
export function threadsInfo() {
  return { build: build.name, threaded: build.threaded, threads: getThreads(), maxThreads: build.threaded ? MAX_THREADS : 1, why: build.why, error: startError?.message ?? null };
}

function listen(worker, onMessage, onError) {
  if (isNode) {
    worker.on('message', onMessage);
    worker.on('error', onError);
  } else {
    worker.addEventListener('message', (e) => onMessage(e.data));
    worker.addEventListener('error', (e) => onError(new Error(e.message ?? 'worker error')));
  }
}

async function newWorker() {
  if (isNode) {
    const name = 'node:worker_threads';
    const { Worker } = await import(/* @vite-ignore */ name);
    return new Worker(new URL('./pool_worker.js', import.meta.url));
  }
  return new Worker(new URL('./pool_worker.js', import.meta.url), { type: 'module' });
}

/** Starts one worker and joins it to the pool once its instance is ready. */
async function addWorker() {
  const stack = malloc(STACK_BYTES, 'a compute thread stack');
  let worker;
  try {
    worker = await newWorker();
    let exited;
    const ready = new Promise((resolve, reject) => {
      let onExit;
      exited = new Promise((r) => (onExit = r));
      listen(worker, (msg) => {
        if (msg.type === 'ready') resolve();
        else if (msg.type === 'exited') onExit();
        else if (msg.type === 'error') reject(new UnsealError('ERR_INVALID_ARG', `a compute worker failed: ${msg.message}`));
      }, (e) => reject(new UnsealError('ERR_INVALID_ARG', `a compute worker failed: ${e.message}`, { cause: e })));
    });
    worker.postMessage({ type: 'init', module: build.module, memory: C.memory, pool, stackTop: (stack + STACK_BYTES) & ~15 });
    let timer;
    await Promise.race([ready, new Promise((_, reject) => {
      timer = setTimeout(() => reject(new UnsealError('ERR_INVALID_ARG', 'a compute worker did not start within 20 s')), 20000);
    })]).finally(() => clearTimeout(timer));
    // Once running, an idle pool never keeps Node alive (after listen(),
    // whose 'message' listener refs the worker).
    if (isNode) worker.unref();
    // Between jobs (forward is synchronous, so no job runs now): from here on
    // every job waits for this worker, which starts at once.
    const id = C.usw_pool_add_worker(pool);
    if (id < 0) throw new UnsealError('ERR_INVALID_ARG', 'the compute pool is full');
    worker.postMessage({ type: 'start', id });
    workers[id] = { worker, stack, exited };
  } catch (e) {
    worker?.terminate();
    C.usw_free(stack);
    throw e;
  }
}

async function removeWorkers(keep) {
  const leaving = workers.splice(keep);
  if (isNode) for (const { worker } of leaving) worker.ref(); // we wait for their 'exited'
  C.usw_pool_remove_workers(pool, keep); // they leave worker_main at once
  await Promise.all(leaving.map(async ({ worker, stack, exited }) => {
    await exited;
    await worker.terminate();
    C.usw_free(stack);
  }));
}

/**
 * Sets the number of compute threads (the calling thread included) and
 * resolves to the number in effect: always 1 in the single-thread build
 * (`threadsInfo().why` says why), else n. Calls are serialised.
 * @param {number} n  1..64
 */
export function setThreads(n) {
  if (!Number.isInteger(n) || n < 1 || n > MAX_THREADS) {
    return Promise.reject(new UnsealError('ERR_INVALID_ARG', `setThreads: n must be an integer in [1, ${MAX_THREADS}], got ${n}`));
  }
  const run = async () => {
    if (!build.threaded) return 1;
    const want = n - 1;
    if (workers.length > want) await removeWorkers(want);
    while (workers.length < want) await addWorker();
    return getThreads();
  };
  queue = queue.then(run, run);
  return queue;
}

let startError = null;

/** The default thread count: globalThis.UNSEAL_THREADS (or, in Node, the
 * environment variable UNSEAL_THREADS) when set, else the cores, at most 8. */
async function defaultThreads() {
  const set = globalThis.UNSEAL_THREADS ?? (isNode ? process.env.UNSEAL_THREADS : undefined);
  if (set !== undefined && set !== '') {
    const n = Number(set);
    if (!Number.isInteger(n) || n < 1 || n > MAX_THREADS) throw new UnsealError('ERR_INVALID_ARG', `UNSEAL_THREADS is '${set}'; expected an integer in [1, ${MAX_THREADS}]`);
    return n;
  }
  return Math.max(1, Math.min(8, await cores()));
}

/** The default pool, started by this import (which waits for it). If a
 * worker cannot start, forwards run on the threads that did, and
 * threadsInfo().error says why. */
export const threadsReady = build.threaded
  ? defaultThreads().then(setThreads).catch((e) => {
    startError = e;
    return getThreads();
  })
  : Promise.resolve(1);
await threadsReady;
