// hooked_model.js — Hook and HookedModel: Unseal's hooking interface over
// the C core's eval callback.
//
// A forward attaches the given hooks, runs the C forward, and detaches them in
// `finally`. C asks at every point whether it is watched (one call, answered
// from an array) and, for watched points, calls back with the point's input
// and output; the hooks run here with Tensor views of wasm memory.

import { UnsealError, fromStatus } from './errors.js';
import { C, DTYPE_F32, DTYPE_I32, ErrorSlot, TENSOR_BYTES, heap, malloc, pool, readCString, readTensorDesc, setHookRelay, writeTensorDesc } from './wasm.js';
import { Tensor, toTensor } from './tensor.js';
import { Embedding, Module, Sequential } from './nn.js';
import { SafetensorsFile, describeSource, readBytes, writeSafetensors } from './io.js';

const inspect = Symbol.for('nodejs.util.inspect.custom');

/** A hook: where it attaches, what it runs, and the key its results go under. */
export class Hook {
  /**
   * @param {string} layerName a key of model.layers, e.g. '2->0'
   * @param {(saveCtx: object, input: Tensor, output: Tensor) => (Tensor|Float32Array|undefined)} func
   * @param {string} key where saveCtx lives: model.saveCtx[key]
   */
  constructor(layerName, func, key) {
    if (typeof layerName !== 'string') throw new UnsealError('ERR_INVALID_ARG', `Hook: layerName must be a string, got ${typeof layerName}`);
    if (typeof func !== 'function') throw new UnsealError('ERR_INVALID_ARG', `Hook '${key}': func must be a function, got ${typeof func}`);
    if (typeof key !== 'string' || key === '') throw new UnsealError('ERR_INVALID_ARG', `Hook on '${layerName}': key must be a non-empty string, got ${JSON.stringify(key)}`);
    this.layerName = layerName;
    this.func = func;
    this.key = key;
    Object.freeze(this);
  }
}

function levenshtein(a, b) {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length];
}

/** Up to n names closest to `name`, for error messages. */
export function closestNames(name, names, n = 3) {
  return [...names]
    .map((k) => [levenshtein(name, k), k])
    .sort((x, y) => x[0] - y[0] || (x[1] < y[1] ? -1 : 1))
    .slice(0, n)
    .map(([, k]) => k);
}

// How many live HookedModels hold each module wrapper: a wrapper is disposed
// when the last model holding it is.
const owners = new WeakMap();

function distinctModules(root) {
  const seen = new Set();
  const walk = (m) => {
    if (seen.has(m)) return;
    seen.add(m);
    m.children.forEach(walk);
  };
  walk(root);
  return seen;
}

// The forwards in progress, by the integer handle C passes back to the relay.
const active = new Map();
let nextHandle = 1;

// Phases (enum us_hook_phase): 0 ask, 1 observe, 2 ask (backward), 3 observe (backward).
setHookRelay((handle, point, phase, inPtr, outPtr) => {
  const run = active.get(handle);
  if (!run) return 0;
  const hooks = run.byPoint[point];
  if (phase === 0 || phase === 2) return hooks ? 1 : 0;
  return run.observe(point, hooks, inPtr, outPtr);
});

function viewOf(descPtr) {
  const { dtype, shape, data } = readTensorDesc(descPtr);
  return Tensor._view(data, shape, dtype === DTYPE_I32);
}

/**
 * The C side of a HookedModel: the module-tree model (below) or GPT-2
 * (gpt2.js). A backend owns its C object and knows how to run it.
 * @internal
 */
class TreeBackend {
  constructor(module) {
    const err = new ErrorSlot();
    try {
      this.ptr = C.usw_model_new(module._handle, err.ptr);
      if (!this.ptr) err.check(heap().i32[err.ptr >>> 2] || 2, 'HookedModel: ');
      C.usw_model_set_pool(this.ptr, pool); // compute threads: see threads.js
    } finally {
      err.free();
    }
    const byHandle = new Map();
    for (const m of distinctModules(module)) byHandle.set(m._handle, m);
    this.layers = new Map();
    const n = C.usw_model_num_points(this.ptr);
    for (let i = 0; i < n; i++) {
      this.layers.set(readCString(C.usw_model_point_name(this.ptr, i)), byHandle.get(C.usw_model_point_module(this.ptr, i)));
    }
    this.points = new Map([...this.layers.keys()].map((k, i) => [k, i]));
    let first = module;
    while (first instanceof Sequential && first.children.length) first = first.children[0];
    this.inputIsIds = first instanceof Embedding;
    this.module = module;
    for (const m of distinctModules(module)) owners.set(m, (owners.get(m) ?? 0) + 1);
  }

