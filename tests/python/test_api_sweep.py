"""A compatibility sweep of the official Python client's API surface.

qdrant-client 1.18.0 against osprey, every test once over REST
(``prefer_grpc=False``) and once over gRPC (``prefer_grpc=True``). Each client
method is called the way the Qdrant documentation shows, and the test asserts
what a user would notice: the answer parses into the client's models and its
values are right. Expected values come from a small oracle computed here (dot
products, distances, filters) and, where Qdrant's scoring has a formula (RRF,
DBSF, recommend, discovery, context, IDF), from that formula as Qdrant 1.18
defines it.

Where Osprey knowingly differs (server-side inference, shard keys, snapshots
over gRPC) the test asserts the clear refusal instead.

A case that fails because of a server bug is marked
``xfail(strict=True, reason=<the bug>)`` for the transport it fails on, so the
suite stays green and turns red when the bug is fixed.

One server serves the module. Read-only tests share a base collection per
transport; tests that write make their own collection, named by test and
transport, so the tests do not depend on each other or on their order.
"""

from __future__ import annotations

import math
import re
import uuid
import warnings

import grpc
import pytest
from qdrant_client import QdrantClient, models
from qdrant_client import grpc as qg
from qdrant_client.conversions.conversion import GrpcToRest
from qdrant_client.http.exceptions import UnexpectedResponse
from qdrant_client.http.models import QueryResponse  # models.QueryResponse is fastembed's

from conftest import OspreyServer

TRANSPORTS = ("rest", "grpc")

DOT = models.Distance.DOT
COSINE = models.Distance.COSINE
EUCLID = models.Distance.EUCLID
SCORE_EPS = 1e-4

INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND
UNIMPLEMENTED = grpc.StatusCode.UNIMPLEMENTED

# ---------------------------------------------------------------------------
# Transports. A known server bug is marked per transport as a strict xfail with
# a one-sentence reason (`transports(rest_bug=...)`, `both_bug(...)`), so the
# suite stays green and turns red once the bug is fixed; none is open now.
# ---------------------------------------------------------------------------


def transports(rest_bug: str | None = None, grpc_bug: str | None = None):
    """Parametrize a test over REST and gRPC; a bug string marks that case strict-xfail."""

    def param(name: str, bug: str | None):
        marks = [pytest.mark.xfail(strict=True, reason=bug)] if bug else []
        return pytest.param(name, marks=marks, id=name)

    return pytest.mark.parametrize("transport", [param("rest", rest_bug), param("grpc", grpc_bug)])


BOTH = transports()


def both_bug(reason: str):
    return transports(rest_bug=reason, grpc_bug=reason)


# ---------------------------------------------------------------------------
# The base data set and its oracle
# ---------------------------------------------------------------------------

N = 20
IDS = list(range(1, N + 1))


def vec_a(i: int) -> list[float]:
    """Named vector ``a`` (Dot, 4 dims): the dot with [1, 0, 0, 0] is the id."""
    return [float(i), 1.0, 0.0, 0.5]


def vec_b(i: int) -> list[float]:
    """Named vector ``b`` (Euclid, 2 dims): on a line, so distances are |i - j| * sqrt(2)."""
    return [float(i), -float(i)]


def payload_of(i: int) -> dict:
    return {
        "k": "x" if i % 2 else "y",
        "n": i,
        "f": i / 2,
        "b": i % 3 == 0,
        "d": f"2024-01-{i:02d}T00:00:00Z",
        "u": str(uuid.UUID(int=i)),
        "g": {"lon": i * 0.5, "lat": i * 0.5},
        "t": f"hello world {i}",
        "meta": {"lvl": i % 4},
        "tags": [f"t{i % 3}"] + (["even"] if i % 2 == 0 else []),
    }


PAYLOADS = {i: payload_of(i) for i in IDS}

BASE_INDEXES = [
    ("k", models.PayloadSchemaType.KEYWORD),
    ("n", models.PayloadSchemaType.INTEGER),
    ("f", models.PayloadSchemaType.FLOAT),
    ("b", models.PayloadSchemaType.BOOL),
    ("d", models.PayloadSchemaType.DATETIME),
    ("u", models.PayloadSchemaType.UUID),
    ("g", models.PayloadSchemaType.GEO),
    ("t", models.PayloadSchemaType.TEXT),
]


def dot(u, v) -> float:
    return sum(x * y for x, y in zip(u, v))


def euclid(u, v) -> float:
    return math.sqrt(sum((x - y) ** 2 for x, y in zip(u, v)))


def haversine_m(lon1, lat1, lon2, lat2) -> float:
    r = 6371000.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


def fast_sigmoid(x: float) -> float:
    return x / (1.0 + abs(x))


def scaled_fast_sigmoid(x: float) -> float:
    return 0.5 * (fast_sigmoid(x) + 1.0)


def ids(points) -> list:
    return [p.id for p in points]


def scores(points) -> list[float]:
    return [p.score for p in points]


def assert_scores(points, expected: list[float], eps: float = SCORE_EPS) -> None:
    got = scores(points)
    assert len(got) == len(expected), (got, expected)
    for g, e in zip(got, expected):
        assert abs(g - e) <= eps * max(1.0, abs(e)), f"scores {got} != {expected}"


# ---------------------------------------------------------------------------
# Errors, as a user sees them on each transport
# ---------------------------------------------------------------------------


def error_of(fn):
    """(status, message) of a refused call: the HTTP status over REST, the gRPC code over gRPC."""
    try:
        fn()
    except UnexpectedResponse as e:
        return e.status_code, e.content.decode(errors="replace")
    except grpc.RpcError as e:
        return e.code(), e.details()
    raise AssertionError("the call succeeded; an error was expected")


def assert_refused(transport: str, fn, http: int, code: grpc.StatusCode, *fragments: str) -> str:
    status, message = error_of(fn)
    want = http if transport == "rest" else code
    assert status == want, f"{transport}: expected {want}, got {status}: {message}"
    for fragment in fragments:
        assert fragment.lower() in message.lower(), f"{transport}: {fragment!r} not in {message!r}"
    return message


# ---------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------


