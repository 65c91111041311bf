"""gRPC server reflection and `qdrant.StorageRead`, black box (issue 13,
items 3 and 4), driven by `grpc_requests`: the client builds every message
from what reflection describes, so these calls also check that the
descriptors match what the server decodes.

- reflection lists exactly Qdrant 1.18's six public services, and only to a
  caller with a valid credential;
- StorageRead reads a collection's files, refuses a token for another
  collection, and never leaves the collection's directory.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets

import grpc
import pytest
import requests
from google.protobuf import descriptor_pool
from grpc_requests import Client
from qdrant_client import QdrantClient, models

from conftest import OspreyServer

SIX = {
    "qdrant.Collections",
    "qdrant.Points",
    "qdrant.Snapshots",
    "qdrant.Qdrant",
    "qdrant.StorageRead",
    "grpc.health.v1.Health",
}
SR = "qdrant.StorageRead"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(claims: dict, secret: str) -> str:
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _b64(json.dumps(claims).encode())
    signature = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


class _Metadata(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Adds `api-key` to every call, reflection's own included."""

    def __init__(self, key: str) -> None:
        self.key = key

    def _with_key(self, details):
        metadata = list(details.metadata or []) + [("api-key", self.key)]
        return details._replace(metadata=metadata)

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(self._with_key(details), request)

    def intercept_unary_stream(self, continuation, details, request):
        return continuation(self._with_key(details), request)

    def intercept_stream_unary(self, continuation, details, requests):
        return continuation(self._with_key(details), requests)

    def intercept_stream_stream(self, continuation, details, requests):
        return continuation(self._with_key(details), requests)


def reflection_client(server: OspreyServer, key: str | None) -> Client:
    """A reflection client; it lists and loads every service at creation.
    A fresh descriptor pool, so the qdrant-client package's own protos in
    the default pool play no part."""
    interceptors = [_Metadata(key)] if key is not None else None
    return Client(
        f"127.0.0.1:{server.grpc_port}",
        descriptor_pool=descriptor_pool.DescriptorPool(),
        interceptors=interceptors,
    )


def code_of(call) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value.code()


@pytest.fixture(scope="module")
def srv():
    server = OspreyServer(extra_env={"QDRANT__SERVICE__JWT_RBAC": "true"})
    server.start()
    yield server
    server.close()


@pytest.fixture(scope="module")
def collections(srv):
    """Collections `a` and `b`, each with a point, and their directories,
    told apart by the order they are made in. `a` gets a probe file of
    random bytes and a symlink to a file outside the storage."""
    client = QdrantClient(url=srv.url, api_key=srv.api_key, prefer_grpc=False, timeout=60)
    root = srv.dir / "storage" / "collections"
    dirs = {}
    for name in ["a", "b"]:
        before = set(root.iterdir()) if root.exists() else set()
        client.create_collection(name, vectors_config=models.VectorParams(size=2, distance=models.Distance.DOT))
        client.upsert(name, [models.PointStruct(id=1, vector=[1.0, 2.0], payload={"k": name})], wait=True)
        (new,) = set(root.iterdir()) - before
        dirs[name] = new
    client.close()
    probe = os.urandom(3000)
    (dirs["a"] / "probe.bin").write_bytes(probe)
    (dirs["b"] / "probe.bin").write_bytes(b"b's own bytes")
    secret = srv.dir / "secret.txt"
    secret.write_bytes(b"outside the storage")
    (dirs["a"] / "escape").symlink_to(secret)
    return dirs, probe


def test_reflection_lists_exactly_the_six_services(srv):
    client = reflection_client(srv, srv.api_key)
    assert set(client.service_names) == SIX
    assert len(client.service_names) == 6
    described = client.get_service_descriptor(SR)
    assert [m.name for m in described.methods] == [
        "ListFiles", "FileExists", "FileLength", "ReadBytes",
        "ReadBytesStream", "ReadWhole", "ReadBatch", "ReadMulti",
    ]


def test_reflection_needs_a_credential(srv):
    assert code_of(lambda: reflection_client(srv, None)) == grpc.StatusCode.UNAUTHENTICATED
    assert code_of(lambda: reflection_client(srv, "wrong-" + secrets.token_hex(8))) == grpc.StatusCode.UNAUTHENTICATED


def test_any_valid_credential_may_reflect(srv):
    token = make_jwt({"access": [{"collection": "b", "access": "r"}]}, srv.api_key)
    assert set(reflection_client(srv, token).service_names) == SIX


def test_health_via_reflection(srv):
    client = reflection_client(srv, srv.api_key)
    answer = client.request("grpc.health.v1.Health", "Check", {"service": ""})
    assert answer["status"] == "SERVING"


