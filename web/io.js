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
 * Parses a safetensors header with the C reader (which validates it against
 * the file's length): `head` holds the file's first bytes, at least the
 * header when the file is that long. Returns { st, bufPtr, dataStart,
 * entries, metadata }; the caller frees st and bufPtr.
 */
function parseHeader(head, fileLength, fileName) {
  const n = head.length >= 8 ? Number(new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true)) : 0;
  // Give C the header (or all there is when the file is shorter than its
  // header claims: then C reports the truncation).
  const avail = Math.min(head.length, 8 + (Number.isSafeInteger(n) ? n : head.length));
  const bufPtr = malloc(avail || 1, fileName);
  heap().u8.set(head.subarray(0, avail), bufPtr);
  const err = new ErrorSlot();
  let st = 0;
  try {
    st = C.usw_st_parse_header(bufPtr, avail, fileLength, err.ptr);
    if (!st) err.check(heap().i32[err.ptr >>> 2] || 5, `${fileName}: `);
  } catch (e) {
    C.usw_free(bufPtr);
    throw e;
  } finally {
    err.free();
  }
  const entries = [];
  const count = C.usw_st_count(st);
  for (let i = 0; i < count; i++) {
    const p = C.usw_st_entry(st, i);
    const m = heap().i32;
    const ndim = m[(p + 8) >>> 2];
    const shape = [];
    for (let d = 0; d < ndim; d++) shape.push(m[((p + 12) >>> 2) + d]);
    // begin/end are u64 (< 2^53 after validation against the file length)
    const u64 = (off) => (m[(p + off) >>> 2] >>> 0) + (m[(p + off + 4) >>> 2] >>> 0) * 4294967296;
    entries.push({ index: i, name: readCString(m[p >>> 2]), dtype: DTYPES[m[(p + 4) >>> 2]], shape, begin: u64(48), end: u64(56) });
  }
  const meta = readCString(C.usw_st_metadata(st));
  return { st, bufPtr, dataStart: C.usw_st_data_offset(st), entries, metadata: meta ? JSON.parse(meta) : {} };
}

/** Bytes per element of a safetensors dtype. */
export const DTYPE_BYTES = { F32: 4, F16: 2, BF16: 2, I32: 4, I64: 8 };

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
    Object.assign(this, parseHeader(bytes, bytes.length, fileName));
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
      return heap().f32.slice(dst >>> 2, (dst >>> 2) + n);
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

// ------------------------------------------------------------ streaming

/**
 * Bytes per read of a file, and of the wasm buffer a safetensors file streams
 * through: small, as every byte of it adds to the peak memory (1 MiB against
 * 4: 9 MiB less at the peak of loading GPT-2 small, no slower). A Blob is
 * sliced coarser, as each slice costs a browser a round trip.
 */
export const CHUNK_BYTES = 1 << 20;
const BLOB_SLICE_BYTES = 4 << 20;

/**
 * Byte sources: a file read front to back, never held whole. A source is
 * { name, size, next, close }: size is the file's length in bytes; next()
 * resolves to the next bytes (a view valid until the following call) or
 * null at the end; close() releases what the source holds.
 */
export function bytesSource(bytes, name) {
  let pos = 0;
  return {
    name,
    size: bytes.length,
    async next() {
      if (pos >= bytes.length) return null;
      const c = bytes.subarray(pos, pos + CHUNK_BYTES);
      pos += c.length;
      return c;
    },
    close() {},
  };
}

/** A Blob or File, read a slice at a time (a browser never copies the whole file). */
export function blobSource(blob, name) {
  let pos = 0;
  return {
    name,
    size: blob.size,
    async next() {
      if (pos >= blob.size) return null;
      const c = new Uint8Array(await blob.slice(pos, pos + BLOB_SLICE_BYTES).arrayBuffer());
      pos += c.length;
      return c;
    },
    close() {},
  };
}

/**
 * A file on disk (Node); null when it does not exist. Two buffers take turns:
 * while the caller works on one, the next piece is read into the other.
 */
