"""Qdrant's audit log from the outside (issue 13, item 5; spec auth.md §12).

A server started with ``QDRANT__AUDIT__ENABLED=true`` is driven with the
official Python client over REST and gRPC, with the admin key, the read-only
key, a database API key made through ``/api-keys``, and a wrong key. Then
every line of ``<storage>/audit/audit.<date>.log`` is parsed and checked, and
the same entries are read back through ``POST /audit/logs``.

What would break if these failed: an auditor would miss refused requests, see
the wrong operation or caller, find a credential in the file, or get an
answer shape Qdrant's tooling cannot read.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path

import grpc
import pytest
import requests
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import UnexpectedResponse

from conftest import OspreyServer, _binary, _free_port

ADMIN_KEY = "admin-key-for-python-audit-log-tests-0123456789"
READ_ONLY_KEY = "read-only-key-for-python-audit-log-tests"
WRONG_KEY = "wrong-key-for-python-audit-log-tests-zzzzzz"
COLLECTION = "audited"
DIM = 4


@pytest.fixture(scope="module")
def srv():
    server = OspreyServer(
        extra_env={
            "QDRANT__SERVICE__API_KEY": ADMIN_KEY,
            "QDRANT__SERVICE__READ_ONLY_API_KEY": READ_ONLY_KEY,
            "QDRANT__AUDIT__ENABLED": "true",
        }
    )
    server.api_key = ADMIN_KEY
    server.start()
    yield server
    server.close()


def api(srv: OspreyServer, method: str, path: str, key: str | None = ADMIN_KEY, **kwargs) -> requests.Response:
    headers = {"api-key": key} if key is not None else {}
    headers.update(kwargs.pop("headers", {}))
    return requests.request(method, srv.url + path, headers=headers, timeout=10, **kwargs)


def ok(response: requests.Response):
    assert response.status_code == 200, f"{response.status_code}: {response.text}"
    body = response.json()
    assert body["status"] == "ok", body
    return body["result"]


def connect(srv: OspreyServer, key: str, transport: str) -> QdrantClient:
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


def refused(call) -> int:
    """The HTTP status (gRPC codes mapped) of a refused client call."""
    try:
        call()
    except UnexpectedResponse as err:
        return err.status_code
    except grpc.RpcError as err:
        return {grpc.StatusCode.UNAUTHENTICATED: 401, grpc.StatusCode.PERMISSION_DENIED: 403}.get(err.code(), -1)
    raise AssertionError("the call was not refused")


def points() -> list[models.PointStruct]:
    return [models.PointStruct(id=i, vector=[float(i), 1.0, 0.5, 0.25], payload={"i": i}) for i in range(1, 4)]


def audit_files(dir: Path) -> list[Path]:
    return sorted(dir.glob("audit.*.log"))


def lines_of(dir: Path) -> list[dict]:
    """Every line of every audit file, parsed; a line that is not JSON fails."""
    entries = []
    for path in audit_files(dir):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            assert line.strip(), f"{path.name}:{number} is empty"
            entries.append(json.loads(line))
    return entries


def wait_for(dir: Path, predicate, timeout: float = 3.0) -> list[dict]:
    """The file's lines once `predicate` holds: lines reach the file within
    the writer's flush interval (100 ms), not synchronously."""
    deadline = time.monotonic() + timeout
    while True:
        entries = lines_of(dir)
        if predicate(entries) or time.monotonic() > deadline:
            return entries
        time.sleep(0.05)


@pytest.fixture(scope="module")
def traffic(srv):
    """Authorized and refused requests over both transports, with every kind
    of credential. Returns what the checks need to know about them."""
    created = ok(
        api(
            srv,
            "POST",
            "/api-keys",
            json={"name": "audit reader", "access_rules": [{"global_access": {"access_type": "read"}}]},
        )
    )
    database_key = created["key"]
    key_id = created["record"]["id"] if "record" in created else created["id"]

    admin_rest = connect(srv, ADMIN_KEY, "rest")
    admin_grpc = connect(srv, ADMIN_KEY, "grpc")
    if admin_rest.collection_exists(COLLECTION):
        admin_rest.delete_collection(COLLECTION)
    admin_rest.create_collection(COLLECTION, vectors_config=models.VectorParams(size=DIM, distance=models.Distance.DOT))
    admin_rest.upsert(COLLECTION, points=points(), wait=True)
    admin_grpc.upsert(COLLECTION, points=points(), wait=True)
    assert admin_grpc.count(COLLECTION).count == 3

    for transport in ("rest", "grpc"):
        read_only = connect(srv, READ_ONLY_KEY, transport)
        assert read_only.count(COLLECTION).count == 3
        assert refused(lambda: read_only.upsert(COLLECTION, points=points(), wait=True)) == 403
        read_only.close()

        database = connect(srv, database_key, transport)
        assert database.count(COLLECTION).count == 3
        assert refused(lambda: database.delete_collection(COLLECTION)) == 403
        database.close()

        wrong = connect(srv, WRONG_KEY, transport)
        assert refused(lambda: wrong.get_collections()) == 401
        wrong.close()

    # A client's request id is recorded; scrapes and open routes are not.
    assert api(srv, "GET", "/collections", headers={"x-request-id": "audit-req-7"}).status_code == 200
    assert api(srv, "GET", "/telemetry").status_code == 200
    assert api(srv, "GET", "/metrics").status_code == 200
    assert api(srv, "GET", "/healthz", key=None).status_code == 200
    assert api(srv, "GET", "/", key=None).status_code == 200
    admin_rest.close()
    admin_grpc.close()
    return {"database_key": database_key, "key_id": key_id}


