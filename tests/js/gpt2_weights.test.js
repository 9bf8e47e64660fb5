// gpt2_weights.test.js — a loaded GPT-2 holds its matmul weights (the
// Conv1D weights and wte, which is also the tied lm_head) only as the GEMM's
// packs, filled straight from the file as it streams in. Here: the state dict
// reads them back exactly (F32, F16 and BF16 files; rounded with dtype
// 'f16'); writing module.weight re-packs and gives PyTorch's logits for the
// edited weights; training makes a plain copy and matches AdamW recomputed
// over grads() step by step; the streaming reader cuts tensors anywhere.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { HookedModel, Tensor, Trainer, UnsealError, writeSafetensors } from '../../web/index.js';
import { SafetensorsStream, bytesSource } from '../../web/io.js';
import { C } from '../../web/wasm.js';
import { loadGpt2Golden, maxAbs, maxAbsDiff } from './helpers.js';

/** The exact f32 of a little-endian half. */
function halfToFloat(h) {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** x rounded to the nearest half (ties to even), as an f32. */
function roundToHalf(x) {
  if (!Number.isFinite(x) || x === 0) return x;
  const a = Math.abs(x);
  if (a >= 65520) return Math.sign(x) * Infinity;
  let e = Math.max(-14, Math.floor(Math.log2(a)));
  if (e > -14 && 2 ** e > a) e--;
  const q = 2 ** (e - 10); // the spacing of halves at a
  const r = a / q;
  const f = Math.floor(r);
  const n = r - f > 0.5 || (r - f === 0.5 && f % 2 === 1) ? f + 1 : f;
  return Math.sign(x) * n * q;
}

/** {canonical name: {dtype, shape, data: Float32Array}} of a model.safetensors, read here (F32, F16, BF16). */
function fileTensors(path) {
  const bytes = new Uint8Array(readFileSync(path));
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(dv.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  const out = {};
  for (const [name, e] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [b, en] = e.data_offsets.map((o) => o + 8 + n);
    const count = e.shape.reduce((x, y) => x * y, 1);
    const data = new Float32Array(count);
    for (let i = 0; i < count; i++) {
      if (e.dtype === 'F32') data[i] = dv.getFloat32(b + 4 * i, true);
      else if (e.dtype === 'F16') data[i] = halfToFloat(dv.getUint16(b + 2 * i, true));
      else if (e.dtype === 'BF16') data[i] = new Float32Array(new Uint32Array([dv.getUint16(b + 2 * i, true) << 16]).buffer)[0];
      else throw new Error(`dtype ${e.dtype}`);
    }
    assert.equal(en - b, count * { F32: 4, F16: 2, BF16: 2 }[e.dtype]);
    out[name.startsWith('transformer.') ? name : `transformer.${name}`] = { dtype: e.dtype, shape: e.shape, data };
  }
  return out;
}

const MATMUL = /(wte|c_attn|c_proj|c_fc)\.weight$/;
const sameBits = (a, b) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));

