// gpt2_api.test.js — loading GPT-2 folders (every source kind, shards, bad
// files), inputs, TransformerLens aliases, runWithCache, the logit lens and
// generation with a KV cache.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HookedModel, Hook, Tensor, UnsealError, logitLens, writeSafetensors } from '../../web/index.js';
import { startServer } from '../../scripts/serve.mjs';
import { loadGpt2Golden, maxAbs, maxAbsDiff, readSafetensorsIndependently } from './helpers.js';

const g = loadGpt2Golden('tiny');
let model;
before(async () => { model = await HookedModel.fromPretrained(g.dir); });
after(() => model.dispose());

const rejectsCode = (p, code, re) => assert.rejects(p, (e) => {
  assert.ok(e instanceof UnsealError, String(e));
  assert.equal(e.code, code, e.message);
  if (re) assert.match(e.message, re);
  return true;
});
const throwsCode = (fn, code, re) => assert.throws(fn, (e) => {
  assert.ok(e instanceof UnsealError, String(e));
  assert.equal(e.code, code, e.message);
  if (re) assert.match(e.message, re);
  return true;
});

/** A copy of the tiny folder with changes: { files: {name: bytes|string|null} } (null deletes). */
function folderWith(files) {
  const dir = mkdtempSync(join(tmpdir(), 'unseal-gpt2-'));
  for (const f of ['config.json', 'model.safetensors']) if (!(f in files)) copyFileSync(join(g.dir, f), join(dir, f));
  for (const [name, content] of Object.entries(files)) if (content !== null) writeFileSync(join(dir, name), content);
  return dir;
}

