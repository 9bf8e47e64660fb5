// gpt2_hooks.test.js — Unseal's pre-implemented hooks, the attention × logits
// attribution and the logit lens against PyTorch values
// (tests/golden/gpt2/<cfg>/analysis.safetensors, see ANALYSIS.md), and the
// index strings they use.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { HookedModel, Hook, Tensor, UnsealError, attentionLogitAttribution, gather, hooks, logitLens, parseIndex, scatter } from '../../web/index.js';
import { loadGpt2Golden, maxAbs, maxAbsDiff, readSafetensorsIndependently } from './helpers.js';

function close(got, want, what, rel = 1e-4) {
  assert.deepEqual([...got.shape], [...want.shape], `${what}: shape`);
  const d = maxAbsDiff(got.data, want.data);
  const tol = rel * Math.max(maxAbs(want.data), 1e-3);
  assert.ok(d <= tol, `${what}: max |diff| ${d} > ${tol}`);
}

for (const cfg of ['tiny', 'odd', 'wide']) {
  describe(`Unseal hooks and analysis against PyTorch: '${cfg}'`, async () => {
    const g = loadGpt2Golden(cfg);
    const { tensors } = readSafetensorsIndependently(new Uint8Array(readFileSync(join(g.dir, 'analysis.safetensors'))));
    const a = (k) => new Tensor(tensors[k].data, tensors[k].shape);
    const model = await HookedModel.fromPretrained(g.dir);
    const ids = g.t('input_ids');
    const { n_layer: L, n_head: H } = model.config;
    const l1 = Math.min(1, L - 1);

    test('createLogitHook on the residual stream, with and without ln_f', () => {
      model.forward(ids, { hooks: [
        hooks.createLogitHook(0, model, { position: [1, 3], target: [0, 5, 7], key: 'ln' }),
        hooks.createLogitHook(0, model, { position: [1, 3], target: [0, 5, 7], applyLnF: false, key: 'noln' }),
      ] });
      close(model.saveCtx.ln.logits, a('logit_hook.resid'), 'logit_hook.resid');
      close(model.saveCtx.noln.logits, a('logit_hook.resid_noln'), 'logit_hook.resid_noln');
    });

    test('createLogitHook per head (splitHeads, head-major c_proj)', () => {
      model.forward(ids, { hooks: [
        hooks.createLogitHook(l1, model, { position: [2], target: [4, 9], splitHeads: true, key: 'h' }),
        hooks.createLogitHook(l1, model, { position: [2], target: [4, 9], splitHeads: true, applyLnF: false, key: 'h0' }),
      ] });
      close(model.saveCtx.h.logits, a('logit_hook.heads'), 'logit_hook.heads');
      close(model.saveCtx.h0.logits, a('logit_hook.heads_noln'), 'logit_hook.heads_noln');
    });

    test('attentionLogitAttribution: raw, positive and negative parts', () => {
      const r = attentionLogitAttribution(model, ids, { layer: l1 });
      close(r.raw, a('attn_attr.raw'), 'attn_attr.raw');
      close(r.pos, a('attn_attr.pos'), 'attn_attr.pos');
      close(r.neg, a('attn_attr.neg'), 'attn_attr.neg');
      assert.deepEqual(r.targets, Array.from(ids.data.subarray(1, ids.shape[1])));
      close(attentionLogitAttribution(model, ids, { layer: l1, applyLnF: false }).raw, a('attn_attr_noln.raw'), 'attn_attr_noln.raw');
    });

    test('replaceActivation and hiddenPatch give PyTorch\'s logits; getAttention saves the chosen heads', () => {
      const replaced = model.forward(ids, { hooks: [new Hook('transformer->h->0->mlp', hooks.replaceActivation(':,2,:', a('replace.value')), 'r')] });
      close(replaced, a('replace.logits'), 'replace.logits');
      const patched = model.forward(ids, { hooks: [new Hook(`transformer->h->${l1}`, hooks.hiddenPatch(3, a('hidden_patch.value')), 'p')] });
      close(patched, a('hidden_patch.logits'), 'hidden_patch.logits');
      model.forward(ids, { hooks: [hooks.createAttentionHook(l1, 'att', { heads: [0, H - 1] })] });
      close(model.saveCtx.att.attn, a('get_attention.attn'), 'get_attention.attn');
    });

    test('logit lens: top tokens, probabilities, ranks and KL', () => {
      const lens = logitLens(model, ids);
      assert.deepEqual([...lens.topIds.data], [...a('lens.top_ids').data]);
      close(lens.topProbs, a('lens.top_probs'), 'lens.top_probs');
      close(lens.kl, a('lens.kl'), 'lens.kl', 1e-3);
      // one rank in 'wide' hinges on a 4.8e-6 logprob gap (analysis.json: rank_close_calls): allow ±1 there only
      const want = a('lens.rank').data;
      let off = 0;
      lens.rank.data.forEach((r, i) => { if (r !== want[i]) { off++; assert.ok(Math.abs(r - want[i]) <= 1, `rank ${i}: ${r} vs ${want[i]}`); } });
      assert.ok(off <= 1);
    });
  });
}

