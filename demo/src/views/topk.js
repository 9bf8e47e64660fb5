// topk.js — the next token after the prompt (top-k with probabilities, and
// what they were before the interventions), and the residual stream's norm
// per layer.
import { html, useEffect, useRef } from '../ui.js';
import { formatNum, formatProb } from '../format.js';
import { label } from './tokens.js';

export function TopK({ analysis }) {
  if (!analysis) return html`<section class="panel"><h2>Next token</h2><p class="hint">…</p></section>`;
  const { topk, baseline } = analysis;
  const before = baseline && new Map(baseline.ids.map((id, i) => [id, baseline.probs[i]]));
  return html`<section class="panel topk-panel">
    <h2>Next token</h2>
    <p class="explain">The model's ten most likely continuations of the whole prompt${baseline ? ', and (struck through) their probability without the interventions' : ''}.</p>
    <ol class="topk" data-testid="topk">
      ${topk.ids.map((id, i) => html`<li data-id=${id} data-prob=${topk.probs[i]}>
        <span class="tok">${label(topk.tokens[i])}</span>
        <span class="bar"><span style=${{ width: `${(100 * topk.probs[i]) / Math.max(topk.probs[0], 1e-12)}%` }} /></span>
        <span class="prob">${formatProb(topk.probs[i])}</span>
        ${before && html`<s class="was" title="without the interventions">${before.has(id) ? formatProb(before.get(id)) : '<top 10'}</s>`}
      </li>`)}
    </ol>
  </section>`;
}

/** Bars: the mean norm over positions per layer; dots: the last position's. */
export function Norms({ analysis }) {
  const ref = useRef();
  const L1 = analysis ? analysis.norms.length / analysis.ids.length : 0;
  useEffect(() => {
    const canvas = ref.current;
    if (!canvas || !analysis) return;
    const T = analysis.ids.length;
    const { norms } = analysis;
    const mean = Array.from({ length: L1 }, (_, l) => norms.subarray(l * T, (l + 1) * T).reduce((a, b) => a + b, 0) / T);
    const last = Array.from({ length: L1 }, (_, l) => norms[l * T + T - 1]);
    const max = Math.max(...mean, ...last, 1e-9);
    const dpr = window.devicePixelRatio || 1;
    const W = 260;
    const rowH = 16;
    const left = 58;
    const Hh = L1 * rowH + 22;
    canvas.width = W * dpr;
    canvas.height = Hh * dpr;
    canvas.style.width = `${W}px`;
    canvas.style.height = `${Hh}px`;
    const ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, W, Hh);
    ctx.font = '11px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    const scale = (W - left - 44) / max;
    for (let l = 0; l < L1; l++) {
      const y = l * rowH + 4;
      ctx.fillStyle = '#555';
      ctx.textAlign = 'right';
      ctx.fillText(l === 0 ? 'embed' : `after ${l - 1}`, left - 6, y + rowH / 2 - 1);
      ctx.fillStyle = '#9ecae1';
      ctx.fillRect(left, y + 2, mean[l] * scale, rowH - 6);
      ctx.fillStyle = '#d62728';
      ctx.beginPath();
      ctx.arc(left + last[l] * scale, y + rowH / 2 - 1, 3, 0, 2 * Math.PI);
      ctx.fill();
      ctx.fillStyle = '#333';
      ctx.textAlign = 'left';
      ctx.fillText(formatNum(mean[l]), left + Math.max(mean[l], last[l]) * scale + 6, y + rowH / 2 - 1);
    }
  }, [analysis]);
  return html`<section class="panel norms-panel">
    <h2>Residual stream norm</h2>
    <p class="explain">‖x‖ of the residual stream entering each block and after the last: bars the mean over positions, dots the last position.</p>
    ${analysis ? html`<canvas ref=${ref} data-testid="norms" />` : html`<p class="hint">…</p>`}
  </section>`;
}