describe('loading', () => {
  test('a map of files (drag and drop), a file: URL and an http base URL give the same model', async () => {
    const want = model.forward(g.t('input_ids')).data;
    const files = { 'config.json': readFileSync(join(g.dir, 'config.json')), 'model.safetensors': new Blob([readFileSync(join(g.dir, 'model.safetensors'))]) };
    const server = await startServer();
    try {
      const rel = g.dir.slice(g.dir.indexOf('/tests/'));
      for (const src of [files, new Map(Object.entries(files)), new URL(`file://${g.dir}/`), `${server.url}${rel}`]) {
        const m = await HookedModel.fromPretrained(src);
        assert.deepEqual(m.forward(g.t('input_ids')).data, want, String(src?.constructor?.name));
        m.dispose();
      }
      await rejectsCode(HookedModel.fromPretrained(`${server.url}/tests/nowhere`), 'ERR_NOT_FOUND', /config\.json: not found/);
    } finally {
      await server.close();
    }
  });

  test('onProgress reports bytes loaded of total, ending at the total', async () => {
    const seen = [];
    const m = await HookedModel.fromPretrained(g.dir, { onProgress: (p) => seen.push(p) });
    m.dispose();
    assert.ok(seen.length >= 2);
    const last = seen.at(-1);
    assert.ok(last.loaded >= readFileSync(join(g.dir, 'model.safetensors')).length);
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i].loaded >= seen[i - 1].loaded);
    assert.ok(seen.every((p) => p.loaded <= p.total));
  });

  test('an AbortSignal cancels loading', async () => {
    const ctl = new AbortController();
    ctl.abort();
    await assert.rejects(HookedModel.fromPretrained(g.dir, { signal: ctl.signal }), (e) => e.name === 'AbortError');
  });

  test('an AbortSignal cancels loading midway (at each progress event, from a folder, a URL or files), and the next load is exact', async () => {
    const want = model.forward(g.t('input_ids')).data;
    const server = await startServer();
    try {
      const files = () => ({ 'config.json': readFileSync(join(g.dir, 'config.json')), 'model.safetensors': new Blob([readFileSync(join(g.dir, 'model.safetensors'))]) });
      const sources = { folder: () => g.dir, url: () => `${server.url}${g.dir.slice(g.dir.indexOf('/tests/'))}/`, files };
      for (const [kind, src] of Object.entries(sources)) {
        let events = 0;
        (await HookedModel.fromPretrained(src(), { onProgress: () => { events++; } })).dispose();
        assert.ok(events >= 1, kind);
        for (let k = 0; k < events; k++) {
          const ctl = new AbortController();
          let seen = 0;
          await assert.rejects(HookedModel.fromPretrained(src(), {
            signal: ctl.signal,
            onProgress: () => { if (seen++ === k) ctl.abort(); },
          }), (e) => e.name === 'AbortError', `${kind}: abort at progress event ${k} of ${events}`);
        }
        const m = await HookedModel.fromPretrained(src());
        assert.deepEqual(m.forward(g.t('input_ids')).data, want, kind);
        m.dispose();
      }
    } finally {
      await server.close();
    }
  });

  test('sharded checkpoints through model.safetensors.index.json', async () => {
    const { tensors } = readSafetensorsIndependently(new Uint8Array(readFileSync(join(g.dir, 'model.safetensors'))));
    const names = Object.keys(tensors);
    const half = Math.ceil(names.length / 2);
    const shard = (list) => writeSafetensors(list.map((n) => [n, new Tensor(tensors[n].data, tensors[n].shape)]));
    const weightMap = Object.fromEntries(names.map((n, i) => [n, i < half ? 'model-00001-of-00002.safetensors' : 'model-00002-of-00002.safetensors']));
    const dir = folderWith({
      'model.safetensors': null,
      'model-00001-of-00002.safetensors': shard(names.slice(0, half)),
      'model-00002-of-00002.safetensors': shard(names.slice(half)),
      'model.safetensors.index.json': JSON.stringify({ metadata: {}, weight_map: weightMap }),
    });
    const m = await HookedModel.fromPretrained(dir);
    assert.deepEqual(m.forward(g.t('input_ids')).data, model.forward(g.t('input_ids')).data);
    m.dispose();
    for (const bad of ['../model.safetensors', '/etc/passwd', 'https://example.com/x.safetensors', 'a/../../b']) {
      const d = folderWith({ 'model.safetensors.index.json': JSON.stringify({ weight_map: { 'transformer.wte.weight': bad } }) });
      await rejectsCode(HookedModel.fromPretrained(d), 'ERR_FORMAT', /must be a plain file name inside the model folder/);
    }
  });

  test('clear errors: missing weights, .bin only, unsupported architecture, config disagreeing with the tensors', async () => {
    await rejectsCode(HookedModel.fromPretrained(folderWith({ 'model.safetensors': null })), 'ERR_NOT_FOUND', /model\.safetensors: not found/);
    await rejectsCode(HookedModel.fromPretrained(folderWith({ 'model.safetensors': null, 'pytorch_model.bin': 'x' })), 'ERR_NOT_FOUND', /only pytorch_model\.bin.*save_pretrained/);
    const cfg = JSON.parse(readFileSync(join(g.dir, 'config.json'), 'utf8'));
    await rejectsCode(HookedModel.fromPretrained(folderWith({ 'config.json': JSON.stringify({ ...cfg, model_type: 'llama' }) })), 'ERR_FORMAT', /model_type 'llama' is not supported/);
    await rejectsCode(HookedModel.fromPretrained(folderWith({ 'config.json': JSON.stringify({ ...cfg, n_embd: 30 }) })), 'ERR_STATE_DICT', /has shape \[101, 24\] but the config implies \[101, 30\].*config\.json belongs to these weights/);
    await rejectsCode(HookedModel.fromPretrained(folderWith({ 'config.json': JSON.stringify({ ...cfg, n_layer: 3 }) })), 'ERR_STATE_DICT', /missing tensor\(s\): 'transformer\.h\.2\.ln_1\.weight'/);
    await rejectsCode(HookedModel.fromPretrained(folderWith({ 'config.json': '{"model_type": "gpt2",' })), 'ERR_FORMAT', /config\.json: invalid JSON at byte/);
    await rejectsCode(HookedModel.fromPretrained(folderWith({ 'config.json': JSON.stringify({ ...cfg, n_head: 5 }) })), 'ERR_FORMAT', /divisible by n_head/);
    await rejectsCode(HookedModel.fromPretrained(folderWith({ 'model.safetensors': 'not a safetensors file' })), 'ERR_FORMAT', /model\.safetensors/);
  });
});