def connect(srv: OspreyServer, transport: str, **extra) -> QdrantClient:
    """A client as a user makes it; the version check is test_client.py's business."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Api key is used with an insecure connection")
        return QdrantClient(
            url=srv.url,
            api_key=srv.api_key,
            prefer_grpc=transport == "grpc",
            grpc_port=srv.grpc_port,
            timeout=30,
            check_compatibility=False,
            **extra,
        )


@pytest.fixture(scope="module")
def clients(server):
    made = {t: connect(server, t) for t in TRANSPORTS}
    yield made
    for c in made.values():
        c.close()


@pytest.fixture
def qc(clients, transport) -> QdrantClient:
    return clients[transport]


@pytest.fixture(scope="module")
def bases(clients):
    """One read-only base collection per transport, made through that transport."""
    names = {}
    for t, c in clients.items():
        name = f"sweep_base_{t}"
        c.create_collection(
            name,
            vectors_config={
                "a": models.VectorParams(size=4, distance=DOT),
                "b": models.VectorParams(size=2, distance=EUCLID),
            },
        )
        c.upsert(
            name,
            points=[
                models.PointStruct(id=i, vector={"a": vec_a(i), "b": vec_b(i)}, payload=PAYLOADS[i])
                for i in IDS
            ],
            wait=True,
        )
        for field, schema in BASE_INDEXES:
            c.create_payload_index(name, field, field_schema=schema, wait=True)
        names[t] = name
    return names


@pytest.fixture
def base(bases, transport) -> str:
    return bases[transport]


def fresh(qc: QdrantClient, transport: str, tag: str, **kwargs) -> str:
    """A new empty collection named by test and transport (4-dim Dot unless told)."""
    name = f"sw_{tag}_{transport}"
    if qc.collection_exists(name):
        qc.delete_collection(name)
    kwargs.setdefault("vectors_config", models.VectorParams(size=4, distance=DOT))
    assert qc.create_collection(name, **kwargs) is True
    return name


def small(qc: QdrantClient, transport: str, tag: str, n: int = 6) -> str:
    """A fresh unnamed-vector collection with points 1..n: vector [i, 1, 0, 0.5], payload {n: i, ...}."""
    name = fresh(qc, transport, tag)
    qc.upsert(
        name,
        points=[
            models.PointStruct(id=i, vector=vec_a(i), payload={"n": i, "k": "x" if i % 2 else "y", "meta": {"lvl": i}})
            for i in range(1, n + 1)
        ],
        wait=True,
    )
    return name


# ---------------------------------------------------------------------------
# Collections
# ---------------------------------------------------------------------------


@BOTH
def test_collection_exists(qc, base):
    assert qc.collection_exists(base) is True
    assert qc.collection_exists("sweep_no_such_collection") is False


@BOTH
def test_create_collection_with_config_diffs(qc, transport):
    name = fresh(
        qc,
        transport,
        "cfg",
        vectors_config=models.VectorParams(
            size=4, distance=COSINE, hnsw_config=models.HnswConfigDiff(m=8), on_disk=True
        ),
        hnsw_config=models.HnswConfigDiff(m=20, ef_construct=50, full_scan_threshold=5000),
        optimizers_config=models.OptimizersConfigDiff(
            indexing_threshold=1000, deleted_threshold=0.3, default_segment_number=2
        ),
        wal_config=models.WalConfigDiff(wal_capacity_mb=16, wal_segments_ahead=1),
        on_disk_payload=True,
    )
    info = qc.get_collection(name)
    assert isinstance(info, models.CollectionInfo)
    assert info.status == models.CollectionStatus.GREEN
    assert info.points_count == 0
    params = info.config.params
    assert isinstance(params.vectors, models.VectorParams)
    assert (params.vectors.size, params.vectors.distance) == (4, COSINE)
    assert params.vectors.hnsw_config.m == 8
    assert params.vectors.on_disk is True
    assert params.on_disk_payload is True
    assert (params.shard_number, params.replication_factor) == (1, 1)
    hnsw = info.config.hnsw_config
    assert (hnsw.m, hnsw.ef_construct, hnsw.full_scan_threshold) == (20, 50, 5000)
    opt = info.config.optimizer_config
    assert (opt.indexing_threshold, opt.deleted_threshold, opt.default_segment_number) == (1000, 0.3, 2)
    wal = info.config.wal_config
    assert (wal.wal_capacity_mb, wal.wal_segments_ahead) == (16, 1)


@BOTH
def test_create_collection_named_and_sparse_vectors(qc, transport):
    name = fresh(
        qc,
        transport,
        "named",
        vectors_config={
            "text": models.VectorParams(size=8, distance=COSINE),
            "image": models.VectorParams(size=3, distance=EUCLID),
        },
        sparse_vectors_config={
            "bm25": models.SparseVectorParams(modifier=models.Modifier.IDF),
            "splade": models.SparseVectorParams(
                index=models.SparseIndexParams(on_disk=False, full_scan_threshold=100)
            ),
        },
    )
    params = qc.get_collection(name).config.params
    assert set(params.vectors) == {"text", "image"}
    assert (params.vectors["text"].size, params.vectors["text"].distance) == (8, COSINE)
    assert (params.vectors["image"].size, params.vectors["image"].distance) == (3, EUCLID)
    assert set(params.sparse_vectors) == {"bm25", "splade"}
    assert params.sparse_vectors["bm25"].modifier == models.Modifier.IDF
    assert params.sparse_vectors["splade"].index.full_scan_threshold == 100
    assert params.sparse_vectors["splade"].index.on_disk is False


@BOTH
def test_create_collection_twice_is_refused(qc, transport):
    name = fresh(qc, transport, "dup")
    assert_refused(
        transport,
        lambda: qc.create_collection(name, vectors_config=models.VectorParams(size=4, distance=DOT)),
        409,
        grpc.StatusCode.ALREADY_EXISTS,
        "already exists",
    )


@BOTH
def test_recreate_collection(qc, transport):
    name = small(qc, transport, "recreate")
    with pytest.warns(DeprecationWarning, match="recreate_collection"):
        assert qc.recreate_collection(name, vectors_config=models.VectorParams(size=2, distance=COSINE)) is True
    info = qc.get_collection(name)
    assert info.points_count == 0
    assert (info.config.params.vectors.size, info.config.params.vectors.distance) == (2, COSINE)


@BOTH
def test_get_collections(qc, base):
    listing = qc.get_collections()
    assert isinstance(listing, models.CollectionsResponse)
    assert all(isinstance(c, models.CollectionDescription) for c in listing.collections)
    assert base in {c.name for c in listing.collections}


@BOTH
def test_get_collection_counts(qc, base):
    info = qc.get_collection(base)
    assert info.points_count == N
    assert info.status == models.CollectionStatus.GREEN
    assert info.optimizer_status == models.OptimizersStatusOneOf.OK
    assert set(info.config.params.vectors) == {"a", "b"}


@BOTH
def test_get_collection_missing(qc, transport):
    assert_refused(transport, lambda: qc.get_collection("sweep_nope"), 404, NOT_FOUND, "sweep_nope", "doesn't exist")


@BOTH
def test_update_collection(qc, transport):
    name = fresh(qc, transport, "update")
    assert (
        qc.update_collection(
            name,
            optimizers_config=models.OptimizersConfigDiff(indexing_threshold=5000, default_segment_number=3),
            hnsw_config=models.HnswConfigDiff(m=32, ef_construct=200),
        )
        is True
    )
    config = qc.get_collection(name).config
    assert (config.optimizer_config.indexing_threshold, config.optimizer_config.default_segment_number) == (5000, 3)
    assert (config.hnsw_config.m, config.hnsw_config.ef_construct) == (32, 200)

    assert (
        qc.update_collection(
            name,
            vectors_config={"": models.VectorParamsDiff(on_disk=True, hnsw_config=models.HnswConfigDiff(m=4))},
            collection_params=models.CollectionParamsDiff(on_disk_payload=True),
            metadata={"team": "search"},
        )
        is True
    )
    config = qc.get_collection(name).config
    assert config.params.vectors.on_disk is True
    assert config.params.vectors.hnsw_config.m == 4
    assert config.params.on_disk_payload is True
    assert config.metadata == {"team": "search"}


@BOTH
def test_delete_collection(qc, transport):
    name = small(qc, transport, "delete_coll")
    assert qc.delete_collection(name) is True
    assert qc.collection_exists(name) is False
    # Qdrant answers false, not an error, for a collection that is not there.
    assert qc.delete_collection(name) is False


@BOTH
def test_create_and_delete_vector_name(qc, transport):
    name = named_collection(qc, transport, "vecname")
    result = qc.create_vector_name(
        name, "extra", models.DenseVectorNameConfig(dense=models.DenseVectorConfig(size=3, distance=COSINE))
    )
    assert result.status == models.UpdateStatus.COMPLETED
    vectors = qc.get_collection(name).config.params.vectors
    assert set(vectors) == {"a", "b", "extra"}
    assert (vectors["extra"].size, vectors["extra"].distance) == (3, COSINE)
    qc.update_vectors(name, points=[models.PointVectors(id=2, vector={"extra": [1.0, 2.0, 3.0]})])
    hits = qc.query_points(name, query=[1.0, 2.0, 3.0], using="extra", limit=5).points
    assert ids(hits) == [2]
    assert qc.delete_vector_name(name, "extra").status == models.UpdateStatus.COMPLETED
    assert set(qc.get_collection(name).config.params.vectors) == {"a", "b"}


@BOTH
def test_get_optimizations(qc, base):
    answer = qc.get_optimizations(base)
    assert isinstance(answer, models.OptimizationsResponse)
    assert answer.summary.queued_optimizations == 0
    assert answer.running == []


# ---------------------------------------------------------------------------
# Payload indexes
# ---------------------------------------------------------------------------


@BOTH
def test_create_payload_index_every_type(qc, transport):
    name = fresh(qc, transport, "index_types")
    qc.upsert(
        name,
        points=[models.PointStruct(id=i, vector=vec_a(i), payload=PAYLOADS[i]) for i in (1, 2, 3)]
        + [models.PointStruct(id=4, vector=vec_a(4), payload={"k": "only-k"})],
    )
    for field, schema in BASE_INDEXES:
        result = qc.create_payload_index(name, field, field_schema=schema, wait=True)
        assert result.status == models.UpdateStatus.COMPLETED
    schema = qc.get_collection(name).payload_schema
    assert set(schema) == {f for f, _ in BASE_INDEXES}
    for field, kind in BASE_INDEXES:
        assert schema[field].data_type == kind, field
        assert schema[field].params is None, field
        assert schema[field].points == (4 if field == "k" else 3), field


@BOTH
def test_create_payload_index_with_params(qc, transport):
    name = fresh(qc, transport, "index_params")
    qc.upsert(name, points=[models.PointStruct(id=1, vector=vec_a(1), payload=PAYLOADS[1])])
    wanted = {
        "k": models.KeywordIndexParams(type=models.KeywordIndexType.KEYWORD, is_tenant=True, on_disk=True),
        "n": models.IntegerIndexParams(type=models.IntegerIndexType.INTEGER, lookup=False, range=True, is_principal=True),
        "f": models.FloatIndexParams(type=models.FloatIndexType.FLOAT, on_disk=True),
        "b": models.BoolIndexParams(type=models.BoolIndexType.BOOL),
        "d": models.DatetimeIndexParams(type=models.DatetimeIndexType.DATETIME, is_principal=True),
        "u": models.UuidIndexParams(type=models.UuidIndexType.UUID, is_tenant=True),
        "g": models.GeoIndexParams(type=models.GeoIndexType.GEO),
        "t": models.TextIndexParams(
            type=models.TextIndexType.TEXT,
            tokenizer=models.TokenizerType.WORD,
            min_token_len=2,
            max_token_len=10,
            lowercase=True,
        ),
        "meta.lvl": models.IntegerIndexParams(type=models.IntegerIndexType.INTEGER, lookup=True, range=False),
    }
    for field, params in wanted.items():
        qc.create_payload_index(name, field, field_schema=params, wait=True)
    schema = qc.get_collection(name).payload_schema
    assert set(schema) == set(wanted)
    for field, params in wanted.items():
        got = schema[field].params
        assert type(got) is type(params), field
        for key, value in params.model_dump(exclude_none=True).items():
            assert getattr(got, key) == value, (field, key, got)
        assert schema[field].points == 1, field


@BOTH
def test_delete_payload_index(qc, transport):
    name = fresh(qc, transport, "index_delete")
    qc.create_payload_index(name, "k", field_schema=models.PayloadSchemaType.KEYWORD)
    qc.create_payload_index(name, "n", field_schema=models.PayloadSchemaType.INTEGER)
    result = qc.delete_payload_index(name, "k", wait=True)
    assert result.status == models.UpdateStatus.COMPLETED
    assert set(qc.get_collection(name).payload_schema) == {"n"}


# ---------------------------------------------------------------------------
# Writing points
# ---------------------------------------------------------------------------


@BOTH
def test_upsert_point_structs_and_retrieve(qc, transport):
    name = fresh(qc, transport, "upsert")
    result = qc.upsert(
        name,
        points=[models.PointStruct(id=i, vector=vec_a(i), payload={"n": i, "nested": {"x": [i, "s"]}}) for i in (1, 2, 3)],
    )
    assert isinstance(result, models.UpdateResult)
    assert result.status == models.UpdateStatus.COMPLETED
    assert isinstance(result.operation_id, int)
    later = qc.upsert(name, points=[models.PointStruct(id=4, vector=vec_a(4))], wait=False)
    assert later.status in (models.UpdateStatus.ACKNOWLEDGED, models.UpdateStatus.COMPLETED)
    assert later.operation_id > result.operation_id

    records = sorted(qc.retrieve(name, ids=[3, 1, 77], with_vectors=True), key=lambda r: r.id)
    assert all(isinstance(r, models.Record) for r in records)
    assert [(r.id, r.payload, r.vector) for r in records] == [
        (1, {"n": 1, "nested": {"x": [1, "s"]}}, vec_a(1)),
        (3, {"n": 3, "nested": {"x": [3, "s"]}}, vec_a(3)),
    ]
    assert qc.count(name, exact=True).count == 4


@BOTH
def test_upsert_batch_with_uuid_ids(qc, transport):
    name = fresh(qc, transport, "batch", vectors_config=models.VectorParams(size=3, distance=EUCLID))
    uids = [str(uuid.UUID(int=0xABC0 + i)) for i in range(3)]
    result = qc.upsert(
        name,
        points=models.Batch(ids=uids, vectors=[[1, 2, 3], [4, 5, 6], [7, 8, 9]], payloads=[{"i": 0}, {"i": 1}, {"i": 2}]),
    )
    assert result.status == models.UpdateStatus.COMPLETED
    # A UUID given without dashes is the same point, answered in canonical form.
    qc.upsert(name, points=[models.PointStruct(id=uuid.UUID(int=5).hex, vector=[0, 0, 0], payload={"i": 5})])
    records = qc.retrieve(name, ids=[uids[1], str(uuid.UUID(int=5))], with_vectors=True)
    got = {r.id: (r.payload, r.vector) for r in records}
    assert got == {uids[1]: ({"i": 1}, [4.0, 5.0, 6.0]), str(uuid.UUID(int=5)): ({"i": 5}, [0.0, 0.0, 0.0])}
    assert qc.count(name).count == 4


@BOTH
def test_upload_points_and_upload_collection(qc, transport):
    name = fresh(qc, transport, "upload", vectors_config=models.VectorParams(size=3, distance=DOT))
    qc.upload_points(
        name,
        points=[models.PointStruct(id=1000 + i, vector=[i, 1, 0], payload={"up": i}) for i in range(100)],
        batch_size=32,
        wait=True,
    )
    qc.upload_collection(
        name,
        vectors=[[i, 0, 1] for i in range(50)],
        payload=[{"uc": i} for i in range(50)],
        ids=range(2000, 2050),
        batch_size=16,
        wait=True,
    )
    assert qc.count(name, exact=True).count == 150
    (rec,) = qc.retrieve(name, ids=[2049], with_vectors=True)
    assert (rec.payload, rec.vector) == ({"uc": 49}, [49.0, 0.0, 1.0])
    (rec,) = qc.retrieve(name, ids=[1099])
    assert rec.payload == {"up": 99}


# ---------------------------------------------------------------------------
# Reading points: retrieve, scroll, count
# ---------------------------------------------------------------------------


@BOTH
def test_retrieve_named_vector_and_payload_selectors(qc, base):
    records = sorted(qc.retrieve(base, ids=[2, 1, 999], with_vectors=["b"], with_payload=["n", "meta.lvl"]), key=lambda r: r.id)
    assert [r.id for r in records] == [1, 2]
    for r in records:
        assert r.vector == {"b": vec_b(r.id)}
        assert r.payload == {"n": r.id, "meta": {"lvl": r.id % 4}}
    (rec,) = qc.retrieve(base, ids=[3], with_payload=False, with_vectors=False)
    assert not rec.payload and rec.vector is None


@BOTH
def test_scroll_offset_paging(qc, base):
    seen, offset, pages = [], None, 0
    while True:
        points, offset = qc.scroll(base, limit=7, offset=offset, with_payload=False)
        seen.extend(ids(points))
        pages += 1
        if offset is None:
            break
        assert offset == seen[-1] + 1
    assert seen == IDS
    assert pages == 3


@BOTH
def test_scroll_with_filter(qc, base):
    flt = models.Filter(
        must=[
            models.FieldCondition(key="k", match=models.MatchValue(value="x")),
            models.FieldCondition(key="n", range=models.Range(gte=10)),
        ]
    )
    points, nxt = qc.scroll(base, scroll_filter=flt, limit=3, with_payload=["n"])
    assert ids(points) == [11, 13, 15]
    assert [p.payload for p in points] == [{"n": 11}, {"n": 13}, {"n": 15}]
    assert nxt == 17
    points, nxt = qc.scroll(base, scroll_filter=flt, limit=3, offset=nxt)
    assert ids(points) == [17, 19] and nxt is None


@BOTH
def test_scroll_order_by(qc, base):
    points, nxt = qc.scroll(base, limit=5, order_by=models.OrderBy(key="n", direction=models.Direction.DESC))
    assert ids(points) == [20, 19, 18, 17, 16]
    assert [p.order_value for p in points] == [20, 19, 18, 17, 16]
    assert nxt is None
    points, _ = qc.scroll(base, limit=3, order_by=models.OrderBy(key="n", start_from=10))
    assert ids(points) == [10, 11, 12]
    points, _ = qc.scroll(base, limit=3, order_by="f")
    assert ids(points) == [1, 2, 3]
    assert [p.order_value for p in points] == [0.5, 1.0, 1.5]


@BOTH
def test_scroll_order_by_datetime(qc, base):
    points, _ = qc.scroll(base, limit=4, order_by=models.OrderBy(key="d", direction=models.Direction.DESC))
    assert ids(points) == [20, 19, 18, 17]
    values = [p.order_value for p in points]
    assert all(isinstance(v, int) for v in values), values
    assert values == sorted(values, reverse=True) and len(set(values)) == 4


@BOTH
def test_query_order_by_datetime(qc, base):
    points = qc.query_points(base, query=models.OrderByQuery(order_by="d"), limit=3).points
    assert ids(points) == [1, 2, 3]
    assert all(isinstance(p.order_value, int) for p in points), [p.order_value for p in points]


@BOTH
def test_scroll_order_by_needs_a_range_index(qc, transport, base):
    # `k` has a keyword index, which cannot order; Qdrant refuses rather than answer nothing.
    assert_refused(transport, lambda: qc.scroll(base, limit=3, order_by="k"), 400, INVALID, "range index")


@BOTH
def test_scroll_order_by_with_offset_is_refused(qc, transport, base):
    assert_refused(transport, lambda: qc.scroll(base, limit=3, order_by="n", offset=2), 400, INVALID, "offset")


@BOTH
def test_count_exact(qc, base):
    total = qc.count(base, exact=True)
    assert isinstance(total, models.CountResult) and total.count == N
    flt = models.Filter(must=[models.FieldCondition(key="b", match=models.MatchValue(value=True))])
    assert qc.count(base, count_filter=flt, exact=True).count == 6
    assert qc.count(base, count_filter=flt, exact=False).count == 6


F = models.FieldCondition

# (label, filter, oracle predicate on (id, payload))
FILTERS = [
    ("match keyword", models.Filter(must=[F(key="k", match=models.MatchValue(value="x"))]), lambda i, p: p["k"] == "x"),
    ("match integer", models.Filter(must=[F(key="n", match=models.MatchValue(value=7))]), lambda i, p: p["n"] == 7),
    ("match bool", models.Filter(must=[F(key="b", match=models.MatchValue(value=True))]), lambda i, p: p["b"]),
    ("match any", models.Filter(must=[F(key="n", match=models.MatchAny(any=[1, 5, 9, 30]))]), lambda i, p: p["n"] in (1, 5, 9)),
    (
        "match except",
        models.Filter(must=[F(key="k", match=models.MatchExcept(**{"except": ["x"]}))]),
        lambda i, p: p["k"] != "x",
    ),
    (
        "match array element",
        models.Filter(must=[F(key="tags", match=models.MatchValue(value="even"))]),
        lambda i, p: "even" in p["tags"],
    ),
    ("match text", models.Filter(must=[F(key="t", match=models.MatchText(text="world 3"))]), lambda i, p: i == 3),
    ("match uuid", models.Filter(must=[F(key="u", match=models.MatchValue(value=str(uuid.UUID(int=4))))]), lambda i, p: i == 4),
    ("float range", models.Filter(must=[F(key="f", range=models.Range(gt=1.0, lte=2.5))]), lambda i, p: 1.0 < p["f"] <= 2.5),
    (
        "datetime range",
        models.Filter(must=[F(key="d", range=models.DatetimeRange(gte="2024-01-03T00:00:00Z", lt="2024-01-05T00:00:00Z"))]),
        lambda i, p: i in (3, 4),
    ),
    (
        "geo radius",
        models.Filter(
            must=[F(key="g", geo_radius=models.GeoRadius(center=models.GeoPoint(lon=2.0, lat=2.0), radius=200_000.0))]
        ),
        lambda i, p: haversine_m(2.0, 2.0, p["g"]["lon"], p["g"]["lat"]) <= 200_000.0,
    ),
    (
        "geo bounding box",
        models.Filter(
            must=[
                F(
                    key="g",
                    geo_bounding_box=models.GeoBoundingBox(
                        top_left=models.GeoPoint(lon=1.2, lat=3.2), bottom_right=models.GeoPoint(lon=3.2, lat=1.2)
                    ),
                )
            ]
        ),
        lambda i, p: 1.2 <= p["g"]["lon"] <= 3.2,
    ),
    ("nested key", models.Filter(must=[F(key="meta.lvl", range=models.Range(lte=0))]), lambda i, p: p["meta"]["lvl"] == 0),
    (
        "values count",
        models.Filter(must=[F(key="tags", values_count=models.ValuesCount(gte=2))]),
        lambda i, p: len(p["tags"]) >= 2,
    ),
    ("must not", models.Filter(must_not=[F(key="b", match=models.MatchValue(value=True))]), lambda i, p: not p["b"]),
    (
        "should",
        models.Filter(should=[F(key="n", match=models.MatchValue(value=1)), F(key="n", match=models.MatchValue(value=2))]),
        lambda i, p: i in (1, 2),
    ),
    (
        "min should",
        models.Filter(
            min_should=models.MinShould(
                conditions=[
                    F(key="k", match=models.MatchValue(value="x")),
                    F(key="b", match=models.MatchValue(value=True)),
                    F(key="n", range=models.Range(gt=15)),
                ],
                min_count=2,
            )
        ),
        lambda i, p: (p["k"] == "x") + p["b"] + (p["n"] > 15) >= 2,
    ),
    ("is empty", models.Filter(must=[models.IsEmptyCondition(is_empty=models.PayloadField(key="nope"))]), lambda i, p: True),
    ("is null", models.Filter(must=[models.IsNullCondition(is_null=models.PayloadField(key="n"))]), lambda i, p: False),
    ("has id", models.Filter(must=[models.HasIdCondition(has_id=[1, 3, 99])]), lambda i, p: i in (1, 3)),
    (
        "nested filter",
        models.Filter(
            must=[
                models.Filter(should=[F(key="n", range=models.Range(lt=3)), F(key="n", range=models.Range(gt=18))]),
                F(key="k", match=models.MatchValue(value="y")),
            ]
        ),
        lambda i, p: (i < 3 or i > 18) and p["k"] == "y",
    ),
]


@BOTH
def test_filters_match_the_oracle(qc, base):
    mismatches = []
    for label, flt, pred in FILTERS:
        want = [i for i in IDS if pred(i, PAYLOADS[i])]
        got = ids(qc.scroll(base, scroll_filter=flt, limit=100, with_payload=False)[0])
        count = qc.count(base, count_filter=flt, exact=True).count
        if got != want or count != len(want):
            mismatches.append((label, want, got, count))
    assert not mismatches, mismatches


# ---------------------------------------------------------------------------
# query_points and friends
# ---------------------------------------------------------------------------


@BOTH
def test_query_points_vector_using(qc, base):
    answer = qc.query_points(base, query=[1.0, 0.0, 0.0, 0.0], using="a", limit=3)
    assert isinstance(answer, QueryResponse)
    assert all(isinstance(p, models.ScoredPoint) for p in answer.points)
    assert ids(answer.points) == [20, 19, 18]
    assert_scores(answer.points, [20.0, 19.0, 18.0])
    assert answer.points[0].payload == PAYLOADS[20]
    # NearestQuery is the same thing spelled out.
    answer = qc.query_points(base, query=models.NearestQuery(nearest=[0.0, 0.0, 0.0, 2.0]), using="a", limit=2)
    assert_scores(answer.points, [1.0, 1.0])


@BOTH
def test_query_points_unknown_vector_name(qc, transport, base):
    assert_refused(
        transport, lambda: qc.query_points(base, query=[1.0, 0.0, 0.0, 0.0], using="zzz", limit=3), 400, INVALID, "vector name"
    )


@BOTH
def test_query_points_by_point_id(qc, base):
    points = qc.query_points(base, query=10, using="b", limit=3).points
    assert 10 not in ids(points)
    assert set(ids(points)[:2]) == {9, 11}
    assert ids(points)[2] in (8, 12)
    assert_scores(points, [math.sqrt(2), math.sqrt(2), 2 * math.sqrt(2)])


@BOTH
def test_query_points_by_missing_id(qc, transport, base):
    assert_refused(transport, lambda: qc.query_points(base, query=999, using="a", limit=2), 404, NOT_FOUND, "999")


@BOTH
def test_query_points_filter_and_score_threshold(qc, base):
    points = qc.query_points(
        base,
        query=[1.0, 0.0, 0.0, 0.0],
        using="a",
        query_filter=models.Filter(must_not=[F(key="b", match=models.MatchValue(value=True))]),
        score_threshold=14.5,
        limit=10,
    ).points
    assert ids(points) == [20, 19, 17, 16]


@BOTH
def test_query_points_payload_selectors_and_named_vectors(qc, base):
    points = qc.query_points(
        base,
        query=[1.0, 0.0, 0.0, 0.0],
        using="a",
        limit=2,
        with_payload=models.PayloadSelectorInclude(include=["n", "meta.lvl"]),
        with_vectors=["b"],
    ).points
    assert [(p.id, p.payload, p.vector) for p in points] == [
        (20, {"n": 20, "meta": {"lvl": 0}}, {"b": vec_b(20)}),
        (19, {"n": 19, "meta": {"lvl": 3}}, {"b": vec_b(19)}),
    ]
    points = qc.query_points(
        base,
        query=[1.0, 0.0, 0.0, 0.0],
        using="a",
        limit=1,
        with_payload=models.PayloadSelectorExclude(exclude=["t", "g", "u", "d", "tags"]),
    ).points
    assert points[0].payload == {"k": "y", "n": 20, "f": 10.0, "b": False, "meta": {"lvl": 0}}
    points = qc.query_points(base, query=[1.0, 0.0, 0.0, 0.0], using="a", limit=1, with_payload=False).points
    assert not points[0].payload


@BOTH
def test_query_points_offset(qc, base):
    points = qc.query_points(base, query=[1.0, 0.0, 0.0, 0.0], using="a", limit=2, offset=2).points
    assert ids(points) == [18, 17]


# Two prefetches over the base set: `a` by dot with [1, 0, 0, 0] gives
# [20, 19, 18, 17]; `b` nearest to [17.2, -17.2] gives [17, 18, 16, 19].
PREFETCH_A = models.Prefetch(query=[1.0, 0.0, 0.0, 0.0], using="a", limit=4)
PREFETCH_B = models.Prefetch(query=[17.2, -17.2], using="b", limit=4)
LIST_A = [20, 19, 18, 17]
LIST_B = [17, 18, 16, 19]


def rrf_oracle(lists, k=2, weights=None):
    """Qdrant's RRF: sum over lists of 1 / ((pos + 1) / weight + k - 1), pos from 0."""
    weights = weights or [1.0] * len(lists)
    total: dict = {}
    for lst, w in zip(lists, weights):
        for pos, pid in enumerate(lst):
            total[pid] = total.get(pid, 0.0) + 1.0 / ((pos + 1) / w + k - 1)
    return sorted(total.items(), key=lambda kv: -kv[1])


