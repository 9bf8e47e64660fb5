// canvas.js — heatmaps on Canvas: thumbnails at one pixel per cell (scaled
// up by CSS, pixelated), and labelled heatmaps with token axes, a hover
// tooltip and a highlighted row/column.
import { html, useEffect, useRef, useState } from './ui.js';

/** Paints rows × cols cells, one pixel each; colourAt(r, c) → [r, g, b]. */
export function paintCells(canvas, rows, cols, colourAt) {
  canvas.width = Math.max(1, cols);
  canvas.height = Math.max(1, rows);
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(canvas.width, canvas.height);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const [R, G, B] = colourAt(r, c);
      const i = (r * cols + c) * 4;
      img.data[i] = R;
      img.data[i + 1] = G;
      img.data[i + 2] = B;
      img.data[i + 3] = 255;
    }
  }
  ctx.putImageData(img, 0, 0);
}

/** A canvas of rows × cols one-pixel cells, shown at `size` CSS pixels. */
export function Thumbnail({ rows, cols, colourAt, size = 72, deps = [], ...rest }) {
  const ref = useRef();
  useEffect(() => {
    if (ref.current) paintCells(ref.current, rows, cols, colourAt);
  }, [rows, cols, ...deps]);
  return html`<canvas ref=${ref} class="thumb" style=${{ width: `${size}px`, height: `${Math.round((size * rows) / Math.max(1, cols))}px` }} ...${rest} />`;
}

/**
 * A heatmap with labels: rowLabels down the left, colLabels along the top
 * (rotated). colourAt(r, c) → [r, g, b] or null (left blank); tooltip(r, c)
 * → text. onHover(r, c) is called with the cell under the pointer (or nulls).
 */
export function Heatmap({ rows, cols, colourAt, rowLabels = [], colLabels = [], cell, maxWidth = 760, tooltip, onHover, onClick, highlight, deps = [], testid, className = '' }) {
  const ref = useRef();
  const geom = useRef(null);
  const [tip, setTip] = useState(null);
  // Cells stay big enough to carry labels; wide maps scroll sideways.
  const size = cell ?? Math.max(9, Math.min(28, Math.floor((maxWidth - 120) / Math.max(1, cols))));
  useEffect(() => {
    const canvas = ref.current;
    if (!canvas) return;
    const dpr = window.devicePixelRatio || 1;
    const ctx = canvas.getContext('2d');
    const font = Math.min(12, size - 1);
    const showLabels = size >= 8;
    ctx.font = `${font}px ui-monospace, monospace`;
    const widest = (labels) => Math.min(140, Math.max(0, ...labels.map((l) => ctx.measureText(String(l)).width)));
    const left = showLabels && rowLabels.length ? widest(rowLabels) + 8 : 2;
    const top = showLabels && colLabels.length ? widest(colLabels) * 0.87 + 12 : 2;
    const W = left + cols * size + 2;
    const H = top + rows * size + 2;
    canvas.width = Math.ceil(W * dpr);
    canvas.height = Math.ceil(H * dpr);
    canvas.style.width = `${W}px`;
    canvas.style.height = `${H}px`;
    geom.current = { left, top, size };
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, W, H);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const rgb = colourAt(r, c);
        if (!rgb) continue;
        ctx.fillStyle = `rgb(${rgb[0]},${rgb[1]},${rgb[2]})`;
        ctx.fillRect(left + c * size, top + r * size, size, size);
      }
    }
    if (highlight) {
      ctx.strokeStyle = '#d62728';
      ctx.lineWidth = 1.5;
      if (highlight.row != null) ctx.strokeRect(left - 0.5, top + highlight.row * size - 0.5, cols * size + 1, size + 1);
      if (highlight.col != null) ctx.strokeRect(left + highlight.col * size - 0.5, top - 0.5, size + 1, rows * size + 1);
    }
    if (showLabels) {
      ctx.fillStyle = '#333';
      ctx.font = `${font}px ui-monospace, monospace`;
      ctx.textBaseline = 'middle';
      ctx.textAlign = 'right';
      rowLabels.forEach((l, r) => ctx.fillText(String(l), left - 4, top + (r + 0.5) * size, 140));
      ctx.textAlign = 'left';
      colLabels.forEach((l, c) => {
        ctx.save();
        ctx.translate(left + (c + 0.5) * size, top - 4);
        ctx.rotate(-Math.PI / 3);
        ctx.fillText(String(l), 0, 0, 140);
        ctx.restore();
      });
    }
  }, [rows, cols, size, highlight?.row, highlight?.col, ...deps]);

  const cellAt = (e) => {
    const g = geom.current;
    if (!g) return null;
    const rect = ref.current.getBoundingClientRect();
    const c = Math.floor((e.clientX - rect.left - g.left) / g.size);
    const r = Math.floor((e.clientY - rect.top - g.top) / g.size);
    return r >= 0 && r < rows && c >= 0 && c < cols ? { r, c, x: e.clientX - rect.left, y: e.clientY - rect.top } : null;
  };
  const move = (e) => {
    const at = cellAt(e);
    setTip(at && tooltip ? { ...at, text: tooltip(at.r, at.c) } : null);
    onHover?.(at?.r ?? null, at?.c ?? null);
  };
  const leave = () => {
    setTip(null);
    onHover?.(null, null);
  };
  const click = (e) => {
    const at = cellAt(e);
    if (at) onClick?.(at.r, at.c);
  };
  return html`<div class=${`heatmap ${className}`} data-testid=${testid}>
    <canvas ref=${ref} onMouseMove=${move} onMouseLeave=${leave} onClick=${click} />
    ${tip && html`<div class="tip" style=${{ left: `${tip.x + 14}px`, top: `${tip.y + 10}px` }}>${tip.text}</div>`}
  </div>`;
}

/** A horizontal colour bar with its two end labels. */
export function Legend({ lut, left, right }) {
  const ref = useRef();
  useEffect(() => {
    paintCells(ref.current, 1, 128, (r, c) => lut.at(c / 127));
  }, [lut]);
  return html`<span class="legend"><span>${left}</span><canvas ref=${ref} class="legend-bar" /><span>${right}</span></span>`;
}