describe('inputs', () => {
  test('ids as an array, an Int32Array, rows, or a Tensor; batch rows equal single runs', () => {
    const ids = g.t('input_ids');
    const [B, T] = ids.shape;
    const full = model.forward(ids);
    for (let b = 0; b < B; b++) {
      const row = Array.from(ids.data.subarray(b * T, (b + 1) * T));
      const one = model.forward(row);
      assert.deepEqual([...one.shape], [1, T, model.config.vocab_size]);
      assert.ok(maxAbsDiff(one.data, full.data.subarray(b * T * 101, (b + 1) * T * 101)) < 1e-5);
      assert.deepEqual(model.forward(Int32Array.from(row)).data, one.data);
    }
  });

  test('too long, out of vocabulary, empty, fractional, ragged, and text without a tokenizer are clear errors', () => {
    throwsCode(() => model.forward(new Array(33).fill(1)), 'ERR_RANGE', /33 positions exceed n_positions = 32/);
    throwsCode(() => model.forward([1, 2, 101]), 'ERR_RANGE', /token id 101 at \[0, 2\] is outside the vocabulary \[0, 101\)/);
    throwsCode(() => model.forward([1, -1]), 'ERR_RANGE', /token id -1/);
    throwsCode(() => model.forward([]), 'ERR_SHAPE', /empty input/);
    throwsCode(() => model.forward([1.5]), 'ERR_DTYPE', /integers/);
    throwsCode(() => model.forward([[1, 2], [3]]), 'ERR_SHAPE', /rectangular/);
    throwsCode(() => model.forward('hello'), 'ERR_INVALID_ARG', /without tokenizer files/);
    // and the model still works
    assert.equal(model.forward([1, 2, 3]).shape[1], 3);
  });
});

describe('hook names', () => {
  test('TransformerLens aliases reach the same points', () => {
    const ids = g.t('input_ids');
    const pairs = [
      ['blocks.1.attn.hook_pattern', 'transformer->h->1->attn->pattern'],
      ['blocks.0.hook_resid_pre', 'transformer->drop'],
      ['blocks.1.hook_resid_pre', 'transformer->h->0'],
      ['blocks.1.hook_resid_mid', 'transformer->h->1->resid_mid'],
      ['blocks.0.mlp.hook_post', 'transformer->h->0->mlp->act'],
      ['ln_final.hook_normalized', 'transformer->ln_f'],
      ['hook_embed', 'transformer->wte'],
    ];
    for (const [alias, name] of pairs) {
      const hooks = [new Hook(alias, (c, i, o) => { c.v = o.clone(); }, 'a'), new Hook(name, (c, i, o) => { c.v = o.clone(); }, 'b')];
      model.forward(ids, { hooks });
      assert.deepEqual(model.saveCtx.a.v.data, model.saveCtx.b.v.data, alias);
    }
    assert.equal(model.aliases.get('blocks.0.attn.hook_z'), 'transformer->h->0->attn->z');
  });

  test('unknown names list the closest; the ModuleList never runs', () => {
    throwsCode(() => model.forward([1], { hooks: [new Hook('transformer->h->0->attn->patern', () => {}, 'k')] }), 'ERR_UNKNOWN_LAYER', /'transformer->h->0->attn->pattern'/);
    throwsCode(() => model.forward([1], { hooks: [new Hook('blocks.0.attn.hook_patern', () => {}, 'k')] }), 'ERR_UNKNOWN_LAYER', /'blocks\.0\.attn\.hook_pattern'/);
    throwsCode(() => model.forward([1], { hooks: [new Hook('transformer->h', () => {}, 'k')] }), 'ERR_INVALID_ARG', /ModuleList/);
  });

  test('layers lists every module and activation point, which print as PyTorch / describe themselves', () => {
    assert.equal(String(model.layers.get('transformer->h->0->attn->c_attn')), 'Conv1D(nf=72, nx=24)');
    assert.equal(String(model.layers.get('transformer->h->0->attn->q')), 'ActivationPoint(q: [B, H, T, hs])');
    assert.equal(String(model.layers.get('lm_head')), 'Linear(in_features=24, out_features=101, bias=False)');
    assert.deepEqual([...model.layers.get('transformer->h->0->mlp->c_fc').weight.shape], [24, 96]);
  });
});

