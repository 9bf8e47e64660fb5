// io.js — reading bytes from wherever a user keeps them, and the safetensors
// format on the JS side: parsing goes through the C reader (which validates
// everything), writing is done here.

import { UnsealError } from './errors.js';
import { C, DTYPES, ErrorSlot, heap, malloc, readCString } from './wasm.js';

const isNode = typeof process !== 'undefined' && !!process.versions?.node;

/** A short name for messages: the file name of a path/URL, or 'the given bytes'. */
export function describeSource(src) {
  if (typeof src === 'string') return src;
  if (src instanceof URL) return src.href;
  if (typeof Blob !== 'undefined' && src instanceof Blob) return src.name ?? 'the given Blob';
  return 'the given bytes';
}

/** Bytes from an ArrayBuffer, typed array, Blob/File, a URL, or (Node) a file path. */
export async function readBytes(src, { signal } = {}) {
  if (src instanceof Uint8Array) return src;
  if (src instanceof ArrayBuffer) return new Uint8Array(src);
  if (ArrayBuffer.isView(src)) return new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
  if (typeof Blob !== 'undefined' && src instanceof Blob) return new Uint8Array(await src.arrayBuffer());
  let url = null;
  if (src instanceof URL) url = src;
  else if (typeof src === 'string' && /^(https?|blob|data|file):/i.test(src)) url = new URL(src);
  if (typeof src === 'string' && !url) {
    if (!isNode) {
      url = new URL(src, globalThis.location?.href);
    } else {
      const fsName = 'node:fs/promises';
      const fs = await import(/* @vite-ignore */ fsName);
      try {
        return new Uint8Array(await fs.readFile(src, { signal }));
      } catch (e) {
        throw new UnsealError(e.code === 'ENOENT' ? 'ERR_NOT_FOUND' : 'ERR_IO', `${src}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`, { cause: e });
      }
    }
  }
  if (url) {
    if (isNode && url.protocol === 'file:') return readBytes(decodeURIComponent(url.pathname), { signal });
    let res;
    try {
      res = await fetch(url, { signal });
    } catch (e) {
      throw new UnsealError('ERR_IO', `${url.href}: fetch failed (${e.message})`, { cause: e });
    }
    if (!res.ok) throw new UnsealError(res.status === 404 ? 'ERR_NOT_FOUND' : 'ERR_IO', `${url.href}: HTTP ${res.status} ${res.statusText}`);
    return new Uint8Array(await res.arrayBuffer());
  }
  throw new UnsealError('ERR_INVALID_ARG', `expected bytes (ArrayBuffer, Uint8Array, Blob), a URL or a file path; got ${src?.constructor?.name ?? typeof src}`);
}

/**
 * A safetensors file validated by the C reader from its header; tensors are
 * then copied straight from the file's bytes (JS memory) to their
 * destination in wasm memory, so a file is never held twice in wasm.
 * Call free() when done.
 */
export class SafetensorsFile {
  constructor(bytes, fileName = 'safetensors') {
    this.fileName = fileName;
    this.bytes = bytes;
    const n = bytes.length >= 8 ? Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true)) : 0;
    // Give C the header (or the whole file when it is shorter than its
    // header claims: then C reports the truncation).
    const avail = Math.min(bytes.length, 8 + (Number.isSafeInteger(n) ? n : bytes.length));
    this.bufPtr = malloc(avail || 1, fileName);
    heap().u8.set(bytes.subarray(0, avail), this.bufPtr);
    const err = new ErrorSlot();
    try {
      this.st = C.usw_st_parse_header(this.bufPtr, avail, bytes.length, err.ptr);
      if (!this.st) err.check(heap().i32[err.ptr >> 2] || 5, `${fileName}: `);
    } catch (e) {
      C.usw_free(this.bufPtr);
      throw e;
    } finally {
      err.free();
    }
    this.dataStart = C.usw_st_data_offset(this.st);
    this.entries = [];
    const count = C.usw_st_count(this.st);
    for (let i = 0; i < count; i++) {
      const p = C.usw_st_entry(this.st, i);
      const m = heap().i32;
      const ndim = m[(p + 8) >> 2];
      const shape = [];
      for (let d = 0; d < ndim; d++) shape.push(m[((p + 12) >> 2) + d]);
      // begin/end are u64 (< 2^53 after validation against the file length)
      const u64 = (off) => (m[(p + off) >> 2] >>> 0) + (m[(p + off + 4) >> 2] >>> 0) * 4294967296;
      this.entries.push({ index: i, name: readCString(m[p >> 2]), dtype: DTYPES[m[(p + 4) >> 2]], shape, begin: u64(48), end: u64(56) });
    }
    const meta = readCString(C.usw_st_metadata(this.st));
    this.metadata = meta ? JSON.parse(meta) : {};
  }

  /** The raw bytes of entry i (a view of the file). */
  raw(i) {
    const e = this.entries[i];
    return this.bytes.subarray(this.dataStart + e.begin, this.dataStart + e.end);
  }

  /** Widens entry i (F32/F16/BF16) into numel floats at wasm address dst. */
  readF32Into(i, dst) {
    const e = this.entries[i];
    if (!['F32', 'F16', 'BF16'].includes(e.dtype)) {
      throw new UnsealError('ERR_DTYPE', `${this.fileName}: tensor '${e.name}' has dtype ${e.dtype}, which cannot be read as float32`);
    }
    const src = this.raw(i);
    if (e.dtype === 'F32') {
      heap().u8.set(src, dst);
      return;
    }
    const tmp = malloc(src.length || 1, e.name);
    try {
      heap().u8.set(src, tmp);
      const status = C.usw_convert_to_f32(dst, tmp, DTYPES.indexOf(e.dtype), src.length / 2);
      if (status !== 0) throw new UnsealError('ERR_DTYPE', `${this.fileName}: cannot widen '${e.name}' (${e.dtype})`);
    } finally {
      C.usw_free(tmp);
    }
  }

  /** Entry i as a JS-owned Float32Array (or Int32Array for I32). */
  read(i) {
    const e = this.entries[i];
    const n = e.shape.reduce((a, b) => a * b, 1);
    if (e.dtype === 'I32') return new Int32Array(this.raw(i).slice().buffer);
    const dst = malloc(4 * n || 4, e.name);
    try {
      this.readF32Into(i, dst);
      return heap().f32.slice(dst >> 2, (dst >> 2) + n);
    } finally {
      C.usw_free(dst);
    }
  }

  free() {
    if (!this.st) return;
    C.usw_st_free(this.st);
    C.usw_free(this.bufPtr);
    this.st = 0;
  }
}

/**
 * safetensors bytes for [[name, Tensor]] (float32 → F32, int32 → I32), in
 * the given order, the header padded to 8 bytes as the reference writer does.
 */
export function writeSafetensors(named, metadata = { format: 'pt' }) {
  const header = {};
  if (metadata) header.__metadata__ = Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, String(v)]));
  let offset = 0;
  const seen = new Set();
  for (const [name, t] of named) {
    if (seen.has(name)) throw new UnsealError('ERR_INVALID_ARG', `safetensors: duplicate tensor name '${name}'`);
    seen.add(name);
    const bytes = t.data.byteLength;
    header[name] = { dtype: t.data instanceof Int32Array ? 'I32' : 'F32', shape: [...t.shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.fill(0x20, 8, 8 + padded);
  out.set(json, 8);
  let pos = 8 + padded;
  for (const [, t] of named) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), pos);
    pos += t.data.byteLength;
  }
  return out;
}
