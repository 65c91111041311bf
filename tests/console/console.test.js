// The web console at /dashboard, in headless Chromium, against the real
// server binary: what a person does with it, and whether the keys it makes
// reach exactly what they say when the test then uses them over REST.
//
// One server for the file (a known root key and a read-only key), one
// Chromium, and one page for the main story, whose steps build on each
// other in order: sign in, create a read-only key, a collection-scoped key
// (keyboard only), a payload-restricted key, look at the collections,
// revoke, turn granular access off and on. Separate browser contexts cover
// refused sign-ins and the phone width. Every state is saved as a
// screenshot in test-artifacts/console/.
//
// Every page is watched throughout: a request to another origin, a script
// error or a CSP violation fails the test it happens in.

import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { OspreyServer } from '../js/osprey-server.js';
import { accessibilityViolations, launch, screenshot, watch } from './browser.js';

const ROOT_KEY = 'console-root-key-0123456789-abcdefghij';
const READ_ONLY_KEY = 'console-read-only-key-9876543210';

const server = new OspreyServer({
  apiKey: ROOT_KEY,
  extraEnv: { QDRANT__SERVICE__READ_ONLY_API_KEY: READ_ONLY_KEY },
});

/** The REST API, from the test (not the page), with `key` in `api-key` or as a bearer token. */
async function rest(method, path, key, body, { bearer = false } = {}) {
  const headers = {};
  if (key !== undefined) headers[bearer ? 'authorization' : 'api-key'] = bearer ? `Bearer ${key}` : key;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(server.url + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: response.status, text, json };
}

async function ok(method, path, body) {
  const reply = await rest(method, path, ROOT_KEY, body);
  assert.equal(reply.status, 200, `${method} ${path}: ${reply.text}`);
  return reply.json.result;
}

const DOCS = 'docs';
const OTHER = 'other';
const POINTS = [
  { id: 1, vector: [1, 0, 0, 0], payload: { tenant: 'acme', n: 1 } },
  { id: 2, vector: [0, 1, 0, 0], payload: { tenant: 'acme', n: 2 } },
  { id: 3, vector: [0, 0, 1, 0], payload: { tenant: 'globex', n: 3 } },
  { id: 4, vector: [0, 0, 0, 1], payload: { tenant: 'globex', n: 4 } },
  { id: 5, vector: [0.5, 0.5, 0, 0], payload: { tenant: 'initech', n: 5 } },
];

let browser;
/** The main story's page, signed in from the second test on. */
let page;
let pageWatch;
const contexts = [];

async function newPage(options = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, ...options });
  contexts.push(context);
  const p = await context.newPage();
  p.setDefaultTimeout(15_000);
  return { page: p, watcher: watch(p, server.url) };
}

/** No WCAG 2.1 A/AA violation that axe-core can see, in the page's current state. */
async function assertAccessible(p, state) {
  const violations = await accessibilityViolations(p);
  assert.deepEqual(violations, [], `accessibility violations (${state}):\n${violations.join('\n')}`);
}

function assertClean(watcher) {
  assert.deepEqual(watcher.problems(), [], 'the page made outside requests or logged errors');
}

/** Keys created through the page, by role. */
const keys = {};

before(async () => {
  await server.start();
  await ok('PUT', `/collections/${DOCS}`, { vectors: { size: 4, distance: 'Cosine' } });
  await ok('PUT', `/collections/${DOCS}/points?wait=true`, { points: POINTS });
  await ok('PUT', `/collections/${OTHER}`, {
    vectors: { text: { size: 8, distance: 'Dot' }, image: { size: 2, distance: 'Euclid' } },
    sparse_vectors: { keywords: {} },
  });
  browser = await launch();
  ({ page, watcher: pageWatch } = await newPage());
  // Clipboard access for the Copy buttons (the page asks for nothing else).
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
});

after(async () => {
  for (const context of contexts) await context.close().catch(() => {});
  if (browser) await browser.close();
  await server.close();
});

afterEach(() => {
  if (pageWatch) assertClean(pageWatch);
});

