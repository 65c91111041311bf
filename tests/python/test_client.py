"""The official Python client (qdrant-client 1.18.0, REST) against osprey.

Issue 2's user story end to end: construct the client, create collections,
upload 10,000 points with payloads, retrieve, scroll, count and search with
filters (checked against a brute-force oracle computed here, without numpy),
delete by filter, swap an alias, restart the server and check it all again.

Tests in this module run in file order and share one server and one data set;
later tests build on the state earlier ones leave (noted where it matters).
"""

from __future__ import annotations

import math
import random
import threading
import time
import warnings

import pytest
from qdrant_client import QdrantClient, models

N = 10_000
DIM = 8
SEED = 20_002
COLLECTION = "items"
CATS = ["a", "b", "c", "d", "e"]
COLOURS = ["red", "green", "blue", "black"]
EPS = 2e-3


def _generate():
    rng = random.Random(SEED)
    points = {}
    for i in range(N):
        tags = []
        for _ in range(rng.randrange(4)):
            t = rng.choice(COLOURS)
            if t not in tags:
                tags.append(t)
        payload = {
            "seq": i,
            "cat": rng.choice(CATS),
            "num": rng.randrange(1000),
            # Quarter steps are exact in binary, so JSON cannot blur them.
            "price": rng.randrange(400) / 4,
            "tags": tags,
            "meta": {"level": rng.randrange(10)},
        }
        vector = [rng.uniform(-1.0, 1.0) for _ in range(DIM)]
        points[i] = (vector, payload)
    return points


# Every point the collection should hold: id -> (vector, payload). Tests that
# change the collection update this, and the restart test checks against it.
EXPECTED = _generate()


def _cosine(a, b):
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(x * x for x in b))
    return sum(x * y for x, y in zip(a, b)) / (na * nb)


def _values(payload, key):
    """Values at a dotted path, Qdrant style: arrays match element by element."""
    cur = [payload]
    for part in key.split("."):
        cur = [c[part] for c in cur if isinstance(c, dict) and part in c]
    out = []
    for v in cur:
        out.extend(v if isinstance(v, list) else [v])
    return out


# (label, client filter, oracle predicate on the payload)
FILTERS = [
    (
        "match keyword",
        models.Filter(must=[models.FieldCondition(key="cat", match=models.MatchValue(value="b"))]),
        lambda p: p["cat"] == "b",
    ),
    (
        "match integer",
        models.Filter(must=[models.FieldCondition(key="num", match=models.MatchValue(value=500))]),
        lambda p: p["num"] == 500,
    ),
    (
        "match any",
        models.Filter(must=[models.FieldCondition(key="cat", match=models.MatchAny(any=["a", "c"]))]),
        lambda p: p["cat"] in ("a", "c"),
    ),
    (
        "match except",
        models.Filter(must=[models.FieldCondition(key="cat", match=models.MatchExcept(**{"except": ["a", "b"]}))]),
        lambda p: p["cat"] not in ("a", "b"),
    ),
    (
        "range",
        models.Filter(must=[models.FieldCondition(key="num", range=models.Range(gte=100, lt=300))]),
        lambda p: 100 <= p["num"] < 300,
    ),
    (
        "float range",
        models.Filter(must=[models.FieldCondition(key="price", range=models.Range(gt=25.5, lte=75.0))]),
        lambda p: 25.5 < p["price"] <= 75.0,
    ),
    (
        "nested key",
        models.Filter(must=[models.FieldCondition(key="meta.level", range=models.Range(gte=7))]),
        lambda p: p["meta"]["level"] >= 7,
    ),
    (
        "array value",
        models.Filter(must=[models.FieldCondition(key="tags", match=models.MatchValue(value="red"))]),
        lambda p: "red" in p["tags"],
    ),
    (
        "array any",
        models.Filter(must=[models.FieldCondition(key="tags", match=models.MatchAny(any=["green", "black"]))]),
        lambda p: any(t in ("green", "black") for t in p["tags"]),
    ),
    (
        "must_not",
        models.Filter(must_not=[models.FieldCondition(key="tags", match=models.MatchValue(value="red"))]),
        lambda p: "red" not in p["tags"],
    ),
    (
        "should",
        models.Filter(
            should=[
                models.FieldCondition(key="cat", match=models.MatchValue(value="a")),
                models.FieldCondition(key="num", range=models.Range(lt=50)),
            ]
        ),
        lambda p: p["cat"] == "a" or p["num"] < 50,
    ),
    (
        "is_empty",
        models.Filter(must=[models.IsEmptyCondition(is_empty=models.PayloadField(key="tags"))]),
        lambda p: len(p["tags"]) == 0,
    ),
    (
        "combined",
        models.Filter(
            must=[
                models.FieldCondition(key="cat", match=models.MatchAny(any=["d", "e"])),
                models.FieldCondition(key="price", range=models.Range(gte=10, lt=90)),
            ],
            must_not=[models.FieldCondition(key="meta.level", match=models.MatchValue(value=0))],
        ),
        lambda p: p["cat"] in ("d", "e") and 10 <= p["price"] < 90 and p["meta"]["level"] != 0,
    ),
]


