// The official TypeScript REST client (@qdrant/js-client-rest, pinned in
// package.json) against osprey, used exactly as a JavaScript application
// would: construct the client with an API key, create collections, upsert in
// both the list and the column ("batch") forms, read back with retrieve,
// scroll, count, query, search and recommend (checked against a brute-force
// oracle computed here), edit payloads, index a field, manage aliases and
// delete collections.
//
// One server for the file. Tests run in file order and share its state:
// later tests build on what earlier ones leave (noted where it matters).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { QdrantClient } from '@qdrant/js-client-rest';
// The module the client itself uses for its version check (same file URL, so
// the same module instance): spied on below to know when the check has run.
import { ClientVersion } from './node_modules/@qdrant/js-client-rest/dist/esm/client-version.js';

import { OspreyServer, bodyText, refusal } from './osprey-server.js';
import { cosine, euclid, makePoints, normalize, rank, values } from './data.js';

const ITEMS = 'js_items'; // one unnamed vector, Cosine
const NAMED = 'js_named'; // named vectors "text" (Cosine, 4) and "image" (Euclid, 3)
const DIM = 4;
const N = 60;
const TOL = 1e-4;

/** Every point ITEMS should hold: id -> { vector, payload }. Tests that change data update it. */
const ITEM_POINTS = makePoints(N, DIM, 20_018);
const expected = new Map(ITEM_POINTS.map((p) => [p.id, { vector: p.vector, payload: structuredClone(p.payload) }]));
const expectedPoints = () => [...expected].map(([id, p]) => ({ id, ...p }));

// NAMED: integer and UUID ids; the last point has no "image" vector at all.
const UUID_A = '5c56c793-69f3-4fbf-87e6-c4bf54c28c26';
const UUID_B = 'f0e1d2c3-b4a5-4697-8899-aabbccddeeff';
const NAMED_POINTS = makePoints(12, DIM, 7).map((p, i) => ({
  id: i === 3 ? UUID_A : i === 7 ? UUID_B : p.id,
  vector: i === 11 ? { text: p.vector } : { text: p.vector, image: p.vector.slice(0, 3).map((x) => x * 2) },
  payload: p.payload,
}));

const server = new OspreyServer();
/** The client built by the construction test and used by every later test. */
let client;

before(async () => {
  await server.start();
});

after(async () => {
  await server.close();
});

// ---------------------------------------------------------------- helpers

/**
 * Hits must follow the oracle's ranking: the i-th hit has the i-th best
 * score, and its own score is the oracle's score for that id (so near-ties may
 * swap, nothing else may).
 */
function assertRanking(hits, oracle, limit, offset = 0) {
  const want = oracle.slice(offset, offset + limit);
  assert.equal(hits.length, want.length, `expected ${want.length} hits, got ${hits.length}`);
  const byId = new Map(oracle.map((o) => [o.id, o.score]));
  assert.equal(new Set(hits.map((h) => h.id)).size, hits.length, 'duplicate ids in the result');
  hits.forEach((h, i) => {
    assert.ok(byId.has(h.id), `hit ${JSON.stringify(h.id)} is not a candidate`);
    assert.ok(Math.abs(h.score - want[i].score) < TOL, `hit ${i}: score ${h.score}, oracle ${want[i].score}`);
    assert.ok(Math.abs(h.score - byId.get(h.id)) < TOL, `hit ${h.id}: score ${h.score}, oracle ${byId.get(h.id)}`);
  });
}

function assertCompleted(result) {
  assert.equal(result.status, 'completed', JSON.stringify(result));
  assert.equal(typeof result.operation_id, 'number', JSON.stringify(result));
}

