// lens.js — the logit lens: the residual stream before every block and after
// the last, read through the final LayerNorm and the unembedding as if it were
// the end of the model: at each layer and position, the top token and its
// probability, coloured by that probability or by the rank of the true next token.
import { html } from '../ui.js';
import { Legend } from '../canvas.js';
import { oranges, viridis } from '../colour.js';
import { formatNum, formatProb } from '../format.js';
import { label } from './tokens.js';

export function LensView({ state, actions }) {
  const a = state.results.analysis;
  const { L } = a;
  const T = a.ids.length;
  const { topIds, topProbs, rank, kl, tokens } = a.lens;
  const by = state.settings.lensColour;
  const V = state.model?.config.vocab_size ?? state.imported?.model?.config?.vocab_size ?? 50257;
  const logV = Math.log(V);
  const colourOf = (l, t) => {
    if (by === 'rank') {
      if (t === T - 1) return { background: '#f4f4f4', color: '#999' };
      const x = 1 - Math.log1p(rank[l * (T - 1) + t]) / logV;
      return { background: oranges.css(x), color: oranges.ink(x) };
    }
    const p = topProbs[l * T + t];
    return { background: viridis.css(p), color: viridis.ink(p) };
  };
  const layers = Array.from({ length: L + 1 }, (_, l) => l);
  return html`<div class="lens-view">
    <p class="explain">The logit lens reads the residual stream at every depth as if the model ended there (final LayerNorm, then the unembedding).
      Each cell: the most likely next token at that layer and position, and its probability. Colour by
      <label><input type="radio" name="lens-colour" checked=${by === 'prob'} onChange=${() => actions.set({ lensColour: 'prob' })} data-testid="lens-by-prob" /> its probability</label> or
      <label><input type="radio" name="lens-colour" checked=${by === 'rank'} onChange=${() => actions.set({ lensColour: 'rank' })} data-testid="lens-by-rank" /> the rank of the true next token</label> (bright = ranked first).
      Hover a cell for the rank and the KL divergence from the final layer.</p>
    ${by === 'prob' ? html`<${Legend} lut=${viridis} left="0" right="1" />` : html`<${Legend} lut=${oranges} left=${`rank ${V - 1}`} right="rank 0" />`}
    <div class="table-scroll">
      <table class="lens" data-testid="lens-table">
        <thead><tr><th>layer \\ input</th>${a.tokens.map((tok, t) => html`<th title=${`position ${t}`}>${label(tok)}</th>`)}</tr></thead>
        <tbody>
          ${layers.map((l) => html`<tr data-layer=${l}>
            <th>${l === 0 ? 'embed' : `after ${l - 1}`}</th>
            ${Array.from({ length: T }, (_, t) => {
              const i = l * T + t;
              const next = t < T - 1 ? `; true next '${label(a.tokens[t + 1])}' ranks ${rank[l * (T - 1) + t]}` : '';
              return html`<td data-pos=${t} data-top=${topIds[i]} data-prob=${topProbs[i]} style=${colourOf(l, t)}
                title=${`top '${label(tokens[i])}' ${formatProb(topProbs[i])}${next}; KL from final ${formatNum(kl[i])} nats`}>
                <span class="tok">${label(tokens[i])}</span><span class="p">${formatProb(topProbs[i])}</span></td>`;
            })}
          </tr>`)}
          <tr class="truth"><th>true next</th>${Array.from({ length: T }, (_, t) => html`<td>${t < T - 1 ? label(a.tokens[t + 1]) : '?'}</td>`)}</tr>
        </tbody>
      </table>
    </div>
  </div>`;
}
