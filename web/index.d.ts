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

export type HookFunction = (saveCtx: Record<string, any>, input: Tensor, output: Tensor) => Tensor | Float32Array | void;

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

export class HookedModel {
  constructor(module: Module);
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

/** safetensors bytes for [name, Tensor] pairs. */
export function writeSafetensors(named: Iterable<[string, Tensor]>, metadata?: Record<string, string> | null): Uint8Array;
/** The GEMM micro-kernel in use, e.g. "f32_gemm_4x8__wasmsimd". */
export const kernelName: string;
