// state_dict.test.js — stateDict / saveStateDict / loadStateDict: names as
// PyTorch writes them, every source kind, strictness, dtypes, and bad files.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { HookedModel, Tensor, UnsealError, nn, writeSafetensors } from '../../web/index.js';
import { readSafetensorsIndependently } from './helpers.js';

const build = () => nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Sequential(nn.Linear(4, 2), nn.LayerNorm(2)));
const input = new Tensor(Float32Array.from([0.5, -1, 2, 1, 1, -3]), [2, 3]);
let a, b;
beforeEach(() => {
  nn.manualSeed(7);
  a = new HookedModel(build());
  nn.manualSeed(8);
  b = new HookedModel(build());
});
afterEach(() => {
  a.dispose();
  b.dispose();
});

const rejects = (p, code, re) => assert.rejects(p, (e) => {
  assert.ok(e instanceof UnsealError, String(e));
  assert.equal(e.code, code, e.message);
  if (re) assert.match(e.message, re);
  return true;
});

/** Exact f16 bits of a value that f16 represents exactly (test inputs are chosen so). */
function f16Bits(v) {
  if (v === 0) return Object.is(v, -0) ? 0x8000 : 0;
  const sign = v < 0 ? 0x8000 : 0;
  let m = Math.abs(v);
  let e = Math.floor(Math.log2(m));
  if (e < -14) return sign | Math.round(m / 2 ** -24);
  const mant = Math.round((m / 2 ** e - 1) * 1024);
  return sign | ((e + 15) << 10) | mant;
}