async function signIn(p, key) {
  await p.goto(server.url + '/dashboard');
  await p.getByLabel('Root API key').fill(key);
  await p.getByRole('button', { name: 'Sign in' }).click();
}

async function session(p) {
  return await p.evaluate(() => ({
    session: { ...sessionStorage },
    local: { ...localStorage },
    cookie: document.cookie,
    url: location.href,
  }));
}

/** The row of the keys table for the key named `name`. */
function keyRow(p, name) {
  return p.locator('#keys-body tr', { has: p.locator('th', { hasText: new RegExp(`^${name}$`) }) });
}

test('a wrong root key is refused at sign-in, and so is a valid key that is not root', async () => {
  const { page: p, watcher } = await newPage();
  await p.goto(server.url + '/dashboard');
  await screenshot(p, 'sign-in');
  // The key field has focus and a label.
  assert.equal(await p.evaluate(() => document.activeElement.id), 'root-key');

  await p.getByLabel('Root API key').fill('not-the-root-key');
  await p.keyboard.press('Enter');
  const alert = p.locator('#sign-in-error');
  await alert.waitFor({ state: 'visible' });
  assert.match(await alert.textContent(), /The server refused this key \(401: Invalid API key or JWT\)/);
  assert.equal(await alert.getAttribute('role'), 'alert');
  assert.equal(await p.getByLabel('Root API key').getAttribute('aria-invalid'), 'true');
  assert.ok(await p.locator('#view-keys').isHidden());
  assert.deepEqual((await session(p)).session, {}, 'a refused key must not be kept');
  await screenshot(p, 'sign-in-wrong-key');
  await assertAccessible(p, 'sign-in with an error');

  // The read-only key is a valid credential, but key management needs root.
  await p.getByLabel('Root API key').fill(READ_ONLY_KEY);
  await p.getByRole('button', { name: 'Sign in' }).click();
  await p.locator('#sign-in-error', { hasText: '403' }).waitFor();
  assert.match(
    await alert.textContent(),
    /valid but is not the server's root key \(403: Forbidden: Root key required for key management\)/,
  );
  assert.deepEqual((await session(p)).session, {});
  await screenshot(p, 'sign-in-not-root');
  assertClean(watcher);
});

test('sign in with the root key: kept in sessionStorage only, and a reload stays signed in', async () => {
  await signIn(page, ROOT_KEY);
  await page.getByRole('heading', { name: 'API keys', level: 1 }).waitFor();
  await page.locator('#keys-empty').waitFor({ state: 'visible' });
  const stored = await session(page);
  assert.deepEqual(stored.session, { 'osprey.console-root-key': ROOT_KEY });
  assert.deepEqual(stored.local, {});
  assert.equal(stored.cookie, '');
  assert.ok(!stored.url.includes(ROOT_KEY));
  assert.equal(await page.getByLabel('Root API key').inputValue(), '', 'the form must not keep the key');
  assert.ok(await page.locator('#granular-off').isHidden(), 'new storage starts with granular access on');
  await screenshot(page, 'signed-in-no-keys');
  await assertAccessible(page, 'no keys yet');

  await page.reload();
  await page.getByRole('heading', { name: 'API keys', level: 1 }).waitFor();
  assert.ok(await page.locator('#view-sign-in').isHidden());
});