@BOTH
def test_query_prefetch_fusion_rrf(qc, base):
    points = qc.query_points(
        base, prefetch=[PREFETCH_A, PREFETCH_B], query=models.FusionQuery(fusion=models.Fusion.RRF), limit=5
    ).points
    want = rrf_oracle([LIST_A, LIST_B])
    assert ids(points) == [pid for pid, _ in want] == [17, 18, 19, 20, 16]
    assert_scores(points, [s for _, s in want])


@BOTH
def test_query_prefetch_rrf_with_k(qc, base):
    points = qc.query_points(
        base, prefetch=[PREFETCH_A, PREFETCH_B], query=models.RrfQuery(rrf=models.Rrf(k=10)), limit=5
    ).points
    want = rrf_oracle([LIST_A, LIST_B], k=10)
    assert ids(points) == [pid for pid, _ in want]
    assert_scores(points, [s for _, s in want])


@BOTH
def test_query_prefetch_rrf_with_weights(qc, base):
    near_one = models.Prefetch(query=[1.0, -1.0], using="b", limit=4)  # [1, 2, 3, 4]
    points = qc.query_points(
        base, prefetch=[PREFETCH_A, near_one], query=models.RrfQuery(rrf=models.Rrf(weights=[3.0, 1.0])), limit=5
    ).points
    want = rrf_oracle([LIST_A, [1, 2, 3, 4]], weights=[3.0, 1.0])
    assert ids(points)[:2] == [20, 19]
    assert_scores(points, [s for _, s in want][:5])


