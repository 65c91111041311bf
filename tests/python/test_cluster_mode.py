"""Cluster mode on one peer (issue 13, item 2): with ``cluster.enabled`` and
``--uri`` the server is the single voter of its own cluster. The cluster
routes answer as a one-peer Qdrant does: success where the operation means
something on one peer (shard keys, recovery, metadata), Qdrant's 4xx where
it does not (moving a shard to a peer that does not exist), never 501.
"""

from __future__ import annotations

import warnings

import pytest
import requests
from qdrant_client import QdrantClient, models

from conftest import OspreyServer

URI = "http://127.0.0.1:16335/"


@pytest.fixture(scope="module")
def peer():
    srv = OspreyServer(extra_env={"QDRANT__CLUSTER__ENABLED": "true", "QDRANT_URI": URI})
    srv.start()
    yield srv
    srv.close()


def call(server, method: str, path: str, **kwargs) -> requests.Response:
    return requests.request(method, server.url + path, headers={"api-key": server.api_key}, timeout=30, **kwargs)


def grpc_client(server) -> QdrantClient:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Api key is used with an insecure connection")
        return QdrantClient(
            url=server.url, api_key=server.api_key, prefer_grpc=True, grpc_port=server.grpc_port, timeout=30
        )


def test_the_peer_is_the_leader_of_its_own_cluster(peer):
    status = call(peer, "GET", "/cluster").json()["result"]
    assert status["status"] == "enabled"
    me = status["peer_id"]
    assert status["peers"] == {str(me): {"uri": URI}}
    assert status["raft_info"]["leader"] == me
    assert status["raft_info"]["role"] == "Leader" and status["raft_info"]["is_voter"] is True

    call(peer, "PUT", "/collections/tele", json={"vectors": {"size": 2, "distance": "Dot"}})
    call(peer, "PUT", "/collections/tele/points?wait=true", json={"points": [{"id": 1, "vector": [1, 0]}]})
    telemetry = call(peer, "GET", "/cluster/telemetry").json()["result"]
    assert telemetry["cluster"]["enabled"] is True
    assert telemetry["cluster"]["number_of_peers"] == 1
    assert telemetry["cluster"]["peers"][str(me)]["uri"] == URI
    shards = telemetry["collections"]["tele"]["shards"]
    assert shards == [{"id": 0, "key": None, "replicas": [{"peer_id": me, "state": "Active", "status": "green", "num_points": 1}]}]


def test_shard_keys_through_cluster_operations_over_rest_and_grpc(peer):
    r = call(peer, "PUT", "/collections/tenants", json={"vectors": {"size": 2, "distance": "Dot"}, "sharding_method": "custom"})
    assert r.status_code == 200, r.text
    r = call(peer, "POST", "/collections/tenants/cluster", json={"create_sharding_key": {"shard_key": "a"}})
    assert r.status_code == 200 and r.json()["result"] is True, r.text
    client = grpc_client(peer)
    try:
        assert client.cluster_collection_update(
            "tenants", models.CreateShardingKeyOperation(create_sharding_key=models.CreateShardingKey(shard_key=5))
        )
        client.upsert("tenants", [models.PointStruct(id=1, vector=[1, 0])], shard_key_selector=5)
        info = call(peer, "GET", "/collections/tenants/cluster").json()["result"]
        assert sorted((s["shard_key"], s["points_count"]) for s in info["local_shards"] if s["shard_key"] == 5) == [(5, 1)]
        assert {s["shard_key"] for s in info["local_shards"]} == {"a", 5}
        grpc_info = client.collection_cluster_info("tenants")
        assert sorted(str(s.shard_key) for s in grpc_info.local_shards) == ["5", "a"]

        assert client.cluster_collection_update(
            "tenants", models.DropShardingKeyOperation(drop_sharding_key=models.DropShardingKey(shard_key=5))
        )
        assert client.count("tenants", exact=True).count == 0
        me = info["peer_id"]
        shard = next(s["shard_id"] for s in info["local_shards"] if s["shard_key"] == "a")
        # Moving a shard to a peer that does not exist is Qdrant's 400.
        with pytest.raises(Exception) as refused:
            client.cluster_collection_update(
                "tenants",
                models.MoveShardOperation(move_shard=models.MoveShard(shard_id=shard, from_peer_id=me, to_peer_id=me + 1)),
            )
        assert "does not exist" in str(refused.value)
    finally:
        client.close()

    for body, status, words in [
        ({"move_shard": {"shard_id": shard, "from_peer_id": me, "to_peer_id": 424242}}, 400, "Peer 424242 does not exist"),
        ({"replicate_shard": {"shard_id": shard, "from_peer_id": me, "to_peer_id": me}}, 400, "this cluster has one"),
        ({"drop_replica": {"shard_id": shard, "peer_id": me}}, 400, "last replica"),
        ({"abort_transfer": {"shard_id": shard, "from_peer_id": me, "to_peer_id": me}}, 400, "no transfer"),
        ({"move_shard": {"shard_id": 999, "from_peer_id": me, "to_peer_id": me}}, 404, "Shard 999"),
        ({"drop_sharding_key": {"shard_key": "nope"}}, 400, "does not exist"),
    ]:
        r = call(peer, "POST", "/collections/tenants/cluster", json=body)
        assert r.status_code == status, (body, r.text)
        assert words in r.json()["status"]["error"], (body, r.text)


