// colour.js — colour scales (d3-scale-chromatic) as 256-entry lookup tables,
// so canvases colour thousands of cells without parsing colour strings.
import { interpolateBlues, interpolateRdBu, interpolateViridis, interpolateOranges } from 'd3-scale-chromatic';

/** '#rrggbb' or 'rgb(r, g, b)' → [r, g, b]. */
function parse(c) {
  if (c[0] === '#') return [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16));
  return c.match(/\d+/g).slice(0, 3).map(Number);
}

/** A lookup table: lut.at(t) → [r, g, b] for t in [0, 1]. */
function makeLut(interpolate) {
  const n = 256;
  const rgb = new Uint8ClampedArray(n * 3);
  for (let i = 0; i < n; i++) rgb.set(parse(interpolate(i / (n - 1))), i * 3);
  const index = (t) => Math.max(0, Math.min(n - 1, Math.round((Number.isFinite(t) ? t : 0) * (n - 1))));
  return {
    rgb,
    at(t) {
      const i = index(t) * 3;
      return [rgb[i], rgb[i + 1], rgb[i + 2]];
    },
    css(t) {
      return `rgb(${this.at(t).join(', ')})`;
    },
    /** Black or white, whichever reads better on colour t. */
    ink(t) {
      const [r, g, b] = this.at(t);
      return 0.299 * r + 0.587 * g + 0.114 * b > 150 ? '#111' : '#fff';
    },
  };
}

/** Attention weights, activations' magnitude: white → blue. */
export const blues = makeLut(interpolateBlues);
/** Probabilities in the logit lens. */
export const viridis = makeLut(interpolateViridis);
/** The true token's rank in the logit lens (0 = top is bright). */
export const oranges = makeLut(interpolateOranges);
/** Signed values: t = 0 red (negative), 0.5 white, 1 blue (positive). */
export const redBlue = makeLut(interpolateRdBu);

/** Maps x in [−max, max] to redBlue's t. */
export function signed(x, max) {
  return 0.5 + 0.5 * Math.max(-1, Math.min(1, x / (max || 1)));
}

/** Colour of masked cells (future keys in causal attention). */
export const MASKED = [238, 238, 238];
