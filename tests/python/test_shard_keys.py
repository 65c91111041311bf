"""Custom sharding on one node (issue 13, item 1), through the official client
over REST and gRPC: shard keys are created, listed and deleted; every point
operation takes a shard key selector; a write without a key, or with an
unknown one, gets Qdrant's error; reads without a selector see every key;
keys and their points survive a restart.
"""

from __future__ import annotations

import warnings

import pytest
import requests
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import UnexpectedResponse

DIM = 4


def make_client(server, grpc: bool) -> QdrantClient:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Api key is used with an insecure connection")
        return QdrantClient(
            url=server.url,
            api_key=server.api_key,
            prefer_grpc=grpc,
            grpc_port=server.grpc_port,
            timeout=30,
        )


@pytest.fixture(params=["rest", "grpc"])
def client(request, server):
    c = make_client(server, request.param == "grpc")
    c.transport = request.param
    yield c
    c.close()


def error_of(call) -> str:
    """The message of the error `call` raises, whichever transport."""
    with pytest.raises(Exception) as info:
        call()
    return str(info.value)


def pets(client: QdrantClient, name: str) -> None:
    """A custom-sharded collection with keys "cats" and 7, four points each."""
    if client.collection_exists(name):
        client.delete_collection(name)
    client.create_collection(
        name,
        vectors_config=models.VectorParams(size=DIM, distance=models.Distance.DOT),
        sharding_method=models.ShardingMethod.CUSTOM,
    )
    client.create_payload_index(name, "kind", models.PayloadSchemaType.KEYWORD)
    client.create_shard_key(name, "cats")
    client.create_shard_key(name, 7)
    client.upsert(
        name,
        [models.PointStruct(id=i, vector=[1.0, i, 0, 0], payload={"n": i, "kind": "cat"}) for i in range(1, 5)],
        shard_key_selector="cats",
    )
    client.upsert(
        name,
        [models.PointStruct(id=i, vector=[1.0, i, 0, 0], payload={"n": i, "kind": "dog"}) for i in range(11, 15)],
        shard_key_selector=7,
    )


def test_reads_see_the_selected_keys_and_answers_carry_the_key(client):
    name = f"pets_{client.transport}"
    pets(client, name)
    assert client.count(name, exact=True).count == 8
    assert client.count(name, exact=True, shard_key_selector="cats").count == 4
    assert client.count(name, exact=True, shard_key_selector=["cats", 7]).count == 8

    hits = client.query_points(name, query=[1.0, 1.0, 0, 0], limit=10, shard_key_selector=7, with_payload=True).points
    assert sorted(h.id for h in hits) == [11, 12, 13, 14]
    assert {h.shard_key for h in hits} == {7}
    everywhere = client.query_points(name, query=[1.0, 1.0, 0, 0], limit=10).points
    assert len(everywhere) == 8
    assert {h.shard_key for h in everywhere} == {"cats", 7}

    # A prefetch runs inside the selected keys too.
    fused = client.query_points(
        name,
        prefetch=[models.Prefetch(query=[1.0, 0, 0, 0], limit=10)],
        query=models.FusionQuery(fusion=models.Fusion.RRF),
        shard_key_selector="cats",
        limit=10,
    ).points
    assert sorted(p.id for p in fused) == [1, 2, 3, 4]

    records, _ = client.scroll(name, limit=100, shard_key_selector="cats")
    assert sorted(r.id for r in records) == [1, 2, 3, 4]
    assert {r.shard_key for r in records} == {"cats"}
    got = client.retrieve(name, [1, 11], shard_key_selector=7)
    assert [r.id for r in got] == [11]
    assert got[0].shard_key == 7

    facets = client.facet(name, "kind", shard_key_selector="cats")
    assert [(h.value, h.count) for h in facets.hits] == [("cat", 4)]

    matrix = client.search_matrix_pairs(name, sample=10, limit=2, shard_key_selector="cats")
    assert {p.a for p in matrix.pairs} <= {1, 2, 3, 4}
    groups = client.query_points_groups(
        name, group_by="kind", query=[1.0, 1.0, 0, 0], limit=5, group_size=10, shard_key_selector=7
    ).groups
    assert [g.id for g in groups] == ["dog"]

    # A fallback key is read when the target does not exist.
    fallback = models.ShardKeyWithFallback(target="no-such-key", fallback="cats")
    assert client.count(name, exact=True, shard_key_selector=fallback).count == 4


