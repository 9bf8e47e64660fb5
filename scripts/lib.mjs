// lib.mjs — shared helpers of the project scripts: finding or installing the
// system tools a build needs, running commands, and knowing when the wasm is stale.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export function have(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
let aptUpdated = false;

/**
 * Makes sure each check passes, installing the named Debian packages when we
 * are root, or printing the exact command to run and exiting when we are not.
 * needs: [{ ok: () => boolean, pkg: 'emscripten', what: 'emcc' }]
 */
export function ensure(needs) {
  const missing = needs.filter((n) => !n.ok());
  if (!missing.length) return;
  const pkgs = [...new Set(missing.map((n) => n.pkg))];
  const cmd = `apt-get install -y ${pkgs.join(' ')}`;
  if (!isRoot || !have('apt-get')) {
    console.error(`Missing: ${missing.map((n) => n.what).join(', ')}.\nInstall with:\n  sudo apt-get update && sudo ${cmd}`);
    process.exit(1);
  }
  console.log(`Installing ${pkgs.join(' ')} (missing: ${missing.map((n) => n.what).join(', ')}) ...`);
  if (!aptUpdated) {
    run('apt-get', ['update', '-qq']);
    aptUpdated = true;
  }
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...pkgs], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  const still = missing.filter((n) => !n.ok());
  if (still.length) {
    console.error(`Still missing after installing: ${still.map((n) => n.what).join(', ')}`);
    process.exit(1);
  }
}

export function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts });
  if (r.status !== 0) {
    console.error(`\n${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal})`);
    process.exit(r.status || 1);
  }
}

export function output(cmd, args) {
  return execFileSync(cmd, args, { cwd: root, encoding: 'utf8' });
}

/** Newest mtime (ms) of the files under the given paths. */
export function newest(paths) {
  let t = 0;
  const walk = (p) => {
    if (!existsSync(p)) return;
    const s = statSync(p);
    if (s.isDirectory()) for (const e of readdirSync(p)) walk(join(p, e));
    else t = Math.max(t, s.mtimeMs);
  };
  paths.forEach((p) => walk(join(root, p)));
  return t;
}

export function mtime(p) {
  const f = join(root, p);
  return existsSync(f) ? statSync(f).mtimeMs : 0;
}

export const sources = ['src', 'include', 'CMakeLists.txt'];