// (label, Qdrant filter, oracle predicate on the payload)
const FILTERS = [
  ['match keyword', { must: [{ key: 'cat', match: { value: 'b' } }] }, (p) => p.cat === 'b'],
  ['match integer', { must: [{ key: 'num', match: { value: 42 } }] }, (p) => p.num === 42],
  ['match any', { must: [{ key: 'cat', match: { any: ['a', 'c'] } }] }, (p) => ['a', 'c'].includes(p.cat)],
  ['match except', { must: [{ key: 'cat', match: { except: ['a', 'b'] } }] }, (p) => !['a', 'b'].includes(p.cat)],
  ['integer range', { must: [{ key: 'num', range: { gte: 20, lt: 60 } }] }, (p) => p.num >= 20 && p.num < 60],
  ['float range', { must: [{ key: 'price', range: { gt: 5.5, lte: 15 } }] }, (p) => p.price > 5.5 && p.price <= 15],
  ['nested key', { must: [{ key: 'meta.level', range: { gte: 7 } }] }, (p) => p.meta.level >= 7],
  ['array element', { must: [{ key: 'tags', match: { value: 'red' } }] }, (p) => p.tags.includes('red')],
  ['is_empty', { must: [{ is_empty: { key: 'tags' } }] }, (p) => p.tags.length === 0],
  ['must_not', { must_not: [{ key: 'cat', match: { value: 'd' } }] }, (p) => p.cat !== 'd'],
  [
    'should',
    { should: [{ key: 'tags', match: { value: 'blue' } }, { key: 'meta.level', range: { lte: 1 } }] },
    (p) => p.tags.includes('blue') || p.meta.level <= 1,
  ],
  [
    'has_id and range',
    { must: [{ has_id: [1, 2, 3, 10, 20, 30, 40, 50, 999] }, { key: 'num', range: { gte: 10 } }] },
    (p, id) => [1, 2, 3, 10, 20, 30, 40, 50].includes(id) && p.num >= 10,
  ],
];

const matching = (pred) => expectedPoints().filter((p) => pred(p.payload, p.id));

// ---------------------------------------------------------------- construction

// Protects: a user constructing the client with an API key sees no warning
// other than the client's own note about plain HTTP. The client checks the
// server version (GET /) in the background on construction and warns in every
// program when the version is missing, unparsable or more than one minor
// version away from 1.18, or when GET / fails.
test('client construction with apiKey passes the version check without warnings', async () => {
  const warnings = [];
  const { warn, debug } = console;
  const realIsCompatible = ClientVersion.isCompatible;
  let checked;
  const versionChecked = new Promise((resolve) => {
    checked = resolve;
  });
  console.warn = (...args) => {
    warnings.push(args.map(String).join(' '));
    if (/server version|compatib/i.test(String(args[0]))) checked('warned');
  };
  console.debug = (...args) => warnings.push('debug: ' + args.map(String).join(' '));
  const seen = [];
  ClientVersion.isCompatible = (clientVersion, serverVersion) => {
    const ok = realIsCompatible.call(ClientVersion, clientVersion, serverVersion);
    seen.push({ clientVersion, serverVersion, ok });
    // The client warns synchronously right after this returns; resolve after that.
    queueMicrotask(() => checked('checked'));
    return ok;
  };
  try {
    client = new QdrantClient({ url: server.url, apiKey: server.apiKey });
    let timer;
    const outcome = await Promise.race([
      versionChecked,
      new Promise((resolve) => {
        timer = setTimeout(resolve, 10_000, 'timed out');
      }),
    ]);
    clearTimeout(timer);
    assert.equal(outcome, 'checked', `version check: ${outcome}; warnings: ${JSON.stringify(warnings)}`);
  } finally {
    console.warn = warn;
    console.debug = debug;
    ClientVersion.isCompatible = realIsCompatible;
  }
  assert.equal(seen.length, 1);
  assert.equal(seen[0].clientVersion, '1.18.0');
  assert.ok(seen[0].ok, `client judged server version ${seen[0].serverVersion} incompatible`);
  const relevant = warnings.filter((w) => w !== 'Api key is used with unsecure connection.');
  assert.deepEqual(relevant, [], 'the client warned on construction');

  const info = await client.versionInfo();
  assert.equal(info.title, 'qdrant - vector search engine');
  assert.match(info.version, /^1\.18\.\d+$/);
});

// ---------------------------------------------------------------- collections

// Protects: createCollection with a single unnamed vector and with named
// vectors answers `result: true` (the client throws on a missing result).
test('createCollection with an unnamed vector and with named vectors', async () => {
  assert.equal(await client.createCollection(ITEMS, { vectors: { size: DIM, distance: 'Cosine' } }), true);
  assert.equal(
    await client.createCollection(NAMED, {
      vectors: { text: { size: DIM, distance: 'Cosine' }, image: { size: 3, distance: 'Euclid' } },
    }),
    true,
  );
});

