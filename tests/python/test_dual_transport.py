"""One client flow, written once, over REST and over gRPC (issue 4, item 5).

The official Python client (qdrant-client 1.18.0) runs the same flow with
``prefer_grpc=False`` (REST) and ``prefer_grpc=True`` (gRPC on the server's
gRPC port) and with five credentials: the admin key, the read-only key, and
JWTs ``{"access": "m"}``, ``{"access": "r"}`` and
``[{"collection": <c>, "access": "rw"}]``, against one server with
``api_key``, ``read_only_api_key`` and ``jwt_rbac=true``.

The flow: create a collection (manage only; the others must get the right
refusal, and the admin key then does it for them), create a payload index,
upsert points with payloads, retrieve, query and search with filters, scroll
everything, count with filters, delete by filter, create an alias and swap
it (manage only), and read through the alias. Every step is recorded as its
result or its refusal (HTTP status / gRPC code mapped to it, and the message).

Two kinds of checks:

* each (transport, credential) record matches an oracle computed here by
  brute force (results) and from spec ``auth.md`` §6/§8 (refusals);
* for each credential, the REST and gRPC records are the same: ids, scores
  to 1e-4, payloads, vectors, counts, listings and refusals (403 /
  PERMISSION_DENIED with the same ``Forbidden: <reason>``).

Each parameter uses its own collection names, so runs do not interfere.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import random
import uuid
import warnings

import grpc
import pytest
from qdrant_client import QdrantClient, models
from qdrant_client import grpc as qgrpc
from qdrant_client.conversions.conversion import GrpcToRest, RestToGrpc
from qdrant_client.http.exceptions import UnexpectedResponse

from conftest import OspreyServer

ADMIN_KEY = "admin-key-for-dual-transport-tests-0123456789"
READ_ONLY_KEY = "read-only-key-for-dual-transport-tests"
OTHER = "dual_other"

TRANSPORTS = ["rest", "grpc"]
CREDENTIALS = ["admin", "read_only", "jwt_m", "jwt_r", "jwt_coll_rw"]

DIM = 4
QUERY = [0.3, -0.2, 0.9, 0.1]
SCORE_EPS = 1e-4
VECTOR_EPS = 1e-5

# gRPC codes as the HTTP statuses Qdrant maps them to (spec §6, §6.1).
GRPC_TO_HTTP = {
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
}


# ---------------------------------------------------------------------------
# Credentials
# ---------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(claims: dict, secret: str = ADMIN_KEY) -> str:
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _b64(json.dumps(claims).encode())
    signature = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


def names_for(transport: str, cred: str) -> dict[str, str]:
    base = f"dual_{transport}_{cred}"
    return {"c": base, "c2": base + "_b", "a": base + "_alias"}


def credential(cred: str, names: dict[str, str]) -> str:
    return {
        "admin": lambda: ADMIN_KEY,
        "read_only": lambda: READ_ONLY_KEY,
        "jwt_m": lambda: make_jwt({"access": "m"}),
        "jwt_r": lambda: make_jwt({"access": "r"}),
        "jwt_coll_rw": lambda: make_jwt({"access": [{"collection": names["c"], "access": "rw"}]}),
    }[cred]()


def connect(srv: OspreyServer, key: str, transport: str) -> QdrantClient:
    """A client as a user makes it. The version check is left to
    test_client.py: the client runs it in a background thread that can
    outlive this module's server and then warns about a refused connection."""
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


# ---------------------------------------------------------------------------
# The data and the brute-force oracle
# ---------------------------------------------------------------------------


def _generate():
    rng = random.Random(4_004)
    points = []
    for i in range(60):
        pid = i if i < 50 else str(uuid.UUID(int=rng.getrandbits(128), version=4))
        tags = sorted({rng.choice(["red", "green", "blue"]) for _ in range(rng.randrange(3))})
        payload = {
            "city": rng.choice(["Berlin", "Paris", "Rome"]),
            "n": i,
            # Quarter steps are exact in binary and in JSON.
            "price": rng.randrange(400) / 4,
            "tags": tags,
            "meta": {"level": rng.randrange(5)},
            "active": rng.random() < 0.5,
            "note": None if i % 7 == 0 else f"p{i}",
        }
        if i % 10 == 3:
            # Shapes whose protobuf form differs most from JSON.
            payload["extra"] = {
                "empty_list": [],
                "empty_obj": {},
                "mixed": [1, "a", None, {"x": 2.5}, [True, -0.5]],
                "big": 2**62 + i,
                "neg": -i,
                "text": "Grüße ✓ \u00e9\n\"q\"",
            }
        vector = [rng.uniform(-1.0, 1.0) for _ in range(DIM)]
        points.append((pid, vector, payload))
    return points


