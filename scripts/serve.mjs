#!/usr/bin/env node
// serve.mjs — a small static file server for the demo and the browser tests.
// Sends COOP/COEP (so pages are cross-origin isolated and may use threads)
// and, optionally, a strict Content-Security-Policy. Listens on 127.0.0.1 only.
//   node scripts/serve.mjs [port]      serves the repository root
import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { root as repoRoot } from './lib.mjs';

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json', '.wasm': 'application/wasm', '.png': 'image/png',
  '.svg': 'image/svg+xml', '.txt': 'text/plain; charset=utf-8', '.md': 'text/plain; charset=utf-8', '.safetensors': 'application/octet-stream',
};

/** Starts serving `root`; resolves to { url, close(), requests }. isolated:
 * false leaves out COOP/COEP (a page that is not cross-origin isolated);
 * cors: true lets pages of any origin fetch the files (a model host).
 * requests lists the paths asked for. */
export function startServer({ root = repoRoot, port = 0, csp = null, isolated = true, cors = false } = {}) {
  const requests = [];
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    requests.push(path);
    if (path === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    const file = normalize(join(root, path.endsWith('/') ? `${path}index.html` : path));
    if (file !== root && !file.startsWith(root.endsWith(sep) ? root : root + sep)) {
      res.writeHead(403).end('forbidden');
      return;
    }
    let st;
    try {
      st = statSync(file);
    } catch {
      res.writeHead(404, { 'Content-Type': 'text/plain', ...(cors ? { 'Access-Control-Allow-Origin': '*' } : {}) }).end(`not found: ${path}`);
      return;
    }
    if (st.isDirectory()) {
      res.writeHead(302, { Location: `${path}/` }).end();
      return;
    }
    const headers = {
      'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
      'Content-Length': st.size,
      'Cache-Control': 'no-cache',
    };
    if (isolated) {
      headers['Cross-Origin-Opener-Policy'] = 'same-origin';
      headers['Cross-Origin-Embedder-Policy'] = 'require-corp';
      headers['Cross-Origin-Resource-Policy'] = cors ? 'cross-origin' : 'same-origin';
    }
    if (cors) headers['Access-Control-Allow-Origin'] = '*';
    if (csp) headers['Content-Security-Policy'] = csp;
    res.writeHead(200, headers);
    createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => {
    server.listen(port, '127.0.0.1', () => {
      resolve({ url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(r)), requests });
    });
  });
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { url } = await startServer({ port: Number(process.argv[2] ?? 8080) });
  console.log(`Serving ${repoRoot} at ${url}/`);
}