// Protects: creating a collection that exists is refused with Qdrant's status
// for it, 409 Conflict (StorageError::AlreadyExists), body "Wrong input:
// Collection `js_items` already exists!"; applications (and clients) tell
// "already there" from a malformed request by the 409.
test('createCollection on an existing name is a 409 Conflict', async () => {
  const err = await refusal(() => client.createCollection(ITEMS, { vectors: { size: DIM, distance: 'Cosine' } }));
  assert.match(bodyText(err), /Collection `js_items` already exists!/);
  assert.equal(err.status, 409, bodyText(err));
});

// Protects: getCollections lists exactly the collections there are, and
// collectionExists answers { exists } for present and absent names.
test('getCollections and collectionExists', async () => {
  const { collections } = await client.getCollections();
  assert.deepEqual(collections.map((c) => c.name).sort(), [ITEMS, NAMED].sort());
  assert.deepEqual(await client.collectionExists(ITEMS), { exists: true });
  assert.deepEqual(await client.collectionExists(NAMED), { exists: true });
  assert.deepEqual(await client.collectionExists('js_nope'), { exists: false });
});

// Protects: getCollection echoes the vector configuration the client sent,
// reports an empty green collection and has the fields Qdrant always returns.
test('getCollection reports the configuration of a new collection', async () => {
  const info = await client.getCollection(ITEMS);
  assert.equal(info.status, 'green');
  assert.equal(info.optimizer_status, 'ok');
  assert.equal(info.points_count, 0);
  assert.equal(typeof info.segments_count, 'number');
  assert.equal(info.config.params.shard_number, 1);
  assert.equal(info.config.params.replication_factor, 1);
  assert.deepEqual(info.config.params.vectors, { size: DIM, distance: 'Cosine' });
  assert.deepEqual(info.payload_schema, {});
  for (const field of ['hnsw_config', 'optimizer_config', 'wal_config']) {
    assert.ok(info.config[field], `config.${field} missing: ${JSON.stringify(info.config)}`);
  }
  const named = await client.getCollection(NAMED);
  assert.deepEqual(named.config.params.vectors, {
    text: { size: DIM, distance: 'Cosine' },
    image: { size: 3, distance: 'Euclid' },
  });

  const err = await refusal(() => client.getCollection('js_nope'));
  assert.equal(err.status, 404, bodyText(err));
  assert.match(bodyText(err), /js_nope/);
});

// ---------------------------------------------------------------- upsert and reads

// Protects: upsert in the list-of-points form (client default wait=true)
// answers { operation_id, status: "completed" } and the points are counted at once.
test('upsert in the points form', async () => {
  assertCompleted(await client.upsert(ITEMS, { points: ITEM_POINTS.slice(0, 20) }));
  assert.deepEqual(await client.count(ITEMS), { count: 20 });
  // Named vectors, UUID ids and a point without the "image" vector.
  assertCompleted(await client.upsert(NAMED, { points: NAMED_POINTS }));
  assert.deepEqual(await client.count(NAMED), { count: NAMED_POINTS.length });

  // wait=false: accepted before it is applied; the next waited write orders after it.
  const quick = await client.upsert(ITEMS, { wait: false, points: [ITEM_POINTS[0]] });
  assert.equal(quick.status, 'acknowledged', JSON.stringify(quick));
  assertCompleted(await client.upsert(ITEMS, { points: [ITEM_POINTS[1]] }));
  assert.deepEqual(await client.count(ITEMS), { count: 20 });
});

// Protects: upsert in the column form ({ batch: { ids, vectors, payloads } }).
test('upsert in the batch form', async () => {
  const rest = ITEM_POINTS.slice(20);
  const result = await client.upsert(ITEMS, {
    batch: { ids: rest.map((p) => p.id), vectors: rest.map((p) => p.vector), payloads: rest.map((p) => p.payload) },
  });
  assertCompleted(result);
  assert.deepEqual(await client.count(ITEMS), { count: N });
  assert.equal((await client.getCollection(ITEMS)).points_count, N);
});

// Protects: upserting an existing id replaces the point whole (vector and
// payload), it does not merge payloads.
test('upsert replaces an existing point', async () => {
  const original = ITEM_POINTS[N - 1];
  assertCompleted(
    await client.upsert(ITEMS, { points: [{ id: original.id, vector: [1, 0, 0, 0], payload: { replaced: true } }] }),
  );
  const [rec] = await client.retrieve(ITEMS, { ids: [original.id], with_vector: true });
  assert.deepEqual(rec.payload, { replaced: true });
  assert.deepEqual(rec.vector, [1, 0, 0, 0]);
  // Put the original back (later tests compare with the oracle).
  assertCompleted(await client.upsert(ITEMS, { points: [original] }));
  assert.deepEqual(await client.count(ITEMS), { count: N });
});