POINTS = _generate()
UUIDS = [p[0] for p in POINTS if isinstance(p[0], str)]


def wire_id(pid):
    """The id as upserted: the last UUID is sent in capitals, and must come
    back in its canonical (lower-case) form over both transports."""
    return pid.upper() if pid == UUIDS[-1] else pid
# The points upserted to the alias swap target.
SECOND = [(1000 + i, [1.0, float(i), 0.0, 0.5], {"city": "Oslo", "n": 1000 + i}) for i in range(3)]


def _normalise(v):
    norm = math.sqrt(sum(x * x for x in v))
    return [x / norm for x in v]


def _cosine(a, b):
    return sum(x * y for x, y in zip(_normalise(a), _normalise(b)))


def _city(value):
    return models.FieldCondition(key="city", match=models.MatchValue(value=value))


# (label, filter, predicate on (id, payload))
FILTERS = [
    ("city is Berlin", models.Filter(must=[_city("Berlin")]), lambda i, p: p["city"] == "Berlin"),
    (
        "n in [10, 40) and not Rome",
        models.Filter(
            must=[models.FieldCondition(key="n", range=models.Range(gte=10, lt=40))],
            must_not=[_city("Rome")],
        ),
        lambda i, p: 10 <= p["n"] < 40 and p["city"] != "Rome",
    ),
    (
        "tags any of red, blue",
        models.Filter(should=[models.FieldCondition(key="tags", match=models.MatchAny(any=["red", "blue"]))]),
        lambda i, p: bool({"red", "blue"} & set(p["tags"])),
    ),
    (
        "meta.level >= 3 and active",
        models.Filter(
            must=[
                models.FieldCondition(key="meta.level", range=models.Range(gte=3)),
                models.FieldCondition(key="active", match=models.MatchValue(value=True)),
            ]
        ),
        lambda i, p: p["meta"]["level"] >= 3 and p["active"],
    ),
    (
        "has_id and price < 50",
        models.Filter(
            must=[
                models.HasIdCondition(has_id=[1, 2, 3, 4, 5, 6, UUIDS[0], UUIDS[1]]),
                models.FieldCondition(key="price", range=models.Range(lt=50.0)),
            ]
        ),
        lambda i, p: i in {1, 2, 3, 4, 5, 6, UUIDS[0], UUIDS[1]} and p["price"] < 50.0,
    ),
]
DELETE_FILTER = models.Filter(
    must=[_city("Paris"), models.FieldCondition(key="n", range=models.Range(lt=30))]
)


def _deleted(i, p):
    return p["city"] == "Paris" and p["n"] < 30


def _id_key(pid):
    """Scroll order: numeric ids ascending, then UUIDs."""
    return (1, str(pid)) if isinstance(pid, str) else (0, pid)


def _oracle_query(points, pred, limit):
    hits = [(pid, _cosine(QUERY, v), p) for pid, v, p in points if pred(pid, p)]
    hits.sort(key=lambda h: -h[1])
    return [{"id": pid, "score": s, "payload": p} for pid, s, p in hits[:limit]]


# ---------------------------------------------------------------------------
# Recording a flow
# ---------------------------------------------------------------------------


def _rest_message(err: UnexpectedResponse) -> str:
    text = err.content.decode(errors="replace")
    try:
        return json.loads(text)["status"]["error"]
    except (ValueError, KeyError, TypeError):
        return text