def audit_dir(srv: OspreyServer) -> Path:
    return srv.dir / "storage" / "audit"


# Protects §12's line format: each request that reaches the access check
# leaves one JSON line with Qdrant's fields, the table's operation name, the
# transport, and the caller; refusals carry the message the client got.
def test_every_line_parses_and_names_operation_caller_and_result(srv, traffic):
    entries = wait_for(
        audit_dir(srv),
        lambda es: any(e.get("tracing_id") == "audit-req-7" for e in es),
    )
    assert audit_files(audit_dir(srv))[0].name == f"audit.{datetime.now(timezone.utc):%Y-%m-%d}.log"
    for e in entries:
        assert set(e) >= {"timestamp", "auth_type", "result", "transport"}, e
        datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00"))
        assert e["result"] in ("ok", "denied"), e
        assert e["auth_type"] in ("ApiKey", "Jwt", "None"), e
        assert e["transport"] in ("rest", "grpc"), e
        assert ("error" in e) == (e["result"] == "denied"), e

    def find(**fields):
        return [e for e in entries if all(e.get(k) == v for k, v in fields.items())]

    for transport in ("rest", "grpc"):
        # Authorized writes with the admin key.
        assert find(method="upsert_points", transport=transport, result="ok", auth_type="ApiKey", collection=COLLECTION)
        # The read-only key refused a write, with the reason it was given.
        denied = find(method="upsert_points", transport=transport, result="denied", collection=COLLECTION)
        assert denied and "manage access" in denied[0]["error"], denied
        # A wrong key: failed authentication, no caller, the path kept.
        failed = find(transport=transport, result="denied", auth_type="None")
        assert failed and failed[0]["error"] == "Invalid API key or JWT" and failed[0]["api"], failed
        # The database key: key plane id and name, on reads and refusals.
        mine = find(transport=transport, key_id=traffic["key_id"])
        assert {e["result"] for e in mine} == {"ok", "denied"}, mine
        assert all(e["key_name"] == "audit reader" and e["auth_type"] == "Jwt" for e in mine), mine
        assert find(transport=transport, key_id=traffic["key_id"], method="delete_collection", result="denied")

    assert find(method="create_collection", api=f"/collections/{COLLECTION}", remote="127.0.0.1")
    assert find(method="upsert_points", api="/qdrant.Points/Upsert")
    assert find(method="get_collections", tracing_id="audit-req-7")
    # Scrapes and whitelisted routes are not access checks worth a line.
    assert not find(method="telemetry") and not find(method="metrics"), entries
    assert not [e for e in entries if e.get("api") in ("/healthz", "/")]


# Protects §12 "secrets never written": no key of any kind, and no
# Authorization header, appears in the audit files.
def test_no_secret_reaches_the_audit_files(srv, traffic):
    wait_for(audit_dir(srv), lambda es: len(es) > 10)
    text = "".join(p.read_text() for p in audit_files(audit_dir(srv)))
    for secret in (ADMIN_KEY, READ_ONLY_KEY, WRONG_KEY, traffic["database_key"]):
        assert secret not in text
    assert "Bearer" not in text and "api-key" not in text


# Protects "the two agree on key ids": the key plane's own log (keys-*.jsonl)
# names the database key by the same id as the access audit log.
def test_key_plane_log_and_access_log_agree_on_key_ids(srv, traffic):
    key_plane = [
        json.loads(line)
        for path in audit_dir(srv).glob("keys-*.jsonl")
        for line in path.read_text().splitlines()
        if line.strip()
    ]
    assert any(e.get("target") == traffic["key_id"] for e in key_plane), key_plane
    access = wait_for(audit_dir(srv), lambda es: any(e.get("key_id") == traffic["key_id"] for e in es))
    assert any(e.get("key_id") == traffic["key_id"] for e in access)