def dbsf_oracle(lists):
    """Qdrant's DBSF: each list normalised by mean -/+ 3 sample standard deviations, then summed."""
    total: dict = {}
    for lst in lists:
        vals = [s for _, s in lst]
        if len(vals) == 1:
            normed = [0.5]
        else:
            mean = sum(vals) / len(vals)
            std = math.sqrt(sum((v - mean) ** 2 for v in vals) / (len(vals) - 1))
            lo, hi = mean - 3 * std, mean + 3 * std
            normed = [(v - lo) / (hi - lo) for v in vals]
        for (pid, _), s in zip(lst, normed):
            total[pid] = total.get(pid, 0.0) + s
    return sorted(total.items(), key=lambda kv: -kv[1])


@BOTH
def test_query_prefetch_fusion_dbsf(qc, base):
    opposite = models.Prefetch(query=[-1.0, 0.0, 0.0, 0.0], using="a", limit=3)  # 1, 2, 3 scoring -1, -2, -3
    points = qc.query_points(
        base, prefetch=[PREFETCH_A, opposite], query=models.FusionQuery(fusion=models.Fusion.DBSF), limit=7
    ).points
    want = dbsf_oracle([[(i, float(i)) for i in LIST_A], [(i, -float(i)) for i in (1, 2, 3)]])
    assert ids(points) == [pid for pid, _ in want]
    assert_scores(points, [s for _, s in want])