class Recorder:
    """Runs steps and records ``(name, ("ok", value))`` or
    ``(name, ("refused", http_status, message))``, with this parameter's
    collection names replaced by placeholders so records compare across
    transports."""

    def __init__(self, names: dict[str, str]):
        self.names = names
        self.steps: list[tuple[str, tuple]] = []
        # How refusals arrived: "rest" (UnexpectedResponse) or "grpc" (RpcError).
        self.raised: set[str] = set()

    def placeholders(self, text: str) -> str:
        for key in sorted(self.names, key=lambda k: -len(self.names[k])):
            text = text.replace(self.names[key], "{" + key + "}")
        return text

    def step(self, name, call, normalise=lambda v: v):
        try:
            value = call()
        except UnexpectedResponse as err:
            self.raised.add("rest")
            outcome = ("refused", err.status_code, self.placeholders(_rest_message(err)))
        except grpc.RpcError as err:
            self.raised.add("grpc")
            outcome = ("refused", GRPC_TO_HTTP.get(err.code(), str(err.code())), self.placeholders(err.details()))
        else:
            outcome = ("ok", normalise(value))
        self.steps.append((name, outcome))
        return outcome[0] == "ok"


def _scored(points):
    return [{"id": p.id, "score": p.score, "payload": p.payload} for p in points]


def _search(client: QdrantClient, transport: str, collection: str, flt: models.Filter, limit: int):
    """The classic search rpc (`POST .../points/search`, `qdrant.Points/Search`),
    which the 1.18 Python client reaches only through its low-level APIs."""
    if transport == "rest":
        request = models.SearchRequest(vector=QUERY, filter=flt, limit=limit, with_payload=True)
        return client.http.search_api.search_points(collection_name=collection, search_request=request).result
    request = qgrpc.SearchPoints(
        collection_name=collection,
        vector=QUERY,
        filter=RestToGrpc.convert_filter(flt),
        limit=limit,
        with_payload=qgrpc.WithPayloadSelector(enable=True),
    )
    return [GrpcToRest.convert_scored_point(p) for p in client.grpc_points.Search(request, timeout=30).result]


def _scroll_all(client, collection, flt=None, page=17):
    out, offset = [], None
    while True:
        points, offset = client.scroll(
            collection, scroll_filter=flt, limit=page, offset=offset, with_payload=True, with_vectors=False
        )
        out.extend(points)
        if offset is None:
            return [{"id": p.id, "payload": p.payload} for p in out]


def _retrieved(points):
    return sorted(
        ({"id": p.id, "payload": p.payload, "vector": p.vector} for p in points), key=lambda r: _id_key(r["id"])
    )


def _completed(result):
    return result.status == models.UpdateStatus.COMPLETED