describe('the state dict of a pack-only model', () => {
  for (const cfg of ['tiny', 'odd', 'wide', 'wide_f16']) {
    test(`'${cfg}': every parameter equals the file's, bit for bit (lm_head.weight = wte)`, async () => {
      const g = loadGpt2Golden(cfg);
      const file = fileTensors(join(g.dir, 'model.safetensors'));
      const model = await HookedModel.fromPretrained(g.dir);
      const sd = model.stateDict();
      assert.deepEqual(Object.keys(sd).filter((k) => k !== 'lm_head.weight').sort(), Object.keys(file).sort());
      for (const [k, t] of Object.entries(sd)) {
        const want = file[k === 'lm_head.weight' ? 'transformer.wte.weight' : k];
        assert.deepEqual([...t.shape], want.shape, k);
        assert.ok(sameBits(t.data, want.data), `${k} differs from the file`);
      }
      // module.weight reads the same (one parameter unpacked on demand)
      const w = model.layers.get('transformer->h->0->mlp->c_fc').weight;
      assert.ok(sameBits(w.data, file['transformer.h.0.mlp.c_fc.weight'].data));
      // and a state dict written back loads to the same model
      const again = await HookedModel.fromPretrained({ 'config.json': readFileSync(join(g.dir, 'config.json')), 'model.safetensors': model.saveStateDict() });
      assert.ok(sameBits(again.forward(g.t('input_ids')).data, model.forward(g.t('input_ids')).data));
      again.dispose();
      model.dispose();
    });
  }

  test("dtype 'f16': the matmul weights read back rounded to halves, the others exact", async () => {
    const g = loadGpt2Golden('wide');
    const file = fileTensors(join(g.dir, 'model.safetensors'));
    const model = await HookedModel.fromPretrained(g.dir, { dtype: 'f16' });
    for (const [k, t] of Object.entries(model.stateDict())) {
      const want = file[k === 'lm_head.weight' ? 'transformer.wte.weight' : k].data;
      const expect = MATMUL.test(k) || k === 'lm_head.weight' ? want.map(roundToHalf) : want;
      assert.ok(sameBits(t.data, expect), k);
    }
    model.dispose();
  });

  test('a BF16 file loads as its widened values', async () => {
    const g = loadGpt2Golden('tiny');
    const file = fileTensors(join(g.dir, 'model.safetensors'));
    // BF16 bytes of each F32 tensor: its top 16 bits (truncation is fine: the file defines the values)
    const names = Object.keys(file);
    const header = {};
    let off = 0;
    for (const k of names) {
      header[k] = { dtype: 'BF16', shape: file[k].shape, data_offsets: [off, off + 2 * file[k].data.length] };
      off += 2 * file[k].data.length;
    }
    const json = new TextEncoder().encode(JSON.stringify(header));
    const bytes = new Uint8Array(8 + json.length + off);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(json.length), true);
    bytes.set(json, 8);
    let p = 8 + json.length;
    for (const k of names) {
      const u32 = new Uint32Array(file[k].data.buffer.slice(0));
      for (const v of u32) {
        bytes[p++] = (v >>> 16) & 0xff;
        bytes[p++] = v >>> 24;
      }
    }
    const model = await HookedModel.fromPretrained({ 'config.json': readFileSync(join(g.dir, 'config.json')), 'model.safetensors': new Blob([bytes]) });
    for (const [k, t] of Object.entries(model.stateDict())) {
      const want = file[k === 'lm_head.weight' ? 'transformer.wte.weight' : k].data;
      assert.ok(sameBits(t.data, want.map((x) => new Float32Array(new Uint32Array([new Uint32Array(new Float32Array([x]).buffer)[0] & 0xffff0000]).buffer)[0])), k);
    }
    model.dispose();
  });
});

describe('editing weights', () => {
  for (const cfg of ['tiny', 'wide']) {
    test(`'${cfg}': zeroing head 1's rows of layer 1's attn.c_proj weight gives PyTorch's head-ablated logits; restoring it gives the original bits`, async () => {
      const g = loadGpt2Golden(cfg);
      const model = await HookedModel.fromPretrained(g.dir);
      const ids = g.t('input_ids');
      const before = model.forward(ids).data;
      const proj = model.layers.get('transformer->h->1->attn->c_proj');
      const w = proj.weight; // Conv1D [C_in, C_out]: row i is z's feature i, head-major
      const { n_embd: C, n_head: H } = model.config;
      const hs = C / H;
      const edited = w.data.slice();
      edited.fill(0, 1 * hs * C, 2 * hs * C);
      proj.weight = new Tensor(edited, w.shape);
      assert.ok(sameBits(proj.weight.data, edited));
      const ablated = model.forward(ids);
      const want = g.t('ablate.logits');
      assert.ok(maxAbsDiff(ablated.data, want.data) <= 1e-4 * maxAbs(want.data), 'ablated logits');
      proj.weight = w;
      assert.ok(sameBits(model.forward(ids).data, before));
      model.dispose();
    });
  }

  test('the tied wte: writing lm_head.weight changes the embedding and the unembedding alike', async () => {
    const g = loadGpt2Golden('tiny');
    const model = await HookedModel.fromPretrained(g.dir);
    const ids = g.t('input_ids');
    const wte = model.layers.get('transformer->wte').weight;
    const scaled = wte.data.map((x, i) => (i % 7 === 0 ? x * 1.5 : x));
    model.layers.get('lm_head').weight = new Tensor(scaled, wte.shape);
    assert.ok(sameBits(model.layers.get('transformer->wte').weight.data, scaled));
    // the same weights loaded from a file give the same logits
    const sd = Object.entries(model.stateDict()).filter(([k]) => k !== 'lm_head.weight');
    const fresh = await HookedModel.fromPretrained(g.dir);
    await fresh.loadStateDict(writeSafetensors(sd));
    assert.ok(sameBits(fresh.forward(ids).data, model.forward(ids).data));
    assert.ok(!sameBits(fresh.forward(ids).data, (await HookedModel.fromPretrained(g.dir)).forward(ids).data));
    fresh.dispose();
    model.dispose();
  });

  test('a weight of the wrong shape or a missing parameter is a clear error, and nothing changes', async () => {
    const g = loadGpt2Golden('tiny');
    const model = await HookedModel.fromPretrained(g.dir);
    const before = model.forward(g.t('input_ids')).data;
    const fc = model.layers.get('transformer->h->0->mlp->c_fc');
    assert.throws(() => { fc.weight = new Tensor(new Float32Array(6), [2, 3]); },
      (e) => e instanceof UnsealError && e.code === 'ERR_SHAPE' && e.message === 'Conv1D.weight: expected shape [24, 96], got [2, 3]');
    assert.throws(() => { model.layers.get('lm_head').bias = new Float32Array(101); }, (e) => e.code === 'ERR_NOT_FOUND' && /Linear has no parameter 'bias'/.test(e.message));
    assert.ok(sameBits(model.forward(g.t('input_ids')).data, before));
    model.dispose();
  });
});