// Protects: retrieve returns the requested points (absent ids are skipped),
// with full payload, payload selectors and the stored vector (normalized for
// Cosine); integer and UUID ids; named-vector selection.
test('retrieve by ids with payload and vector selectors', async () => {
  const recs = await client.retrieve(ITEMS, { ids: [5, 1, 60, 999], with_vector: true });
  assert.deepEqual(recs.map((r) => r.id).sort((a, b) => a - b), [1, 5, 60]);
  for (const r of recs) {
    const want = expected.get(r.id);
    assert.deepEqual(r.payload, want.payload);
    const n = normalize(want.vector);
    assert.equal(r.vector.length, DIM);
    r.vector.forEach((x, i) => assert.ok(Math.abs(x - n[i]) < 1e-6, `id ${r.id} vector ${r.vector} vs ${n}`));
  }

  const bare = await client.retrieve(ITEMS, { ids: [2], with_payload: false });
  assert.equal(bare.length, 1);
  assert.equal(bare[0].payload ?? null, null);
  assert.equal(bare[0].vector ?? null, null);

  const selected = await client.retrieve(ITEMS, { ids: [2], with_payload: ['cat', 'meta'] });
  const p2 = expected.get(2).payload;
  assert.deepEqual(selected[0].payload, { cat: p2.cat, meta: p2.meta });

  const excluded = await client.retrieve(ITEMS, { ids: [2], with_payload: { exclude: ['tags', 'meta'] } });
  const { tags, meta, ...rest } = p2;
  assert.deepEqual(excluded[0].payload, rest);

  const named = await client.retrieve(NAMED, { ids: [UUID_A, 1, UUID_B], with_vector: ['image'] });
  assert.deepEqual(named.map((r) => r.id).sort(), [1, UUID_A, UUID_B].sort());
  for (const r of named) {
    const want = NAMED_POINTS.find((p) => p.id === r.id);
    assert.deepEqual(Object.keys(r.vector), ['image']);
    r.vector.image.forEach((x, i) => assert.ok(Math.abs(x - want.vector.image[i]) < 1e-6));
  }
  // UUIDs in other spellings name the same point; ids come back canonical.
  const spelled = await client.retrieve(NAMED, { ids: [UUID_B.toUpperCase(), UUID_A.replaceAll('-', '')] });
  assert.deepEqual(spelled.map((r) => r.id).sort(), [UUID_A, UUID_B].sort());

  const noImage = NAMED_POINTS[11];
  const [partial] = await client.retrieve(NAMED, { ids: [noImage.id], with_vector: true });
  assert.deepEqual(Object.keys(partial.vector), ['text']);
});

// Protects: scroll pages through a filtered set in id order, `limit` per
// page, handing back next_page_offset until the last page (null).
test('scroll with a filter, page by page', async () => {
  const filter = { must_not: [{ key: 'cat', match: { value: 'a' } }] };
  const want = matching((p) => p.cat !== 'a').map((p) => p.id).sort((a, b) => a - b);
  assert.ok(want.length > 14, 'test data should give at least three pages');
  const got = [];
  let offset;
  let pages = 0;
  for (;;) {
    const page = await client.scroll(ITEMS, { filter, limit: 7, offset, with_payload: ['cat'] });
    pages += 1;
    assert.ok(page.points.length <= 7);
    for (const r of page.points) {
      assert.notEqual(r.payload.cat, 'a');
      assert.deepEqual(Object.keys(r.payload), ['cat']);
      assert.equal(r.vector ?? null, null);
      got.push(r.id);
    }
    if (page.next_page_offset == null) break;
    assert.equal(page.points.length, 7, 'a page before the last must be full');
    assert.equal(page.next_page_offset, want[got.length], 'next_page_offset is the id that opens the next page');
    offset = page.next_page_offset;
    assert.ok(pages < 20, 'scroll does not end');
  }
  assert.deepEqual(got, want);
  assert.equal(pages, Math.ceil(want.length / 7));
});

// Protects: scroll without a filter visits every point exactly once.
test('scroll through the whole collection', async () => {
  const got = [];
  let offset;
  do {
    const page = await client.scroll(ITEMS, { limit: 25, offset, with_payload: false });
    got.push(...page.points.map((r) => r.id));
    offset = page.next_page_offset;
  } while (offset != null);
  assert.deepEqual(got, [...expected.keys()].sort((a, b) => a - b));
});

