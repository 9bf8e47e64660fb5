// tokens.js — a prompt's tokens as a row of boxes, each coloured by a value
// (CircuitsVis's "coloured tokens"), with hover and a tooltip.
import { html } from '../ui.js';
import { tokenLabel } from '../format.js';

/** The display text of a token { text, bytes }. */
export const label = (tok) => tokenLabel(tok.text, tok.bytes);

/** A token on a heatmap's axis, where a space would be invisible: spaces as ␣. */
export const axisLabel = (tok) => label(tok).replace(/ /g, '␣');

/**
 * tokens: [{ text, bytes }]; colour(i) → { background, color } or null;
 * title(i) → tooltip text; onHover(i | null); focus: the index outlined.
 */
export function TokenStrip({ tokens, colour, title, onHover, onClick, focus, testid }) {
  return html`<div class="tokens" data-testid=${testid} onMouseLeave=${() => onHover?.(null)}>
    ${tokens.map((tok, i) => {
      const c = colour?.(i);
      return html`<span
        class=${`tok${i === focus ? ' focus' : ''}`}
        data-i=${i}
        style=${c ?? {}}
        title=${title?.(i) ?? ''}
        onMouseEnter=${() => onHover?.(i)}
        onClick=${() => onClick?.(i)}
      >${label(tok)}</span>`;
    })}
  </div>`;
}
