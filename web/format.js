// format.js — printing a tensor the way PyTorch prints it:
// tensor([[ 0.5778, -0.0257, ...]]), 4 decimals, right-aligned columns,
// lines wrapped at 80 characters, scientific notation when the range is wide,
// and "..." summaries beyond 1000 elements.

const LINE_WIDTH = 80;
const EDGE = 3;
const THRESHOLD = 1000;

function formatter(values, isInt) {
  const finite = values.filter((v) => Number.isFinite(v));
  const special = (v) => (Number.isNaN(v) ? 'nan' : v > 0 ? 'inf' : '-inf');
  if (isInt) return (v) => String(v);
  const nonzero = finite.filter((v) => v !== 0).map(Math.abs);
  const allInts = finite.every((v) => Number.isInteger(v));
  const max = nonzero.length ? Math.max(...nonzero) : 0;
  const min = nonzero.length ? Math.min(...nonzero) : 0;
  const sci = (v) => {
    const [m, e] = v.toExponential(4).split('e');
    const n = Math.abs(Number(e));
    return `${m}e${e[0] === '-' ? '-' : '+'}${n < 10 ? '0' : ''}${n}`;
  };
  if (allInts) {
    if (max > 1e8) return (v) => (Number.isFinite(v) ? sci(v) : special(v));
    return (v) => (Number.isFinite(v) ? `${v.toFixed(0)}.` : special(v));
  }
  if (nonzero.length && (max / min > 1000 || max > 1e8 || min < 1e-4)) return (v) => (Number.isFinite(v) ? sci(v) : special(v));
  return (v) => (Number.isFinite(v) ? v.toFixed(4) : special(v));
}

/** PyTorch's str() of a tensor with these values and shape. */
export function formatTensor(data, shape, isInt = false) {
  const summarize = data.length > THRESHOLD;
  if (shape.length === 0) return `tensor(${formatter([data[0]], isInt)(data[0])})`;
  if (data.length === 0) return `tensor([], size=(${shape.join(', ')}${shape.length === 1 ? ',' : ''}))`;
  const strides = shape.map((_, d) => shape.slice(d + 1).reduce((a, b) => a * b, 1));
  // Indices shown along each dim (with null marking "...").
  const shown = (n) => (summarize && n > 2 * EDGE ? [...Array(EDGE).keys(), null, ...Array.from({ length: EDGE }, (_, i) => n - EDGE + i)] : [...Array(n).keys()]);
  // Collect the values that will be printed, to size the columns.
  const vals = [];
  const gather = (d, off) => {
    for (const i of shown(shape[d])) {
      if (i === null) continue;
      if (d === shape.length - 1) vals.push(data[off + i]);
      else gather(d + 1, off + i * strides[d]);
    }
  };
  gather(0, 0);
  const fmt = formatter(vals, isInt);
  const width = Math.max(...vals.map((v) => fmt(v).length));
  const pad = (s) => ' '.repeat(width - s.length) + s;
  const block = (d, off, indent) => {
    const n = shape[d];
    if (d === shape.length - 1) {
      const items = shown(n).map((i) => (i === null ? ' ...' : pad(fmt(data[off + i]))));
      const perLine = Math.max(1, Math.floor((LINE_WIDTH - indent) / (width + 2)));
      const lines = [];
      for (let i = 0; i < items.length; i += perLine) lines.push(items.slice(i, i + perLine).join(', '));
      return `[${lines.join(`,\n${' '.repeat(indent + 1)}`)}]`;
    }
    const sep = `,${'\n'.repeat(shape.length - d - 1)}${' '.repeat(indent + 1)}`;
    const parts = shown(n).map((i) => (i === null ? '...' : block(d + 1, off + i * strides[d], indent + 1)));
    return `[${parts.join(sep)}]`;
  };
  const prefix = 'tensor(';
  const body = block(0, 0, prefix.length);
  return `${prefix}${body}${isInt ? ', dtype=torch.int32' : ''})`;
}
