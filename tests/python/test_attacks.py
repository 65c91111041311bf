"""Regression tests for the four holes an attack probe found (issue 11).

Each attack is replayed as the probe sent it, with the official Python client
over REST and over gRPC (and with plain HTTP where the client cannot send the
hostile shape): it must fail with a clean 4xx answer, change nothing, and the
server must restart cleanly afterwards with every collection readable.

1. Point ids hidden in `prefetch` (nested, and inside recommend / discover /
   context queries) must pass a payload-restricted key's restriction.
2. A restricted field holds exactly the restricted value: an array that
   contains it is neither accepted on write nor seen on read.
3. Key paths, payloads, filters and prefetches nested without bound are
   refused with 400 before anything is written; the server stays up and
   restarts.
4. Telemetry and collection cluster info give a restricted key the figures of
   its own view, not the collection's totals.
"""

from __future__ import annotations

import pytest
import requests
from qdrant_client import models
from qdrant_client import grpc as qdrant_grpc

from conftest import OspreyServer
from test_keys import connect, refusal

ADMIN_KEY = "admin-key-for-python-attack-regressions-0123456789"
TRANSPORTS = ["rest", "grpc"]
DIM = 4
MINE = [1, 2, 3]
THEIRS = [10, 11, 12]


@pytest.fixture(scope="module")
def srv():
    server = OspreyServer(extra_env={"QDRANT__SERVICE__API_KEY": ADMIN_KEY})
    server.api_key = ADMIN_KEY
    server.start()
    yield server
    server.close()


def api(srv: OspreyServer, method: str, path: str, key: str = ADMIN_KEY, **kwargs) -> requests.Response:
    return requests.request(method, srv.url + path, headers={"api-key": key}, timeout=30, **kwargs)


def ok(response: requests.Response):
    assert response.status_code == 200, f"{response.status_code}: {response.text}"
    return response.json()["result"]


def vector(pid: int) -> list[float]:
    return [float(pid), 1.0, 0.5, 0.25]


def tenant_collection(srv: OspreyServer, name: str) -> str:
    """A collection with tenant `acme` points MINE and tenant `other` points
    THEIRS, and a read-write key bound to `tenant = acme`; returns the key."""
    admin = connect(srv, ADMIN_KEY)
    try:
        if admin.collection_exists(name):
            admin.delete_collection(name)
        admin.create_collection(name, vectors_config=models.VectorParams(size=DIM, distance=models.Distance.DOT))
        points = [models.PointStruct(id=i, vector=vector(i), payload={"tenant": "acme", "n": i}) for i in MINE]
        points += [models.PointStruct(id=i, vector=vector(i), payload={"tenant": "other", "n": i}) for i in THEIRS]
        admin.upsert(name, points=points, wait=True)
        admin.create_payload_index(name, field_name="tenant", field_schema=models.PayloadSchemaType.KEYWORD, wait=True)
    finally:
        admin.close()
    rule = {"collection_access": {"collection_name": name, "access_type": "read-write", "payload": {"tenant": "acme"}}}
    return ok(api(srv, "POST", "/api-keys", json={"name": f"acme {name}", "access_rules": [rule]}))["key"]


def forbidden(name: str) -> tuple[int, str]:
    return 403, f"Forbidden: Payload restriction on collection {name} forbids this operation"


# ---------------------------------------------------------------------------
# 1. Ids inside prefetch
# ---------------------------------------------------------------------------


