// browser.test.js — the package in real headless Chromium (Debian's
// /usr/bin/chromium driven by playwright-core): the wasm loads from a page
// served with COOP/COEP and a strict CSP (no eval anywhere), and computes
// exactly what Node computes.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';
import { startServer } from '../../scripts/serve.mjs';
import { bigModel, seedRun } from '../browser/smoke_models.js';
import { root } from '../../scripts/lib.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
let server, browser;

before(async () => {
  server = await startServer({ csp: "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'" });
  // A persistent context gives Chromium a fresh, empty profile folder of its own.
  browser = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'unseal-chromium-')), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
});
after(async () => {
  await browser?.close();
  await server?.close();
});

/** What tests/browser/smoke.html computes, in Node. */
function nodeSmoke() {
  const big = bigModel();
  const r = { ...seedRun(), big: big.run() };
  big.dispose();
  return r;
}

/** A new page whose console errors, warnings and uncaught errors land in problems. */
async function watchedPage(problems) {
  const page = await browser.newPage();
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text()); });
  page.on('pageerror', (e) => problems.push(e.message));
  return page;
}

test('without cross-origin isolation the page falls back to the single-thread build, with the same numbers', async () => {
  const plain = await startServer({ isolated: false, csp: "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'" });
  const problems = [];
  const page = await watchedPage(problems);
  try {
    await page.goto(`${plain.url}/tests/browser/smoke.html`);
    await page.waitForFunction(() => window.unsealResult !== undefined, null, { timeout: 30000 });
    const r = await page.evaluate(() => window.unsealResult);
    assert.equal(r.error, undefined, r.error);
    assert.deepEqual(problems, []);
    assert.equal(await page.evaluate(() => self.crossOriginIsolated), false);
    assert.equal(r.threads.build, 'unseal.wasm');
    assert.equal(r.threads.threads, 1);
    assert.match(r.threads.why, /cross-origin isolated/);
    const want = nodeSmoke();
    assert.deepEqual(r.output, want.output);
    assert.deepEqual(r.bigAll, want.big);
  } finally {
    await page.close();
    await plain.close();
  }
});

test('the package loads and runs in Chromium under a strict CSP, equal to Node bit for bit', async () => {
  const problems = [];
  const page = await watchedPage(problems);
  await page.goto(`${server.url}/tests/browser/smoke.html`);
  await page.waitForFunction(() => window.unsealResult !== undefined, null, { timeout: 30000 });
  const r = await page.evaluate(() => window.unsealResult);
  assert.equal(r.error, undefined, r.error);
  assert.deepEqual(problems, []);
  assert.ok(await page.evaluate(() => self.crossOriginIsolated), 'COOP/COEP make the page cross-origin isolated');
  const want = nodeSmoke();
  // ... so it runs the threaded build, its compute workers under the same CSP
  assert.equal(r.threads.build, 'unseal-mt.wasm');
  assert.equal(r.threads.error, null);
  assert.equal(r.threads.threads, Math.min(8, await page.evaluate(() => navigator.hardwareConcurrency)));
  assert.deepEqual(r.bigAll, r.bigOne, 'all threads and one thread give the same bits');
  assert.deepEqual(r.bigAll, want.big, 'and the same as Node');

  assert.equal(r.repr, want.repr);
  assert.deepEqual(r.output, want.output);
  assert.deepEqual(r.saved, want.saved);
  await page.close();
});

test('shard names in a sharded index cannot reach another origin, or leave the folder; a URL the user gives can', async () => {
  // Model folders under build/ (served by the page's own server): the tiny
  // golden GPT-2's config with an index whose weight_map names a file
  // elsewhere. The "other origin" is a second server that counts requests.
  const other = await startServer({ cors: true });
  // The page's own policy lets it fetch from there (the user's choice); the
  // library must still not go there on an index's word.
  const site = await startServer({ csp: `default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self' ${other.url}` });
  const dir = join(root, 'build/browser-shards');
  rmSync(dir, { recursive: true, force: true });
  const tiny = join(root, 'tests/golden/gpt2/tiny');
  const evil = {
    absolute: `${other.url}/tests/golden/gpt2/tiny/model.safetensors`,
    schemeless: `//${other.url.slice('http://'.length)}/tests/golden/gpt2/tiny/model.safetensors`,
    backslashes: `\\\\${other.url.slice('http://'.length)}\\tests\\golden\\gpt2\\tiny\\model.safetensors`,
    dotdot: '../tiny-ok/model.safetensors',
    encodedDotdot: '%2e%2e/tiny-ok/model.safetensors',
  };
  mkdirSync(join(dir, 'tiny-ok'), { recursive: true });
  for (const f of ['config.json', 'model.safetensors']) copyFileSync(join(tiny, f), join(dir, 'tiny-ok', f));
  for (const [name, file] of Object.entries(evil)) {
    mkdirSync(join(dir, name));
    copyFileSync(join(tiny, 'config.json'), join(dir, name, 'config.json'));
    writeFileSync(join(dir, name, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: { 'transformer.wte.weight': file } }));
  }
  const page = await browser.newPage();
  try {
    const bases = [...Object.keys(evil).map((n) => `${site.url}/build/browser-shards/${n}/`), `${other.url}/tests/golden/gpt2/tiny/`];
    const before = other.requests.length;
    await page.goto(`${site.url}/tests/browser/shards.html?bases=${encodeURIComponent(JSON.stringify(bases))}`);
    await page.waitForFunction(() => window.unsealResult !== undefined, null, { timeout: 30000 });
    const r = await page.evaluate(() => window.unsealResult);
    const byName = Object.fromEntries(Object.keys(evil).map((n, i) => [n, r[i]]));
    for (const n of ['absolute', 'schemeless', 'backslashes', 'dotdot']) {
      assert.equal(byName[n].code, 'ERR_FORMAT', `${n}: ${JSON.stringify(byName[n])}`);
      assert.match(byName[n].message, /must be a plain file name inside the model folder/);
    }
    // '%2e%2e' is a file name of its own inside the folder (not '..'), which is missing.
    assert.equal(byName.encodedDotdot.code, 'ERR_NOT_FOUND', JSON.stringify(byName.encodedDotdot));
    assert.match(byName.encodedDotdot.message, /encodedDotdot\/%252e%252e\/tiny-ok\/model\.safetensors/);
    // Nothing reached the other origin but the folder the user named there.
    const asked = other.requests.slice(before);
    assert.ok(asked.length > 0 && asked.every((p) => p.startsWith('/tests/golden/gpt2/tiny/')), asked.join(', '));
    assert.deepEqual(r.at(-1).shape, [1, 3, 101], JSON.stringify(r.at(-1)));
  } finally {
    await page.close();
    await other.close();
    await site.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
