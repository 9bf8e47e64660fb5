// vite.config.js — builds the demo into demo/dist (`npm run demo` does it when
// the build is missing or stale). No inline scripts, so the page runs under
// `Content-Security-Policy: default-src 'self'; script-src 'self' 'wasm-unsafe-eval'`.
// 'unseal-wasm' resolves to this repository's package by self-reference (its
// package.json name and exports map), exactly as an installed dependency would.
import { rmSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = dirname(fileURLToPath(import.meta.url));

// Cross-origin isolation (so SharedArrayBuffer, used to cancel runs, and a
// threaded build can work) for `npx vite demo` during development.
const isolation = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

/** dist/models → ../models, so the built site serves the bundled models without copying them. */
const linkModels = {
  name: 'link-models',
  writeBundle(options) {
    const link = join(options.dir, 'models');
    rmSync(link, { force: true });
    symlinkSync('../models', link);
  },
};

export default defineConfig({
  root: here,
  base: './',
  publicDir: false,
  logLevel: 'warn',
  build: {
    outDir: join(here, 'dist'),
    emptyOutDir: true,
    target: 'es2022', // top-level await: the package is ready once its import resolves
    chunkSizeWarningLimit: 1000,
  },
  worker: { format: 'es' },
  plugins: [linkModels],
  server: { headers: isolation },
  preview: { headers: isolation },
});