@BOTH
def test_query_prefetch_then_rescore(qc, base):
    points = qc.query_points(base, prefetch=PREFETCH_A, query=[17.2, -17.2], using="b", limit=5).points
    assert ids(points) == [17, 18, 19, 20]
    assert_scores(points, [euclid(vec_b(i), [17.2, -17.2]) for i in (17, 18, 19, 20)])


@BOTH
def test_query_order_by(qc, base):
    points = qc.query_points(
        base,
        query=models.OrderByQuery(order_by=models.OrderBy(key="n", direction=models.Direction.DESC)),
        query_filter=models.Filter(must=[F(key="k", match=models.MatchValue(value="x"))]),
        limit=3,
        with_payload=["n"],
    ).points
    assert ids(points) == [19, 17, 15]
    assert [p.order_value for p in points] == [19, 17, 15]


@BOTH
def test_query_sample_random(qc, base):
    points = qc.query_points(base, query=models.SampleQuery(sample=models.Sample.RANDOM), limit=5).points
    assert len(set(ids(points))) == 5 and set(ids(points)) <= set(IDS)


def recommend(qc, base, positive, negative, strategy, limit=3):
    return qc.query_points(
        base,
        query=models.RecommendQuery(recommend=models.RecommendInput(positive=positive, negative=negative, strategy=strategy)),
        using="a",
        limit=limit,
    ).points


@BOTH
def test_recommend_average_vector(qc, base):
    # avg(pos) + avg(pos) - avg(neg); examples given by id are left out of the answer.
    points = recommend(qc, base, [1, 2], [20], models.RecommendStrategy.AVERAGE_VECTOR)
    q = [2 * (a + b) / 2 - c for a, b, c in zip(vec_a(1), vec_a(2), vec_a(20))]
    want = sorted((i for i in IDS if i not in (1, 2, 20)), key=lambda i: -dot(q, vec_a(i)))[:3]
    assert ids(points) == want == [3, 4, 5]
    assert_scores(points, [dot(q, vec_a(i)) for i in want])


@BOTH
def test_recommend_sum_scores(qc, base):
    points = recommend(qc, base, [[1.0, 0, 0, 0], [0, 0, 0, 2.0]], [[0.5, 0, 0, 0]], models.RecommendStrategy.SUM_SCORES)
    # i + 1 - 0.5 i: largest id first.
    assert ids(points) == [20, 19, 18]
    assert_scores(points, [0.5 * i + 1.0 for i in (20, 19, 18)])


@BOTH
def test_recommend_best_score(qc, base):
    # The negative example is the closer one for every point: Qdrant scores
    # -scaled_fast_sigmoid(best negative), so the points least like it come first.
    points = recommend(qc, base, [[-2.0, 0, 0, 0]], [[-1.0, 0, 0, 0]], models.RecommendStrategy.BEST_SCORE)
    assert ids(points) == [20, 19, 18]
    assert_scores(points, [-scaled_fast_sigmoid(-float(i)) for i in (20, 19, 18)])
    # The positive example wins: scaled_fast_sigmoid(best positive).
    points = recommend(qc, base, [[1.0, 0, 0, 0]], [[-1.0, 0, 0, 0]], models.RecommendStrategy.BEST_SCORE)
    assert ids(points) == [20, 19, 18]
    assert_scores(points, [scaled_fast_sigmoid(float(i)) for i in (20, 19, 18)])


@BOTH
def test_discover_query(qc, base):
    # One context pair: on the positive side iff i > 5. Target [-0.1, 0, 0, 0]
    # prefers small ids within a side. Qdrant: rank + 0.5 * (fast_sigmoid(t) + 1).
    points = qc.query_points(
        base,
        query=models.DiscoverQuery(
            discover=models.DiscoverInput(
                target=[-0.1, 0.0, 0.0, 0.0],
                context=[models.ContextPair(positive=[1.0, 0.0, 0.0, 0.0], negative=[0.0, 0.0, 0.0, 10.0])],
            )
        ),
        using="a",
        limit=3,
    ).points
    assert ids(points) == [6, 7, 8]
    assert_scores(points, [1 + scaled_fast_sigmoid(-0.1 * i) for i in (6, 7, 8)])


@BOTH
def test_context_query(qc, base):
    # pos - neg = i - 5; Qdrant's loss per pair is fast_sigmoid(min(i - 5, 0)).
    points = qc.query_points(
        base,
        query=models.ContextQuery(context=[models.ContextPair(positive=[1.0, 0.0, 0.0, 0.0], negative=[0.0, 0.0, 0.0, 10.0])]),
        using="a",
        query_filter=models.Filter(must=[F(key="n", range=models.Range(lte=4))]),
        limit=4,
    ).points
    assert ids(points) == [4, 3, 2, 1]
    assert_scores(points, [fast_sigmoid(i - 5.0) for i in (4, 3, 2, 1)])


@BOTH
def test_query_batch_points(qc, base):
    answers = qc.query_batch_points(
        base,
        requests=[
            models.QueryRequest(query=[1.0, 0.0, 0.0, 0.0], using="a", limit=2),
            models.QueryRequest(
                query=[0.0, 1.0], using="b", limit=2, filter=models.Filter(must=[F(key="k", match=models.MatchValue(value="y"))])
            ),
            models.QueryRequest(query=models.OrderByQuery(order_by="n"), limit=1),
        ],
    )
    assert all(isinstance(a, QueryResponse) for a in answers)
    assert [ids(a.points) for a in answers] == [[20, 19], [2, 4], [1]]