export async function nodeFileSource(path, name = path) {
  const fsName = 'node:fs/promises';
  const fs = await import(/* @vite-ignore */ fsName);
  let fh;
  try {
    fh = await fs.open(path, 'r');
  } catch (e) {
    if (e.code === 'ENOENT') return null;
    throw new UnsealError('ERR_IO', `${path}: ${e.message}`, { cause: e });
  }
  let size;
  try {
    const st = await fh.stat();
    if (st.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    size = st.size;
  } catch (e) {
    await fh.close();
    throw new UnsealError('ERR_IO', `${path}: ${e.message}`, { cause: e });
  }
  const bufs = [0, 1].map(() => new Uint8Array(Math.max(1, Math.min(CHUNK_BYTES, size))));
  let pos = 0; // where the next read starts
  let turn = 0;
  const read = () => {
    if (pos >= size) return null;
    const buf = bufs[turn];
    turn ^= 1;
    const at = pos;
    pos += Math.min(buf.length, size - pos);
    return fh.read(buf, 0, Math.min(buf.length, size - at), at).then(
      ({ bytesRead }) => buf.subarray(0, bytesRead),
      (e) => { throw new UnsealError('ERR_IO', `${path}: ${e.message}`, { cause: e }); });
  };
  let ahead = null; // the read in flight
  return {
    name,
    size,
    async next() {
      const cur = ahead ?? read();
      if (cur === null) return null;
      const c = await cur;
      ahead = c.length ? read() : null;
      ahead?.catch(() => {}); // reported when awaited
      return c.length ? c : null; // 0: the file shrank, and the reader reports the truncation
    },
    close() {
      const pending = ahead;
      ahead = null;
      Promise.resolve(pending).catch(() => {}).finally(() => fh.close().catch(() => {}));
    },
  };
}

/**
 * A fetch Response's body as it arrives. Without a usable Content-Length
 * (absent, or counting compressed bytes) the length is not known up front,
 * so the body is read whole first.
 */
export async function responseSource(res, name) {
  const len = Number(res.headers.get('content-length'));
  if (!(len >= 0) || res.headers.get('content-length') === null || res.headers.get('content-encoding') || !res.body?.getReader) {
    return bytesSource(new Uint8Array(await res.arrayBuffer()), name);
  }
  const reader = res.body.getReader();
  return {
    name,
    size: len,
    async next() {
      const { done, value } = await reader.read();
      return done ? null : value;
    },
    close() {
      reader.cancel().catch(() => {});
    },
  };
}

/** A source for bytes, a Blob/File, a URL, or (Node) a file path (what loadStateDict takes). */
export async function openSource(src, { signal } = {}) {
  const name = describeSource(src);
  if (src instanceof Uint8Array) return bytesSource(src, name);
  if (src instanceof ArrayBuffer) return bytesSource(new Uint8Array(src), name);
  if (ArrayBuffer.isView(src)) return bytesSource(new Uint8Array(src.buffer, src.byteOffset, src.byteLength), name);
  if (typeof Blob !== 'undefined' && src instanceof Blob) return blobSource(src, name);
  let url = null;
  if (src instanceof URL) url = src;
  else if (typeof src === 'string' && /^(https?|blob|data|file):/i.test(src)) url = new URL(src);
  if (typeof src === 'string' && !url) {
    if (!isNode) {
      url = new URL(src, globalThis.location?.href);
    } else {
      const s = await nodeFileSource(src);
      if (!s) throw new UnsealError('ERR_NOT_FOUND', `${src}: no such file`);
      return s;
    }
  }
  if (url) {
    if (isNode && url.protocol === 'file:') return openSource(decodeURIComponent(url.pathname), { signal });
    let res;
    try {
      res = await fetch(url, { signal });
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      throw new UnsealError('ERR_IO', `${url.href}: fetch failed (${e.message})`, { cause: e });
    }
    if (!res.ok) throw new UnsealError(res.status === 404 ? 'ERR_NOT_FOUND' : 'ERR_IO', `${url.href}: HTTP ${res.status} ${res.statusText}`);
    return responseSource(res, url.href);
  }
  throw new UnsealError('ERR_INVALID_ARG', `expected bytes (ArrayBuffer, Uint8Array, Blob), a URL or a file path; got ${src?.constructor?.name ?? typeof src}`);
}

/**
 * A safetensors file read front to back from a byte source, never held
 * whole: open() reads the header and has the C reader validate it (against
 * the source's size); readTensors() then streams the data through a small
 * buffer in wasm memory, handing each wanted tensor over in pieces of whole
 * elements, in file order. Call free() when done.
 */
export class SafetensorsStream {
  #source;
  #pending;

  /** Reads and validates the header of `source` (a byte source, see above). */
  static async open(source) {
    const parts = [];
    let have = 0;
    let need = 8;
    let sized = false;
    while (have < need) {
      const c = await source.next();
      if (!c) break;
      parts.push(c.slice()); // the source may reuse its buffer
      have += c.length;
      if (!sized && have >= 8) {
        sized = true;
        const first = concat(parts, 8);
        const n = Number(new DataView(first.buffer, first.byteOffset, 8).getBigUint64(0, true));
        // An absurd or too-large length: C reports it from the first 8 bytes.
        if (n <= 1e8 && 8 + n <= source.size) need = 8 + n;
      }
    }
    if (have < need && have < source.size) {
      throw new UnsealError('ERR_FORMAT', `${source.name}: the file ended after ${have} of its ${source.size} bytes`);
    }
    const head = concat(parts, have);
    const st = new SafetensorsStream();
    st.fileName = source.name;
    st.size = source.size;
    st.#source = source;
    Object.assign(st, parseHeader(head, source.size, source.name));
    st.#pending = head.subarray(Math.min(st.dataStart, head.length));
    return st;
  }

  /**
   * Streams the data section: for each entry index in `want`, calls
   * want.get(index)(first, count, ptr, entry) with `count` whole elements of
   * that tensor, starting at element `first`, at wasm address ptr (bytes of
   * the file, little-endian, any alignment; valid during the call only),
   * until the tensor is complete. Tensors not in `want` are skipped.
   * bufferBytes: the wasm buffer's size (tests make it tiny).
   */
  async readTensors(want, { signal, bufferBytes = CHUNK_BYTES } = {}) {
    const order = this.entries.filter((e) => e.end > e.begin).sort((a, b) => a.begin - b.begin);
    const dataLen = this.size - this.dataStart;
    const cap = Math.max(8, Math.min(bufferBytes, dataLen));
    const buf = malloc(cap, `reading ${this.fileName}`);
    let pos = 0; // data offset of buf[0]
    let fill = 0; // bytes in buf
    let k = 0; // the first entry not yet handed over completely
    const flush = (final) => {
      const end = pos + fill;
      let cut = end;
      // The tensor that goes on past `end`: cut at its last whole element.
      for (let j = k; !final && j < order.length && order[j].begin < end; j++) {
        const e = order[j];
        if (e.end > end) cut = e.begin + Math.floor((end - e.begin) / DTYPE_BYTES[e.dtype]) * DTYPE_BYTES[e.dtype];
      }
      while (k < order.length && order[k].begin < cut) {
        const e = order[k];
        const lo = Math.max(e.begin, pos);
        const hi = Math.min(e.end, cut);
        const fn = want.get(e.index);
        const es = DTYPE_BYTES[e.dtype];
        if (fn && hi > lo) fn((lo - e.begin) / es, (hi - lo) / es, buf + (lo - pos), e);
        if (e.end > cut) break;
        k++;
      }
      heap().u8.copyWithin(buf, buf + (cut - pos), buf + fill);
      fill = end - cut;
      pos = cut;
    };
    const feed = (bytes) => {
      bytes = bytes.subarray(0, Math.max(0, dataLen - pos - fill)); // nothing past the data section
      for (let off = 0; off < bytes.length;) {
        const n = Math.min(cap - fill, bytes.length - off);
        heap().u8.set(bytes.subarray(off, off + n), buf + fill);
        fill += n;
        off += n;
        if (fill === cap) flush(false);
      }
    };
    try {
      feed(this.#pending);
      this.#pending = new Uint8Array(0);
      while (pos + fill < dataLen) {
        signal?.throwIfAborted();
        const c = await this.#source.next();
        if (!c) break;
        feed(c);
      }
      signal?.throwIfAborted();
      if (pos + fill < dataLen) {
        throw new UnsealError('ERR_FORMAT', `${this.fileName}: the file ended after ${this.dataStart + pos + fill} of its ${this.size} bytes`);
      }
      flush(true);
    } finally {
      C.usw_free(buf);
    }
  }

  free() {
    this.#source?.close();
    this.#source = null;
    if (!this.st) return;
    C.usw_st_free(this.st);
    C.usw_free(this.bufPtr);
    this.st = 0;
  }
}

/** The first n bytes of a list of chunks, as one array. */
function concat(parts, n) {
  if (parts.length === 1) return parts[0].subarray(0, n);
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    if (off >= n) break;
    const take = Math.min(p.length, n - off);
    out.set(p.subarray(0, take), off);
    off += take;
  }
  return out;
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
