"""On-disk cache of per-file frame features, keyed by file content and by the model settings.

Layout under ``<cache_dir>/video_features/``:

- ``file_hashes.json``: SHA-256 of each media file, reused while its size and
  modification time are unchanged, so a rerun does not reread every file.
- ``<model key>/model.json``: the settings that the model key hashes.
- ``<model key>/<h[:2]>/<entry>.npy``: float16 features ``[frames, d]`` of one
  file. An entry name is the file's SHA-256 plus the frame setting, so
  editing a file invalidates its entry.
- ``<model key>/<h[:2]>/<entry>.error``: the error of a file that failed to
  decode, so a rerun does not retry it.

Every file is written atomically (temporary file, then ``os.replace``).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np

from avrec.io import atomic_write_bytes, atomic_write_json, atomic_write_text, sha256_file

_logger = logging.getLogger(__name__)

CACHE_FOLDER = "video_features"
# Bump when the stored features change meaning (sampling rule, dtype, pooling point).
FORMAT_VERSION = 1


def hash_index(root: Path) -> FileHashes:
    """Return the file hash index stored under ``root``."""
    return FileHashes(Path(root) / CACHE_FOLDER / "file_hashes.json")


def model_key(settings: dict[str, Any]) -> str:
    """Return a stable hex key for the model, its weights and the preprocessing settings."""
    payload = json.dumps({"format": FORMAT_VERSION, **settings}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:24]


class FileHashes:
    """SHA-256 of files, remembered by (size, mtime_ns) in ``file_hashes.json``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._entries: dict[str, list] = self._read()
        self._dirty = False

    def _read(self) -> dict[str, list]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as error:
            _logger.warning("Ignoring unreadable hash index %s (%s); files will be hashed again.", self.path, error)
            return {}
        return data if isinstance(data, dict) else {}

    def sha256(self, path: Path) -> str:
        """Return the file's SHA-256; raise OSError when it is missing or unreadable."""
        stat = path.stat()
        name = str(path.resolve())
        with self._lock:
            entry = self._entries.get(name)
        if entry and entry[0] == stat.st_size and entry[1] == stat.st_mtime_ns:
            return entry[2]
        digest = sha256_file(path)
        with self._lock:
            self._entries[name] = [stat.st_size, stat.st_mtime_ns, digest]
            self._dirty = True
        return digest

    def save(self) -> None:
        if self._dirty:
            atomic_write_json(self.path, self._entries)
            self._dirty = False


class FeatureCache:
    """Per-file features of one model key."""

    def __init__(self, root: Path, settings: dict[str, Any], hashes: FileHashes) -> None:
        self.key = model_key(settings)
        self.directory = Path(root) / CACHE_FOLDER / self.key
        self.settings = settings
        self.hashes = hashes

    def _path(self, entry: str, suffix: str) -> Path:
        return self.directory / entry[:2] / f"{entry}{suffix}"

    def load(self, entry: str) -> np.ndarray | None:
        """Return the cached features of ``entry``, or None when absent or unreadable."""
        path = self._path(entry, ".npy")
        try:
            return np.load(path, allow_pickle=False)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as error:
            _logger.warning("Cached features %s are unreadable (%s); the file will be encoded again.", path, error)
            return None

    def failure(self, entry: str) -> str | None:
        """Return the recorded decode error of ``entry``, or None."""
        try:
            return self._path(entry, ".error").read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def store(self, entry: str, features: np.ndarray) -> None:
        buffer = io.BytesIO()
        np.save(buffer, features.astype(np.float16), allow_pickle=False)
        atomic_write_bytes(self._path(entry, ".npy"), buffer.getvalue())

    def store_failure(self, entry: str, message: str) -> None:
        atomic_write_text(self._path(entry, ".error"), message)

    def write_manifest(self) -> None:
        manifest = self.directory / "model.json"
        if not manifest.exists():
            atomic_write_json(manifest, {"format": FORMAT_VERSION, **self.settings})

    def close(self) -> None:
        self.hashes.save()