@BOTH
def test_query_points_groups(qc, base):
    result = qc.query_points_groups(base, query=[1.0, 0.0, 0.0, 0.0], using="a", group_by="k", limit=2, group_size=2)
    assert isinstance(result, models.GroupsResult)
    assert [(g.id, ids(g.hits)) for g in result.groups] == [("y", [20, 18]), ("x", [19, 17])]


@BOTH
def test_query_points_groups_with_lookup(qc, transport, base):
    lookup = fresh(qc, transport, "lookup")
    qc.upsert(lookup, points=[models.PointStruct(id=i, vector=[0, 0, 0, 0], payload={"level": f"L{i}"}) for i in range(4)])
    result = qc.query_points_groups(
        base,
        query=[1.0, 0.0, 0.0, 0.0],
        using="a",
        group_by="meta.lvl",
        limit=2,
        group_size=1,
        with_lookup=models.WithLookup(collection=lookup, with_payload=True, with_vectors=False),
    )
    got = [(g.id, ids(g.hits), g.lookup.id, g.lookup.payload) for g in result.groups]
    assert got == [(0, [20], 0, {"level": "L0"}), (3, [19], 3, {"level": "L3"})]


@BOTH
def test_query_points_lookup_from(qc, transport, base):
    other = fresh(qc, transport, "lookup_from", vectors_config={"a": models.VectorParams(size=4, distance=DOT)})
    qc.upsert(other, points=[models.PointStruct(id=1, vector={"a": [0.0, 0.0, 0.0, 3.0]})])
    points = qc.query_points(
        base, query=1, using="a", lookup_from=models.LookupLocation(collection=other, vector="a"), limit=2
    ).points
    # The vector of point 1 comes from the other collection: [0, 0, 0, 3] . a(i) = 1.5 for all.
    assert_scores(points, [1.5, 1.5])


@BOTH
def test_facet(qc, base):
    answer = qc.facet(base, key="k")
    assert isinstance(answer, models.FacetResponse)
    assert sorted((h.value, h.count) for h in answer.hits) == [("x", 10), ("y", 10)]
    answer = qc.facet(base, key="k", facet_filter=models.Filter(must=[F(key="n", range=models.Range(lte=5))]), exact=True)
    assert [(h.value, h.count) for h in answer.hits] == [("x", 3), ("y", 2)]
    answer = qc.facet(base, key="b", exact=True)
    assert [(h.value, h.count) for h in answer.hits] == [(False, 14), (True, 6)]


@BOTH
def test_facet_needs_an_index(qc, transport, base):
    assert_refused(transport, lambda: qc.facet(base, key="tags"), 400, INVALID, "index")


@BOTH
def test_search_matrix_pairs(qc, base):
    flt = models.Filter(must=[F(key="n", range=models.Range(lte=10))])
    answer = qc.search_matrix_pairs(base, query_filter=flt, using="a", sample=5, limit=2)
    assert isinstance(answer, models.SearchMatrixPairsResponse)
    sampled = {p.a for p in answer.pairs}
    assert len(sampled) == 5 and sampled <= set(range(1, 11))
    assert len(answer.pairs) == 10
    for a in sampled:
        mine = [p for p in answer.pairs if p.a == a]
        best = sorted(sampled - {a}, key=lambda j: -dot(vec_a(a), vec_a(j)))[:2]
        assert [p.b for p in mine] == best
        for p in mine:
            assert abs(p.score - dot(vec_a(p.a), vec_a(p.b))) < SCORE_EPS


@BOTH
def test_search_matrix_offsets(qc, base):
    answer = qc.search_matrix_offsets(base, using="a", sample=4, limit=1)
    assert isinstance(answer, models.SearchMatrixOffsetsResponse)
    assert len(answer.ids) == 4 and len(set(answer.ids)) == 4
    assert len(answer.offsets_row) == len(answer.offsets_col) == len(answer.scores) == 4
    for r, c, s in zip(answer.offsets_row, answer.offsets_col, answer.scores):
        a, b = answer.ids[r], answer.ids[c]
        assert a != b
        assert abs(s - dot(vec_a(a), vec_a(b))) < SCORE_EPS
        assert b == max(set(answer.ids) - {a})


# ---------------------------------------------------------------------------
# Payload updates
# ---------------------------------------------------------------------------


@BOTH
def test_set_payload(qc, transport):
    name = small(qc, transport, "set_payload")
    result = qc.set_payload(name, payload={"new": 1}, points=[1, 2])
    assert result.status == models.UpdateStatus.COMPLETED
    assert [r.payload["new"] for r in sorted(qc.retrieve(name, [1, 2]), key=lambda r: r.id)] == [1, 1]
    # `key` sets inside a nested object and keeps its other keys.
    qc.set_payload(name, payload={"x": 5}, points=[1], key="meta")
    assert qc.retrieve(name, [1], with_payload=["meta"])[0].payload == {"meta": {"lvl": 1, "x": 5}}
    # A filter selects the points.
    qc.set_payload(name, payload={"flag": True}, points=models.Filter(must=[F(key="k", match=models.MatchValue(value="y"))]))
    flagged = qc.count(name, count_filter=models.Filter(must=[F(key="flag", match=models.MatchValue(value=True))]), exact=True)
    assert flagged.count == 3


@BOTH
def test_overwrite_payload(qc, transport):
    name = small(qc, transport, "overwrite_payload")
    assert qc.overwrite_payload(name, payload={"only": 1}, points=[3]).status == models.UpdateStatus.COMPLETED
    assert qc.retrieve(name, [3])[0].payload == {"only": 1}


@BOTH
def test_delete_payload(qc, transport):
    name = small(qc, transport, "delete_payload")
    assert qc.delete_payload(name, keys=["k", "meta.lvl"], points=[1]).status == models.UpdateStatus.COMPLETED
    assert qc.retrieve(name, [1])[0].payload == {"n": 1, "meta": {}}


@BOTH
def test_clear_payload(qc, transport):
    name = small(qc, transport, "clear_payload")
    assert qc.clear_payload(name, points_selector=[2]).status == models.UpdateStatus.COMPLETED
    qc.clear_payload(name, points_selector=models.PointIdsList(points=[4]))
    records = {r.id: r.payload for r in qc.retrieve(name, [2, 3, 4])}
    assert records == {2: {}, 3: {"n": 3, "k": "x", "meta": {"lvl": 3}}, 4: {}}


# ---------------------------------------------------------------------------
# Vector updates, batches, deletes
# ---------------------------------------------------------------------------


def named_collection(qc, transport, tag):
    name = fresh(
        qc,
        transport,
        tag,
        vectors_config={"a": models.VectorParams(size=4, distance=DOT), "b": models.VectorParams(size=2, distance=EUCLID)},
        sparse_vectors_config={"s": models.SparseVectorParams()},
    )
    qc.upsert(
        name,
        points=[
            models.PointStruct(id=i, vector={"a": vec_a(i), "b": vec_b(i)}, payload={"n": i}) for i in range(1, 6)
        ],
    )
    return name


@BOTH
def test_update_and_delete_vectors(qc, transport):
    name = named_collection(qc, transport, "vectors")
    result = qc.update_vectors(name, points=[models.PointVectors(id=5, vector={"b": [9.0, 9.0]})])
    assert result.status == models.UpdateStatus.COMPLETED
    assert qc.retrieve(name, [5], with_vectors=True)[0].vector == {"a": vec_a(5), "b": [9.0, 9.0]}
    sparse = models.SparseVector(indices=[1, 5], values=[0.5, 2.0])
    qc.update_vectors(name, points=[models.PointVectors(id=5, vector={"s": sparse})])
    assert qc.retrieve(name, [5], with_vectors=["s"])[0].vector == {"s": sparse}
    assert qc.delete_vectors(name, vectors=["b"], points=[5]).status == models.UpdateStatus.COMPLETED
    vectors = qc.retrieve(name, [5], with_vectors=True)[0].vector
    assert set(vectors) == {"a", "s"}
    # A point without `b` is not found by a `b` search.
    assert 5 not in ids(qc.query_points(name, query=[9.0, 9.0], using="b", limit=10).points)