def run_flow(srv: OspreyServer, transport: str, cred: str):
    """THE flow: the same calls whatever the transport and the credential."""
    names = names_for(transport, cred)
    c, c2, a = names["c"], names["c2"], names["a"]
    client = connect(srv, credential(cred, names), transport)
    admin = connect(srv, ADMIN_KEY, transport)
    rec = Recorder(names)
    vectors = models.VectorParams(size=DIM, distance=models.Distance.COSINE)
    try:
        # Lifecycle: manage only. When refused, the admin key does it so the
        # rest of the flow can run with the credential under test.
        if not rec.step("create collection", lambda: client.create_collection(c, vectors_config=vectors)):
            admin.create_collection(c, vectors_config=vectors)
        admin.create_collection(c2, vectors_config=vectors)
        admin.upsert(c2, points=[models.PointStruct(id=i, vector=v, payload=p) for i, v, p in SECOND], wait=True)
        rec.step("collection exists", lambda: client.collection_exists(c))

        index = lambda: client.create_payload_index(c, "city", models.PayloadSchemaType.KEYWORD, wait=True)  # noqa: E731
        if not rec.step("create payload index", index, _completed):
            admin.create_payload_index(c, "city", models.PayloadSchemaType.KEYWORD, wait=True)

        points = [models.PointStruct(id=wire_id(i), vector=v, payload=p) for i, v, p in POINTS]
        if not rec.step("upsert", lambda: client.upsert(c, points=points, wait=True), _completed):
            admin.upsert(c, points=points, wait=True)

        ids = [0, 5, 49, UUIDS[0], UUIDS[-1], 123_456]
        rec.step(
            "retrieve",
            lambda: client.retrieve(c, ids=ids, with_payload=True, with_vectors=True),
            _retrieved,
        )
        for label, flt, _ in FILTERS:
            rec.step(
                f"query: {label}",
                lambda: client.query_points(c, query=QUERY, query_filter=flt, limit=7, with_payload=True).points,
                _scored,
            )
            rec.step(f"search: {label}", lambda: _search(client, transport, c, flt, 5), _scored)
            rec.step(f"count: {label}", lambda: client.count(c, count_filter=flt, exact=True).count)
        rec.step("count all", lambda: client.count(c, exact=True).count)
        rec.step("scroll all", lambda: _scroll_all(client, c))
        rec.step("scroll: city is Berlin", lambda: _scroll_all(client, c, FILTERS[0][1], page=5))

        delete = lambda: client.delete(c, points_selector=models.FilterSelector(filter=DELETE_FILTER), wait=True)  # noqa: E731
        if not rec.step("delete by filter", delete, _completed):
            admin.delete(c, points_selector=models.FilterSelector(filter=DELETE_FILTER), wait=True)
        rec.step("count after delete", lambda: client.count(c, exact=True).count)
        rec.step("scroll after delete", lambda: [p["id"] for p in _scroll_all(client, c)])

        create_alias = [models.CreateAliasOperation(create_alias=models.CreateAlias(collection_name=c, alias_name=a))]
        if not rec.step("create alias", lambda: client.update_collection_aliases(create_alias)):
            admin.update_collection_aliases(create_alias)
        rec.step("count via alias", lambda: client.count(a, exact=True).count)
        swap = [
            models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=a)),
            models.CreateAliasOperation(create_alias=models.CreateAlias(collection_name=c2, alias_name=a)),
        ]
        if not rec.step("swap alias", lambda: client.update_collection_aliases(swap)):
            admin.update_collection_aliases(swap)
        rec.step("count via alias after swap", lambda: client.count(a, exact=True).count)
        rec.step(
            "query via alias after swap",
            lambda: client.query_points(a, query=QUERY, limit=2, with_payload=True).points,
            _scored,
        )
        mine = set(names.values())
        rec.step(
            "list aliases",
            lambda: client.get_aliases().aliases,
            lambda al: sorted(
                rec.placeholders(f"{x.alias_name}->{x.collection_name}") for x in al if x.alias_name in mine
            ),
        )
        rec.step(
            "list aliases of c2",
            lambda: client.get_collection_aliases(c2).aliases,
            lambda al: sorted(rec.placeholders(x.alias_name) for x in al),
        )
        rec.step(
            "list collections",
            lambda: client.get_collections().collections,
            lambda cs: sorted(rec.placeholders(x.name) for x in cs if x.name in mine or x.name == OTHER),
        )
        rec.step("count another collection", lambda: client.count(OTHER, exact=True).count)
        rec.step("c2 exists", lambda: client.collection_exists(c2))
    finally:
        client.close()
        admin.close()
    return rec


# ---------------------------------------------------------------------------
# The oracle of a whole flow
# ---------------------------------------------------------------------------

MANAGE = {"admin", "jwt_m"}
WRITE = {"admin", "jwt_m", "jwt_coll_rw"}


def forbidden(reason: str) -> tuple:
    return ("refused", 403, f"Forbidden: {reason}")