test('create a read-only key, read it off the page, and use it: reads pass, a write is 403', async () => {
  await page.getByRole('button', { name: 'Create API key' }).click();
  const dialog = page.getByRole('dialog', { name: 'Create API key' });
  await dialog.waitFor();
  // Defaults: 90 days, the Cluster tab, manage / write.
  assert.equal(await page.getByLabel('Expiration in days').inputValue(), '90');
  assert.equal(await page.getByRole('tab', { name: 'Cluster' }).getAttribute('aria-selected'), 'true');
  assert.ok(await page.getByLabel(/Manage \/ write/).isChecked());

  await page.getByLabel('Name').fill('reporting');
  await page.getByLabel(/Read-only/).check();
  await screenshot(dialog, 'create-read-only');
  await assertAccessible(page, 'create dialog, cluster tab');
  await page.getByRole('button', { name: 'Create', exact: true }).click();

  const created = page.locator('#created');
  await created.waitFor({ state: 'visible' });
  await page.locator('#created-warning', { hasText: 'It will not be shown again' }).waitFor();
  const key = await page.getByLabel(/API key “reporting”/).inputValue();
  assert.match(key, /^eyJhb[\w-]+\.[\w-]+\.[\w-]+$/, 'a granular key is a JWT');
  keys.reporting = key;
  await screenshot(page, 'created-read-only');
  await assertAccessible(page, 'the new key shown once');

  // The Copy button puts exactly the key on the clipboard.
  await page.getByRole('button', { name: 'Copy', exact: true }).click();
  await page.getByRole('button', { name: 'Copied', exact: true }).waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), key);

  // One snippet per client, each with this server's address and the new key,
  // in that client's own constructor.
  const url = server.url;
  const host = '127.0.0.1';
  const grpc = server.grpcPort;
  const expected = {
    curl: [`curl -s '${url}/collections'`, `--header 'api-key: ${key}'`],
    'curl (Bearer)': [`curl -s '${url}/collections'`, `--header 'Authorization: Bearer ${key}'`],
    Python: ['from qdrant_client import QdrantClient', `QdrantClient(url="${url}", api_key="${key}")`],
    TypeScript: [
      'import { QdrantClient } from "@qdrant/js-client-rest";',
      `new QdrantClient({ url: "${url}", apiKey: "${key}" })`,
    ],
    Rust: [`Qdrant::from_url("http://${host}:${grpc}")`, `.api_key("${key}")`, '.build()?;'],
    Java: [
      'new QdrantClient(',
      `QdrantGrpcClient.newBuilder("${host}", ${grpc}, false)`,
      `.withApiKey("${key}")`,
    ],
    'C#': [`new QdrantClient(host: "${host}", port: ${grpc}, https: false, apiKey: "${key}")`],
    Go: [
      'qdrant.NewClient(&qdrant.Config{',
      `Host:   "${host}",`,
      `Port:   ${grpc},`,
      `APIKey: "${key}",`,
      'UseTLS: false,',
    ],
  };
  const tabs = page.getByRole('tablist', { name: 'Code snippets' }).getByRole('tab');
  assert.deepEqual(await tabs.allTextContents(), Object.keys(expected));
  for (const [label, parts] of Object.entries(expected)) {
    await page.getByRole('tab', { name: label, exact: true }).click();
    const panel = page.getByRole('tabpanel', { name: label, exact: true });
    await panel.waitFor();
    const code = await panel.locator('pre code').textContent();
    for (const part of parts) assert.ok(code.includes(part), `${label} snippet lacks ${part}:\n${code}`);
    const id = await page.getByRole('tab', { name: label, exact: true }).getAttribute('id');
    await screenshot(panel, id);
  }
  // The gRPC port is the server's own, and the page says where it comes from.
  assert.match(await page.locator('#grpc-note').textContent(), new RegExp(`port ${grpc}, this server's configured service.grpc_port`));

  // Done: the dialog closes and nothing of the key stays in the page.
  await page.getByRole('button', { name: 'Done' }).click();
  await dialog.waitFor({ state: 'hidden' });
  // The key is wiped by the dialog's `close` event, a task queued after it hides.
  await page.waitForFunction(() => document.getElementById('new-key').value === '', null, { timeout: 5000 });
  assert.ok(!(await page.content()).includes(key), 'the key must not stay in the page');
  assert.ok(!JSON.stringify(await session(page)).includes(key), 'the new key must not be stored');
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Create API key');

  // The list shows it: postfix, access, 90 days, never used, active.
  const row = keyRow(page, 'reporting');
  await row.waitFor();
  assert.equal(await row.locator('[data-label=Postfix]').textContent(), `…${key.slice(-6)}`);
  assert.equal(await row.locator('[data-label=Access]').textContent(), 'Cluster: read-only');
  assert.equal(await row.locator('[data-label="Last used"]').textContent(), 'never');
  assert.equal(await row.locator('[data-label=Status]').textContent(), 'active');
  const expires = Date.parse(await row.locator('[data-label=Expires] time').getAttribute('datetime'));
  const days = (expires - Date.now()) / 86_400_000;
  assert.ok(days > 89.9 && days <= 90, `expires in ${days} days`);

  // The key from the page, used from here: reads pass, in both header forms.
  for (const bearer of [false, true]) {
    const listed = await rest('GET', '/collections', key, undefined, { bearer });
    assert.equal(listed.status, 200, listed.text);
    assert.deepEqual(listed.json.result.collections.map((c) => c.name).sort(), [DOCS, OTHER]);
  }
  const scrolled = await rest('POST', `/collections/${DOCS}/points/scroll`, key, { limit: 10 });
  assert.equal(scrolled.status, 200, scrolled.text);
  assert.equal(scrolled.json.result.points.length, POINTS.length);
  const write = await rest('PUT', `/collections/${DOCS}/points?wait=true`, key, {
    points: [{ id: 99, vector: [1, 1, 0, 0], payload: { tenant: 'acme' } }],
  });
  assert.equal(write.status, 403, write.text);
  const create = await rest('PUT', '/collections/not_allowed', key, { vectors: { size: 2, distance: 'Dot' } });
  assert.equal(create.status, 403, create.text);
  assert.equal((await rest('GET', `/collections/${DOCS}/points/99`, ROOT_KEY)).status, 404, 'the refused write changed nothing');
});