describe('runWithCache', () => {
  test('every activation, or those matching a name, alias, glob, list, RegExp or function', () => {
    const ids = g.t('input_ids');
    const all = model.runWithCache(ids);
    assert.equal(all.cache.size, [...model.layers.keys()].length - 1); // all but the ModuleList
    const distinct = new Set([...all.cache.values()].map((t) => t.data));
    assert.equal(all.bytes, [...distinct].reduce((a, d) => a + d.byteLength, 0)); // shared copies counted once
    assert.ok(distinct.size < all.cache.size);
    // Unwatched attention runs fused: equal to the materialised path up to float rounding.
    assert.ok(maxAbsDiff(all.output.data, model.forward(ids).data) < 1e-6);
    close(all.cache.get('transformer->h->1->attn->z'), g.t('out.transformer->h->1->attn->z'));
    const glob = model.runWithCache(ids, { names: 'transformer->h->*->attn->pattern' });
    assert.deepEqual([...glob.cache.keys()], ['transformer->h->0->attn->pattern', 'transformer->h->1->attn->pattern']);
    assert.deepEqual([...model.runWithCache(ids, { names: 'blocks.0.hook_resid_post' }).cache.keys()], ['transformer->h->0']);
    assert.deepEqual([...model.runWithCache(ids, { names: ['lm_head', 'transformer->ln_f'] }).cache.keys()], ['transformer->ln_f', 'lm_head']);
    assert.equal(model.runWithCache(ids, { names: /->q$/ }).cache.size, 2);
    assert.equal(model.runWithCache(ids, { names: (n) => n.endsWith('->mlp') }).cache.size, 2);
    throwsCode(() => model.runWithCache(ids, { names: 'nothing*here' }), 'ERR_UNKNOWN_LAYER');
    assert.deepEqual(Object.keys(model.saveCtx).filter((k) => k.startsWith('__cache')), []);
  });

  test('equal consecutive outputs share one copy, values always as each point gave them (edits in place kept apart)', () => {
    const ids = g.t('input_ids');
    const names = [...model.layers.keys()].filter((n) => n !== 'transformer->h');
    // What each point gives, cloned one by one.
    const want = new Map();
    model.forward(ids, { hooks: names.map((n) => new Hook(n, (ctx, i, o) => { want.set(n, o.clone()); }, `w${n}`)) });
    const { cache } = model.runWithCache(ids);
    for (const n of names) assert.deepEqual(cache.get(n).data, want.get(n).data, n);
    const a = 'transformer->h->0->attn';
    assert.equal(cache.get(`${a}->c_proj`).data, cache.get(`${a}->resid_dropout`).data); // shared, as eval-mode dropout in PyTorch
    assert.equal(cache.get(`${a}->pattern`).data, cache.get(`${a}->attn_dropout`).data);
    assert.notEqual(cache.get(`${a}->scores`).data, cache.get(`${a}->pattern`).data); // softmax in place between them
    // A hook that edits resid_dropout's output in place: its entry differs, c_proj's does not.
    const edited = model.runWithCache(ids, { hooks: [new Hook(`${a}->resid_dropout`, (ctx, i, o) => { o.data[0] += 1; }, 'edit')] }).cache;
    assert.notEqual(edited.get(`${a}->c_proj`).data, edited.get(`${a}->resid_dropout`).data);
    assert.equal(edited.get(`${a}->resid_dropout`).data[0], Math.fround(edited.get(`${a}->c_proj`).data[0] + 1));
    // the cache's own copies are its own: editing one leaves the next run alone
    cache.get(`${a}->c_proj`).data.fill(0);
    assert.deepEqual(model.runWithCache(ids).cache.get(`${a}->c_proj`).data, want.get(`${a}->c_proj`).data);
  });
});

function close(got, want, what = '') {
  assert.deepEqual([...got.shape], [...want.shape], what);
  const d = maxAbsDiff(got.data, want.data);
  assert.ok(d <= 1e-4 * Math.max(maxAbs(want.data), 1e-6), `${what}: ${d}`);
}

describe('logit lens', () => {
  test('log-probs per layer equal PyTorch\'s; ranks, top tokens and KL are consistent', () => {
    const ids = g.t('input_ids');
    const lens = logitLens(model, ids, { logprobs: true });
    close(lens.logprobs, g.t('lens.logprobs'), 'lens.logprobs');
    const [L1, B, T] = lens.topIds.shape;
    assert.equal(L1, model.config.n_layer + 1);
    const V = model.config.vocab_size;
    for (let l = 0; l < L1; l++) for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) {
      const row = lens.logprobs.data.subarray(((l * B + b) * T + t) * V, ((l * B + b) * T + t + 1) * V);
      const top = lens.topIds.get(l, b, t);
      assert.equal(row[top], Math.max(...row));
      assert.ok(Math.abs(lens.topProbs.get(l, b, t) - Math.exp(row[top])) < 1e-5);
      if (t < T - 1) {
        const target = ids.data[b * T + t + 1];
        assert.equal(lens.rank.get(l, b, t), row.filter((x) => x > row[target]).length);
      }
    }
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) assert.ok(Math.abs(lens.kl.get(L1 - 1, b, t)) < 1e-6);
    assert.ok(lens.kl.data.every((x) => x > -1e-6));
  });
});

