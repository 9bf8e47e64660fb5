// tensor.js — Tensor: a shape and a typed array, in JS memory or viewing wasm.
//
// Tensors made by users (`new Tensor(data, shape)`), returned by forward, or
// made by clone() own their data in JS memory. The tensors handed to hooks
// are *views* of wasm memory: no copy, writable (writes edit the activation
// in place), and valid only during the hook call; afterwards any access
// throws ERR_EXPIRED. `clone()` copies a view into JS memory.

import { UnsealError } from './errors.js';
import { heap } from './wasm.js';
import { formatTensor } from './format.js';

const inspect = Symbol.for('nodejs.util.inspect.custom');
const VIEW = Symbol('view');

function checkShape(shape) {
  if (!Array.isArray(shape)) throw new UnsealError('ERR_SHAPE', `shape must be an array of integers, got ${typeof shape}`);
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new UnsealError('ERR_SHAPE', `shape [${shape.join(', ')}] has an entry that is not a non-negative integer: ${d}`);
  }
  if (shape.length > 8) throw new UnsealError('ERR_SHAPE', `shape [${shape.join(', ')}] has ${shape.length} dimensions; at most 8 are supported`);
  return shape.reduce((a, b) => a * b, 1);
}

/** The shape of a nested array, checked to be rectangular. */
function nestedShape(arr, path = 'input') {
  const shape = [];
  let level = arr;
  while (Array.isArray(level)) {
    shape.push(level.length);
    level = level[0];
  }
  const walk = (a, depth, where) => {
    if (depth === shape.length) {
      if (typeof a !== 'number') throw new UnsealError('ERR_SHAPE', `${where} is ${typeof a === 'object' ? 'an array' : typeof a}, expected a number (nested arrays must be rectangular)`);
      return;
    }
    if (!Array.isArray(a) || a.length !== shape[depth]) {
      throw new UnsealError('ERR_SHAPE', `${where} has length ${Array.isArray(a) ? a.length : 'none'}, expected ${shape[depth]} (nested arrays must be rectangular)`);
    }
    for (let i = 0; i < a.length; i++) walk(a[i], depth + 1, `${where}[${i}]`);
  };
  walk(arr, 0, path);
  return shape;
}

export class Tensor {
  #data;
  #shape;
  #view; // { ptr, length, Ctor, valid } for wasm views

  /**
   * @param {Float32Array|Int32Array|number[]|number[][]} data values (a typed array is wrapped, not copied)
   * @param {number[]} [shape] defaults to [data.length], or the nested arrays' shape
   */
  constructor(data, shape) {
    if (data === VIEW) {
      // Internal: a view of wasm memory (see Tensor._view).
      this.#shape = Object.freeze([...shape.shape]);
      this.#view = { ptr: shape.ptr, length: shape.shape.reduce((a, b) => a * b, 1), Ctor: shape.isInt ? Int32Array : Float32Array, valid: true };
      this.#data = null;
      return;
    }
    if (Array.isArray(data)) {
      const inferred = nestedShape(data);
      const flat = data.flat(Infinity);
      data = Float32Array.from(flat);
      shape ??= inferred;
    }
    if (!(data instanceof Float32Array) && !(data instanceof Int32Array)) {
      throw new UnsealError('ERR_DTYPE', `Tensor data must be a Float32Array, an Int32Array or nested arrays of numbers, got ${data?.constructor?.name ?? typeof data}`);
    }
    shape ??= [data.length];
    const n = checkShape(shape);
    if (n !== data.length) {
      throw new UnsealError('ERR_SHAPE', `Tensor: shape [${shape.join(', ')}] holds ${n} elements but data has ${data.length}`);
    }
    this.#data = data;
    this.#shape = Object.freeze([...shape]);
  }

  /** @internal A view of wasm memory at ptr; call _expire() when the hook returns. */
  static _view(ptr, shape, isInt) {
    return new Tensor(VIEW, { ptr, shape, isInt });
  }

  /** @internal */
  _expire() {
    if (this.#view) {
      this.#view.valid = false;
      this.#data = null;
    }
  }

  /** @internal The wasm address of a view, or 0 for a JS-owned tensor. */
  get _ptr() {
    return this.#view?.valid ? this.#view.ptr : 0;
  }

  /** The values, row-major: a Float32Array (or Int32Array for token ids). */
  get data() {
    const v = this.#view;
    if (!v) return this.#data;
    if (!v.valid) {
      throw new UnsealError('ERR_EXPIRED', 'this tensor viewed wasm memory during a hook call and is no longer valid; call .clone() inside the hook to keep a copy');
    }
    const { u8 } = heap();
    if (!this.#data || this.#data.buffer !== u8.buffer) this.#data = new v.Ctor(u8.buffer, v.ptr, v.length);
    return this.#data;
  }

  get shape() {
    return this.#shape;
  }
  get dtype() {
    return this.data instanceof Int32Array ? 'int32' : 'float32';
  }
  get ndim() {
    return this.#shape.length;
  }
  /** Number of elements. */
  get size() {
    return this.data.length;
  }
  /** True for the wasm-memory views given to hooks. */
  get isView() {
    return !!this.#view;
  }

  /** A copy in JS memory. */
  clone() {
    return new Tensor(this.data.slice(), [...this.#shape]);
  }

  /** The element at the given indices (negative counts from the end). */
  get(...idx) {
    if (idx.length !== this.#shape.length) throw new UnsealError('ERR_SHAPE', `get: expected ${this.#shape.length} indices, got ${idx.length}`);
    let off = 0;
    for (let d = 0; d < idx.length; d++) {
      let i = idx[d];
      const n = this.#shape[d];
      if (i < 0) i += n;
      if (!Number.isInteger(i) || i < 0 || i >= n) throw new UnsealError('ERR_RANGE', `get: index ${idx[d]} is out of range for dimension ${d} of size ${n}`);
      off = off * n + i;
    }
    return this.data[off];
  }

  /** Nested arrays of numbers. */
  toArray() {
    const data = this.data;
    const shape = this.#shape;
    if (shape.length === 0) return data[0];
    const build = (d, off) => {
      const n = shape[d];
      const stride = shape.slice(d + 1).reduce((a, b) => a * b, 1);
      const out = new Array(n);
      for (let i = 0; i < n; i++) out[i] = d === shape.length - 1 ? data[off + i] : build(d + 1, off + i * stride);
      return out;
    };
    return build(0, 0);
  }

  toString() {
    if (this.#view && !this.#view.valid) return `Tensor(expired view, shape=[${this.#shape.join(', ')}])`;
    return formatTensor(this.data, this.#shape, this.data instanceof Int32Array);
  }
  [inspect]() {
    return this.toString();
  }
}

/** Coerces user input into a Tensor: a Tensor, {data, shape}, a typed array (+ shape) or nested arrays. */
export function toTensor(x, shape, what = 'input') {
  if (x instanceof Tensor) return x;
  if (x && !Array.isArray(x) && !ArrayBuffer.isView(x) && typeof x === 'object' && 'data' in x) return new Tensor(x.data, x.shape);
  if (x instanceof Float64Array) return new Tensor(Float32Array.from(x), shape);
  if (Array.isArray(x) || x instanceof Float32Array || x instanceof Int32Array) return new Tensor(x, shape);
  throw new UnsealError('ERR_INVALID_ARG', `${what} must be a Tensor, {data, shape}, a Float32Array/Int32Array or nested arrays of numbers; got ${x?.constructor?.name ?? typeof x}`);
}

export { checkShape };