describe('training a pack-only model', () => {
  /**
   * AdamW over every parameter with global-norm clipping, in f32 as
   * src/train/adamw.c computes it (its scalar arguments arrive as f32).
   */
  function adamwReference(params, grads, state, options, t) {
    const f = Math.fround;
    const [lr, beta1, beta2, eps, weightDecay, clip] = [options.lr, ...options.betas, options.eps, options.weightDecay, options.clip].map(f);
    let s = 0;
    for (const k of Object.keys(grads)) for (const x of grads[k].data) s += x * x;
    const norm = Math.sqrt(s);
    const coef = clip / (norm + 1e-6);
    const c = f(coef);
    const decay = f(1 - lr * weightDecay);
    const b1 = f(beta1), omb1 = f(1 - beta1), b2 = f(beta2), omb2 = f(1 - beta2);
    const nss = f(-(lr / (1 - beta1 ** t)));
    const bc2s = f(Math.sqrt(1 - beta2 ** t));
    const feps = f(eps);
    for (const k of Object.keys(params)) {
      const p = params[k];
      const st = (state[k] ??= { m: new Float32Array(p.length), v: new Float32Array(p.length) });
      for (let i = 0; i < p.length; i++) {
        const g = clip > 0 && !(coef >= 1) ? f(grads[k].data[i] * c) : grads[k].data[i];
        const pd = f(p[i] * decay);
        const mi = f(f(st.m[i] * b1) + f(omb1 * g));
        const vi = f(f(st.v[i] * b2) + f(f(omb2 * g) * g));
        const denom = f(f(f(Math.sqrt(vi)) / bc2s) + feps);
        p[i] = f(pd + f(f(nss * mi) / denom));
        st.m[i] = mi;
        st.v[i] = vi;
      }
    }
    return norm;
  }

  test('Trainer steps equal AdamW recomputed over grads() on a second pack-only model, bit for bit; dispose() leaves the trained weights packed', async () => {
    const g = loadGpt2Golden('tiny');
    const ids = g.t('input_ids');
    const options = { lr: 3e-3, minLr: 3e-4, warmup: 1, steps: 4, weightDecay: 0.1, clip: 0.5 };
    const a = await HookedModel.fromPretrained(g.dir);
    const b = await HookedModel.fromPretrained(g.dir);
    const plain = (m) => C.usw_gpt2_has_plain_weights(m._backend.ptr);
    assert.equal(plain(a), 0);
    const trainer = new Trainer(a, options);
    assert.equal(plain(a), 1);
    const state = {};
    for (let step = 0; step < 4; step++) {
      const r = trainer.trainStep(ids);
      // b: the same step by hand, through the public API only
      b.zeroGrad();
      b.forward(ids, { grad: true });
      const { loss } = b.backward({ loss: 'cross_entropy', targets: ids });
      assert.equal(r.loss, loss, `step ${step}: loss`);
      const params = Object.fromEntries(Object.entries(b.stateDict()).filter(([k]) => k !== 'lm_head.weight').map(([k, t]) => [k, t.data]));
      const norm = adamwReference(params, b.grads(), state, { ...options, lr: trainer.lrAt(step), betas: [0.9, 0.95], eps: 1e-8 }, step + 1);
      assert.equal(r.gradNorm, norm, `step ${step}: gradient norm`);
      const shapes = b.stateDict();
      await b.loadStateDict(writeSafetensors(Object.entries(params).map(([k, d]) => [k, new Tensor(d, shapes[k].shape)])));
      const pa = a.stateDict();
      for (const k of Object.keys(params)) assert.ok(sameBits(pa[k].data, params[k]), `step ${step}: ${k}`);
      assert.ok(sameBits(a.forward(ids).data, b.forward(ids).data), `step ${step}: logits`);
    }
    const trained = a.stateDict();
    trainer.dispose();
    assert.equal(plain(a), 0);
    for (const [k, t] of Object.entries(a.stateDict())) assert.ok(sameBits(t.data, trained[k].data), `after dispose: ${k}`);
    assert.ok(sameBits(a.forward(ids).data, b.forward(ids).data));
    // a second Trainer starts from the trained weights
    const again = new Trainer(a, options);
    assert.ok(Number.isFinite(again.trainStep(ids).loss));
    again.dispose();
    a.dispose();
    b.dispose();
  });
});