describe('generation', () => {
  test('greedy generation with the KV cache equals the argmax of repeated full forwards', () => {
    const prompt = [[5, 17, 3], [9, 9, 40]];
    const out = model.generate(prompt, { maxNewTokens: 8, temperature: 0 });
    const seqs = prompt.map((r) => [...r]);
    for (let s = 0; s < 8; s++) {
      const logits = model.forward(seqs);
      const [, T, V] = logits.shape;
      seqs.forEach((row, b) => {
        const last = logits.data.subarray((b * T + T - 1) * V, (b * T + T) * V);
        row.push(last.indexOf(Math.max(...last)));
      });
    }
    assert.deepEqual(out.ids, seqs);
    assert.deepEqual(out.newIds, seqs.map((r) => r.slice(3)));
  });

  test('cached logits equal full-forward logits at every step', () => {
    const seen = [];
    model.generate([[1, 2, 3, 4]], { maxNewTokens: 5, temperature: 0, hooks: [new Hook('lm_head', (ctx, i, o, info) => { seen.push({ step: info.step, logits: o.clone() }); }, 'lg')] });
    assert.deepEqual(seen.map((s) => s.step), [0, 1, 2, 3, 4]);
    assert.deepEqual([...seen[0].logits.shape], [1, 4, 101]);
    assert.deepEqual([...seen[1].logits.shape], [1, 1, 101]);
    const out = model.generate([[1, 2, 3, 4]], { maxNewTokens: 5, temperature: 0 }).ids[0];
    const full = model.forward([out.slice(0, 8)]);
    for (let s = 1; s < 5; s++) {
      const want = full.data.subarray((3 + s) * 101, (4 + s) * 101);
      assert.ok(maxAbsDiff(seen[s].logits.data, want) < 1e-5, `step ${s}`);
    }
  });

  test('hooks edit every step; saveCtx persists across steps; sampling is seeded', () => {
    const a = model.generate([[7, 8]], { maxNewTokens: 4, temperature: 0.8, topK: 20, topP: 0.9, seed: 3 });
    const b = model.generate([[7, 8]], { maxNewTokens: 4, temperature: 0.8, topK: 20, topP: 0.9, seed: 3 });
    assert.deepEqual(a.ids, b.ids);
    const greedy = model.generate([[7, 8]], { maxNewTokens: 4, temperature: 0 });
    assert.deepEqual(model.generate([[7, 8]], { maxNewTokens: 4, topK: 1, seed: 9 }).ids, greedy.ids);
    let calls = 0;
    const forced = model.generate([[7, 8]], { maxNewTokens: 3, temperature: 0, hooks: [new Hook('lm_head', (ctx, i, o) => {
      ctx.steps = (ctx.steps ?? 0) + 1;
      calls++;
      const [, T, V] = o.shape;
      const last = o.data.subarray((T - 1) * V, T * V);
      last.fill(-1e9);
      last[42] = 0;
    }, 'force')] });
    assert.deepEqual(forced.newIds, [[42, 42, 42]]);
    assert.equal(calls, 3);
    assert.equal(model.saveCtx.force.steps, 3);
    const tokens = [];
    model.generate([[7, 8]], { maxNewTokens: 3, temperature: 0, onToken: ({ tokens: t }) => { tokens.push(t[0]); } });
    assert.deepEqual(tokens, greedy.newIds[0].slice(0, 3));
    throwsCode(() => model.generate([[1]], { maxNewTokens: 32 }), 'ERR_RANGE', /exceeds n_positions = 32/);
  });

  test('a hook that throws mid-generation leaves no hook attached and the model exact', () => {
    const ref = model.forward([[1, 2, 3]]).data;
    const boom = new Error('boom');
    assert.throws(() => model.generate([[1, 2]], { maxNewTokens: 4, hooks: [new Hook('transformer->h->1->attn->z', (c, i, o, info) => { if (info.step === 2) throw boom; }, 'k')] }), (e) => e === boom);
    assert.deepEqual(model.forward([[1, 2, 3]]).data, ref);
  });
});
