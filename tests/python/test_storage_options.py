"""Storage settings a user relies on to fit big collections, through the
official client over REST and gRPC: ``datatype`` (``uint8`` vectors come
back as the bytes they were cast to, ``float16`` at half precision) and
``quantization_config`` (each kind accepted, shown back, used by searches
with ``QuantizationSearchParams``; a bad one refused).
"""

from __future__ import annotations

import random
import time
import warnings

import pytest
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import UnexpectedResponse

DIM = 32
POINTS = 1500


@pytest.fixture(scope="module", params=["rest", "grpc"])
def any_client(server, request):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Api key is used with an insecure connection")
        c = QdrantClient(
            url=server.url,
            api_key=server.api_key,
            prefer_grpc=request.param == "grpc",
            grpc_port=server.grpc_port,
            timeout=60,
        )
    c.transport = request.param
    yield c
    c.close()


def name(client, base: str) -> str:
    return f"{base}-{client.transport}"


def test_uint8_vectors_are_stored_as_bytes(any_client):
    c = name(any_client, "bytes")
    any_client.create_collection(
        c, vectors_config=models.VectorParams(size=4, distance=models.Distance.DOT, datatype=models.Datatype.UINT8)
    )
    info = any_client.get_collection(c)
    assert info.config.params.vectors.datatype == models.Datatype.UINT8
    any_client.upsert(c, [models.PointStruct(id=1, vector=[1.9, 300.0, -2.0, 7.0])], wait=True)
    (point,) = any_client.retrieve(c, [1], with_vectors=True)
    assert point.vector == [1.0, 255.0, 0.0, 7.0]
    hits = any_client.query_points(c, query=[1.0, 1.0, 0.5, 1.0], limit=1).points
    assert hits[0].score == pytest.approx(263.0)


def test_float16_vectors_keep_half_precision(any_client):
    c = name(any_client, "half")
    any_client.create_collection(
        c, vectors_config=models.VectorParams(size=3, distance=models.Distance.DOT, datatype=models.Datatype.FLOAT16)
    )
    any_client.upsert(c, [models.PointStruct(id=1, vector=[0.1, 1.0, 2.5])], wait=True)
    (point,) = any_client.retrieve(c, [1], with_vectors=True)
    assert point.vector[1:] == [1.0, 2.5]
    assert point.vector[0] != pytest.approx(0.1, abs=1e-9) and point.vector[0] == pytest.approx(0.1, abs=1e-4)


QUANTIZATIONS = {
    "scalar": models.ScalarQuantization(
        scalar=models.ScalarQuantizationConfig(type=models.ScalarType.INT8, quantile=0.99, always_ram=True)
    ),
    "binary": models.BinaryQuantization(
        binary=models.BinaryQuantizationConfig(
            encoding=models.BinaryQuantizationEncoding.TWO_BITS,
            query_encoding=models.BinaryQuantizationQueryEncoding.SCALAR8BITS,
        )
    ),
    "product": models.ProductQuantization(product=models.ProductQuantizationConfig(compression=models.CompressionRatio.X8)),
}


def dataset(n: int, seed: int) -> list[list[float]]:
    shape = random.Random(1234)
    centres = [[shape.uniform(-2, 2) for _ in range(DIM)] for _ in range(150)]
    rng = random.Random(seed)
    return [[x + rng.uniform(-0.4, 0.4) for x in centres[i % 150]] for i in range(n)]


def wait_green(client, collection: str) -> None:
    deadline = time.time() + 120
    while True:
        info = client.get_collection(collection)
        if info.status == models.CollectionStatus.GREEN and (info.indexed_vectors_count or 0) >= POINTS:
            return
        assert time.time() < deadline, f"not indexed in time: {info.status} {info.indexed_vectors_count}"
        time.sleep(0.2)


@pytest.mark.parametrize("kind", list(QUANTIZATIONS))
def test_quantized_search_rescores_with_the_originals(any_client, kind):
    c = name(any_client, f"quantized-{kind}")
    any_client.create_collection(
        c,
        vectors_config=models.VectorParams(size=DIM, distance=models.Distance.COSINE),
        hnsw_config=models.HnswConfigDiff(m=16, ef_construct=64, full_scan_threshold=10),
        optimizers_config=models.OptimizersConfigDiff(indexing_threshold=100),
        quantization_config=QUANTIZATIONS[kind],
    )
    shown = any_client.get_collection(c).config.quantization_config
    assert type(shown) is type(QUANTIZATIONS[kind])
    vectors = dataset(POINTS, 5)
    any_client.upload_points(
        c, [models.PointStruct(id=i, vector=v) for i, v in enumerate(vectors)], batch_size=500, wait=True
    )
    wait_green(any_client, c)
    found = wanted = 0
    for q in dataset(20, 99):
        exact = any_client.query_points(c, query=q, limit=10, search_params=models.SearchParams(exact=True)).points
        scores = {p.id: p.score for p in exact}
        got = any_client.query_points(
            c,
            query=q,
            limit=10,
            search_params=models.SearchParams(
                quantization=models.QuantizationSearchParams(rescore=True, oversampling=3.0)
            ),
        ).points
        wanted += len(exact)
        found += sum(1 for p in got if p.id in scores)
        for p in got:
            if p.id in scores:
                assert p.score == pytest.approx(scores[p.id], abs=1e-5), "rescored with the original vectors"
    assert found / wanted >= 0.9, f"{kind}: recall {found / wanted}"
    # Without rescoring the scores are the codes' own: not all exact.
    q = dataset(1, 7)[0]
    exact = {p.id: p.score for p in any_client.query_points(c, query=q, limit=POINTS, search_params=models.SearchParams(exact=True)).points}
    approx = any_client.query_points(
        c, query=q, limit=10, search_params=models.SearchParams(quantization=models.QuantizationSearchParams(rescore=False))
    ).points
    assert any(abs(p.score - exact[p.id]) > 1e-6 for p in approx)


def test_bad_quantization_is_refused(any_client):
    c = name(any_client, "bad-quantization")
    any_client.create_collection(c, vectors_config=models.VectorParams(size=4, distance=models.Distance.DOT))
    with pytest.raises(Exception) as refused:
        any_client.update_collection(
            c,
            quantization_config=models.ScalarQuantization(
                scalar=models.ScalarQuantizationConfig(type=models.ScalarType.INT8, quantile=0.2)
            ),
        )
    if isinstance(refused.value, UnexpectedResponse):
        assert refused.value.status_code in (400, 422)
    assert any_client.get_collection(c).config.quantization_config is None


def test_bad_quantization_gets_a_qdrant_shaped_400(server):
    import requests

    headers = {"api-key": server.api_key}
    url = f"{server.url}/collections/raw-bad-quantization"
    r = requests.put(url, json={"vectors": {"size": 4, "distance": "Dot"}, "quantization_config": {"scalar": {"type": "int4"}}}, headers=headers)
    assert r.status_code == 400, r.text
    body = r.json()
    assert "unknown scalar quantization type `int4`" in body["status"]["error"]
    assert requests.get(url, headers=headers).status_code == 404