def test_peer_recovery_issues_and_metadata(peer):
    me = call(peer, "GET", "/cluster").json()["result"]["peer_id"]
    r = call(peer, "DELETE", f"/cluster/peer/{me + 1}")
    assert r.status_code == 404, r.text
    r = call(peer, "DELETE", f"/cluster/peer/{me}")
    assert r.status_code == 400 and "shards on it" in r.text, r.text
    assert call(peer, "POST", "/cluster/recover").json()["result"] is True
    client = grpc_client(peer)
    try:
        # The client's own calls for the same routes.
        assert client.recover_current_peer() is True
        assert client.cluster_status().peer_id == me
        assert client.cluster_telemetry().cluster.number_of_peers == 1
        with pytest.raises(Exception) as refused:
            client.remove_peer(me)
        assert "shards on it" in str(refused.value)
    finally:
        client.close()
    assert call(peer, "GET", "/issues").json()["result"] == {"issues": []}
    assert call(peer, "DELETE", "/issues").json()["result"] is True

    assert call(peer, "PUT", "/cluster/metadata/keys/owner", json={"team": "search"}).json()["result"] is True
    assert call(peer, "GET", "/cluster/metadata/keys").json()["result"] == ["owner"]
    assert call(peer, "GET", "/cluster/metadata/keys/owner").json()["result"] == {"team": "search"}
    assert call(peer, "DELETE", "/cluster/metadata/keys/owner").json()["result"] is True
    assert call(peer, "GET", "/cluster/metadata/keys").json()["result"] == []
    # Metadata is kept across a restart.
    call(peer, "PUT", "/cluster/metadata/keys/kept", json=1)
    peer.restart()
    assert call(peer, "GET", "/cluster/metadata/keys/kept").json()["result"] == 1


def test_cluster_metadata_needs_cluster_mode(server):
    r = call(server, "GET", "/cluster/metadata/keys")
    assert r.status_code == 500, r.text
    assert "cluster mode" in r.json()["status"]["error"]


def test_the_log_level_changes_at_run_time(server):
    before = call(server, "GET", "/logger").json()["result"]
    assert before["on_disk"] == {"enabled": False}
    assert call(server, "POST", "/logger", json={"log_level": "debug"}).json()["result"] is True
    assert call(server, "GET", "/logger").json()["result"]["log_level"] == "debug"
    r = call(server, "POST", "/logger", json={"log_level": "loud=[["})
    assert r.status_code == 400 and "not a valid log level" in r.text, r.text
    r = call(server, "POST", "/logger", json={"on_disk": {"enabled": True, "log_file": "/etc/passwd"}})
    assert r.status_code == 400 and "config file" in r.text, r.text
    assert call(server, "GET", "/logger").json()["result"]["log_level"] == "debug"
    call(server, "POST", "/logger", json={"log_level": before["log_level"]})
