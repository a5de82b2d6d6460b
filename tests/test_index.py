"""FAISS item index: exact search, exclusions, IVF recall and atomic save/load."""

from __future__ import annotations

import numpy as np
import pytest

from avrec.errors import ConfigError, DataError
from avrec.index import IndexConfig, ItemIndex, default_nlist


def _brute_force(items: np.ndarray, queries: np.ndarray, k: int, exclude: list[set[int]]) -> np.ndarray:
    scores = queries @ items.T
    for row, excluded in enumerate(exclude):
        scores[row, list(excluded)] = -np.inf
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]


def _clustered(rng: np.random.Generator, n: int, dim: int, n_clusters: int) -> np.ndarray:
    centres = rng.normal(size=(n_clusters, dim)).astype(np.float32) * 3
    labels = rng.integers(0, n_clusters, size=n)
    return (centres[labels] + rng.normal(size=(n, dim))).astype(np.float32)


def test_flat_search_equals_brute_force() -> None:
    rng = np.random.default_rng(0)
    items = rng.normal(size=(500, 16)).astype(np.float32)
    queries = rng.normal(size=(20, 16)).astype(np.float32)
    exclude = [set(rng.choice(500, size=30, replace=False).tolist()) for _ in range(20)]
    _, ids = ItemIndex.build(items).search(queries, 10, exclude)
    np.testing.assert_array_equal(ids, _brute_force(items, queries, 10, exclude))


def test_flat_scores_are_inner_products() -> None:
    items = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]], dtype=np.float32)
    scores, ids = ItemIndex.build(items).search(np.array([[3.0, 1.0]], dtype=np.float32), 3)
    assert ids.tolist() == [[2, 0, 1]]
    assert scores.tolist() == [[4.0, 3.0, 2.0]]


def test_excluded_items_never_returned() -> None:
    items = np.eye(4, dtype=np.float32)
    _, ids = ItemIndex.build(items).search(np.ones((1, 4), dtype=np.float32), 2, [{0, 1}])
    assert set(ids[0].tolist()) == {2, 3}


def test_short_results_are_padded() -> None:
    items = np.eye(3, dtype=np.float32)
    scores, ids = ItemIndex.build(items).search(np.ones((1, 3), dtype=np.float32), 3, [{0, 2}])
    assert ids.tolist() == [[1, -1, -1]]
    assert np.isneginf(scores[0, 1:]).all()


def test_custom_ids_are_returned() -> None:
    items = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    _, ids = ItemIndex.build(items, ids=np.array([40, 7])).search(np.array([[0.0, 1.0]], dtype=np.float32), 1)
    assert ids.tolist() == [[7]]


def test_normalize_ranks_by_cosine() -> None:
    items = np.array([[10.0, 10.0], [1.0, 0.0]], dtype=np.float32)
    index = ItemIndex.build(items, config=IndexConfig(normalize=True))
    scores, ids = index.search(np.array([[1.0, 0.0]], dtype=np.float32), 1)
    assert ids.tolist() == [[1]]
    assert scores[0, 0] == pytest.approx(1.0)


def test_ivf_recall_close_to_exact() -> None:
    rng = np.random.default_rng(1)
    items = _clustered(rng, 4000, 32, 40)
    queries = _clustered(rng, 100, 32, 40)
    exact = _brute_force(items, queries, 10, [set()] * 100)
    index = ItemIndex.build(items, config=IndexConfig(kind="ivf", nprobe=8), seed=0)
    _, ids = index.search(queries, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact.tolist(), ids.tolist())])
    assert recall >= 0.9


def test_ivf_excludes_items() -> None:
    rng = np.random.default_rng(2)
    items = _clustered(rng, 1000, 8, 10)
    index = ItemIndex.build(items, config=IndexConfig(kind="ivf", nprobe=4))
    best = index.search(items[:1], 5)[1][0]
    _, ids = index.search(items[:1], 5, [set(best.tolist())])
    assert not set(ids[0].tolist()) & set(best.tolist())


def test_default_nlist() -> None:
    assert default_nlist(10_000) == 256
    assert default_nlist(1000) == 25
    assert default_nlist(10) == 1


def test_ivf_nlist_above_item_count() -> None:
    with pytest.raises(ConfigError, match="nlist 50"):
        ItemIndex.build(np.eye(10, dtype=np.float32), config=IndexConfig(kind="ivf", nlist=50))


def test_unknown_kind_is_config_error() -> None:
    with pytest.raises(ConfigError, match="Invalid index kind 'hnsw'"):
        ItemIndex.build(np.eye(3, dtype=np.float32), config=IndexConfig(kind="hnsw"))


def test_query_width_mismatch() -> None:
    index = ItemIndex.build(np.eye(3, dtype=np.float32))
    with pytest.raises(DataError, match="width 2"):
        index.search(np.ones((1, 2), dtype=np.float32), 1)


def test_nan_vectors_rejected() -> None:
    with pytest.raises(DataError, match="NaN"):
        ItemIndex.build(np.array([[np.nan, 1.0]], dtype=np.float32))


def test_save_load_round_trip(tmp_path) -> None:
    rng = np.random.default_rng(3)
    items = _clustered(rng, 1000, 8, 10)
    index = ItemIndex.build(items, config=IndexConfig(kind="ivf", nprobe=3))
    index.save(tmp_path / "items.faiss")
    loaded = ItemIndex.load(tmp_path / "items.faiss")
    assert loaded.index.nprobe == 3
    np.testing.assert_array_equal(loaded.search(items[:5], 4)[1], index.search(items[:5], 4)[1])


def test_load_detects_corruption(tmp_path) -> None:
    path = tmp_path / "items.faiss"
    ItemIndex.build(np.eye(4, dtype=np.float32)).save(path)
    path.write_bytes(path.read_bytes()[:-4])
    with pytest.raises(DataError, match="corrupt or truncated"):
        ItemIndex.load(path)
