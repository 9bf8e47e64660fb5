#!/usr/bin/env node
// gpt2_vocab_from_tiktoken.mjs — writes GPT-2's tokenizer in HuggingFace form
// (vocab.json, merges.txt and tokenizer.json) from js-tiktoken's GPT-2 ranks,
// so that tests can compare our C tokenizer with js-tiktoken without shipping
// the 1.5 MB vocabulary in the repository.
//
//   node scripts/gpt2_vocab_from_tiktoken.mjs OUT_DIR
//
// Tokens are written in GPT-2's byte-to-unicode alphabet; ids are tiktoken's
// ranks (equal to GPT-2's ids), plus <|endoftext|> = 50256. Merges are derived
// from the ranks the way HuggingFace's TikTokenConverter
// (transformers/convert_slow_tokenizer.py) does: for every token of two or more
// bytes, each split into a left and right part that are both tokens gives a
// merge, ordered by the rank of the merged token, then of the left part, then
// of the right part. A BPE that always applies the lowest-ranked merge then
// joins exactly the pairs tiktoken joins, in tiktoken's order.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import gpt2 from 'js-tiktoken/ranks/gpt2';

/** GPT-2's bytes_to_unicode(): byte -> one character, printable bytes as themselves. */
export function bytesToUnicode() {
  const keep = [];
  for (let b = 0x21; b <= 0x7e; b++) keep.push(b);
  for (let b = 0xa1; b <= 0xac; b++) keep.push(b);
  for (let b = 0xae; b <= 0xff; b++) keep.push(b);
  const table = new Array(256);
  for (const b of keep) table[b] = String.fromCodePoint(b);
  let n = 0;
  for (let b = 0; b < 256; b++) if (table[b] === undefined) table[b] = String.fromCodePoint(256 + n++);
  return table;
}

/** The ranks as a Map from token bytes (a latin1 string, one char per byte) to rank. */
function tiktokenRanks() {
  const ranks = new Map();
  for (const line of gpt2.bpe_ranks.split('\n').filter(Boolean)) {
    const [, offsetStr, ...tokens] = line.split(' ');
    const offset = Number.parseInt(offsetStr, 10);
    tokens.forEach((t, i) => ranks.set(Buffer.from(t, 'base64').toString('latin1'), offset + i));
  }
  return ranks;
}

/** { vocab: {token: id}, merges: [[left, right], ...], special: {content: id} } */
export function gpt2VocabFromTiktoken() {
  const byteChar = bytesToUnicode();
  const toAlphabet = (latin1) => Array.from(latin1, (c) => byteChar[c.charCodeAt(0)]).join('');
  const ranks = tiktokenRanks();
  const vocab = {};
  const merges = [];
  for (const [bytes, rank] of ranks) {
    vocab[toAlphabet(bytes)] = rank;
    if (bytes.length < 2) continue;
    const local = [];
    for (let k = 1; k < bytes.length; k++) {
      const l = bytes.slice(0, k), r = bytes.slice(k);
      if (ranks.has(l) && ranks.has(r)) local.push([ranks.get(l), ranks.get(r), l, r, rank]);
    }
    local.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    merges.push(...local);
  }
  merges.sort((a, b) => a[4] - b[4]); // stable: keeps each token's local order
  for (const [content, id] of Object.entries(gpt2.special_tokens)) vocab[content] = id;
  return {
    vocab,
    merges: merges.map((m) => [toAlphabet(m[2]), toAlphabet(m[3])]),
    special: { ...gpt2.special_tokens },
  };
}

/** HuggingFace tokenizer.json for the same model (merges as [left, right] pairs). */
export function tokenizerJson({ vocab, merges, special }) {
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: Object.entries(special).map(([content, id]) => ({
      id, content, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true,
    })),
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '',
      fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges,
    },
  };
}

/** Writes vocab.json, merges.txt and tokenizer.json into dir; returns their paths. */
export function writeGpt2Files(dir) {
  const model = gpt2VocabFromTiktoken();
  mkdirSync(dir, { recursive: true });
  const paths = {
    vocab: join(dir, 'vocab.json'),
    merges: join(dir, 'merges.txt'),
    tokenizer: join(dir, 'tokenizer.json'),
  };
  writeFileSync(paths.vocab, JSON.stringify(model.vocab));
  writeFileSync(paths.merges, ['#version: 0.2', ...model.merges.map(([l, r]) => `${l} ${r}`)].join('\n') + '\n');
  writeFileSync(paths.tokenizer, JSON.stringify(tokenizerJson(model)));
  return { ...paths, nVocab: Object.keys(model.vocab).length, nMerges: model.merges.length };
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const dir = process.argv[2];
  if (!dir) {
    console.error('usage: node scripts/gpt2_vocab_from_tiktoken.mjs OUT_DIR');
    process.exit(2);
  }
  const r = writeGpt2Files(dir);
  console.log(`${r.vocab}: ${r.nVocab} tokens\n${r.merges}: ${r.nMerges} merges\n${r.tokenizer}`);
}
