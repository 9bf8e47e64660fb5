// attribution.js — Unseal's attention × logits view: per head of a layer,
// each (query, key) pair coloured by its direct contribution to the logit of
// the token that really comes next after the query: blue pushes it up, red
// pushes it down.
import { html, useState } from '../ui.js';
import { Heatmap, Legend, Thumbnail } from '../canvas.js';
import { MASKED, redBlue } from '../colour.js';
import { formatNum } from '../format.js';
import { axisLabel } from './tokens.js';

/** redBlue's colour for a pair: its positive part (0..1) in blue, its negative part in red. */
function pairColour(r, pos, neg, i, q, k) {
  if (k > q) return MASKED;
  return redBlue.at(r[i] >= 0 ? 0.5 + 0.5 * pos[i] : 0.5 - 0.5 * neg[i]);
}

export function AttributionView({ state, actions }) {
  const a = state.results.analysis;
  const { L, H } = a;
  const T = a.ids.length;
  const layer = Math.min(state.settings.attrLayer, L - 1);
  const r = state.results.attribution[layer]?.prompt === a.prompt ? state.results.attribution[layer] : null;
  const [sel, setSel] = useState(null);
  const labels = a.tokens.map(axisLabel);
  const Tq = T - 1;
  const head = sel !== null && sel < H ? sel : null;
  const size = Math.max(60, Math.min(150, Math.floor(640 / Math.min(H, 6))));
  return html`<div class="attribution-view">
    <p class="explain">Unseal's attention × logits: for each head of the chosen layer and each (query, key) pair, how much the key's value, moved by this head to the query, directly raises (blue) or lowers (red) the logit of the token that actually follows the query.
      The direct path only: through the head's output projection, the final LayerNorm (with the final residual's scale) and the unembedding, logits centred over the vocabulary; blue and red are each scaled to the layer's largest value. Rows: queries (labelled with the token that follows them); columns: keys.</p>
    <div class="row">
      <label>Layer <select data-testid="attr-layer" value=${layer} onChange=${(e) => actions.set({ attrLayer: Number(e.target.value) })}>
        ${Array.from({ length: L }, (_, l) => html`<option value=${l}>${l}</option>`)}
      </select></label>
      <${Legend} lut=${redBlue} left="lowers" right="raises" />
    </div>
    ${T < 2 ? html`<p class="hint">Needs at least two tokens.</p>` : !r ? html`<p class="hint">Computing…</p>` : html`
      <div class="attr-grid" data-testid="attribution-grid">
        ${Array.from({ length: H }, (_, h) => html`<figure class=${`attr-cell${head === h ? ' selected' : ''}`}>
          <${Thumbnail} rows=${Tq} cols=${T} size=${size} deps=${[r]} data-testid=${`attr-${layer}-${h}`}
            colourAt=${(q, k) => pairColour(r.raw, r.pos, r.neg, (h * Tq + q) * T + k, q, k)}
            title=${`layer ${layer}, head ${h}: click to enlarge`} onClick=${() => setSel(h)} />
          <figcaption>H${h}</figcaption>
        </figure>`)}
      </div>
      ${head !== null && html`<div class="enlarged">
        <div class="enlarged-head"><h3>Layer ${layer}, head ${head}</h3><button class="link" onClick=${() => setSel(null)}>close</button></div>
        <${Heatmap} rows=${Tq} cols=${T} deps=${[r, head]} testid="attribution-heatmap"
          rowLabels=${Array.from({ length: Tq }, (_, q) => `${labels[q]} → ${labels[q + 1]}`)} colLabels=${labels}
          colourAt=${(q, k) => pairColour(r.raw, r.pos, r.neg, (head * Tq + q) * T + k, q, k)}
          tooltip=${(q, k) => (k > q ? 'a later token' : `query '${labels[q]}' (${q}), key '${labels[k]}' (${k}): ${formatNum(r.raw[(head * Tq + q) * T + k])} to the logit of '${labels[q + 1]}'`)} />
      </div>`}`}
  </div>`;
}