  /** The point index of a hook's layer name, or throws (with the closest names). */
  resolve(name, hookKey) {
    const p = this.points.get(name);
    if (p === undefined) throw unknownLayer(name, hookKey, this.layers.keys());
    return p;
  }

  toInput(input, shape) {
    let t = toTensor(input, shape);
    if (this.inputIsIds && !(t.data instanceof Int32Array)) {
      const ids = new Int32Array(t.data.length);
      t.data.forEach((v, i) => {
        if (!Number.isInteger(v)) throw new UnsealError('ERR_DTYPE', `input: the model starts with an Embedding, so the input must be integer ids; element ${i} is ${v}`);
        ids[i] = v;
      });
      t = new Tensor(ids, [...t.shape]);
    } else if (!this.inputIsIds && t.data instanceof Int32Array) {
      t = new Tensor(Float32Array.from(t.data), [...t.shape]);
    }
    return t;
  }

  run(inDesc, outDesc, handle, errPtr) {
    return C.usw_model_forward(this.ptr, inDesc, outDesc, handle, errPtr);
  }

  runTrain(inDesc, outDesc, handle, errPtr) {
    const status = C.usw_model_forward_train(this.ptr, inDesc, outDesc, handle, errPtr);
    this.trainShape = status === 0 ? readTensorDesc(outDesc).shape : null;
    return status;
  }

  free() {
    C.usw_model_free(this.ptr);
    this.ptr = 0;
    for (const m of distinctModules(this.module)) {
      const n = (owners.get(m) ?? 1) - 1;
      owners.set(m, n);
      if (n <= 0) m.dispose();
    }
  }
}

/** The ERR_UNKNOWN_LAYER error for a hook's layer name. */
export function unknownLayer(name, hookKey, names) {
  const near = closestNames(name, names);
  return new UnsealError('ERR_UNKNOWN_LAYER', `hook '${hookKey}': there is no layer named '${name}'; the closest are ${near.map((k) => `'${k}'`).join(', ')} (model.layers.keys() lists them all)`);
}

const INTERNAL = Symbol('internal');

/** A predicate over layer names from runWithCache's `names`. */
function nameMatcher(names, canonical) {
  if (names === undefined || names === null) return () => true;
  if (typeof names === 'function') return names;
  if (names instanceof RegExp) return (n) => names.test(n);
  const list = Array.isArray(names) ? names : [names];
  const tests = list.map((p) => {
    if (typeof p !== 'string') throw new UnsealError('ERR_INVALID_ARG', `runWithCache: names must be strings, globs, a RegExp or a function; got ${typeof p}`);
    if (!p.includes('*') && !p.includes('?')) {
      const c = canonical(p);
      return (n) => n === c;
    }
    const re = new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
    return (n) => re.test(n);
  });
  return (n) => tests.some((t) => t(n));
}

const sameShape = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

/** Whether two typed arrays of equal length hold the same bytes (NaNs included). */
function sameBytes(a, b) {
  const n = a.byteLength;
  if (n % 4 === 0) {
    const x = new Int32Array(a.buffer, a.byteOffset, n / 4), y = new Int32Array(b.buffer, b.byteOffset, n / 4);
    for (let k = 0; k < x.length; k++) if (x[k] !== y[k]) return false;
    return true;
  }
  const x = new Uint8Array(a.buffer, a.byteOffset, n), y = new Uint8Array(b.buffer, b.byteOffset, n);
  for (let k = 0; k < n; k++) if (x[k] !== y[k]) return false;
  return true;
}

export class HookedModel {
  #backend;
  #err;
  #running = false;

