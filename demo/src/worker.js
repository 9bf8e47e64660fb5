// worker.js — the model lives here, in a Web Worker, so the page never
// freezes while it loads or runs. The page (worker-client.js) sends requests
// { id, gen, type, ... } and gets back { id, type: 'progress' | 'result' | 'error' }.
//
// Cancelling: the page shares a SharedArrayBuffer (the page is cross-origin
// isolated) holding the current generation. Every run checks it between
// steps and, through a hook, after every block of every forward: when the
// page has moved on (the generation differs from the request's), the run
// throws Cancelled within one block. Loading is async and is aborted through
// an AbortSignal instead. (Without shared memory, the page terminates the
// worker and starts a new one.)

import { HookedModel } from 'unseal-wasm';
import * as A from './analysis.js';

let model = null;
let summary = null;
let cancelFlag = null;
let loadAbort = null;
let last = null; // the last analysis: { key, ids, analysis }

// ---------------------------------------------------------------- helpers

function encode(text, where) {
  if (model.tokenizer) return model.tokenizer.encode(text);
  // Without tokenizer files, prompts are token ids separated by spaces or commas.
  const parts = text.trim().split(/[\s,]+/).filter(Boolean);
  if (!parts.length || parts.some((p) => !/^\d+$/.test(p))) {
    throw new Error(`${where}: this model has no tokenizer files (vocab.json + merges.txt or tokenizer.json), so write the prompt as token ids separated by spaces, e.g. "464 3797 3332"`);
  }
  return parts.map(Number);
}

/** Token ids of a prompt, at most n_positions of them. */
function promptIds(text, where = 'prompt') {
  const ids = encode(text, where);
  if (!ids.length) throw new Error(`${where}: the prompt is empty`);
  const max = model.config.n_positions;
  if (ids.length > max) throw new Error(`${where}: ${ids.length} tokens, but this model reads at most ${max} (n_positions); shorten it`);
  return Int32Array.from(ids);
}

/** One token from text (for the patching answers), or null for ''. */
function oneToken(text, where) {
  if (text === '' || text == null) return null;
  const ids = encode(text, where);
  if (ids.length !== 1) throw new Error(`${where}: '${text}' is ${ids.length} tokens; give exactly one`);
  return ids[0];
}

/** What each token looks like: its text, and its bytes when it is part of a character. */
function tokens(ids) {
  const tok = model.tokenizer;
  return Array.from(ids, (id) => (tok ? { text: tok.decode([id]), bytes: tok.decodeBytes([id]) } : { text: `#${id}` }));
}

/** A short fingerprint of the model: its config and a checksum of some weights. */
function fingerprint(m) {
  const w = m.layers.get('transformer->wte').weight.data;
  let h = 0x811c9dc5;
  const bytes = new Uint8Array(w.buffer, w.byteOffset, Math.min(w.byteLength, 1 << 16));
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  const c = m.config;
  return `${c.n_layer}x${c.n_head}x${c.n_embd}-v${c.vocab_size}-${h.toString(16)}`;
}

// ---------------------------------------------------------------- requests

