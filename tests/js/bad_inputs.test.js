// bad_inputs.test.js — the catalogue of bad inputs: files, configs, tokens,
// shapes, hook returns, index strings and options. Each must fail with exactly
// this UnsealError code and message, and afterwards both models must still
// give bit-identical results on a good input.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, test } from 'node:test';
import { HookedModel, Hook, Tensor, Tokenizer, UnsealError, gather, nn, writeSafetensors } from '../../web/index.js';
import { goldenDir } from './helpers.js';

const dir = `${goldenDir}/gpt2/tiny`;
const m = await HookedModel.fromPretrained(dir);
nn.manualSeed(3);
const seq = new HookedModel(nn.Sequential(nn.Linear(4, 3), nn.ReLU()));
const cfg = JSON.parse(readFileSync(`${dir}/config.json`, 'utf8'));
const weights = readFileSync(`${dir}/model.safetensors`);
after(() => {
  m.dispose();
  seq.dispose();
});

const good = () => [m.forward([[5, 6, 7], [8, 9, 10]]).data, seq.forward([[1, 2, 3, 4]]).data];
const reference = good();

const CASES = [
  ["model folder without config.json", "ERR_NOT_FOUND", "config.json: not found; a model folder needs config.json (HF GPT2Config) and model.safetensors", () => HookedModel.fromPretrained({ 'model.safetensors': weights })],
  ["config.json that is not JSON", "ERR_FORMAT", "config.json: invalid JSON at byte 1: expected a string key", () => HookedModel.fromPretrained({ 'config.json': '{', 'model.safetensors': weights })],
  ["config.json of another architecture", "ERR_FORMAT", "config.json: model_type 'bert' is not supported; unseal-wasm runs GPT-2-family models (model_type 'gpt2', architectures ['GPT2LMHeadModel'])", () => HookedModel.fromPretrained({ 'config.json': JSON.stringify({ ...cfg, model_type: 'bert' }), 'model.safetensors': weights })],
  ["config.json with n_head not dividing n_embd", "ERR_FORMAT", "config.json: n_embd (24) must be divisible by n_head (5)", () => HookedModel.fromPretrained({ 'config.json': JSON.stringify({ ...cfg, n_head: 5 }), 'model.safetensors': weights })],
  ["config.json with a negative n_layer", "ERR_FORMAT", "config.json: n_layer must be a positive integer, got -1", () => HookedModel.fromPretrained({ 'config.json': JSON.stringify({ ...cfg, n_layer: -1 }), 'model.safetensors': weights })],
  ["config.json with activation relu", "ERR_FORMAT", "config.json: activation_function 'relu' is not supported (GPT-2 uses 'gelu_new')", () => HookedModel.fromPretrained({ 'config.json': JSON.stringify({ ...cfg, activation_function: 'relu' }), 'model.safetensors': weights })],
  ["weights missing", "ERR_NOT_FOUND", "model.safetensors: not found", () => HookedModel.fromPretrained({ 'config.json': JSON.stringify(cfg) })],
  ["weights that are not safetensors", "ERR_FORMAT", "model.safetensors: header length 8031924123371070824 is absurd (more than 100000000 bytes; corrupt or not a safetensors file)", () => HookedModel.fromPretrained({ 'config.json': JSON.stringify(cfg), 'model.safetensors': 'hello world, not a file' })],
  ["weights truncated", "ERR_FORMAT", "model.safetensors: tensor \"transformer.wte.weight\": data_offsets [61056, 70752] reach beyond the end of the data section (70742 bytes)", () => HookedModel.fromPretrained({ 'config.json': JSON.stringify(cfg), 'model.safetensors': weights.subarray(0, weights.length - 10) })],
  ["config disagreeing with the weights", "ERR_STATE_DICT", "model.safetensors: the weights do not match config.json (2 layers, n_embd 24, vocab 100, n_positions 32): 'transformer.wte.weight' has shape [101, 24] but the config implies [100, 24]. Check that config.json belongs to these weights.", () => HookedModel.fromPretrained({ 'config.json': JSON.stringify({ ...cfg, vocab_size: 100 }), 'model.safetensors': weights })],
  ["sharded index naming a file outside the folder", "ERR_FORMAT", "model.safetensors.index.json: the file name \"../x.safetensors\" must be a plain file name inside the model folder", () => HookedModel.fromPretrained({ 'config.json': JSON.stringify(cfg), 'model.safetensors.index.json': JSON.stringify({ weight_map: { a: '../x.safetensors' } }) })],
  ["sharded index without weight_map", "ERR_FORMAT", "model.safetensors.index.json: expected an object with a \"weight_map\" of tensor name → file name", () => HookedModel.fromPretrained({ 'config.json': JSON.stringify(cfg), 'model.safetensors.index.json': '{}' })],
  ["vocab.json without merges.txt", "ERR_NOT_FOUND", "merges.txt: not found; a GPT-2 tokenizer needs tokenizer.json, or both vocab.json and merges.txt", () => HookedModel.fromPretrained({ 'config.json': JSON.stringify(cfg), 'model.safetensors': weights, 'vocab.json': '{}' })],
  ["an unsupported dtype option", "ERR_INVALID_ARG", "fromPretrained: dtype must be 'f32' (default) or 'f16' (matmul weights stored as half, computed in f32), got 'int4'", () => HookedModel.fromPretrained(dir, { dtype: 'int4' })],
  ["a number as the model source", "ERR_INVALID_ARG", "fromPretrained: expected a directory path, a base URL, or a map of file name to bytes/Blob/File; got Number", () => HookedModel.fromPretrained(42)],
  ["a token id outside the vocabulary", "ERR_RANGE", "token id 101 at [0, 2] is outside the vocabulary [0, 101)", () => m.forward([1, 2, 101])],
  ["a negative token id", "ERR_RANGE", "token id -1 at [0, 0] is outside the vocabulary [0, 101)", () => m.forward([-1])],
  ["too many tokens", "ERR_RANGE", "GPT-2 forward: 33 positions exceed n_positions = 32", () => m.forward(new Array(33).fill(0))],
  ["an empty input", "ERR_SHAPE", "input: empty input (shape [1, 0]); give at least one token", () => m.forward([])],
  ["a fractional token id", "ERR_DTYPE", "input: token ids must be integers; element 0 is 1.5", () => m.forward([1.5])],
  ["rows of different lengths", "ERR_SHAPE", "input[1] has length 1, expected 2 (nested arrays must be rectangular)", () => m.forward([[1, 2], [3]])],
  ["text without a tokenizer", "ERR_INVALID_ARG", "text input needs a tokenizer, and this model was loaded without tokenizer files (tokenizer.json, or vocab.json + merges.txt); pass token ids instead", () => m.forward('hi')],
  ["a 3-D input of ids", "ERR_SHAPE", "input: expected token ids of shape [T] or [B, T], got [2, 2, 2]", () => m.forward(new Tensor(new Int32Array(8), [2, 2, 2]))],
  ["a wrong input width for a Linear", "ERR_SHAPE", "layer '0' (Linear): expected input of shape [*, 4] (in_features = 4), got shape [1, 5]", () => seq.forward(new Tensor(new Float32Array(5), [1, 5]))],
  ["a tensor whose data does not fit its shape", "ERR_SHAPE", "Tensor: shape [2, 2] holds 4 elements but data has 3", () => new Tensor(new Float32Array(3), [2, 2])],
  ["a negative dimension", "ERR_SHAPE", "shape [-1] has an entry that is not a non-negative integer: -1", () => new Tensor(new Float32Array(0), [-1])],
  ["a state dict of the wrong shape", "ERR_STATE_DICT", "Error(s) in loading state dict from the given bytes: size mismatch for '0.weight': the file has shape [2, 2], the model has [3, 4]. Nothing was loaded.", () => seq.loadStateDict(writeSafetensors([['0.weight', new Tensor(new Float32Array(4), [2, 2])], ['0.bias', new Tensor(new Float32Array(3), [3])]]))],
  ["an unknown layer", "ERR_UNKNOWN_LAYER", "hook 'k': there is no layer named 'transformer->h->9'; the closest are 'transformer->h->0', 'transformer->h->1', 'transformer->h' (model.layers.keys() lists them all)", () => m.forward([1], { hooks: [new Hook('transformer->h->9', () => {}, 'k')] })],
  ["two hooks with one key", "ERR_DUPLICATE_KEY", "two hooks in one call use the key 'k'; each hook needs its own key", () => m.forward([1], { hooks: [new Hook('lm_head', () => {}, 'k'), new Hook('transformer', () => {}, 'k')] })],
  ["a hook returning a number", "ERR_HOOK_RETURN", "hook 'k' on layer 'lm_head' returned Number; a hook returns nothing, or a Tensor or Float32Array of the output's shape [1, 1, 101]", () => m.forward([1], { hooks: [new Hook('lm_head', () => 5, 'k')] })],
  ["a hook returning the wrong shape", "ERR_HOOK_RETURN", "hook 'k' on layer 'lm_head' returned a Tensor of shape [1, 2], but the output has shape [1, 1, 101]", () => m.forward([1], { hooks: [new Hook('lm_head', () => new Tensor(new Float32Array(2), [1, 2]), 'k')] })],
  ["a hook on the ModuleList", "ERR_INVALID_ARG", "hook 'k': 'transformer->h' is a ModuleList, which never runs as a module (as in PyTorch); hook 'transformer->h->0' (a block) instead", () => m.forward([1], { hooks: [new Hook('transformer->h', () => {}, 'k')] })],
  ["a forward from inside a hook", "ERR_REENTRANT", "forward was called from inside a hook; a hook may not run the model it is hooked into", () => m.forward([1], { hooks: [new Hook('lm_head', () => { m.forward([1]); }, 'k')] })],
  ["a hook that is not a Hook", "ERR_INVALID_ARG", "hooks[0] is not a Hook (expected new Hook(layerName, func, key))", () => m.forward([1], { hooks: [{ layerName: 'lm_head' }] })],
  ["a Hook without a function", "ERR_INVALID_ARG", "Hook 'k': func must be a function, got number", () => new Hook('lm_head', 3, 'k')],
  ["reading a hook view after the hook returned", "ERR_EXPIRED", "this tensor viewed wasm memory during a hook call and is no longer valid; call .clone() inside the hook to keep a copy", () => { let v; m.forward([1], { hooks: [new Hook('lm_head', (c, i, o) => { v = o; }, 'k')] }); return v.data; }],
  ["an index string with a bad character", "ERR_FORMAT", "index string \"0;1\": expected ',' between items at position 1, found ';'", () => gather(new Tensor(new Float32Array(4), [2, 2]), '0;1')],
  ["an index string that evaluates nothing", "ERR_FORMAT", "index string \"process.exit()\": expected an integer, ':', '...' or '[' at position 0, found 'p'", () => gather(new Tensor(new Float32Array(4), [2, 2]), 'process.exit()')],
  ["an index out of range", "ERR_RANGE", "index '0,5': 5 is out of range for dimension 1 of size 2", () => gather(new Tensor(new Float32Array(4), [2, 2]), '0,5')],
  ["a zero slice step", "ERR_FORMAT", "index string \"::0\": expected a non-zero slice step at position 2, found '0'", () => gather(new Tensor(new Float32Array(4), [2, 2]), '::0')],
  ["two ellipses", "ERR_FORMAT", "index string \"...,...\": expected at most one '...' at position 4, found '.'", () => gather(new Tensor(new Float32Array(4), [2, 2]), '...,...')],
  ["more indices than dimensions", "ERR_SHAPE", "index '0,0,0' has 3 entries but the tensor has only 2 dimensions ([2, 2])", () => gather(new Tensor(new Float32Array(4), [2, 2]), '0,0,0')],
  ["generate with a negative temperature", "ERR_INVALID_ARG", "generate: temperature must be a number >= 0, got -1", () => m.generate([1], { temperature: -1 })],
  ["generate past n_positions", "ERR_RANGE", "generate: the prompt (1 token) plus maxNewTokens (40) exceeds n_positions = 32", () => m.generate([1], { maxNewTokens: 40 })],
  ["generate with topP above 1", "ERR_INVALID_ARG", "generate: topP must be in (0, 1], got 1.5", () => m.generate([1], { topP: 1.5 })],
  ["backward before a gradient forward", "ERR_INVALID_ARG", "backward: run model.forward(input, { grad: true }) first", async () => { const f = await HookedModel.fromPretrained(dir); try { f.backward({ loss: 'cross_entropy', targets: [1] }); } finally { f.dispose(); } }],
  ["a Linear with zero inputs", "ERR_INVALID_ARG", "nn.Linear: in_features must be a positive integer, got 0", () => nn.Linear(0, 3)],
  ["GELU with an unknown approximation", "ERR_INVALID_ARG", "nn.GELU: approximate must be 'none' or 'tanh', got 'sigmoid'", () => nn.GELU({ approximate: 'sigmoid' })],
  ["a disposed model", "ERR_DISPOSED", "this HookedModel has been disposed", () => { const d = new HookedModel(nn.Sequential(nn.ReLU())); d.dispose(); return d.forward([1]); }],
  ["a tokenizer.json of another model type", "ERR_FORMAT", "tokenizer: tokenizer.json: model.type is \"WordPiece\"; only \"BPE\" is supported", () => Tokenizer.fromFiles({ tokenizerJson: JSON.stringify({ model: { type: 'WordPiece', vocab: {} } }) })],
];

test('the catalogue has at least 40 cases', () => assert.ok(CASES.length >= 40));

for (const [name, code, message, fn] of CASES) {
  test(`${name}: ${code}`, async () => {
    await assert.rejects(async () => fn(), (e) => {
      assert.ok(e instanceof UnsealError, `not an UnsealError: ${e}`);
      assert.equal(e.code, code);
      assert.equal(e.message, message);
      return true;
    });
    const [a, b] = good();
    assert.deepEqual(a, reference[0], 'the GPT-2 model gives the same result afterwards');
    assert.deepEqual(b, reference[1], 'the module model gives the same result afterwards');
  });
}
