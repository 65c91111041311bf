// API keys through the official TypeScript REST client: a wrong or missing
// key is refused with 401 before anything else happens, and the read-only key
// (QDRANT__SERVICE__READ_ONLY_API_KEY) reads everything but every write is a
// 403 that changes nothing.
//
// One server for the file, started with an admin key and a read-only key.
// The `before` hook seeds one collection (and an alias) with the admin key.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { QdrantClient } from '@qdrant/js-client-rest';

import { OspreyServer, bodyText, refusal } from './osprey-server.js';

const ADMIN_KEY = 'admin-key-for-js-client-tests-0123456789';
const READ_ONLY_KEY = 'read-only-key-for-js-client-tests-9876';
const DOCS = 'js_docs';

const server = new OspreyServer({
  apiKey: ADMIN_KEY,
  extraEnv: { QDRANT__SERVICE__READ_ONLY_API_KEY: READ_ONLY_KEY },
});

/**
 * A client for `apiKey` (none when undefined). The client's own note about an
 * API key over plain HTTP (intended here, on loopback) is kept out of the
 * output; the version check is covered by client.test.js.
 */
function connect(apiKey) {
  const { warn } = console;
  console.warn = (...args) => {
    if (args[0] !== 'Api key is used with unsecure connection.') warn(...args);
  };
  try {
    return new QdrantClient({ url: server.url, apiKey, checkCompatibility: false });
  } finally {
    console.warn = warn;
  }
}

const POINTS = [
  { id: 1, vector: [1, 0, 0, 0], payload: { name: 'one', n: 1 } },
  { id: 2, vector: [0, 1, 0, 0], payload: { name: 'two', n: 2 } },
  { id: 3, vector: [0, 0, 1, 0], payload: { name: 'three', n: 3 } },
  { id: 4, vector: [0.9, 0.1, 0, 0], payload: { name: 'four', n: 4 } },
  { id: 5, vector: [0.5, 0.5, 0.5, 0], payload: { name: 'five', n: 5 } },
];

let admin;

before(async () => {
  await server.start();
  admin = connect(ADMIN_KEY);
  await admin.createCollection(DOCS, { vectors: { size: 4, distance: 'Dot' } });
  await admin.upsert(DOCS, { points: POINTS });
  await admin.updateCollectionAliases({ actions: [{ create_alias: { collection_name: DOCS, alias_name: 'js_docs_alias' } }] });
});

after(async () => {
  await server.close();
});

// Protects: a wrong key is a 401 with Qdrant's reason on every kind of call,
// and the client surfaces it as an error carrying `status`.
test('a wrong apiKey is refused with 401', async () => {
  const c = connect('not-a-key');
  const calls = {
    getCollections: () => c.getCollections(),
    getCollection: () => c.getCollection(DOCS),
    count: () => c.count(DOCS),
    query: () => c.query(DOCS, { query: [1, 0, 0, 0], limit: 2 }),
    upsert: () => c.upsert(DOCS, { points: [{ id: 9, vector: [1, 1, 1, 1] }] }),
    deleteCollection: () => c.deleteCollection(DOCS),
  };
  for (const [name, call] of Object.entries(calls)) {
    const err = await refusal(call);
    assert.equal(err.status, 401, `${name}: ${err.status} ${bodyText(err)}`);
    assert.match(bodyText(err), /Invalid API key or JWT/, name);
  }
  // The server's root (version) stays public, so the client's version check works with any key.
  assert.match((await c.versionInfo()).version, /^1\.18\./);
  assert.deepEqual(await admin.count(DOCS), { count: POINTS.length });
});

// Protects: no key at all is a 401 too (Qdrant: "Must provide an API key or
// an Authorization bearer token").
test('a missing apiKey is refused with 401', async () => {
  const c = connect(undefined);
  const err = await refusal(() => c.getCollections());
  assert.equal(err.status, 401, bodyText(err));
  assert.match(bodyText(err), /Must provide an API key/);
});

