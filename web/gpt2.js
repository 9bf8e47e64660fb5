// gpt2.js — GPT-2-family models from HuggingFace files, as HookedModels.
//
// HookedModel.fromPretrained(src) reads config.json, the safetensors weights
// (single or sharded) and, when present, the tokenizer, and builds the C model
// (src/models/gpt2.c). model.layers mirrors HF's GPT2LMHeadModel tree with
// Unseal's names, plus the attention's activation points (q, k, v, scores,
// pattern, z) and each block's resid_mid; TransformerLens names are accepted
// as aliases. Printing the model gives HF's repr.

import { UnsealError, fromStatus } from './errors.js';
import { C, DTYPES, ErrorSlot, heap, malloc, pool, readCString, readTensorDesc } from './wasm.js';
import { Tensor, toTensor } from './tensor.js';
import { moduleListRepr, moduleRepr, pyFloat } from './nn.js';
import { Hook, HookedModel, unknownLayer } from './hooked_model.js';
import { SafetensorsStream, openSource, writeSafetensors } from './io.js';
import { ModelFolder } from './files.js';
import { Tokenizer } from './tokenizer.js';

const inspect = Symbol.for('nodejs.util.inspect.custom');

// ---------------------------------------------------------------- the tree

/** A module of a pretrained model's tree: HF's class name and repr, and its parameters in the C model. */
export class PretrainedModule {
  #owner;
  #params;
  #children;
  /**
   * @param {string} className HF's class name, e.g. 'Conv1D'
   * @param {{ extra?: string, children?: [string, PretrainedModule][], params?: [string, number][], owner, list?: boolean }} opts
   *   params: [local name, C parameter index]
   */
  constructor(className, { extra = '', children = [], params = [], owner, list = false }) {
    this.className = className;
    this.extra = extra;
    this.#children = children;
    this.#params = params;
    this.#owner = owner;
    this.isList = list;
  }
  get namedChildren() {
    return this.#children;
  }
  get children() {
    return this.#children.map(([, c]) => c);
  }
  extraRepr() {
    return this.extra;
  }
  toString() {
    return this.isList ? moduleListRepr(this.className, this.children) : moduleRepr(this.className, this.extra, this.#children);
  }
  [inspect]() {
    return this.toString();
  }
  /** @internal [{name, index, shape}]: this module's own parameters in the C model. */
  _params() {
    const ptr = this.#owner._ptr();
    return this.#params.map(([name, i]) => ({ name, index: i, shape: readTensorDesc(C.usw_gpt2_param(ptr, i)).shape }));
  }
  /**
   * Copies of the parameters below this module, named as PyTorch's
   * state_dict. The matmul weights exist only packed for the GEMM: each copy
   * is unpacked on demand. `filter(name)` skips the names it rejects.
   */
  namedParameters(prefix = '', filter = () => true) {
    const out = [];
    for (const p of this._params()) {
      if (filter(prefix + p.name)) out.push([prefix + p.name, new Tensor(this.#owner.readParam(p.index), p.shape)]);
    }
    for (const [name, c] of this.#children) out.push(...c.namedParameters(`${prefix}${name}.`, filter));
    return out;
  }
  get weight() {
    return this.namedParameters('', (n) => n === 'weight').find(([n]) => n === 'weight')?.[1];
  }
  get bias() {
    return this.namedParameters('', (n) => n === 'bias').find(([n]) => n === 'bias')?.[1] ?? null;
  }
  /** Writes through into the model (packed weights are re-packed in place). */
  set weight(value) {
    this.#setParam('weight', value);
  }
  set bias(value) {
    this.#setParam('bias', value);
  }
  #setParam(name, value) {
    const p = this._params().find((q) => q.name === name);
    const where = `${this.className}.${name}`;
    if (!p) throw new UnsealError('ERR_NOT_FOUND', `${this.className} has no parameter '${name}'`);
    const t = toTensor(value, p.shape, where);
    const n = p.shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== n || (value instanceof Tensor && t.shape.join() !== p.shape.join())) {
      throw new UnsealError('ERR_SHAPE', `${where}: expected shape [${p.shape.join(', ')}], got [${t.shape.join(', ')}]`);
    }
    this.#owner.writeParam(p.index, t.data instanceof Float32Array ? t.data : Float32Array.from(t.data));
  }
}

/** A hook point that is an activation inside a module rather than a module's output. */
export class ActivationPoint {
  constructor(name, layout, description) {
    this.name = name;
    this.layout = layout;
    this.description = description;
  }
  toString() {
    return `ActivationPoint(${this.name}: [${this.layout}])`;
  }
  [inspect]() {
    return this.toString();
  }
}

const BLOCK_POINTS = [
  '', '->ln_1', '->attn', '->attn->c_attn', '->attn->c_proj', '->attn->attn_dropout', '->attn->resid_dropout',
  '->attn->q', '->attn->k', '->attn->v', '->attn->scores', '->attn->pattern', '->attn->z',
  '->ln_2', '->mlp', '->mlp->c_fc', '->mlp->c_proj', '->mlp->act', '->mlp->dropout', '->resid_mid',
];

const ACTIVATIONS = {
  q: ['B, H, T, hs', 'queries, per head'],
  k: ['B, H, T, hs', 'keys of the new positions, per head'],
  v: ['B, H, T, hs', 'values of the new positions, per head'],
  scores: ['B, H, T, S', 'q·k / sqrt(hs), causal-masked entries -Infinity, before softmax'],
  pattern: ['B, H, T, S', 'attention pattern, after softmax'],
  z: ['B, T, H, hs', 'per-head outputs (pattern · v), before c_proj'],
  resid_mid: ['B, T, C', 'residual stream after attention: block input + attention output'],
};

/**
 * TransformerLens hook names → ours, for n_layer layers. Layouts are ours:
 * note that our q/k/v are [B, H, T, hs] where TransformerLens uses [B, T, H, hs],
 * and that ln*.hook_normalized is the LayerNorm's output after its weight and
 * bias (TransformerLens, which folds them away by default, hooks before).
 */
export function transformerLensAliases(nLayer) {
  const a = new Map([
    ['hook_embed', 'transformer->wte'],
    ['hook_pos_embed', 'transformer->wpe'],
    ['ln_final.hook_normalized', 'transformer->ln_f'],
  ]);
  for (let l = 0; l < nLayer; l++) {
    const b = `transformer->h->${l}`;
    const t = `blocks.${l}`;
    a.set(`${t}.hook_resid_pre`, l === 0 ? 'transformer->drop' : `transformer->h->${l - 1}`);
    a.set(`${t}.hook_resid_mid`, `${b}->resid_mid`);
    a.set(`${t}.hook_resid_post`, b);
    a.set(`${t}.hook_attn_out`, `${b}->attn`);
    a.set(`${t}.hook_mlp_out`, `${b}->mlp`);
    for (const p of ['q', 'k', 'v', 'z']) a.set(`${t}.attn.hook_${p}`, `${b}->attn->${p}`);
    a.set(`${t}.attn.hook_attn_scores`, `${b}->attn->scores`);
    a.set(`${t}.attn.hook_pattern`, `${b}->attn->pattern`);
    a.set(`${t}.mlp.hook_pre`, `${b}->mlp->c_fc`);
    a.set(`${t}.mlp.hook_post`, `${b}->mlp->act`);
    a.set(`${t}.ln1.hook_normalized`, `${b}->ln_1`);
    a.set(`${t}.ln2.hook_normalized`, `${b}->ln_2`);
  }
  return a;
}

// ---------------------------------------------------------------- config

const CONFIG_DEFAULTS = {
  vocab_size: 50257, n_positions: 1024, n_embd: 768, n_layer: 12, n_head: 12, n_inner: null,
  activation_function: 'gelu_new', resid_pdrop: 0.1, embd_pdrop: 0.1, attn_pdrop: 0.1, layer_norm_epsilon: 1e-5,
  scale_attn_weights: true, scale_attn_by_inverse_layer_idx: false, reorder_and_upcast_attn: false,
};

/**
 * Validates config.json's text with the C parser (src/io/hf_config.c, the one
 * the fuzzers exercise) and returns the HF config with GPT2Config's defaults
 * filled in (the numbers as C read them; other keys, e.g. dropout rates for
 * the repr, as written).
 */
export function parseConfig(text, where = 'config.json') {
  const bytes = new TextEncoder().encode(text);
  const jp = malloc(bytes.length || 1, 'config.json');
  const out = malloc(28, 'config');
  const err = new ErrorSlot();
  try {
    heap().u8.set(bytes, jp);
    const status = C.usw_gpt2_config_parse(jp, bytes.length, out, err.ptr);
    if (status !== 0) throw fromStatus(status, err.message().replace(/^config\.json: /, `${where}: `));
    const m = heap();
    const [vocab_size, n_positions, n_embd, n_layer, n_head, nInner] = Array.from(m.i32.subarray(out >>> 2, (out >>> 2) + 6));
    const extras = JSON.parse(text); // valid: C accepted it
    return { ...CONFIG_DEFAULTS, ...extras, vocab_size, n_positions, n_embd, n_layer, n_head, n_inner: nInner || null, layer_norm_epsilon: extras.layer_norm_epsilon ?? CONFIG_DEFAULTS.layer_norm_epsilon };
  } finally {
    C.usw_free(jp);
    C.usw_free(out);
    err.free();
  }
}

/** The shard file names of a model.safetensors.index.json (C parser: plain names inside the folder only). */
function parseShardIndex(text, where) {
  const bytes = new TextEncoder().encode(text);
  const jp = malloc(bytes.length || 1, 'the shard index');
  const err = new ErrorSlot();
  let idx = 0;
  try {
    heap().u8.set(bytes, jp);
    idx = C.usw_shard_index_parse(jp, bytes.length, err.ptr);
    if (!idx) throw fromStatus(heap().i32[err.ptr >>> 2] || 5, err.message().replace(/^model\.safetensors\.index\.json: /, `${where}: `));
    return Array.from({ length: C.usw_shard_index_count(idx) }, (_, i) => readCString(C.usw_shard_index_file(idx, i)));
  } finally {
    if (idx) C.usw_shard_index_free(idx);
    C.usw_free(jp);
    err.free();
  }
}

// ---------------------------------------------------------------- backend

/** Our parameter names for an HF tensor name (with or without 'transformer.'), or null for tensors GPT-2 ignores. */
function canonicalName(name) {
  if (name === 'lm_head.weight') return null; // tied to wte
  const n = name.startsWith('transformer.') ? name : `transformer.${name}`;
  if (/^transformer\.h\.\d+\.attn\.(bias|masked_bias)$/.test(n)) return null; // HF's old causal-mask buffers
  return n;
}

/** Floats per piece when parameters are copied between JS and wasm memory. */
const PARAM_CHUNK = 1 << 20;

class Gpt2Backend {
  /** A model with zero weights; the matmul weights exist only packed, as f32 or (half) f16. */
  constructor(cfg, { half = false } = {}) {
    this.cfg = cfg;
    this.dtype = half ? 'f16' : 'f32';
    const err = new ErrorSlot();
    try {
      this.ptr = C.usw_gpt2_new_packed(cfg.vocab_size, cfg.n_positions, cfg.n_embd, cfg.n_layer, cfg.n_head, cfg.n_inner ?? 0, cfg.layer_norm_epsilon, half ? 1 : 0, err.ptr);
      if (!this.ptr) err.check(heap().i32[err.ptr >>> 2] || 2, 'GPT-2: ');
      C.usw_gpt2_set_pool(this.ptr, pool); // compute threads: see threads.js
    } finally {
      err.free();
    }
    this.paramIndex = new Map();
    const n = C.usw_gpt2_num_params(this.ptr);
    for (let i = 0; i < n; i++) this.paramIndex.set(readCString(heap().i32[(C.usw_gpt2_param(this.ptr, i) + 76) >>> 2]), i);
    this.aliases = transformerLensAliases(cfg.n_layer);
    this.points = new Map();
    this.fires_ = [];
    const np = C.usw_gpt2_num_points(this.ptr);
    for (let p = 0; p < np; p++) {
      this.points.set(readCString(C.usw_gpt2_point_name(this.ptr, p)), p);
      this.fires_.push(C.usw_gpt2_point_fires(this.ptr, p) === 1);
    }
    this.tokenizer = null;
  }

  _ptr() {
    if (!this.ptr) throw new UnsealError('ERR_DISPOSED', 'this model has been disposed');
    return this.ptr;
  }

  /** A JS copy of parameter i (unpacked piece by piece through a small wasm buffer). */
  readParam(i) {
    const ptr = this._ptr();
    const { shape } = readTensorDesc(C.usw_gpt2_param(ptr, i));
    const n = shape.reduce((a, b) => a * b, 1);
    const out = new Float32Array(n);
    const tmp = malloc(4 * Math.min(n, PARAM_CHUNK) || 4, 'a parameter copy');
    const err = new ErrorSlot();
    try {
      for (let first = 0; first < n; first += PARAM_CHUNK) {
        const len = Math.min(PARAM_CHUNK, n - first);
        err.check(C.usw_gpt2_param_read(ptr, i, first, len, tmp, err.ptr));
        out.set(heap().f32.subarray(tmp >>> 2, (tmp >>> 2) + len), first);
      }
      return out;
    } finally {
      C.usw_free(tmp);
      err.free();
    }
  }

  /** Writes all of parameter i from a Float32Array of its size. */
  writeParam(i, data) {
    const ptr = this._ptr();
    const n = data.length;
    const tmp = malloc(4 * Math.min(n, PARAM_CHUNK) || 4, 'a parameter copy');
    const err = new ErrorSlot();
    try {
      for (let first = 0; first < n; first += PARAM_CHUNK) {
        const len = Math.min(PARAM_CHUNK, n - first);
        heap().f32.set(data.subarray(first, first + len), tmp >>> 2);
        err.check(C.usw_gpt2_param_write(ptr, i, first, len, tmp, 0, err.ptr));
      }
    } finally {
      C.usw_free(tmp);
      err.free();
    }
  }

  /** Keeps (true) or drops (false) a plain copy of every weight beside the packs (training needs one). */
  setPlainWeights(plain) {
    const err = new ErrorSlot();
    try {
      err.check(C.usw_gpt2_set_plain_weights(this._ptr(), plain ? 1 : 0, err.ptr), plain ? 'training: ' : '');
    } finally {
      err.free();
    }
  }

  /** Our name for a TransformerLens alias (or the name itself). */
  canonical(name) {
    return this.aliases.get(name) ?? name;
  }

  /** Whether hooks on this name can ever run ('transformer->h' is a ModuleList: never). */
  fires(name) {
    const p = this.points.get(name);
    return p !== undefined && this.fires_[p];
  }

  resolve(name, hookKey) {
    const canonical = this.aliases.get(name) ?? name;
    const p = this.points.get(canonical);
    if (p === undefined) throw unknownLayer(name, hookKey, [...this.points.keys(), ...this.aliases.keys()]);
    if (!this.fires_[p]) throw new UnsealError('ERR_INVALID_ARG', `hook '${hookKey}': '${name}' is a ModuleList, which never runs as a module (as in PyTorch); hook 'transformer->h->0' (a block) instead`);
    return p;
  }

  /** Token ids as an I32 Tensor [B, T], from text, ids, rows of ids, or a Tensor. */
  toInput(input, shape) {
    const where = 'input';
    if (typeof input === 'string' || (Array.isArray(input) && input.length && input.every((x) => typeof x === 'string'))) {
      if (!this.tokenizer) throw new UnsealError('ERR_INVALID_ARG', 'text input needs a tokenizer, and this model was loaded without tokenizer files (tokenizer.json, or vocab.json + merges.txt); pass token ids instead');
      const rows = (typeof input === 'string' ? [input] : input).map((s) => this.tokenizer.encode(s));
      if (rows.some((r) => r.length !== rows[0].length)) throw new UnsealError('ERR_SHAPE', `input: the texts encode to different lengths (${rows.map((r) => r.length).join(', ')} tokens); a batch needs equal lengths`);
      input = rows;
    }
    let t;
    if (Array.isArray(input) && input.length && !Array.isArray(input[0])) t = toTensor([input], undefined, where);
    else t = toTensor(input, shape, where);
    let tshape = [...t.shape];
    if (tshape.length === 1) tshape = [1, tshape[0]];
    if (tshape.length !== 2) throw new UnsealError('ERR_SHAPE', `input: expected token ids of shape [T] or [B, T], got [${t.shape.join(', ')}]`);
    if (tshape[0] === 0 || tshape[1] === 0) throw new UnsealError('ERR_SHAPE', `input: empty input (shape [${tshape.join(', ')}]); give at least one token`);
    if (t.data instanceof Int32Array) return new Tensor(t.data, tshape);
    const ids = new Int32Array(t.data.length);
    t.data.forEach((v, i) => {
      if (!Number.isInteger(v)) throw new UnsealError('ERR_DTYPE', `input: token ids must be integers; element ${i} is ${v}`);
      ids[i] = v;
    });
    return new Tensor(ids, tshape);
  }

  run(inDesc, outDesc, handle, errPtr, cache = 0) {
    return C.usw_gpt2_forward(this._ptr(), inDesc, cache, outDesc, handle, errPtr);
  }

  /** The gradient store (parameter gradients + saved activations), made on first use. */
  gradStore() {
    if (!this.grad) {
      const err = new ErrorSlot();
      try {
        this.grad = C.usw_gpt2_grad_new(this._ptr(), err.ptr);
        if (!this.grad) err.check(heap().i32[err.ptr >>> 2] || 2, 'gradients: ');
      } finally {
        err.free();
      }
    }
    return this.grad;
  }

  runTrain(inDesc, outDesc, handle, errPtr) {
    const status = C.usw_gpt2_forward_train(this._ptr(), inDesc, this.gradStore(), outDesc, handle, errPtr);
    this.trainShape = status === 0 ? readTensorDesc(inDesc).shape : null;
    return status;
  }

  free() {
    if (this.grad) C.usw_gpt2_grad_free(this.grad);
    this.grad = 0;
    C.usw_gpt2_free(this.ptr);
    this.ptr = 0;
  }
}

/** HF's GPT2LMHeadModel tree over the C model's parameters, and model.layers. */
function buildTree(backend) {
  const cfg = backend.cfg;
  const P = (name) => backend.paramIndex.get(name);
  const owner = backend;
  const mod = (cls, opts = {}) => new PretrainedModule(cls, { owner, ...opts });
  const C_ = cfg.n_embd;
  const F = cfg.n_inner ?? 4 * C_;
  const ln = (prefix) => mod('LayerNorm', { extra: `(${C_},), eps=${pyFloat(cfg.layer_norm_epsilon)}, elementwise_affine=True`, params: [['weight', P(`${prefix}.weight`)], ['bias', P(`${prefix}.bias`)]] });
  const conv = (prefix, nf, nx) => mod('Conv1D', { extra: `nf=${nf}, nx=${nx}`, params: [['weight', P(`${prefix}.weight`)], ['bias', P(`${prefix}.bias`)]] });
  const drop = (p) => mod('Dropout', { extra: `p=${pyFloat(p)}, inplace=False` });
  const blocks = [];
  for (let l = 0; l < cfg.n_layer; l++) {
    const h = `transformer.h.${l}`;
    const attn = mod('GPT2Attention', { children: [['c_attn', conv(`${h}.attn.c_attn`, 3 * C_, C_)], ['c_proj', conv(`${h}.attn.c_proj`, C_, C_)], ['attn_dropout', drop(cfg.attn_pdrop)], ['resid_dropout', drop(cfg.resid_pdrop)]] });
    const mlp = mod('GPT2MLP', { children: [['c_fc', conv(`${h}.mlp.c_fc`, F, C_)], ['c_proj', conv(`${h}.mlp.c_proj`, C_, F)], ['act', mod('NewGELUActivation')], ['dropout', drop(cfg.resid_pdrop)]] });
    blocks.push([String(l), mod('GPT2Block', { children: [['ln_1', ln(`${h}.ln_1`)], ['attn', attn], ['ln_2', ln(`${h}.ln_2`)], ['mlp', mlp]] })]);
  }
  const transformer = mod('GPT2Model', {
    children: [
      ['wte', mod('Embedding', { extra: `${cfg.vocab_size}, ${C_}`, params: [['weight', P('transformer.wte.weight')]] })],
      ['wpe', mod('Embedding', { extra: `${cfg.n_positions}, ${C_}`, params: [['weight', P('transformer.wpe.weight')]] })],
      ['drop', drop(cfg.embd_pdrop)],
      ['h', mod('ModuleList', { children: blocks, list: true })],
      ['ln_f', ln('transformer.ln_f')],
    ],
  });
  const lmHead = mod('Linear', { extra: `in_features=${C_}, out_features=${cfg.vocab_size}, bias=False`, params: [['weight', P('transformer.wte.weight')]] });
  const root = mod('GPT2LMHeadModel', { children: [['transformer', transformer], ['lm_head', lmHead]] });

  // model.layers: every module in pre-order, the activation points beside
  // their modules, in the C point order.
  const modules = new Map();
  const walk = (m, name) => {
    if (name) modules.set(name, m);
    for (const [n, c] of m.namedChildren) walk(c, name ? `${name}->${n}` : n);
  };
  walk(root, '');
  const layers = new Map();
  for (const name of backend.points.keys()) {
    const leaf = name.split('->').pop();
    layers.set(name, modules.get(name) ?? new ActivationPoint(leaf, ...ACTIVATIONS[leaf]));
  }
  return { root, layers };
}

// ---------------------------------------------------------------- the model

export class HookedGPT2 extends HookedModel {
  #cfg;
  constructor(backend) {
    const { root, layers } = buildTree(backend);
    backend.layers = layers;
    super(null, HookedModel._internal(backend, root));
    this.#cfg = Object.freeze({ ...backend.cfg });
  }

  /** How the matmul weights are stored: 'f32', or 'f16' (computed in f32). */
  get dtype() {
    return this._backend.dtype;
  }

  /** The HF config (with GPT2Config's defaults filled in). */
  get config() {
    return this.#cfg;
  }

  /** GPT-2's byte-level BPE tokenizer from the model's files, or null. */
  get tokenizer() {
    return this._backend.tokenizer;
  }

  /** TransformerLens hook names accepted as aliases, and what they stand for. */
  get aliases() {
    return new Map(this._backend.aliases);
  }

  /** safetensors bytes as HF writes them (lm_head.weight, tied to wte, left out). */
  saveStateDict() {
    return writeSafetensors(this.model.namedParameters('', (n) => n !== 'lm_head.weight'));
  }

  /**
   * Loads HF GPT-2 weights (names with or without 'transformer.'), see
   * fromPretrained. The file is read front to back, never held whole; a
   * file that does not match is an error before anything is loaded, but one
   * that fails to read part-way (I/O, truncation) leaves the weights partly
   * loaded.
   */
  async loadStateDict(src, { strict = true } = {}) {
    const source = await openSource(src);
    let st;
    try {
      st = await SafetensorsStream.open(source);
    } catch (e) {
      source.close();
      throw e;
    }
    return loadWeights(this._backend, [st], { strict });
  }

  /**
   * Runs the model; with `grad: true` it also keeps what backward() needs
   * (as a training forward: no KV cache).
   */
  forward(input, { hooks = [], shape, grad = false } = {}) {
    return this._run(input, { hooks, shape, train: grad });
  }

  /**
   * Backpropagates from the last forward({ grad: true }), accumulating into
   * the parameter gradients (as PyTorch does: zeroGrad() resets them).
   * `seed` is the gradient of the logits (a Tensor or Float32Array shaped
   * like them), or { loss: 'cross_entropy', targets } with targets as HF's
   * `labels` (shaped like the input ids; position t is scored on targets[t + 1];
   * -100 ignored; mean over the scored positions).
   * Backward hooks: func(saveCtx, gradInput, gradOutput, info); returning a
   * Tensor or Float32Array (or editing gradInput in place) changes the
   * gradient flowing on upstream.
   * @returns {{ loss?: number, scored?: number }}
   */
  backward(seed, { hooks = [] } = {}) {
    const backend = this._backend;
    if (!backend.trainShape) throw new UnsealError('ERR_INVALID_ARG', 'backward: run model.forward(input, { grad: true }) first');
    const [B, T] = backend.trainShape;
    const V = this.config.vocab_size;
    const n = B * T * V;
    const dlogits = malloc(4 * n, 'the logits gradient');
    const err = new ErrorSlot();
    const result = {};
    try {
      if (seed && typeof seed === 'object' && 'loss' in seed) {
        if (seed.loss !== 'cross_entropy') throw new UnsealError('ERR_INVALID_ARG', `backward: unknown loss '${seed.loss}' (only 'cross_entropy')`);
        Object.assign(result, this.#crossEntropy(seed.targets ?? seed.labels, dlogits, 'backward'));
      } else {
        const data = seed instanceof Tensor ? seed.data : seed;
        if (!(data instanceof Float32Array) || data.length !== n || (seed instanceof Tensor && seed.shape.join() !== [B, T, V].join())) {
          throw new UnsealError('ERR_SHAPE', `backward: the seed must be the logits' gradient, a Tensor [${B}, ${T}, ${V}] or a Float32Array of ${n}, or { loss: 'cross_entropy', targets }`);
        }
        heap().f32.set(data, dlogits >>> 2);
      }
      this._withGradHooks(hooks, (handle, errPtr) => C.usw_gpt2_backward(backend._ptr(), backend.gradStore(), dlogits, handle, errPtr));
      return result;
    } finally {
      C.usw_free(dlogits);
      err.free();
    }
  }

  /** The cross-entropy of the last training forward against HF-style labels; writes dlogits. */
  #crossEntropy(targets, dlogits, where) {
    const backend = this._backend;
    const [B, T] = backend.trainShape;
    const labels = backend.toInput(targets);
    if (labels.shape[0] !== B || labels.shape[1] !== T) {
      throw new UnsealError('ERR_SHAPE', `${where}: targets have shape [${labels.shape.join(', ')}] but the forward's input was [${B}, ${T}]`);
    }
    const lp = malloc(4 * B * T, 'labels');
    const out2 = malloc(8, 'loss');
    const err = new ErrorSlot();
    try {
      heap().i32.set(labels.data, lp >>> 2);
      err.check(C.usw_gpt2_loss(backend.gradStore(), backend._ptr(), lp, out2, dlogits, err.ptr), `${where}: `);
      return { loss: heap().f32[out2 >>> 2], scored: heap().i32[(out2 >>> 2) + 1] };
    } finally {
      C.usw_free(lp);
      C.usw_free(out2);
      err.free();
    }
  }

  /**
   * The mean next-token cross-entropy of `input` against `targets` (HF
   * labels semantics; default: the input itself). Changes no gradient.
   * @returns {{ loss: number, scored: number, logits: Tensor }}
   */
  loss(input, { targets } = {}) {
    const logits = this.forward(input, { grad: true });
    const n = logits.data.length;
    const dlogits = malloc(4 * n, 'the logits gradient');
    try {
      return { ...this.#crossEntropy(targets ?? input, dlogits, 'loss'), logits };
    } finally {
      C.usw_free(dlogits);
    }
  }

  /** {name: Tensor} copies of every parameter's gradient, named as the checkpoint ('transformer.wte.weight' includes the tied lm_head's share). */
  grads() {
    const backend = this._backend;
    const g = backend.gradStore();
    const out = {};
    for (const [name, i] of backend.paramIndex) {
      const { shape } = readTensorDesc(C.usw_gpt2_param(backend._ptr(), i));
      const p = C.usw_gpt2_grad_param(g, backend._ptr(), i) >>> 2;
      out[name] = new Tensor(heap().f32.slice(p, p + shape.reduce((a, b) => a * b, 1)), shape);
    }
    return out;
  }

  /** Sets every parameter gradient to zero. */
  zeroGrad() {
    C.usw_gpt2_grad_zero(this._backend.gradStore());
  }

  /**
   * runWithCache, with `grads: true` also the gradient of every cached point
   * (as name + '_grad'), from the cross-entropy against `targets` (default:
   * the input ids themselves, i.e. next-token prediction) or a `seed` (the
   * logits' gradient, or a function of the logits' shape returning it).
   * Parameter gradients are left as they were.
   */
  runWithCache(input, { names, hooks = [], shape, grads = false, targets, seed } = {}) {
    if (!grads) return super.runWithCache(input, { names, hooks, shape });
    const { output, cache, bytes: fwdBytes } = super.runWithCache(input, { names, hooks, shape, train: true });
    const gradHooks = [...cache.keys()].map((n) => new Hook(n, (ctx, gi, go) => { cache.set(`${n}_grad`, go.clone()); }, `__grad__${n}`));
    const saved = this.#saveParamGrads();
    try {
      const s = typeof seed === 'function' ? seed([...output.shape]) : seed;
      this.backward(s ?? { loss: 'cross_entropy', targets: targets ?? input }, { hooks: gradHooks });
    } finally {
      this.#restoreParamGrads(saved);
      for (const h of gradHooks) delete this.saveCtx[h.key];
    }
    let bytes = fwdBytes;
    for (const [k, t] of cache) if (k.endsWith('_grad')) bytes += t.data.byteLength;
    return { output, cache, bytes };
  }

  #saveParamGrads() {
    const g = this._backend.gradStore();
    const n = C.usw_gpt2_num_param_floats(this._backend._ptr());
    const p = C.usw_gpt2_grad_param(g, this._backend._ptr(), 0) >>> 2;
    return heap().f32.slice(p, p + n);
  }

  #restoreParamGrads(saved) {
    const g = this._backend.gradStore();
    heap().f32.set(saved, C.usw_gpt2_grad_param(g, this._backend._ptr(), 0) >>> 2);
  }

  /**
   * @internal Rows [n, C] through the unembedding (after ln_f when applyLnF)
   * → Float32Array [n, V]. Callable from inside a hook.
   */
  _unembed(rows, n, applyLnF) {
    const ptr = this._backend._ptr();
    const V = this.config.vocab_size;
    const inP = malloc(rows.byteLength || 4, 'unembedding input');
    const outP = malloc(4 * n * V || 4, 'logits');
    const err = new ErrorSlot();
    try {
      heap().f32.set(rows, inP >>> 2);
      err.check(C.usw_gpt2_unembed(ptr, inP, n, outP, applyLnF ? 1 : 0, err.ptr), 'unembed: ');
      return heap().f32.slice(outP >>> 2, (outP >>> 2) + n * V);
    } finally {
      C.usw_free(inP);
      C.usw_free(outP);
      err.free();
    }
  }

  /**
   * Generates up to maxNewTokens tokens after `input` with a KV cache. Hooks
   * fire at every step (on the new positions only after the first); their
   * fourth argument is { step, key, layerName }, and saveCtx is reset once,
   * at the start. temperature 0 is greedy (ties to the lowest id).
   * @returns {{ ids: number[][], newIds: number[][], texts?: string[] }}
   */
  generate(input, { maxNewTokens = 20, temperature = 1, topK, topP, seed, hooks = [], onToken, eosTokenId } = {}) {
    const backend = this._backend;
    const cfg = this.config;
    if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1) throw new UnsealError('ERR_INVALID_ARG', `generate: maxNewTokens must be a positive integer, got ${maxNewTokens}`);
    if (typeof temperature !== 'number' || !(temperature >= 0)) throw new UnsealError('ERR_INVALID_ARG', `generate: temperature must be a number >= 0, got ${temperature}`);
    if (topK !== undefined && (!Number.isInteger(topK) || topK < 1)) throw new UnsealError('ERR_INVALID_ARG', `generate: topK must be a positive integer, got ${topK}`);
    if (topP !== undefined && !(topP > 0 && topP <= 1)) throw new UnsealError('ERR_INVALID_ARG', `generate: topP must be in (0, 1], got ${topP}`);
    if (seed !== undefined && !Number.isInteger(seed)) throw new UnsealError('ERR_INVALID_ARG', `generate: seed must be an integer, got ${seed}`);
    const ids = backend.toInput(input);
    const [B, T] = ids.shape;
    if (T + maxNewTokens > cfg.n_positions) {
      throw new UnsealError('ERR_RANGE', `generate: the prompt (${T} token${T === 1 ? '' : 's'}) plus maxNewTokens (${maxNewTokens}) exceeds n_positions = ${cfg.n_positions}`);
    }
    const rows = Array.from({ length: B }, (_, b) => Array.from(ids.data.subarray(b * T, (b + 1) * T)));
    const newIds = rows.map(() => []);
    const rand = sampler(seed);
    const err = new ErrorSlot();
    const cache = C.usw_gpt2_cache_new(backend._ptr(), B, T + maxNewTokens, err.ptr);
    try {
      if (!cache) err.check(heap().i32[err.ptr >>> 2] || 2, 'generate: ');
      let cur = ids;
      const done = new Array(B).fill(false);
      for (let step = 0; step < maxNewTokens; step++) {
        const logits = this._run(cur, { hooks, extra: cache, info: { step }, resetCtx: step === 0 });
        const [, Tc, V] = logits.shape;
        const next = new Int32Array(B);
        for (let b = 0; b < B; b++) {
          const row = logits.data.subarray((b * Tc + Tc - 1) * V, (b * Tc + Tc) * V);
          next[b] = done[b] && eosTokenId !== undefined ? eosTokenId : pickToken(row, { temperature, topK, topP, rand });
          if (!done[b]) {
            rows[b].push(next[b]);
            newIds[b].push(next[b]);
          }
          if (eosTokenId !== undefined && next[b] === eosTokenId) done[b] = true;
        }
        if (onToken) {
          const r = onToken({ step, tokens: Array.from(next), text: backend.tokenizer ? Array.from(next, (t) => backend.tokenizer.decode([t])) : undefined });
          if (r === false) break;
        }
        if (done.every(Boolean)) break;
        cur = new Tensor(next, [B, 1]);
      }
    } finally {
      if (cache) C.usw_gpt2_cache_free(cache);
      err.free();
    }
    const out = { ids: rows, newIds };
    if (backend.tokenizer) out.texts = rows.map((r) => backend.tokenizer.decode(r));
    return out;
  }

  dispose() {
    if (!this.disposed) this._backend.tokenizer?.dispose();
    super.dispose();
  }
}

/** A seeded uniform [0, 1) generator (mulberry32), or Math.random without a seed. */
function sampler(seed) {
  if (seed === undefined) return Math.random;
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The next token from one row of logits: greedy at temperature 0, else sampled with top-k / top-p. */
export function pickToken(logits, { temperature = 1, topK, topP, rand = Math.random } = {}) {
  const V = logits.length;
  if (temperature === 0 || topK === 1) {
    let best = 0;
    for (let v = 1; v < V; v++) if (logits[v] > logits[best]) best = v;
    return best;
  }
  let order = Array.from({ length: V }, (_, v) => v).sort((a, b) => logits[b] - logits[a] || a - b);
  if (topK !== undefined) order = order.slice(0, topK);
  const mx = logits[order[0]];
  let probs = order.map((v) => Math.exp((logits[v] - mx) / temperature));
  let sum = probs.reduce((a, b) => a + b, 0);
  probs = probs.map((p) => p / sum);
  if (topP !== undefined) {
    let acc = 0;
    let keep = 0;
    while (keep < probs.length && acc < topP) acc += probs[keep++];
    order = order.slice(0, keep);
    probs = probs.slice(0, keep);
    sum = probs.reduce((a, b) => a + b, 0);
    probs = probs.map((p) => p / sum);
  }
  let u = rand();
  for (let i = 0; i < probs.length; i++) {
    u -= probs[i];
    if (u < 0) return order[i];
  }
  return order[order.length - 1];
}

/**
 * Streams weights from safetensors files (SafetensorsStream, headers already
 * read) into the C model, straight into its packs. Every parameter must be
 * present once with the right shape (else an error naming them, and nothing
 * loaded), unless strict is false. Frees the files.
 */
async function loadWeights(backend, files, { strict = true, signal } = {}) {
  try {
    const dest = new Map();
    for (const [name, i] of backend.paramIndex) dest.set(name, { index: i, shape: readTensorDesc(C.usw_gpt2_param(backend._ptr(), i)).shape });
    const found = new Map();
    const unexpected = [];
    const badDtype = [];
    for (const st of files) {
      for (const e of st.entries) {
        const canonical = canonicalName(e.name);
        if (canonical === null) continue;
        if (!dest.has(canonical)) {
          unexpected.push(e.name);
          continue;
        }
        if (found.has(canonical)) throw new UnsealError('ERR_FORMAT', `${st.fileName}: the tensor '${e.name}' appears twice (also in ${found.get(canonical).file.fileName})`);
        if (!['F32', 'F16', 'BF16'].includes(e.dtype)) badDtype.push(`'${e.name}' (${e.dtype})`);
        found.set(canonical, { file: st, entry: e });
      }
    }
    if (badDtype.length) throw new UnsealError('ERR_DTYPE', `weights must be F32, F16 or BF16; got ${badDtype.join(', ')}`);
    const missing = [...dest.keys()].filter((k) => !found.has(k));
    const mismatched = [];
    for (const [k, { shape: want }] of dest) { // in the model's parameter order: embeddings first
      const entry = found.get(k)?.entry;
      if (entry && entry.shape.join() !== want.join()) mismatched.push({ name: entry.name, expected: want, got: entry.shape });
    }
    if (strict && (missing.length || unexpected.length || mismatched.length)) {
      const parts = [];
      if (missing.length) parts.push(`missing tensor(s): ${missing.slice(0, 8).map((k) => `'${k}'`).join(', ')}${missing.length > 8 ? `, and ${missing.length - 8} more` : ''}`);
      if (unexpected.length) parts.push(`unexpected tensor(s): ${unexpected.slice(0, 8).map((k) => `'${k}'`).join(', ')}${unexpected.length > 8 ? `, and ${unexpected.length - 8} more` : ''}`);
      for (const m of mismatched.slice(0, 8)) parts.push(`'${m.name}' has shape [${m.got.join(', ')}] but the config implies [${m.expected.join(', ')}]`);
      const e = new UnsealError('ERR_STATE_DICT', `${files.map((f) => f.fileName).join(', ')}: the weights do not match config.json (${backend.cfg.n_layer} layers, n_embd ${backend.cfg.n_embd}, vocab ${backend.cfg.vocab_size}, n_positions ${backend.cfg.n_positions}): ${parts.join('; ')}. Check that config.json belongs to these weights.`);
      Object.assign(e, { missingKeys: missing, unexpectedKeys: unexpected, mismatchedKeys: mismatched });
      throw e;
    }
    const bad = new Set(mismatched.map((m) => canonicalName(m.name)));
    const err = new ErrorSlot();
    try {
      for (const st of files) {
        const want = new Map();
        for (const [k, { file, entry }] of found) {
          if (file !== st || bad.has(k)) continue;
          const i = dest.get(k).index;
          const dt = DTYPES.indexOf(entry.dtype);
          want.set(entry.index, (first, count, ptr) => err.check(C.usw_gpt2_param_write(backend._ptr(), i, first, count, ptr, dt, err.ptr), `${st.fileName}: `));
        }
        await st.readTensors(want, { signal });
      }
    } finally {
      err.free();
    }
    return { missingKeys: missing, unexpectedKeys: unexpected, mismatchedKeys: mismatched };
  } finally {
    for (const st of files) st.free();
  }
}

/**
 * Loads a GPT-2-family model from HuggingFace files.
 * @param src a directory path (Node), a base URL, or a map of file name → bytes/Blob/File
 * @param {{ onProgress?: (p: {loaded: number, total: number, file: string}) => void, signal?: AbortSignal }} [options]
 */
export async function fromPretrained(src, { dtype = 'float32', onProgress, signal } = {}) {
  const half = ['float16', 'f16'].includes(dtype);
  if (!half && !['float32', 'f32'].includes(dtype)) {
    throw new UnsealError('ERR_INVALID_ARG', `fromPretrained: dtype must be 'f32' (default) or 'f16' (matmul weights stored as half, computed in f32), got '${dtype}'`);
  }
  const folder = new ModelFolder(src, { signal, onProgress });
  const configText = await folder.readText('config.json');
  if (configText === null) throw new UnsealError('ERR_NOT_FOUND', `${folder.describe('config.json')}: not found; a model folder needs config.json (HF GPT2Config) and model.safetensors`);
  const cfg = parseConfig(configText, folder.describe('config.json'));

  // Which weight files: one model.safetensors, or the shards an index names.
  let weightFiles;
  const index = await folder.readText('model.safetensors.index.json');
  if (index !== null) {
    weightFiles = parseShardIndex(index, folder.describe('model.safetensors.index.json'));
  } else {
    weightFiles = ['model.safetensors'];
  }
  await folder.announce(weightFiles);
  // Every file's header first (so that a mismatch is found before any data
  // is read); the data then streams from each file into the model's packs.
  const files = [];
  let backend = null;
  try {
    for (const name of weightFiles) {
      const source = await folder.open(name);
      if (source === null) {
        if (index === null) {
          const bin = await folder.open('pytorch_model.bin').catch(() => null);
          bin?.close();
          if (bin) throw new UnsealError('ERR_NOT_FOUND', `${folder.describe('model.safetensors')}: not found, only pytorch_model.bin, which unseal-wasm cannot read (it is a pickle). Convert it in Python: model.save_pretrained(dir, safe_serialization=True), or safetensors.torch.save_file(torch.load('pytorch_model.bin'), 'model.safetensors')`);
        }
        throw new UnsealError('ERR_NOT_FOUND', `${folder.describe(name)}: not found${index ? ' (named by model.safetensors.index.json)' : ''}`);
      }
      try {
        files.push(await SafetensorsStream.open(source));
      } catch (e) {
        source.close();
        throw e;
      }
    }
    backend = new Gpt2Backend(cfg, { half });
    await loadWeights(backend, files.splice(0), { signal });
    backend.tokenizer = await Tokenizer.fromFolder(folder);
    if (backend.tokenizer && backend.tokenizer.vocabSize > cfg.vocab_size) {
      throw new UnsealError('ERR_FORMAT', `${folder.label}: the tokenizer has ${backend.tokenizer.vocabSize} tokens but config.json's vocab_size is ${cfg.vocab_size}; the tokenizer files do not belong to this model`);
    }
  } catch (e) {
    for (const st of files) st.free();
    backend?.tokenizer?.dispose();
    backend?.free();
    throw e;
  }
  return new HookedGPT2(backend);
}

HookedModel.fromPretrained = fromPretrained;
