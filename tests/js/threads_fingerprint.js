// threads_fingerprint.js — for threads.test.js: a random GPT-2 folder big
// enough that every GEMM is split over threads, and a hash of everything a
// model computes on it whose bits must not depend on the thread count or the
// build (run in the test process and in a child with the other build).
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HookedGPT2, Tensor, writeSafetensors } from '../../web/index.js';

/** n_embd 96 (3 heads of 32), 2 layers, vocab 300, 64 positions; seeded LCG weights. */
export function randomGpt2Folder(seed = 7) {
  const C = 96, L = 2, V = 300, P = 64, F = 4 * C;
  let s = seed >>> 0;
  const rand = (n, scale, offset = 0) => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      a[i] = offset + ((s >>> 8) / 16777216 - 0.5) * 2 * scale;
    }
    return a;
  };
  const t = (shape, scale = 0.1, offset = 0) => new Tensor(rand(shape.reduce((a, b) => a * b, 1), scale, offset), shape);
  const list = [['transformer.wte.weight', t([V, C], 0.5)], ['transformer.wpe.weight', t([P, C], 0.2)]];
  for (let l = 0; l < L; l++) {
    const h = `transformer.h.${l}.`;
    list.push([`${h}ln_1.weight`, t([C], 0.1, 1)], [`${h}ln_1.bias`, t([C])],
      [`${h}attn.c_attn.weight`, t([C, 3 * C], 0.3)], [`${h}attn.c_attn.bias`, t([3 * C])],
      [`${h}attn.c_proj.weight`, t([C, C])], [`${h}attn.c_proj.bias`, t([C])],
      [`${h}ln_2.weight`, t([C], 0.1, 1)], [`${h}ln_2.bias`, t([C])],
      [`${h}mlp.c_fc.weight`, t([C, F])], [`${h}mlp.c_fc.bias`, t([F])],
      [`${h}mlp.c_proj.weight`, t([F, C])], [`${h}mlp.c_proj.bias`, t([C])]);
  }
  list.push(['transformer.ln_f.weight', t([C], 0.1, 1)], ['transformer.ln_f.bias', t([C])]);
  const dir = mkdtempSync(join(tmpdir(), 'unseal-threads-'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'gpt2', vocab_size: V, n_positions: P, n_embd: C, n_layer: L, n_head: 3, layer_norm_epsilon: 1e-5 }));
  writeFileSync(join(dir, 'model.safetensors'), writeSafetensors(list));
  return dir;
}

export const hash = (arrays) => {
  const h = createHash('sha256');
  for (const a of arrays) h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  return h.digest('hex');
};

/** Two rows of 48 token ids. */
export const ids = [Array.from({ length: 48 }, (_, i) => (i * 37 + 11) % 300), Array.from({ length: 48 }, (_, i) => (i * i + 5) % 300)];

/** The hash of: logits (fused attention), cached pattern / scores / residual
 * (materialised attention), greedy decoding with the KV cache (M = 1), and
 * gradients at a hook point, for f32 and f16 weights. */
export async function fingerprint(dir) {
  const out = [];
  for (const dtype of ['float32', 'float16']) {
    const m = await HookedGPT2.fromPretrained(dir, { dtype });
    try {
      out.push(m.forward(ids).data);
      const names = ['blocks.0.attn.hook_pattern', 'blocks.1.attn.hook_attn_scores', 'blocks.1.hook_resid_post'];
      const { cache } = m.runWithCache(ids, { names, grads: dtype === 'float32' });
      for (const k of [...cache.keys()].sort()) out.push(cache.get(k).data);
      const g = m.generate([ids[0].slice(0, 5)], { maxNewTokens: 6, temperature: 0 });
      out.push(Int32Array.from(g.ids.flat()));
    } finally {
      m.dispose();
    }
  }
  return hash(out);
}
