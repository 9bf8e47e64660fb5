#!/usr/bin/env node
// demo.mjs — `npm run demo [-- --port N]`: builds what is missing or stale
// (web/unseal.wasm, then the demo's Vite bundle in demo/dist), serves demo/dist
// on 127.0.0.1 with COOP/COEP and a strict Content-Security-Policy, prints the
// URL and serves until Ctrl-C. The page opens on the default model
// (demo/src/defaults.js) with the example prompt analysed.
//
// Until the default model exists, a random-weight byte-level model is written
// to build/demo-random-model and the printed URL points the page at it.
//
// Exports buildDemo(), makeRandomModel() and DEMO_CSP for tests/js/demo.test.js.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { buildWasm } from './build.mjs';
import { mtime, newest, root, run } from './lib.mjs';
import { startServer } from './serve.mjs';
import { DEFAULT_MODEL } from '../demo/src/defaults.js';

export const DEMO_DIST = join(root, 'demo/dist');

/** The CSP the demo is served with: the strict one, plus fetching models from other https sites. */
export const DEMO_CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self' https:";

/** Everything the bundle is built from. */
const DEMO_SOURCES = ['demo/index.html', 'demo/src', 'demo/vite.config.js', 'web', 'package.json'];

/** True when demo/dist is older than a source of the bundle. */
export function demoStale() {
  return mtime('demo/dist/index.html') < newest(DEMO_SOURCES);
}

/** Builds web/unseal.wasm and the demo bundle when missing or stale (or always, with force). */
export async function buildDemo({ force = false, quiet = false } = {}) {
  buildWasm();
  if (!existsSync(join(root, 'node_modules/vite/package.json'))) {
    console.log('Installing the devDependencies (vite, preact, …) ...');
    run('npm', [existsSync(join(root, 'package-lock.json')) ? 'ci' : 'install', '--no-audit', '--no-fund']);
  }
  if (!force && !demoStale()) return;
  if (!quiet) console.log('Building the demo (Vite) into demo/dist ...');
  const { build } = await import('vite');
  await build({ configFile: join(root, 'demo/vite.config.js'), logLevel: quiet ? 'error' : 'warn' });
}

/**
 * Writes a random-weight byte-level GPT-2 (scripts/byte_model.mjs) to `dir`,
 * with its attention weights scaled up ×`sharpen` so that heads attend in
 * visibly different ways (at GPT-2's init scale every head attends almost
 * uniformly). For development and tests only; never the default model.
 */
export async function makeRandomModel(dir, { layers = 2, embd = 64, heads = 4, ctx = 128, seed = 1, sharpen = 10 } = {}) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const r = spawnSync(process.execPath, [join(root, 'scripts/byte_model.mjs'), dir, '--layers', String(layers), '--embd', String(embd),
    '--heads', String(heads), '--ctx', String(ctx), '--seed', String(seed)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`byte_model.mjs failed: ${r.stderr}`);
  const { HookedModel, writeSafetensors } = await import('../web/index.js');
  const model = await HookedModel.fromPretrained(dir);
  const entries = Object.entries(model.stateDict()).filter(([name]) => name !== 'lm_head.weight');
  for (const [name, t] of entries) if (/attn\.c_attn\.weight$/.test(name)) t.data.forEach((x, i) => { t.data[i] = x * sharpen; });
  model.dispose();
  writeFileSync(join(dir, 'model.safetensors'), writeSafetensors(entries));
  writeFileSync(join(dir, 'README.md'), `Random weights (scripts/demo.mjs makeRandomModel, attention ×${sharpen}), for development and tests. Not a trained model.\n`);
  return dir;
}

/** A free port: `port` itself when it is free, else one the system picks. */
function freePort(port) {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(0));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(port)));
  });
}

async function main() {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '8080' }, rebuild: { type: 'boolean', default: false } } });
  await buildDemo({ force: values.rebuild });
  let query = '';
  if (!existsSync(join(root, 'demo', DEFAULT_MODEL, 'config.json'))) {
    const dir = join(root, 'build/demo-random-model');
    if (!existsSync(join(dir, 'config.json'))) await makeRandomModel(dir);
    const link = join(DEMO_DIST, 'random-model');
    rmSync(link, { force: true });
    symlinkSync(dir, link);
    query = '?model=random-model/';
    console.log(`\nNote: the default model (demo/${DEFAULT_MODEL}) is not there yet, so the demo opens on a random-weight model\n` +
      `(build/demo-random-model). Its attention patterns and predictions mean nothing.`);
  }
  const wanted = Number(values.port);
  const port = await freePort(wanted);
  const { url } = await startServer({ root: DEMO_DIST, port, csp: DEMO_CSP });
  if (port !== wanted) console.log(`Port ${wanted} is taken; using another.`);
  console.log(`\nunseal-wasm demo: ${url}/${query}\n(Ctrl-C to stop)`);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await main();
