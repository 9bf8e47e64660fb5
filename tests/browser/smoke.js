// smoke.js — see smoke.html. Mirrors tests/js/browser.test.js's Node computation.
import { nn, HookedModel, Hook, Tensor, kernelName, setThreads, threadsInfo } from '../../web/index.js';

try {
  nn.manualSeed(0);
  const model = new HookedModel(nn.Sequential(nn.Linear(8, 64), nn.ReLU(), nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 1))));
  const x = new Tensor(Float32Array.from({ length: 16 }, (_, i) => Math.sin(i)), [2, 8]);
  const out = model.forward(x, { hooks: [new Hook('2->0', (ctx, i, o) => { ctx.o = o.clone(); }, 'k')] });
  // Big enough that the threaded build splits the GEMMs over its workers;
  // the same bits with 1 thread and with all of them.
  nn.manualSeed(1);
  const big = new HookedModel(nn.Sequential(nn.Linear(256, 512), nn.GELU(), nn.Linear(512, 200)));
  const xb = new Tensor(Float32Array.from({ length: 64 * 256 }, (_, i) => Math.cos(i / 3)), [64, 256]);
  const bigAll = [...big.forward(xb).data];
  const threads = threadsInfo();
  await setThreads(1);
  const bigOne = [...big.forward(xb).data];
  await setThreads(threads.threads);
  window.unsealResult = { repr: String(model), output: [...out.data], saved: [...model.saveCtx.k.o.data], kernelName, threads, bigAll, bigOne };
  document.getElementById('out').textContent = JSON.stringify(window.unsealResult.output);
} catch (e) {
  window.unsealResult = { error: `${e.name}: ${e.message}` };
}
