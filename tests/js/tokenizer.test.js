// tokenizer.test.js — the C BPE tokenizer (src/tokenizer) against js-tiktoken.
//
// GPT-2's vocabulary is written in HuggingFace form from js-tiktoken's ranks
// (scripts/gpt2_vocab_from_tiktoken.mjs) into a temporary folder; the C
// tokenizer loads it and encodes every string of tests/js/tokenizer_corpus.js
// through tests/c/tokenize_cli.c (a native test tool, built here with
// AddressSanitizer), and the ids must equal getEncoding('gpt2').encode(s, [], [])
// for every string, with each merge loop and from both file formats; decoding
// the ids must give back the text. Until the tokenizer has JS bindings this
// goes through the tool; the corpus module is meant to be reused then.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { getEncoding } from 'js-tiktoken';
import { writeGpt2Files } from '../../scripts/gpt2_vocab_from_tiktoken.mjs';
import { generate as generateUnicodeTables, tablePath } from '../../scripts/make_unicode_tables.mjs';
import { tokenizerCorpus } from './tokenizer_corpus.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const buildDir = join(root, 'build/native');
const cli = join(buildDir, 'tokenize_cli');

let dir, files, corpus, inputPath, expected;

/** Builds the tool in build/native, configured as scripts/build.mjs native does
 * (configuring again is quick, and needed when the tree predates the tool). */
function buildCli() {
  const quiet = { cwd: root, encoding: 'utf8' };
  const c = spawnSync('cmake', ['-S', '.', '-B', 'build/native', '-DCMAKE_BUILD_TYPE=Debug', '-DUS_SANITIZE=ON'], quiet);
  assert.equal(c.status, 0, `cmake configure failed:\n${c.stdout}${c.stderr}`);
  const r = spawnSync('cmake', ['--build', 'build/native', '--target', 'tokenize_cli', '-j', '2'], quiet);
  assert.equal(r.status, 0, `building tokenize_cli failed:\n${r.stdout}${r.stderr}`);
}

/** Records: u32 little-endian length, then the UTF-8 bytes. */
function writeRecords(path, strings) {
  const parts = [];
  for (const s of strings) {
    const b = Buffer.from(s, 'utf8');
    const h = Buffer.alloc(4);
    h.writeUInt32LE(b.length);
    parts.push(h, b);
  }
  writeFileSync(path, Buffer.concat(parts));
}

/** Runs the tool; returns [{ids, bytes}] per input string. */
function runCli(args, n, decode) {
  const out = join(dir, 'out.bin');
  const r = spawnSync(cli, [...args, ...(decode ? ['--decode'] : []), inputPath, out], { encoding: 'utf8' });
  assert.equal(r.status, 0, `tokenize_cli ${args.join(' ')} failed (${r.status ?? r.signal}):\n${r.stderr}`);
  const buf = readFileSync(out);
  const res = [];
  let at = 0;
  for (let i = 0; i < n; i++) {
    const k = buf.readUInt32LE(at);
    at += 4;
    const ids = Array.from(new Int32Array(buf.buffer.slice(buf.byteOffset + at, buf.byteOffset + at + 4 * k)));
    at += 4 * k;
    let bytes = null;
    if (decode) {
      const m = buf.readUInt32LE(at);
      at += 4;
      bytes = buf.subarray(at, at + m);
      at += m;
    }
    res.push({ ids, bytes });
  }
  assert.equal(at, buf.length, 'tokenize_cli wrote more records than strings');
  return res;
}

/** Compares with js-tiktoken; fails listing the first mismatches. */
function assertMatches(results, label) {
  const bad = [];
  for (let i = 0; i < corpus.length; i++) {
    const a = results[i].ids, b = expected[i];
    if (a.length !== b.length || a.some((x, k) => x !== b[k])) bad.push(i);
  }
  const show = bad.slice(0, 5).map((i) => `  ${JSON.stringify(corpus[i]).slice(0, 200)}\n    C:        [${results[i].ids}]\n    tiktoken: [${expected[i]}]`);
  assert.equal(bad.length, 0, `${label}: ${bad.length} of ${corpus.length} strings differ from js-tiktoken:\n${show.join('\n')}`);
}

