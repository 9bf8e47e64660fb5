// gpt2_golden.test.js — GPT-2 models loaded from HF-style folders against the
// plain-PyTorch reference (tests/golden/gpt2, made by make_gpt2_golden.py):
// repr, names, every hook point's input and output, and two interventions.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HookedModel, Hook, Tensor } from '../../web/index.js';
import { loadGpt2Golden, maxAbs, maxAbsDiff } from './helpers.js';

const CONFIGS = ['tiny', 'odd', 'wide', 'wide_f16'];
const REL = 1e-4; // of the largest |value| of each tensor

function close(got, want, what) {
  assert.deepEqual([...got.shape], [...want.shape], `${what}: shape`);
  const d = maxAbsDiff(got.data, want.data);
  const tol = REL * Math.max(maxAbs(want.data), 1e-6);
  assert.ok(d <= tol, `${what}: max |diff| ${d} > ${tol}`);
}

for (const cfg of CONFIGS) {
  describe(`GPT-2 golden '${cfg}'`, async () => {
    const g = loadGpt2Golden(cfg);
    const model = await HookedModel.fromPretrained(g.dir);
    const ids = g.t('input_ids');

    test('repr and layer names equal PyTorch\'s', () => {
      assert.equal(String(model), g.meta.repr);
      const modules = [...model.layers].filter(([, m]) => m.constructor.name === 'PretrainedModule').map(([n]) => n);
      assert.deepEqual(modules, g.meta.layers);
      for (const p of g.meta.points) assert.ok(model.layers.has(p), `layers has ${p}`);
    });

    test('every hook point\'s input and output equal PyTorch\'s', () => {
      const seen = [];
      const hooks = g.meta.points.map((p) => new Hook(p, (ctx, i, o) => { seen.push({ p, i: i.clone(), o: o.clone() }); }, p));
      const logits = model.forward(ids, { hooks });
      assert.deepEqual(seen.map((s) => s.p), g.meta.points, 'execution order');
      for (const s of seen) {
        close(s.o, g.t(`out.${s.p}`), `out.${s.p}`);
        if (g.meta.input_points.includes(s.p)) {
          const want = g.t(`in.${s.p}`);
          if (want.data instanceof Int32Array) assert.deepEqual([...s.i.data], [...want.data], `in.${s.p}`);
          else close(s.i, want, `in.${s.p}`);
        }
      }
      close(logits, g.t('out.lm_head'), 'logits');
      // masked scores are exactly -inf, masked pattern entries exactly 0
      const sc = seen.find((s) => s.p.endsWith('->scores')).o;
      const [, , T, S] = sc.shape;
      assert.equal(sc.get(0, 0, 0, S - 1), -Infinity);
      assert.equal(seen.find((s) => s.p.endsWith('->pattern')).o.get(0, 0, 0, S - 1), 0);
      assert.ok(T === S);
    });

    test('zero-ablating one head\'s z gives PyTorch\'s logits', () => {
      const logits = model.forward(ids, { hooks: [new Hook('transformer->h->1->attn->z', (ctx, i, z) => {
        const [B, T, H, hs] = z.shape;
        for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) z.data.fill(0, ((b * T + t) * H + 1) * hs, ((b * T + t) * H + 2) * hs);
      }, 'ablate')] });
      close(logits, g.t('ablate.logits'), 'ablate.logits');
    });

    test('patching one position\'s residual from a second prompt gives PyTorch\'s logits', () => {
      model.forward(g.t('second_ids'), { hooks: [new Hook('transformer->h->0', (ctx, i, o) => { ctx.resid = o.clone(); }, 'src')] });
      const src = model.saveCtx.src.resid;
      const logits = model.forward(ids, { hooks: [new Hook('transformer->h->0', (ctx, i, o) => {
        const [B, T, C] = o.shape;
        for (let b = 0; b < B; b++) o.data.set(src.data.subarray((b * T + 3) * C, (b * T + 4) * C), (b * T + 3) * C);
      }, 'patch')] });
      close(logits, g.t('patch.logits'), 'patch.logits');
    });

    test('the plain forward equals the hooked one bit for bit', () => {
      const a = model.forward(ids);
      const b = model.forward(ids, { hooks: [new Hook('transformer->h->0->attn->q', () => {}, 'noop')] });
      assert.deepEqual(a.data, b.data);
    });
  });
}

describe('F16-stored weights (dtype: \'f16\')', async () => {
  test('a checkpoint stored in F16, run with F16 weights: every point equals the reference computed from the same F16 values', async () => {
    const g = loadGpt2Golden('wide_f16');
    const model = await HookedModel.fromPretrained(g.dir, { dtype: 'f16' });
    assert.equal(model.dtype, 'f16');
    const seen = [];
    const hooks = g.meta.points.map((p) => new Hook(p, (ctx, i, o) => { seen.push({ p, o: o.clone() }); }, p));
    const logits = model.forward(g.t('input_ids'), { hooks });
    for (const s of seen) close(s.o, g.t(`out.${s.p}`), `out.${s.p}`);
    close(logits, g.t('out.lm_head'), 'logits');
    model.dispose();
  });

  test('an F32 checkpoint run with F16 weights stays within F16 rounding of the F32 logits', async () => {
    const g = loadGpt2Golden('wide');
    const model = await HookedModel.fromPretrained(g.dir, { dtype: 'f16' });
    const logits = model.forward(g.t('input_ids'));
    const want = g.t('out.lm_head');
    const d = maxAbsDiff(logits.data, want.data);
    assert.ok(d < 2e-3 * maxAbs(want.data) && d > 0, `max |diff| ${d}`);
    model.dispose();
    await assert.rejects(HookedModel.fromPretrained(g.dir, { dtype: 'int8' }), (e) => e.code === 'ERR_INVALID_ARG' && /'f16'/.test(e.message));
  });
});