// Protects: count (exact) agrees with the oracle for every filter kind.
test('count with filters', async () => {
  assert.deepEqual(await client.count(ITEMS, {}), { count: N });
  for (const [label, filter, pred] of FILTERS) {
    const { count } = await client.count(ITEMS, { filter, exact: true });
    assert.equal(count, matching(pred).length, `count, filter "${label}"`);
  }
});

// Protects: query (the universal endpoint) with a raw vector returns the
// nearest points in order, honours filter, limit and offset, and carries payload.
test('query with a vector and filters', async () => {
  const q = [0.3, -0.2, 0.9, 0.1];
  const all = rank(expectedPoints(), (p) => cosine(q, p.vector));
  const res = await client.query(ITEMS, { query: q, limit: 5, with_payload: true });
  assertRanking(res.points, all, 5);
  for (const h of res.points) assert.deepEqual(h.payload, expected.get(h.id).payload);
  // query's default is no payload and no vector.
  const plain = await client.query(ITEMS, { query: q, limit: 2 });
  for (const h of plain.points) {
    assert.equal(h.payload ?? null, null);
    assert.equal(h.vector ?? null, null);
  }

  const paged = await client.query(ITEMS, { query: q, limit: 5, offset: 3 });
  assertRanking(paged.points, all, 5, 3);

  const threshold = all[7].score - 1e-3;
  const above = await client.query(ITEMS, { query: q, limit: 50, score_threshold: threshold });
  assertRanking(above.points, all.filter((o) => o.score >= threshold), 50);

  for (const [label, filter, pred] of FILTERS) {
    const oracle = rank(matching(pred), (p) => cosine(q, p.vector));
    const { points } = await client.query(ITEMS, { query: q, filter, limit: 6 });
    assert.doesNotThrow(() => assertRanking(points, oracle, 6), `query, filter "${label}"`);
  }

  // No query: the matching points by id (filter-only "scroll" through query).
  const { points } = await client.query(ITEMS, { filter: FILTERS[0][1], limit: 4, with_payload: false });
  const want = matching(FILTERS[0][2]).map((p) => p.id).sort((a, b) => a - b).slice(0, 4);
  assert.deepEqual(points.map((p) => p.id), want);
});

// Protects: query with `using` picks the named vector, with that vector's
// distance (Euclid: smaller is better, score = distance), and skips points
// that lack it; UUID ids come back as strings.
test('query using a named vector', async () => {
  const qi = [0.5, -1, 0.25];
  const withImage = NAMED_POINTS.filter((p) => p.vector.image);
  const oracleImage = rank(withImage, (p) => euclid(qi, p.vector.image), false);
  const image = await client.query(NAMED, { query: qi, using: 'image', limit: 20, with_vector: ['image'] });
  assertRanking(image.points, oracleImage, 20);
  for (const h of image.points) assert.deepEqual(Object.keys(h.vector), ['image']);

  const qt = [1, 0.5, -0.5, 0];
  const oracleText = rank(NAMED_POINTS, (p) => cosine(qt, p.vector.text));
  const text = await client.query(NAMED, { query: qt, using: 'text', limit: 4 });
  assertRanking(text.points, oracleText, 4);

  const filtered = await client.query(NAMED, {
    query: qt,
    using: 'text',
    filter: { must: [{ has_id: [UUID_A, UUID_B, 2] }] },
    limit: 10,
  });
  const oracleIds = rank(
    NAMED_POINTS.filter((p) => [UUID_A, UUID_B, 2].includes(p.id)),
    (p) => cosine(qt, p.vector.text),
  );
  assertRanking(filtered.points, oracleIds, 10);

  // A vector name the collection does not have is a 400 (Qdrant: "Wrong input: Not existing vector name").
  const err = await refusal(() => client.query(NAMED, { query: qt, using: 'audio', limit: 3 }));
  assert.equal(err.status, 400, bodyText(err));
});

