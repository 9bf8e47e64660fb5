// readme.test.js — keeps README.md true: its seed example is demo/seed.mjs
// verbatim, and the output it shows is what that script prints.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const root = fileURLToPath(new URL('../..', import.meta.url));
const readme = readFileSync(`${root}/README.md`, 'utf8');
const section = readme.slice(readme.indexOf('## The seed example'));
const blocks = [...section.matchAll(/```(\w+)\n([\s\S]*?)\n```/g)];

test('README shows demo/seed.mjs verbatim', () => {
  assert.equal(blocks[0][1], 'js');
  assert.equal(`${blocks[0][2]}\n`, readFileSync(`${root}/demo/seed.mjs`, 'utf8'));
});

test('README shows the seed example\'s real output', () => {
  assert.equal(blocks[1][1], 'text');
  const out = execFileSync(process.execPath, [`${root}/demo/seed.mjs`], { encoding: 'utf8' });
  assert.equal(blocks[1][2], out.trimEnd());
});
