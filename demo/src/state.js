// state.js — the demo's settings, the URL that carries them (so a link
// reproduces the view), and the JSON an analysis is exported to and
// imported from.
import { DEFAULT_CORRUPTED, DEFAULT_PROMPT } from './defaults.js';

export const VIEWS = ['attention', 'attribution', 'lens', 'activations', 'patching'];

export const DEFAULT_SETTINGS = Object.freeze({
  model: null, // a base URL, relative to the page; null: the default model
  prompt: DEFAULT_PROMPT,
  corrupt: DEFAULT_CORRUPTED,
  view: 'attention',
  head: null, // { layer, head } enlarged in the attention view
  attrLayer: 0,
  point: null, // the activations view's hook point; null: layer 0's MLP neurons
  neuron: 0,
  lensColour: 'prob', // or 'rank'
  ablations: [], // [{ layer, head, mode: 'zero' | 'mean' }]
  answer: '', // patching: the clean answer token ('' = the clean run's top token)
  wrong: '', // patching: the corrupted answer token ('' = the corrupted run's top token)
});

const int = (s, d) => (/^\d+$/.test(s ?? '') ? Number(s) : d);

/** 'L.Hz' items, comma-separated: z = zero, m = mean. */
export function parseAblations(s) {
  if (!s) return [];
  return s.split(',').map((x) => /^(\d+)\.(\d+)([zm])$/.exec(x.trim())).filter(Boolean)
    .map(([, l, h, m]) => ({ layer: Number(l), head: Number(h), mode: m === 'm' ? 'mean' : 'zero' }));
}

export function formatAblations(list) {
  return list.map((a) => `${a.layer}.${a.head}${a.mode === 'mean' ? 'm' : 'z'}`).join(',');
}

/** Settings from a query string (missing keys keep their defaults). */
export function settingsFromURL(search) {
  const q = new URLSearchParams(search);
  const s = { ...DEFAULT_SETTINGS };
  if (q.has('model')) s.model = q.get('model');
  if (q.has('prompt')) s.prompt = q.get('prompt');
  if (q.has('corrupt')) s.corrupt = q.get('corrupt');
  if (VIEWS.includes(q.get('view'))) s.view = q.get('view');
  const head = /^(\d+)\.(\d+)$/.exec(q.get('head') ?? '');
  if (head) s.head = { layer: Number(head[1]), head: Number(head[2]) };
  s.attrLayer = int(q.get('alayer'), s.attrLayer);
  if (q.has('point')) s.point = q.get('point');
  s.neuron = int(q.get('neuron'), s.neuron);
  if (['prob', 'rank'].includes(q.get('lens'))) s.lensColour = q.get('lens');
  s.ablations = parseAblations(q.get('ablate'));
  if (q.has('answer')) s.answer = q.get('answer');
  if (q.has('wrong')) s.wrong = q.get('wrong');
  return s;
}

/** The query string for settings: only what differs from the defaults. */
export function settingsToURL(s) {
  const q = new URLSearchParams();
  if (s.model) q.set('model', s.model);
  if (s.prompt !== DEFAULT_SETTINGS.prompt) q.set('prompt', s.prompt);
  if (s.corrupt !== DEFAULT_SETTINGS.corrupt) q.set('corrupt', s.corrupt);
  if (s.view !== DEFAULT_SETTINGS.view) q.set('view', s.view);
  if (s.head) q.set('head', `${s.head.layer}.${s.head.head}`);
  if (s.attrLayer) q.set('alayer', String(s.attrLayer));
  if (s.point) q.set('point', s.point);
  if (s.neuron) q.set('neuron', String(s.neuron));
  if (s.lensColour !== 'prob') q.set('lens', s.lensColour);
  if (s.ablations.length) q.set('ablate', formatAblations(s.ablations));
  if (s.answer) q.set('answer', s.answer);
  if (s.wrong) q.set('wrong', s.wrong);
  const str = q.toString();
  return str ? `?${str}` : '';
}

// ---------------------------------------------------------------- export / import

export const FORMAT = 'unseal-wasm-demo-analysis';
export const VERSION = 1;

// Big arrays that only colour pixels are written with 6 significant digits;
// every number shown as text (probabilities, norms, patching scores) is exact.
const ROUNDED = new Set(['patterns', 'raw', 'pos', 'neg', 'values', 'column']);

function encode(x, key) {
  if (x instanceof Float32Array || x instanceof Float64Array) {
    const round = ROUNDED.has(key);
    return { $f32: Array.from(x, (v) => (Number.isFinite(v) ? (round ? Number(v.toPrecision(6)) : v) : null)) };
  }
  if (x instanceof Int32Array) return { $i32: Array.from(x) };
  if (x instanceof Uint8Array) return { $u8: Array.from(x) };
  if (Array.isArray(x)) return x.map((v) => encode(v, key));
  if (x && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, encode(v, k)]));
  return x;
}

function decode(x) {
  if (Array.isArray(x)) return x.map(decode);
  if (x && typeof x === 'object') {
    if (Array.isArray(x.$f32)) return Float32Array.from(x.$f32, (v) => (v === null ? NaN : v));
    if (Array.isArray(x.$i32)) return Int32Array.from(x.$i32);
    if (Array.isArray(x.$u8)) return Uint8Array.from(x.$u8);
    return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, decode(v)]));
  }
  return x;
}

/** The JSON text of an analysis: the model it was made with, the settings and every result shown. */
export function exportAnalysis({ model, settings, results }) {
  return JSON.stringify({
    format: FORMAT,
    version: VERSION,
    exportedAt: new Date().toISOString(),
    model: model && { label: model.label, fingerprint: model.fingerprint, config: model.config },
    settings,
    results: encode(results),
  });
}

/** Parses an exported analysis; throws an Error saying what is wrong with the file. */
export function importAnalysis(text) {
  let obj;
  try {
    obj = JSON.parse(text);
  } catch (e) {
    throw new Error(`not a JSON file (${e.message})`);
  }
  if (obj?.format !== FORMAT) throw new Error(`not an unseal-wasm demo analysis (its "format" is ${JSON.stringify(obj?.format)}, expected "${FORMAT}")`);
  if (obj.version !== VERSION) throw new Error(`made by another version of the demo (version ${obj.version}; this one reads ${VERSION})`);
  if (!obj.results?.analysis) throw new Error('the file holds no analysis results');
  const settings = { ...DEFAULT_SETTINGS, ...obj.settings, ablations: Array.isArray(obj.settings?.ablations) ? obj.settings.ablations : [] };
  return { model: obj.model, settings, results: decode(obj.results) };
}
