// app.js — the demo's state and everything that changes it: loading models,
// analysing prompts in the worker, interventions, patching, the URL, export
// and import. The views (views/*.js) read the state and call these actions.
import { DEFAULT_MODEL } from './defaults.js';
import { DEFAULT_SETTINGS, exportAnalysis, importAnalysis, settingsFromURL, settingsToURL } from './state.js';
import { CancelledError, ModelWorker } from './worker-client.js';

/** A minimal store: get(), set(patch | fn), subscribe(fn). */
function createStore(state) {
  const subs = new Set();
  return {
    get: () => state,
    set(patch) {
      state = { ...state, ...(typeof patch === 'function' ? patch(state) : patch) };
      for (const f of subs) f(state);
    },
    subscribe(f) {
      subs.add(f);
      return () => subs.delete(f);
    },
  };
}

const EMPTY_RESULTS = { analysis: null, attribution: {}, activations: null, patching: null };

/**
 * Model files a user picked or dropped → [name, File] pairs named relative to
 * the folder that holds config.json. Throws an Error saying what is missing.
 * @param {{ path: string, file: File }[]} entries
 */
export function modelFiles(entries) {
  if (!entries.length) throw new Error('No files were given. Choose the folder of a GPT-2 model (config.json, model.safetensors, and vocab.json + merges.txt or tokenizer.json).');
  const configs = entries.filter((e) => e.path === 'config.json' || e.path.endsWith('/config.json'));
  if (!configs.length) {
    const names = entries.slice(0, 6).map((e) => e.path).join(', ') + (entries.length > 6 ? `, … (${entries.length} files)` : '');
    throw new Error(`There is no config.json among the files given (${names}). A GPT-2 model folder holds config.json (HF GPT2Config) and model.safetensors, plus vocab.json + merges.txt or tokenizer.json to read text.`);
  }
  configs.sort((a, b) => a.path.split('/').length - b.path.split('/').length);
  const prefix = configs[0].path.slice(0, -'config.json'.length);
  return entries.filter((e) => e.path.startsWith(prefix)).map((e) => [e.path.slice(prefix.length), e.file]);
}

