// byte_model.mjs — GPT-2-architecture models over bytes: the files that make
// one loadable by HookedModel.fromPretrained.
//
// The tokenizer is GPT-2's byte-level BPE with no merges: token id b is the
// byte b (in GPT-2's byte-to-unicode alphabet), so any text encodes and every
// id decodes. Used by the default-model training and by tests.
//   node scripts/byte_model.mjs <dir> [--layers 2 --embd 64 --heads 4 --ctx 128 --seed 0]
// writes a model with random weights (N(0, 0.02), LayerNorm 1/0) to <dir>.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';

/** GPT-2's bytes_to_unicode: the printable character standing for each byte. */
export function bytesToUnicode() {
  const bs = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n);
      n++;
    }
  }
  const map = new Array(256);
  bs.forEach((b, i) => { map[b] = String.fromCodePoint(cs[i]); });
  return map;
}

/** vocab.json (byte b ↦ id b) and an empty merges.txt. */
export function byteTokenizerFiles() {
  const chars = bytesToUnicode();
  const vocab = Object.fromEntries(chars.map((c, b) => [c, b]));
  return { 'vocab.json': JSON.stringify(vocab), 'merges.txt': '#version: 0.2\n' };
}

/** An HF GPT2Config for a byte-level model. */
export function byteConfig({ layers, embd, heads, ctx }) {
  return {
    architectures: ['GPT2LMHeadModel'], model_type: 'gpt2', activation_function: 'gelu_new',
    vocab_size: 256, n_positions: ctx, n_ctx: ctx, n_embd: embd, n_layer: layers, n_head: heads, n_inner: null,
    layer_norm_epsilon: 1e-5, resid_pdrop: 0.0, embd_pdrop: 0.0, attn_pdrop: 0.0,
    scale_attn_weights: true, scale_attn_by_inverse_layer_idx: false, reorder_and_upcast_attn: false,
    bos_token_id: 10, eos_token_id: 10, torch_dtype: 'float32',
  };
}

/** [name, shape] of every GPT-2 parameter, in HF's order. */
export function gpt2ParamShapes({ vocab = 256, layers, embd: C, ctx }) {
  const out = [['transformer.wte.weight', [vocab, C]], ['transformer.wpe.weight', [ctx, C]]];
  for (let l = 0; l < layers; l++) {
    const h = `transformer.h.${l}`;
    out.push([`${h}.ln_1.weight`, [C]], [`${h}.ln_1.bias`, [C]], [`${h}.attn.c_attn.weight`, [C, 3 * C]], [`${h}.attn.c_attn.bias`, [3 * C]],
      [`${h}.attn.c_proj.weight`, [C, C]], [`${h}.attn.c_proj.bias`, [C]], [`${h}.ln_2.weight`, [C]], [`${h}.ln_2.bias`, [C]],
      [`${h}.mlp.c_fc.weight`, [C, 4 * C]], [`${h}.mlp.c_fc.bias`, [4 * C]], [`${h}.mlp.c_proj.weight`, [4 * C, C]], [`${h}.mlp.c_proj.bias`, [C]]);
  }
  out.push(['transformer.ln_f.weight', [C]], ['transformer.ln_f.bias', [C]]);
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { layers: { type: 'string', default: '2' }, embd: { type: 'string', default: '64' }, heads: { type: 'string', default: '4' }, ctx: { type: 'string', default: '128' }, seed: { type: 'string', default: '0' } },
  });
  if (positionals.length !== 1) {
    console.error('usage: node scripts/byte_model.mjs <dir> [--layers N --embd C --heads H --ctx T --seed S]');
    process.exit(2);
  }
  const { Tensor, writeSafetensors } = await import('../web/index.js');
  const dims = { layers: +values.layers, embd: +values.embd, heads: +values.heads, ctx: +values.ctx };
  let s = (+values.seed >>> 0) || 1;
  const normal = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const u1 = (s + 1) / 4294967297;
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos((2 * Math.PI * s) / 4294967296);
  };
  const named = gpt2ParamShapes({ ...dims }).map(([name, shape]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const isLn = /ln_\d|ln_f/.test(name);
    const data = Float32Array.from({ length: n }, () => (isLn ? (name.endsWith('weight') ? 1 : 0) : name.endsWith('bias') ? 0 : 0.02 * normal()));
    return [name, new Tensor(data, shape)];
  });
  const dir = positionals[0];
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), `${JSON.stringify(byteConfig(dims), null, 2)}\n`);
  writeFileSync(join(dir, 'model.safetensors'), writeSafetensors(named));
  for (const [f, text] of Object.entries(byteTokenizerFiles())) writeFileSync(join(dir, f), text);
  console.log(`wrote a random byte-level GPT-2 (${JSON.stringify(dims)}) to ${dir}`);
}
