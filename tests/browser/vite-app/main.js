// main.js — what a bundler user writes: import the package by name. Runs the
// seed model with a hook and, given ?model=<base URL>, a GPT-2 from HF files;
// publishes the numbers for tests/js/demo.test.js to compare with Node's (the
// seed run is tests/browser/smoke_models.js's seedRun, written out as a user would).
import { nn, HookedModel, Hook, Tensor, kernelName, threadsInfo } from 'unseal-wasm';

async function main() {
  nn.manualSeed(0);
  const model = new HookedModel(nn.Sequential(nn.Linear(8, 64), nn.ReLU(), nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 1))));
  const x = new Tensor(Float32Array.from({ length: 16 }, (_, i) => Math.sin(i)), [2, 8]);
  const out = model.forward(x, { hooks: [new Hook('2->0', (ctx, i, o) => { ctx.o = o.clone(); }, 'k')] });
  const result = { kernelName, threads: threadsInfo(), output: [...out.data], saved: [...model.saveCtx.k.o.data] };
  model.dispose();
  const base = new URLSearchParams(location.search).get('model');
  if (base) {
    const gpt2 = await HookedModel.fromPretrained(new URL(base, location.href).href);
    const logits = gpt2.forward('In the beginning');
    result.gpt2 = { shape: [...logits.shape], last: [...logits.data.subarray(logits.data.length - gpt2.config.vocab_size)] };
    gpt2.dispose();
  }
  return result;
}

main().then(
  (r) => { window.unsealResult = r; document.getElementById('out').textContent = JSON.stringify(r.output); },
  (e) => { window.unsealResult = { error: `${e.name}: ${e.message}` }; document.getElementById('out').textContent = window.unsealResult.error; },
);
