// helpers.js — shared by the JS tests: an independent safetensors reader for
// the golden files (so the C reader is not its own oracle), the JS builders of
// the golden models (mirroring tests/golden/make_golden.py), and comparisons.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nn, Tensor } from '../../web/index.js';

export const goldenDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'golden');

/** {name: {dtype, shape, data}} read with DataView and JSON only. */
export function readSafetensorsIndependently(bytes) {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(dv.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  const base = 8 + n;
  const out = {};
  for (const [name, e] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [b, en] = e.data_offsets;
    const raw = bytes.slice(base + b, base + en);
    const Ctor = { F32: Float32Array, I32: Int32Array }[e.dtype];
    if (!Ctor) throw new Error(`test reader: dtype ${e.dtype}`);
    out[name] = { dtype: e.dtype, shape: e.shape, data: new Ctor(raw.buffer) };
  }
  return { tensors: out, metadata: header.__metadata__ ?? {} };
}

export function loadGolden(name) {
  const meta = JSON.parse(readFileSync(join(goldenDir, `${name}.json`), 'utf8'));
  const bytes = new Uint8Array(readFileSync(join(goldenDir, `${name}.safetensors`)));
  const { tensors } = readSafetensorsIndependently(bytes);
  const t = (k) => new Tensor(tensors[k].data, tensors[k].shape);
  const params = Object.keys(tensors).filter((k) => k.startsWith('param.')).map((k) => [k.slice(6), t(k)]);
  const calls = meta.calls.map((layer, i) => ({ layer, input: t(`call.${i}.in`), output: t(`call.${i}.out`) }));
  return { meta, params, input: t('input'), output: t('output'), calls };
}

/** The golden models, built as tests/golden/make_golden.py builds them. */
export const builders = {
  seed_mlp: () => nn.Sequential(nn.Linear(8, 64), nn.ReLU(), nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 1))),
  seed_mlp_batch: () => builders.seed_mlp(),
  every_module: () => nn.Sequential(
    nn.Embedding(11, 13), nn.LayerNorm(13), nn.Linear(13, 37), nn.GELU(), nn.Dropout(0.1),
    nn.Linear(37, 19, { bias: false }), nn.GELU({ approximate: 'tanh' }),
    nn.Sequential(nn.Tanh(), nn.Identity(), nn.Sequential(nn.Sigmoid(), nn.Linear(19, 7), nn.LayerNorm(7, { eps: 1e-3, elementwiseAffine: false }))),
    nn.ReLU(), nn.Linear(7, 6), nn.Softmax(-1)),
  softmax_dims: () => nn.Sequential(nn.Linear(6, 10), nn.Softmax(1), nn.Linear(10, 3), nn.Softmax(0)),
  shared_relu: () => {
    const relu = nn.ReLU();
    return nn.Sequential(nn.Linear(5, 6), relu, nn.Linear(6, 6), relu, nn.Linear(6, 2));
  },
  large_mlp: () => nn.Sequential(nn.Linear(67, 131), nn.GELU(), nn.Linear(131, 33)),
  empty_seq: () => nn.Sequential(nn.Linear(3, 4), nn.Sequential(), nn.Linear(4, 2)),
};

/** max |a - b| over two same-length arrays (Infinity if lengths differ, NaN-aware). */
export function maxAbsDiff(a, b) {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i]) continue; // also equal infinities
    const d = Math.abs(a[i] - b[i]);
    if (Number.isNaN(d)) {
      if (!(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return Infinity;
    } else if (d > m) m = d;
  }
  return m;
}

/** max |x| over the finite entries. */
export function maxAbs(a) {
  let m = 0;
  for (const x of a) if (Number.isFinite(x) && Math.abs(x) > m) m = Math.abs(x);
  return m;
}

/** The GPT-2 goldens of tests/golden/gpt2/<cfg>: tensors read independently, and the JSON. */
export function loadGpt2Golden(cfg) {
  const dir = join(goldenDir, 'gpt2', cfg);
  const meta = JSON.parse(readFileSync(join(dir, 'golden.json'), 'utf8'));
  const { tensors } = readSafetensorsIndependently(new Uint8Array(readFileSync(join(dir, 'golden.safetensors'))));
  const t = (k) => (tensors[k] ? new Tensor(tensors[k].data, tensors[k].shape) : undefined);
  return { dir, meta, t };
}