def _check_ranking(points, query, predicate, limit, label):
    """The answer must be the true top-`limit` of passing points by cosine."""
    truth = {
        pid: _cosine(vec, query) for pid, (vec, payload) in EXPECTED.items() if predicate(payload)
    }
    best = sorted(truth.values(), reverse=True)[:limit]
    assert len(points) == len(best), f"[{label}] {len(points)} results, oracle has {len(best)}"
    seen = set()
    for rank, point in enumerate(points):
        assert point.id not in seen, f"[{label}] id {point.id} twice"
        seen.add(point.id)
        assert point.id in truth, f"[{label}] id {point.id} does not pass the filter"
        assert abs(point.score - truth[point.id]) < EPS, (
            f"[{label}] id {point.id}: score {point.score}, oracle {truth[point.id]}"
        )
        assert abs(point.score - best[rank]) < EPS, (
            f"[{label}] rank {rank}: score {point.score}, true score at that rank {best[rank]}"
        )


def _upload(client: QdrantClient, name: str, items: dict, batch: int = 500) -> None:
    ids = sorted(items)
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        result = client.upsert(
            collection_name=name,
            points=[
                models.PointStruct(id=i, vector=items[i][0], payload=items[i][1]) for i in chunk
            ],
            wait=True,
        )
        assert result.status == models.UpdateStatus.COMPLETED


def _scroll_all(client: QdrantClient, name: str, page: int = 1000):
    out = []
    offset = None
    while True:
        records, offset = client.scroll(
            collection_name=name, limit=page, offset=offset, with_payload=True, with_vectors=False
        )
        assert len(records) <= page
        out.extend(records)
        if offset is None:
            return out


# ---------------------------------------------------------------- the flow


def test_client_construction_passes_version_check(server):
    """The client checks the server version in a background thread on
    construction and warns when it cannot read it or finds it incompatible;
    users would see that warning in every program."""
    before = set(threading.enumerate())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        c = QdrantClient(url=server.url, api_key=server.api_key, prefer_grpc=False)
        for t in set(threading.enumerate()) - before:
            t.join(timeout=30)
        info = c.info()
    c.close()
    relevant = [
        str(w.message)
        for w in caught
        if "insecure connection" not in str(w.message)  # plain HTTP on loopback is intended
    ]
    assert relevant == [], f"client warned on construction: {relevant}"
    assert info.version.startswith("1.18."), info.version


def test_create_collections_and_read_config(client):
    """create_collection with VectorParams and with named vectors; the config
    read back is what the user asked for."""
    assert client.create_collection(
        COLLECTION, vectors_config=models.VectorParams(size=DIM, distance=models.Distance.COSINE)
    )
    assert client.collection_exists(COLLECTION)
    info = client.get_collection(COLLECTION)
    assert info.status == models.CollectionStatus.GREEN
    assert info.points_count == 0
    assert info.config.params.vectors.size == DIM
    assert info.config.params.vectors.distance == models.Distance.COSINE

    assert client.create_collection(
        "multi",
        vectors_config={
            "image": models.VectorParams(size=4, distance=models.Distance.DOT),
            "text": models.VectorParams(size=3, distance=models.Distance.EUCLID),
        },
    )
    vectors = client.get_collection("multi").config.params.vectors
    assert vectors["image"].size == 4 and vectors["image"].distance == models.Distance.DOT
    assert vectors["text"].size == 3 and vectors["text"].distance == models.Distance.EUCLID
    names = {c.name for c in client.get_collections().collections}
    assert {COLLECTION, "multi"} <= names

    # Named vectors work end to end through the client too.
    client.upsert(
        "multi",
        points=[models.PointStruct(id=1, vector={"image": [1, 0, 0, 0], "text": [0, 1, 0]})],
        wait=True,
    )
    got = client.query_points("multi", query=[1, 0, 0, 0], using="image", limit=1, with_vectors=True)
    assert got.points[0].id == 1
    assert got.points[0].vector["text"] == [0, 1, 0]


def test_upload_10k_points(client):
    """10,000 points with payloads in batches, every one acknowledged as
    completed; the count and the collection info agree."""
    started = time.monotonic()
    _upload(client, COLLECTION, EXPECTED)
    elapsed = time.monotonic() - started
    assert client.count(COLLECTION, exact=True).count == N
    assert client.get_collection(COLLECTION).points_count == N
    print(f"uploaded {N} points in {elapsed:.1f}s")