test('keyboard only: a collection-scoped key (read-write on one collection) reaches only that collection', async () => {
  const focused = () => page.evaluate(() => document.activeElement && (document.activeElement.id || document.activeElement.textContent));
  async function tabTo(id, limit = 30) {
    for (let i = 0; i < limit; i += 1) {
      if ((await page.evaluate(() => document.activeElement && document.activeElement.id)) === id) return;
      await page.keyboard.press('Tab');
    }
    assert.fail(`Tab never reached #${id}; focus is on ${await focused()}`);
  }
  // From the top of the page, as a keyboard user starts.
  await page.locator('#keys-title').focus();
  await tabTo('create-key');
  await page.keyboard.press('Enter');
  await page.getByRole('dialog', { name: 'Create API key' }).waitFor();
  assert.equal(await focused(), 'key-name', 'the dialog opens on its first field');

  await page.keyboard.type('ci deploy');
  await page.keyboard.press('Tab');
  assert.equal(await focused(), 'key-expires');
  await page.keyboard.press('Control+A');
  await page.keyboard.type('30');
  await page.keyboard.press('Tab');
  assert.equal(await focused(), 'tab-cluster', 'the selected access tab is next in the tab order');
  await page.keyboard.press('ArrowRight');
  assert.equal(await focused(), 'tab-collections');
  assert.equal(await page.locator('#tab-collections').getAttribute('aria-selected'), 'true');
  assert.ok(await page.locator('#panel-cluster').isHidden());
  await page.locator('.pick-check').first().waitFor();

  // Into the panel: the first collection (docs), checked with Space, then its access.
  await page.keyboard.press('Tab');
  const first = await page.evaluate(() => document.activeElement.dataset.collection);
  assert.equal(first, DOCS);
  await page.keyboard.press('Space');
  await page.keyboard.press('Tab');
  const access = await page.evaluate(() => {
    const a = document.activeElement;
    return { tag: a.tagName, label: a.labels[0].textContent, value: a.value };
  });
  assert.deepEqual(access, { tag: 'SELECT', label: `Access to ${DOCS}`, value: 'read' });
  await page.keyboard.press('ArrowDown');
  assert.equal(await page.evaluate(() => document.activeElement.value), 'read-write');
  await screenshot(page.getByRole('dialog', { name: 'Create API key' }), 'create-keyboard-collections');

  await tabTo('create-submit');
  await page.keyboard.press('Enter');
  await page.locator('#created').waitFor({ state: 'visible' });
  assert.equal(await focused(), 'created-title', 'focus moves to the shown key');
  const key = await page.locator('#new-key').inputValue();
  keys.ciDeploy = key;
  assert.equal(await page.locator('#copy-key').textContent(), 'Copy', 'no "Copied" left over from the last key');

  // The snippet tabs answer the arrow keys too.
  await tabTo('snippet-tab-curl');
  await page.keyboard.press('End');
  assert.equal(await focused(), 'snippet-tab-go');
  assert.ok(await page.locator('#snippet-panel-go').isVisible());
  assert.ok(await page.locator('#snippet-panel-curl').isHidden());
  await page.keyboard.press('ArrowRight');
  assert.equal(await focused(), 'snippet-tab-curl', 'arrows wrap around');
  await screenshot(page, 'created-keyboard');

  // Escape closes the dialog, forgets the key, and gives focus back.
  await page.keyboard.press('Escape');
  await page.locator('#create-dialog').waitFor({ state: 'hidden' });
  // The dialog's `close` event, which forgets the key, is a task queued after
  // the dialog hides: wait for it rather than race it.
  await page.waitForFunction(() => document.getElementById('new-key').value === '', null, { timeout: 5000 });
  assert.equal(await focused(), 'create-key');
  assert.equal(await page.locator('#new-key').inputValue(), '');

  const row = keyRow(page, 'ci deploy');
  await row.waitFor();
  assert.equal(await row.locator('[data-label=Access]').textContent(), `${DOCS}: read-write`);
  const expires = Date.parse(await row.locator('[data-label=Expires] time').getAttribute('datetime'));
  const days = (expires - Date.now()) / 86_400_000;
  assert.ok(days > 29.9 && days <= 30, `expires in ${days} days`);

  // What it reaches: docs, reads and writes; nothing of `other`; only docs listed.
  const listed = await rest('GET', '/collections', key);
  assert.equal(listed.status, 200, listed.text);
  assert.deepEqual(listed.json.result.collections.map((c) => c.name), [DOCS]);
  assert.equal((await rest('POST', `/collections/${DOCS}/points/scroll`, key, { limit: 10 })).status, 200);
  const write = await rest('PUT', `/collections/${DOCS}/points?wait=true`, key, {
    points: [{ id: 10, vector: [0.1, 0.2, 0.3, 0.4], payload: { tenant: 'acme', n: 10 } }],
  });
  assert.equal(write.status, 200, write.text);
  const other = await rest('GET', `/collections/${OTHER}`, key);
  assert.equal(other.status, 403, other.text);
  const drop = await rest('DELETE', `/collections/${DOCS}`, key);
  assert.equal(drop.status, 403, 'read-write on a collection is not manage');
});