  /**
   * @param {Module} module the model to wrap. dispose() frees its tree (a
   *   module also held by another live HookedModel stays usable there).
   */
  constructor(module, internal) {
    if (internal?.token === INTERNAL) {
      this.#backend = internal.backend;
      this.model = internal.model;
    } else {
      if (!(module instanceof Module)) throw new UnsealError('ERR_INVALID_ARG', `HookedModel: expected an nn module, got ${module?.constructor?.name ?? typeof module}`);
      module._handle; // throws if disposed
      this.#backend = new TreeBackend(module);
      this.model = module;
    }
    /** Map from Unseal layer name ('2->0') to module, in pre-order. */
    this.layers = this.#backend.layers;
    /** What hooks saved, by hook key. */
    this.saveCtx = {};
    this.#err = new ErrorSlot();
  }

  /** @internal For subclasses wrapping another backend (gpt2.js). */
  static _internal(backend, model) {
    return { token: INTERNAL, backend, model };
  }

  /** @internal */
  get _backend() {
    this.#check();
    return this.#backend;
  }

  #check() {
    if (!this.#backend?.ptr) throw new UnsealError('ERR_DISPOSED', `this ${this.constructor.name} has been disposed`);
  }

  get disposed() {
    return !this.#backend?.ptr;
  }

  /**
   * Runs the model with `hooks` attached, then detaches them (also when a hook
   * or the model throws). Returns the output as a JS-owned Tensor.
   * @param {Tensor|{data, shape}|Float32Array|Int32Array|number[]} input
   * @param {{hooks?: Hook[], shape?: number[]}} [options]
   */
  forward(input, { hooks = [], shape, grad = false } = {}) {
    return this._run(input, { hooks, shape, train: grad });
  }

  /**
   * Backpropagates `seed`, the gradient of the last forward({ grad: true })'s
   * output (a Tensor or Float32Array shaped like it), accumulating into the
   * parameter gradients (zeroGrad() resets them). Backward hooks:
   * func(saveCtx, gradInput, gradOutput, info), children before their
   * Sequential; editing or returning gradInput changes what flows upstream.
   * @returns {{ inputGrad: Tensor | null }} the input's gradient (null for token ids)
   */
  backward(seed, { hooks = [] } = {}) {
    const backend = this._backend;
    if (!backend.trainShape) throw new UnsealError('ERR_INVALID_ARG', 'backward: run model.forward(input, { grad: true }) first');
    const shape = backend.trainShape;
    const n = shape.reduce((a, b) => a * b, 1);
    const data = seed instanceof Tensor ? seed.data : seed;
    if (!(data instanceof Float32Array) || data.length !== n || (seed instanceof Tensor && seed.shape.join() !== shape.join())) {
      throw new UnsealError('ERR_SHAPE', `backward: the seed must be the output's gradient, a Tensor [${shape.join(', ')}] or a Float32Array of ${n}`);
    }
    const dout = malloc(4 * n || 4, 'the output gradient');
    const gradDesc = malloc(TENSOR_BYTES, 'a tensor descriptor');
    try {
      heap().f32.set(data, dout >>> 2);
      this._withGradHooks(hooks, (handle, errPtr) => C.usw_model_backward(backend.ptr, dout, gradDesc, handle, errPtr));
      const g = readTensorDesc(gradDesc);
      if (!g.data) return { inputGrad: null };
      const m = g.shape.reduce((a, b) => a * b, 1);
      return { inputGrad: new Tensor(heap().f32.slice(g.data >>> 2, (g.data >>> 2) + m), g.shape) };
    } finally {
      C.usw_free(dout);
      C.usw_free(gradDesc);
    }
  }

  /** {name: Tensor} copies of every parameter's gradient, named as stateDict() (zeros before any backward). */
  grads() {
    this.#check();
    const out = {};
    const walk = (m, prefix) => {
      m._params().forEach((p, i) => {
        const n = p.shape.reduce((a, b) => a * b, 1);
        const g = C.usw_module_param_grad(m._handle, i);
        out[prefix + p.name] = new Tensor(g ? heap().f32.slice(g >>> 2, (g >>> 2) + n) : new Float32Array(n), p.shape);
      });
      for (const [name, c] of m.namedChildren) walk(c, `${prefix}${name}.`);
    };
    walk(this.model, '');
    return out;
  }

  /** Sets every parameter gradient to zero. */
  zeroGrad() {
    this.#check();
    C.usw_module_zero_grad(this.model._handle);
  }

