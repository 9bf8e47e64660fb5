// threads.test.js — the threaded build (web/unseal-mt.wasm) and its compute
// pool: chosen by default in Node; setThreads / getThreads / threadsInfo;
// every thread count and both builds give the same bits (GEMMs split over
// panels, attention over heads, f32 and f16 packs, fused and materialised
// attention, prefill and KV-cache decode, backward); hooks run on the thread
// that called forward; errors; a pool that shrinks and grows between forwards.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMainThread, threadId } from 'node:worker_threads';
import { after, before, describe, test } from 'node:test';
import { HookedGPT2, HookedModel, Hook, Tensor, UnsealError, getThreads, nn, setThreads, threadsInfo } from '../../web/index.js';
import { fingerprint, hash, ids, randomGpt2Folder } from './threads_fingerprint.js';

let dir;
before(() => { dir = randomGpt2Folder(); });
after(() => setThreads(Math.max(2, getThreads())));

describe('the threaded build', () => {
  test('is chosen in Node, and the pool starts with the default size', () => {
    const info = threadsInfo();
    assert.equal(info.build, process.env.UNSEAL_WASM_BUILD === 'single' ? 'unseal.wasm' : 'unseal-mt.wasm');
    assert.equal(info.error, null);
    if (info.threaded) assert.ok(getThreads() >= 2, `threads: ${getThreads()}`);
  });

  test('setThreads checks its argument', async () => {
    for (const bad of [0, -1, 1.5, 65, '2', undefined]) {
      await assert.rejects(setThreads(bad), (e) => e instanceof UnsealError && e.code === 'ERR_INVALID_ARG' && /setThreads: n must be an integer in \[1, 64\]/.test(e.message));
    }
  });

  test('every thread count gives the same bits (f32, f16, fused and materialised attention, decode, backward)', async () => {
    const counts = threadsInfo().threaded ? [1, 2, 3, 1, 4] : [1];
    const prints = [];
    for (const n of counts) {
      assert.equal(await setThreads(n), n);
      assert.equal(getThreads(), n);
      prints.push(await fingerprint(dir));
    }
    for (const p of prints) assert.equal(p, prints[0]);
  });

  test('the single-thread build gives the same bits as the threaded one', async () => {
    if (!threadsInfo().threaded) return;
    await setThreads(3);
    const mine = await fingerprint(dir);
    const script = join(mkdtempSync(join(tmpdir(), 'unseal-fp-')), 'fp.mjs');
    writeFileSync(script, `
      const { threadsInfo } = await import(${JSON.stringify(new URL('../../web/index.js', import.meta.url).href)});
      const { fingerprint } = await import(${JSON.stringify(new URL('./threads_fingerprint.js', import.meta.url).href)});
      console.log(JSON.stringify({ build: threadsInfo().build, print: await fingerprint(process.argv[2]) }));`);
    const r = spawnSync(process.execPath, [script, dir], { encoding: 'utf8', env: { ...process.env, UNSEAL_WASM_BUILD: 'single' } });
    assert.equal(r.status, 0, r.stderr);
    const got = JSON.parse(r.stdout.trim().split('\n').pop());
    assert.equal(got.build, 'unseal.wasm');
    assert.equal(got.print, mine);
  });

  test('hooks run on the thread that called forward, and may call forward themselves', async () => {
    if (threadsInfo().threaded) await setThreads(2);
    const m = await HookedGPT2.fromPretrained(dir);
    const other = await HookedGPT2.fromPretrained(dir);
    try {
      const seen = new Set();
      let inner = null;
      const hooks = [
        new Hook('blocks.0.attn.hook_pattern', () => { seen.add(`${isMainThread}:${threadId}`); }, 'a'),
        new Hook('transformer->h->1->mlp', () => {
          seen.add(`${isMainThread}:${threadId}`);
          if (!inner) inner = other.forward([ids[1]]).data.slice(0, 8); // another model's forward, between two jobs
        }, 'b'),
      ];
      m.forward(ids, { hooks });
      assert.deepEqual([...seen], [`${isMainThread}:${threadId}`]);
      assert.deepEqual(Array.from(inner), Array.from(m.forward([ids[1]]).data.slice(0, 8)));
    } finally {
      m.dispose();
      other.dispose();
    }
  });

  test('a throwing hook leaves the pool working', async () => {
    if (threadsInfo().threaded) await setThreads(2);
    const m = await HookedGPT2.fromPretrained(dir);
    try {
      const want = m.forward(ids).data;
      assert.throws(() => m.forward(ids, { hooks: [new Hook('blocks.0.attn.hook_z', () => { throw new Error('boom'); }, 'x')] }), /boom/);
      assert.deepEqual(m.forward(ids).data, want);
    } finally {
      m.dispose();
    }
  });

  test('Linear models (HookedModel over nn) split their GEMMs too, with the same bits', async () => {
    const net = new nn.Sequential(new nn.Linear(200, 300), new nn.GELU(), new nn.Linear(300, 50));
    const x = new Tensor(Float32Array.from({ length: 64 * 200 }, (_, i) => Math.sin(i)), [64, 200]);
    const model = new HookedModel(net);
    try {
      const prints = [];
      for (const n of threadsInfo().threaded ? [1, 2, 3] : [1]) {
        await setThreads(n);
        prints.push(hash([model.forward(x).data]));
      }
      for (const p of prints) assert.equal(p, prints[0]);
    } finally {
      model.dispose();
      net.dispose?.();
    }
  });
});

