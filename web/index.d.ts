// Type declarations for unseal-wasm (hand-written; keep in step with web/*.js).

/** The one error class. `code` names the kind of failure. */
export class UnsealError extends Error {
  readonly name: 'UnsealError';
  readonly code:
    | 'ERR_INVALID_ARG' | 'ERR_OOM' | 'ERR_SHAPE' | 'ERR_DTYPE' | 'ERR_FORMAT' | 'ERR_NOT_FOUND'
    | 'ERR_RANGE' | 'ERR_HOOK' | 'ERR_HOOK_RETURN' | 'ERR_UNKNOWN_LAYER' | 'ERR_DUPLICATE_KEY'
    | 'ERR_DISPOSED' | 'ERR_EXPIRED' | 'ERR_REENTRANT' | 'ERR_STATE_DICT' | 'ERR_IO';
  missingKeys?: string[];
  unexpectedKeys?: string[];
  mismatchedKeys?: { name: string; expected: number[]; got: number[] }[];
}

export type NestedArray = number | NestedArray[];

/**
 * A shape and a typed array, row-major. Tensors given to hooks are views of
 * wasm memory, valid only during the hook call (then `.data` throws
 * ERR_EXPIRED); `clone()` copies into JS memory.
 */
export class Tensor {
  constructor(data: Float32Array | Int32Array | NestedArray[], shape?: readonly number[]);
  /** The values; writing into a hook's `output.data` edits the activation in place. */
  readonly data: Float32Array | Int32Array;
  readonly shape: readonly number[];
  readonly dtype: 'float32' | 'int32';
  readonly ndim: number;
  readonly size: number;
  /** True for the wasm-memory views handed to hooks. */
  readonly isView: boolean;
  clone(): Tensor;
  get(...indices: number[]): number;
  toArray(): NestedArray;
  /** PyTorch's str(tensor). */
  toString(): string;
}

export type TensorLike = Tensor | { data: Float32Array | Int32Array | number[]; shape: number[] } | Float32Array | Int32Array | NestedArray[];

export class Module {
  readonly children: readonly Module[];
  readonly disposed: boolean;
  /** PyTorch's repr. */
  toString(): string;
  extraRepr(): string;
  /** [name, copy] of every parameter, named as PyTorch's state_dict. */
  namedParameters(prefix?: string): [string, Tensor][];
  /** Drops this module's wasm memory reference. */
  dispose(): void;
}
interface WithWeight {
  /** A copy; assigning writes through. */
  weight: Tensor;
}
export interface Sequential extends Module { readonly length: number; at(i: number): Module | undefined }
export interface Linear extends Module, WithWeight { bias: Tensor | null; readonly inFeatures: number; readonly outFeatures: number }
export interface LayerNorm extends Module, WithWeight { bias: Tensor | null; readonly normalizedShape: [number]; readonly eps: number; readonly elementwiseAffine: boolean }
export interface Embedding extends Module, WithWeight { readonly numEmbeddings: number; readonly embeddingDim: number }
export interface GELU extends Module { readonly approximate: 'none' | 'tanh' }
export interface Softmax extends Module { readonly dim: number }
export interface Dropout extends Module { readonly p: number }

type Ctor<T, A extends unknown[]> = { (...args: A): T; new (...args: A): T };

/** torch.nn's modules; call with or without `new`. */
export const nn: {
  Module: typeof Module;
  Sequential: Ctor<Sequential, Module[]>;
  Linear: Ctor<Linear, [inFeatures: number, outFeatures: number, options?: { bias?: boolean }]>;
  ReLU: Ctor<Module, []>;
  GELU: Ctor<GELU, [options?: { approximate?: 'none' | 'tanh' }]>;
  Tanh: Ctor<Module, []>;
  Sigmoid: Ctor<Module, []>;
  Softmax: Ctor<Softmax, [dim: number]>;
  LayerNorm: Ctor<LayerNorm, [normalizedShape: number | [number], options?: { eps?: number; elementwiseAffine?: boolean }]>;
  Embedding: Ctor<Embedding, [numEmbeddings: number, embeddingDim: number]>;
  Dropout: Ctor<Dropout, [p?: number]>;
  Identity: Ctor<Module, []>;
  /** Seeds default initialisation (like torch.manual_seed). */
  manualSeed(seed: number): void;
};

