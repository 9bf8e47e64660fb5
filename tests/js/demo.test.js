// demo.test.js — the browser demo (demo/) in real headless Chromium (Debian's
// /usr/bin/chromium through playwright-core), built with Vite and served with
// COOP/COEP and the strict CSP `default-src 'self'; script-src 'self' 'wasm-unsafe-eval'`:
// it opens on a model with the example prompt analysed, the attention grid
// shows visibly different heads, ablating a head changes the top token's
// probability (and undo restores it), the logit lens, attention × logits,
// activations and patching numbers equal what Node computes with the library,
// export → import restores the view, the URL reproduces it, models load from
// picked files (with clear messages for wrong ones), a long run can be
// cancelled without freezing the page, and the console stays clean.
// Then a bundler user's path: a tiny page importing 'unseal-wasm', built by Vite.
//
// The model: demo/models/kjv-bytes (the default) when it exists; until then a
// random-weight byte-level model generated into a temporary folder, which the
// page is pointed at with ?model=. Screenshots go to tests/artifacts/.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';
import { Hook, HookedModel, attentionLogitAttribution, attributionPatching as libAttributionPatching, logitLens } from '../../web/index.js';
import { startServer } from '../../scripts/serve.mjs';
import { seedRun } from '../browser/smoke_models.js';
import { DEMO_DIST, buildDemo, makeRandomModel } from '../../scripts/demo.mjs';
import { root } from '../../scripts/lib.mjs';
import { DEFAULT_CORRUPTED, DEFAULT_MODEL, DEFAULT_PROMPT } from '../../demo/src/defaults.js';
import { formatNum, formatProb } from '../../demo/src/format.js';
import { importAnalysis } from '../../demo/src/state.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const STRICT_CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'";
const ARTIFACTS = join(root, 'tests/artifacts');
const TRAINED = join(root, 'demo', DEFAULT_MODEL);
const haveTrained = existsSync(join(TRAINED, 'config.json'));

let tmp;
let server;
let browser;
let page;
let modelDir; // the model the page shows
let modelQuery; // '' for the default model, else 'model=test-model/&'
let ref; // the same model in Node
const problems = []; // console errors and warnings, page errors

