#!/usr/bin/env node
// demo.mjs — `npm run demo`: builds the wasm if it is missing or stale, then
// runs the seed example (Unseal's hooking tutorial in JavaScript) in Node.
// The browser demo replaces this once it exists.
import { buildWasm } from './build.mjs';
import { root, run } from './lib.mjs';

buildWasm();
run(process.execPath, [`${root}/demo/seed.mjs`]);