/** The fourth argument of a hook function. */
export interface HookInfo {
  key: string;
  layerName: string;
  /** The generation step (0 for the prompt); absent outside generate(). */
  step?: number;
}

export type HookFunction = (saveCtx: Record<string, any>, input: Tensor, output: Tensor, info: HookInfo) => Tensor | Float32Array | void;

export class Hook {
  constructor(layerName: string, func: HookFunction, key: string);
  readonly layerName: string;
  readonly func: HookFunction;
  readonly key: string;
}

export interface LoadResult {
  missingKeys: string[];
  unexpectedKeys: string[];
  mismatchedKeys: { name: string; expected: number[]; got: number[] }[];
}

export type BytesSource = ArrayBuffer | ArrayBufferView | Blob | URL | string;

export interface ProgressEvent {
  loaded: number;
  total: number;
  file: string;
}

export type ModelSource = string | URL | Map<string, ArrayBuffer | ArrayBufferView | Blob | string> | Record<string, ArrayBuffer | ArrayBufferView | Blob | string> | File[] | FileList;

export interface RunWithCacheResult {
  output: Tensor;
  /** Activations in execution order, by layer name. */
  cache: Map<string, Tensor>;
  bytes: number;
}

export type NameFilter = string | string[] | RegExp | ((name: string) => boolean);

export class HookedModel {
  constructor(module: Module);
  /** A GPT-2-family model from HuggingFace files: a folder (Node), a base URL, or a map of file name to bytes/Blob/File. */
  static fromPretrained(src: ModelSource, options?: { onProgress?: (p: ProgressEvent) => void; signal?: AbortSignal; dtype?: 'float32' | 'f32' | 'float16' | 'f16' }): Promise<HookedGPT2>;
  /** Every activation (or those matching `names`: a name, alias, glob, list, RegExp or function). */
  runWithCache(input: TensorLike | string | string[] | number[] | number[][], options?: { names?: NameFilter; hooks?: Hook[]; shape?: number[] }): RunWithCacheResult;
  /** The wrapped module. */
  readonly model: Module;
  /** Unseal's layer names ('2->0') to modules, in pre-order. */
  readonly layers: Map<string, Module>;
  /** What hooks saved, by hook key. Reset per key when a forward uses that key. */
  saveCtx: Record<string, Record<string, any>>;
  readonly disposed: boolean;
  /** Runs with the hooks attached, detaching them afterwards; returns a JS-owned Tensor. */
  forward(input: TensorLike, options?: { hooks?: Hook[]; shape?: number[] }): Tensor;
  clearCtx(key?: string): void;
  stateDict(): Record<string, Tensor>;
  /** safetensors bytes of the state dict. */
  saveStateDict(): Uint8Array;
  /** From safetensors bytes, a Blob, a URL, or (Node) a file path. */
  loadStateDict(src: BytesSource, options?: { strict?: boolean }): Promise<LoadResult>;
  /** Frees the model's and its modules' wasm memory. */
  dispose(): void;
  toString(): string;
}

export interface GPT2Config {
  vocab_size: number;
  n_positions: number;
  n_embd: number;
  n_layer: number;
  n_head: number;
  n_inner: number | null;
  layer_norm_epsilon: number;
  [key: string]: unknown;
}

/** A module of a pretrained model's tree (HF class name and repr). */
export class PretrainedModule {
  readonly className: string;
  readonly children: PretrainedModule[];
  readonly namedChildren: [string, PretrainedModule][];
  /** A copy (unpacked on demand); assigning a Tensor or Float32Array of the same shape writes it into the model. */
  get weight(): Tensor | undefined;
  set weight(value: Tensor | Float32Array);
  get bias(): Tensor | null;
  set bias(value: Tensor | Float32Array);
  namedParameters(prefix?: string, filter?: (name: string) => boolean): [string, Tensor][];
  toString(): string;
}

/** A hook point that is an activation rather than a module output (q, k, v, scores, pattern, z, resid_mid). */
export class ActivationPoint {
  readonly name: string;
  readonly layout: string;
  readonly description: string;
}

export type GPT2Input = string | string[] | number[] | number[][] | Int32Array | Tensor;