/** safetensors bytes with raw 16-bit payloads (dtype F16 or BF16). */
function write16(named, dtype, toBits) {
  const header = {};
  let off = 0;
  for (const [name, t] of named) {
    header[name] = { dtype, shape: [...t.shape], data_offsets: [off, off + 2 * t.data.length] };
    off += 2 * t.data.length;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  const dv = new DataView(out.buffer, 8 + json.length);
  let p = 0;
  for (const [, t] of named) for (const v of t.data) { dv.setUint16(p, toBits(v), true); p += 2; }
  return out;
}

describe('stateDict and saveStateDict', () => {
  test('keys are PyTorch\'s state_dict names, values copies', () => {
    const sd = a.stateDict();
    assert.deepEqual(Object.keys(sd), ['0.weight', '0.bias', '2.0.weight', '2.0.bias', '2.1.weight', '2.1.bias']);
    assert.deepEqual([...sd['0.weight'].shape], [4, 3]);
    sd['0.weight'].data.fill(0);
    assert.notEqual(a.stateDict()['0.weight'].data[0], 0);
  });

  test('saveStateDict writes a valid safetensors file that loads back exactly', async () => {
    const bytes = a.saveStateDict();
    const { tensors, metadata } = readSafetensorsIndependently(bytes);
    assert.equal(metadata.format, 'pt');
    assert.deepEqual(Object.keys(tensors), Object.keys(a.stateDict()));
    assert.equal((Number(new DataView(bytes.buffer).getBigUint64(0, true))) % 8, 0, 'header padded to 8 bytes');
    assert.notDeepEqual(b.forward(input).data, a.forward(input).data);
    const r = await b.loadStateDict(bytes);
    assert.deepEqual(r, { missingKeys: [], unexpectedKeys: [], mismatchedKeys: [] });
    assert.deepEqual(b.forward(input).data, a.forward(input).data);
  });

  test('writing a parameter through module.weight changes the next forward', () => {
    const before = a.forward(input).data;
    const lin = a.layers.get('0');
    lin.weight = new Tensor(new Float32Array(12), [4, 3]);
    const after = a.forward(input).data;
    assert.notDeepEqual(after, before);
    assert.throws(() => { lin.weight = new Tensor(new Float32Array(12), [3, 4]); }, (e) => e.code === 'ERR_SHAPE' && /\[4, 3\]/.test(e.message));
  });
});

describe('loadStateDict sources', () => {
  test('Uint8Array, ArrayBuffer, file path, file: URL, http URL, Blob', async () => {
    const bytes = a.saveStateDict();
    const want = a.forward(input).data;
    const dir = mkdtempSync(join(tmpdir(), 'unseal-'));
    const path = join(dir, 'model.safetensors');
    writeFileSync(path, bytes);
    const server = createServer((req, res) => {
      if (req.url === '/model.safetensors') res.end(Buffer.from(bytes));
      else { res.statusCode = 404; res.end(); }
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${server.address().port}`;
    try {
      for (const src of [bytes, bytes.buffer.slice(0), path, pathToFileURL(path), `${base}/model.safetensors`, new Blob([bytes])]) {
        nn.manualSeed(9);
        const m = new HookedModel(build());
        await m.loadStateDict(src);
        assert.deepEqual(m.forward(input).data, want, `source ${src?.constructor?.name}`);
        m.dispose();
      }
      await rejects(b.loadStateDict(`${base}/missing.safetensors`), 'ERR_NOT_FOUND', /missing\.safetensors.*404/);
      await rejects(b.loadStateDict(join(dir, 'nope.safetensors')), 'ERR_NOT_FOUND', /nope\.safetensors: no such file/);
    } finally {
      server.close();
    }
  });
});

describe('strictness', () => {
  test('missing, unexpected and mis-shaped tensors are named, and nothing is loaded', async () => {
    const sd = a.stateDict();
    delete sd['2.0.bias'];
    sd['extra.weight'] = new Tensor(new Float32Array(2), [2]);
    sd['0.weight'] = new Tensor(new Float32Array(6), [2, 3]);
    const before = b.forward(input).data;
    await rejects(b.loadStateDict(writeSafetensors(Object.entries(sd))), 'ERR_STATE_DICT',
      /missing key\(s\): '2\.0\.bias'.*unexpected key\(s\): 'extra\.weight'.*size mismatch for '0\.weight': the file has shape \[2, 3\], the model has \[4, 3\]/);
    assert.deepEqual(b.forward(input).data, before, 'a failed strict load changes nothing');
  });

  test('strict: false loads what matches and returns the rest', async () => {
    const sd = a.stateDict();
    delete sd['2.0.bias'];
    sd['extra'] = new Tensor(new Float32Array(1), [1]);
    sd['2.1.weight'] = new Tensor(new Float32Array(3), [3]);
    const r = await b.loadStateDict(writeSafetensors(Object.entries(sd)), { strict: false });
    assert.deepEqual(r.missingKeys, ['2.0.bias']);
    assert.deepEqual(r.unexpectedKeys, ['extra']);
    assert.deepEqual(r.mismatchedKeys, [{ name: '2.1.weight', expected: [2], got: [3] }]);
    assert.deepEqual(b.stateDict()['0.weight'].data, a.stateDict()['0.weight'].data);
    assert.notDeepEqual(b.stateDict()['2.0.bias'].data, a.stateDict()['2.0.bias'].data);
  });
});

describe('dtypes', () => {
  const exact = () => Object.entries(a.stateDict()).map(([k, t]) => [k, new Tensor(t.data.map((_, i) => ((i * 37) % 97 - 48) / 64), [...t.shape])]);

  test('F16 weights are widened exactly', async () => {
    const named = exact();
    await b.loadStateDict(write16(named, 'F16', f16Bits));
    for (const [k, t] of named) assert.deepEqual(b.stateDict()[k].data, t.data, k);
  });

  test('BF16 weights are widened exactly', async () => {
    const named = exact();
    const bf16 = (v) => new Uint32Array(Float32Array.of(v).buffer)[0] >>> 16;
    await b.loadStateDict(write16(named, 'BF16', bf16));
    for (const [k, t] of named) assert.deepEqual(b.stateDict()[k].data, t.data, k);
  });

  test('integer tensors for parameters are refused, naming them', async () => {
    const sd = Object.entries(a.stateDict());
    sd[0] = ['0.weight', new Tensor(new Int32Array(12), [4, 3])];
    await rejects(b.loadStateDict(writeSafetensors(sd)), 'ERR_DTYPE', /'0\.weight' \(I32\)/);
  });
});

describe('malformed files: a clear error naming the file, and the model stays usable', () => {
  const good = () => a.saveStateDict();
  const cases = {
    'shorter than 8 bytes': () => new Uint8Array(5),
    'truncated data': () => good().slice(0, good().length - 3),
    'header length beyond the file': () => { const g = good(); new DataView(g.buffer).setBigUint64(0, BigInt(g.length), true); return g; },
    'absurd header length': () => { const g = good(); new DataView(g.buffer).setBigUint64(0, 1n << 60n, true); return g; },
    'bad JSON': () => { const g = good(); g[8] = 0x7b; g[9] = 0x7b; return g; },
  };
  for (const [name, make] of Object.entries(cases)) {
    test(name, async () => {
      const before = b.forward(input).data;
      await rejects(b.loadStateDict(make()), 'ERR_FORMAT', /^the given bytes: /);
      assert.deepEqual(b.forward(input).data, before);
    });
  }
});