# Protects against reading another tenant's vector through the scores of a
# query whose prefetch (at any depth, in any query kind) names that tenant's
# point by id: every such request is refused with §15's message, over
# query, query/batch and query/groups, REST and gRPC; the key's own ids work.
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_ids_in_prefetch_must_pass_the_restriction(srv, transport):
    name = f"atk_prefetch_{transport}"
    key = tenant_collection(srv, name)
    theirs = THEIRS[0]
    c = connect(srv, key, transport)
    try:
        hostile = {
            "nearest id": models.Prefetch(query=theirs, limit=5),
            "nested nearest id": models.Prefetch(prefetch=[models.Prefetch(query=theirs, limit=5)], limit=5),
            "deeply nested": models.Prefetch(
                prefetch=models.Prefetch(prefetch=models.Prefetch(query=models.NearestQuery(nearest=theirs)))
            ),
            "recommend": models.Prefetch(
                query=models.RecommendQuery(recommend=models.RecommendInput(positive=[MINE[0]], negative=[theirs]))
            ),
            "discover": models.Prefetch(
                query=models.DiscoverQuery(
                    discover=models.DiscoverInput(
                        target=MINE[0], context=[models.ContextPair(positive=theirs, negative=MINE[1])]
                    )
                )
            ),
            "context": models.Prefetch(
                query=models.ContextQuery(context=[models.ContextPair(positive=MINE[0], negative=theirs)])
            ),
        }
        for label, prefetch in hostile.items():
            assert refusal(
                lambda: c.query_points(name, prefetch=[prefetch], query=vector(1), with_vectors=True, limit=3)
            ) == forbidden(name), label
            assert refusal(
                lambda: c.query_batch_points(
                    name, requests=[models.QueryRequest(prefetch=[prefetch], query=vector(1), limit=3)]
                )
            ) == forbidden(name), label
            assert refusal(
                lambda: c.query_points_groups(name, prefetch=[prefetch], query=vector(1), group_by="tenant", limit=3)
            ) == forbidden(name), label
        # An id that exists nowhere is refused the same way: no existence oracle.
        assert refusal(
            lambda: c.query_points(name, prefetch=[models.Prefetch(query=999)], query=vector(1), limit=3)
        ) == forbidden(name)
        # The key's own ids in a prefetch are fine, and the answer holds only
        # its points (the query's own id is left out, as in Qdrant).
        hits = c.query_points(
            name, prefetch=[models.Prefetch(prefetch=[models.Prefetch(query=MINE[0])], limit=10)], query=vector(1), limit=10
        ).points
        assert sorted(h.id for h in hits) == MINE[1:]
    finally:
        c.close()


# ---------------------------------------------------------------------------
# 2. Array values
# ---------------------------------------------------------------------------


# Protects the rule that a restricted field holds exactly the restricted
# value: a tenant cannot write `tenant: ["acme", "other"]` (upsert,
# set_payload, overwrite_payload, batch) to plant a point in another tenant's
# view, and a point planted that way by an unrestricted key is invisible to
# the tenant on every read path.
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_array_values_do_not_escape_the_tenant(srv, transport):
    name = f"atk_array_{transport}"
    key = tenant_collection(srv, name)
    both = ["acme", "other"]
    c = connect(srv, key, transport)
    admin = connect(srv, ADMIN_KEY)
    try:
        writes = {
            "upsert with an array": lambda: c.upsert(
                name, points=[models.PointStruct(id=20, vector=vector(20), payload={"tenant": both})], wait=True
            ),
            "upsert with a one-item array": lambda: c.upsert(
                name, points=[models.PointStruct(id=21, vector=vector(21), payload={"tenant": ["acme"]})], wait=True
            ),
            "set_payload re-tagging": lambda: c.set_payload(name, payload={"tenant": both}, points=[MINE[0]], wait=True),
            "overwrite_payload re-tagging": lambda: c.overwrite_payload(
                name, payload={"tenant": both}, points=[MINE[0]], wait=True
            ),
            "batch upsert": lambda: c.batch_update_points(
                name,
                update_operations=[
                    models.UpsertOperation(
                        upsert=models.PointsList(
                            points=[models.PointStruct(id=22, vector=vector(22), payload={"tenant": both})]
                        )
                    )
                ],
                wait=True,
            ),
        }
        for label, call in writes.items():
            assert refusal(call) == forbidden(name), label
        assert admin.count(name, exact=True).count == len(MINE) + len(THEIRS)
        assert admin.retrieve(name, ids=[MINE[0]], with_payload=True)[0].payload["tenant"] == "acme"

        # Planted by the admin: seen by no tenant key.
        planted = [
            models.PointStruct(id=30, vector=vector(30), payload={"tenant": both}),
            models.PointStruct(id=31, vector=vector(31), payload={"tenant": ["acme"]}),
        ]
        admin.upsert(name, points=planted, wait=True)
        seen, _ = c.scroll(name, limit=100)
        assert sorted(p.id for p in seen) == MINE
        assert c.count(name, exact=True).count == len(MINE)
        assert sorted(h.id for h in c.query_points(name, query=vector(1), limit=100).points) == MINE
        assert c.retrieve(name, ids=[30, 31]) == []
        assert refusal(lambda: c.query_points(name, query=30, limit=3)) == forbidden(name)
        assert [(h.value, h.count) for h in c.facet(name, key="tenant", exact=True).hits] == [("acme", len(MINE))]
        # Nor can it touch them.
        assert refusal(lambda: c.set_payload(name, payload={"x": 1}, points=[30], wait=True)) == forbidden(name)
        c.delete(name, points_selector=models.FilterSelector(filter=models.Filter()), wait=True)
        left = sorted(p.id for p in admin.scroll(name, limit=100)[0])
        assert left == sorted(THEIRS + [30, 31])
    finally:
        c.close()
        admin.close()


