// indexing.js — NumPy-style index strings (':,3,:', '...,2:5', '[1,4]', '::-1')
// for Unseal's hooks. The string is parsed by the C scanner
// (src/core/index.c, never eval); here it is resolved against a shape and
// used to read (gather) or write (scatter, with broadcasting) a Tensor.

import { UnsealError } from './errors.js';
import { C, ErrorSlot, heap, malloc } from './wasm.js';
import { Tensor } from './tensor.js';

const cache = new Map();
const encoder = new TextEncoder();

/** The items of an index string: {kind: 'int'|'slice'|'list'|'ellipsis', ...}. */
export function parseIndex(str) {
  if (typeof str !== 'string') throw new UnsealError('ERR_INVALID_ARG', `index must be a string such as ':,3,:', got ${typeof str}`);
  const hit = cache.get(str);
  if (hit) return hit;
  const bytes = encoder.encode(str);
  const sp = malloc(bytes.length || 1, 'the index string');
  heap().u8.set(bytes, sp);
  const err = new ErrorSlot();
  let idx = 0;
  try {
    idx = C.usw_index_parse(sp, bytes.length, err.ptr);
    if (!idx) err.check(heap().i32[err.ptr >>> 2] || 5);
    const items = [];
    const n = C.usw_index_count(idx);
    for (let i = 0; i < n; i++) {
      const f = (k) => C.usw_index_field(idx, i, k);
      const kind = ['int', 'slice', 'list', 'ellipsis'][f(0)];
      if (kind === 'int') items.push({ kind, index: f(3) });
      else if (kind === 'slice') items.push({ kind, start: f(1) ? f(3) : null, stop: f(2) ? f(4) : null, step: f(5) });
      else if (kind === 'list') items.push({ kind, values: Array.from({ length: f(6) }, (_, j) => C.usw_index_list_at(idx, i, j)) });
      else items.push({ kind });
    }
    if (cache.size > 256) cache.clear();
    cache.set(str, items);
    return items;
  } finally {
    if (idx) C.usw_index_free(idx);
    C.usw_free(sp);
    err.free();
  }
}

/** Python's slice.indices(n) as the list of positions it selects. */
function slicePositions({ start, stop, step }, n) {
  const lower = step > 0 ? 0 : -1;
  const upper = step > 0 ? n : n - 1;
  const clamp = (v, dflt) => (v === null ? dflt : v < 0 ? Math.max(v + n, lower) : Math.min(v, upper));
  const s = clamp(start, step > 0 ? lower : upper);
  const e = clamp(stop, step > 0 ? upper : lower);
  const out = [];
  if (step > 0) for (let i = s; i < e; i += step) out.push(i);
  else for (let i = s; i > e; i += step) out.push(i);
  return out;
}

/**
 * Resolves an index string against a shape: for every dim the positions it
 * selects and whether the dim is kept (an integer drops it, as in NumPy).
 */
export function resolveIndex(str, shape) {
  const items = parseIndex(str);
  const nEll = items.filter((it) => it.kind === 'ellipsis').length;
  const explicit = items.length - nEll;
  if (explicit > shape.length) {
    throw new UnsealError('ERR_SHAPE', `index '${str}' has ${explicit} entries but the tensor has only ${shape.length} dimensions ([${shape.join(', ')}])`);
  }
  const full = [];
  for (const it of items) {
    if (it.kind === 'ellipsis') for (let k = 0; k < shape.length - explicit; k++) full.push({ kind: 'slice', start: null, stop: null, step: 1 });
    else full.push(it);
  }
  while (full.length < shape.length) full.push({ kind: 'slice', start: null, stop: null, step: 1 });
  const dims = full.map((it, d) => {
    const n = shape[d];
    const at = (i) => {
      const j = i < 0 ? i + n : i;
      if (!Number.isInteger(j) || j < 0 || j >= n) throw new UnsealError('ERR_RANGE', `index '${str}': ${i} is out of range for dimension ${d} of size ${n}`);
      return j;
    };
    if (it.kind === 'int') return { keep: false, pos: [at(it.index)] };
    if (it.kind === 'list') return { keep: true, pos: it.values.map(at) };
    return { keep: true, pos: slicePositions(it, n) };
  });
  return { dims, shape: dims.filter((d) => d.keep).map((d) => d.pos.length) };
}

/** Flat offsets of the selected elements of a tensor of `shape`, row-major in the selection. */
function offsets(dims, shape) {
  const strides = shape.map((_, d) => shape.slice(d + 1).reduce((a, b) => a * b, 1));
  let offs = [0];
  dims.forEach((dim, d) => {
    const next = new Array(offs.length * dim.pos.length);
    let k = 0;
    for (const o of offs) for (const p of dim.pos) next[k++] = o + p * strides[d];
    offs = next;
  });
  return offs;
}

/** tensor[str] as a new JS-owned Tensor. */
export function gather(tensor, str) {
  const { dims, shape } = resolveIndex(str, tensor.shape);
  const src = tensor.data;
  const offs = offsets(dims, tensor.shape);
  const out = new src.constructor(offs.length);
  for (let i = 0; i < offs.length; i++) out[i] = src[offs[i]];
  return new Tensor(out, shape);
}

/**
 * tensor[str] = value, in place, with NumPy broadcasting: value is a number,
 * or a Tensor/Float32Array whose shape matches the selection's trailing dims
 * (each equal or 1).
 */
export function scatter(tensor, str, value) {
  const { dims, shape } = resolveIndex(str, tensor.shape);
  const dst = tensor.data;
  const offs = offsets(dims, tensor.shape);
  if (typeof value === 'number') {
    for (const o of offs) dst[o] = value;
    return;
  }
  let vshape;
  let vdata;
  if (value instanceof Tensor) {
    vshape = value.shape;
    vdata = value.data;
  } else if (value instanceof Float32Array) {
    vshape = [value.length];
    vdata = value;
  } else {
    throw new UnsealError('ERR_INVALID_ARG', `replacement must be a number, a Tensor or a Float32Array, got ${value?.constructor?.name ?? typeof value}`);
  }
  if (vshape.length > shape.length) {
    throw new UnsealError('ERR_SHAPE', `index '${str}' selects shape [${shape.join(', ')}], which a replacement of shape [${vshape.join(', ')}] cannot fill`);
  }
  // Align vshape to the right of shape; a 1 broadcasts.
  const lead = shape.length - vshape.length;
  const vstr = vshape.map((_, d) => vshape.slice(d + 1).reduce((a, b) => a * b, 1));
  for (let d = 0; d < vshape.length; d++) {
    if (vshape[d] !== 1 && vshape[d] !== shape[lead + d]) {
      throw new UnsealError('ERR_SHAPE', `index '${str}' selects shape [${shape.join(', ')}], which a replacement of shape [${vshape.join(', ')}] cannot fill (it broadcasts from the right, each dimension equal or 1)`);
    }
  }
  const idx = new Array(shape.length).fill(0);
  for (let i = 0; i < offs.length; i++) {
    let v = 0;
    for (let d = 0; d < vshape.length; d++) if (vshape[d] !== 1) v += idx[lead + d] * vstr[d];
    dst[offs[i]] = vdata[v];
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}