def test_retrieve(client):
    """retrieve returns exactly the asked-for ids with their payloads, and the
    stored cosine vector is the normalised input."""
    ids = [0, 17, 4242, 9999, 123_456]  # the last does not exist
    records = client.retrieve(COLLECTION, ids=ids, with_payload=True, with_vectors=True)
    assert sorted(r.id for r in records) == [0, 17, 4242, 9999]
    for r in records:
        vec, payload = EXPECTED[r.id]
        assert r.payload == payload
        norm = math.sqrt(sum(x * x for x in vec))
        assert all(abs(a - b / norm) < 1e-5 for a, b in zip(r.vector, vec))
    bare = client.retrieve(COLLECTION, ids=[17], with_payload=False, with_vectors=False)
    assert bare[0].payload is None and bare[0].vector is None


def test_scroll_through_all(client):
    """Paging with next_page_offset sees every point exactly once, in id order,
    with its payload."""
    records = _scroll_all(client, COLLECTION)
    assert [r.id for r in records] == sorted(EXPECTED)
    for r in records:
        assert r.payload == EXPECTED[r.id][1], f"payload of {r.id}"


@pytest.mark.parametrize("label,flt,pred", FILTERS, ids=[f[0] for f in FILTERS])
def test_count_with_filters(client, label, flt, pred):
    """count(exact) with each filter equals the oracle's count."""
    want = sum(1 for _, (_, p) in EXPECTED.items() if pred(p))
    assert client.count(COLLECTION, count_filter=flt, exact=True).count == want


@pytest.mark.parametrize("label,flt,pred", FILTERS, ids=[f[0] for f in FILTERS])
def test_query_points_with_filters(client, label, flt, pred):
    """query_points with a filter returns the true nearest passing points."""
    rng = random.Random(label)
    query = [rng.uniform(-1, 1) for _ in range(DIM)]
    res = client.query_points(COLLECTION, query=query, query_filter=flt, limit=10, with_payload=True)
    _check_ranking(res.points, query, pred, 10, label)
    for p in res.points:
        assert p.payload == EXPECTED[p.id][1]


@pytest.mark.parametrize("label,flt,pred", FILTERS[:6], ids=[f[0] for f in FILTERS[:6]])
def test_search_endpoint_with_filters(client, label, flt, pred):
    """The classic /points/search route through the client's REST API object."""
    rng = random.Random(len(label))
    query = [rng.uniform(-1, 1) for _ in range(DIM)]
    res = client.http.search_api.search_points(
        collection_name=COLLECTION,
        search_request=models.SearchRequest(vector=query, filter=flt, limit=7, with_payload=False),
    )
    _check_ranking(res.result, query, pred, 7, label)


def test_delete_by_filter(client):
    """delete with a FilterSelector removes exactly the matching points.
    (Changes EXPECTED for the tests that follow.)"""
    flt = models.Filter(
        must=[
            models.FieldCondition(key="cat", match=models.MatchValue(value="a")),
            models.FieldCondition(key="num", range=models.Range(lt=500)),
        ]
    )
    doomed = [i for i, (_, p) in EXPECTED.items() if p["cat"] == "a" and p["num"] < 500]
    assert doomed, "the data set must contain points to delete"
    result = client.delete(COLLECTION, points_selector=models.FilterSelector(filter=flt), wait=True)
    assert result.status == models.UpdateStatus.COMPLETED
    for i in doomed:
        del EXPECTED[i]
    assert client.count(COLLECTION, exact=True).count == len(EXPECTED)
    assert client.count(COLLECTION, count_filter=flt, exact=True).count == 0
    assert client.retrieve(COLLECTION, ids=doomed[:50]) == []


def test_alias_swap(client):
    """The blue/green pattern: an alias moves atomically from one collection to
    another and every call through it follows."""
    for name, n in (("blue", 3), ("green", 5)):
        client.create_collection(name, vectors_config=models.VectorParams(size=2, distance=models.Distance.DOT))
        client.upsert(
            name,
            points=[models.PointStruct(id=i, vector=[1.0, float(i)], payload={"from": name}) for i in range(n)],
            wait=True,
        )
    assert client.update_collection_aliases(
        change_aliases_operations=[
            models.CreateAliasOperation(create_alias=models.CreateAlias(collection_name="blue", alias_name="prod"))
        ]
    )
    assert client.count("prod").count == 3
    assert client.update_collection_aliases(
        change_aliases_operations=[
            models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name="prod")),
            models.CreateAliasOperation(create_alias=models.CreateAlias(collection_name="green", alias_name="prod")),
        ]
    )
    assert client.count("prod").count == 5
    aliases = {(a.alias_name, a.collection_name) for a in client.get_aliases().aliases}
    assert aliases == {("prod", "green")}
    assert [a.alias_name for a in client.get_collection_aliases("green").aliases] == ["prod"]
    assert client.get_collection_aliases("blue").aliases == []
    assert client.get_collection("prod").points_count == 5
    records, _ = client.scroll("prod", limit=10, with_payload=True)
    assert {r.payload["from"] for r in records} == {"green"}
    hit = client.query_points("prod", query=[0.0, 1.0], limit=1, with_payload=True).points[0]
    assert hit.payload == {"from": "green"}


