"""Vectors kept on disk (``on_disk: true``, Qdrant 1.19's ``memory``), through
the official client: the setting is shown back, ``memory: pinned`` is refused
for dense vectors as Qdrant refuses it, vectors live in row files under the
collection's directory, and acknowledged writes (overwrites included) survive
a SIGKILL and a graceful restart.
"""

from __future__ import annotations

import random
import warnings

import pytest
import requests
from qdrant_client import QdrantClient, models

DIM = 16


def client_for(server) -> QdrantClient:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Api key is used with an insecure connection")
        return QdrantClient(url=server.url, api_key=server.api_key, prefer_grpc=False, timeout=60)


def vectors(seed: int, n: int) -> dict[int, list[float]]:
    rng = random.Random(seed)
    return {i: [round(rng.uniform(-1, 1), 4) for _ in range(DIM)] for i in range(n)}


def stored(client: QdrantClient, collection: str, n: int) -> dict[int, list[float]]:
    points = client.retrieve(collection, list(range(n)), with_vectors=True)
    return {p.id: p.vector for p in points}


def assert_same(got: dict[int, list[float]], expected: dict[int, list[float]]) -> None:
    assert sorted(got) == sorted(expected)
    for i, v in expected.items():
        assert got[i] == pytest.approx(v, abs=1e-6), f"point {i}"


def test_memory_placement_is_shown_back_and_pinned_is_refused(server):
    headers = {"api-key": server.api_key}
    base = f"{server.url}/collections"
    r = requests.put(f"{base}/cold", json={"vectors": {"size": DIM, "distance": "Dot", "memory": "cold"}}, headers=headers)
    assert r.status_code == 200, r.text
    shown = requests.get(f"{base}/cold", headers=headers).json()["result"]["config"]["params"]["vectors"]
    assert shown["memory"] == "cold"
    r = requests.put(f"{base}/pinned", json={"vectors": {"size": DIM, "distance": "Dot", "memory": "pinned"}}, headers=headers)
    assert r.status_code == 400, r.text
    assert "pinned" in r.json()["status"]["error"]
    assert requests.get(f"{base}/pinned", headers=headers).status_code == 404


def test_on_disk_vectors_survive_a_kill_and_a_restart(server):
    client = client_for(server)
    client.create_collection(
        "disk", vectors_config=models.VectorParams(size=DIM, distance=models.Distance.EUCLID, on_disk=True)
    )
    assert client.get_collection("disk").config.params.vectors.on_disk is True
    first, second = vectors(1, 500), vectors(2, 500)
    client.upsert("disk", [models.PointStruct(id=i, vector=v) for i, v in first.items()], wait=True)
    # Overwrite half: their first rows become garbage in the row file.
    client.upsert("disk", [models.PointStruct(id=i, vector=second[i]) for i in range(250)], wait=True)
    client.delete("disk", points_selector=models.PointIdsList(points=[498, 499]), wait=True)
    expected = {i: (second[i] if i < 250 else first[i]) for i in range(498)}
    assert_same(stored(client, "disk", 500), expected)
    row_files = list((server.dir / "storage" / "collections").glob("*/vectors/*.vec"))
    assert row_files, "dense vectors live in row files"
    client.close()

    server.kill()
    server.start()
    client = client_for(server)
    assert_same(stored(client, "disk", 500), expected)
    hit = client.query_points("disk", query=expected[7], limit=1).points[0]
    assert hit.id == 7 and hit.score == pytest.approx(0.0, abs=1e-5)
    client.close()

    server.restart()
    client = client_for(server)
    assert_same(stored(client, "disk", 500), expected)
    assert client.get_collection("disk").config.params.vectors.on_disk is True
    client.close()
