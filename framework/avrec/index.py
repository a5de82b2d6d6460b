"""Top-k retrieval over item vectors with FAISS: exact inner product, or IVF for large catalogues.

The index stores item indices as FAISS ids, so results are item indices
whatever subset of items was added. Per-query exclusions (for example a
user's training history) are applied by fetching extra candidates and
filtering them out.
"""

from __future__ import annotations

import io
import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avrec.errors import ConfigError, DataError
from avrec.io import verify_checksum, write_with_checksum

_logger = logging.getLogger(__name__)

INDEX_KINDS = ("flat", "ivf")

# FAISS warns when k-means gets fewer than this many training points per centroid.
MIN_POINTS_PER_CENTROID = 39


def _faiss():
    # FAISS logs each CPU-specific library it fails to load at INFO level; those lines are noise here.
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)
    try:
        import faiss
    except ImportError as error:
        raise ConfigError(
            f"The item index needs FAISS, which is not installed ({error}). Install it with `pip install 'avrec[search]'`."
        ) from error
    return faiss


@dataclass
class IndexConfig:
    """Settings of the item index.

    ``kind`` is ``flat`` (exact inner product) or ``ivf`` (inverted lists,
    approximate). ``nlist`` of 0 picks about 4 x sqrt(n) lists, capped so each
    list has at least 39 training vectors. ``nprobe`` is how many lists an
    IVF query visits. ``normalize`` L2-normalizes vectors and queries, so
    scores are cosine similarities.
    """

    kind: str = "flat"
    nlist: int = 0
    nprobe: int = 8
    normalize: bool = False


def default_nlist(n_vectors: int) -> int:
    """Return about 4 x sqrt(n) inverted lists, at most n / 39 and at least 1."""
    return max(1, min(int(4 * math.sqrt(n_vectors)), n_vectors // MIN_POINTS_PER_CENTROID))


def _as_matrix(vectors: np.ndarray, name: str) -> np.ndarray:
    matrix = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32))
    if matrix.ndim != 2:
        raise DataError(f"{name} must be a 2-d array [n, dim], got shape {matrix.shape}.")
    if not np.isfinite(matrix).all():
        raise DataError(f"{name} contains NaN or infinite values; the index accepts finite vectors only.")
    return matrix


def _normalized(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)