test('a payload-restricted key sees and writes only points with its payload value', async () => {
  await page.getByRole('button', { name: 'Create API key' }).click();
  await page.getByLabel('Name').fill('tenant acme');
  await page.getByLabel('Expiration in days').fill('');
  await page.getByRole('tab', { name: 'Collections' }).click();
  await page.getByLabel(DOCS, { exact: true }).check();
  await page.getByLabel(`Access to ${DOCS}`).selectOption('read-write');
  await page.getByRole('button', { name: `Add payload condition on ${DOCS}` }).click();
  const condition = page.getByRole('group', { name: `Payload condition 1 on ${DOCS}` });
  assert.equal(await page.evaluate(() => document.activeElement.className), 'cond-key', 'focus goes to the new condition');
  await condition.getByLabel('Payload key').fill('tenant');
  await condition.getByLabel('Value').fill('acme');

  // A condition with no key is caught before anything is sent.
  await page.getByRole('button', { name: `Add payload condition on ${DOCS}` }).click();
  await page.getByRole('button', { name: 'Create', exact: true }).click();
  const error = page.locator('#create-error');
  await error.waitFor({ state: 'visible' });
  assert.match(await error.textContent(), /Give the payload key of each condition on docs/);
  await screenshot(page.getByRole('dialog', { name: 'Create API key' }), 'create-payload-missing-key');
  await page.getByRole('button', { name: `Remove condition 2 on ${DOCS}` }).click();
  await screenshot(page.getByRole('dialog', { name: 'Create API key' }), 'create-payload-restricted');
  await assertAccessible(page, 'create dialog, collections tab with a payload condition');

  await page.getByRole('button', { name: 'Create', exact: true }).click();
  await page.locator('#created').waitFor({ state: 'visible' });
  const key = await page.locator('#new-key').inputValue();
  keys.tenantAcme = key;
  await page.getByRole('button', { name: 'Done' }).click();

  const row = keyRow(page, 'tenant acme');
  await row.waitFor();
  assert.equal(
    await row.locator('[data-label=Access]').textContent(),
    `${DOCS}: read-write, only points where tenant = "acme"`,
  );
  assert.equal(await row.locator('[data-label=Expires]').textContent(), 'never');

  // Reads see only tenant = acme (ids 1 and 2, and 10 from the previous test).
  const scrolled = await rest('POST', `/collections/${DOCS}/points/scroll`, key, { limit: 100, with_payload: true });
  assert.equal(scrolled.status, 200, scrolled.text);
  const seen = scrolled.json.result.points.map((p) => p.id).sort((a, b) => a - b);
  assert.deepEqual(seen, [1, 2, 10]);
  assert.ok(scrolled.json.result.points.every((p) => p.payload.tenant === 'acme'));
  const hidden = await rest('GET', `/collections/${DOCS}/points/3`, key);
  assert.equal(hidden.status, 404, `another tenant's point is invisible: ${hidden.text}`);
  // Writes carrying the value pass; others are refused and change nothing.
  const mine = await rest('PUT', `/collections/${DOCS}/points?wait=true`, key, {
    points: [{ id: 20, vector: [0, 0.5, 0.5, 0], payload: { tenant: 'acme', n: 20 } }],
  });
  assert.equal(mine.status, 200, mine.text);
  const theirs = await rest('PUT', `/collections/${DOCS}/points?wait=true`, key, {
    points: [{ id: 21, vector: [0, 0.5, 0.5, 0], payload: { tenant: 'globex', n: 21 } }],
  });
  assert.equal(theirs.status, 403, theirs.text);
  assert.match(theirs.text, /Payload restriction on collection docs forbids this operation/);
  assert.equal((await rest('GET', `/collections/${DOCS}/points/21`, ROOT_KEY)).status, 404);
  assert.equal((await rest('GET', `/collections/${OTHER}`, key)).status, 403);
  await screenshot(page, 'keys-list');
});