def test_payload_and_point_operations(client):
    """set / overwrite / delete / clear payload (including a nested `key`),
    vector update and delete by ids, through the client's own methods."""
    name = "ops"
    client.create_collection(name, vectors_config=models.VectorParams(size=2, distance=models.Distance.DOT))
    client.upsert(
        name,
        points=[
            models.PointStruct(id=1, vector=[1.0, 0.0], payload={"a": 1, "obj": {"x": 1}}),
            models.PointStruct(id=2, vector=[0.0, 1.0], payload={"a": 2}),
            models.PointStruct(id="3f2504e0-4f89-11d3-9a0c-0305e82c3301", vector=[1.0, 1.0], payload={"a": 3}),
        ],
        wait=True,
    )
    client.set_payload(name, payload={"b": True}, points=[1, 2], wait=True)
    client.set_payload(name, payload={"y": 2}, points=[1], key="obj", wait=True)
    assert client.retrieve(name, ids=[1])[0].payload == {"a": 1, "obj": {"x": 1, "y": 2}, "b": True}
    client.overwrite_payload(name, payload={"only": 1}, points=[2], wait=True)
    assert client.retrieve(name, ids=[2])[0].payload == {"only": 1}
    client.delete_payload(name, keys=["a", "obj.x"], points=[1], wait=True)
    assert client.retrieve(name, ids=[1])[0].payload == {"obj": {"y": 2}, "b": True}
    client.clear_payload(name, points_selector=models.PointIdsList(points=[1]), wait=True)
    assert client.retrieve(name, ids=[1])[0].payload in ({}, None)
    client.update_vectors(name, points=[models.PointVectors(id=2, vector=[5.0, 5.0])], wait=True)
    assert client.retrieve(name, ids=[2], with_vectors=True)[0].vector == [5.0, 5.0]
    got = client.retrieve(name, ids=["3F2504E0-4F89-11D3-9A0C-0305E82C3301"])
    assert [r.id for r in got] == ["3f2504e0-4f89-11d3-9a0c-0305e82c3301"], "UUIDs come back canonical"
    client.delete(name, points_selector=models.PointIdsList(points=[2, "3f2504e0-4f89-11d3-9a0c-0305e82c3301"]), wait=True)
    assert client.count(name).count == 1


def test_get_collection_fields(client):
    """get_collection parses into the client's model with the fields users read."""
    info = client.get_collection(COLLECTION)
    assert info.status == models.CollectionStatus.GREEN
    assert info.optimizer_status == models.OptimizersStatusOneOf.OK
    assert info.points_count == len(EXPECTED)
    assert info.segments_count >= 1
    assert info.config.params.vectors.size == DIM
    assert info.config.params.vectors.distance == models.Distance.COSINE
    assert isinstance(info.payload_schema, dict)


def test_restart_keeps_everything(server, client):
    """After a graceful restart on the same storage the same client sees every
    collection, point, payload and alias as before, and filtered reads still
    match the oracle."""
    server.restart()
    names = {c.name for c in client.get_collections().collections}
    assert {COLLECTION, "multi", "blue", "green"} <= names
    assert client.count(COLLECTION, exact=True).count == len(EXPECTED)
    records = _scroll_all(client, COLLECTION, page=777)
    assert [r.id for r in records] == sorted(EXPECTED)
    for r in records:
        assert r.payload == EXPECTED[r.id][1], f"payload of {r.id} after restart"
    for label, flt, pred in FILTERS:
        want = sum(1 for _, (_, p) in EXPECTED.items() if pred(p))
        assert client.count(COLLECTION, count_filter=flt, exact=True).count == want, label
    assert client.count("prod").count == 5
    assert {(a.alias_name, a.collection_name) for a in client.get_aliases().aliases} == {("prod", "green")}
    info = client.get_collection(COLLECTION)
    assert info.points_count == len(EXPECTED)
    assert info.config.params.vectors.size == DIM
    multi = client.get_collection("multi").config.params.vectors
    assert multi["image"].size == 4 and multi["text"].distance == models.Distance.EUCLID
    for label, flt, pred in FILTERS:
        rng = random.Random(label)
        query = [rng.uniform(-1, 1) for _ in range(DIM)]
        res = client.query_points(COLLECTION, query=query, query_filter=flt, limit=10)
        _check_ranking(res.points, query, pred, 10, label + " after restart")
