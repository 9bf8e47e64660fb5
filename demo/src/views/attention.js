// attention.js — the attention view: a layer × head grid of pattern
// thumbnails (previous-token and induction heads badged), and one head
// enlarged with token labels and CircuitsVis's two readings of it: hover a
// token to see what it attends to and what attends to it. Heads are ablated
// from here.
import { html, useState } from '../ui.js';
import { Heatmap, Thumbnail } from '../canvas.js';
import { blues, MASKED } from '../colour.js';
import { formatNum } from '../format.js';
import { TokenStrip, axisLabel } from './tokens.js';

/** Thresholds above which a head is badged. */
export const PREV_BADGE = 0.4;
export const INDUCTION_BADGE = 0.25;

/** Colour of a pattern cell; future keys are masked. */
const cellColour = (p, q, k) => (k > q ? MASKED : blues.at(p));

function AblateButtons({ layer, head, ablation, actions }) {
  return html`<span class="ablate">
    <button class=${ablation?.mode === 'zero' ? 'on' : ''} title="Zero-ablate: set this head's output to 0 (click again to undo)"
      data-testid=${`ablate-zero-${layer}-${head}`} onClick=${(e) => { e.stopPropagation(); actions.toggleAblation(layer, head, 'zero'); }}>zero</button>
    <button class=${ablation?.mode === 'mean' ? 'on' : ''} title="Mean-ablate: replace this head's output by its mean over the prompt's positions"
      data-testid=${`ablate-mean-${layer}-${head}`} onClick=${(e) => { e.stopPropagation(); actions.toggleAblation(layer, head, 'mean'); }}>mean</button>
  </span>`;
}

function Badges({ prev, induction }) {
  return html`${prev >= PREV_BADGE && html`<span class="badge prev" title="previous-token score: mean attention from each token to the one before">prev ${prev.toFixed(2)}</span>`}
    ${induction >= INDUCTION_BADGE && html`<span class="badge induction" title="induction score: attention to the token after an earlier occurrence of the current context">ind ${induction.toFixed(2)}</span>`}`;
}

function Enlarged({ a, layer, head, ablation, actions }) {
  const T = a.ids.length;
  const { H } = a;
  const base = (layer * H + head) * T * T;
  const p = (q, k) => a.patterns[base + q * T + k];
  const [focus, setFocus] = useState(T - 1);
  const f = Math.min(focus, T - 1);
  const rowMax = Math.max(1e-9, ...Array.from({ length: f + 1 }, (_, k) => p(f, k)));
  const colMax = Math.max(1e-9, ...Array.from({ length: T - f }, (_, i) => p(f + i, f)));
  const shade = (x, max) => ({ background: blues.css(x / max), color: blues.ink(x / max) });
  const labels = a.tokens.map(axisLabel);
  const i = layer * H + head;
  return html`<div class="enlarged" data-testid="attention-enlarged">
    <div class="enlarged-head">
      <h3>Layer ${layer}, head ${head}</h3>
      <span class="hint">previous-token score ${formatNum(a.scores.prev[i])}${Number.isNaN(a.scores.induction[i]) ? '' : `, induction score ${formatNum(a.scores.induction[i])}`}</span>
      <${AblateButtons} layer=${layer} head=${head} ablation=${ablation} actions=${actions} />
      <button class="link" onClick=${() => actions.set({ head: null })}>close</button>
    </div>
    <div class="enlarged-body">
      <${Heatmap} rows=${T} cols=${T} rowLabels=${labels} colLabels=${labels} deps=${[a.patterns, layer, head]}
        colourAt=${(q, k) => cellColour(p(q, k), q, k)} highlight=${{ row: f, col: null }}
        tooltip=${(q, k) => (k > q ? `'${labels[q]}' cannot see '${labels[k]}' (a later token)` : `'${labels[q]}' (${q}) attends to '${labels[k]}' (${k}): ${formatNum(p(q, k))}`)}
        onHover=${(q) => { if (q !== null) setFocus(q); }} testid="attention-heatmap" />
      <div class="strips">
        <p class="explain">Hover a token. <b>Attends to</b>: where <i>${labels[f]}</i> (position ${f}) looks, as the query. <b>Attended by</b>: which later tokens look at it, as the key. Shaded relative to the largest weight in each strip.</p>
        <h4>Attends to</h4>
        <${TokenStrip} tokens=${a.tokens} focus=${f} onHover=${(t) => { if (t !== null) setFocus(t); }} testid="attends-to"
          colour=${(k) => (k <= f ? shade(p(f, k), rowMax) : null)} title=${(k) => (k <= f ? `${formatNum(p(f, k))}` : 'later token')} />
        <h4>Attended by</h4>
        <${TokenStrip} tokens=${a.tokens} focus=${f} onHover=${(t) => { if (t !== null) setFocus(t); }} testid="attended-by"
          colour=${(q) => (q >= f ? shade(p(q, f), colMax) : null)} title=${(q) => (q >= f ? `${formatNum(p(q, f))}` : 'earlier token')} />
      </div>
    </div>
  </div>`;
}

