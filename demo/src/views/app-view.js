// app-view.js — the page: the model, the prompt, the interventions, the
// next-token panel, and the five views in tabs.
import { html, useEffect, useRef, useState } from '../ui.js';
import { ModelPanel } from './model-panel.js';
import { TopK, Norms } from './topk.js';
import { AttentionView } from './attention.js';
import { AttributionView } from './attribution.js';
import { LensView } from './lens.js';
import { ActivationsView } from './activations.js';
import { PatchingView } from './patching.js';

const TABS = [
  ['attention', 'Attention'],
  ['attribution', 'Attention × logits'],
  ['lens', 'Logit lens'],
  ['activations', 'Activations'],
  ['patching', 'Patching'],
];

function download(name, text) {
  const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function Toolbar({ state, actions }) {
  const fileRef = useRef();
  const [copied, setCopied] = useState('');
  const canExport = !!state.results.analysis;
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(window.location.href);
      setCopied('copied');
    } catch {
      setCopied('select the address bar to copy the link');
    }
    setTimeout(() => setCopied(''), 2500);
  };
  const importFile = async (e) => {
    const f = e.target.files[0];
    e.target.value = '';
    if (f) actions.importJSON(await f.text());
  };
  return html`<div class="toolbar">
    <button disabled=${!canExport} data-testid="export" title="Save the current analysis (settings and every result shown) as JSON"
      onClick=${() => download(`unseal-analysis-${new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-')}.json`, actions.exportJSON())}>Export JSON</button>
    <button onClick=${() => fileRef.current.click()} title="Show an exported analysis again">Import JSON</button>
    <input ref=${fileRef} type="file" accept=".json,application/json" hidden data-testid="import-input" onChange=${importFile} />
    <button onClick=${copy} title="The address carries the prompt and settings">Copy link</button>
    ${copied && html`<span class="hint">${copied}</span>`}
  </div>`;
}

function PromptPanel({ state, actions }) {
  const { settings, running, progress, status, error } = state;
  return html`<section class="panel prompt-panel">
    <label class="prompt-label" for="prompt">Prompt</label>
    <textarea id="prompt" data-testid="prompt" rows="2" spellcheck="false" value=${settings.prompt}
      onInput=${(e) => actions.set({ prompt: e.target.value })}
      onKeyDown=${(e) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) actions.analyseAll(); }} />
    <div class="run-row">
      <button onClick=${actions.analyseAll} disabled=${state.modelState !== 'ready'} data-testid="analyse">Analyse</button>
      <span class="status" data-testid="status" role="status">
        ${running.length ? html`<span class="spinner" />${running[0]}…` : status}
        ${progress && progress.total > 0 && html` <progress max=${progress.total} value=${progress.done} /> ${progress.done}/${progress.total}`}
      </span>
      ${running.length > 0 && html`<button onClick=${actions.cancel} data-testid="cancel">Cancel</button>`}
    </div>
    ${error && html`<div class="error" role="alert" data-testid="run-error">${error}</div>`}
    <${Interventions} state=${state} actions=${actions} />
  </section>`;
}

function Interventions({ state, actions }) {
  const { ablations } = state.settings;
  return html`<div class="interventions" data-testid="interventions">
    <strong>Interventions</strong>
    ${ablations.length === 0 && html`<span class="hint">none: ablate a head from the attention grid (zero or mean).</span>`}
    ${ablations.map((a) => html`<span class="chip" data-testid="ablation">
      L${a.layer} H${a.head} ${a.mode === 'mean' ? 'mean-ablated' : 'zeroed'}
      <button class="x" title="Remove" onClick=${() => actions.toggleAblation(a.layer, a.head, a.mode)}>×</button>
    </span>`)}
    <button onClick=${actions.undo} disabled=${!state.history.length} data-testid="undo">Undo</button>
    ${ablations.length > 0 && html`<button onClick=${actions.clearAblations}>Clear</button>`}
  </div>`;
}

export function App({ app }) {
  const [state, setState] = useState(app.store.get());
  useEffect(() => app.store.subscribe(setState), []);
  const { actions } = app;
  const { settings, results } = state;
  const a = results.analysis;
  const View = { attention: AttentionView, attribution: AttributionView, lens: LensView, activations: ActivationsView, patching: PatchingView }[settings.view];
  return html`<div class="app" data-testid="app"
      data-model-state=${state.modelState}
      data-busy=${String(state.running.length > 0)}
      data-tokens=${a ? a.ids.length : 0}
      data-imported=${String(!!state.imported)}>
    <header>
      <h1>unseal-wasm <span>live interpretability in the browser</span></h1>
      <${Toolbar} state=${state} actions=${actions} />
    </header>
    <${ModelPanel} state=${state} actions=${actions} />
    <${PromptPanel} state=${state} actions=${actions} />
    ${state.imported && html`<div class="note" data-testid="imported-note">Showing an imported analysis
      ${state.imported.model ? html` made with <b>${state.imported.model.label}</b>` : ''}${actions.sameModelAsImport() ? ' (the loaded model)' : html`; <b>the loaded model is another one</b>, so changes cannot be recomputed until you load it`}.</div>`}
    <div class="columns">
      <aside>
        <${TopK} analysis=${a} />
        <${Norms} analysis=${a} />
      </aside>
      <main>
        <nav class="tabs" role="tablist">
          ${TABS.map(([id, name]) => html`<button role="tab" aria-selected=${settings.view === id} class=${settings.view === id ? 'active' : ''}
            data-testid=${`tab-${id}`} onClick=${() => actions.set({ view: id })}>${name}</button>`)}
        </nav>
        <div class="view" data-testid=${`view-${settings.view}`}>
          ${a ? html`<${View} state=${state} actions=${actions} />` : html`<p class="hint">${state.modelState === 'loading' ? 'Loading the model…' : state.modelState === 'error' ? 'Load a model to begin.' : 'Analysing…'}</p>`}
        </div>
      </main>
    </div>
    <footer>The model runs in a Web Worker in this tab (WebAssembly, SIMD128); nothing leaves the browser.</footer>
  </div>`;
}