def test_writes_need_an_existing_key_and_stay_inside_it(client):
    name = f"writes_{client.transport}"
    pets(client, name)
    point = [models.PointStruct(id=99, vector=[1.0, 0, 0, 0])]
    message = error_of(lambda: client.upsert(name, point))
    assert "No shards found for shard key" in message
    message = error_of(lambda: client.upsert(name, point, shard_key_selector="birds"))
    assert "Wrong input: Shard key" in message and "birds" in message and "not found" in message
    message = error_of(lambda: client.count(name, shard_key_selector="birds"))
    assert "Bad request: Shard key" in message and "birds" in message and "not found" in message

    # A delete under key 7 does not reach the cats, even by id.
    client.delete(name, models.PointIdsList(points=[1, 11]), shard_key_selector=7)
    assert client.count(name, exact=True, shard_key_selector="cats").count == 4
    assert client.count(name, exact=True, shard_key_selector=7).count == 3
    # A filter write is narrowed the same way.
    client.set_payload(name, {"tag": "x"}, points=models.Filter(), shard_key_selector="cats")
    tagged = client.count(name, exact=True, count_filter=models.Filter(must=[
        models.FieldCondition(key="tag", match=models.MatchValue(value="x"))])).count
    assert tagged == 4
    client.delete_payload(name, ["tag"], points=[1, 2], shard_key_selector="cats")
    client.update_vectors(
        name, [models.PointVectors(id=12, vector=[0, 0, 0, 1.0])], shard_key_selector=7
    )
    assert client.retrieve(name, [12], with_vectors=True)[0].vector == [0, 0, 0, 1.0]
    # The id of a point under another key is not found under this one.
    message = error_of(lambda: client.set_payload(name, {"a": 1}, points=[12], shard_key_selector="cats"))
    assert "12" in message and "not found" in message.lower()