  /**
   * @internal The forward behind forward(), generate() and runWithCache():
   * `extra` is passed to the backend's run (GPT-2's KV cache).
   */
  _run(input, { hooks = [], shape, extra, info = {}, resetCtx = true, train = false } = {}) {
    this.#check();
    const session = this.#session(hooks, { resetCtx, info, grad: false });
    const t = this.#backend.toInput(input, shape);
    session.open();
    const bytes = t.data.byteLength;
    const inData = malloc(bytes, 'the input');
    const inDesc = malloc(TENSOR_BYTES * 2, 'tensor descriptors');
    const outDesc = inDesc + TENSOR_BYTES;
    try {
      heap().u8.set(new Uint8Array(t.data.buffer, t.data.byteOffset, bytes), inData);
      writeTensorDesc(inDesc, t.data instanceof Int32Array ? DTYPE_I32 : DTYPE_F32, t.shape, inData);
      const status = train
        ? this.#backend.runTrain(inDesc, outDesc, session.handle, this.#err.ptr)
        : this.#backend.run(inDesc, outDesc, session.handle, this.#err.ptr, extra);
      session.throwIfFailed(status, this.#err);
      const out = readTensorDesc(outDesc);
      const n = out.shape.reduce((a, b) => a * b, 1);
      const data = heap().f32.slice(out.data >>> 2, (out.data >>> 2) + n);
      return new Tensor(data, out.shape);
    } finally {
      session.close();
      C.usw_free(inDesc);
      C.usw_free(inData);
    }
  }

  /**
   * @internal Runs `call(handle, errPtr)` (a C backward) with backward hooks:
   * func(saveCtx, gradInput, gradOutput, info); returning a Tensor or
   * Float32Array replaces gradInput, the gradient flowing on upstream.
   */
  _withGradHooks(hooks, call) {
    this.#check();
    const session = this.#session(hooks, { resetCtx: true, info: {}, grad: true });
    session.open();
    try {
      session.throwIfFailed(call(session.handle, this.#err.ptr), this.#err);
    } finally {
      session.close();
    }
  }

  /**
   * Validates hooks (before touching any state) and prepares the relay
   * session that runs them: open() attaches, close() detaches.
   */
  #session(hooks, { resetCtx, info, grad }) {
    if (this.#running) throw new UnsealError('ERR_REENTRANT', `${grad ? 'backward' : 'forward'} was called from inside a hook; a hook may not run the model it is hooked into`);
    if (!Array.isArray(hooks)) throw new UnsealError('ERR_INVALID_ARG', `hooks must be an array of Hook, got ${typeof hooks}`);
    const byPoint = [];
    const keys = new Set();
    hooks.forEach((h, i) => {
      if (!h || typeof h.func !== 'function' || typeof h.layerName !== 'string' || typeof h.key !== 'string') {
        throw new UnsealError('ERR_INVALID_ARG', `hooks[${i}] is not a Hook (expected new Hook(layerName, func, key))`);
      }
      const p = this.#backend.resolve(h.layerName, h.key);
      if (keys.has(h.key)) throw new UnsealError('ERR_DUPLICATE_KEY', `two hooks in one call use the key '${h.key}'; each hook needs its own key`);
      keys.add(h.key);
      (byPoint[p] ??= []).push(h);
    });
    const handle = hooks.length ? nextHandle++ : 0;
    const run = {
      byPoint,
      error: null,
      observe: (point, pointHooks, inPtr, outPtr) => {
        const inT = inPtr ? viewOf(inPtr) : null;
        const outT = viewOf(outPtr);
        try {
          for (const h of pointHooks) {
            const r = h.func(this.saveCtx[h.key], inT, outT, { ...info, key: h.key, layerName: h.layerName, grad });
            if (r === undefined) continue;
            if (grad && !inT) throw new UnsealError('ERR_HOOK_RETURN', `backward hook '${h.key}' on '${h.layerName}' returned a value, but this point's input (token ids) has no gradient to replace`);
            this.#replace(h, r, grad ? inT : outT);
          }
          return 0;
        } catch (e) {
          run.error = e;
          return 1;
        } finally {
          inT?._expire();
          outT._expire();
        }
      },
    };
    return {
      handle,
      open: () => {
        if (resetCtx) for (const k of keys) this.saveCtx[k] = {};
        else for (const k of keys) this.saveCtx[k] ??= {};
        this.#running = true;
        if (handle) active.set(handle, run);
      },
      close: () => {
        if (handle) active.delete(handle);
        this.#running = false;
      },
      throwIfFailed: (status, err) => {
        if (run.error) throw run.error;
        if (status !== 0) throw fromStatus(status, err.message());
      },
    };
  }

  /** Applies a hook's return value: a same-shaped Tensor or Float32Array replaces the output. */
  #replace(hook, r, outT) {
    let data;
    if (r instanceof Tensor) {
      if (r.shape.length !== outT.shape.length || r.shape.some((d, i) => d !== outT.shape[i])) {
        throw new UnsealError('ERR_HOOK_RETURN', `hook '${hook.key}' on layer '${hook.layerName}' returned a Tensor of shape [${r.shape.join(', ')}], but the output has shape [${outT.shape.join(', ')}]`);
      }
      data = r.data;
    } else if (r instanceof Float32Array) {
      if (r.length !== outT.size) {
        throw new UnsealError('ERR_HOOK_RETURN', `hook '${hook.key}' on layer '${hook.layerName}' returned a Float32Array of length ${r.length}, but the output [${outT.shape.join(', ')}] has ${outT.size} elements`);
      }
      data = r;
    } else {
      const what = r === null ? 'null' : Array.isArray(r) ? 'an Array' : r?.constructor?.name ?? typeof r;
      throw new UnsealError('ERR_HOOK_RETURN', `hook '${hook.key}' on layer '${hook.layerName}' returned ${what}; a hook returns nothing, or a Tensor or Float32Array of the output's shape [${outT.shape.join(', ')}]`);
    }
    if (outT.data instanceof Int32Array) throw new UnsealError('ERR_HOOK_RETURN', `hook '${hook.key}': the output of '${hook.layerName}' holds token ids and cannot be replaced`);
    if (data !== outT.data) outT.data.set(data);
  }

  /**
   * Runs a forward and returns every activation whose layer name matches
   * `names` (all by default): a name, an alias, a glob ('transformer->h->*->attn->pattern';
   * '*' matches anything), an array of those, a RegExp or a function of the name.
   * User `hooks` run first, so the cache sees their edits. The cache is in execution order.
   * @returns {{ output: Tensor, cache: Map<string, Tensor>, bytes: number }}
   */
  runWithCache(input, { names, hooks = [], shape, train = false } = {}) {
    this.#check();
    const match = nameMatcher(names, (n) => this.#backend.canonical?.(n) ?? n);
    const selected = [...this.layers.keys()].filter((n) => (this.#backend.fires?.(n) ?? true) && match(n));
    if (names !== undefined && !selected.length) {
      throw new UnsealError('ERR_UNKNOWN_LAYER', `runWithCache: no layer matches ${String(names)}; model.layers.keys() lists them all`);
    }
    const cache = new Map();
    // Consecutive points often output the very same values in the same
    // buffer (dropout at inference, a module and its last child: attn and
    // attn.resid_dropout and attn.c_proj); then their entries share one copy,
    // as PyTorch's run_with_cache holds one tensor for them (eval-mode dropout
    // returns its input). Shared only when the bytes are equal, so an edit in
    // place between two points (a hook, softmax over the scores) is kept apart.
    let last = null; // { offset, shape, copy } of the last point cached
    const snapshot = (o) => {
      const d = o.data;
      if (last && last.offset === d.byteOffset && last.copy.data.length === d.length && sameShape(last.shape, o.shape) &&
          sameBytes(last.copy.data, d)) return new Tensor(last.copy.data, [...o.shape]);
      const copy = o.clone();
      last = { offset: d.byteOffset, shape: [...o.shape], copy };
      return copy;
    };
    const cacheHooks = selected.map((n) => new Hook(n, (ctx, i, o) => { cache.set(n, snapshot(o)); }, `__cache__${n}`));
    try {
      const output = this._run(input, { hooks: [...hooks, ...cacheHooks], shape, train });
      let bytes = 0;
      const counted = new Set(); // shared copies once
      for (const t of cache.values()) if (!counted.has(t.data)) bytes += (counted.add(t.data), t.data.byteLength);
      return { output, cache, bytes };
    } finally {
      for (const h of cacheHooks) delete this.saveCtx[h.key];
    }
  }

  /** Deletes saveCtx[key], or every key when called without one. */
  clearCtx(key) {
    if (key === undefined) this.saveCtx = {};
    else delete this.saveCtx[key];
  }

  /** {name: Tensor} copies of every parameter, named as PyTorch's state_dict(). */
  stateDict() {
    this.#check();
    return Object.fromEntries(this.model.namedParameters());
  }

  /** safetensors bytes of the state dict, readable by safetensors.torch.load. */
  saveStateDict() {
    return writeSafetensors(this.model.namedParameters());
  }

  /**
   * Loads parameters from a safetensors file: bytes, a URL, or (Node) a path.
   * Strict (the default): missing, unexpected or mis-shaped tensors are an
   * error naming them and nothing is changed. With strict: false, matching
   * tensors are loaded and the rest returned.
   * @returns {Promise<{missingKeys: string[], unexpectedKeys: string[], mismatchedKeys: {name, expected, got}[]}>}
   */
  async loadStateDict(src, { strict = true } = {}) {
    this.#check();
    const name = describeSource(src);
    const bytes = await readBytes(src);
    this.#check();
    const file = new SafetensorsFile(bytes, name);
    try {
      // Every destination parameter, named as in the state dict.
      const dest = new Map();
      const collect = (m, prefix) => {
        for (const p of m._params()) dest.set(prefix + p.name, { module: m, ...p });
        for (const [name, c] of m.namedChildren) collect(c, `${prefix}${name}.`);
      };
      collect(this.model, '');
      const found = new Map(file.entries.map((e) => [e.name, e]));
      const missingKeys = [...dest.keys()].filter((k) => !found.has(k));
      const unexpectedKeys = file.entries.map((e) => e.name).filter((k) => !dest.has(k));
      const mismatchedKeys = [];
      const badDtype = [];
      for (const [k, d] of dest) {
        const e = found.get(k);
        if (!e) continue;
        if (e.shape.join() !== d.shape.join()) mismatchedKeys.push({ name: k, expected: d.shape, got: e.shape });
        else if (!['F32', 'F16', 'BF16'].includes(e.dtype)) badDtype.push(`'${k}' (${e.dtype})`);
      }
      if (badDtype.length) throw new UnsealError('ERR_DTYPE', `${name}: parameters must be F32, F16 or BF16; got ${badDtype.join(', ')}`);
      if (strict && (missingKeys.length || unexpectedKeys.length || mismatchedKeys.length)) {
        const parts = [];
        if (missingKeys.length) parts.push(`missing key(s): ${missingKeys.map((k) => `'${k}'`).join(', ')}`);
        if (unexpectedKeys.length) parts.push(`unexpected key(s): ${unexpectedKeys.map((k) => `'${k}'`).join(', ')}`);
        for (const m of mismatchedKeys) parts.push(`size mismatch for '${m.name}': the file has shape [${m.got.join(', ')}], the model has [${m.expected.join(', ')}]`);
        const e = new UnsealError('ERR_STATE_DICT', `Error(s) in loading state dict from ${name}: ${parts.join('; ')}. Nothing was loaded.`);
        Object.assign(e, { missingKeys, unexpectedKeys, mismatchedKeys });
        throw e;
      }
      const bad = new Set(mismatchedKeys.map((m) => m.name));
      const touched = new Set();
      for (const [k, d] of dest) {
        const e = found.get(k);
        if (!e || bad.has(k)) continue;
        file.readF32Into(e.index, d.ptr);
        touched.add(d.module);
      }
      for (const m of touched) m._paramsChanged();
      return { missingKeys, unexpectedKeys, mismatchedKeys };
    } finally {
      file.free();
    }
  }

  /**
   * Frees the model's wasm memory and that of every module in its tree (a
   * module also held by another live HookedModel stays usable there).
   */
  dispose() {
    if (!this.#backend?.ptr) return;
    this.#backend.free();
    this.#err.free();
  }

  /** PyTorch's repr of the wrapped model, as Unseal prints it. */
  toString() {
    return this.model.toString();
  }
  [inspect]() {
    return this.toString();
  }
}