export class HookedGPT2 extends HookedModel {
  readonly config: Readonly<GPT2Config>;
  readonly tokenizer: Tokenizer | null;
  /** TransformerLens names accepted as aliases → our names. */
  readonly aliases: Map<string, string>;
  readonly layers: Map<string, PretrainedModule | ActivationPoint>;
  /** Logits [B, T, V]. */
  forward(input: GPT2Input, options?: { hooks?: Hook[] }): Tensor;
  generate(input: GPT2Input, options?: {
    maxNewTokens?: number; temperature?: number; topK?: number; topP?: number; seed?: number;
    hooks?: Hook[]; eosTokenId?: number;
    onToken?: (e: { step: number; tokens: number[]; text?: string[] }) => boolean | void;
  }): { ids: number[][]; newIds: number[][]; texts?: string[] };
}

/** GPT-2's byte-level BPE (equal to js-tiktoken's 'gpt2' encoding). */
export class Tokenizer {
  static fromFiles(files: { tokenizerJson?: string | Uint8Array; vocabJson?: string | Uint8Array; mergesTxt?: string | Uint8Array }, where?: string): Tokenizer;
  readonly vocabSize: number;
  encode(text: string): number[];
  decode(ids: ArrayLike<number>): string;
  decodeBytes(ids: ArrayLike<number>): Uint8Array;
  idToToken(id: number): string;
  dispose(): void;
}

export interface LogitLensResult {
  layers: string[];
  topIds: Tensor;
  topProbs: Tensor;
  rank: Tensor;
  kl: Tensor;
  logprobs?: Tensor;
}
export function logitLens(model: HookedGPT2, input: GPT2Input, options?: { logprobs?: boolean }): LogitLensResult;
export function attentionLogitAttribution(model: HookedGPT2, input: GPT2Input, options: { layer: number; batchIndex?: number; applyLnF?: boolean }): { raw: Tensor; pos: Tensor; neg: Tensor; targets: number[] };

/** TransformerLens hook names → ours for a model of n layers. */
export function transformerLensAliases(nLayer: number): Map<string, string>;

/** Index strings: parse, read (a copy) and write in place (with broadcasting). */
export function parseIndex(index: string): ({ kind: 'int'; index: number } | { kind: 'slice'; start: number | null; stop: number | null; step: number } | { kind: 'list'; values: number[] } | { kind: 'ellipsis' })[];
export function gather(tensor: Tensor, index: string): Tensor;
export function scatter(tensor: Tensor, index: string, value: number | Tensor | Float32Array): void;

/** Unseal's pre-implemented hooks. */
export const hooks: {
  saveOutput: HookFunction & ((options?: { copy?: boolean }) => HookFunction);
  replaceActivation(indices: string, replacement: number | Tensor | Float32Array): HookFunction;
  additiveOutputNoise(indices: string, options?: { mean?: number; std?: number; seed?: number }): HookFunction;
  hiddenPatch(position: number, replacement: Tensor | Float32Array): HookFunction;
  getAttention(options?: { heads?: number | number[] | string }): HookFunction;
  createAttentionHook(layer: number, key?: string, options?: { heads?: number | number[] | string }): Hook;
  createLogitHook(layer: number, model: HookedGPT2, options?: { target?: number | number[]; position?: number | number[]; splitHeads?: boolean; applyLnF?: boolean; key?: string }): Hook;
};

/** safetensors bytes for [name, Tensor] pairs. */
export function writeSafetensors(named: Iterable<[string, Tensor]>, metadata?: Record<string, string> | null): Uint8Array;
/** The GEMM micro-kernel in use, e.g. "f32_gemm_4x8__wasmsimd". */
export const kernelName: string;

/** Which build runs and how many compute threads it uses (see threads.js). */
export interface ThreadsInfo {
  /** 'unseal-mt.wasm' where threads can run (Node; cross-origin isolated pages), else 'unseal.wasm'. */
  build: 'unseal.wasm' | 'unseal-mt.wasm';
  threaded: boolean;
  /** Threads a forward uses now (the calling thread included). */
  threads: number;
  maxThreads: number;
  /** Why the single-thread build was chosen, or null. */
  why: string | null;
  /** Why the default pool could not start all its workers, or null. */
  error: string | null;
}
/** Sets the compute threads (1..64, the calling thread included); resolves to the count in effect (1 in the single-thread build). Results are bit-identical for every count. */
export function setThreads(n: number): Promise<number>;
export function getThreads(): number;
export function threadsInfo(): ThreadsInfo;
/** Resolved once the default pool (cores, at most 8; UNSEAL_THREADS overrides) is up; the import already waits for it. */
export const threadsReady: Promise<number>;