before(() => {
  buildCli();
  dir = mkdtempSync(join(tmpdir(), 'unseal-gpt2-'));
  files = writeGpt2Files(dir);
  corpus = tokenizerCorpus();
  inputPath = join(dir, 'corpus.bin');
  writeRecords(inputPath, corpus);
  const enc = getEncoding('gpt2');
  expected = corpus.map((s) => enc.encode(s, [], []));
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('the corpus is large and varied', () => {
  assert.ok(corpus.length >= 5000, `only ${corpus.length} strings`);
  const all = corpus.join('');
  for (const re of [/\p{Script=Han}/u, /\p{Script=Arabic}/u, /\p{Script=Hebrew}/u, /\p{M}/u, /\u200d/, /\p{Regional_Indicator}/u,
    /\u00a0/, /\u3000/, /'ll/, /\u00bc/, /\u216b/, /\u00b2/, /\t/, /<\|endoftext\|>/]) {
    assert.match(all, re);
  }
  assert.ok(files.nVocab === 50257 && files.nMerges > 50000, `vocab ${files.nVocab}, merges ${files.nMerges}`);
});

test('vocab.json + merges.txt: ids equal js-tiktoken for every string, and decode gives the text back', () => {
  const res = runCli(['--vocab', files.vocab, '--merges', files.merges], corpus.length, true);
  assertMatches(res, 'vocab.json + merges.txt');
  const bad = [];
  for (let i = 0; i < corpus.length; i++) {
    const want = Buffer.from(corpus[i], 'utf8'); // lone surrogates become U+FFFD, as for tiktoken
    if (!res[i].bytes.equals(want)) bad.push(i);
    else if (corpus[i].isWellFormed() && res[i].bytes.toString('utf8') !== corpus[i]) bad.push(i);
  }
  assert.equal(bad.length, 0, `decode(encode(s)) !== s for ${bad.length} strings, e.g. ${JSON.stringify(corpus[bad[0]])}`);
});

test('tokenizer.json (merges as pairs), heap merge loop forced: same ids', () => {
  assertMatches(runCli(['--tokenizer-json', files.tokenizer, '--loop', 'heap'], corpus.length, false), 'tokenizer.json, heap');
});

test('scan merge loop forced: same ids', () => {
  assertMatches(runCli(['--vocab', files.vocab, '--merges', files.merges, '--loop', 'scan'], corpus.length, false), 'scan');
});

test('src/tokenizer/unicode_tables.c matches this Node\'s regex engine', () => {
  const want = generateUnicodeTables();
  const have = readFileSync(tablePath, 'utf8');
  assert.ok(have === want, `${tablePath} was generated for Unicode ${/Unicode ([\d.]+)/.exec(have)?.[1]}, ` +
    `this Node has Unicode ${process.versions.unicode} and classifies differently: ` +
    'run node scripts/make_unicode_tables.mjs (and rebuild)');
});

// ---------------------------------------------------------------- through the JS API

import { HookedModel, Tensor, Tokenizer, writeSafetensors } from '../../web/index.js';

test('Tokenizer.fromFiles (both formats) equals js-tiktoken on the whole corpus, and decodes back', () => {
  const fromVocab = Tokenizer.fromFiles({ vocabJson: readFileSync(files.vocab), mergesTxt: readFileSync(files.merges) });
  const fromJson = Tokenizer.fromFiles({ tokenizerJson: readFileSync(files.tokenizer, 'utf8') });
  for (const [tok, label] of [[fromVocab, 'vocab.json + merges.txt'], [fromJson, 'tokenizer.json']]) {
    assert.equal(tok.vocabSize, 50257);
    assertMatches(corpus.map((s) => ({ ids: tok.encode(s) })), `JS API, ${label}`);
  }
  const bad = corpus.filter((s) => s.isWellFormed() && fromVocab.decode(fromVocab.encode(s)) !== s);
  assert.equal(bad.length, 0, `decode(encode(s)) !== s, e.g. ${JSON.stringify(bad[0])}`);
  assert.equal(fromVocab.idToToken(50256), '<|endoftext|>');
  assert.throws(() => fromVocab.decode([50257]), (e) => e.code === 'ERR_RANGE' && /50257/.test(e.message));
  fromVocab.dispose();
  fromJson.dispose();
  assert.throws(() => fromVocab.encode('x'), (e) => e.code === 'ERR_DISPOSED');
});

test('a model folder with tokenizer files takes text; one without a matching vocabulary is refused', async () => {
  // A GPT-2 with the real vocabulary size and tiny width, random weights.
  const cfg = { model_type: 'gpt2', architectures: ['GPT2LMHeadModel'], vocab_size: 50257, n_positions: 16, n_embd: 8, n_layer: 1, n_head: 2, layer_norm_epsilon: 1e-5 };
  let seed = 1;
  const rnd = (n) => Float32Array.from({ length: n }, () => ((seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5) * 0.1);
  const shapes = {
    'transformer.wte.weight': [50257, 8], 'transformer.wpe.weight': [16, 8],
    'transformer.h.0.ln_1.weight': [8], 'transformer.h.0.ln_1.bias': [8], 'transformer.h.0.attn.c_attn.weight': [8, 24], 'transformer.h.0.attn.c_attn.bias': [24],
    'transformer.h.0.attn.c_proj.weight': [8, 8], 'transformer.h.0.attn.c_proj.bias': [8], 'transformer.h.0.ln_2.weight': [8], 'transformer.h.0.ln_2.bias': [8],
    'transformer.h.0.mlp.c_fc.weight': [8, 32], 'transformer.h.0.mlp.c_fc.bias': [32], 'transformer.h.0.mlp.c_proj.weight': [32, 8], 'transformer.h.0.mlp.c_proj.bias': [8],
    'transformer.ln_f.weight': [8], 'transformer.ln_f.bias': [8],
  };
  const weights = writeSafetensors(Object.entries(shapes).map(([n, sh]) => [n, new Tensor(rnd(sh.reduce((a, b) => a * b, 1)), sh)]));
  const model = await HookedModel.fromPretrained({ 'config.json': JSON.stringify(cfg), 'model.safetensors': weights, 'tokenizer.json': readFileSync(files.tokenizer) });
  const text = "Hello world, it's me";
  const ids = getEncoding('gpt2').encode(text, [], []);
  assert.deepEqual(model.tokenizer.encode(text), ids);
  assert.deepEqual(model.forward(text).data, model.forward(ids).data);
  assert.throws(() => model.forward(['one two', 'one']), (e) => e.code === 'ERR_SHAPE' && /different lengths/.test(e.message));
  const out = model.generate(text, { maxNewTokens: 3, temperature: 0 });
  assert.equal(out.texts[0], model.tokenizer.decode(out.ids[0]));
  model.dispose();
  await assert.rejects(HookedModel.fromPretrained({ 'config.json': JSON.stringify({ ...cfg, vocab_size: 50000 }), 'model.safetensors': weights, 'vocab.json': readFileSync(files.vocab), 'merges.txt': readFileSync(files.merges) }),
    (e) => e.code === 'ERR_STATE_DICT' || (e.code === 'ERR_FORMAT' && /50257 tokens but config\.json's vocab_size is 50000/.test(e.message)));
  await assert.rejects(HookedModel.fromPretrained({ 'config.json': JSON.stringify(cfg), 'model.safetensors': weights, 'vocab.json': readFileSync(files.vocab) }),
    (e) => e.code === 'ERR_NOT_FOUND' && /merges\.txt: not found/.test(e.message));
});