describe('saveOutput and additiveOutputNoise', async () => {
  const model = await HookedModel.fromPretrained(loadGpt2Golden('tiny').dir);
  test('saveOutput is a hook function itself, or makes one', () => {
    let view;
    model.forward([1, 2], { hooks: [
      new Hook('transformer->ln_f', hooks.saveOutput, 'a'),
      new Hook('transformer->ln_f', hooks.saveOutput({ copy: false }), 'b'),
      new Hook('transformer->ln_f', (c, i, o) => { view = o; }, 'c'),
    ] });
    assert.equal(model.saveCtx.a.output.isView, false);
    assert.deepEqual([...model.saveCtx.a.output.shape], [1, 2, 24]);
    assert.throws(() => model.saveCtx.b.output.data, (e) => e.code === 'ERR_EXPIRED');
    assert.ok(view);
  });

  test('additiveOutputNoise: seeded noise is reproducible, has the asked statistics, touches only the indices', () => {
    const grab = (fn) => {
      model.forward([1, 2, 3, 4, 5, 6, 7, 8], { hooks: [new Hook('transformer->h->0->mlp->act', fn, 'n'), new Hook('transformer->h->0->mlp->act', hooks.saveOutput, 's')] });
      return model.saveCtx.s.output;
    };
    const clean = grab(() => {});
    const n1 = grab(hooks.additiveOutputNoise(':,2:5,:', { mean: 0.5, std: 2, seed: 4 }));
    const n2 = grab(hooks.additiveOutputNoise(':,2:5,:', { mean: 0.5, std: 2, seed: 4 }));
    const n3 = grab(hooks.additiveOutputNoise(':,2:5,:', { mean: 0.5, std: 2, seed: 5 }));
    assert.deepEqual(n1.data, n2.data);
    assert.notDeepEqual(n1.data, n3.data);
    const d = gather(n1, ':,2:5,:').data.map((x, i) => x - gather(clean, ':,2:5,:').data[i]);
    const mean = d.reduce((s, x) => s + x, 0) / d.length;
    const std = Math.sqrt(d.reduce((s, x) => s + (x - mean) ** 2, 0) / d.length);
    assert.ok(Math.abs(mean - 0.5) < 0.25 && Math.abs(std - 2) < 0.25, `mean ${mean} std ${std} over ${d.length}`);
    assert.deepEqual(gather(n1, ':,:2,:').data, gather(clean, ':,:2,:').data);
    assert.deepEqual(gather(n1, ':,5:,:').data, gather(clean, ':,5:,:').data);
  });
});

describe('index strings', () => {
  const t = new Tensor(Float32Array.from({ length: 24 }, (_, i) => i), [2, 3, 4]);
  test('NumPy semantics: ints drop dims, slices with negatives and steps, lists, ellipsis', () => {
    const cases = [
      [':,1,:', [2, 4], [4, 5, 6, 7, 16, 17, 18, 19]],
      ['...,2:4', [2, 3, 2], [2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23]],
      ['-1,-1,-1', [], [23]],
      ['0,::2,::-3', [2, 2], [3, 0, 11, 8]],
      ['[1,0],0,[3]', [2, 1], [15, 3]],
      ['1', [3, 4], Array.from({ length: 12 }, (_, i) => 12 + i)],
      ['0,5:,:', [0, 4], []],
      ['', [2, 3, 4], Array.from({ length: 24 }, (_, i) => i)],
    ];
    for (const [idx, shape, values] of cases) {
      const r = gather(t, idx);
      assert.deepEqual([...r.shape], shape, idx);
      assert.deepEqual([...r.data], values, idx);
    }
  });

  test('scatter writes in place with broadcasting from the right', () => {
    const u = t.clone();
    scatter(u, ':,1,:', new Tensor(Float32Array.of(-1, -2, -3, -4), [4]));
    assert.deepEqual([...gather(u, ':,1,:').data], [-1, -2, -3, -4, -1, -2, -3, -4]);
    scatter(u, '...,0', 9);
    assert.deepEqual([...gather(u, '...,0').data], [9, 9, 9, 9, 9, 9]);
    scatter(u, '[1],0:2,1', new Tensor(Float32Array.of(7, 8), [1, 2]));
    assert.equal(u.get(1, 0, 1), 7);
    assert.equal(u.get(1, 1, 1), 8);
    assert.throws(() => scatter(u, ':,1,:', new Float32Array(3)), (e) => e.code === 'ERR_SHAPE' && /broadcasts from the right/.test(e.message));
  });

  test('bad strings point at the offending character; out-of-range indices name the dim', () => {
    const bad = (s, code, re) => assert.throws(() => gather(t, s), (e) => e instanceof UnsealError && e.code === code && re.test(e.message));
    bad(':,3;', 'ERR_FORMAT', /position 3, found ';'/);
    bad('__import__("os")', 'ERR_FORMAT', /position 0, found '_'/);
    bad('1:2:0', 'ERR_FORMAT', /non-zero slice step at position 4/);
    bad('0,3', 'ERR_RANGE', /3 is out of range for dimension 1 of size 3/);
    bad('0,0,0,0', 'ERR_SHAPE', /4 entries but the tensor has only 3 dimensions/);
    assert.deepEqual(parseIndex('...,[1,4]'), [{ kind: 'ellipsis' }, { kind: 'list', values: [1, 4] }]);
  });
});