def expected_flow(cred: str):
    """What the flow must record for `cred` (spec §6/§8; brute force)."""
    scoped = cred == "jwt_coll_rw"

    def manage():
        if cred in MANAGE:
            return None
        return forbidden("Global access is required" if scoped else "Global manage access is required")

    def write():
        return None if cred in WRITE else forbidden("Global manage access is required")

    def outside(key):
        return forbidden(f"Access to collection {key} is required") if scoped else None

    live = [(pid, v, p) for pid, v, p in POINTS]
    steps = []

    def add(name, refusal, value=None):
        steps.append((name, refusal if refusal else ("ok", value)))

    add("create collection", manage(), True)
    add("collection exists", None, True)
    add("create payload index", write(), True)
    add("upsert", write(), True)
    wanted = {0, 5, 49, UUIDS[0], UUIDS[-1]}
    add(
        "retrieve",
        None,
        sorted(
            ({"id": pid, "payload": p, "vector": _normalise(v)} for pid, v, p in live if pid in wanted),
            key=lambda r: _id_key(r["id"]),
        ),
    )
    for label, _, pred in FILTERS:
        add(f"query: {label}", None, _oracle_query(live, pred, 7))
        add(f"search: {label}", None, _oracle_query(live, pred, 5))
        add(f"count: {label}", None, sum(1 for pid, _, p in live if pred(pid, p)))
    add("count all", None, len(live))
    by_id = sorted(live, key=lambda x: _id_key(x[0]))
    add("scroll all", None, [{"id": pid, "payload": p} for pid, _, p in by_id])
    add("scroll: city is Berlin", None, [{"id": pid, "payload": p} for pid, _, p in by_id if p["city"] == "Berlin"])
    add("delete by filter", write(), True)
    remaining = [x for x in by_id if not _deleted(x[0], x[2])]
    add("count after delete", None, len(remaining))
    add("scroll after delete", None, [pid for pid, _, _ in remaining])
    add("create alias", manage(), True)
    add("count via alias", outside("{a}"), len(remaining))
    add("swap alias", manage(), True)
    add("count via alias after swap", outside("{a}"), len(SECOND))
    add("query via alias after swap", outside("{a}"), _oracle_query(SECOND, lambda i, p: True, 2))
    # A collection-scoped token lists only pairs whose alias and collection it names.
    add("list aliases", None, [] if scoped else ["{a}->{c2}"])
    add("list aliases of c2", outside("{c2}"), ["{a}"])
    add("list collections", None, ["{c}"] if scoped else sorted(["{c}", "{c2}", OTHER]))
    add("count another collection", outside(OTHER), 0)
    add("c2 exists", outside("{c2}"), True)
    return steps


# ---------------------------------------------------------------------------
# Comparing records
# ---------------------------------------------------------------------------


def _differences(got, want, path="") -> list[str]:
    """Structural comparison; floats under a `score` key to SCORE_EPS, other
    floats in vectors to VECTOR_EPS, everything else exactly (ints and
    floats are not interchangeable, except inside vectors)."""
    if isinstance(want, dict) and isinstance(got, dict):
        if set(got) != set(want):
            return [f"{path}: keys {sorted(got)} != {sorted(want)}"]
        out = []
        for k in want:
            out += _differences(got[k], want[k], f"{path}.{k}")
        return out
    if isinstance(want, (list, tuple)) and isinstance(got, (list, tuple)):
        if len(got) != len(want):
            return [f"{path}: length {len(got)} != {len(want)}: {got!r} vs {want!r}"]
        out = []
        for i, (g, w) in enumerate(zip(got, want)):
            out += _differences(g, w, f"{path}[{i}]")
        return out
    if path.endswith(".score"):
        if not isinstance(got, float) or abs(got - want) > SCORE_EPS:
            return [f"{path}: {got!r} != {want!r} (±{SCORE_EPS})"]
        return []
    if ".vector[" in path and isinstance(got, float) and isinstance(want, (int, float)):
        return [] if abs(got - want) <= VECTOR_EPS else [f"{path}: {got!r} != {want!r}"]
    if type(got) is not type(want) or got != want:
        return [f"{path}: {got!r} ({type(got).__name__}) != {want!r} ({type(want).__name__})"]
    return []


def compare(got_steps, want_steps) -> list[str]:
    got_names = [n for n, _ in got_steps]
    want_names = [n for n, _ in want_steps]
    if got_names != want_names:
        return [f"steps differ: {got_names} != {want_names}"]
    out = []
    for (name, got), (_, want) in zip(got_steps, want_steps):
        for d in _differences(got, want):
            out.append(f"{name}: {d}")
    return out


