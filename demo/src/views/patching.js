// patching.js — two prompts side by side (clean and corrupted, as Unseal's
// compare view) and the activation-patching sweep: how much of the clean
// answer comes back when one residual-stream activation (layer × position)
// or one head's output is patched from the clean run into the corrupted one.
// Beside the exact sweep, attribution patching's gradient estimate of it.
import { html } from '../ui.js';
import { Heatmap, Legend } from '../canvas.js';
import { redBlue, signed } from '../colour.js';
import { formatNum } from '../format.js';
import { TokenStrip, axisLabel, label } from './tokens.js';

const residLabel = (l) => (l === 0 ? 'embed' : `after ${l - 1}`);
const colour = (x) => redBlue.at(signed(x, 1));

/** The residual-stream map: (L+1) layers × T positions. */
function ResidMap({ values, r, testid }) {
  const T = r.clean.length;
  const layers = values.length / T;
  const labels = r.cleanTokens.map(axisLabel);
  return html`<${Heatmap} rows=${layers} cols=${T} deps=${[values]} testid=${testid} maxWidth=${1100}
    rowLabels=${Array.from({ length: layers }, (_, l) => residLabel(l))} colLabels=${labels}
    colourAt=${(l, t) => colour(values[l * T + t])}
    tooltip=${(l, t) => `patch the residual ${residLabel(l)} at position ${t} ('${labels[t]}'): restores ${formatNum(values[l * T + t])}`} />`;
}

/** The head map: L layers × H heads. */
function HeadMap({ values, L, testid }) {
  const H = values.length / L;
  return html`<${Heatmap} rows=${L} cols=${H} cell=${Math.max(16, Math.min(30, Math.floor(320 / H)))} deps=${[values]} testid=${testid}
    rowLabels=${Array.from({ length: L }, (_, l) => `L${l}`)} colLabels=${Array.from({ length: H }, (_, h) => `H${h}`)}
    colourAt=${(l, h) => colour(values[l * H + h])}
    tooltip=${(l, h) => `patch head L${l} H${h} (its output at every position): restores ${formatNum(values[l * H + h])}`} />`;
}

/** Where the estimate goes: its map, or why there is none. */
function Estimate({ r, short, children }) {
  if (!r.estimate.unavailable) return children;
  if (short) return html`<div class="unavailable"><p>Needs gradients (see above).</p></div>`;
  return html`<div class="unavailable">
    <p>${r.estimate.unavailable}</p>
    <p class="hint">With the library's gradient API, this shows attribution patching's first-order estimate (a_clean − a_corrupted) · ∂m/∂a, from one backward pass, beside the exact sweep.</p>
  </div>`;
}

export function PatchingView({ state, actions }) {
  const { settings, progress, results, patchingStale } = state;
  const r = results.patching;
  const running = state.running.includes('Patching sweep');
  const diff = r ? r.cleanTokens.map((_, t) => r.clean[t] !== r.corrupt[t]) : [];
  const mark = (t) => (diff[t] ? { background: '#fde0c5' } : null);
  return html`<div class="patching-view">
    <p class="explain">Activation patching asks where the model keeps what distinguishes two prompts. Run the corrupted prompt, copy one activation from the clean run into it, and measure how much of the clean answer comes back:
      <code>(m_patched − m_corrupted) / (m_clean − m_corrupted)</code>, where m is the logit of the clean answer minus that of the corrupted run's answer at the last position
      (1 = fully restored, blue; 0 = no effect; negative, red). The prompts must have the same number of tokens. Interventions apply to every run.</p>
    <div class="compare">
      <label>Clean prompt<textarea rows="3" spellcheck="false" value=${settings.prompt} data-testid="clean-prompt" onInput=${(e) => actions.set({ prompt: e.target.value })} /></label>
      <label>Corrupted prompt<textarea rows="3" spellcheck="false" value=${settings.corrupt} data-testid="corrupt-prompt" onInput=${(e) => actions.set({ corrupt: e.target.value })} /></label>
    </div>
    <div class="row">
      <label>Answer <input type="text" size="8" value=${settings.answer} placeholder="clean top" onInput=${(e) => actions.set({ answer: e.target.value })} /></label>
      <label>Wrong answer <input type="text" size="8" value=${settings.wrong} placeholder="corrupted top" onInput=${(e) => actions.set({ wrong: e.target.value })} /></label>
      <button onClick=${actions.runPatching} disabled=${running || state.modelState !== 'ready'} data-testid="run-patching">Run patching sweep</button>
      ${running && html`<progress max=${progress?.total || 1} value=${progress?.done ?? 0} data-testid="patching-progress" /><button onClick=${actions.cancel}>Cancel</button>`}
      ${patchingStale && r && html`<span class="warn">The prompts or interventions changed since this sweep; run it again.</span>`}
    </div>
    ${r && html`<div class="patching-results" data-testid="patching-results">
      <div class="compare">
        <div><h4>Clean</h4><${TokenStrip} tokens=${r.cleanTokens} colour=${mark} /></div>
        <div><h4>Corrupted</h4><${TokenStrip} tokens=${r.corruptTokens} colour=${mark} /></div>
      </div>
      <p data-testid="patching-metric">m = logit('${label(r.answerToken)}')${r.wrongToken ? ` − logit('${label(r.wrongToken)}')` : ' (both runs predict the same token)'} at the last position:
        clean ${formatNum(r.mClean)}, corrupted ${formatNum(r.mCorr)}.${r.normalised ? '' : ' The two are equal, so the maps show m_patched − m_corrupted unnormalised.'}</p>
      <${Legend} lut=${redBlue} left="−1" right="1 (restored)" />
      <h3>Residual stream: patch one layer at one position</h3>
      <h4>Exact: one (batched) forward per patch</h4>
      <${ResidMap} values=${r.resid} r=${r} testid="patching-resid" />
      <div data-testid="attribution-patching">
        <h4>Attribution patching: the gradient estimate of the same map</h4>
        <${Estimate} r=${r}><${ResidMap} values=${r.estimate.resid} r=${r} testid="attribution-patching-map-resid" /></${Estimate}>
      </div>
      <h3>Heads: patch one head's output at every position</h3>
      <div class="sweeps">
        <div><h4>Exact</h4><${HeadMap} values=${r.heads} L=${r.resid.length / r.clean.length - 1} testid="patching-heads" /></div>
        <div><h4>Attribution patching (estimate)</h4>
          <${Estimate} r=${r} short><${HeadMap} values=${r.estimate.heads} L=${r.resid.length / r.clean.length - 1} testid="attribution-patching-map-heads" /></${Estimate}></div>
      </div>
    </div>`}
  </div>`;
}
