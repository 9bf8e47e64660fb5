// model-panel.js — which model is loaded, and loading another: pick a folder
// or files, drop them, or give a base URL; a progress bar while loading and
// a plain message when the files are wrong.
import { html, useState } from '../ui.js';

/** Files of a drop, folders walked: [{ path, file }]. */
async function droppedFiles(dt) {
  const entries = [...dt.items].map((i) => i.webkitGetAsEntry?.()).filter(Boolean);
  if (!entries.length) return [...dt.files].map((f) => ({ path: f.name, file: f }));
  const out = [];
  const walk = async (entry, prefix) => {
    if (entry.isFile) {
      out.push({ path: prefix + entry.name, file: await new Promise((res, rej) => entry.file(res, rej)) });
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      for (;;) {
        const batch = await new Promise((res, rej) => reader.readEntries(res, rej));
        if (!batch.length) break;
        for (const e of batch) await walk(e, `${prefix}${entry.name}/`);
      }
    }
  };
  for (const e of entries) await walk(e, '');
  return out;
}

const picked = (input) => [...input.files].map((f) => ({ path: f.webkitRelativePath || f.name, file: f }));

function bytes(n) {
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(0)} kB`;
  return `${n} B`;
}

export function ModelPanel({ state, actions }) {
  const { model, modelState, loading, loadError } = state;
  const [opened, setOpen] = useState(false);
  const open = opened || (modelState === 'error' && !model);
  const [url, setUrl] = useState(state.settings.model ?? '');
  const [over, setOver] = useState(false);
  const c = model?.config;
  const drop = async (e) => {
    e.preventDefault();
    setOver(false);
    actions.loadFiles(await droppedFiles(e.dataTransfer));
  };
  return html`<section class="panel model-panel" data-testid="model-panel">
    <div class="model-line">
      <strong>Model</strong>
      ${modelState === 'ready' && html`<span data-testid="model-summary">${model.label}: ${c.n_layer} layers × ${c.n_head} heads, d_model ${c.n_embd}, vocabulary ${c.vocab_size}, context ${c.n_positions}${model.hasTokenizer ? '' : ' (no tokenizer: prompts are token ids)'}</span>`}
      ${modelState === 'loading' && html`<span>loading…</span>`}
      ${modelState === 'error' && html`<span class="bad">not loaded</span>`}
      <button class="link" onClick=${() => setOpen(!open)} aria-expanded=${open}>${open ? 'close' : 'load another model…'}</button>
    </div>
    ${loading && html`<div class="progress-row" data-testid="load-progress">
      <progress max=${loading.total || 1} value=${loading.loaded} />
      <span>${loading.file} ${bytes(loading.loaded)}${loading.total ? ` of ${bytes(loading.total)}` : ''}</span>
      <button onClick=${actions.cancel}>Cancel</button>
    </div>`}
    ${loadError && html`<div class="error" role="alert" data-testid="load-error">${loadError}</div>`}
    ${open && html`<div class="loader">
      <p class="explain">Any GPT-2-family model in HuggingFace's layout: <code>config.json</code>, <code>model.safetensors</code>
        (or shards with <code>model.safetensors.index.json</code>), and <code>vocab.json</code> + <code>merges.txt</code> or <code>tokenizer.json</code> to read text.</p>
      <div class=${`drop${over ? ' over' : ''}`} data-testid="drop-zone"
        onDragOver=${(e) => { e.preventDefault(); setOver(true); }}
        onDragLeave=${() => setOver(false)}
        onDrop=${drop}>
        Drop a model folder or its files here, or
        <label class="button">choose a folder<input type="file" webkitdirectory multiple hidden data-testid="folder-input" onChange=${(e) => actions.loadFiles(picked(e.target))} /></label>
        <label class="button">choose files<input type="file" multiple hidden data-testid="files-input" onChange=${(e) => actions.loadFiles(picked(e.target))} /></label>
      </div>
      <form class="url-form" onSubmit=${(e) => { e.preventDefault(); actions.loadUrl(url.trim() || null); }}>
        <label>Base URL <input type="text" value=${url} placeholder="models/kjv-bytes/ or https://host/model/resolve/main/" size="48" data-testid="url-input" onInput=${(e) => setUrl(e.target.value)} /></label>
        <button type="submit">Load</button>
        <span class="hint">Other sites must allow this page's origin (CORS and <code>Cross-Origin-Resource-Policy</code>).</span>
      </form>
    </div>`}
  </section>`;
}