test('collections: name, points, status and vectors, as the root key sees them', async () => {
  await page.getByRole('button', { name: 'Collections' }).click();
  await page.getByRole('heading', { name: 'Collections', level: 1 }).waitFor();
  assert.equal(await page.locator('#nav-collections').getAttribute('aria-current'), 'page');
  const docs = page.locator(`#collections-body tr[data-collection=${DOCS}]`);
  await docs.waitFor();
  const count = (await ok('POST', `/collections/${DOCS}/points/count`, { exact: true })).count;
  assert.equal(await docs.locator('[data-label=Points]').textContent(), String(count));
  assert.equal(await docs.locator('[data-label=Status]').textContent(), 'green');
  assert.equal(await docs.locator('[data-label=Vectors]').textContent(), '4 dims, Cosine');
  const other = page.locator(`#collections-body tr[data-collection=${OTHER}]`);
  // Named vectors in the server's order, then the sparse ones.
  const vectors = await other.locator('[data-label=Vectors] li').allTextContents();
  assert.deepEqual(vectors.slice(0, 2).sort(), ['image: 2 dims, Euclid', 'text: 8 dims, Dot']);
  assert.deepEqual(vectors.slice(2), ['keywords: sparse']);
  assert.equal(await other.locator('[data-label=Points]').textContent(), '0');
  await screenshot(page, 'collections');
  await assertAccessible(page, 'collections');
  await page.getByRole('button', { name: 'API keys' }).click();
  await keyRow(page, 'reporting').waitFor();
});