export function createApp({ location = window.location, history = window.history } = {}) {
  const settings = settingsFromURL(location.search);
  const store = createStore({
    settings,
    model: null, // the worker's summary of the loaded model
    modelState: 'idle', // 'loading' | 'ready' | 'error'
    loading: null, // { loaded, total, file }
    loadError: null,
    running: [], // labels of requests in flight
    progress: null, // { done, total } of the patching sweep
    status: '',
    error: null,
    results: EMPTY_RESULTS,
    patchingStale: false,
    imported: null, // { model } when the results came from a file
    history: [], // earlier ablation lists, for undo
  });
  const worker = new ModelWorker({
    onRestart: (reload) => {
      store.set({ status: 'The model worker was restarted to cancel a run; reloading the model…' });
      reload.then(() => store.set({ status: 'Cancelled.' }), (e) => store.set({ modelState: 'error', loadError: e.message }));
    },
  });

  const s = () => store.get().settings;
  const setResults = (patch) => store.set((st) => ({ results: { ...st.results, ...patch } }));

  function writeURL() {
    const url = `${location.pathname}${settingsToURL(s())}${location.hash}`;
    history.replaceState(null, '', url);
  }

  /** Runs a worker request, tracking it in `running`; resolves to its result, or null when cancelled or failed. */
  async function run(label, type, payload, { onProgress } = {}) {
    store.set((st) => ({ running: [...st.running, label], error: null }));
    const t0 = performance.now();
    try {
      const r = await worker.request(type, payload, { onProgress });
      const ms = Math.round(performance.now() - t0);
      if (type === 'analyse') store.set({ status: `Analysed ${r.ids.length} tokens in ${ms} ms.` });
      if (type === 'patch') store.set({ status: `Patching sweep: ${ms} ms.` });
      return r;
    } catch (e) {
      if (e instanceof CancelledError) store.set({ status: 'Cancelled.' });
      else store.set({ error: `${label}: ${e.message}` });
      return null;
    } finally {
      store.set((st) => {
        const i = st.running.indexOf(label);
        return { running: i < 0 ? st.running : [...st.running.slice(0, i), ...st.running.slice(i + 1)] };
      });
    }
  }

  const ready = () => store.get().modelState === 'ready';

  /** False (and says why) when the shown results are an import made with another model. */
  function canCompute() {
    if (!ready()) return false;
    if (sameModelAsImport()) return true;
    store.set({ error: `This analysis was imported from a file made with another model (${store.get().imported.model?.label ?? 'unknown'}); load that model, or press Analyse to redo it with this one.` });
    return false;
  }

  // ------------------------------------------------------------ model

  async function load(source) {
    worker.cancel();
    store.set({ modelState: 'loading', loading: { loaded: 0, total: 0, file: '' }, loadError: null, model: null, error: null });
    try {
      const model = await worker.request('load', { source }, { onProgress: (p) => store.set({ loading: p }) });
      store.set({ model, modelState: 'ready', loading: null, status: `Loaded ${source.label}.` });
      return true;
    } catch (e) {
      const msg = e instanceof CancelledError ? 'Loading was cancelled.' : e.message;
      store.set({ modelState: 'error', loading: null, loadError: msg });
      return false;
    }
  }

  /** Loads the model at a base URL (relative to the page); null is the default model. */
  async function loadUrl(url) {
    const base = url || DEFAULT_MODEL;
    store.set((st) => ({ settings: { ...st.settings, model: url || null } }));
    writeURL();
    const href = new URL(base.endsWith('/') ? base : `${base}/`, location.href).href;
    if (await load({ kind: 'url', url: href, label: url ? base : `${base} (default)` })) await analyseAll();
    else if (!url && store.get().modelState === 'error') {
      store.set((st) => ({ loadError: `The default model (${DEFAULT_MODEL}) did not load: ${st.loadError} Load a model folder or give a base URL below.` }));
    }
  }

  /** Loads a model from files the user picked or dropped: [{ path, file }]. */
  async function loadFiles(entries) {
    let files;
    try {
      files = modelFiles(entries);
    } catch (e) {
      store.set({ loadError: e.message });
      return;
    }
    const folder = entries[0].path.includes('/') ? entries[0].path.split('/')[0] : 'your files';
    store.set((st) => ({ settings: { ...st.settings, model: null } }));
    writeURL();
    if (await load({ kind: 'files', files, label: `${folder} (local files: a link cannot carry this model)` })) await analyseAll();
  }

  // ------------------------------------------------------------ analysis

  let analyseTimer = null;

  /** Analyses the prompt with the interventions: every view's data. */
  async function analyseAll() {
    clearTimeout(analyseTimer);
    if (!ready()) return;
    worker.cancel();
    const { prompt, ablations } = s();
    store.set({ imported: null });
    const analysis = await run('Analysing', 'analyse', { prompt, ablations });
    if (!analysis) return;
    store.set((st) => ({ results: { ...st.results, analysis, attribution: {}, activations: null } }));
    await Promise.all([refreshActivations(), refreshAttribution()]);
    maybeAutoPatch();
  }

  function defaultPoint() {
    return store.get().model?.points.find((p) => p.name.endsWith('->mlp->act'))?.name ?? 'transformer->h->0->mlp->act';
  }

  async function refreshActivations() {
    if (!canCompute()) return;
    const { prompt, ablations } = s();
    const point = s().point ?? defaultPoint();
    const r = await run('Activations', 'activations', { prompt, point, ablations });
    if (r) setResults({ activations: r });
  }

  async function refreshAttribution() {
    if (!canCompute()) return;
    const { attrLayer: layer, ablations, prompt } = s();
    if (store.get().results.attribution[layer]) return;
    const r = await run('Attention × logits', 'attribution', { layer, ablations, prompt });
    if (r) store.set((st) => ({ results: { ...st.results, attribution: { ...st.results.attribution, [layer]: r } } }));
  }

  // ------------------------------------------------------------ settings

  /** Changes settings, updates the URL, and recomputes what depends on them. */
  function set(patch) {
    const before = s();
    const after = { ...before, ...patch };
    store.set({ settings: after });
    writeURL();
    if (patch.prompt !== undefined && patch.prompt !== before.prompt) {
      store.set({ patchingStale: !!store.get().results.patching });
      clearTimeout(analyseTimer);
      analyseTimer = setTimeout(analyseAll, 400);
    }
    if (patch.corrupt !== undefined && patch.corrupt !== before.corrupt) store.set({ patchingStale: !!store.get().results.patching });
    if (patch.point !== undefined && patch.point !== before.point) refreshActivations();
    if (patch.attrLayer !== undefined && patch.attrLayer !== before.attrLayer) refreshAttribution();
    if (patch.view === 'patching' && before.view !== 'patching') {
      autoPatch = true;
      maybeAutoPatch();
    }
  }

  // The patching view runs its sweep by itself when it is opened with no
  // sweep shown yet (so a link to it shows the heatmap); once, not after
  // every analysis.
  let autoPatch = settings.view === 'patching';
  function maybeAutoPatch() {
    const st = store.get();
    if (!autoPatch || st.settings.view !== 'patching' || !ready() || !st.results.analysis || st.imported) return;
    autoPatch = false;
    if (!st.results.patching && !st.running.includes('Patching sweep')) runPatching();
  }

  function setAblations(ablations) {
    store.set((st) => ({ history: [...st.history, st.settings.ablations], patchingStale: !!st.results.patching }));
    store.set((st) => ({ settings: { ...st.settings, ablations } }));
    writeURL();
    analyseAll();
  }

  /** Ablates a head (or changes its mode), or removes its ablation when it already has this mode. */
  function toggleAblation(layer, head, mode = 'zero') {
    const list = s().ablations;
    const i = list.findIndex((a) => a.layer === layer && a.head === head);
    if (i >= 0 && list[i].mode === mode) setAblations([...list.slice(0, i), ...list.slice(i + 1)]);
    else if (i >= 0) setAblations(list.map((a, j) => (j === i ? { layer, head, mode } : a)));
    else setAblations([...list, { layer, head, mode }]);
  }

  function undo() {
    const h = store.get().history;
    if (!h.length) return;
    store.set((st) => ({ history: st.history.slice(0, -1), settings: { ...st.settings, ablations: h[h.length - 1] }, patchingStale: !!st.results.patching }));
    writeURL();
    analyseAll();
  }

  function clearAblations() {
    if (s().ablations.length) setAblations([]);
  }

  // ------------------------------------------------------------ patching

  async function runPatching() {
    if (!canCompute()) return;
    const { prompt, corrupt, ablations, answer, wrong } = s();
    store.set({ progress: { done: 0, total: 0 } });
    const r = await run('Patching sweep', 'patch', { clean: prompt, corrupt, ablations, answer, wrong }, { onProgress: (p) => store.set({ progress: p }) });
    store.set({ progress: null });
    if (r) {
      setResults({ patching: r });
      store.set({ patchingStale: false });
    }
  }

  function cancel() {
    clearTimeout(analyseTimer);
    worker.cancel();
  }

  // ------------------------------------------------------------ export / import

  function exportJSON() {
    const st = store.get();
    const results = { ...st.results };
    // The activations view needs only the chosen neuron's column.
    if (results.activations?.values) {
      const { values, N, point, prompt } = results.activations;
      const n = Math.min(st.settings.neuron, N - 1);
      results.activations = { prompt, point, N, neuron: n, column: Float32Array.from({ length: values.length / N }, (_, t) => values[t * N + n]) };
    }
    return exportAnalysis({ model: st.imported?.model ?? st.model, settings: st.settings, results });
  }

  /** Restores an exported analysis: its settings and every result it holds, shown as they were. */
  function importJSON(text) {
    let parsed;
    try {
      parsed = importAnalysis(text);
    } catch (e) {
      store.set({ error: `Import: ${e.message}` });
      return false;
    }
    clearTimeout(analyseTimer);
    worker.cancel();
    const { settings, results, model } = parsed;
    store.set({
      settings: { ...DEFAULT_SETTINGS, ...settings, model: s().model },
      results: { ...EMPTY_RESULTS, ...results, attribution: results.attribution ?? {} },
      imported: { model },
      patchingStale: false,
      error: null,
      status: `Imported an analysis of ${model?.label ?? 'an unknown model'}.`,
    });
    writeURL();
    return true;
  }

  /** True when the loaded model is the one an imported analysis was made with. */
  function sameModelAsImport() {
    const st = store.get();
    return !st.imported || (st.model && st.imported.model?.fingerprint === st.model.fingerprint);
  }

  async function start() {
    await loadUrl(s().model);
  }

  return {
    store,
    worker,
    actions: { start, loadUrl, loadFiles, analyseAll, set, toggleAblation, undo, clearAblations, runPatching, cancel, exportJSON, importJSON, sameModelAsImport, refreshAttribution, refreshActivations, defaultPoint },
  };
}