class ItemIndex:
    """A FAISS inner-product index whose ids are item indices."""

    def __init__(self, index, normalize: bool = False) -> None:
        self.index = index
        self.normalize = normalize

    @property
    def size(self) -> int:
        return int(self.index.ntotal)

    @property
    def dim(self) -> int:
        return int(self.index.d)

    @classmethod
    def build(
        cls,
        vectors: np.ndarray,
        ids: np.ndarray | None = None,
        config: IndexConfig | None = None,
        seed: int = 0,
    ) -> ItemIndex:
        """Index ``vectors`` ``[n, dim]`` under ``ids`` (default 0..n-1)."""
        config = config or IndexConfig()
        matrix = _as_matrix(vectors, "Item vectors")
        ids = np.arange(len(matrix), dtype=np.int64) if ids is None else np.asarray(ids, dtype=np.int64)
        if ids.shape != (len(matrix),):
            raise DataError(f"Got {len(ids)} item ids for {len(matrix)} item vectors; pass one id per vector.")
        if config.normalize:
            matrix = _normalized(matrix)
        if config.kind == "flat":
            index = _faiss().IndexIDMap2(_faiss().IndexFlatIP(matrix.shape[1]))
        elif config.kind == "ivf":
            index = _ivf_index(matrix, config, seed)
        else:
            raise ConfigError(f"Invalid index kind '{config.kind}'. Valid kinds: {', '.join(INDEX_KINDS)}.")
        index.add_with_ids(matrix, ids)
        _logger.debug("Built a %s index over %d items of width %d.", config.kind, len(matrix), matrix.shape[1])
        return cls(index, config.normalize)

    def search(
        self,
        queries: np.ndarray,
        k: int,
        exclude: Sequence[Iterable[int] | None] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(scores, ids)``, each ``[n_queries, k]``, best first.

        ``exclude[i]`` lists ids that query ``i`` must not return. Rows with
        fewer than ``k`` results are padded with id -1 and score -inf.
        """
        if k < 1:
            raise ConfigError(f"Invalid k {k}: request at least 1 result.")
        matrix = _as_matrix(queries, "Queries")
        if matrix.shape[1] != self.dim:
            raise DataError(f"Queries have width {matrix.shape[1]} but the index contains vectors of width {self.dim}.")
        if self.normalize:
            matrix = _normalized(matrix)
        excluded = [set() if row is None else {int(i) for i in row} for row in (exclude or [None] * len(matrix))]
        if len(excluded) != len(matrix):
            raise DataError(f"Got {len(excluded)} exclusion lists for {len(matrix)} queries; pass one per query.")
        fetch = min(self.size, k + max((len(row) for row in excluded), default=0))
        scores, ids = self._search(matrix, fetch)
        out_scores = np.full((len(matrix), k), -np.inf, dtype=np.float32)
        out_ids = np.full((len(matrix), k), -1, dtype=np.int64)
        for row in range(len(matrix)):
            results = self._filter(scores[row], ids[row], excluded[row], k)
            if len(results) < k and fetch < self.size:
                full_scores, full_ids = self._search(matrix[row : row + 1], self.size)
                results = self._filter(full_scores[0], full_ids[0], excluded[row], k)
            for column, (score, item) in enumerate(results):
                out_scores[row, column] = score
                out_ids[row, column] = item
        return out_scores, out_ids

    def _search(self, matrix: np.ndarray, fetch: int) -> tuple[np.ndarray, np.ndarray]:
        if fetch == 0:
            return np.zeros((len(matrix), 0), np.float32), np.zeros((len(matrix), 0), np.int64)
        return self.index.search(matrix, fetch)

    @staticmethod
    def _filter(scores: np.ndarray, ids: np.ndarray, excluded: set[int], k: int) -> list[tuple[float, int]]:
        results = []
        for score, item in zip(scores.tolist(), ids.tolist()):
            if item >= 0 and item not in excluded:
                results.append((score, item))
                if len(results) == k:
                    break
        return results

    def save(self, path: Path) -> None:
        """Write the index atomically, with a SHA-256 sidecar."""
        buffer = io.BytesIO()
        serialized = _faiss().serialize_index(self.index)
        np.savez(buffer, index=serialized, normalize=np.array(self.normalize), nprobe=np.array(self._nprobe()))
        write_with_checksum(Path(path), buffer.getvalue())

    @classmethod
    def load(cls, path: Path) -> ItemIndex:
        """Read an index written by :meth:`save`; raise DataError when it is missing or corrupt."""
        data = verify_checksum(Path(path))
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            index = _faiss().deserialize_index(archive["index"])
            normalize = bool(archive["normalize"])
            nprobe = int(archive["nprobe"])
        if nprobe > 0:
            _faiss().extract_index_ivf(index).nprobe = nprobe
        return cls(index, normalize)

    def _nprobe(self) -> int:
        try:
            return int(_faiss().extract_index_ivf(self.index).nprobe)
        except RuntimeError:
            return 0


def _ivf_index(matrix: np.ndarray, config: IndexConfig, seed: int):
    faiss = _faiss()
    n, dim = matrix.shape
    nlist = config.nlist or default_nlist(n)
    if nlist > n:
        raise ConfigError(f"Invalid IVF nlist {nlist}: it exceeds the {n} items to index. Use nlist <= {n} or 0 for auto.")
    if config.nprobe < 1:
        raise ConfigError(f"Invalid IVF nprobe {config.nprobe}: it must be at least 1.")
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
    index.cp.seed = seed
    index.train(matrix)
    index.nprobe = min(config.nprobe, nlist)
    return index