test('revoke asks first; once confirmed, the key is refused from the next request', async () => {
  const key = keys.reporting;
  const postfix = key.slice(-6);
  const revoke = page.getByRole('button', { name: `Revoke reporting (key ending ${postfix})` });

  // Cancelling (Escape) revokes nothing.
  await revoke.click();
  const confirm = page.getByRole('alertdialog', { name: 'Revoke “reporting”?' });
  await confirm.waitFor();
  assert.match(await confirm.textContent(), new RegExp(`The key ending ${postfix} will be refused from its next request`));
  assert.equal(await page.evaluate(() => document.activeElement.id), 'revoke-cancel', 'the safe choice has focus');
  await screenshot(page, 'revoke-confirm');
  await assertAccessible(page, 'revoke confirmation');
  await page.keyboard.press('Escape');
  await confirm.waitFor({ state: 'hidden' });
  assert.equal((await rest('GET', '/collections', key)).status, 200);

  await revoke.click();
  await confirm.getByRole('button', { name: 'Revoke' }).click();
  await confirm.waitFor({ state: 'hidden' });
  const row = keyRow(page, 'reporting');
  await row.locator('[data-label=Status]', { hasText: 'revoked' }).waitFor();
  assert.equal(await row.getByRole('button').count(), 0, 'a revoked key has nothing left to do');
  await screenshot(page, 'revoked');

  for (const bearer of [false, true]) {
    const refused = await rest('GET', '/collections', key, undefined, { bearer });
    assert.equal(refused.status, 401, refused.text);
    assert.equal(refused.text, 'Invalid JWT, stateful validation failed');
  }
  // The others still work.
  assert.equal((await rest('GET', '/collections', keys.ciDeploy)).status, 200);
});

test('granular access off: the page says so, shows the server refusing a new key, and Enable turns it on', async () => {
  // An admin key made while granular access is off (only the API can make one).
  await ok('PUT', '/api-keys/settings', { granular_access: false });
  const admin = await ok('POST', '/api-keys', { name: 'legacy admin', kind: 'admin' });
  assert.equal((await rest('GET', '/collections', keys.ciDeploy)).status, 401, 'granular keys are refused while off');

  await page.getByRole('button', { name: 'Refresh' }).first().click();
  const notice = page.getByRole('region', { name: 'Granular access is off' });
  await notice.waitFor();
  assert.match(await notice.textContent(), /Existing admin keys keep working/);
  await keyRow(page, 'legacy admin').waitFor();
  assert.equal(await keyRow(page, 'legacy admin').locator('[data-label=Access]').textContent(), 'Admin: full access');
  await screenshot(page, 'granular-off');
  await assertAccessible(page, 'granular access off, with keys of every status');

  // Creating a granular key now: the server refuses, and the page says why.
  await page.getByRole('button', { name: 'Create API key' }).click();
  await page.getByLabel('Name').fill('too early');
  await page.getByRole('button', { name: 'Create', exact: true }).click();
  const error = page.locator('#create-error');
  await error.waitFor({ state: 'visible' });
  assert.match(
    await error.textContent(),
    /^Creating the key failed\. The server answered 400 \(the request was refused\): Bad request: kind: granular keys need granular access/,
  );
  assert.ok(await page.locator('#created').isHidden());
  await screenshot(page.getByRole('dialog', { name: 'Create API key' }), 'create-refused-granular-off');
  await page.getByRole('button', { name: 'Cancel' }).click();

  await notice.getByRole('button', { name: 'Enable granular access' }).click();
  await notice.waitFor({ state: 'hidden' });
  assert.deepEqual(await ok('GET', '/api-keys/settings'), { granular_access: true });
  await screenshot(page, 'granular-enabled');
  // Live, no restart: granular keys work again, and the admin key kept working.
  assert.equal((await rest('GET', '/collections', keys.ciDeploy)).status, 200);
  const write = await rest('PUT', `/collections/${DOCS}/points?wait=true`, admin.key, {
    points: [{ id: 30, vector: [0, 0, 0.5, 0.5], payload: { tenant: 'admin' } }],
  });
  assert.equal(write.status, 200, write.text);
});

