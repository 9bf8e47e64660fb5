// unseal-wasm — mechanistic-interpretability hooks for neural networks, in
// WebAssembly. The wasm module is loaded and ready once this import resolves.
//
//   import { nn, HookedModel, Hook, Tensor } from 'unseal-wasm';
//
// Layout: wasm.js loads the C core; tensor.js, nn.js and hooked_model.js are
// the thin skin over it; io.js reads bytes and safetensors; errors.js holds
// the one error class.

export { UnsealError } from './errors.js';
export { Tensor } from './tensor.js';
export { nn, Module } from './nn.js';
export { Hook, HookedModel } from './hooked_model.js';
export { HookedGPT2, PretrainedModule, ActivationPoint, transformerLensAliases } from './gpt2.js';
export { Tokenizer } from './tokenizer.js';
export { logitLens, attentionLogitAttribution, previousTokenScores, inductionScores, gradientTimesInput, attributionPatching } from './analysis.js';
export { Trainer } from './train.js';
export { parseIndex, gather, scatter } from './indexing.js';
import * as hooks from './hooks.js';
export { hooks };
export { writeSafetensors } from './io.js';
export { kernelName } from './wasm.js';
export { setThreads, getThreads, threadsInfo, threadsReady } from './threads.js';