def test_keys_are_listed_deleted_with_their_points_and_validated(client, server):
    name = f"keys_{client.transport}"
    pets(client, name)
    # Creating an existing key succeeds (Qdrant 1.19).
    assert client.create_shard_key(name, "cats") is True
    headers = {"api-key": server.api_key}
    listed = requests.get(f"{server.url}/collections/{name}/shards", headers=headers).json()["result"]
    assert listed == {"shard_keys": [{"key": "cats"}, {"key": 7}]}
    found = requests.post(
        f"{server.url}/collections/{name}/points/search",
        json={"vector": [1.0, 1.0, 0, 0], "limit": 10, "shard_key": ["cats"]},
        headers=headers,
    ).json()["result"]
    assert sorted(h["id"] for h in found) == [1, 2, 3, 4]
    assert {h["shard_key"] for h in found} == {"cats"}
    info = requests.get(f"{server.url}/collections/{name}/cluster", headers=headers).json()["result"]
    assert sorted((s["shard_key"], s["points_count"]) for s in info["local_shards"] if s["shard_key"] == 7) == [(7, 4)]
    assert info["shard_count"] == 2

    # The router-only local-shard routes read one shard.
    shard = next(s["shard_id"] for s in info["local_shards"] if s["shard_key"] == 7)
    base = f"{server.url}/collections/{name}/shards/{shard}"
    counted = requests.post(f"{base}/points/count", json={"exact": True}, headers=headers).json()["result"]
    assert counted == {"count": 4}
    page = requests.post(f"{base}/points/scroll", json={"limit": 10}, headers=headers).json()["result"]
    assert sorted(p["id"] for p in page["points"]) == [11, 12, 13, 14]
    got = requests.post(f"{base}/points", json={"ids": [1, 11]}, headers=headers).json()["result"]
    assert [p["id"] for p in got] == [11]
    r = requests.post(f"{server.url}/collections/{name}/shards/999/points/count", json={}, headers=headers)
    assert r.status_code == 404, r.text

    assert client.delete_shard_key(name, 7) is True
    assert client.count(name, exact=True).count == 4
    message = error_of(lambda: client.delete_shard_key(name, 7))
    assert "does not exist" in message
    listed = requests.get(f"{server.url}/collections/{name}/shards", headers=headers).json()["result"]
    assert listed == {"shard_keys": [{"key": "cats"}]}

    message = error_of(lambda: client.create_shard_key(name, "x", initial_state=models.ReplicaState.DEAD))
    assert "Initial state cannot be Dead, only Active or Partial are allowed" in message
    message = error_of(lambda: client.create_shard_key(name, "x", placement=[123456789]))
    assert "Peer 123456789 does not exist" in message
    r = requests.put(f"{server.url}/collections/{name}/shards", json={"shard_key": "x", "shards_number": 0}, headers=headers)
    assert r.status_code == 422, r.text
    r = requests.put(f"{server.url}/collections/{name}/shards", json={"shard_key": -3}, headers=headers)
    assert r.status_code == 400, r.text

    # A collection without custom sharding has no keys to create or name.
    auto = f"auto_{client.transport}"
    if client.collection_exists(auto):
        client.delete_collection(auto)
    client.create_collection(auto, vectors_config=models.VectorParams(size=DIM, distance=models.Distance.DOT))
    message = error_of(lambda: client.create_shard_key(auto, "cats"))
    assert "custom sharding" in message
    listed = requests.get(f"{server.url}/collections/{auto}/shards", headers=headers).json()["result"]
    assert listed == {"shard_keys": None}
    client.upsert(auto, [models.PointStruct(id=1, vector=[1.0, 0, 0, 0])])
    assert client.retrieve(auto, [1])[0].shard_key is None


def test_keys_and_points_survive_a_restart(server):
    client = make_client(server, grpc=False)
    pets(client, "durable")
    client.delete_shard_key("durable", "cats")
    client.create_shard_key("durable", "cats")
    client.upsert("durable", [models.PointStruct(id=21, vector=[1.0, 0, 0, 0])], shard_key_selector="cats")
    client.close()
    server.restart()
    client = make_client(server, grpc=False)
    assert client.count("durable", exact=True, shard_key_selector="cats").count == 1
    assert client.count("durable", exact=True, shard_key_selector=7).count == 4
    assert client.retrieve("durable", [21])[0].shard_key == "cats"
    with pytest.raises(UnexpectedResponse):
        client.upsert("durable", [models.PointStruct(id=22, vector=[1.0, 0, 0, 0])])
    client.close()


def test_keys_travel_in_a_snapshot(server):
    client = make_client(server, grpc=False)
    pets(client, "snapped")
    snap = client.create_snapshot("snapped", wait=True)
    headers = {"api-key": server.api_key}
    archive = requests.get(f"{server.url}/collections/snapped/snapshots/{snap.name}", headers=headers, timeout=30)
    assert archive.status_code == 200, archive.text
    r = requests.post(
        f"{server.url}/collections/restored/snapshots/upload?wait=true",
        files={"snapshot": (snap.name, archive.content)},
        headers=headers,
        timeout=60,
    )
    assert r.status_code == 200, r.text
    assert client.get_collection("restored").config.params.sharding_method == models.ShardingMethod.CUSTOM
    listed = requests.get(f"{server.url}/collections/restored/shards", headers=headers).json()["result"]
    assert listed == {"shard_keys": [{"key": "cats"}, {"key": 7}]}
    assert client.count("restored", exact=True, shard_key_selector=7).count == 4
    assert {r.shard_key for r in client.scroll("restored", limit=10, shard_key_selector="cats")[0]} == {"cats"}
    client.close()