const handlers = {
  async load({ source }, { progress }) {
    if (model) {
      A.releaseCaches(model);
      model.dispose();
      model = null;
      summary = null;
      last = null;
    }
    loadAbort = new AbortController();
    let lastPost = 0;
    const onProgress = (p) => {
      const now = performance.now();
      if (now - lastPost > 50 || p.loaded >= p.total) {
        lastPost = now;
        progress(p);
      }
    };
    const src = source.kind === 'url' ? source.url : new Map(source.files);
    try {
      model = await HookedModel.fromPretrained(src, { signal: loadAbort.signal, onProgress });
    } finally {
      loadAbort = null;
    }
    const c = model.config;
    summary = {
      label: source.label,
      config: { n_layer: c.n_layer, n_head: c.n_head, n_embd: c.n_embd, vocab_size: c.vocab_size, n_positions: c.n_positions, n_inner: c.n_inner },
      hasTokenizer: !!model.tokenizer,
      fingerprint: fingerprint(model),
      points: A.activationPoints(c),
    };
    return summary;
  },

  analyse({ prompt, ablations }, { check }) {
    const ids = promptIds(prompt);
    const analysis = A.analyse(model, ids, { ablations, check });
    last = { key: JSON.stringify([prompt, ablations]), ids, analysis };
    // With interventions, also the next-token top-k without them, to compare.
    let baseline = null;
    if (ablations.length) {
      check();
      const logits = model.forward(ids).data;
      const V = model.config.vocab_size;
      baseline = A.topK(logits, (ids.length - 1) * V, V, 10);
    }
    const L = model.config.n_layer;
    const H = model.config.n_head;
    const scores = A.headScores(analysis.patterns, ids, { L, H, n: model.config.vocab_size <= 256 ? 3 : 1 });
    return {
      prompt,
      L,
      H,
      ids: Array.from(ids),
      tokens: tokens(ids),
      topk: { ...analysis.topk, tokens: tokens(analysis.topk.ids) },
      baseline: baseline && { ...baseline, tokens: tokens(baseline.ids) },
      lens: { ...analysis.lens, tokens: tokens(analysis.lens.topIds) },
      norms: analysis.norms,
      patterns: analysis.patterns,
      scores,
    };
  },

  attribution({ layer, ablations, prompt }, { check }) {
    const key = JSON.stringify([prompt, ablations]);
    if (last?.key !== key) {
      const ids = promptIds(prompt);
      last = { key, ids, analysis: A.analyse(model, ids, { ablations, check }) };
    }
    if (!(layer >= 0 && layer < model.config.n_layer)) throw new Error(`layer ${layer} is out of range (the model has ${model.config.n_layer})`);
    if (last.ids.length < 2) throw new Error('attention × logits needs at least 2 tokens');
    const r = A.attribution(model, last.ids, last.analysis, layer, { ablations });
    return { prompt, layer, ...r };
  },

  activations({ prompt, point, ablations }, { check }) {
    const ids = promptIds(prompt);
    return { prompt, point, ...A.activations(model, ids, point, { ablations, check }) };
  },

  patch({ clean, corrupt, ablations, answer, wrong }, { check, progress }) {
    const cleanIds = promptIds(clean, 'clean prompt');
    const corruptIds = promptIds(corrupt, 'corrupted prompt');
    const opts = { ablations, answer: oneToken(answer, 'answer'), wrong: oneToken(wrong, 'wrong answer'), check };
    const exact = A.patchingSweep(model, cleanIds, corruptIds, { ...opts, onProgress: progress });
    let estimate;
    try {
      estimate = A.attributionPatching(model, cleanIds, corruptIds, opts);
    } catch (e) {
      if (e instanceof A.Cancelled) throw e;
      estimate = { unavailable: e.message };
    }
    return {
      clean: Array.from(cleanIds),
      corrupt: Array.from(corruptIds),
      cleanTokens: tokens(cleanIds),
      corruptTokens: tokens(corruptIds),
      answerToken: tokens([exact.answer])[0],
      wrongToken: exact.wrong === null ? null : tokens([exact.wrong])[0],
      ...exact,
      estimate,
    };
  },
};

// ---------------------------------------------------------------- the message loop

let queue = Promise.resolve();

self.onmessage = ({ data: msg }) => {
  if (msg.type === 'init') {
    cancelFlag = msg.cancel ? new Int32Array(msg.cancel) : null;
    return;
  }
  if (msg.type === 'cancel') {
    loadAbort?.abort();
    return;
  }
  // Requests run one at a time, in order.
  queue = queue.then(() => handle(msg));
};

async function handle(msg) {
  const { id, gen, type } = msg;
  const check = () => {
    if (cancelFlag && Atomics.load(cancelFlag, 0) !== gen) throw new A.Cancelled();
  };
  const progress = (p) => self.postMessage({ id, type: 'progress', progress: p });
  try {
    if (!handlers[type]) throw new Error(`unknown request '${type}'`);
    check();
    if (type !== 'load' && !model) throw new Error('no model is loaded');
    const result = await handlers[type](msg, { check, progress });
    self.postMessage({ id, type: 'result', result });
  } catch (e) {
    const cancelled = e instanceof A.Cancelled || e?.name === 'AbortError';
    self.postMessage({ id, type: 'error', error: { name: cancelled ? 'Cancelled' : e?.name ?? 'Error', code: e?.code, message: e?.message ?? String(e) } });
  }
}

self.postMessage({ type: 'ready' });
