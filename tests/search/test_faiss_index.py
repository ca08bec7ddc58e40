"""FaissIndex: add / update / delete consistency, exact and HNSW, persistence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.search.faiss_index import HNSW_THRESHOLD, FaissIndex

DIM = 32


def unit(rows: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((rows, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture(params=["flat", "hnsw"])
def index(request: pytest.FixtureRequest) -> FaissIndex:
    expected = HNSW_THRESHOLD if request.param == "hnsw" else 0
    ix = FaissIndex(DIM, expected)
    assert ix.is_hnsw == (request.param == "hnsw")
    ix.upsert(list(range(100, 400)), unit(300, 0), list(range(300)))
    return ix


def brute_force(ix: FaissIndex, q: np.ndarray, k: int) -> list[int]:
    ids = sorted(ix.slots)
    vecs = ix.index.reconstruct_batch(np.array([ix.slots[i] for i in ids]))
    order = np.argsort(-(vecs @ q), kind="stable")[:k]
    return [ids[i] for i in order]


def test_search_matches_brute_force(index: FaissIndex):
    for q in unit(5, 1):
        assert [p for p, _ in index.search(q, 10)] == brute_force(index, q, 10)


def test_update_replaces_vector(index: FaissIndex):
    target = unit(1, 2)[0]
    index.upsert([150], target[None, :], [999])
    hits = index.search(target, 3)
    assert hits[0][0] == 150 and hits[0][1] == pytest.approx(1.0, abs=1e-5)
    assert len(index) == 300
    assert [p for p, _ in hits].count(150) == 1
    assert index.stored_digests()[150] == 999


def test_delete_removes_everywhere(index: FaissIndex):
    q = index.index.reconstruct(index.slots[200])
    assert index.search(q, 1)[0][0] == 200
    index.remove([200, 201, 12345])
    assert 200 not in [p for p, _ in index.search(q, 300)]
    assert 200 not in index.stored_digests() and len(index) == 298


def test_k_above_size_returns_each_live_product_once(index: FaissIndex):
    index.remove([100, 101])
    hits = index.search(unit(1, 3)[0], 10_000)
    ids = [p for p, _ in hits]
    assert len(ids) == 298 == len(set(ids))
    assert -1 not in ids and 100 not in ids
    scores = [s for _, s in hits]
    assert scores == sorted(scores, reverse=True)


def test_allowed_restricts_results(index: FaissIndex):
    allowed = list(range(100, 400, 7))
    hits = index.search(unit(1, 4)[0], 50, allowed)
    assert {p for p, _ in hits} == set(allowed)
    assert index.search(unit(1, 4)[0], 5, []) == []


def test_compaction_keeps_results(index: FaissIndex):
    q = unit(1, 5)[0]
    index.remove(list(range(100, 180)))  # > 20 % dead -> compacted
    assert index.index.ntotal == len(index) == 220
    assert [p for p, _ in index.search(q, 10)] == brute_force(index, q, 10)


def test_save_load_roundtrip(index: FaissIndex, tmp_path: Path):
    index.remove([300])
    index.save(tmp_path / "ix")
    loaded = FaissIndex.load(tmp_path / "ix")
    q = unit(1, 6)[0]
    assert loaded.search(q, 20) == index.search(q, 20)
    assert loaded.stored_digests() == index.stored_digests()