def test_shard_snapshots_save_and_restore_one_key(server):
    client = make_client(server, grpc=False)
    pets(client, "shardsnap")
    headers = {"api-key": server.api_key}
    info = requests.get(f"{server.url}/collections/shardsnap/cluster", headers=headers).json()["result"]
    shard = {s["shard_key"]: s["shard_id"] for s in info["local_shards"]}
    base = f"{server.url}/collections/shardsnap/shards/{shard[7]}"

    made = requests.post(f"{base}/snapshots?wait=true", headers=headers).json()["result"]
    assert made["name"].startswith("shardsnap-shard-") and made["size"] > 0
    listed = requests.get(f"{base}/snapshots", headers=headers).json()["result"]
    assert [s["name"] for s in listed] == [made["name"]]
    # Not among the collection's own snapshots.
    assert client.list_snapshots("shardsnap") == []
    archive = requests.get(f"{base}/snapshots/{made['name']}", headers=headers, timeout=30)
    assert archive.status_code == 200 and len(archive.content) == made["size"]
    streamed = requests.get(f"{base}/snapshot", headers=headers, timeout=30)
    assert streamed.status_code == 200 and len(streamed.content) > 0
    assert [s["name"] for s in requests.get(f"{base}/snapshots", headers=headers).json()["result"]] == [made["name"]]

    # Key 7 loses two points and gains one; recovering its snapshot restores it,
    # and the cats are untouched.
    client.delete("shardsnap", models.PointIdsList(points=[11, 12]), shard_key_selector=7)
    client.upsert("shardsnap", [models.PointStruct(id=40, vector=[1.0, 0, 0, 0])], shard_key_selector=7)
    r = requests.post(
        f"{base}/snapshots/upload?wait=true",
        files={"snapshot": (made["name"], archive.content)},
        headers=headers,
        timeout=60,
    )
    assert r.status_code == 200, r.text
    restored, _ = client.scroll("shardsnap", limit=100, shard_key_selector=7, with_payload=True)
    assert sorted(p.id for p in restored) == [11, 12, 13, 14]
    assert {p.payload["kind"] for p in restored} == {"dog"}
    assert client.count("shardsnap", exact=True, shard_key_selector="cats").count == 4

    # A partial snapshot (Qdrant sends the segments that differ from the
    # recipient's manifest) holds the whole shard here, and recovers the same way.
    partial = requests.post(f"{base}/snapshot/partial/create", json={}, headers=headers, timeout=30)
    assert partial.status_code == 200 and len(partial.content) > 0, partial.text
    client.delete("shardsnap", models.PointIdsList(points=[13]), shard_key_selector=7)
    r = requests.post(
        f"{base}/snapshot/partial/recover",
        files={"snapshot": ("partial.snapshot", partial.content)},
        headers=headers,
        timeout=60,
    )
    assert r.status_code == 200, r.text
    assert client.count("shardsnap", exact=True, shard_key_selector=7).count == 4
    r = requests.post(f"{base}/snapshot/partial/recover_from", json={"peer_url": "http://x:6333"}, headers=headers)
    assert r.status_code == 400 and "outbound" in r.text, r.text

    r = requests.delete(f"{base}/snapshots/{made['name']}?wait=true", headers=headers)
    assert r.status_code == 200 and r.json()["result"] is True
    assert requests.get(f"{base}/snapshots", headers=headers).json()["result"] == []
    missing = requests.get(f"{server.url}/collections/shardsnap/shards/999/snapshots", headers=headers)
    assert missing.status_code == 404, missing.text
    client.close()