// Protects: the older search endpoint (which the client still exposes) with a
// plain vector, with a filter and score_threshold, and with the named form.
test('search with a vector, a filter and a named vector', async () => {
  const q = [-0.4, 0.8, 0.1, -0.3];
  const all = rank(expectedPoints(), (p) => cosine(q, p.vector));
  const hits = await client.search(ITEMS, { vector: q, limit: 7 });
  assertRanking(hits, all, 7);
  for (const h of hits) assert.deepEqual(h.payload, expected.get(h.id).payload); // client default with_payload=true
  assertRanking(await client.search(ITEMS, { vector: q, limit: 4, offset: 5 }), all, 4, 5);

  for (const [label, filter, pred] of FILTERS.slice(0, 6)) {
    const oracle = rank(matching(pred), (p) => cosine(q, p.vector));
    const got = await client.search(ITEMS, { vector: q, filter, limit: 5, with_payload: false });
    assert.doesNotThrow(() => assertRanking(got, oracle, 5), `search, filter "${label}"`);
  }

  const threshold = all[9].score - 1e-3;
  const above = await client.search(ITEMS, { vector: q, limit: 50, score_threshold: threshold });
  assertRanking(above, all.filter((o) => o.score >= threshold), 50);

  const qi = [0.1, 0.2, -0.3];
  const named = await client.search(NAMED, { vector: { name: 'image', vector: qi }, limit: 3 });
  const oracle = rank(
    NAMED_POINTS.filter((p) => p.vector.image),
    (p) => euclid(qi, p.vector.image),
    false,
  );
  assertRanking(named, oracle, 3);
});

// Protects: recommend with positive and negative examples (average_vector
// strategy: query = 2 * mean(positive) - mean(negative) of the stored,
// normalized vectors), examples excluded from the result, filters and `using`.
test('recommend from positive and negative examples', async () => {
  const stored = (id) => normalize(expected.get(id).vector);
  const mean = (vs) => vs[0].map((_, i) => vs.reduce((s, v) => s + v[i], 0) / vs.length);

  const positive = [3, 17];
  const negative = [40];
  const pos = mean(positive.map(stored));
  const neg = mean(negative.map(stored));
  const target = pos.map((x, i) => 2 * x - neg[i]);
  const candidates = expectedPoints().filter((p) => !positive.includes(p.id) && !negative.includes(p.id));
  const hits = await client.recommend(ITEMS, { positive, negative, limit: 6 });
  assertRanking(hits, rank(candidates, (p) => cosine(target, p.vector)), 6);

  const onlyPositive = await client.recommend(ITEMS, { positive, limit: 5, with_payload: false });
  assertRanking(
    onlyPositive,
    rank(
      expectedPoints().filter((p) => !positive.includes(p.id)),
      (p) => cosine(pos, p.vector),
    ),
    5,
  );

  const [, filter, pred] = FILTERS[5];
  const filtered = await client.recommend(ITEMS, { positive, negative, filter, limit: 4 });
  assertRanking(filtered, rank(candidates.filter((p) => pred(p.payload)), (p) => cosine(target, p.vector)), 4);

  // Named vector: recommend by "image" (Euclid), with a UUID example.
  const example = NAMED_POINTS.find((p) => p.id === UUID_A);
  const namedHits = await client.recommend(NAMED, { positive: [UUID_A], using: 'image', limit: 3 });
  const namedOracle = rank(
    NAMED_POINTS.filter((p) => p.vector.image && p.id !== UUID_A),
    (p) => euclid(example.vector.image, p.vector.image),
    false,
  );
  assertRanking(namedHits, namedOracle, 3);
});

// ---------------------------------------------------------------- payload edits

