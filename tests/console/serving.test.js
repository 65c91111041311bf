// How the real binary serves the console, over plain HTTP (no browser): open
// without credentials on its own routes only, with the protective headers,
// and not at all when service.enable_static_content is false.

import http from 'node:http';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { OspreyServer } from '../js/osprey-server.js';

const ROOT_KEY = 'console-serving-root-key-0123456789-abcdef';

const served = new OspreyServer({ apiKey: ROOT_KEY });
const disabled = new OspreyServer({
  apiKey: ROOT_KEY,
  extraEnv: { QDRANT__SERVICE__ENABLE_STATIC_CONTENT: 'false' },
});

before(async () => {
  await served.start();
  await disabled.start();
});

after(async () => {
  await served.close();
  await disabled.close();
});

/**
 * GET `path` exactly as written: node:http sends the path untouched, where
 * fetch would resolve `..` and `%2e%2e` before sending.
 */
function get(server, path, key, headers = {}) {
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        host: '127.0.0.1',
        port: server.httpPort,
        path,
        method: 'GET',
        headers: { ...(key ? { 'api-key': key } : {}), ...headers },
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode, headers: new Headers(response.headers), text }));
      },
    );
    request.on('error', reject);
    request.end();
  });
}

test('the page and its assets are open, typed, framed nowhere and same-origin only', async () => {
  const assets = {
    '/dashboard': 'text/html; charset=utf-8',
    '/dashboard/': 'text/html; charset=utf-8',
    '/dashboard/console.js': 'text/javascript; charset=utf-8',
    '/dashboard/console.css': 'text/css; charset=utf-8',
    '/dashboard/favicon.svg': 'image/svg+xml',
  };
  for (const [path, type] of Object.entries(assets)) {
    // Whitelisted routes never look at credentials: none, or a wrong one, is fine.
    for (const key of [undefined, 'wrong-key']) {
      const reply = await get(served, path, key);
      assert.equal(reply.status, 200, `${path}: ${reply.text}`);
      assert.equal(reply.headers.get('content-type'), type, path);
      assert.equal(reply.headers.get('x-frame-options'), 'DENY', path);
      assert.equal(reply.headers.get('x-content-type-options'), 'nosniff', path);
      const csp = reply.headers.get('content-security-policy');
      assert.match(csp, /default-src 'none'/, path);
      assert.match(csp, /script-src 'self'/, path);
      assert.match(csp, /connect-src 'self'/, path);
      assert.match(csp, /frame-ancestors 'none'/, path);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/, path);
    }
  }
  const page = await get(served, '/dashboard');
  assert.equal(page.headers.get('cache-control'), 'no-store');
  // The page names the gRPC port it was configured with, for the snippets.
  assert.ok(page.text.includes(`<meta name="osprey-grpc-port" content="${served.grpcPort}">`));
  const script = await get(served, '/dashboard/console.js');
  assert.equal(script.headers.get('cache-control'), 'no-cache');
  const etag = script.headers.get('etag');
  assert.ok(etag);
  const again = await get(served, '/dashboard/console.js', undefined, { 'if-none-match': etag });
  assert.equal(again.status, 304);
  assert.equal(again.text, '');
});

test('other paths under /dashboard are unknown paths: credentials first, then 404', async () => {
  for (const path of [
    '/dashboard/nope.js',
    '/dashboard/index.html',
    '/dashboard/../collections',
    '/dashboard%2F..%2Fcollections',
    '/dashboard/console.js/../../collections',
    '/dashboard/%2e%2e/collections',
  ]) {
    const open = await get(served, path);
    assert.equal(open.status, 401, `${path}: ${open.text}`);
    assert.equal(open.text, 'Must provide an API key or an Authorization bearer token', path);
    const known = await get(served, path, ROOT_KEY);
    assert.equal(known.status, 404, `${path}: ${known.text}`);
  }
});

test('with service.enable_static_content false, /dashboard is neither served nor open', async () => {
  for (const path of ['/dashboard', '/dashboard/console.js']) {
    const open = await get(disabled, path);
    assert.equal(open.status, 401, `${path}: ${open.text}`);
    const known = await get(disabled, path, ROOT_KEY);
    assert.equal(known.status, 404, path);
  }
  // The rest of the server is unchanged.
  assert.equal((await get(disabled, '/healthz')).status, 200);
  assert.equal((await get(disabled, '/collections', ROOT_KEY)).status, 200);
});
