"""The key plane from the outside (issue 5, item 7; spec auth.md §15).

Database API keys are created, listed, revoked and rotated through the REST
management API under ``/api-keys`` (called with ``requests`` and the root key
in ``api-key``), and then used exactly as a user would: the official Python
client over REST and over gRPC (``prefer_grpc=True``). The CLI
(``osprey keys ...``) is driven as a subprocess against the same server.

One server for the module (root ``api_key`` and a static read-only key); the
restart test stops and starts it on the same storage. Every test creates the
keys and collections it relies on, so tests can be run alone with ``-k``.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import time
import uuid
import warnings
from datetime import datetime, timedelta, timezone

import grpc
import pytest
import requests
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import UnexpectedResponse

from conftest import OspreyServer

ADMIN_KEY = "admin-key-for-python-key-plane-tests-0123456789"
READ_ONLY_KEY = "read-only-key-for-python-key-plane-tests"

TRANSPORTS = ["rest", "grpc"]
DIM = 4

ROOT_REQUIRED = "Forbidden: Root key required for key management"
STATEFUL = "Invalid JWT, stateful validation failed"
INVALID = "Invalid API key or JWT"

# gRPC status codes as the HTTP statuses spec §6 / §6.1 pair them with.
GRPC_TO_HTTP = {
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
}


# ---------------------------------------------------------------------------
# Server, management API and clients
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def srv():
    server = OspreyServer(
        extra_env={
            "QDRANT__SERVICE__API_KEY": ADMIN_KEY,
            "QDRANT__SERVICE__READ_ONLY_API_KEY": READ_ONLY_KEY,
        }
    )
    server.api_key = ADMIN_KEY
    server.start()
    yield server
    server.close()


def api(srv: OspreyServer, method: str, path: str, key: str | None = ADMIN_KEY, **kwargs) -> requests.Response:
    headers = {"api-key": key} if key is not None else {}
    return requests.request(method, srv.url + path, headers=headers, timeout=10, **kwargs)


def ok(response: requests.Response):
    assert response.status_code == 200, f"{response.status_code}: {response.text}"
    body = response.json()
    assert body["status"] == "ok", body
    return body["result"]


def error_of(response: requests.Response) -> str:
    """The message of a refusal: the envelope's `status.error`, or the plain
    text body of an authentication failure."""
    try:
        return response.json()["status"]["error"]
    except (ValueError, KeyError, TypeError):
        return response.text


def create_key(srv: OspreyServer, name: str, rules: list | None = None, **fields) -> dict:
    body = {"name": name, **fields}
    if rules is not None:
        body["access_rules"] = rules
    return ok(api(srv, "POST", "/api-keys", json=body))


def global_rule(access_type: str) -> dict:
    return {"global_access": {"access_type": access_type}}


def collection_rule(name: str, access_type: str = "read-write", payload: dict | None = None) -> dict:
    rule = {"collection_name": name, "access_type": access_type}
    if payload is not None:
        rule["payload"] = payload
    return {"collection_access": rule}


def connect(srv: OspreyServer, key: str, transport: str = "rest") -> QdrantClient:
    kwargs = {"grpc_port": srv.grpc_port} if transport == "grpc" else {}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Api key is used with an insecure connection")
        return QdrantClient(
            url=srv.url,
            api_key=key,
            prefer_grpc=transport == "grpc",
            timeout=30,
            check_compatibility=False,
            **kwargs,
        )


def refusal_of(err: Exception) -> tuple[int, str]:
    """(HTTP status, message) of a client exception, gRPC codes mapped."""
    if isinstance(err, grpc.RpcError):
        return GRPC_TO_HTTP.get(err.code(), -1), err.details()
    text = err.content.decode(errors="replace")
    try:
        text = json.loads(text)["status"]["error"]
    except (ValueError, KeyError, TypeError):
        pass
    return err.status_code, text


def refusal(call) -> tuple[int, str]:
    """(HTTP status, message) of a refused client call."""
    try:
        call()
    except (UnexpectedResponse, grpc.RpcError) as err:
        return refusal_of(err)
    raise AssertionError("the call was not refused")


def make_collection(srv: OspreyServer, name: str, points: list[models.PointStruct] | None = None) -> None:
    admin = connect(srv, ADMIN_KEY)
    try:
        if admin.collection_exists(name):
            admin.delete_collection(name)
        admin.create_collection(name, vectors_config=models.VectorParams(size=DIM, distance=models.Distance.DOT))
        if points:
            admin.upsert(name, points=points, wait=True)
    finally:
        admin.close()


def point(pid: int, payload: dict | None = None) -> models.PointStruct:
    return models.PointStruct(id=pid, vector=[float(pid), 1.0, 0.5, 0.25], payload=payload)


def jwt_parts(token: str) -> tuple[dict, dict]:
    def decode(part: str) -> dict:
        return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))

    header, claims, _ = token.split(".")
    return decode(header), decode(claims)


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------
# 1. A granular read key: shown once, usable from both transports
# ---------------------------------------------------------------------------


# Protects §15's record and token shape (key shown only in the create answer,
# `eyJhb` HS256 JWT with kid/jti/access, postfix = last 6 characters) and that
# a global-read key reads but cannot write over REST and gRPC.
def test_global_read_key_is_shown_once_and_reads_on_both_transports(srv):
    make_collection(srv, "kp_read", [point(i, {"n": i}) for i in range(1, 4)])
    created = create_key(srv, "reader one", [global_rule("read")])
    key = created["key"]
    assert key.startswith("eyJhb"), key
    assert uuid.UUID(created["id"])
    assert created["name"] == "reader one"
    assert created["kind"] == "granular"
    assert created["postfix"] == key[-6:]
    assert created["access_rules"] == [global_rule("read")]
    assert created["expires_at"] is None
    assert created["revoked_at"] is None
    assert created["created_by"] == "root:" + ADMIN_KEY[-6:]

    header, claims = jwt_parts(key)
    assert header["alg"] == "HS256" and header["kid"] == created["kid"]
    assert claims["jti"] == created["id"]
    assert claims["access"] == "r"
    assert "exp" not in claims

    # The secret never again: not in get, not in list (nor anywhere in their bodies).
    got = api(srv, "GET", f"/api-keys/{created['id']}")
    record = ok(got)
    assert "key" not in record and key not in got.text
    assert {k: v for k, v in created.items() if k != "key"}.items() >= {
        k: v for k, v in record.items() if k != "last_used_at"
    }.items()
    listed = api(srv, "GET", "/api-keys")
    assert key not in listed.text
    records = ok(listed)
    assert all("key" not in r for r in records)
    mine = [r for r in records if r["id"] == created["id"]]
    assert len(mine) == 1 and mine[0]["postfix"] == key[-6:]
    # Newest first.
    stamps = [r["created_at"] for r in records]
    assert stamps == sorted(stamps, reverse=True)

    for transport in TRANSPORTS:
        c = connect(srv, key, transport)
        try:
            assert "kp_read" in {col.name for col in c.get_collections().collections}
            assert c.count("kp_read", exact=True).count == 3
            assert sorted(p.id for p in c.retrieve("kp_read", ids=[1, 2, 3])) == [1, 2, 3]
            assert [p.id for p in c.query_points("kp_read", query=[1.0, 0.0, 0.0, 0.0], limit=1).points] == [3]
            code, message = refusal(lambda: c.upsert("kp_read", points=[point(9)], wait=True))
            assert (code, message) == (403, "Forbidden: Global manage access is required"), transport
            code, _ = refusal(
                lambda: c.create_collection("kp_nope", vectors_config=models.VectorParams(size=DIM, distance=models.Distance.DOT))
            )
            assert code == 403, transport
        finally:
            c.close()

    # The key has been used: last_used_at shows it (issue 5, item 5).
    assert ok(api(srv, "GET", f"/api-keys/{created['id']}"))["last_used_at"] is not None


# ---------------------------------------------------------------------------
# 2. A collection-scoped read-write key
# ---------------------------------------------------------------------------


# Protects collection rules: read-write on its collection over both transports,
# 403 `Access to collection <c> is required` elsewhere, listings filtered.
def test_collection_scoped_key_on_both_transports(srv):
    make_collection(srv, "kp_scoped", [point(1, {"n": 1})])
    make_collection(srv, "kp_elsewhere", [point(1, {"n": 1})])
    created = create_key(srv, "scoped-rw", [collection_rule("kp_scoped", "read-write")])
    assert jwt_parts(created["key"])[1]["access"] == [{"collection": "kp_scoped", "access": "rw"}]
    for n, transport in enumerate(TRANSPORTS, start=10):
        c = connect(srv, created["key"], transport)
        try:
            c.upsert("kp_scoped", points=[point(n, {"n": n})], wait=True)
            assert c.retrieve("kp_scoped", ids=[n])[0].payload == {"n": n}
            c.set_payload("kp_scoped", payload={"seen": transport}, points=[n], wait=True)
            assert c.retrieve("kp_scoped", ids=[n])[0].payload == {"n": n, "seen": transport}
            assert [col.name for col in c.get_collections().collections] == ["kp_scoped"], transport
            for call in (
                lambda: c.count("kp_elsewhere"),
                lambda: c.upsert("kp_elsewhere", points=[point(5)], wait=True),
                lambda: c.retrieve("kp_elsewhere", ids=[1]),
            ):
                assert refusal(call) == (403, "Forbidden: Access to collection kp_elsewhere is required"), transport
            code, message = refusal(lambda: c.delete_collection("kp_scoped"))
            assert (code, message) == (403, "Forbidden: Global access is required"), transport
        finally:
            c.close()
    assert connect(srv, ADMIN_KEY).count("kp_scoped", exact=True).count == 3


# ---------------------------------------------------------------------------
# 3. Revocation acts on the very next request
# ---------------------------------------------------------------------------


# Protects instant revocation: clients that already used the key (open
# connections included) get 401 `Invalid JWT, stateful validation failed` on
# REST and UNAUTHENTICATED on gRPC from the next request; revoking twice is fine.
def test_revoked_key_is_refused_on_the_next_request(srv):
    make_collection(srv, "kp_revoke", [point(1)])
    created = create_key(srv, "to revoke", [global_rule("read")])
    rest, over_grpc = connect(srv, created["key"], "rest"), connect(srv, created["key"], "grpc")
    try:
        assert rest.count("kp_revoke").count == 1
        assert over_grpc.count("kp_revoke").count == 1

        record = ok(api(srv, "DELETE", f"/api-keys/{created['id']}"))
        assert record["revoked_at"] is not None

        raw = api(srv, "GET", "/collections", key=created["key"])
        assert (raw.status_code, raw.text) == (401, STATEFUL)
        assert refusal(lambda: rest.count("kp_revoke")) == (401, STATEFUL)
        assert refusal(lambda: over_grpc.count("kp_revoke")) == (401, STATEFUL)
        # Bearer form too.
        bearer = requests.get(srv.url + "/collections", headers={"Authorization": "Bearer " + created["key"]}, timeout=10)
        assert (bearer.status_code, bearer.text) == (401, STATEFUL)
    finally:
        rest.close()
        over_grpc.close()

    again = ok(api(srv, "DELETE", f"/api-keys/{created['id']}"))
    assert again["revoked_at"] == record["revoked_at"]
    # The record is kept for audit.
    assert ok(api(srv, "GET", f"/api-keys/{created['id']}"))["revoked_at"] == record["revoked_at"]
    missing = api(srv, "DELETE", f"/api-keys/{uuid.uuid4()}")
    assert missing.status_code == 404


# ---------------------------------------------------------------------------
# 4. A short expiry
# ---------------------------------------------------------------------------


# Protects expiry: a key created with `expires_at` a couple of seconds ahead
# works until then and is refused right after with 403 `ExpiredSignature`
# (PERMISSION_DENIED on gRPC), the registry's answer for its own tokens (no
# 30 s leeway); past or zero expiries are refused at creation.
def test_short_expiry_passes(srv):
    make_collection(srv, "kp_expiry", [point(1)])
    at = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=3)
    created = create_key(srv, "short lived", [global_rule("read")], expires_at=rfc3339(at))
    assert created["expires_at"] == rfc3339(at)
    assert jwt_parts(created["key"])[1]["exp"] == int(at.timestamp())
    rest, over_grpc = connect(srv, created["key"], "rest"), connect(srv, created["key"], "grpc")
    try:
        assert rest.count("kp_expiry").count == 1
        assert over_grpc.count("kp_expiry").count == 1
        time.sleep(max(0.0, at.timestamp() - time.time()) + 0.3)
        code, message = refusal(lambda: rest.count("kp_expiry"))
        assert code == 403 and "ExpiredSignature" in message, message
        code, message = refusal(lambda: over_grpc.count("kp_expiry"))
        assert code == 403 and "ExpiredSignature" in message, message
    finally:
        rest.close()
        over_grpc.close()

    past = rfc3339(datetime.now(timezone.utc) - timedelta(seconds=5))
    for body, field in (
        ({"expires_at": past}, "expires_at"),
        ({"expires_at": "tomorrow"}, "expires_at"),
        ({"expires_in_days": 0}, "expires_in_days"),
        ({"expires_in_days": 1, "expires_at": rfc3339(at + timedelta(days=2))}, "expires_in_days"),
    ):
        response = api(srv, "POST", "/api-keys", json={"name": "bad expiry", **body})
        assert response.status_code == 400 and field in error_of(response), (body, response.text)
    in_days = create_key(srv, "ninety days", [global_rule("read")], expires_in_days=90)
    expires = datetime.fromisoformat(in_days["expires_at"].replace("Z", "+00:00"))
    assert abs((expires - datetime.now(timezone.utc)) - timedelta(days=90)) < timedelta(minutes=1)


# ---------------------------------------------------------------------------
# 5. A payload-restricted key
# ---------------------------------------------------------------------------

TENANT_A = [1, 2, 3]
TENANT_B = [4, 5, 6]


def _tenant_points() -> list[models.PointStruct]:
    return [point(i, {"tenant": "a" if i in TENANT_A else "b", "n": i}) for i in TENANT_A + TENANT_B]


# Protects §15's payload restriction on every route we can reach from the
# client, on REST and gRPC: reads see only tenant a; writes that would create,
# change, touch or clear anything outside it get 403 `Payload restriction on
# collection <c> forbids this operation`; a delete by a match-all filter
# deletes only tenant a points.
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_payload_restricted_key(srv, transport):
    name = f"kp_tenants_{transport}"
    make_collection(srv, name, _tenant_points())
    admin = connect(srv, ADMIN_KEY)
    admin.create_payload_index(name, field_name="tenant", field_schema=models.PayloadSchemaType.KEYWORD, wait=True)
    created = create_key(srv, f"tenant a {transport}", [collection_rule(name, "read-write", {"tenant": "a"})])
    assert created["access_rules"][0]["collection_access"]["payload"] == {"tenant": "a"}
    forbidden = (403, f"Forbidden: Payload restriction on collection {name} forbids this operation")
    c = connect(srv, created["key"], transport)
    try:
        # Reads.
        points, _ = c.scroll(name, limit=100, with_payload=True)
        assert sorted(p.id for p in points) == TENANT_A
        assert all(p.payload["tenant"] == "a" for p in points)
        assert c.count(name, exact=True).count == 3
        flt = models.Filter(must=[models.FieldCondition(key="tenant", match=models.MatchValue(value="b"))])
        assert c.count(name, count_filter=flt, exact=True).count == 0
        hits = c.query_points(name, query=[1.0, 0.0, 0.0, 0.0], limit=10).points
        assert sorted(h.id for h in hits) == TENANT_A
        hits = c.query_points(name, query=[1.0, 0.0, 0.0, 0.0], query_filter=flt, limit=10).points
        assert hits == []
        assert sorted(p.id for p in c.retrieve(name, ids=TENANT_A + TENANT_B)) == TENANT_A
        groups = c.query_points_groups(name, query=[1.0, 0.0, 0.0, 0.0], group_by="tenant", limit=10).groups
        assert [g.id for g in groups] == ["a"]
        facet = c.facet(name, key="tenant", exact=True).hits
        assert [(h.value, h.count) for h in facet] == [("a", 3)]
        assert c.get_collection(name).points_count == 3
        # A tenant b point named as the query vector must not leak through scores.
        code, _ = refusal(lambda: c.query_points(name, query=TENANT_B[0], limit=3))
        assert code in (403, 404)

        # Writes inside the restriction work.
        c.upsert(name, points=[point(20, {"tenant": "a", "n": 20})], wait=True)
        c.set_payload(name, payload={"note": "mine"}, points=[1], wait=True)
        assert c.retrieve(name, ids=[1])[0].payload == {"tenant": "a", "n": 1, "note": "mine"}

        # Writes outside it are refused.
        refused = {
            "upsert a tenant b point": lambda: c.upsert(name, points=[point(21, {"tenant": "b"})], wait=True),
            "upsert a point without tenant": lambda: c.upsert(name, points=[point(22, {"n": 22})], wait=True),
            "overwrite a tenant b point": lambda: c.upsert(name, points=[point(4, {"tenant": "a"})], wait=True),
            "set_payload changing tenant": lambda: c.set_payload(name, payload={"tenant": "b"}, points=[1], wait=True),
            "set_payload on a tenant b point": lambda: c.set_payload(name, payload={"x": 1}, points=[4], wait=True),
            "overwrite_payload dropping tenant": lambda: c.overwrite_payload(name, payload={"n": 1}, points=[1], wait=True),
            "delete_payload of tenant": lambda: c.delete_payload(name, keys=["tenant"], points=[1], wait=True),
            "delete a tenant b id": lambda: c.delete(name, points_selector=models.PointIdsList(points=[4]), wait=True),
            "clear_payload": lambda: c.clear_payload(name, points_selector=models.PointIdsList(points=[1]), wait=True),
            "update vectors of a tenant b point": lambda: c.update_vectors(
                name, points=[models.PointVectors(id=5, vector=[0.0, 0.0, 0.0, 1.0])], wait=True
            ),
        }
        for label, call in refused.items():
            assert refusal(call) == forbidden, label
        code, message = refusal(
            lambda: c.create_payload_index(name, field_name="n", field_schema=models.PayloadSchemaType.INTEGER, wait=True)
        )
        assert (code, message) == forbidden
        code, message = refusal(lambda: c.delete_payload_index(name, field_name="tenant", wait=True))
        assert (code, message) == forbidden

        # A match-all delete deletes only what the key can see.
        c.delete(name, points_selector=models.FilterSelector(filter=models.Filter()), wait=True)
        assert c.count(name, exact=True).count == 0
    finally:
        c.close()

    left, _ = admin.scroll(name, limit=100, with_payload=True)
    admin.close()
    assert sorted(p.id for p in left) == TENANT_B
    assert {p.id: p.payload for p in left} == {i: {"tenant": "b", "n": i} for i in TENANT_B}


def _side_doors(c: QdrantClient, srv: OspreyServer, key: str, name: str, transport: str) -> dict:
    """Routes a restricted key could use to reach tenant b other than the
    plain ones: batch forms, groups, `lookup_from` and `with_lookup` naming
    the restricted collection itself. Each returns what the key got back:
    ids and payloads it saw, or the refusal."""
    by_id = models.LookupLocation(collection=name)
    doors = {
        "query with lookup_from itself, tenant b id as the query": lambda: c.query_points(
            name, query=TENANT_B[0], lookup_from=by_id, limit=10, with_payload=True
        ).points,
        "query groups with_lookup itself": lambda: [
            g.lookup
            for g in c.query_points_groups(
                name,
                query=[1.0, 0.0, 0.0, 0.0],
                group_by="ref",
                limit=10,
                with_lookup=models.WithLookup(collection=name, with_payload=True),
            ).groups
        ],
        "query batch": lambda: [
            p
            for r in c.query_batch_points(
                name, requests=[models.QueryRequest(query=[1.0, 0.0, 0.0, 0.0], limit=10, with_payload=True)]
            )
            for p in r.points
        ],
    }
    if transport == "rest":
        headers = {"api-key": key}

        def post(path: str, body: dict):
            response = requests.post(f"{srv.url}/collections/{name}{path}", headers=headers, json=body, timeout=10)
            if response.status_code != 200:
                raise UnexpectedResponse(response.status_code, response.reason, response.content, response.headers)
            return response.json()["result"]

        doors["recommend batch"] = lambda: post(
            "/points/recommend/batch", {"searches": [{"positive": [1], "limit": 10, "with_payload": True}]}
        )[0]
        doors["discover batch"] = lambda: post(
            "/points/discover/batch",
            {"searches": [{"target": 1, "context": [{"positive": 2, "negative": 3}], "limit": 10, "with_payload": True}]},
        )[0]
        doors["recommend groups"] = lambda: [
            h for g in post("/points/recommend/groups", {"positive": [1], "group_by": "tenant", "limit": 10, "group_size": 10, "with_payload": True})["groups"] for h in g["hits"]
        ]
    else:
        from qdrant_client import grpc as qgrpc

        def pid(i: int):
            return qgrpc.PointId(num=i)

        everything = qgrpc.WithPayloadSelector(enable=True)
        doors["recommend batch"] = lambda: c.grpc_points.RecommendBatch(
            qgrpc.RecommendBatchPoints(
                collection_name=name,
                recommend_points=[qgrpc.RecommendPoints(collection_name=name, positive=[pid(1)], limit=10, with_payload=everything)],
            ),
            timeout=10,
        ).result[0].result
        doors["discover batch"] = lambda: c.grpc_points.DiscoverBatch(
            qgrpc.DiscoverBatchPoints(
                collection_name=name,
                discover_points=[
                    qgrpc.DiscoverPoints(
                        collection_name=name,
                        target=qgrpc.TargetVector(single=qgrpc.VectorExample(id=pid(1))),
                        context=[
                            qgrpc.ContextExamplePair(
                                positive=qgrpc.VectorExample(id=pid(2)), negative=qgrpc.VectorExample(id=pid(3))
                            )
                        ],
                        limit=10,
                        with_payload=everything,
                    )
                ],
            ),
            timeout=10,
        ).result[0].result
        doors["recommend groups"] = lambda: [
            h
            for g in c.grpc_points.RecommendGroups(
                qgrpc.RecommendPointGroups(
                    collection_name=name, positive=[pid(1)], group_by="tenant", limit=10, group_size=10, with_payload=everything
                ),
                timeout=10,
            ).result.groups
            for h in g.hits
        ]
    return doors


def _leaks(found) -> list:
    """Tenant b ids or payloads in whatever a side door returned."""
    out = []
    for item in found or []:
        if item is None:
            continue
        if isinstance(item, dict):
            pid, payload = item.get("id"), item.get("payload")
        else:
            pid, payload = getattr(item, "id", None), getattr(item, "payload", None)
        if hasattr(pid, "num"):
            pid = pid.num
        if payload is not None and not isinstance(payload, dict):
            payload = {k: v.string_value for k, v in payload.items()}
        if pid in TENANT_B or (payload and payload.get("tenant") not in (None, "a")) or (payload and "secret" in payload):
            out.append((pid, payload))
    return out


# Protects §15's "through any route or rpc": batch reads and writes, groups,
# and `lookup_from` / `with_lookup` naming the restricted collection itself
# must not show, score with, change or delete a tenant b point.
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_payload_restriction_has_no_side_doors(srv, transport):
    name = f"kp_doors_{transport}"
    points = [point(i, {"tenant": "b", "n": i, "secret": f"b-{i}"}) for i in TENANT_B]
    points += [point(i, {"tenant": "a", "n": i}) for i in TENANT_A]
    points.append(point(30, {"tenant": "a", "ref": TENANT_B[0]}))
    make_collection(srv, name, points)
    admin = connect(srv, ADMIN_KEY)
    admin.create_payload_index(name, field_name="tenant", field_schema=models.PayloadSchemaType.KEYWORD, wait=True)
    admin.close()
    created = create_key(srv, f"doors {transport}", [collection_rule(name, "read-write", {"tenant": "a"})])
    forbidden = (403, f"Forbidden: Payload restriction on collection {name} forbids this operation")
    c = connect(srv, created["key"], transport)
    problems = []
    visible = len(TENANT_A) + 1
    try:
        info = c.get_collection(name)
        if info.points_count != visible:
            problems.append(f"collection info: points_count {info.points_count}, key sees {visible}")
        for field, schema in (info.payload_schema or {}).items():
            if schema.points is not None and schema.points > visible:
                problems.append(f"collection info: payload_schema.{field}.points = {schema.points}, key sees {visible}")
        for label, call in _side_doors(c, srv, created["key"], name, transport).items():
            try:
                found = call()
            except (UnexpectedResponse, grpc.RpcError) as err:
                code, message = refusal_of(err)
                if code not in (403, 404):
                    problems.append(f"{label}: unexpected refusal {code} {message}")
                continue
            leaked = _leaks(found)
            if "lookup_from" in label:
                # Any answer scored against tenant b's vector leaks it.
                problems.append(f"{label}: answered {[getattr(p, 'id', p) for p in found]} instead of 403/404")
            elif leaked:
                problems.append(f"{label}: saw tenant b {leaked}")
            elif not found:
                problems.append(f"{label}: returned nothing (the check would be vacuous)")
        writes = {
            "batch delete of a tenant b id": [models.DeleteOperation(delete=models.PointIdsList(points=[TENANT_B[1]]))],
            "batch upsert of a tenant b point": [
                models.UpsertOperation(upsert=models.PointsList(points=[point(40, {"tenant": "b"})]))
            ],
            "batch clear_payload": [models.ClearPayloadOperation(clear_payload=models.PointIdsList(points=[1]))],
        }
        for label, ops in writes.items():
            try:
                c.batch_update_points(name, update_operations=ops, wait=True)
                problems.append(f"{label}: accepted")
            except (UnexpectedResponse, grpc.RpcError) as err:
                got = refusal_of(err)
                if got != forbidden:
                    problems.append(f"{label}: {got}")
    finally:
        c.close()
    admin = connect(srv, ADMIN_KEY)
    left = {p.id: p.payload for p in admin.scroll(name, limit=100, with_payload=True)[0]}
    admin.close()
    for i in TENANT_B:
        if left.get(i) != {"tenant": "b", "n": i, "secret": f"b-{i}"}:
            problems.append(f"tenant b point {i} changed: {left.get(i)}")
    if 40 in left:
        problems.append("tenant b point 40 was created")
    if left.get(1) != {"tenant": "a", "n": 1}:
        problems.append(f"tenant a point 1 changed: {left.get(1)}")
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------------
# 6. Refusals of the management API
# ---------------------------------------------------------------------------


# Protects "root only": the read-only key, a granular global-manage key and
# callers without a valid key cannot manage keys (a leaked token cannot mint a
# longer-lived one); and validation: each bad request is 400 naming the field.
def test_management_refusals(srv):
    manage = create_key(srv, "granular manage")
    assert manage["access_rules"] == [global_rule("manage")]
    assert jwt_parts(manage["key"])[1]["access"] == "m"
    scoped = create_key(srv, "scoped caller", [collection_rule("kp_any", "read")])
    calls = [
        ("POST", "/api-keys", {"name": "escalated"}),
        ("GET", "/api-keys", None),
        ("GET", f"/api-keys/{manage['id']}", None),
        ("DELETE", f"/api-keys/{manage['id']}", None),
        ("GET", "/api-keys/settings", None),
        ("PUT", "/api-keys/settings", {"granular_access": False}),
        ("GET", "/api-keys/signing-keys", None),
        ("POST", "/api-keys/signing-keys/rotate", None),
        ("GET", "/api-keys/audit", None),
    ]
    for caller in (READ_ONLY_KEY, manage["key"], scoped["key"]):
        for method, path, body in calls:
            response = api(srv, method, path, key=caller, json=body)
            assert (response.status_code, error_of(response)) == (403, ROOT_REQUIRED), (method, path, response.text)
    # The granular manage key itself does work elsewhere: it is refused only here.
    assert api(srv, "GET", "/collections", key=manage["key"]).status_code == 200
    assert ok(api(srv, "GET", f"/api-keys/{manage['id']}"))["revoked_at"] is None
    assert ok(api(srv, "GET", "/api-keys/settings")) == {"granular_access": True}

    no_key = api(srv, "GET", "/api-keys", key=None)
    assert (no_key.status_code, no_key.text) == (401, "Must provide an API key or an Authorization bearer token")
    wrong = api(srv, "GET", "/api-keys", key="not-a-key")
    assert (wrong.status_code, wrong.text) == (401, INVALID)

    twenty_one = [collection_rule(f"c{i}", "read") for i in range(21)]
    twenty = twenty_one[:20]
    bad_requests = [
        ({"name": "ab"}, "name"),
        ({"name": "x" * 129}, "name"),
        ({"name": "bad/name"}, "name"),
        ({"name": "    "}, "name"),
        ({}, "name"),
        ({"name": "too many", "access_rules": twenty_one}, "access_rules"),
        ({"name": "mixed rules", "access_rules": [global_rule("read"), collection_rule("c1")]}, "access_rules"),
        ({"name": "two globals", "access_rules": [global_rule("read"), global_rule("manage")]}, "access_rules"),
        ({"name": "duplicate", "access_rules": [collection_rule("c1"), collection_rule("c1")]}, "access_rules[1]"),
        ({"name": "unknown field", "acess_rules": []}, "acess_rules"),
        ({"name": "rule field", "access_rules": [{"collection_access": {"collection_name": "c", "access_type": "read", "extra": 1}}]}, "extra"),
        ({"name": "bad type", "access_rules": [global_rule("write")]}, "access_rules[0]"),
        ({"name": "bad payload", "access_rules": [collection_rule("c", "read", {"t": 1.5})]}, "access_rules[0].collection_access.payload.t"),
        ({"name": "admin now", "kind": "admin"}, "kind"),
    ]
    for body, field in bad_requests:
        response = api(srv, "POST", "/api-keys", json=body)
        assert response.status_code == 400 and field in error_of(response), (body, response.text)
    not_json = api(srv, "POST", "/api-keys", data=b"{")
    assert not_json.status_code == 400
    assert api(srv, "GET", "/api-keys/not-a-uuid").status_code == 400
    bad_settings = api(srv, "PUT", "/api-keys/settings", json={"granular": True})
    assert bad_settings.status_code == 400 and "granular" in error_of(bad_settings)
    # Exactly 20 rules are fine.
    assert len(create_key(srv, "twenty rules", twenty)["access_rules"]) == 20


# Protects issue 5, item 1 ("concurrent creates and revokes are safe"): keys
# created and revoked from many threads at once, while other keys are in use,
# all land in the registry; each revoked key is refused and each other one works.
def test_concurrent_creates_and_revokes(srv):
    from concurrent.futures import ThreadPoolExecutor

    make_collection(srv, "kp_concurrent", [point(1)])
    with ThreadPoolExecutor(max_workers=8) as pool:
        created = list(pool.map(lambda i: create_key(srv, f"parallel {i}", [global_rule("read")]), range(24)))
        assert len({k["id"] for k in created}) == 24 and len({k["key"] for k in created}) == 24
        doomed, kept = created[::2], created[1::2]

        def revoke(k):
            return api(srv, "DELETE", f"/api-keys/{k['id']}").status_code

        def use(k):
            return api(srv, "POST", "/collections/kp_concurrent/points/count", key=k["key"], json={}).status_code

        revoked = pool.map(revoke, doomed)
        used = pool.map(use, kept)
        assert list(revoked) == [200] * len(doomed)
        assert list(used) == [200] * len(kept)
        after_revoke = list(pool.map(use, created))
    assert after_revoke == [401 if k in doomed else 200 for k in created]
    listed = {r["id"]: r for r in ok(api(srv, "GET", "/api-keys"))}
    for k in created:
        assert (listed[k["id"]]["revoked_at"] is not None) == (k in doomed)


# ---------------------------------------------------------------------------
# 7. Signing-key rotation
# ---------------------------------------------------------------------------


# Protects rotation with overlap: tokens signed with the old secret keep
# working after a rotation, and stop on the next request once it is retired
# (401 stateful failure / UNAUTHENTICATED); the current secret cannot be retired.
def test_signing_key_rotation(srv):
    make_collection(srv, "kp_rotate", [point(1)])
    old = create_key(srv, "before rotation", [global_rule("read")])
    rotated = ok(api(srv, "POST", "/api-keys/signing-keys/rotate"))
    assert rotated["current"] is True and rotated["kid"] != old["kid"]
    new = create_key(srv, "after rotation", [global_rule("read")])
    assert new["kid"] == rotated["kid"] and jwt_parts(new["key"])[0]["kid"] == rotated["kid"]
    signing = {k["kid"]: k for k in ok(api(srv, "GET", "/api-keys/signing-keys"))}
    assert signing[old["kid"]]["current"] is False and signing[rotated["kid"]]["current"] is True

    clients = {t: connect(srv, old["key"], t) for t in TRANSPORTS}
    try:
        for c in clients.values():
            assert c.count("kp_rotate").count == 1
        current = api(srv, "DELETE", f"/api-keys/signing-keys/{rotated['kid']}")
        assert current.status_code == 400 and "kid" in error_of(current)
        retired = ok(api(srv, "DELETE", f"/api-keys/signing-keys/{old['kid']}"))
        assert retired["kid"] == old["kid"]
        for c in clients.values():
            assert refusal(lambda: c.count("kp_rotate")) == (401, STATEFUL)
    finally:
        for c in clients.values():
            c.close()
    for transport in TRANSPORTS:
        c = connect(srv, new["key"], transport)
        assert c.count("kp_rotate").count == 1
        c.close()
    assert api(srv, "DELETE", f"/api-keys/signing-keys/{old['kid']}").status_code == 404


# ---------------------------------------------------------------------------
# 8. A restart keeps everything
# ---------------------------------------------------------------------------


# Protects persistence in the storage directory: records (with revocations),
# signing secrets and the granular-access setting survive a restart; the
# setting acts live both ways; existing admin-kind keys keep working once
# granular access is on, and a revoked admin-kind key gets 401 `Invalid API key or JWT`.
def test_restart_keeps_keys_revocations_and_settings(srv):
    make_collection(srv, "kp_restart", [point(1)])
    kept = create_key(srv, "kept key", [global_rule("read")])
    gone = create_key(srv, "revoked key", [global_rule("read")])
    ok(api(srv, "DELETE", f"/api-keys/{gone['id']}"))
    assert api(srv, "GET", "/collections", key=kept["key"]).status_code == 200

    # Granular access off: live, granular keys refused, admin-kind keys creatable.
    assert ok(api(srv, "PUT", "/api-keys/settings", json={"granular_access": False})) == {"granular_access": False}
    off = api(srv, "GET", "/collections", key=kept["key"])
    assert (off.status_code, off.text) == (401, STATEFUL)
    refused = api(srv, "POST", "/api-keys", json={"name": "granular while off"})
    assert refused.status_code == 400 and "kind" in error_of(refused)
    legacy = create_key(srv, "legacy admin", kind="admin")
    assert legacy["kind"] == "admin" and legacy["access_rules"] == [] and not legacy["key"].startswith("eyJ")
    assert len(legacy["key"]) >= 43

    before = {r["id"]: r for r in ok(api(srv, "GET", "/api-keys"))}
    signing_before = ok(api(srv, "GET", "/api-keys/signing-keys"))
    srv.restart()

    after = {r["id"]: r for r in ok(api(srv, "GET", "/api-keys"))}
    assert set(after) == set(before)
    for key_id, record in before.items():
        assert {k: v for k, v in after[key_id].items() if k != "last_used_at"} == {
            k: v for k, v in record.items() if k != "last_used_at"
        }
    assert after[gone["id"]]["revoked_at"] is not None
    # last_used_at is coarse, but a graceful stop must not lose it.
    assert after[kept["id"]]["last_used_at"] is not None
    assert [k["kid"] for k in ok(api(srv, "GET", "/api-keys/signing-keys"))] == [k["kid"] for k in signing_before]
    assert ok(api(srv, "GET", "/api-keys/settings")) == {"granular_access": False}
    assert api(srv, "GET", "/collections", key=kept["key"]).status_code == 401

    # The legacy admin key works (full access) but is not root.
    lc = connect(srv, legacy["key"], "grpc")
    lc.upsert("kp_restart", points=[point(2)], wait=True)
    lc.close()
    denied = api(srv, "GET", "/api-keys", key=legacy["key"])
    assert (denied.status_code, error_of(denied)) == (403, ROOT_REQUIRED)

    # Back on: live, the kept key works on both transports, the revoked one does not.
    assert ok(api(srv, "PUT", "/api-keys/settings", json={"granular_access": True})) == {"granular_access": True}
    for transport in TRANSPORTS:
        c = connect(srv, kept["key"], transport)
        assert c.count("kp_restart").count == 2
        c.close()
        assert refusal(lambda: connect(srv, gone["key"], transport).count("kp_restart")) == (401, STATEFUL)
    # Existing admin keys keep working; new ones are refused while granular access is on.
    assert api(srv, "GET", "/collections", key=legacy["key"]).status_code == 200
    assert api(srv, "POST", "/api-keys", json={"name": "another admin", "kind": "admin"}).status_code == 400
    ok(api(srv, "DELETE", f"/api-keys/{legacy['id']}"))
    for transport in TRANSPORTS:
        assert refusal(lambda: connect(srv, legacy["key"], transport).count("kp_restart")) == (401, INVALID)


# ---------------------------------------------------------------------------
# 9. The CLI
# ---------------------------------------------------------------------------


def _cli(srv: OspreyServer, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QDRANT", "OSPREY_"))}
    env["OSPREY_API_KEY"] = ADMIN_KEY
    done = subprocess.run(
        [srv.binary, "keys", *args, "--url", srv.url],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, f"osprey keys {' '.join(args)}: {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


# Protects `osprey keys` against a running server (issue 5, item 6): create
# prints a working key once (with a curl line), list shows it without the
# secret, revoke by postfix ends it on the next request.
def test_cli_create_list_revoke(srv):
    make_collection(srv, "kp_cli", [point(1)])
    out = _cli(srv, "create", "--name", "cli-key", "--read-only")
    keys = re.findall(r"eyJhb[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+", out)
    assert keys, out
    key = keys[0]
    assert f"curl -H 'api-key: {key}' {srv.url}/collections" in out
    for transport in TRANSPORTS:
        c = connect(srv, key, transport)
        assert c.count("kp_cli").count == 1
        assert refusal(lambda: c.upsert("kp_cli", points=[point(2)], wait=True))[0] == 403
        c.close()
    record = next(r for r in ok(api(srv, "GET", "/api-keys")) if r["postfix"] == key[-6:])
    assert record["name"] == "cli-key" and record["access_rules"] == [global_rule("read")]
    # The CLI's default expiry is 90 days.
    expires = datetime.fromisoformat(record["expires_at"].replace("Z", "+00:00"))
    assert abs((expires - datetime.now(timezone.utc)) - timedelta(days=90)) < timedelta(minutes=1)

    listing = _cli(srv, "list")
    line = next((l for l in listing.splitlines() if record["id"] in l), None)
    assert line is not None and "cli-key" in line and key[-6:] in line and "active" in line, listing
    assert key not in listing

    revoked = _cli(srv, "revoke", key[-6:])
    assert record["id"] in revoked, revoked
    raw = api(srv, "GET", "/collections", key=key)
    assert (raw.status_code, raw.text) == (401, STATEFUL)
    assert "revoked" in next(l for l in _cli(srv, "list").splitlines() if record["id"] in l)


# ---------------------------------------------------------------------------
# Audit log
# ---------------------------------------------------------------------------


# Protects issue 5, item 5: key-plane calls and refusals are audited, readable
# by root only, and no secret ever appears in the log.
def test_audit_log_has_events_and_no_secrets(srv):
    since = rfc3339(datetime.now(timezone.utc) - timedelta(seconds=2))
    created = create_key(srv, "audited key", [global_rule("read")])
    denied = api(srv, "GET", "/api-keys", key=created["key"])
    assert denied.status_code == 403
    response = api(srv, "GET", "/api-keys/audit", params={"since": since})
    events = ok(response)
    assert ADMIN_KEY not in response.text and created["key"] not in response.text
    operations = [e.get("operation") for e in events]
    assert "create_key" in operations, events
    assert any(e.get("outcome") != "ok" for e in events), events
    files = list((srv.dir / "storage" / "audit").glob("*"))
    assert files
    for f in files:
        text = f.read_text(errors="replace")
        assert ADMIN_KEY not in text and created["key"] not in text and READ_ONLY_KEY not in text
    bad = api(srv, "GET", "/api-keys/audit", params={"since": "yesterday"})
    assert bad.status_code == 400 and "since" in error_of(bad)


# A call refused over gRPC lands in the same audit log as REST refusals, with the
# rpc's name and never the credential itself.
def test_grpc_refusals_are_audited(srv):
    import grpc
    import qdrant_client.grpc as qgrpc

    since = rfc3339(datetime.now(timezone.utc) - timedelta(seconds=2))
    wrong = "definitely-not-a-key-" + "q" * 20
    with grpc.insecure_channel(f"127.0.0.1:{srv.grpc_port}") as channel:
        with pytest.raises(grpc.RpcError) as err:
            qgrpc.CollectionsStub(channel).List(
                qgrpc.ListCollectionsRequest(), metadata=[("api-key", wrong)], timeout=10
            )
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    response = api(srv, "GET", "/api-keys/audit", params={"since": since})
    events = ok(response)
    refused = [e for e in events if e.get("operation") == "qdrant.Collections/List"]
    assert refused and refused[-1]["status"] == 401, events
    assert wrong not in response.text