/** The heads that stand out on this prompt, strongest first. */
function HeadSummary({ a }) {
  const { L, H, scores } = a;
  const list = (xs, min) => Array.from({ length: L * H }, (_, i) => i).filter((i) => xs[i] >= min).sort((i, j) => xs[j] - xs[i])
    .map((i) => `L${Math.floor(i / H)} H${i % H} (${xs[i].toFixed(2)})`).join(', ');
  const prev = list(scores.prev, PREV_BADGE);
  const ind = list(scores.induction, INDUCTION_BADGE);
  return html`<p class="head-summary" data-testid="head-summary">
    <span class="badge prev">prev</span> previous-token heads: ${prev || `none scores ${PREV_BADGE} or more`}.
    <span class="badge induction">ind</span> induction heads: ${scores.matches ? ind || `none scores ${INDUCTION_BADGE} or more` : 'the prompt repeats nothing, so none can show'}.
  </p>`;
}

export function AttentionView({ state, actions }) {
  const a = state.results.analysis;
  const { L, H } = a;
  const T = a.ids.length;
  const { ablations, head: sel } = state.settings;
  const ablationOf = (l, h) => ablations.find((x) => x.layer === l && x.head === h);
  const size = Math.max(44, Math.min(96, Math.floor(620 / H)));
  return html`<div class="attention-view">
    <p class="explain">Each thumbnail is one head's attention pattern: row = the token attending (query), column = the token attended to (key), darker = more attention; the grey upper triangle is the future, which a causal model cannot see.
      A bright diagonal just below the main one is a <b>previous-token head</b>; attention to the token after an earlier copy of the current context is an <b>induction head</b> (badged when the prompt repeats itself).
      Click a thumbnail to enlarge it; <b>zero</b> or <b>mean</b> ablates the head, and every view updates.</p>
    <${HeadSummary} a=${a} />
    <div class="head-grid" data-testid="attention-grid" style=${{ gridTemplateColumns: `3em repeat(${H}, ${size + 8}px)` }}>
      <span />
      ${Array.from({ length: H }, (_, h) => html`<span class="axis">H${h}</span>`)}
      ${Array.from({ length: L }, (_, l) => html`
        <span class="axis">L${l}</span>
        ${Array.from({ length: H }, (_, h) => {
          const ab = ablationOf(l, h);
          const i = l * H + h;
          const prev = a.scores.prev[i];
          const ind = a.scores.induction[i];
          const base = i * T * T;
          const kind = `${prev >= PREV_BADGE ? ' is-prev' : ''}${ind >= INDUCTION_BADGE ? ' is-induction' : ''}`;
          return html`<div class=${`head-cell${ab ? ' ablated' : ''}${sel?.layer === l && sel?.head === h ? ' selected' : ''}${kind}`} data-testid=${`head-${l}-${h}`}>
            <${Thumbnail} rows=${T} cols=${T} size=${size} deps=${[a.patterns]} data-testid=${`thumb-${l}-${h}`}
              title=${`layer ${l}, head ${h}: previous-token ${formatNum(prev)}${Number.isNaN(ind) ? '' : `, induction ${formatNum(ind)}`}. Click to enlarge.`}
              colourAt=${(q, k) => cellColour(a.patterns[base + q * T + k], q, k)}
              onClick=${() => actions.set({ head: { layer: l, head: h } })} />
            <div class="head-meta"><${Badges} prev=${prev} induction=${ind} />${ab && html`<span class="badge off">${ab.mode === 'mean' ? 'mean' : 'zeroed'}</span>`}</div>
            <${AblateButtons} layer=${l} head=${h} ablation=${ab} actions=${actions} />
          </div>`;
        })}`)}
    </div>
    ${sel && sel.layer < L && sel.head < H && html`<${Enlarged} a=${a} layer=${sel.layer} head=${sel.head} ablation=${ablationOf(sel.layer, sel.head)} actions=${actions} />`}
  </div>`;
}
