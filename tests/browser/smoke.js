// smoke.js — see smoke.html. Mirrors tests/js/browser.test.js's Node computation.
import { nn, HookedModel, Hook, Tensor, kernelName } from '../../web/index.js';

try {
  nn.manualSeed(0);
  const model = new HookedModel(nn.Sequential(nn.Linear(8, 64), nn.ReLU(), nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 1))));
  const x = new Tensor(Float32Array.from({ length: 16 }, (_, i) => Math.sin(i)), [2, 8]);
  const out = model.forward(x, { hooks: [new Hook('2->0', (ctx, i, o) => { ctx.o = o.clone(); }, 'k')] });
  window.unsealResult = { repr: String(model), output: [...out.data], saved: [...model.saveCtx.k.o.data], kernelName };
  document.getElementById('out').textContent = JSON.stringify(window.unsealResult.output);
} catch (e) {
  window.unsealResult = { error: `${e.name}: ${e.message}` };
}
