// activations.js — one hook point and one neuron (a coordinate of that
// activation, e.g. an MLP neuron): the prompt's tokens coloured by its value,
// and the tokens where it fires most.
import { html } from '../ui.js';
import { Legend } from '../canvas.js';
import { redBlue, signed } from '../colour.js';
import { formatNum } from '../format.js';
import { TokenStrip, label } from './tokens.js';

/** The neuron's value at every position, from full values [T, N] or an imported column. */
function columnOf(act, neuron, T) {
  if (!act) return null;
  if (act.values) return Float32Array.from({ length: T }, (_, t) => act.values[t * act.N + neuron]);
  return act.neuron === neuron ? act.column : null;
}

/** Neurons with the largest |value| anywhere in the prompt. */
function strongest(act, T, k = 8) {
  if (!act?.values) return [];
  const best = new Float32Array(act.N);
  for (let t = 0; t < T; t++) for (let n = 0; n < act.N; n++) best[n] = Math.max(best[n], Math.abs(act.values[t * act.N + n]));
  return Array.from(best.keys()).sort((x, y) => best[y] - best[x]).slice(0, k);
}

export function ActivationsView({ state, actions }) {
  const a = state.results.analysis;
  const T = a.ids.length;
  const act = state.results.activations;
  const points = state.model?.points ?? (act ? [{ name: act.point, label: act.point, size: act.N }] : []);
  const pointName = state.settings.point ?? act?.point ?? actions.defaultPoint();
  const point = points.find((p) => p.name === pointName) ?? { name: pointName, label: pointName, size: act?.N ?? 1 };
  const N = act?.N ?? point.size;
  const neuron = Math.max(0, Math.min(state.settings.neuron, N - 1));
  const col = act && act.point === pointName && act.prompt === a.prompt ? columnOf(act, neuron, T) : null;
  const max = col ? Math.max(1e-9, ...Array.from(col, Math.abs)) : 1;
  const top = col ? Array.from(col.keys()).sort((x, y) => col[y] - col[x]).slice(0, 10) : [];
  const context = (t) => a.tokens.slice(Math.max(0, t - 12), t).map(label).join('');
  return html`<div class="activations-view">
    <p class="explain">The value of one coordinate ("neuron") of a hook point at every position of the prompt: blue positive, red negative, scaled to the largest |value| in the prompt.
      Pick the hook point (the MLP neurons after GELU are the classic choice) and the neuron; the strongest neurons on this prompt are offered as shortcuts.</p>
    <div class="row">
      <label>Hook point <select data-testid="act-point" value=${pointName} onChange=${(e) => actions.set({ point: e.target.value })}>
        ${points.map((p) => html`<option value=${p.name}>${p.label} [${p.size}]</option>`)}
      </select></label>
      <label>Neuron <input type="number" min="0" max=${N - 1} value=${neuron} data-testid="act-neuron" onInput=${(e) => actions.set({ neuron: Math.max(0, Math.min(N - 1, Number(e.target.value) || 0)) })} /></label>
      <input type="range" min="0" max=${N - 1} value=${neuron} onInput=${(e) => actions.set({ neuron: Number(e.target.value) })} aria-label="neuron" />
      <${Legend} lut=${redBlue} left=${formatNum(-max)} right=${formatNum(max)} />
    </div>
    ${act?.values && html`<div class="row">Strongest here: ${strongest(act, T).map((n) => html`<button class=${`chip${n === neuron ? ' on' : ''}`} onClick=${() => actions.set({ neuron: n })}>${n}</button>`)}</div>`}
    ${!col ? html`<p class="hint">${act && act.point === pointName && !act.values ? 'This imported analysis holds another neuron only; load its model to see others.' : 'Computing…'}</p>` : html`
      <${TokenStrip} tokens=${a.tokens} testid="act-tokens"
        colour=${(t) => ({ background: redBlue.css(signed(col[t], max)), color: redBlue.ink(signed(col[t], max)) })}
        title=${(t) => `position ${t}: ${formatNum(col[t])}`} />
      <h3>Top-activating tokens in the prompt</h3>
      <table class="top-acts" data-testid="top-acts">
        <thead><tr><th>value</th><th>position</th><th class="ctx">context</th><th>token</th></tr></thead>
        <tbody>${top.map((t) => html`<tr><td>${formatNum(col[t])}</td><td>${t}</td><td class="ctx">${context(t)}</td><td><span class="tok">${label(a.tokens[t])}</span></td></tr>`)}</tbody>
      </table>`}
  </div>`;
}