# ---------------------------------------------------------------------------
# 3. Unbounded nesting
# ---------------------------------------------------------------------------


def _deep_payload(depth: int) -> dict:
    payload: dict = {"leaf": 1}
    for _ in range(depth - 1):
        payload = {"a": payload}
    return payload


def _deep_filter(depth: int) -> dict:
    flt: dict = {"must": [{"key": "n", "match": {"value": 1}}]}
    for _ in range(depth - 1):
        flt = {"must": [flt]}
    return flt


# Protects availability: a set_payload `key` of thousands (or 200) segments,
# a payload nested 100 deep, a filter nested 40 deep and prefetches nested 40
# deep are refused with 400 and Qdrant's error shape over REST, and the key
# path over gRPC with INVALID_ARGUMENT; nothing is written, the server stays
# up, and it restarts cleanly with the data intact.
def test_unbounded_nesting_is_refused_and_restart_works(srv):
    name = "atk_nesting"
    tenant_collection(srv, name)
    for transport in TRANSPORTS:
        c = connect(srv, ADMIN_KEY, transport)
        try:
            for segments in (5000, 200):
                path = ".".join(["a"] * segments)
                code, message = refusal(lambda: c.set_payload(name, payload={"x": 1}, key=path, points=[1], wait=True))
                assert code == 400, (transport, segments, message)
                assert "Invalid" in message or "path" in message, message
            assert c.retrieve(name, ids=[1], with_payload=True)[0].payload == {"tenant": "acme", "n": 1}
        finally:
            c.close()

    deep_key = api(
        srv, "POST", f"/collections/{name}/points/payload?wait=true",
        json={"payload": {"x": 1}, "points": [1], "key": ".".join(["a"] * 5000)},
    )
    assert deep_key.status_code == 400, deep_key.text
    body = deep_key.json()
    assert set(body) == {"status", "time"} and body["status"]["error"].startswith("Wrong input: Invalid json path"), body

    deep_payload = api(
        srv, "PUT", f"/collections/{name}/points?wait=true",
        json={"points": [{"id": 40, "vector": vector(40), "payload": _deep_payload(100)}]},
    )
    assert deep_payload.status_code == 400, deep_payload.text
    assert "nested" in deep_payload.json()["status"]["error"]

    under_key = api(
        srv, "POST", f"/collections/{name}/points/payload?wait=true",
        json={"payload": _deep_payload(40), "points": [1], "key": ".".join(["k"] * 30)},
    )
    assert under_key.status_code == 400, under_key.text

    deep_filter = api(srv, "POST", f"/collections/{name}/points/count", json={"filter": _deep_filter(40), "exact": True})
    assert deep_filter.status_code == 400, deep_filter.text
    # Over gRPC the same filter (the client's protobuf encoder stops near 50 levels).
    grpc_filter = models.Filter(must=[models.FieldCondition(key="n", match=models.MatchValue(value=1))])
    for _ in range(39):
        grpc_filter = models.Filter(must=[grpc_filter])
    g = connect(srv, ADMIN_KEY, "grpc")
    try:
        code, message = refusal(lambda: g.count(name, count_filter=grpc_filter, exact=True))
        assert (code, "nested" in message) == (400, True), message
    finally:
        g.close()

    prefetch: dict = {"query": vector(1), "limit": 5}
    for _ in range(40):
        prefetch = {"prefetch": [prefetch], "limit": 5}
    deep_prefetch = api(srv, "POST", f"/collections/{name}/points/query", json={"prefetch": [prefetch], "query": vector(1)})
    assert deep_prefetch.status_code == 400, deep_prefetch.text

    # JSON deeper than the decoder allows: a clean 400, not a crash.
    very_deep = "[" * 100000 + "]" * 100000
    raw = requests.put(
        srv.url + f"/collections/{name}/points?wait=true",
        data=very_deep, headers={"api-key": ADMIN_KEY, "content-type": "application/json"}, timeout=30,
    )
    assert raw.status_code == 400, raw.text

    # Reasonable nesting still works.
    fine = api(
        srv, "POST", f"/collections/{name}/points/payload?wait=true",
        json={"payload": _deep_payload(10), "points": [2], "key": "meta.inner"},
    )
    assert fine.status_code == 200, fine.text

    assert ok(api(srv, "POST", f"/collections/{name}/points/count", json={"exact": True}))["count"] == 6
    srv.restart()
    assert ok(api(srv, "POST", f"/collections/{name}/points/count", json={"exact": True}))["count"] == 6
    stored = ok(api(srv, "GET", f"/collections/{name}/points/2"))["payload"]
    assert stored["meta"]["inner"] == _deep_payload(10)