describe('the streaming safetensors reader', () => {
  test('tensors of every dtype arrive whole, in pieces of whole elements, whatever the chunk and buffer sizes', async () => {
    // a file with odd sizes and dtypes, written by hand
    const tensors = [['a', 'F32', [3, 5]], ['b', 'F16', [7]], ['c', 'I64', [3]], ['d', 'BF16', [2, 9]], ['e', 'F32', [0]], ['f', 'F32', [11]]];
    const header = {};
    let off = 0;
    for (const [n, dt, shape] of tensors) {
      const bytes = shape.reduce((x, y) => x * y, 1) * { F32: 4, F16: 2, BF16: 2, I64: 8 }[dt];
      header[n] = { dtype: dt, shape, data_offsets: [off, off + bytes] };
      off += bytes;
    }
    const json = new TextEncoder().encode(JSON.stringify(header) + ' '); // odd header length: unaligned data
    const file = new Uint8Array(8 + json.length + off);
    new DataView(file.buffer).setBigUint64(0, BigInt(json.length), true);
    file.set(json, 8);
    for (let i = 8 + json.length; i < file.length; i++) file[i] = (i * 37 + 11) & 0xff;
    const data = file.subarray(8 + json.length);
    for (const chunk of [1, 3, 7, 64, 1 << 20]) {
      for (const bufferBytes of [8, 9, 13, 100, 1 << 20]) {
        const source = bytesSource(file, 'test.safetensors');
        const next = source.next;
        let pos = 0;
        source.next = async () => { // chunks of `chunk` bytes
          if (pos >= file.length) return null;
          const c = file.subarray(pos, pos + chunk);
          pos += c.length;
          return c;
        };
        assert.ok(next);
        const st = await SafetensorsStream.open(source);
        const got = new Map();
        const want = new Map(st.entries.map((e) => [e.index, (first, count, ptr, entry) => {
          const es = { F32: 4, F16: 2, BF16: 2, I64: 8 }[entry.dtype];
          const parts = got.get(entry.name) ?? [];
          assert.equal(first, parts.reduce((s, p) => s + p.length, 0) / es, `${entry.name}: pieces in order`);
          parts.push(new Uint8Array(C.memory.buffer, ptr, count * es).slice());
          got.set(entry.name, parts);
        }]));
        await st.readTensors(want, { bufferBytes });
        st.free();
        for (const e of st.entries) {
          const parts = got.get(e.name) ?? [];
          const joined = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
          let o = 0;
          for (const p of parts) joined.set(p, (o += p.length) - p.length);
          assert.deepEqual(joined, data.slice(e.begin, e.end), `${e.name} (chunk ${chunk}, buffer ${bufferBytes})`);
        }
      }
    }
  });

  test('a file shorter than its size, or than its header, is a clear error', async () => {
    const g = loadGpt2Golden('tiny');
    const bytes = new Uint8Array(readFileSync(join(g.dir, 'model.safetensors')));
    const source = bytesSource(bytes.subarray(0, bytes.length - 100), 'short.safetensors');
    source.size = bytes.length; // claims the full length, as a stat taken before the file shrank
    const st = await SafetensorsStream.open(source);
    await assert.rejects(st.readTensors(new Map()), (e) => e.code === 'ERR_FORMAT' && e.message === `short.safetensors: the file ended after ${bytes.length - 100} of its ${bytes.length} bytes`);
    st.free();
  });

  test('aborting while the weights stream in rejects with AbortError', async () => {
    const g = loadGpt2Golden('tiny');
    const ctl = new AbortController();
    await assert.rejects(HookedModel.fromPretrained(g.dir, { signal: ctl.signal, onProgress: (p) => { if (p.file === 'model.safetensors') ctl.abort(); } }),
      (e) => e.name === 'AbortError');
  });
});
