// format.js — how numbers and tokens are written on screen. Shared with the
// tests, which compare what the page shows with what Node computes.

/** A probability as a percentage with three significant digits: '41.2%', '0.713%', '0.00123%'. */
export function formatProb(p) {
  const pct = p * 100;
  if (pct >= 99.95) return `${pct.toFixed(1)}%`;
  if (pct === 0) return '0%';
  return `${Number(pct.toPrecision(3))}%`;
}

/** A signed number with three significant digits. */
export function formatNum(x) {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 1e4 || a < 1e-3) return x.toExponential(2);
  return String(Number(x.toPrecision(3)));
}

/**
 * A token as it should look in a label: spaces stay (CSS shows them), a newline
 * is ↵, a tab →, other control characters and lone bytes of a multi-byte
 * character are written as \xNN.
 */
export function tokenLabel(text, bytes) {
  if (text.includes('\uFFFD') && bytes) return [...bytes].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('');
  return text.replace(/\n/g, '↵').replace(/\t/g, '→').replace(/\r/g, '␍')
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