@BOTH
def test_batch_update_points(qc, transport):
    name = named_collection(qc, transport, "batch_update")
    results = qc.batch_update_points(
        name,
        update_operations=[
            models.UpsertOperation(
                upsert=models.PointsList(
                    points=[models.PointStruct(id=100, vector={"a": [1, 1, 1, 1], "b": [0, 0]}, payload={"z": 1})]
                )
            ),
            models.UpsertOperation(
                upsert=models.PointsBatch(
                    batch=models.Batch(ids=[101, 102], vectors={"a": [[1, 1, 1, 1], [2, 2, 2, 2]], "b": [[0, 0], [1, 1]]})
                )
            ),
            models.SetPayloadOperation(set_payload=models.SetPayload(payload={"z": 2}, points=[101, 102])),
            models.OverwritePayloadOperation(overwrite_payload=models.SetPayload(payload={"w": 3}, points=[102])),
            models.DeletePayloadOperation(delete_payload=models.DeletePayload(keys=["z"], points=[100])),
            models.ClearPayloadOperation(clear_payload=models.PointIdsList(points=[101])),
            models.UpdateVectorsOperation(
                update_vectors=models.UpdateVectors(points=[models.PointVectors(id=100, vector={"b": [7, 7]})])
            ),
            models.DeleteVectorsOperation(delete_vectors=models.DeleteVectors(points=[101], vector=["b"])),
            models.DeleteOperation(delete=models.PointIdsList(points=[1])),
        ],
    )
    assert len(results) == 9
    assert all(isinstance(r, models.UpdateResult) and r.status == models.UpdateStatus.COMPLETED for r in results)
    got = {r.id: (r.payload, r.vector) for r in qc.retrieve(name, [1, 100, 101, 102], with_vectors=True)}
    assert got == {
        100: ({}, {"a": [1.0, 1.0, 1.0, 1.0], "b": [7.0, 7.0]}),
        101: ({}, {"a": [1.0, 1.0, 1.0, 1.0]}),
        102: ({"w": 3}, {"a": [2.0, 2.0, 2.0, 2.0], "b": [1.0, 1.0]}),
    }


@BOTH
def test_delete_points_by_ids_and_filter(qc, transport):
    name = small(qc, transport, "delete_points", n=10)
    assert qc.delete(name, points_selector=[1, 2]).status == models.UpdateStatus.COMPLETED
    qc.delete(name, points_selector=models.PointIdsList(points=[3]))
    qc.delete(name, points_selector=models.FilterSelector(filter=models.Filter(must=[F(key="n", range=models.Range(gte=9))])))
    qc.delete(name, points_selector=models.Filter(must=[models.HasIdCondition(has_id=[4])]))
    left, _ = qc.scroll(name, limit=100)
    assert ids(left) == [5, 6, 7, 8]
    assert qc.count(name, exact=True).count == 4


# ---------------------------------------------------------------------------
# Sparse vectors and multivectors
# ---------------------------------------------------------------------------


def sparse_collection(qc, transport, tag, modifier=None):
    name = fresh(
        qc,
        transport,
        tag,
        vectors_config={"dense": models.VectorParams(size=2, distance=COSINE)},
        sparse_vectors_config={"text": models.SparseVectorParams(modifier=modifier)},
    )
    qc.upsert(
        name,
        points=[
            models.PointStruct(
                id=i,
                vector={"dense": [1.0, float(i)], "text": models.SparseVector(indices=[i, 10], values=[1.0, i / 8])},
            )
            for i in range(1, 5)
        ],
    )
    return name


@BOTH
def test_sparse_upsert_and_query_using(qc, transport):
    name = sparse_collection(qc, transport, "sparse")
    points = qc.query_points(
        name, query=models.SparseVector(indices=[2, 10], values=[1.0, 1.0]), using="text", limit=3, with_vectors=["text"]
    ).points
    # Point i holds {i: 1, 10: i / 8}: point 2 scores 1 + 2/8, the others i / 8.
    assert ids(points) == [2, 4, 3]
    assert_scores(points, [1.25, 0.5, 0.375])
    assert points[0].vector == {"text": models.SparseVector(indices=[2, 10], values=[1.0, 0.25])}


@BOTH
def test_sparse_idf_modifier(qc, transport):
    name = sparse_collection(qc, transport, "sparse_idf", modifier=models.Modifier.IDF)

    def idf(df, n=4):
        return math.log((n - df + 0.5) / (df + 0.5) + 1.0)

    # Index 2 is in one of the 4 points, index 10 in all of them.
    points = qc.query_points(name, query=models.SparseVector(indices=[2, 10], values=[1.0, 1.0]), using="text", limit=2).points
    assert ids(points) == [2, 4]
    assert_scores(points, [idf(1) + 0.25 * idf(4), 0.5 * idf(4)])


@BOTH
def test_hybrid_sparse_and_dense_rrf(qc, transport):
    name = sparse_collection(qc, transport, "hybrid")
    points = qc.query_points(
        name,
        prefetch=[
            models.Prefetch(query=models.SparseVector(indices=[2, 10], values=[1.0, 1.0]), using="text", limit=3),
            models.Prefetch(query=[1.0, 4.0], using="dense", limit=3),
        ],
        query=models.FusionQuery(fusion=models.Fusion.RRF),
        limit=3,
    ).points
    # sparse: [2, 4, 3]; dense (cosine to [1, 4]): [4, 3, 2]
    want = rrf_oracle([[2, 4, 3], [4, 3, 2]])
    assert ids(points) == [pid for pid, _ in want] == [4, 2, 3]
    assert_scores(points, [s for _, s in want])


@BOTH
def test_multivector_upsert_and_query(qc, transport):
    name = fresh(
        qc,
        transport,
        "multi",
        vectors_config={
            "colbert": models.VectorParams(
                size=2,
                distance=DOT,
                multivector_config=models.MultiVectorConfig(comparator=models.MultiVectorComparator.MAX_SIM),
            )
        },
    )
    params = qc.get_collection(name).config.params.vectors["colbert"]
    assert params.multivector_config.comparator == models.MultiVectorComparator.MAX_SIM
    docs = {1: [[1, 0], [0, 1]], 2: [[2, 0]], 3: [[0, 3], [1, 1], [0, 0]]}
    qc.upsert(name, points=[models.PointStruct(id=i, vector={"colbert": v}) for i, v in docs.items()])
    query = [[1.0, 0.0], [0.0, 1.0]]
    points = qc.query_points(name, query=query, using="colbert", limit=3).points

    def max_sim(doc):
        return sum(max(dot(q, d) for d in doc) for q in query)

    assert ids(points)[0] == 3
    assert_scores(points, sorted((max_sim(d) for d in docs.values()), reverse=True))
    assert qc.retrieve(name, [3], with_vectors=True)[0].vector == {"colbert": [[0.0, 3.0], [1.0, 1.0], [0.0, 0.0]]}


# ---------------------------------------------------------------------------
# Aliases
# ---------------------------------------------------------------------------


@BOTH
def test_aliases(qc, transport):
    first = small(qc, transport, "alias_first")
    second = fresh(qc, transport, "alias_second", vectors_config=models.VectorParams(size=2, distance=COSINE))
    alias, renamed = f"sw_alias_{transport}", f"sw_alias2_{transport}"

    def mine(listing):
        assert isinstance(listing, models.CollectionsAliasesResponse)
        return sorted((a.alias_name, a.collection_name) for a in listing.aliases if a.alias_name in (alias, renamed))

    assert (
        qc.update_collection_aliases(
            change_aliases_operations=[
                models.CreateAliasOperation(create_alias=models.CreateAlias(collection_name=first, alias_name=alias))
            ]
        )
        is True
    )
    assert mine(qc.get_aliases()) == [(alias, first)]
    assert mine(qc.get_collection_aliases(first)) == [(alias, first)]
    assert qc.get_collection(alias).points_count == 6
    assert ids(qc.query_points(alias, query=[1.0, 0.0, 0.0, 0.0], limit=1).points) == [6]

    # Swap in one call, then rename.
    qc.update_collection_aliases(
        change_aliases_operations=[
            models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=alias)),
            models.CreateAliasOperation(create_alias=models.CreateAlias(collection_name=second, alias_name=alias)),
        ]
    )
    assert qc.get_collection(alias).config.params.vectors.size == 2
    qc.update_collection_aliases(
        change_aliases_operations=[
            models.RenameAliasOperation(rename_alias=models.RenameAlias(old_alias_name=alias, new_alias_name=renamed))
        ]
    )
    assert mine(qc.get_collection_aliases(second)) == [(renamed, second)]
    assert mine(qc.get_collection_aliases(first)) == []
    qc.update_collection_aliases(
        change_aliases_operations=[models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=renamed))]
    )
    assert mine(qc.get_aliases()) == []


# ---------------------------------------------------------------------------
# Snapshots: create, list and delete over both transports (downloads and uploads are REST only)
# ---------------------------------------------------------------------------


