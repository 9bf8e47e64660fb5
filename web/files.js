// files.js — a model folder, wherever it is: a directory (Node), a base URL
// (anything fetch reaches, such as a model repository's resolve URL), or the
// files a user picked or dropped (a Map or object of name → bytes/Blob/File,
// or an array/FileList of File). Reads report progress and can be cancelled.

import { UnsealError } from './errors.js';
import { blobSource, bytesSource, nodeFileSource, responseSource } from './io.js';

const isNode = typeof process !== 'undefined' && !!process.versions?.node;

/**
 * File names inside a model folder must be plain names or relative paths
 * that stay inside it: a sharded index may not point at '../secret' or
 * another origin.
 */
export function checkRelativeName(name, where) {
  if (typeof name !== 'string' || name === '' || name.startsWith('/') || name.startsWith('\\') || /^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(name) ||
      name.split(/[\\/]/).some((part) => part === '..' || part === '' || part === '.') || name.includes('\0')) {
    throw new UnsealError('ERR_FORMAT', `${where}: the file name ${JSON.stringify(name)} must be a plain file name inside the model folder`);
  }
  return name;
}

async function readNodeFile(path, signal) {
  const fsName = 'node:fs/promises';
  const fs = await import(/* @vite-ignore */ fsName);
  try {
    return new Uint8Array(await fs.readFile(path, { signal }));
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    if (e.code === 'ENOENT') return null;
    throw new UnsealError('ERR_IO', `${path}: ${e.message}`, { cause: e });
  }
}

/** Bytes of a large file between two progress events. */
const PROGRESS_STEP = 1 << 20;

/** A promise that rejects with the signal's reason once it aborts (never
 * settles without a signal), and a function to stop listening. */