test('phone width: the list and the create dialog fit a 390 px screen', async () => {
  const { page: phone, watcher } = await newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  await signIn(phone, ROOT_KEY);
  await keyRow(phone, 'tenant acme').waitFor();
  const overflow = () => phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok((await overflow()) <= 0, `the page scrolls sideways by ${await overflow()} px`);
  // Rows become labelled cards: each cell shows its column name.
  const label = await keyRow(phone, 'tenant acme')
    .locator('[data-label=Access]')
    .evaluate((td) => getComputedStyle(td, '::before').content);
  assert.equal(label, '"Access"');
  await screenshot(phone, 'phone-keys', { fullPage: true });
  await assertAccessible(phone, 'phone: keys');

  await phone.getByRole('button', { name: 'Create API key' }).click();
  const dialog = phone.getByRole('dialog', { name: 'Create API key' });
  await dialog.waitFor();
  await phone.getByRole('tab', { name: 'Collections' }).click();
  await phone.getByLabel(DOCS, { exact: true }).check();
  await phone.getByRole('button', { name: `Add payload condition on ${DOCS}` }).click();
  const box = await dialog.boundingBox();
  assert.ok(box.x >= 0 && box.x + box.width <= 390, `the dialog spans ${box.x}..${box.x + box.width}`);
  await screenshot(phone, 'phone-create');
  await assertAccessible(phone, 'phone: create dialog');
  await phone.getByRole('button', { name: 'Cancel' }).click();

  await phone.getByRole('button', { name: 'Collections' }).click();
  await phone.locator(`#collections-body tr[data-collection=${OTHER}]`).waitFor();
  assert.ok((await overflow()) <= 0, 'the collections list scrolls sideways');
  await screenshot(phone, 'phone-collections', { fullPage: true });
  assertClean(watcher);
});

test("a key past its expiry is listed as expired (the page's clock moved 31 days on)", async () => {
  const { page: later, watcher } = await newPage();
  await later.clock.install({ time: Date.now() + 31 * 86_400_000 });
  await signIn(later, ROOT_KEY);
  await keyRow(later, 'ci deploy').waitFor();
  const status = async (name) => await keyRow(later, name).locator('[data-label=Status]').textContent();
  assert.equal(await status('ci deploy'), 'expired', 'made with a 30-day expiry');
  assert.equal(await status('reporting'), 'revoked', 'revocation wins over expiry');
  assert.equal(await status('tenant acme'), 'active', 'made with no expiry');
  // Expired keys can still be revoked; revoked ones offer nothing.
  assert.equal(await keyRow(later, 'ci deploy').getByRole('button', { name: /^Revoke ci deploy/ }).count(), 1);
  await screenshot(later, 'expired');
  await assertAccessible(later, 'keys of every status');
  assertClean(watcher);
});

test('sign out forgets the root key; a key that stops working mid-session ends the session', async () => {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  assert.deepEqual((await session(page)).session, {});
  assert.equal(await page.locator('#keys-body tr').count(), 0, 'nothing of the session stays on the page');
  await page.reload();
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  assert.ok(await page.locator('#view-keys').isHidden());
  await screenshot(page, 'signed-out');

  // A session whose stored key the server no longer takes (here: replaced
  // in sessionStorage by hand) goes back to sign-in with the reason.
  await page.evaluate(() => sessionStorage.setItem('osprey.console-root-key', 'a-key-the-server-never-had'));
  await page.reload();
  const alert = page.locator('#sign-in-error');
  await alert.waitFor({ state: 'visible' });
  assert.match(await alert.textContent(), /The server refused this key \(401/);
  assert.deepEqual((await session(page)).session, {});
});