// Protects: setPayload merges keys into the payload of the selected points
// (by ids and by filter, and under a nested `key`); deletePayload removes
// only the named keys.
test('setPayload and deletePayload', async () => {
  assertCompleted(await client.setPayload(ITEMS, { payload: { flag: true, note: 'x' }, points: [1, 2] }));
  for (const r of await client.retrieve(ITEMS, { ids: [1, 2, 3] })) {
    const want = expected.get(r.id).payload;
    if (r.id === 3) assert.deepEqual(r.payload, want);
    else assert.deepEqual(r.payload, { ...want, flag: true, note: 'x' });
  }

  const byFilter = { must: [{ key: 'cat', match: { value: 'c' } }] };
  const cIds = matching((p) => p.cat === 'c').map((p) => p.id);
  assertCompleted(await client.setPayload(ITEMS, { payload: { flag: false }, filter: byFilter }));
  // Every "c" point now has flag=false (1 and 2 too, if they are "c"); the others keep theirs.
  assert.deepEqual(await client.count(ITEMS, { filter: { must: [{ key: 'flag', match: { value: false } }] } }), {
    count: cIds.length,
  });
  assert.deepEqual(await client.count(ITEMS, { filter: { must: [{ key: 'flag', match: { value: true } }] } }), {
    count: [1, 2].filter((id) => !cIds.includes(id)).length,
  });

  assertCompleted(await client.deletePayload(ITEMS, { keys: ['flag', 'note'], points: [1, 2, ...cIds] }));
  for (const r of await client.retrieve(ITEMS, { ids: [1, 2, ...cIds] })) {
    assert.deepEqual(r.payload, expected.get(r.id).payload, `payload of ${r.id} after deletePayload`);
  }

  // Nested: set meta.extra on point 4 without touching meta.level.
  assertCompleted(await client.setPayload(ITEMS, { payload: { extra: 'e' }, points: [4], key: 'meta' }));
  const [r4] = await client.retrieve(ITEMS, { ids: [4] });
  assert.deepEqual(r4.payload.meta, { ...expected.get(4).payload.meta, extra: 'e' });
  assertCompleted(await client.deletePayload(ITEMS, { keys: ['meta.extra'], points: [4] }));
  const [back] = await client.retrieve(ITEMS, { ids: [4] });
  assert.deepEqual(back.payload, expected.get(4).payload);

  // Naming a point that does not exist is a 404 (Qdrant: "No point with id 999 found").
  const err = await refusal(() => client.setPayload(ITEMS, { payload: { flag: true }, points: [999] }));
  assert.equal(err.status, 404, bodyText(err));
  assert.match(bodyText(err), /999/);
});

// Protects: createPayloadIndex (keyword and integer) is acknowledged, shows in
// getCollection's payload_schema with the indexed point count, and leaves
// filtered results unchanged.
test('createPayloadIndex', async () => {
  assertCompleted(await client.createPayloadIndex(ITEMS, { field_name: 'cat', field_schema: 'keyword', wait: true }));
  assertCompleted(await client.createPayloadIndex(ITEMS, { field_name: 'num', field_schema: 'integer', wait: true }));
  const { payload_schema } = await client.getCollection(ITEMS);
  assert.equal(payload_schema.cat?.data_type, 'keyword', JSON.stringify(payload_schema));
  assert.equal(payload_schema.cat.points, N);
  assert.equal(payload_schema.num?.data_type, 'integer', JSON.stringify(payload_schema));
  assert.equal(payload_schema.num.points, N);
  for (const [label, filter, pred] of FILTERS.slice(0, 5)) {
    const { count } = await client.count(ITEMS, { filter });
    assert.equal(count, matching(pred).length, `count with index, filter "${label}"`);
  }
});

// ---------------------------------------------------------------- aliases

// Protects: updateCollectionAliases (create, atomic swap, rename, delete),
// getAliases and getCollectionAliases, and that an alias works wherever a
// collection name does.
test('updateCollectionAliases and getAliases', async () => {
  const sortAliases = (xs) => [...xs].sort((a, b) => a.alias_name.localeCompare(b.alias_name));
  assert.equal(
    await client.updateCollectionAliases({ actions: [{ create_alias: { collection_name: ITEMS, alias_name: 'js_live' } }] }),
    true,
  );
  assert.deepEqual((await client.getAliases()).aliases, [{ alias_name: 'js_live', collection_name: ITEMS }]);
  assert.deepEqual((await client.getCollectionAliases(ITEMS)).aliases, [{ alias_name: 'js_live', collection_name: ITEMS }]);
  assert.deepEqual((await client.getCollectionAliases(NAMED)).aliases, []);
  assert.deepEqual(await client.count('js_live'), { count: N });
  const q = [0.3, -0.2, 0.9, 0.1];
  assertRanking((await client.query('js_live', { query: q, limit: 3 })).points, rank(expectedPoints(), (p) => cosine(q, p.vector)), 3);

  // Swap in one request: readers never see the alias missing.
  assert.equal(
    await client.updateCollectionAliases({
      actions: [
        { delete_alias: { alias_name: 'js_live' } },
        { create_alias: { collection_name: NAMED, alias_name: 'js_live' } },
        { create_alias: { collection_name: ITEMS, alias_name: 'js_old' } },
      ],
    }),
    true,
  );
  assert.deepEqual(await client.count('js_live'), { count: NAMED_POINTS.length });
  assert.deepEqual(sortAliases((await client.getAliases()).aliases), [
    { alias_name: 'js_live', collection_name: NAMED },
    { alias_name: 'js_old', collection_name: ITEMS },
  ]);

  assert.equal(
    await client.updateCollectionAliases({
      actions: [{ rename_alias: { old_alias_name: 'js_old', new_alias_name: 'js_previous' } }],
    }),
    true,
  );
  assert.deepEqual(sortAliases((await client.getAliases()).aliases), [
    { alias_name: 'js_live', collection_name: NAMED },
    { alias_name: 'js_previous', collection_name: ITEMS },
  ]);

  assert.equal(
    await client.updateCollectionAliases({ actions: [{ delete_alias: { alias_name: 'js_previous' } }] }),
    true,
  );
  assert.deepEqual((await client.getAliases()).aliases, [{ alias_name: 'js_live', collection_name: NAMED }]);
  // The alias name is not a collection.
  assert.deepEqual((await client.getCollections()).collections.map((c) => c.name).sort(), [ITEMS, NAMED].sort());
});