# Protects the read-back endpoint: Qdrant's request ({time_from, time_to,
# limit, filters}) and answer ({"result": {"entries": [...]}}, newest first),
# global manage only.
def test_read_back_through_post_audit_logs(srv, traffic):
    entries = ok(api(srv, "POST", "/audit/logs", json={"limit": 1000}))["entries"]
    assert len(entries) > 10
    stamps = [e["timestamp"] for e in entries]
    assert stamps == sorted(stamps, reverse=True)
    # The read flushes first: the newest entry is this very request's check.
    assert entries[0]["method"] == "get_audit_logs"

    filtered = ok(
        api(srv, "POST", "/audit/logs", json={"filters": {"method": "upsert_points", "result": "denied"}})
    )["entries"]
    assert {e["transport"] for e in filtered} == {"rest", "grpc"}
    assert all(e["method"] == "upsert_points" and e["result"] == "denied" for e in filtered)

    assert len(ok(api(srv, "POST", "/audit/logs", json={"limit": 2}))["entries"]) == 2
    future = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()
    assert ok(api(srv, "POST", "/audit/logs", json={"time_from": future}))["entries"] == []
    past = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()
    assert ok(api(srv, "POST", "/audit/logs", json={"time_to": past}))["entries"] == []

    assert api(srv, "POST", "/audit/logs", json={"limit": 0}).status_code == 422
    assert api(srv, "POST", "/audit/logs", key=READ_ONLY_KEY, json={}).status_code == 403
    assert api(srv, "POST", "/audit/logs", key=traffic["database_key"], json={}).status_code == 403
    assert api(srv, "POST", "/audit/logs", key=None, json={}).status_code == 401
    # Those refusals are audited as well.
    refusals = ok(api(srv, "POST", "/audit/logs", json={"filters": {"method": "get_audit_logs", "result": "denied"}}))
    assert len(refusals["entries"]) >= 3


def _start(extra_env: dict[str, str]) -> OspreyServer:
    server = OspreyServer(extra_env={"QDRANT__SERVICE__API_KEY": ADMIN_KEY, **extra_env})
    server.api_key = ADMIN_KEY
    server.start()
    return server


# Protects Qdrant's answer when the log is off: 400 in the JSON envelope.
def test_disabled_audit_log_answers_400():
    server = _start({})
    try:
        response = api(server, "POST", "/audit/logs", json={})
        assert response.status_code == 400, response.text
        assert response.json()["status"]["error"] == "Bad request: Audit logging is not enabled"
        assert not list((server.dir / "storage" / "audit").glob("audit.*.log"))
    finally:
        server.close()


# Protects `audit.dir`, hourly names (`audit.YYYY-MM-DD-HH.log`) and
# `log_api: false` (no path on authorized lines, still on failed logins).
def test_hourly_rotation_in_a_configured_dir_without_api():
    elsewhere = tempfile.TemporaryDirectory(prefix="osprey-audit-dir-")
    server = _start(
        {
            "QDRANT__AUDIT__ENABLED": "true",
            "QDRANT__AUDIT__DIR": elsewhere.name,
            "QDRANT__AUDIT__ROTATION": "hourly",
            "QDRANT__AUDIT__LOG_API": "false",
            "QDRANT__AUDIT__MAX_LOG_FILES": "3",
        }
    )
    try:
        assert api(server, "GET", "/collections").status_code == 200
        assert api(server, "GET", "/collections", key=WRONG_KEY).status_code == 401
        entries = wait_for(Path(elsewhere.name), lambda es: len(es) >= 2)
        names = [p.name for p in audit_files(Path(elsewhere.name))]
        now = datetime.now(timezone.utc)
        assert names and names[-1] in (f"audit.{now:%Y-%m-%d-%H}.log", f"audit.{now - timedelta(minutes=1):%Y-%m-%d-%H}.log")
        ok_line = next(e for e in entries if e["result"] == "ok")
        denied_line = next(e for e in entries if e["result"] == "denied")
        assert "api" not in ok_line and denied_line["api"] == "/collections"
        assert not list((server.dir / "storage" / "audit").glob("audit.*.log"))
    finally:
        server.close()
        elsewhere.cleanup()


# Protects "invalid settings stop the start": a rotation Qdrant does not know
# must not silently fall back to daily.
@pytest.mark.parametrize(
    "env, message",
    [
        ({"QDRANT__AUDIT__ROTATION": "weekly"}, "unknown rotation `weekly`"),
        ({"QDRANT__AUDIT__MAX_LOG_FILES": "0"}, "audit.max_log_files must be at least 1"),
    ],
)
def test_invalid_audit_settings_are_refused_at_start(env, message):
    with tempfile.TemporaryDirectory(prefix="osprey-audit-bad-") as tmp:
        run_env = {k: v for k, v in os.environ.items() if not k.startswith("QDRANT")}
        run_env.update(
            {
                "QDRANT__SERVICE__HOST": "127.0.0.1",
                "QDRANT__SERVICE__HTTP_PORT": str(_free_port()),
                "QDRANT__SERVICE__GRPC_PORT": str(_free_port()),
                "QDRANT__SERVICE__API_KEY": ADMIN_KEY,
                "QDRANT__AUDIT__ENABLED": "true",
                **env,
            }
        )
        done = subprocess.run([_binary()], cwd=tmp, env=run_env, capture_output=True, text=True, timeout=30)
        assert done.returncode != 0
        assert message in done.stderr + done.stdout, done.stderr