function abortPromise(signal) {
  if (!signal) return { aborted: new Promise(() => {}), stop: () => {} };
  let onAbort;
  const aborted = new Promise((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => {});
  return { aborted, stop: () => signal.removeEventListener('abort', onAbort) };
}

/** Reads a fetch Response body, reporting progress per chunk. An abort
 * rejects at once: Node's fetch may leave a pending read() unsettled when
 * its signal aborts mid-body, so each read races the signal. */
async function readResponse(res, onChunk, signal) {
  if (!res.body?.getReader) {
    const b = new Uint8Array(await res.arrayBuffer());
    onChunk(b.length);
    return b;
  }
  const reader = res.body.getReader();
  const chunks = [];
  let n = 0;
  const { aborted, stop } = abortPromise(signal);
  try {
    for (;;) {
      signal?.throwIfAborted();
      const { done, value } = await Promise.race([reader.read(), aborted]);
      if (done) break;
      chunks.push(value);
      n += value.length;
      onChunk(value.length);
    }
  } catch (e) {
    reader.cancel(e).catch(() => {});
    throw e;
  } finally {
    stop();
  }
  const out = new Uint8Array(n);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/**
 * A model folder: `read(name)` resolves to the file's bytes or null when the
 * file does not exist; `describe(name)` names it for messages.
 */
export class ModelFolder {
  constructor(src, { signal, onProgress } = {}) {
    this.signal = signal;
    this.onProgress = onProgress;
    this.loaded = 0;
    this.total = 0;
    if (typeof Blob !== 'undefined' && (Array.isArray(src) || (typeof FileList !== 'undefined' && src instanceof FileList))) {
      src = new Map([...src].map((f) => [f.name, f]));
    }
    if (src instanceof Map || (src && typeof src === 'object' && !(src instanceof URL) && !ArrayBuffer.isView(src))) {
      this.kind = 'files';
      this.files = src instanceof Map ? src : new Map(Object.entries(src));
      this.label = 'the given files';
    } else if (isNode && ((src instanceof URL && src.protocol === 'file:') || (typeof src === 'string' && src.startsWith('file:')))) {
      this.kind = 'dir';
      this.dir = decodeURIComponent(new URL(src).pathname);
      this.label = this.dir;
    } else if (src instanceof URL || (typeof src === 'string' && /^(https?|blob|data):/i.test(src)) || (typeof src === 'string' && !isNode)) {
      this.kind = 'url';
      let base = src instanceof URL ? src.href : new URL(src, globalThis.location?.href).href;
      if (!base.endsWith('/')) base += '/';
      this.base = base;
      this.label = base;
    } else if (typeof src === 'string') {
      this.kind = 'dir';
      this.dir = src;
      this.label = this.dir;
    } else {
      throw new UnsealError('ERR_INVALID_ARG', `fromPretrained: expected a directory path, a base URL, or a map of file name to bytes/Blob/File; got ${src?.constructor?.name ?? typeof src}`);
    }
  }

  describe(name) {
    if (this.kind === 'dir') return `${this.dir.replace(/\/$/, '')}/${name}`;
    // Each segment percent-encoded, so that a name stays a path under the
    // base: '%2e%2e' is not '..', and '?' or '#' do not end the path.
    if (this.kind === 'url') return new URL(name.split('/').map(encodeURIComponent).join('/'), this.base).href;
    return name;
  }

  #progress(n, file) {
    this.loaded += n;
    this.onProgress?.({ loaded: this.loaded, total: Math.max(this.total, this.loaded), file });
  }

  /** Adds the sizes of files about to be read to the progress total (when known). */
  async announce(names) {
    for (const name of names) {
      let size = 0;
      if (this.kind === 'files') {
        const f = this.files.get(name);
        size = f?.size ?? f?.byteLength ?? 0;
      } else if (this.kind === 'dir') {
        const fsName = 'node:fs/promises';
        const fs = await import(/* @vite-ignore */ fsName);
        size = await fs.stat(this.describe(name)).then((st) => st.size, () => 0);
      }
      this.total += size;
    }
  }

  /** The response for url, null on 404; other failures are ERR_IO naming it. */
  async #fetch(url) {
    let res;
    try {
      res = await fetch(url, { signal: this.signal });
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      throw new UnsealError('ERR_IO', `${url}: fetch failed (${e.message})`, { cause: e });
    }
    if (res.status === 404) return null;
    if (!res.ok) throw new UnsealError('ERR_IO', `${url}: HTTP ${res.status} ${res.statusText}`);
    return res;
  }

  async read(name) {
    this.signal?.throwIfAborted();
    let bytes;
    if (this.kind === 'files') {
      const f = this.files.get(name);
      if (f === undefined) return null;
      if (typeof Blob !== 'undefined' && f instanceof Blob) bytes = new Uint8Array(await f.arrayBuffer());
      else if (f instanceof ArrayBuffer) bytes = new Uint8Array(f);
      else if (ArrayBuffer.isView(f)) bytes = new Uint8Array(f.buffer, f.byteOffset, f.byteLength);
      else if (typeof f === 'string') bytes = new TextEncoder().encode(f);
      else throw new UnsealError('ERR_INVALID_ARG', `fromPretrained: the file '${name}' must be bytes, a Blob/File or a string, got ${f?.constructor?.name ?? typeof f}`);
      this.#progress(bytes.length, name);
    } else if (this.kind === 'dir') {
      bytes = await readNodeFile(this.describe(name), this.signal);
      if (bytes) this.#progress(bytes.length, name);
    } else {
      const url = this.describe(name);
      const res = await this.#fetch(url);
      if (res === null) return null;
      const len = Number(res.headers.get('content-length'));
      if (len > 0) this.total += len;
      bytes = await readResponse(res, (n) => this.#progress(n, name), this.signal);
    }
    this.signal?.throwIfAborted();
    return bytes;
  }

  /**
   * The file as a byte source read front to back (see io.js), or null when
   * it does not exist: for large files, which are then never held whole.
   * Reads report progress and stop at the signal.
   */
  async open(name) {
    this.signal?.throwIfAborted();
    let src;
    if (this.kind === 'files') {
      const f = this.files.get(name);
      if (f === undefined) return null;
      if (typeof Blob !== 'undefined' && f instanceof Blob) src = blobSource(f, name);
      else if (f instanceof ArrayBuffer) src = bytesSource(new Uint8Array(f), name);
      else if (ArrayBuffer.isView(f)) src = bytesSource(new Uint8Array(f.buffer, f.byteOffset, f.byteLength), name);
      else if (typeof f === 'string') src = bytesSource(new TextEncoder().encode(f), name);
      else throw new UnsealError('ERR_INVALID_ARG', `fromPretrained: the file '${name}' must be bytes, a Blob/File or a string, got ${f?.constructor?.name ?? typeof f}`);
    } else if (this.kind === 'dir') {
      src = await nodeFileSource(this.describe(name));
      if (!src) return null;
    } else {
      const url = this.describe(name);
      const res = await this.#fetch(url);
      if (res === null) return null;
      src = await this.#unlessAborted(responseSource(res, url), () => res.body?.cancel().catch(() => {}));
      this.total += src.size;
    }
    // Progress: an event each time another PROGRESS_STEP bytes of the file
    // are in, and one at its end: the same events however the bytes arrive.
    const folder = this;
    let done = 0;
    let reported = 0;
    return {
      name: this.describe(name),
      size: src.size,
      async next() {
        folder.signal?.throwIfAborted();
        const c = await folder.#unlessAborted(src.next(), () => src.close());
        if (c) {
          done += c.length;
          if (Math.floor(done / PROGRESS_STEP) > Math.floor(reported / PROGRESS_STEP) || done >= src.size) {
            folder.#progress(done - reported, name);
            reported = done;
          }
        }
        folder.signal?.throwIfAborted();
        return c;
      },
      close: () => src.close(),
    };
  }

  /** `promise`, or a rejection as soon as the signal aborts (then `cancel()`). */
  async #unlessAborted(promise, cancel) {
    const { aborted, stop } = abortPromise(this.signal);
    try {
      return await Promise.race([promise, aborted]);
    } catch (e) {
      if (this.signal?.aborted) {
        promise.catch(() => {});
        cancel();
      }
      throw e;
    } finally {
      stop();
    }
  }

  async readText(name) {
    const b = await this.read(name);
    return b === null ? null : new TextDecoder().decode(b);
  }

  async readJSON(name) {
    const text = await this.readText(name);
    if (text === null) return null;
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new UnsealError('ERR_FORMAT', `${this.describe(name)}: not valid JSON (${e.message})`);
    }
  }
}
