// nn.js — the module constructors, mirroring torch.nn.
//
// Each JS module wraps one reference to a C module (src/nn/module.c) whose
// parameters live in wasm memory. `dispose()` drops that reference; a
// HookedModel disposes its whole tree. Parameters read through `module.weight`
// are copies; assigning `module.weight = tensor` writes through. Printing a
// module gives PyTorch's repr, character for character.

import { UnsealError } from './errors.js';
import { C, ErrorSlot, heap, readCString, readTensorDesc } from './wasm.js';
import { Tensor, toTensor } from './tensor.js';

const KIND = {
  SEQUENTIAL: 0, LINEAR: 1, RELU: 2, GELU: 3, GELU_TANH: 4, TANH: 5, SIGMOID: 6,
  SOFTMAX: 7, LAYERNORM: 8, EMBEDDING: 9, DROPOUT: 10, IDENTITY: 11,
};

// ---------------------------------------------------------------- seeded RNG

// xoshiro128** seeded through splitmix32: the generator behind default
// initialisation. Deterministic by default (seed 0), like torch's default seed.
function makeRng(seed) {
  let x = seed >>> 0;
  const split = () => {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  const s = [split(), split(), split(), split()];
  const rotl = (v, k) => ((v << k) | (v >>> (32 - k))) >>> 0;
  const next = () => {
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t; s[3] = rotl(s[3], 11);
    return result;
  };
  const uniform = () => (next() >>> 8) / 16777216; // [0, 1), 24 bits
  return {
    uniform,
    normal() {
      const u1 = 1 - uniform(); // (0, 1]
      const u2 = uniform();
      return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    },
  };
}

let rng = makeRng(0);

/** Seeds the generator used by default initialisation (like torch.manual_seed). */
export function manualSeed(seed) {
  if (!Number.isInteger(seed)) throw new UnsealError('ERR_INVALID_ARG', `manualSeed: seed must be an integer, got ${seed}`);
  rng = makeRng(seed);
}

// ---------------------------------------------------------------- repr helpers

/** Python's repr of a float: 1e-05, 0.001, 0.1, 1.0. */
export function pyFloat(x) {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'nan' : x > 0 ? 'inf' : '-inf';
  if (Number.isInteger(x) && Math.abs(x) < 1e16) return x.toFixed(1);
  const [mant, expStr] = x.toExponential().split('e');
  const exp = Number(expStr);
  if (exp < -4 || exp >= 16) {
    const e = Math.abs(exp);
    return `${mant}e${exp < 0 ? '-' : '+'}${e < 10 ? '0' : ''}${e}`;
  }
  return String(x);
}

/** PyTorch's _addindent: indent every line but the first. */
function addIndent(s, n) {
  const lines = s.split('\n');
  if (lines.length === 1) return s;
  const pad = ' '.repeat(n);
  return [lines[0], ...lines.slice(1).map((l) => pad + l)].join('\n');
}

function positiveInt(value, what) {
  if (!Number.isInteger(value) || value <= 0) {
    throw new UnsealError('ERR_INVALID_ARG', `${what} must be a positive integer, got ${value}`);
  }
  return value;
}

const registry = new FinalizationRegistry((handle) => C.usw_module_release(handle));
const inspect = Symbol.for('nodejs.util.inspect.custom');

// ---------------------------------------------------------------- Module

export class Module {
  #handle;

  /** @internal `handle` is one reference to a C module, now owned by this object. */
  constructor(handle, what) {
    if (!handle) throw new UnsealError('ERR_OOM', `${what}: out of wasm memory`);
    this.#handle = handle;
    registry.register(this, handle, this);
  }

  /** @internal The C module; throws once disposed. */
  get _handle() {
    if (!this.#handle) throw new UnsealError('ERR_DISPOSED', `this ${this.constructor.name} module has been disposed`);
    return this.#handle;
  }

  get disposed() {
    return !this.#handle;
  }

  /** Drops this module's reference to its wasm memory. Safe to call twice. */
  dispose() {
    if (!this.#handle) return;
    registry.unregister(this);
    C.usw_module_release(this.#handle);
    this.#handle = 0;
  }

  /** Child modules in order (Sequential has some; leaves have none). */
  get children() {
    return [];
  }

  /** The text inside the parentheses of the repr. */
  extraRepr() {
    return '';
  }

  /** [[name, child]]: '0', '1', ... for a Sequential. */
  get namedChildren() {
    return this.children.map((c, i) => [String(i), c]);
  }

  toString() {
    return moduleRepr(this.constructor.name, this.extraRepr(), this.namedChildren);
  }

  [inspect]() {
    return this.toString();
  }

  /** @internal [{name, ptr, shape}] of this module's own parameters, in wasm memory. */
  _params() {
    const h = this._handle;
    const out = [];
    const n = C.usw_module_num_params(h);
    for (let i = 0; i < n; i++) {
      const desc = C.usw_module_param(h, i);
      const { shape, data } = readTensorDesc(desc);
      out.push({ name: readCString(heap().i32[(desc + 76) >>> 2]), ptr: data, shape });
    }
    return out;
  }

  /** @internal Copies `values` into parameter `name`, checking its shape. */
  _setParam(name, value, where = name) {
    const p = this._params().find((q) => q.name === name);
    if (!p) throw new UnsealError('ERR_NOT_FOUND', `${this.constructor.name} has no parameter '${name}'`);
    const t = toTensor(value, p.shape, where);
    const n = p.shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== n || (value instanceof Tensor && t.shape.join() !== p.shape.join())) {
      throw new UnsealError('ERR_SHAPE', `${where}: expected shape [${p.shape.join(', ')}], got [${t.shape.join(', ')}]`);
    }
    heap().f32.set(t.data instanceof Float32Array ? t.data : Float32Array.from(t.data), p.ptr >>> 2);
    C.usw_module_params_changed(this._handle);
  }

  /** @internal A JS-owned copy of parameter `name`, or undefined. */
  _getParam(name) {
    const p = this._params().find((q) => q.name === name);
    if (!p) return undefined;
    const n = p.shape.reduce((a, b) => a * b, 1);
    return new Tensor(heap().f32.slice(p.ptr >>> 2, (p.ptr >>> 2) + n), p.shape);
  }

  /** @internal Marks this module's parameters as written (cached packs are rebuilt). */
  _paramsChanged() {
    C.usw_module_params_changed(this._handle);
  }

  /** [[name, Tensor copy]] of every parameter below this module, named as PyTorch's state_dict. */
  namedParameters(prefix = '') {
    return namedParameters(this, prefix);
  }
}

/** [[name, Tensor copy]] of every parameter of `m` and below, as PyTorch's state_dict names them. */
export function namedParameters(m, prefix = '') {
  const out = m._params().map((p) => {
    const n = p.shape.reduce((a, b) => a * b, 1);
    return [prefix + p.name, new Tensor(heap().f32.slice(p.ptr >>> 2, (p.ptr >>> 2) + n), p.shape)];
  });
  for (const [name, c] of m.namedChildren) out.push(...namedParameters(c, `${prefix}${name}.`));
  return out;
}

/** PyTorch's nn.Module.__repr__ from a class name, extra_repr and named children. */
export function moduleRepr(className, extra, namedChildren) {
  const children = namedChildren.map(([name, c]) => `(${name}): ${addIndent(c.toString(), 2)}`);
  const lines = [...(extra ? extra.split('\n') : []), ...children];
  let s = `${className}(`;
  if (lines.length) {
    if (extra && !children.length && !extra.includes('\n')) s += extra;
    else s += `\n  ${lines.join('\n  ')}\n`;
  }
  return `${s})`;
}

/** PyTorch (>= 2.0)'s nn.ModuleList.__repr__: runs of identical children compressed as "(0-11): 12 x Block(". */
export function moduleListRepr(className, children) {
  if (!children.length) return `${className}()`;
  const reprs = children.map((c) => c.toString());
  const runs = [];
  reprs.forEach((r, i) => {
    const last = runs[runs.length - 1];
    if (last && last.repr === r) last.end = i;
    else runs.push({ start: i, end: i, repr: r });
  });
  const lines = runs.map(({ start, end, repr }) => addIndent(start === end ? `(${start}): ${repr}` : `(${start}-${end}): ${end - start + 1} x ${repr}`, 2));
  return `${className}(\n  ${lines.join('\n  ')}\n)`;
}

/** A Module with PyTorch-style `weight` (and optional `bias`) accessors that copy. */
class ParamModule extends Module {
  get weight() {
    return this._getParam('weight');
  }
  set weight(v) {
    this._setParam('weight', v, `${this.constructor.name}.weight`);
  }
  get bias() {
    return this._getParam('bias') ?? null;
  }
  set bias(v) {
    this._setParam('bias', v, `${this.constructor.name}.bias`);
  }
}

// ---------------------------------------------------------------- modules

export class Sequential extends Module {
  #children;
  constructor(...modules) {
    modules.forEach((m, i) => {
      if (!(m instanceof Module)) throw new UnsealError('ERR_INVALID_ARG', `nn.Sequential: argument ${i} is not a module (got ${m?.constructor?.name ?? typeof m})`);
      m._handle; // throws if disposed
    });
    super(C.usw_sequential_new(), 'nn.Sequential');
    const err = new ErrorSlot();
    try {
      for (const m of modules) err.check(C.usw_sequential_append(this._handle, m._handle, err.ptr), 'nn.Sequential: ');
    } catch (e) {
      this.dispose();
      throw e;
    } finally {
      err.free();
    }
    this.#children = Object.freeze([...modules]);
  }
  get children() {
    return this.#children;
  }
  get length() {
    return this.#children.length;
  }
  at(i) {
    return this.#children.at(i);
  }
}

export class Linear extends ParamModule {
  constructor(inFeatures, outFeatures, { bias = true } = {}) {
    positiveInt(inFeatures, 'nn.Linear: in_features');
    positiveInt(outFeatures, 'nn.Linear: out_features');
    super(C.usw_linear_new(inFeatures, outFeatures, bias ? 1 : 0), 'nn.Linear');
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    this.hasBias = !!bias;
    // PyTorch: kaiming_uniform_(a=sqrt(5)) gives U(-1/sqrt(in), 1/sqrt(in)); the bias likewise.
    const bound = 1 / Math.sqrt(inFeatures);
    const u = (n) => Float32Array.from({ length: n }, () => (rng.uniform() * 2 - 1) * bound);
    this._setParam('weight', new Tensor(u(inFeatures * outFeatures), [outFeatures, inFeatures]));
    if (bias) this._setParam('bias', new Tensor(u(outFeatures), [outFeatures]));
  }
  extraRepr() {
    return `in_features=${this.inFeatures}, out_features=${this.outFeatures}, bias=${this.hasBias ? 'True' : 'False'}`;
  }
}

export class ReLU extends Module {
  constructor() {
    super(C.usw_activation_new(KIND.RELU), 'nn.ReLU');
  }
}

export class GELU extends Module {
  constructor({ approximate = 'none' } = {}) {
    if (approximate !== 'none' && approximate !== 'tanh') {
      throw new UnsealError('ERR_INVALID_ARG', `nn.GELU: approximate must be 'none' or 'tanh', got '${approximate}'`);
    }
    super(C.usw_activation_new(approximate === 'tanh' ? KIND.GELU_TANH : KIND.GELU), 'nn.GELU');
    this.approximate = approximate;
  }
  extraRepr() {
    return `approximate='${this.approximate}'`;
  }
}

export class Tanh extends Module {
  constructor() {
    super(C.usw_activation_new(KIND.TANH), 'nn.Tanh');
  }
}

export class Sigmoid extends Module {
  constructor() {
    super(C.usw_activation_new(KIND.SIGMOID), 'nn.Sigmoid');
  }
}

export class Softmax extends Module {
  constructor(dim) {
    if (!Number.isInteger(dim)) throw new UnsealError('ERR_INVALID_ARG', `nn.Softmax: dim must be an integer, got ${dim}`);
    super(C.usw_softmax_new(dim), 'nn.Softmax');
    this.dim = dim;
  }
  extraRepr() {
    return `dim=${this.dim}`;
  }
}

export class LayerNorm extends ParamModule {
  constructor(normalizedShape, { eps = 1e-5, elementwiseAffine = true } = {}) {
    let n = normalizedShape;
    if (Array.isArray(n)) {
      if (n.length !== 1) throw new UnsealError('ERR_INVALID_ARG', `nn.LayerNorm: only a normalized_shape of one dimension is supported, got [${n.join(', ')}]`);
      n = n[0];
    }
    positiveInt(n, 'nn.LayerNorm: normalized_shape');
    if (typeof eps !== 'number' || !(eps >= 0)) throw new UnsealError('ERR_INVALID_ARG', `nn.LayerNorm: eps must be a non-negative number, got ${eps}`);
    super(C.usw_layernorm_new(n, eps, elementwiseAffine ? 1 : 0), 'nn.LayerNorm');
    this.normalizedShape = [n];
    this.eps = eps;
    this.elementwiseAffine = !!elementwiseAffine;
  }
  extraRepr() {
    return `(${this.normalizedShape[0]},), eps=${pyFloat(this.eps)}, elementwise_affine=${this.elementwiseAffine ? 'True' : 'False'}`;
  }
}

export class Embedding extends ParamModule {
  constructor(numEmbeddings, embeddingDim) {
    positiveInt(numEmbeddings, 'nn.Embedding: num_embeddings');
    positiveInt(embeddingDim, 'nn.Embedding: embedding_dim');
    super(C.usw_embedding_new(numEmbeddings, embeddingDim), 'nn.Embedding');
    this.numEmbeddings = numEmbeddings;
    this.embeddingDim = embeddingDim;
    // PyTorch: normal_(0, 1).
    const n = numEmbeddings * embeddingDim;
    this._setParam('weight', new Tensor(Float32Array.from({ length: n }, () => rng.normal()), [numEmbeddings, embeddingDim]));
  }
  extraRepr() {
    return `${this.numEmbeddings}, ${this.embeddingDim}`;
  }
}

export class Dropout extends Module {
  constructor(p = 0.5) {
    if (typeof p !== 'number' || !(p >= 0 && p <= 1)) {
      throw new UnsealError('ERR_INVALID_ARG', `nn.Dropout: dropout probability has to be between 0 and 1, but got ${p}`);
    }
    super(C.usw_activation_new(KIND.DROPOUT), 'nn.Dropout');
    C.usw_dropout_set_p(this._handle, p);
    this.p = p;
  }
  extraRepr() {
    return `p=${pyFloat(this.p)}, inplace=False`;
  }
}

export class Identity extends Module {
  constructor() {
    super(C.usw_activation_new(KIND.IDENTITY), 'nn.Identity');
  }
}

/** torch.nn: `nn.Linear(8, 64)`, with or without `new`. */
// Callable with or without `new`; `x instanceof nn.Linear` works.
const factory = (Cls) => {
  function f(...args) {
    return new Cls(...args);
  }
  Object.defineProperty(f, 'name', { value: Cls.name });
  f.prototype = Cls.prototype;
  return f;
};

export const nn = Object.freeze({
  Module,
  Sequential: factory(Sequential),
  Linear: factory(Linear),
  ReLU: factory(ReLU),
  GELU: factory(GELU),
  Tanh: factory(Tanh),
  Sigmoid: factory(Sigmoid),
  Softmax: factory(Softmax),
  LayerNorm: factory(LayerNorm),
  Embedding: factory(Embedding),
  Dropout: factory(Dropout),
  Identity: factory(Identity),
  manualSeed,
});