# ---------------------------------------------------------------------------
# 4. Telemetry totals
# ---------------------------------------------------------------------------


# Protects tenants' privacy of volume: `/telemetry` and the collection's
# cluster info (REST and gRPC) report to a payload-restricted key the number
# of points it can see, never the collection's total.
def test_restricted_keys_see_only_their_own_figures(srv):
    name = "atk_telemetry"
    key = tenant_collection(srv, name)
    telemetry = ok(api(srv, "GET", "/telemetry", key=key))
    collections = telemetry["collections"]["collections"]
    assert [col["id"] for col in collections] == [name]
    local = collections[0]["shards"][0]["local"]
    assert local["num_points"] == len(MINE), local
    assert "requests" not in telemetry
    # Cluster info is refused to restricted keys outright (an extras route).
    cluster = api(srv, "GET", f"/collections/{name}/cluster", key=key)
    assert cluster.status_code == 403, cluster.text
    # The admin still sees the totals.
    admin_telemetry = ok(api(srv, "GET", "/telemetry"))
    totals = {col["id"]: col["shards"][0]["local"]["num_points"] for col in admin_telemetry["collections"]["collections"]}
    assert totals[name] == len(MINE) + len(THEIRS)
    c = connect(srv, key, "grpc")
    try:
        code, _ = refusal(
            lambda: c.grpc_collections.CollectionClusterInfo(
                qdrant_grpc.CollectionClusterInfoRequest(collection_name=name), timeout=10
            )
        )
        assert code == 403
        # Collection info counts the key's own points only.
        assert c.get_collection(name).points_count == len(MINE)
    finally:
        c.close()


# Protects availability after the whole probe: once every attack above was
# tried, a clean restart brings every collection back, readable.
def test_restart_after_every_attack(srv):
    names = [c["name"] for c in ok(api(srv, "GET", "/collections"))["collections"]]
    counts = {n: ok(api(srv, "POST", f"/collections/{n}/points/count", json={"exact": True}))["count"] for n in names}
    srv.restart()
    after = {n: ok(api(srv, "POST", f"/collections/{n}/points/count", json={"exact": True}))["count"] for n in names}
    assert after == counts and len(names) >= 1