@BOTH
def test_collection_snapshots(qc, transport):
    name = small(qc, transport, "snap")
    snap = qc.create_snapshot(name, wait=True)
    assert isinstance(snap, models.SnapshotDescription)
    assert snap.name.startswith(name) and snap.name.endswith(".snapshot")
    assert snap.size > 0
    if transport == "rest":
        # qdrant-client 1.18.0 drops the checksum when it converts gRPC answers.
        assert re.fullmatch(r"[0-9a-f]{64}", snap.checksum)
    listed = qc.list_snapshots(name)
    assert [s.name for s in listed] == [snap.name]
    assert listed[0].size == snap.size
    assert qc.delete_snapshot(name, snap.name, wait=True) is True
    assert qc.list_snapshots(name) == []


@BOTH
def test_full_snapshots(qc, transport, base):
    snap = qc.create_full_snapshot(wait=True)
    assert isinstance(snap, models.SnapshotDescription) and snap.size > 0
    assert snap.name in [s.name for s in qc.list_full_snapshots()]
    assert qc.delete_full_snapshot(snap.name, wait=True) is True
    assert snap.name not in [s.name for s in qc.list_full_snapshots()]


# ---------------------------------------------------------------------------
# Service
# ---------------------------------------------------------------------------


@BOTH
def test_info(qc):
    info = qc.info()
    assert isinstance(info, models.VersionInfo)
    assert info.version == "1.18.3"
    assert "qdrant" in info.title


def test_client_has_no_legacy_search_methods():
    """Records the client surface the sweep works against: qdrant-client 1.18.0 has
    dropped search / search_batch / search_groups / recommend / discover and
    get_locks, so test_legacy_search_endpoints calls those endpoints below it."""
    legacy = [
        "search",
        "search_batch",
        "search_groups",
        "recommend",
        "recommend_batch",
        "recommend_groups",
        "discover",
        "discover_batch",
        "get_locks",
    ]
    assert [m for m in legacy if hasattr(QdrantClient, m)] == []


@BOTH
def test_legacy_search_endpoints(qc, transport, base):
    """The pre-query search, recommend and discover endpoints, through the client's
    generated REST API and its gRPC stub (what older code and other clients use)."""
    if transport == "rest":
        api = qc.http.search_api

        def search():
            req = models.SearchRequest(vector=models.NamedVector(name="a", vector=[1, 0, 0, 0]), limit=3, with_payload=["n"])
            return api.search_points(base, search_request=req).result

        def search_batch():
            req = models.SearchRequest(vector=models.NamedVector(name="a", vector=[1, 0, 0, 0]), limit=2)
            return api.search_batch_points(base, search_request_batch=models.SearchRequestBatch(searches=[req, req])).result

        def search_groups():
            req = models.SearchGroupsRequest(
                vector=models.NamedVector(name="a", vector=[1, 0, 0, 0]), group_by="k", limit=2, group_size=1
            )
            return api.search_point_groups(base, search_groups_request=req).result.groups

        def recommend():
            req = models.RecommendRequest(positive=[1, 2], negative=[20], using="a", limit=3)
            return api.recommend_points(base, recommend_request=req).result

        def recommend_groups():
            req = models.RecommendGroupsRequest(positive=[1], using="a", group_by="k", limit=2, group_size=1)
            return api.recommend_point_groups(base, recommend_groups_request=req).result.groups

        def discover():
            req = models.DiscoverRequest(
                target=3, context=[models.ContextExamplePair(positive=1, negative=20)], using="b", limit=2
            )
            return api.discover_points(base, discover_request=req).result

    else:
        stub = qc.grpc_points
        convert = GrpcToRest.convert_scored_point

        def vec_search(limit):
            return qg.SearchPoints(collection_name=base, vector=[1, 0, 0, 0], vector_name="a", limit=limit)

        def search():
            req = vec_search(3)
            req.with_payload.CopyFrom(qg.WithPayloadSelector(include=qg.PayloadIncludeSelector(fields=["n"])))
            return [convert(p) for p in stub.Search(req).result]

        def search_batch():
            answer = stub.SearchBatch(qg.SearchBatchPoints(collection_name=base, search_points=[vec_search(2), vec_search(2)]))
            return [[convert(p) for p in r.result] for r in answer.result]

        def search_groups():
            req = qg.SearchPointGroups(
                collection_name=base, vector=[1, 0, 0, 0], vector_name="a", group_by="k", limit=2, group_size=1
            )
            return [GrpcToRest.convert_point_group(g) for g in stub.SearchGroups(req).result.groups]

        def recommend():
            req = qg.RecommendPoints(
                collection_name=base,
                positive=[qg.PointId(num=1), qg.PointId(num=2)],
                negative=[qg.PointId(num=20)],
                using="a",
                limit=3,
            )
            return [convert(p) for p in stub.Recommend(req).result]

        def recommend_groups():
            req = qg.RecommendPointGroups(
                collection_name=base, positive=[qg.PointId(num=1)], using="a", group_by="k", limit=2, group_size=1
            )
            return [GrpcToRest.convert_point_group(g) for g in stub.RecommendGroups(req).result.groups]

        def discover():
            by_id = lambda i: qg.VectorExample(id=qg.PointId(num=i))  # noqa: E731
            req = qg.DiscoverPoints(
                collection_name=base,
                target=qg.TargetVector(single=by_id(3)),
                context=[qg.ContextExamplePair(positive=by_id(1), negative=by_id(20))],
                using="b",
                limit=2,
            )
            return [convert(p) for p in stub.Discover(req).result]

    hits = search()
    assert ids(hits) == [20, 19, 18] and [h.payload for h in hits] == [{"n": 20}, {"n": 19}, {"n": 18}]
    assert_scores(hits, [20.0, 19.0, 18.0])
    assert [ids(r) for r in search_batch()] == [[20, 19], [20, 19]]
    assert [(g.id, ids(g.hits)) for g in search_groups()] == [("y", [20]), ("x", [19])]
    assert ids(recommend()) == [3, 4, 5]
    # One positive, no negative: plain nearest to point 1's vector, without point 1.
    assert [(g.id, ids(g.hits)) for g in recommend_groups()] == [("y", [20]), ("x", [19])]
    # 2 and 4 are the target's nearest neighbours, both on the positive side (nearer 1 than 20).
    assert set(ids(discover())) == {2, 4}


# ---------------------------------------------------------------------------
# Where Osprey differs on purpose: the refusal must be clear
# ---------------------------------------------------------------------------


@BOTH
def test_inference_objects_are_refused_clearly(server, transport, base):
    client = connect(server, transport, cloud_inference=True)
    try:
        doc = models.Document(text="hello", model="sentence-transformers/all-minilm-l6-v2")
        image = models.Image(image="https://example.com/x.png", model="qdrant/clip-vit-b-32-vision")
        for call in (
            lambda: client.query_points(base, query=doc, using="a", limit=1),
            lambda: client.upsert(base, points=[models.PointStruct(id=500, vector={"a": doc})]),
            lambda: client.upsert(base, points=[models.PointStruct(id=501, vector={"a": image})]),
        ):
            assert_refused(transport, call, 400, INVALID, "inference")
        assert client.count(base, exact=True).count == N
    finally:
        client.close()


@BOTH
def test_shard_keys_need_custom_sharding(qc, transport, base):
    bad = 400 if transport == "rest" else INVALID
    status, message = error_of(lambda: qc.create_shard_key(base, shard_key="tenant-a"))
    assert status == bad and "custom sharding" in message, (status, message)
    listed = qc.list_shard_keys(base)
    assert not getattr(listed, "shard_keys", listed), listed
    status, message = error_of(lambda: qc.delete_shard_key(base, shard_key="tenant-a"))
    assert status == bad and "does not exist" in message, (status, message)


@BOTH
def test_shard_key_selector_is_refused(qc, transport):
    name = small(qc, transport, "shard_selector")
    status, message = error_of(
        lambda: qc.upsert(name, points=[models.PointStruct(id=50, vector=vec_a(50))], shard_key_selector="tenant-a")
    )
    assert status in ((400, 404) if transport == "rest" else (INVALID, NOT_FOUND)), (status, message)
    assert "shard" in message.lower()
    assert qc.count(name, exact=True).count == 6


@BOTH
def test_formula_query_is_refused_clearly(qc, transport, base):
    assert_refused(
        transport,
        lambda: qc.query_points(
            base,
            prefetch=models.Prefetch(query=[1.0, 0.0, 0.0, 0.0], using="a", limit=3),
            query=models.FormulaQuery(formula=models.SumExpression(sum=["$score", 1.0])),
            limit=2,
        ),
        400,
        INVALID,
        "formula",
        "not supported",
    )


@BOTH
def test_mmr_query_is_refused_clearly(qc, transport, base):
    assert_refused(
        transport,
        lambda: qc.query_points(
            base, query=models.NearestQuery(nearest=[1.0, 0.0, 0.0, 0.0], mmr=models.Mmr(diversity=0.5)), using="a", limit=2
        ),
        400,
        INVALID,
        "mmr",
        "not supported",
    )
