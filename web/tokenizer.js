// tokenizer.js — GPT-2's byte-level BPE, read from a model's tokenizer files
// (tokenizer.json, or vocab.json + merges.txt) and run by the C tokenizer
// (src/tokenizer/). encode(text) gives the ids js-tiktoken's GPT-2 encoding
// gives; special tokens in the text are not parsed as special.

import { UnsealError } from './errors.js';
import { C, ErrorSlot, heap, malloc } from './wasm.js';

const encoder = new TextEncoder();
// ignoreBOM: a leading U+FEFF is text here, not a byte-order mark to strip.
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
const registry = new FinalizationRegistry((ptr) => C.usw_bpe_free(ptr));

/** Copies bytes into wasm memory; returns [ptr, length]. The caller frees ptr. */
function toWasm(bytes, what) {
  const ptr = malloc(bytes.length || 1, what);
  heap().u8.set(bytes, ptr);
  return ptr;
}

export class Tokenizer {
  #ptr;
  #added; // Map id → string of added tokens (e.g. <|endoftext|>)

  /** @internal Use Tokenizer.fromFiles / fromFolder. */
  constructor(ptr, added = new Map()) {
    this.#ptr = ptr;
    this.#added = added;
    registry.register(this, ptr, this);
  }

  #p() {
    if (!this.#ptr) throw new UnsealError('ERR_DISPOSED', 'this tokenizer has been disposed');
    return this.#ptr;
  }

  /**
   * From tokenizer files: { tokenizerJson } or { vocabJson, mergesTxt }, each
   * a string or bytes. `where` names the files in messages.
   */
  static fromFiles({ tokenizerJson, vocabJson, mergesTxt }, where = 'tokenizer') {
    const bytes = (x) => (typeof x === 'string' ? encoder.encode(x) : x);
    const err = new ErrorSlot();
    const ptrs = [];
    try {
      let ptr;
      let added = new Map();
      if (tokenizerJson !== undefined && tokenizerJson !== null) {
        const b = bytes(tokenizerJson);
        ptrs.push(toWasm(b, 'tokenizer.json'));
        ptr = C.usw_bpe_from_tokenizer_json(ptrs[0], b.length, err.ptr);
        if (!ptr) err.check(heap().i32[err.ptr >>> 2] || 5, `${where}: `);
        try {
          const parsed = JSON.parse(typeof tokenizerJson === 'string' ? tokenizerJson : decoder.decode(tokenizerJson));
          for (const t of parsed.added_tokens ?? []) if (Number.isInteger(t.id) && typeof t.content === 'string') added.set(t.id, t.content);
        } catch {
          /* the C reader already validated it */
        }
      } else {
        const v = bytes(vocabJson);
        const m = bytes(mergesTxt);
        ptrs.push(toWasm(v, 'vocab.json'), toWasm(m, 'merges.txt'));
        ptr = C.usw_bpe_from_vocab_merges(ptrs[0], v.length, ptrs[1], m.length, err.ptr);
        if (!ptr) err.check(heap().i32[err.ptr >>> 2] || 5, `${where}: `);
      }
      return new Tokenizer(ptr, added);
    } finally {
      ptrs.forEach((p) => C.usw_free(p));
      err.free();
    }
  }

  /** The tokenizer in a ModelFolder, or null when it has no tokenizer files. */
  static async fromFolder(folder) {
    const json = await folder.read('tokenizer.json');
    if (json !== null) return Tokenizer.fromFiles({ tokenizerJson: json }, folder.describe('tokenizer.json'));
    const vocab = await folder.read('vocab.json');
    const merges = await folder.read('merges.txt');
    if (vocab === null && merges === null) return null;
    if (vocab === null || merges === null) {
      throw new UnsealError('ERR_NOT_FOUND', `${folder.describe(vocab === null ? 'vocab.json' : 'merges.txt')}: not found; a GPT-2 tokenizer needs tokenizer.json, or both vocab.json and merges.txt`);
    }
    return Tokenizer.fromFiles({ vocabJson: vocab, mergesTxt: merges }, `${folder.describe('vocab.json')} + merges.txt`);
  }

  /** Largest id + 1. */
  get vocabSize() {
    return C.usw_bpe_vocab_size(this.#p());
  }

  /** Token ids of `text` (a string), as an array of numbers. */
  encode(text) {
    if (typeof text !== 'string') throw new UnsealError('ERR_INVALID_ARG', `tokenizer.encode: expected a string, got ${typeof text}`);
    const bytes = encoder.encode(text);
    const inPtr = toWasm(bytes, 'the text');
    const outs = malloc(8, 'results'); // int32_t *ids; size_t n
    const err = new ErrorSlot();
    try {
      err.check(C.usw_bpe_encode(this.#p(), inPtr, bytes.length, outs, outs + 4, err.ptr), 'tokenizer.encode: ');
      const m = heap().i32;
      const idsPtr = m[outs >>> 2];
      const n = m[(outs >>> 2) + 1];
      const ids = Array.from(m.subarray(idsPtr >>> 2, (idsPtr >>> 2) + n));
      C.usw_free(idsPtr);
      return ids;
    } finally {
      C.usw_free(inPtr);
      C.usw_free(outs);
      err.free();
    }
  }

  /** The text of `ids` (bytes of partial characters become U+FFFD, as TextDecoder does). */
  decode(ids) {
    return decoder.decode(this.decodeBytes(ids));
  }

  /** The raw bytes of `ids`. */
  decodeBytes(ids) {
    const arr = Int32Array.from(ids, (x, i) => {
      if (!Number.isInteger(x)) throw new UnsealError('ERR_INVALID_ARG', `tokenizer.decode: ids[${i}] is ${x}, not an integer`);
      return x;
    });
    const inPtr = toWasm(new Uint8Array(arr.buffer), 'the ids');
    const outs = malloc(8, 'results'); // uint8_t *out; size_t len
    const err = new ErrorSlot();
    try {
      err.check(C.usw_bpe_decode(this.#p(), inPtr, arr.length, outs, outs + 4, err.ptr), 'tokenizer.decode: ');
      const m = heap();
      const p = m.i32[outs >>> 2] >>> 0;
      const n = m.i32[(outs >>> 2) + 1];
      const out = m.u8.slice(p, p + n);
      C.usw_free(p);
      return out;
    } finally {
      C.usw_free(inPtr);
      C.usw_free(outs);
      err.free();
    }
  }

  /** The string of one token (its bytes decoded; added tokens by their content). */
  idToToken(id) {
    if (this.#added.has(id)) return this.#added.get(id);
    return this.decode([id]);
  }

  dispose() {
    if (!this.#ptr) return;
    registry.unregister(this);
    C.usw_bpe_free(this.#ptr);
    this.#ptr = 0;
  }
}