def test_storage_read_reads_a_collection_file(srv, collections):
    _dirs, probe = collections
    client = reflection_client(srv, srv.api_key)
    listed = client.request(SR, "ListFiles", {"collection_name": "a"})["paths"]
    assert "probe.bin" in listed
    assert "escape" not in listed, "a link out of the directory is not listed"
    assert client.request(SR, "ListFiles", {"collection_name": "a", "prefix_path": "probe"})["paths"] == ["probe.bin"]

    assert client.request(SR, "FileExists", {"collection_name": "a", "path": "probe.bin"}).get("exists") is True
    assert client.request(SR, "FileExists", {"collection_name": "a", "path": "escape"}).get("exists", False) is False
    assert int(client.request(SR, "FileLength", {"collection_name": "a", "path": "probe.bin"})["length"]) == 3000

    raw = lambda method, body: client.request(SR, method, body, raw_output=True)  # noqa: E731
    assert raw("ReadWhole", {"collection_name": "a", "path": "probe.bin"}).data == probe
    part = raw("ReadBytes", {"collection_name": "a", "path": "probe.bin", "byte_offset": 100, "length": 50})
    assert part.data == probe[100:150]
    batch = raw("ReadBatch", {
        "collection_name": "a", "path": "probe.bin",
        "ranges": [{"byte_offset": 0, "length": 3}, {"byte_offset": 2990, "length": 10}],
    })
    assert list(batch.data) == [probe[:3], probe[2990:]]
    multi = raw("ReadMulti", {
        "collection_name": "a",
        "reads": [{"path": "probe.bin", "byte_offset": 7, "length": 2}],
    })
    assert list(multi.data) == [probe[7:9]]
    chunks = client.request(SR, "ReadBytesStream", {
        "collection_name": "a", "path": "probe.bin", "byte_offset": 1, "length": 2999,
    }, raw_output=True)
    assert b"".join(c.data for c in chunks) == probe[1:]


def test_storage_read_with_a_token_for_another_collection(srv, collections):
    b_reader = make_jwt({"access": [{"collection": "b", "access": "r"}]}, srv.api_key)
    client = reflection_client(srv, b_reader)
    read = lambda name: client.request(SR, "ReadWhole", {"collection_name": name, "path": "probe.bin"}, raw_output=True)  # noqa: E731
    assert read("b").data == b"b's own bytes"
    assert code_of(lambda: read("a")) == grpc.StatusCode.PERMISSION_DENIED
    # A missing collection is refused the same way: existence does not leak.
    assert code_of(lambda: read("zzz")) == grpc.StatusCode.PERMISSION_DENIED
    # prw (points read-write) passes: StorageRead is a plain read check.
    prw = reflection_client(srv, make_jwt({"access": [{"collection": "a", "access": "prw"}]}, srv.api_key))
    assert len(prw.request(SR, "ReadWhole", {"collection_name": "a", "path": "probe.bin"}, raw_output=True).data) == 3000


def test_storage_read_cannot_leave_the_directory(srv, collections):
    dirs, _probe = collections
    client = reflection_client(srv, srv.api_key)

    def read(path: str):
        return client.request(SR, "ReadWhole", {"collection_name": "a", "path": path}, raw_output=True)

    invalid = [
        "../" + dirs["b"].name + "/probe.bin",
        "../../../secret.txt",
        "sub/../../x",
        str(dirs["b"] / "probe.bin"),
        "/etc/passwd",
        "",
    ]
    for path in invalid:
        assert code_of(lambda: read(path)) == grpc.StatusCode.INVALID_ARGUMENT, path
    for path in ["escape", "missing.bin", "wal"]:
        assert code_of(lambda: read(path)) == grpc.StatusCode.NOT_FOUND, path
    assert code_of(lambda: client.request(SR, "ListFiles", {"collection_name": "a", "prefix_path": "../"})) == (
        grpc.StatusCode.INVALID_ARGUMENT
    )
    assert code_of(lambda: client.request(SR, "ReadBytes", {
        "collection_name": "a", "path": "probe.bin", "byte_offset": 2999, "length": 2,
    })) == grpc.StatusCode.OUT_OF_RANGE
    # The error never carries the outside file's contents.
    with pytest.raises(grpc.RpcError) as info:
        read("escape")
    assert "outside the storage" not in (info.value.details() or "")


def test_storage_read_refuses_a_payload_restricted_key(srv, collections):
    """Raw files hold every point's payload: a database API key limited to
    matching points (spec auth.md §15) must not read around its filter."""

    def create_key(rule: dict) -> str:
        body = {"name": "storage read " + secrets.token_hex(4), "access_rules": [{"collection_access": rule}]}
        answer = requests.post(f"{srv.url}/api-keys", json=body, headers={"api-key": srv.api_key}, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()["result"]["key"]

    restricted = create_key({"collection_name": "a", "access_type": "read", "payload": {"k": "a"}})
    client = reflection_client(srv, restricted)
    with pytest.raises(grpc.RpcError) as info:
        client.request(SR, "ReadWhole", {"collection_name": "a", "path": "probe.bin"})
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert info.value.details() == "Forbidden: Payload restriction on collection a forbids this operation"
    plain = create_key({"collection_name": "a", "access_type": "read"})
    data = reflection_client(srv, plain).request(SR, "ReadWhole", {"collection_name": "a", "path": "probe.bin"}, raw_output=True)
    assert len(data.data) == 3000