function watch(p) {
  p.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()} (${m.location().url})`);
  });
  p.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
}

async function open(query = '') {
  await page.goto(`${server.url}/?${modelQuery}${query}`);
  await idle();
}

/** Waits until the model is loaded, a prompt analysed and nothing runs; fails at once if the model did not load. */
async function idle(p = page) {
  const state = await p.waitForFunction(() => {
    const a = document.querySelector('[data-testid=app]');
    if (a?.dataset.modelState === 'error') return 'error';
    return a && a.dataset.modelState === 'ready' && a.dataset.busy === 'false' && a.dataset.tokens !== '0' && 'ready';
  }, null, { timeout: 30000 });
  if ((await state.jsonValue()) === 'error') throw new Error(`the model did not load: ${await p.textContent('[data-testid=load-error]')}`);
}

// Tests after the first browser test need the page it opened; they stop at
// once, instead of timing out one by one, when it did not open.
let opened = false;
const needPage = () => assert.ok(opened, 'the demo did not open (see the first failing test)');

async function shot(name, p = page) {
  await p.screenshot({ path: join(ARTIFACTS, `demo-${name}.png`), fullPage: true });
}

const topText = () => page.$eval('[data-testid=topk] li:first-child', (li) => ({ id: Number(li.dataset.id), prob: Number(li.dataset.prob), text: li.querySelector('.prob').textContent }));

/**
 * RGBA pixels of the canvases matching `selector`, by data-testid (plain
 * arrays). Read through a copy made for reading, so that reading many
 * canvases does not make Chromium warn about repeated readbacks.
 */
const pixels = (selector, p = page) => p.$$eval(selector, (cs) => Object.fromEntries(cs.map((c, i) => {
  const copy = document.createElement('canvas');
  copy.width = c.width;
  copy.height = c.height;
  const ctx = copy.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(c, 0, 0);
  return [c.dataset.testid ?? c.closest('[data-testid]')?.dataset.testid ?? String(i), Array.from(ctx.getImageData(0, 0, c.width, c.height).data)];
})));

/** Per row of a T × T thumbnail, the column of its darkest pixel and how dark it is (255 − mean RGB). */
function darkest(rgba, T) {
  return Array.from({ length: T }, (_, q) => {
    let best = 0;
    let dark = -1;
    for (let k = 0; k <= q; k++) {
      const i = (q * T + k) * 4;
      const d = 255 - (rgba[i] + rgba[i + 1] + rgba[i + 2]) / 3;
      if (d > dark) [best, dark] = [k, d];
    }
    return { k: best, dark };
  });
}

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  await buildDemo({ quiet: true });
  tmp = mkdtempSync(join(tmpdir(), 'unseal-demo-test-'));
  // The served site: the built demo, plus the test model beside it.
  const site = join(tmp, 'site');
  mkdirSync(site);
  for (const e of readdirSync(DEMO_DIST)) if (e !== 'random-model') symlinkSync(join(DEMO_DIST, e), join(site, e));
  if (haveTrained) {
    modelDir = TRAINED;
    modelQuery = '';
  } else {
    modelDir = await makeRandomModel(join(tmp, 'model'));
    symlinkSync(modelDir, join(site, 'test-model'));
    modelQuery = 'model=test-model/&';
  }
  ref = await HookedModel.fromPretrained(modelDir);
  server = await startServer({ root: site, csp: STRICT_CSP });
  browser = await chromium.launchPersistentContext(join(tmp, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 1000 },
    acceptDownloads: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  page = await browser.newPage();
  page.setDefaultTimeout(15000);
  watch(page);
});

after(async () => {
  ref?.dispose();
  await browser?.close();
  await server?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test("the demo's own analysis (DOM-free, as its worker runs it) equals the library's, with no interventions", async () => {
  const A = await import('../../demo/src/analysis.js');
  const ids = ref.tokenizer.encode(DEFAULT_PROMPT);
  const a = A.analyse(ref, ids);
  const lens = logitLens(ref, ids);
  assert.deepEqual(Array.from(a.lens.topIds), Array.from(lens.topIds.data));
  assert.deepEqual(Array.from(a.lens.rank), Array.from(lens.rank.data));
  for (let i = 0; i < a.lens.topProbs.length; i++) assert.ok(Math.abs(a.lens.topProbs[i] - lens.topProbs.data[i]) <= 1e-6);
  for (let l = 0; l < ref.config.n_layer; l++) {
    const lib = attentionLogitAttribution(ref, ids, { layer: l });
    const mine = A.attribution(ref, ids, a, l);
    const scale = Math.max(...lib.raw.data.map(Math.abs));
    for (let i = 0; i < mine.raw.length; i++) assert.ok(Math.abs(mine.raw[i] - lib.raw.data[i]) <= 1e-6 * scale);
  }
  // Attribution patching says plainly when the library has no gradients.
  const noGrad = Object.create(ref, { backward: { value: undefined } });
  assert.throws(() => A.attributionPatching(noGrad, ids, ids), (e) => e instanceof A.NeedsGradients && /needs gradients/.test(e.message));
  // Ablations: zeroing a head is the same as zeroing its slice of z by hand.
  const { n_head: H, n_embd: C } = ref.config;
  const hs = C / H;
  const byHand = ref.forward(ids, { hooks: [new Hook('transformer->h->0->attn->z', (ctx, i, z) => {
    for (let t = 0; t < ids.length; t++) z.data.fill(0, (t * H + 1) * hs, (t * H + 2) * hs);
  }, 'zero')] }).data;
  const ablated = ref.forward(ids, { hooks: A.ablationHooks(ref, [{ layer: 0, head: 1, mode: 'zero' }]) }).data;
  assert.deepEqual(ablated, byHand);
});

test('opens on the model with the example prompt analysed, cross-origin isolated, under the strict CSP', async () => {
  const assets = readdirSync(join(DEMO_DIST, 'assets'));
  assert.ok(assets.some((f) => f.endsWith('.wasm')), `Vite carried unseal.wasm into the build, for the worker (assets: ${assets.join(', ')})`);
  await open();
  const a = await page.$eval('[data-testid=app]', (el) => ({ ...el.dataset }));
  assert.equal(Number(a.tokens), ref.tokenizer.encode(DEFAULT_PROMPT).length);
  assert.equal(await page.$eval('[data-testid=prompt]', (t) => t.value), DEFAULT_PROMPT);
  assert.match(await page.textContent('[data-testid=model-summary]'), new RegExp(`${ref.config.n_layer} layers × ${ref.config.n_head} heads`));
  assert.equal(await page.$$eval('[data-testid=topk] li', (l) => l.length), 10);
  assert.match(await page.textContent('[data-testid=status]'), /Analysed \d+ tokens/);
  assert.ok(await page.evaluate(() => self.crossOriginIsolated), 'COOP/COEP make the page cross-origin isolated (shared memory for cancelling)');
  // The next-token probabilities are the model's: Node's softmax of the last logits.
  const logits = ref.forward(DEFAULT_PROMPT).data;
  const V = ref.config.vocab_size;
  const last = logits.subarray(logits.length - V);
  const mx = Math.max(...last);
  const z = last.reduce((s, x) => s + Math.exp(x - mx), 0);
  const top = await topText();
  assert.ok(Math.abs(top.prob - Math.exp(last[top.id] - mx) / z) < 1e-6);
  assert.equal(top.id, last.indexOf(mx));
  await shot('opened');
  assert.deepEqual(problems, []);
  opened = true;
});

test('the attention grid shows one thumbnail per head, and the heads look different (pixels)', async () => {
  needPage();
  const { n_layer: L, n_head: H } = ref.config;
  const px = await pixels('canvas[data-testid^=thumb-]');
  const ids = Object.keys(px);
  assert.equal(ids.length, L * H);
  const T = ref.tokenizer.encode(DEFAULT_PROMPT).length;
  const [w, h] = await page.$eval('canvas[data-testid=thumb-0-0]', (c) => [c.width, c.height]);
  assert.deepEqual([w, h], [T, T], 'one pixel per (query, key)');
  // Visible: every thumbnail paints most rows of its causal triangle (a
  // diffuse head is pale but drawn), and some heads are sharp: in most rows
  // their most attended key is a clearly dark pixel.
  const rows = Object.fromEntries(ids.map((id) => [id, darkest(px[id], T)]));
  for (const id of ids) {
    const painted = rows[id].filter((r) => r.dark > 0).length;
    assert.ok(painted > 0.5 * T, `${id}: only ${painted} of ${T} rows are painted`);
  }
  const sharp = ids.filter((id) => rows[id].slice(1).filter((r) => r.dark > 60).length > 0.3 * (T - 1));
  assert.ok(sharp.length >= 1, 'at least one head attends sharply');
  // Different: for most pairs of heads the darkest key differs in many rows
  // (two heads may do the same job, as a trained model's two induction heads do).
  let pairs = 0;
  let distinct = 0;
  const alike = [];
  for (let i = 0; i < ids.length; i++) {
    for (let j = i + 1; j < ids.length; j++) {
      const differ = rows[ids[i]].slice(2).filter((r, q) => r.k !== rows[ids[j]][q + 2].k).length;
      pairs++;
      if (differ > 0.2 * (T - 2)) distinct++;
      else alike.push(`${ids[i]}~${ids[j]}`);
    }
  }
  assert.ok(distinct >= 0.75 * pairs, `too many heads look alike: ${alike.join(', ')}`);

  // Enlarge a head: a labelled heatmap and CircuitsVis's two token views.
  await page.click(`canvas[data-testid=thumb-${L - 1}-${H - 1}]`);
  await page.waitForSelector('[data-testid=attention-enlarged] [data-testid=attention-heatmap] canvas');
  assert.match(page.url(), new RegExp(`head=${L - 1}\\.${H - 1}`));
  await page.hover('[data-testid=attends-to] .tok[data-i="5"]');
  const coloured = await page.$$eval('[data-testid=attends-to] .tok', (ts) => ts.map((t) => t.style.background).filter(Boolean).length);
  assert.equal(coloured, 6, 'hovering token 5 colours the 6 tokens it can attend to');
  const attendedBy = await page.$$eval('[data-testid=attended-by] .tok', (ts) => ts.map((t) => t.style.background).filter(Boolean).length);
  assert.equal(attendedBy, T - 5, 'and the T − 5 tokens that can attend to it');
  assert.equal(await page.$eval('[data-testid=attends-to] .tok.focus', (t) => t.dataset.i), '5');
  await shot('attention');
  assert.deepEqual(problems, []);
});

test('ablating a head changes the shown probability of the top token and updates every view; undo restores it', async () => {
  needPage();
  const { n_layer: L, n_head: H } = ref.config;
  const before0 = await topText();
  let changed = null;
  for (let l = 0; l < L && !changed; l++) {
    for (let h = 0; h < H && !changed; h++) {
      await page.click(`[data-testid=ablate-zero-${l}-${h}]`);
      await idle();
      const now = await topText();
      if (now.text !== before0.text || now.id !== before0.id) changed = { l, h, now };
      else await page.click('[data-testid=undo]');
      await idle();
    }
  }
  assert.ok(changed, 'zero-ablating some head changes the top token or its shown probability');
  const { l, h, now } = changed;
  assert.match(page.url(), new RegExp(`ablate=${l}\\.${h}z`));
  assert.equal(await page.$$eval('[data-testid=ablation]', (x) => x.length), 1);
  assert.equal(await page.$eval(`[data-testid=head-${l}-${h}]`, (c) => c.classList.contains('ablated')), true);
  // The same number in Node: the same ablation as a hook on z.
  const { ablationHooks, topK } = await import('../../demo/src/analysis.js');
  const V = ref.config.vocab_size;
  const logits = ref.forward(DEFAULT_PROMPT, { hooks: ablationHooks(ref, [{ layer: l, head: h, mode: 'zero' }]) }).data;
  const k = topK(logits, logits.length - V, V, 1);
  assert.equal(now.id, k.ids[0]);
  assert.equal(now.text, formatProb(k.probs[0]));
  // Every view follows: the lens's last layer at the last position is the new top token.
  await page.click('[data-testid=tab-lens]');
  const T = Number(await page.$eval('[data-testid=app]', (a) => a.dataset.tokens));
  const cell = await page.$eval(`[data-testid=lens-table] tr[data-layer="${L}"] td[data-pos="${T - 1}"]`, (td) => ({ top: Number(td.dataset.top), prob: Number(td.dataset.prob) }));
  assert.equal(cell.top, now.id);
  assert.ok(Math.abs(cell.prob - now.prob) < 1e-6);
  await shot('ablated');
  // Undo.
  await page.click('[data-testid=undo]');
  await idle();
  const back = await topText();
  assert.deepEqual([back.id, back.text], [before0.id, before0.text]);
  assert.equal(await page.$$eval('[data-testid=ablation]', (x) => x.length), 0);
  assert.doesNotMatch(page.url(), /ablate=/);
  assert.deepEqual(problems, []);
});

test('the logit lens shows exactly the numbers logitLens computes in Node', async () => {
  needPage();
  await page.click('[data-testid=tab-lens]');
  await page.waitForSelector('[data-testid=lens-table]');
  const rows = await page.$$eval('[data-testid=lens-table] tbody tr[data-layer]', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => ({
    top: Number(td.dataset.top), prob: Number(td.dataset.prob), shown: td.querySelector('.p').textContent,
  }))));
  const lens = logitLens(ref, DEFAULT_PROMPT);
  const [L1, , T] = lens.topIds.shape;
  assert.equal(rows.length, L1);
  let maxDiff = 0;
  for (let l = 0; l < L1; l++) {
    assert.equal(rows[l].length, T);
    for (let t = 0; t < T; t++) {
      const i = l * T + t;
      assert.equal(rows[l][t].top, lens.topIds.data[i], `layer ${l}, position ${t}: top token`);
      maxDiff = Math.max(maxDiff, Math.abs(rows[l][t].prob - lens.topProbs.data[i]));
      assert.equal(rows[l][t].shown, formatProb(lens.topProbs.data[i]), `layer ${l}, position ${t}: shown probability`);
    }
  }
  assert.ok(maxDiff <= 1e-6, `probabilities agree to ${maxDiff}`);
  await shot('lens');
  // Coloured by the true token's rank instead.
  const bgProb = await page.$eval('[data-testid=lens-table] td', (td) => td.style.background);
  await page.check('[data-testid=lens-by-rank]');
  assert.notEqual(await page.$eval('[data-testid=lens-table] td', (td) => td.style.background), bgProb);
  assert.match(page.url(), /lens=rank/);
  await shot('lens-rank');
  await page.check('[data-testid=lens-by-prob]');
  assert.deepEqual(problems, []);
});

test('attention × logits and the activations view show what Node computes', async () => {
  needPage();
  const L = ref.config.n_layer;
  await page.click('[data-testid=tab-attribution]');
  await page.selectOption('[data-testid=attr-layer]', String(L - 1));
  await page.waitForSelector(`canvas[data-testid=attr-${L - 1}-0]`);
  await idle();
  await page.click(`canvas[data-testid=attr-${L - 1}-0]`);
  await page.waitForSelector('[data-testid=attribution-heatmap] canvas');
  await shot('attribution');

  await page.click('[data-testid=tab-activations]');
  await page.waitForSelector('[data-testid=act-tokens]');
  const point = `transformer->h->${L - 1}->mlp->act`;
  await page.selectOption('[data-testid=act-point]', point);
  await page.fill('[data-testid=act-neuron]', '3');
  await page.waitForFunction(() => document.querySelector('[data-testid=top-acts] tbody tr'));
  await idle();
  const shown = await page.$$eval('[data-testid=top-acts] tbody tr', (trs) => trs.map((tr) => [tr.cells[0].textContent, Number(tr.cells[1].textContent)]));
  const { cache } = ref.runWithCache(DEFAULT_PROMPT, { names: point });
  const act = cache.get(point);
  const N = act.shape.at(-1);
  const col = Array.from({ length: act.shape[1] }, (_, t) => act.data[t * N + 3]);
  const order = col.map((_, t) => t).sort((x, y) => col[y] - col[x]).slice(0, 10);
  assert.deepEqual(shown, order.map((t) => [formatNum(col[t]), t]));
  assert.match(page.url(), /neuron=3/);
  await shot('activations');
  assert.deepEqual(problems, []);
});

let exported; // the JSON text of the export below
let viewBefore; // what the page showed when exporting

test('patching: the exact layer × position heatmap appears, with attribution patching beside it, equal to Node', async () => {
  needPage();
  await page.click('[data-testid=tab-patching]');
  await page.waitForSelector('[data-testid=patching-results]', { timeout: 30000 });
  await idle();
  const canvas = '[data-testid=patching-resid] canvas';
  const d = Object.values(await pixels(canvas))[0];
  let painted = 0;
  for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 0 && !(d[i] > 245 && d[i + 1] > 245 && d[i + 2] > 245)) painted++;
  assert.ok(painted > 100, `the heatmap is painted (${painted} coloured pixels)`);
  await page.waitForSelector('[data-testid=patching-heads] canvas');
  const gradients = typeof ref.backward === 'function';
  const panel = await page.textContent('[data-testid=attribution-patching]');
  if (gradients) assert.ok(await page.$('[data-testid=attribution-patching-map-resid] canvas'), 'with gradients, the estimate is drawn beside the exact sweep');
  else assert.match(panel, /needs gradients/i);
  await shot('patching');

  // The numbers, through the export, against the library's own sweep.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=export]')]);
  exported = readFileSync(await download.path(), 'utf8');
  const { results, settings } = importAnalysis(exported);
  assert.equal(settings.prompt, DEFAULT_PROMPT);
  const p = results.patching;
  const clean = ref.tokenizer.encode(DEFAULT_PROMPT);
  const corrupt = ref.tokenizer.encode(DEFAULT_CORRUPTED);
  const metric = { token: p.answer, ...(p.wrong === null ? {} : { baseline: p.wrong }) };
  const lib = libAttributionPatching(ref, clean, corrupt, { metric, exact: true });
  const denom = p.mClean - p.mCorr;
  assert.ok(Math.abs(lib.clean - p.mClean) < 1e-5 && Math.abs(lib.corrupted - p.mCorr) < 1e-5);
  const T = clean.length;
  for (let i = 0; i < lib.exact.data.length; i++) {
    const t = i % T;
    if (t < p.firstDiff) assert.equal(p.resid[i], 0);
    else assert.ok(Math.abs(p.resid[i] * denom - lib.exact.data[i]) < 1e-4, `exact patch ${i}: ${p.resid[i] * denom} vs ${lib.exact.data[i]}`);
    if (gradients) assert.ok(Math.abs(p.estimate.resid[i] * denom - lib.estimate.data[i]) < 1e-4, `estimate ${i}`);
  }
  // Patching the final residual at the last position restores the clean answer exactly.
  assert.ok(Math.abs(p.resid[(ref.config.n_layer + 1) * T - 1] - 1) < 1e-4);
  // Attention × logits in the export equals the library's.
  const L = ref.config.n_layer;
  const attr = attentionLogitAttribution(ref, DEFAULT_PROMPT, { layer: L - 1 });
  const raw = results.attribution[L - 1].raw;
  const scale = Math.max(...attr.raw.data.map(Math.abs));
  for (let i = 0; i < raw.length; i++) assert.ok(Math.abs(raw[i] - attr.raw.data[i]) <= 1e-5 * scale + 1e-9, `attribution ${i}`);
  viewBefore = {
    url: page.url(),
    topk: await page.$eval('[data-testid=topk]', (x) => x.innerText),
    metric: await page.textContent('[data-testid=patching-metric]'),
    resid: Object.values(await pixels(canvas))[0],
  };
  assert.deepEqual(problems, []);
});

test('export → import restores the view, and the URL reproduces the settings', async () => {
  needPage();
  assert.ok(exported, 'the export above ran');
  // Elsewhere: another prompt, another view.
  await open('prompt=In%20the%20beginning&view=lens');
  assert.equal(await page.$eval('[data-testid=prompt]', (t) => t.value), 'In the beginning');
  assert.equal(await page.$eval('[data-testid=tab-lens]', (b) => b.classList.contains('active')), true);
  await page.setInputFiles('[data-testid=import-input]', { name: 'analysis.json', mimeType: 'application/json', buffer: Buffer.from(exported) });
  await page.waitForSelector('[data-testid=app][data-imported=true]');
  await page.waitForSelector('[data-testid=patching-resid] canvas');
  assert.equal(await page.$eval('[data-testid=prompt]', (t) => t.value), DEFAULT_PROMPT);
  assert.equal(await page.$eval('[data-testid=tab-patching]', (b) => b.classList.contains('active')), true);
  assert.equal(await page.$eval('[data-testid=topk]', (x) => x.innerText), viewBefore.topk);
  assert.equal(await page.textContent('[data-testid=patching-metric]'), viewBefore.metric);
  const resid = Object.values(await pixels('[data-testid=patching-resid] canvas'))[0];
  assert.deepEqual(resid, viewBefore.resid, 'the patching heatmap is pixel for pixel the same');
  assert.equal(new URL(page.url()).search, new URL(viewBefore.url).search, 'the URL carries the same settings');
  await shot('imported');
  // The other views come back from the file too.
  await page.click('[data-testid=tab-activations]');
  await page.waitForSelector('[data-testid=top-acts] tbody tr');
  await page.click('[data-testid=tab-attention]');
  assert.equal(await page.$$eval('canvas[data-testid^=thumb-]', (c) => c.length), ref.config.n_layer * ref.config.n_head);

  // A link with settings reproduces them on a fresh page.
  await open(`prompt=${encodeURIComponent('And God said, Let there be light')}&view=lens&lens=rank&ablate=0.1m`);
  assert.equal(await page.$eval('[data-testid=prompt]', (t) => t.value), 'And God said, Let there be light');
  assert.equal(await page.$eval('[data-testid=lens-by-rank]', (r) => r.checked), true);
  assert.match(await page.textContent('[data-testid=interventions]'), /L0 H1 mean-ablated/);
  const { ablationHooks, topK } = await import('../../demo/src/analysis.js');
  const V = ref.config.vocab_size;
  const logits = ref.forward('And God said, Let there be light', { hooks: ablationHooks(ref, [{ layer: 0, head: 1, mode: 'mean' }]) }).data;
  assert.equal((await topText()).text, formatProb(topK(logits, logits.length - V, V, 1).probs[0]));
  assert.deepEqual(problems, []);
});

test('a long run can be cancelled; the page keeps drawing frames meanwhile and the model stays loaded', async () => {
  needPage();
  const n = Math.min(ref.config.n_positions - 1, 120);
  const long = 'And the LORD said unto Moses, Go in unto Pharaoh: for I have hardened his heart. '.repeat(3).slice(0, n);
  const corrupt = `X${long.slice(1)}`;
  await open(`prompt=${encodeURIComponent(long)}&corrupt=${encodeURIComponent(corrupt)}&view=attention`);
  await page.click('[data-testid=tab-patching]'); // starts the sweep
  await page.waitForSelector('[data-testid=patching-progress]');
  // The page stays responsive: animation frames keep coming while the worker
  // works (measured over 150 ms from now, through the cancel). The cancel is
  // clicked at once: the sweep lasts only ~0.2 s (less with more threads).
  await page.evaluate(() => {
    window.frameGap = new Promise((resolve) => {
      let last = performance.now();
      let worst = 0;
      const t0 = last;
      const frame = (t) => {
        worst = Math.max(worst, t - last);
        last = t;
        if (t - t0 < 150) requestAnimationFrame(frame);
        else resolve(worst);
      };
      requestAnimationFrame(frame);
    });
  });
  await page.click('[data-testid=cancel]', { timeout: 2000 });
  const worstFrameGap = await page.evaluate(() => window.frameGap);
  await page.waitForFunction(() => /Cancelled/.test(document.querySelector('[data-testid=status]').textContent));
  await idle();
  assert.ok(worstFrameGap < 250, `no frame took longer than ${worstFrameGap.toFixed(0)} ms`);
  assert.equal(await page.$('[data-testid=patching-results]'), null, 'the cancelled sweep left no results');
  assert.doesNotMatch(await page.textContent('[data-testid=status]'), /restarted/, 'cancelled through shared memory, without restarting the worker');
  // The worker and its model are still there.
  await page.click('[data-testid=analyse]');
  await page.waitForFunction(() => /Analysed/.test(document.querySelector('[data-testid=status]').textContent));
  assert.equal(await page.$eval('[data-testid=model-panel]', (p) => p.textContent.includes('not loaded')), false);
  assert.deepEqual(problems, []);
});

test('models load from a picked folder with a progress bar; wrong files get a clear message', async () => {
  needPage();
  await open();
  await page.click('[data-testid=model-panel] button.link');
  const bad = join(tmp, 'bad');
  const write = (dir, files) => {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    return Object.keys(files).map((f) => join(dir, f));
  };
  const config = readFileSync(join(modelDir, 'config.json'), 'utf8');
  const cases = [
    [{ 'notes.txt': 'hello' }, /no config\.json among the files/],
    [{ 'config.json': config, 'pytorch_model.bin': 'not really' }, /pytorch_model\.bin/],
    [{ 'config.json': JSON.stringify({ ...JSON.parse(config), model_type: 'llama' }), 'model.safetensors': 'x' }, /model_type 'llama' is not supported/],
    [{ 'config.json': JSON.stringify({ ...JSON.parse(config), n_layer: JSON.parse(config).n_layer + 1 }), 'model.safetensors': readFileSync(join(modelDir, 'model.safetensors')) }, /do not match config\.json/],
  ];
  for (const [i, [files, message]] of cases.entries()) {
    await page.setInputFiles('[data-testid=files-input]', write(`${bad}${i}`, files));
    await page.waitForSelector('[data-testid=load-error]');
    await page.waitForFunction((re) => new RegExp(re).test(document.querySelector('[data-testid=load-error]').textContent), message.source);
    if (i === 3) await shot('load-error');
  }
  // A real model folder: picked as a folder, as a user would.
  await page.evaluate(() => {
    window.sawProgress = false;
    new MutationObserver(() => { if (document.querySelector('[data-testid=load-progress] progress')) window.sawProgress = true; }).observe(document.body, { subtree: true, childList: true });
  });
  await page.setInputFiles('[data-testid=folder-input]', modelDir);
  await page.waitForFunction(() => /local files/.test(document.querySelector('[data-testid=model-summary]')?.textContent ?? ''), null, { timeout: 30000 });
  await idle();
  assert.equal(await page.$('[data-testid=load-error]'), null);
  assert.ok(await page.evaluate(() => window.sawProgress), 'a progress bar showed while loading');
  assert.match(await page.textContent('[data-testid=model-summary]'), /local files/);
  assert.equal((await topText()).text, (await (async () => {
    const V = ref.config.vocab_size;
    const logits = ref.forward(DEFAULT_PROMPT).data;
    const { topK } = await import('../../demo/src/analysis.js');
    return formatProb(topK(logits, logits.length - V, V, 1).probs[0]);
  })()));
  await shot('loaded-from-files');
  assert.deepEqual(problems, []);
});

test('trained default model: its previous-token heads (and induction heads, where measured) stand out', {
  skip: haveTrained ? false : `demo/${DEFAULT_MODEL} is not there yet; this test runs once the trained model lands`,
}, async () => {
  // A verse said twice: the second copy is where induction heads look back.
  const verse = 'In the beginning God created ';
  const prompt = verse + verse;
  await page.goto(`${server.url}/?prompt=${encodeURIComponent(prompt)}`);
  await idle();
  const n = ref.tokenizer.encode(verse).length;
  const T = ref.tokenizer.encode(prompt).length;
  const px = await pixels('canvas[data-testid^=thumb-]');
  const stats = await page.$$eval('.head-cell', (cells, [n2, T2, all]) => cells.map((cell) => {
    const d = all[cell.querySelector('canvas').dataset.testid];
    const dark = (q, k) => 255 - (d[(q * T2 + k) * 4] + d[(q * T2 + k) * 4 + 1] + d[(q * T2 + k) * 4 + 2]) / 3;
    let prev = 0;
    let ind = 0;
    let rest = 0;
    let nRest = 0;
    for (let q = 1; q < T2; q++) {
      for (let k = 0; k <= q; k++) {
        if (k === q - 1) prev += dark(q, k);
        else if (q >= n2 && k === q - n2 + 1) ind += dark(q, k);
        else { rest += dark(q, k); nRest++; }
      }
    }
    return { id: cell.dataset.testid, isPrev: cell.classList.contains('is-prev'), isInd: cell.classList.contains('is-induction'), prev: prev / (T2 - 1), ind: ind / (T2 - n2), rest: rest / nRest };
  }), [n, T, px]);
  const prevHeads = stats.filter((s) => s.isPrev);
  const indHeads = stats.filter((s) => s.isInd);
  const summary = await page.textContent('[data-testid=head-summary]');
  const best = (key) => JSON.stringify([...stats].sort((x, y) => y[key] - x[key]).slice(0, 3));
  assert.ok(prevHeads.length >= 1, `some head is badged as a previous-token head (${summary}; darkest t → t − 1 diagonals: ${best('prev')})`);
  // Visibly: its diagonal (t → t − 1) is far darker than the rest (3× plus a margin).
  assert.ok(prevHeads.some((s) => s.prev > 3 * s.rest + 40), JSON.stringify(prevHeads));
  // Induction badges are exactly the heads the library measures as induction
  // heads on this prompt (score ≥ 0.25), and those stand out visibly too.
  const { inductionScores } = await import('../../web/index.js');
  const measured = inductionScores(ref, [ref.tokenizer.encode(prompt)]).scores;
  const want = [];
  measured.toArray().forEach((row, l) => row.forEach((x, h) => { if (x >= 0.25) want.push(`head-${l}-${h}`); }));
  assert.deepEqual(indHeads.map((x) => x.id).sort(), want.sort(), `induction badges (${summary})`);
  if (want.length) assert.ok(indHeads.some((s) => s.ind > 3 * s.rest + 40), JSON.stringify(indHeads));
  await shot('trained-heads');
  assert.deepEqual(problems, []);
});

test('a bundler user: a Vite build of a page that imports unseal-wasm builds (carrying unseal.wasm) and runs in Chromium', async () => {
  const { build } = await import('vite');
  const out = join(tmp, 'vite-app');
  await build({ configFile: false, root: join(root, 'tests/browser/vite-app'), logLevel: 'silent', build: { outDir: out, emptyOutDir: true } });
  const assets = readdirSync(join(out, 'assets'));
  assert.ok(assets.some((f) => /^unseal-[\w-]+\.wasm$/.test(f)), `Vite emitted the package's wasm (assets: ${assets.join(', ')})`);
  assert.ok(assets.some((f) => /^unseal-mt-[\w-]+\.wasm$/.test(f)), `... and the threaded build (assets: ${assets.join(', ')})`);
  assert.ok(assets.some((f) => /^pool_worker-[\w-]+\.js$/.test(f)), `... and its compute worker (assets: ${assets.join(', ')})`);
  symlinkSync(modelDir, join(out, 'model'));
  const appServer = await startServer({ root: out, csp: STRICT_CSP });
  const p = await browser.newPage();
  // fromPretrained learns that a folder has no shards and no tokenizer.json
  // by asking for them; on the page's own thread (unlike the demo's worker)
  // Chromium logs those two 404s. Anything else is a problem.
  const probe = /Failed to load resource: the server responded with a status of 404 .*\/model\/(model\.safetensors\.index\.json|tokenizer\.json)\)$/;
  p.on('console', (m) => {
    const text = `${m.type()}: ${m.text()} (${m.location().url})`;
    if ((m.type() === 'error' || m.type() === 'warning') && !probe.test(text)) problems.push(text);
  });
  p.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  try {
    await p.goto(`${appServer.url}/?model=model/`);
    await p.waitForFunction(() => window.unsealResult !== undefined, null, { timeout: 30000 });
    const r = await p.evaluate(() => window.unsealResult);
    assert.equal(r.error, undefined, r.error);
    // A cross-origin isolated page: the threaded build, workers bundled by Vite.
    assert.equal(r.threads.build, 'unseal-mt.wasm');
    assert.equal(r.threads.error, null);
    assert.ok(r.threads.threads >= Math.min(2, await p.evaluate(() => navigator.hardwareConcurrency)), JSON.stringify(r.threads));
    // The same numbers as Node.
    const seed = seedRun(); // what main.js computes, as tests/browser/smoke.js does
    assert.deepEqual(r.output, seed.output);
    assert.deepEqual(r.saved, seed.saved);
    const logits = ref.forward('In the beginning');
    assert.deepEqual(r.gpt2.shape, [...logits.shape]);
    assert.deepEqual(r.gpt2.last, [...logits.data.subarray(logits.data.length - ref.config.vocab_size)]);
    await shot('vite-app', p);
  } finally {
    await p.close();
    await appServer.close();
  }
  assert.deepEqual(problems, []);
});
