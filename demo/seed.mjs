// seed.mjs — Unseal's hooking tutorial, line for line, in JavaScript.
// Run: node demo/seed.mjs
import { nn, HookedModel, Hook, Tensor } from 'unseal-wasm';

nn.manualSeed(0);
const model = new HookedModel(nn.Sequential(
  nn.Linear(8, 64),
  nn.ReLU(),
  nn.Sequential(
    nn.Linear(64, 256),
    nn.ReLU(),
    nn.Linear(256, 1),
  ),
));

// The top-level structure: PyTorch's repr.
console.log(String(model));

// Every layer by its Unseal name.
console.log([...model.layers.keys()]);
console.log(String(model.layers.get('2->0')));

// A hook that saves the input and output of the first linear layer. The
// tensors a hook receives view wasm memory and are valid only during the
// call: clone() keeps copies.
function saveInputOutput(saveCtx, input, output) {
  saveCtx.input = input.clone();
  saveCtx.output = output.clone();
}
const myHook = new Hook('0', saveInputOutput, 'save_input_output_0');

// A random input, as torch.rand((1, 8)).
let s = 42;
const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
const inputTensor = new Tensor(Float32Array.from({ length: 8 }, rand), [1, 8]);

// Forward pass with our hook; it is removed again afterwards.
const output = model.forward(inputTensor, { hooks: [myHook] });

console.log(String(model.saveCtx.save_input_output_0.input));
console.log(String(model.saveCtx.save_input_output_0.output));
console.log(String(output));
model.dispose();
