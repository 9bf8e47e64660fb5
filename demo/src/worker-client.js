// worker-client.js — the page's side of worker.js: requests as promises,
// progress callbacks, and cancelling.
//
// cancel() bumps a generation counter that the worker reads from shared
// memory between steps and after every block of a forward, so a long run
// stops within one block and the model stays loaded. If the worker has not
// answered within a few seconds anyway (or the page is not cross-origin
// isolated, so there is no shared memory), it is terminated and a new one
// reloads the model from the same source.

export class CancelledError extends Error {
  constructor() {
    super('cancelled');
    this.name = 'Cancelled';
  }
}

const HARD_CANCEL_MS = 4000;

export class ModelWorker {
  #worker = null;
  #ready = null;
  #pending = new Map(); // id → { resolve, reject, onProgress, gen }
  #nextId = 1;
  #gen = 0;
  #flag = null;
  #source = null; // the source of the last model loaded, to reload after a restart
  #watchdog = null;

  /** onRestart(): called when the worker had to be replaced (the model is reloading). */
  constructor({ onRestart } = {}) {
    this.onRestart = onRestart;
    this.shared = typeof SharedArrayBuffer !== 'undefined' && globalThis.crossOriginIsolated === true;
    this.#spawn();
  }

  #spawn() {
    this.#worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module', name: 'unseal-model' });
    this.#flag = this.shared ? new Int32Array(new SharedArrayBuffer(4)) : null;
    if (this.#flag) Atomics.store(this.#flag, 0, this.#gen);
    this.#ready = new Promise((resolve, reject) => {
      this.#worker.onmessage = ({ data }) => {
        if (data.type === 'ready') {
          this.#worker.postMessage({ type: 'init', cancel: this.#flag?.buffer ?? null });
          resolve();
          this.#worker.onmessage = ({ data: msg }) => this.#receive(msg);
        }
      };
      this.#worker.onerror = (e) => {
        e.preventDefault?.();
        const error = new Error(`the model worker failed: ${e.message ?? 'unknown error'}`);
        reject(error);
        for (const p of this.#pending.values()) p.reject(error);
        this.#pending.clear();
      };
    });
  }

  #receive(msg) {
    const p = this.#pending.get(msg.id);
    if (!p) return;
    if (msg.type === 'progress') {
      p.onProgress?.(msg.progress);
      return;
    }
    this.#pending.delete(msg.id);
    if (!this.#pending.size) this.#clearWatchdog();
    if (msg.type === 'result') p.resolve(msg.result);
    else if (msg.error.name === 'Cancelled' || p.gen !== this.#gen) p.reject(new CancelledError());
    else p.reject(Object.assign(new Error(msg.error.message), { name: msg.error.name, code: msg.error.code }));
  }

  /** Sends a request; resolves to its result, rejects with its error or CancelledError. */
  async request(type, payload = {}, { onProgress } = {}) {
    await this.#ready;
    const id = this.#nextId++;
    const gen = this.#gen;
    return new Promise((resolve, reject) => {
      const done = type === 'load' ? (r) => { this.#source = payload.source; resolve(r); } : resolve;
      this.#pending.set(id, { resolve: done, reject, onProgress, gen, type });
      this.#worker.postMessage({ ...payload, id, gen, type });
    });
  }

  /** True while requests are in flight. */
  get busy() {
    return this.#pending.size > 0;
  }

  /** Cancels every request sent so far. */
  cancel() {
    if (!this.#pending.size) return;
    this.#gen++;
    if (!this.#flag) {
      this.#restart();
      return;
    }
    Atomics.store(this.#flag, 0, this.#gen);
    this.#worker.postMessage({ type: 'cancel' });
    this.#clearWatchdog();
    this.#watchdog = setTimeout(() => {
      const stale = [...this.#pending.values()].some((p) => p.gen !== this.#gen);
      if (stale) this.#restart();
    }, HARD_CANCEL_MS);
  }

  #clearWatchdog() {
    clearTimeout(this.#watchdog);
    this.#watchdog = null;
  }

  /** Terminates the worker, fails what was pending, starts a new one and reloads the model. */
  #restart() {
    this.#clearWatchdog();
    this.#worker.terminate();
    for (const p of this.#pending.values()) p.reject(new CancelledError());
    this.#pending.clear();
    this.#spawn();
    if (this.#source) {
      const reload = this.request('load', { source: this.#source });
      this.onRestart?.(reload);
    }
  }
}