// ---------------------------------------------------------------- delete

// Protects: deleteCollection answers true, the collection (and the alias that
// pointed at it) is gone everywhere, and deleting a missing collection is not
// an error (Qdrant: 200 with result false). Uses the alias "js_live" -> NAMED
// left by the alias test.
test('deleteCollection', async () => {
  assert.equal(await client.deleteCollection(NAMED), true);
  assert.deepEqual(await client.collectionExists(NAMED), { exists: false });
  assert.deepEqual((await client.getCollections()).collections.map((c) => c.name), [ITEMS]);
  assert.deepEqual((await client.getAliases()).aliases, [], 'the alias of a deleted collection is deleted with it');
  const err = await refusal(() => client.getCollection(NAMED));
  assert.equal(err.status, 404, bodyText(err));
  const viaAlias = await refusal(() => client.count('js_live'));
  assert.equal(viaAlias.status, 404, bodyText(viaAlias));

  assert.equal(await client.deleteCollection(NAMED), false);

  // The other collection is untouched.
  assert.deepEqual(await client.count(ITEMS), { count: N });
  assert.equal(await client.deleteCollection(ITEMS), true);
  assert.deepEqual((await client.getCollections()).collections, []);
});

// ---------------------------------------------------------------- shard keys

// Protects: custom sharding through the TypeScript client: shard keys are
// created and listed, writes and reads take `shard_key`, points come back
// with their key, a write without a key is refused with Qdrant's message, and
// deleting a key deletes its points.
test('custom sharding: createShardKey, shard_key on writes and reads, deleteShardKey', async () => {
  const name = 'js_tenants';
  await client.createCollection(name, { vectors: { size: DIM, distance: 'Dot' }, sharding_method: 'custom' });
  assert.equal(await client.createShardKey(name, { shard_key: 'north' }), true);
  assert.equal(await client.createShardKey(name, { shard_key: 12 }), true);
  assert.deepEqual(await client.listShardKeys(name), { shard_keys: [{ key: 'north' }, { key: 12 }] });

  const points = (from, n) => Array.from({ length: n }, (_, i) => ({ id: from + i, vector: [1, i, 0, 0], payload: { i } }));
  await client.upsert(name, { wait: true, points: points(1, 3), shard_key: 'north' });
  await client.upsert(name, { wait: true, points: points(10, 2), shard_key: 12 });
  assert.deepEqual(await client.count(name, { exact: true }), { count: 5 });
  assert.deepEqual(await client.count(name, { exact: true, shard_key: 12 }), { count: 2 });

  const hits = await client.query(name, { query: [1, 1, 0, 0], limit: 10, shard_key: 'north' });
  assert.deepEqual(hits.points.map((p) => p.id).sort((a, b) => a - b), [1, 2, 3]);
  assert.ok(hits.points.every((p) => p.shard_key === 'north'), JSON.stringify(hits.points));

  const refused = await refusal(() => client.upsert(name, { wait: true, points: points(50, 1) }));
  assert.equal(refused.status, 400, bodyText(refused));
  assert.match(bodyText(refused), /No shards found for shard key/);

  assert.equal(await client.deleteShardKey(name, { shard_key: 12 }), true);
  assert.deepEqual(await client.count(name, { exact: true }), { count: 3 });
  assert.deepEqual(await client.listShardKeys(name), { shard_keys: [{ key: 'north' }] });
  assert.equal(await client.deleteCollection(name), true);
});