// Protects: the read-only key can use every read call of the client.
test('the read-only key reads', async () => {
  const ro = connect(READ_ONLY_KEY);
  assert.deepEqual((await ro.getCollections()).collections, [{ name: DOCS }]);
  assert.deepEqual(await ro.collectionExists(DOCS), { exists: true });
  assert.equal((await ro.getCollection(DOCS)).points_count, POINTS.length);
  assert.deepEqual(await ro.count(DOCS), { count: POINTS.length });
  assert.deepEqual(await ro.count('js_docs_alias', { filter: { must: [{ key: 'n', range: { gte: 3 } }] } }), { count: 3 });
  const [rec] = await ro.retrieve(DOCS, { ids: [2] });
  assert.deepEqual(rec.payload, POINTS[1].payload);
  assert.deepEqual(
    (await ro.scroll(DOCS, { limit: 10, with_payload: false })).points.map((p) => p.id),
    [1, 2, 3, 4, 5],
  );
  // Dot product with [1, 0, 0, 0]: 1 (1), 0.9 (4), 0.5 (5), then 0, 0.
  assert.deepEqual(
    (await ro.query(DOCS, { query: [1, 0, 0, 0], limit: 3 })).points.map((p) => p.id),
    [1, 4, 5],
  );
  assert.deepEqual(
    (await ro.search(DOCS, { vector: [0, 1, 0, 0], limit: 2 })).map((p) => p.id),
    [2, 5],
  );
  assert.deepEqual(
    (await ro.recommend(DOCS, { positive: [1], limit: 2 })).map((p) => p.id),
    [4, 5],
  );
  assert.deepEqual((await ro.getAliases()).aliases, [{ alias_name: 'js_docs_alias', collection_name: DOCS }]);
});

// Protects: every write with the read-only key is a 403 with Qdrant's reason
// ("Forbidden: Global manage access is required") and changes nothing.
test('the read-only key cannot write: 403', async () => {
  const ro = connect(READ_ONLY_KEY);
  const writes = {
    'upsert (points)': () => ro.upsert(DOCS, { points: [{ id: 7, vector: [1, 1, 1, 1] }] }),
    'upsert (batch)': () => ro.upsert(DOCS, { batch: { ids: [8], vectors: [[1, 1, 1, 1]] } }),
    delete: () => ro.delete(DOCS, { points: [1] }),
    setPayload: () => ro.setPayload(DOCS, { payload: { hacked: true }, points: [1] }),
    deletePayload: () => ro.deletePayload(DOCS, { keys: ['name'], points: [1] }),
    createPayloadIndex: () => ro.createPayloadIndex(DOCS, { field_name: 'name', field_schema: 'keyword', wait: true }),
    createCollection: () => ro.createCollection('js_new', { vectors: { size: 4, distance: 'Dot' } }),
    deleteCollection: () => ro.deleteCollection(DOCS),
    updateCollectionAliases: () =>
      ro.updateCollectionAliases({ actions: [{ delete_alias: { alias_name: 'js_docs_alias' } }] }),
  };
  for (const [name, call] of Object.entries(writes)) {
    const err = await refusal(call);
    assert.equal(err.status, 403, `${name}: ${err.status} ${bodyText(err)}`);
    assert.match(bodyText(err), /Forbidden: Global manage access is required/, name);
  }
  // Nothing changed.
  assert.deepEqual((await admin.getCollections()).collections, [{ name: DOCS }]);
  assert.deepEqual(await admin.count(DOCS), { count: POINTS.length });
  const recs = await admin.retrieve(DOCS, { ids: [1, 2, 3, 4, 5] });
  assert.deepEqual(
    recs.sort((a, b) => a.id - b.id).map((r) => r.payload),
    POINTS.map((p) => p.payload),
  );
  assert.deepEqual((await admin.getCollection(DOCS)).payload_schema, {});
  assert.deepEqual((await admin.getAliases()).aliases, [{ alias_name: 'js_docs_alias', collection_name: DOCS }]);
});
