// smoke_models.js — the computations tests/browser/smoke.js runs in Chromium
// and tests/js/browser.test.js runs in Node, so that the two compare numbers
// from the same code.
import { nn, HookedModel, Hook, Tensor } from '../../web/index.js';

/** The seed example's model (seed 0) with one hook: { repr, output, saved } as arrays. */
export function seedRun() {
  nn.manualSeed(0);
  const model = new HookedModel(nn.Sequential(nn.Linear(8, 64), nn.ReLU(), nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 1))));
  const x = new Tensor(Float32Array.from({ length: 16 }, (_, i) => Math.sin(i)), [2, 8]);
  const out = model.forward(x, { hooks: [new Hook('2->0', (ctx, i, o) => { ctx.o = o.clone(); }, 'k')] });
  const r = { repr: String(model), output: [...out.data], saved: [...model.saveCtx.k.o.data] };
  model.dispose();
  return r;
}

/** A model (seed 1) big enough that the threaded build splits its GEMMs over
 * the workers: { run() -> output as an array, dispose() }. */
export function bigModel() {
  nn.manualSeed(1);
  const model = new HookedModel(nn.Sequential(nn.Linear(256, 512), nn.GELU(), nn.Linear(512, 200)));
  const x = new Tensor(Float32Array.from({ length: 64 * 256 }, (_, i) => Math.cos(i / 3)), [64, 256]);
  return { run: () => [...model.forward(x).data], dispose: () => model.dispose() };
}