# ---------------------------------------------------------------------------
# Fixtures and tests
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dual():
    env = {
        "QDRANT__SERVICE__API_KEY": ADMIN_KEY,
        "QDRANT__SERVICE__READ_ONLY_API_KEY": READ_ONLY_KEY,
        "QDRANT__SERVICE__JWT_RBAC": "true",
    }
    srv = OspreyServer(extra_env=env)
    srv.start()
    admin = connect(srv, ADMIN_KEY, "rest")
    admin.create_collection(OTHER, vectors_config=models.VectorParams(size=DIM, distance=models.Distance.COSINE))
    admin.close()
    yield srv
    srv.close()


@pytest.fixture(scope="module")
def records(dual):
    """Each (transport, credential) flow runs once; the tests read its record."""
    cache: dict[tuple[str, str], Recorder] = {}

    def get(transport: str, cred: str):
        if (transport, cred) not in cache:
            cache[(transport, cred)] = run_flow(dual, transport, cred)
        return cache[(transport, cred)]

    return get


@pytest.mark.parametrize("cred", CREDENTIALS)
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_flow_matches_the_oracle(records, transport, cred):
    rec = records(transport, cred)
    problems = compare(rec.steps, expected_flow(cred))
    assert not problems, f"{transport} as {cred}:\n" + "\n".join(problems)
    # The refusals really came over the transport under test.
    assert rec.raised <= {transport}, rec.raised


@pytest.mark.parametrize("cred", CREDENTIALS)
def test_rest_and_grpc_agree(records, cred):
    rest, over_grpc = records("rest", cred).steps, records("grpc", cred).steps
    problems = compare(over_grpc, rest)
    assert not problems, f"gRPC differs from REST as {cred}:\n" + "\n".join(problems)
    refusals = [(n, o) for n, o in rest if o[0] == "refused"]
    # Sanity: the credentials that should be refused somewhere are.
    assert bool(refusals) == (cred != "admin" and cred != "jwt_m"), refusals


# Authentication failures come back the same way over both transports, as
# 401/UNAUTHENTICATED and 403/PERMISSION_DENIED with the spec's messages.
@pytest.mark.parametrize(
    "key, status, message",
    [
        ("not-a-key", 401, "Invalid API key or JWT"),
        (make_jwt({"access": "m", "exp": 1_000_000}), 403, "ExpiredSignature"),
        (make_jwt({"access": "m"}, secret="some-other-secret-of-enough-length"), 403, "InvalidSignature"),
    ],
    ids=["wrong key", "expired", "wrong secret"],
)
def test_authentication_failures_match(dual, key, status, message):
    seen = {}
    for transport in TRANSPORTS:
        client = connect(dual, key, transport)
        rec = Recorder({})
        rec.step("count", lambda: client.count(OTHER, exact=True))
        client.close()
        seen[transport] = rec.steps[0][1]
    assert seen["rest"] == ("refused", status, message), seen
    assert seen["grpc"] == seen["rest"], seen


# The client's `auth_token_provider` sends `Authorization: Bearer <token>`
# (REST header, gRPC metadata) instead of `api-key`: the same answers on both
# transports, for a collection-scoped read-only token.
def test_bearer_token_provider_over_both_transports(dual):
    seen = {}
    for transport in TRANSPORTS:
        token = make_jwt({"access": [{"collection": OTHER, "access": "r"}]})
        kwargs = {"grpc_port": dual.grpc_port} if transport == "grpc" else {}
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Auth token provider is used with an insecure connection")
            client = QdrantClient(
                url=dual.url,
                auth_token_provider=lambda: token,
                prefer_grpc=transport == "grpc",
                timeout=30,
                check_compatibility=False,
                **kwargs,
            )
        rec = Recorder({})
        rec.step("count", lambda: client.count(OTHER, exact=True).count)
        rec.step(
            "upsert",
            lambda: client.upsert(OTHER, points=[models.PointStruct(id=1, vector=[1.0, 0.0, 0.0, 0.0])], wait=True),
            _completed,
        )
        rec.step("list collections", lambda: sorted(c.name for c in client.get_collections().collections))
        client.close()
        seen[transport] = rec.steps
    assert seen["rest"] == [
        ("count", ("ok", 0)),
        ("upsert", ("refused", 403, f"Forbidden: Write access to collection {OTHER} is required")),
        ("list collections", ("ok", [OTHER])),
    ], seen
    assert seen["grpc"] == seen["rest"], seen
