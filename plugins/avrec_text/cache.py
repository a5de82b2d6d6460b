"""On-disk cache of pooled text embeddings, one entry per (model, pooling, max length, text).

Entries live in shard files (``.npz`` with a ``.sha256`` sidecar) under one
directory per model. Each encoding pass writes one new shard, named by the
hash of its keys, through an atomic rename, so concurrent writers do not
overwrite each other's entries. When the directory contains more than
``max_shards`` shards, they are merged into one. A shard whose checksum or
content is wrong is logged and deleted, and its entries are encoded again.
"""

from __future__ import annotations

import hashlib
import io
import logging
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avrec.errors import DataError
from avrec.io import verify_checksum, write_with_checksum

_logger = logging.getLogger(__name__)

SHARD_SUFFIX = ".npz"


def entry_key(model_identity: str, pooling: str, max_length: int, text: str) -> str:
    """Return the SHA-256 cache key of one text under one model, pooling and max length."""
    payload = "\0".join((model_identity, pooling, str(max_length), text))
    return hashlib.sha256(payload.encode("utf-8", errors="surrogatepass")).hexdigest()


@dataclass
class CacheStats:
    """Outcome of one cached encoding pass: items served from disk and distinct texts encoded."""

    reused: int = 0
    encoded: int = 0


class EmbeddingCache:
    """Text embeddings of width ``dim`` stored under ``directory``."""

    def __init__(self, directory: Path, dim: int, max_shards: int = 16) -> None:
        self.directory = Path(directory)
        self.dim = dim
        self.max_shards = max_shards

    def shards(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(self.directory.glob(f"*{SHARD_SUFFIX}"))

    def load(self) -> dict[str, np.ndarray]:
        """Return every valid entry; corrupt shards are deleted so their entries get rebuilt."""
        entries: dict[str, np.ndarray] = {}
        for shard in self.shards():
            try:
                keys, embeddings = self._read_shard(shard)
            except FileNotFoundError:
                continue
            except DataError as error:
                _logger.warning("Deleting corrupt text embedding cache shard %s: %s", shard, error)
                self._delete(shard)
                continue
            entries.update(zip(keys, embeddings))
        return entries

    def _read_shard(self, shard: Path) -> tuple[list[str], np.ndarray]:
        if not shard.exists():
            raise FileNotFoundError(shard)
        data = verify_checksum(shard)
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as archive:
                keys = [key.decode("ascii") for key in archive["keys"]]
                embeddings = np.asarray(archive["embeddings"], dtype=np.float32)
        except (ValueError, KeyError, OSError, zipfile.BadZipFile, UnicodeDecodeError) as error:
            raise DataError(f"{shard} is not a valid embedding shard: {error}.") from error
        if embeddings.shape != (len(keys), self.dim):
            raise DataError(
                f"{shard} contains embeddings of shape {embeddings.shape}, expected ({len(keys)}, {self.dim})."
            )
        if not np.isfinite(embeddings).all():
            raise DataError(f"{shard} contains non-finite embeddings.")
        return keys, embeddings

    def add(self, keys: Sequence[str], embeddings: np.ndarray) -> None:
        """Write the entries as one new shard, then merge shards if there are too many."""
        if len(keys) == 0:
            return
        self._write_shard(list(keys), embeddings)
        if len(self.shards()) > self.max_shards:
            self.compact()

    def compact(self) -> None:
        """Merge all shards into one; the old shards are deleted only after the merged one is written."""
        old = self.shards()
        entries = self.load()
        if not entries:
            return
        merged = self._write_shard(list(entries), np.stack(list(entries.values())))
        for shard in old:
            if shard != merged:
                self._delete(shard)

    def _write_shard(self, keys: list[str], embeddings: np.ndarray) -> Path:
        embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
        name = hashlib.sha256("".join(keys).encode("ascii")).hexdigest()[:32]
        shard = self.directory / f"{name}{SHARD_SUFFIX}"
        buffer = io.BytesIO()
        np.savez(buffer, keys=np.array(keys, dtype="S64"), embeddings=embeddings)
        write_with_checksum(shard, buffer.getvalue())
        return shard

    @staticmethod
    def _delete(shard: Path) -> None:
        shard.unlink(missing_ok=True)
        shard.with_name(shard.name + ".sha256").unlink(missing_ok=True)


def cached_embeddings(
    texts: Sequence[str],
    keys: Sequence[str],
    cache: EmbeddingCache,
    encode: Callable[[list[str]], np.ndarray],
) -> tuple[np.ndarray, CacheStats]:
    """Return embeddings ``[len(texts), dim]``, encoding only texts whose key is not cached.

    Each distinct missing text is encoded once and written to the cache.
    """
    stored = cache.load()
    missing: dict[str, str] = {}
    for key, text in zip(keys, texts):
        if key not in stored:
            missing.setdefault(key, text)
    if missing:
        fresh = encode(list(missing.values()))
        cache.add(list(missing), fresh)
        stored.update(zip(missing, fresh))
    stats = CacheStats(reused=sum(key not in missing for key in keys), encoded=len(missing))
    output = np.empty((len(texts), cache.dim), dtype=np.float32)
    for row, key in enumerate(keys):
        output[row] = stored[key]
    return output, stats
