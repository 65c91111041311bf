"""Authentication through the official Python client (issue 3, item 9).

The admin key, the read-only key and JWTs signed with the admin key are used
exactly as a user would: ``QdrantClient(url=..., api_key=...)``, over plain
HTTP and over HTTPS with a self-signed certificate made here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import ssl
import subprocess
import time
import warnings

import pytest
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import UnexpectedResponse

from conftest import OspreyServer

ADMIN_KEY = "admin-key-for-python-auth-tests-0123456789"
READ_ONLY_KEY = "read-only-key-for-python-auth-tests"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(claims: dict, secret: str = ADMIN_KEY) -> str:
    """An HS256 token as Qdrant's docs describe: signed with the admin key."""
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _b64(json.dumps(claims).encode())
    signature = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


def _self_signed(directory) -> None:
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
            "-keyout", str(directory / "key.pem"), "-out", str(directory / "cert.pem"),
            "-days", "2", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="module", params=["http", "https"])
def secured(request):
    tls = request.param == "https"
    env = {
        "QDRANT__SERVICE__API_KEY": ADMIN_KEY,
        "QDRANT__SERVICE__READ_ONLY_API_KEY": READ_ONLY_KEY,
        "QDRANT__SERVICE__JWT_RBAC": "true",
    }
    srv = OspreyServer(extra_env=env, tls=tls)
    if tls:
        _self_signed(srv.dir)
        env.update(
            {
                "QDRANT__SERVICE__ENABLE_TLS": "true",
                "QDRANT__TLS__CERT": str(srv.dir / "cert.pem"),
                "QDRANT__TLS__KEY": str(srv.dir / "key.pem"),
            }
        )
        srv.extra_env = env
    srv.start()
    admin = connect(srv, ADMIN_KEY)
    admin.create_collection("docs", vectors_config=models.VectorParams(size=4, distance=models.Distance.DOT))
    admin.create_collection("other", vectors_config=models.VectorParams(size=4, distance=models.Distance.DOT))
    admin.upsert(
        "docs",
        points=[
            models.PointStruct(id=i, vector=[float(i), 1.0, 0.0, 0.5], payload={"n": i}) for i in range(1, 6)
        ],
        wait=True,
    )
    yield srv
    srv.close()


def connect(srv: OspreyServer, key: str) -> QdrantClient:
    kwargs = {"verify": ssl.create_default_context(cafile=str(srv.dir / "cert.pem"))} if srv.tls else {}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Api key is used with an insecure connection")
        return QdrantClient(url=srv.url, api_key=key, prefer_grpc=False, timeout=30, **kwargs)


def status_of(call) -> tuple[int, str]:
    with pytest.raises(UnexpectedResponse) as err:
        call()
    return err.value.status_code, err.value.content.decode(errors="replace")


# The admin key can do everything, over http and https.
def test_admin_key_reads_and_writes(secured):
    c = connect(secured, ADMIN_KEY)
    c.upsert("docs", points=[models.PointStruct(id=9, vector=[0.0, 0.0, 1.0, 0.0])], wait=True)
    assert c.count("docs").count == 6
    c.delete("docs", points_selector=models.PointIdsList(points=[9]), wait=True)
    assert {col.name for col in c.get_collections().collections} == {"docs", "other"}


# The read-only key reads everything but cannot write: 403 with Qdrant's reason.
def test_read_only_key_reads_but_cannot_write(secured):
    c = connect(secured, READ_ONLY_KEY)
    hits = c.query_points("docs", query=[1.0, 0.0, 0.0, 0.0], limit=2).points
    assert [h.id for h in hits] == [5, 4]
    code, body = status_of(
        lambda: c.upsert("docs", points=[models.PointStruct(id=7, vector=[1.0, 1.0, 1.0, 1.0])], wait=True)
    )
    assert code == 403 and "Global manage access is required" in body
    code, _ = status_of(
        lambda: c.create_collection("new", vectors_config=models.VectorParams(size=4, distance=models.Distance.DOT))
    )
    assert code == 403


# A wrong key is refused with 401 before anything else happens.
def test_wrong_key_is_refused(secured):
    c = connect(secured, "not-a-key")
    code, body = status_of(lambda: c.get_collections())
    assert code == 401 and "Invalid API key or JWT" in body


# A JWT with global read behaves like the read-only key.
def test_jwt_read_access(secured):
    c = connect(secured, make_jwt({"access": "r", "exp": int(time.time()) + 600}))
    assert c.count("docs").count == 5
    code, body = status_of(lambda: c.delete("docs", points_selector=models.PointIdsList(points=[1]), wait=True))
    assert code == 403 and "Global manage access is required" in body


# A collection-scoped JWT sees and writes only its collection; listings are filtered.
def test_jwt_collection_scope(secured):
    token = make_jwt({"access": [{"collection": "docs", "access": "rw"}]})
    c = connect(secured, token)
    assert [col.name for col in c.get_collections().collections] == ["docs"]
    c.set_payload("docs", payload={"seen": True}, points=[1], wait=True)
    assert c.retrieve("docs", ids=[1])[0].payload["seen"] is True
    code, body = status_of(lambda: c.count("other"))
    assert code == 403 and "Access to collection other is required" in body
    code, body = status_of(lambda: c.delete_collection("docs"))
    assert code == 403 and "Global access is required" in body


# Expired tokens and tokens signed with another secret answer 403, as Qdrant does.
def test_expired_and_forged_jwts(secured):
    expired = connect(secured, make_jwt({"access": "m", "exp": int(time.time()) - 3600}))
    code, body = status_of(lambda: expired.get_collections())
    assert code == 403 and "ExpiredSignature" in body
    forged = connect(secured, make_jwt({"access": "m"}, secret="some-other-secret-of-enough-length!"))
    code, body = status_of(lambda: forged.get_collections())
    assert code == 403 and "InvalidSignature" in body


# gRPC serves TLS with the same certificate, and the same keys apply there.
def test_grpc_over_the_same_tls_certificate(secured):
    if not secured.tls:
        pytest.skip("plain HTTP server")
    import grpc
    import qdrant_client.grpc as qgrpc

    credentials = grpc.ssl_channel_credentials(root_certificates=(secured.dir / "cert.pem").read_bytes())
    with grpc.secure_channel(f"localhost:{secured.grpc_port}", credentials) as channel:
        health = qgrpc.QdrantStub(channel).HealthCheck(qgrpc.HealthCheckRequest(), timeout=10)
        assert health.version.startswith("1.18.")
        collections = qgrpc.CollectionsStub(channel)
        listed = collections.List(qgrpc.ListCollectionsRequest(), metadata=[("api-key", READ_ONLY_KEY)], timeout=10)
        assert {c.name for c in listed.collections} == {"docs", "other"}
        with pytest.raises(grpc.RpcError) as err:
            collections.List(qgrpc.ListCollectionsRequest(), timeout=10)
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
