"""Atomic, checksummed file writes for checkpoints, caches and results.

Every file is written to a temporary name in the target directory and moved
into place with ``os.replace``, so a crash never leaves a half-written file
under the final name. Binary artefacts get a ``.sha256`` sidecar that
:func:`verify_checksum` checks before the file is used.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import logging
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from avrec.errors import DataError

_logger = logging.getLogger(__name__)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp creates the file with mode 0600; give it the mode a plain open() would.
        os.chmod(tmp_name, 0o666 & ~_current_umask())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, payload: Any) -> None:
    atomic_write_text(path, json.dumps(payload, indent=2, ensure_ascii=False, sort_keys=False) + "\n")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def write_with_checksum(path: Path, data: bytes) -> None:
    """Write ``data`` and its SHA-256 sidecar, data first so a sidecar never outlives its file."""
    atomic_write_bytes(path, data)
    atomic_write_text(_sidecar(path), sha256_bytes(data) + "\n")


def verify_checksum(path: Path) -> bytes:
    """Read ``path`` and return its bytes; raise DataError when it is missing, truncated or altered."""
    path = Path(path)
    sidecar = _sidecar(path)
    if not path.exists():
        raise DataError(f"File not found: {path}.")
    data = path.read_bytes()
    if not sidecar.exists():
        raise DataError(f"Checksum file {sidecar} is missing, so {path} cannot be verified. Delete {path} to rebuild it.")
    expected = sidecar.read_text().strip()
    actual = sha256_bytes(data)
    if expected != actual:
        raise DataError(
            f"{path} is corrupt or truncated: SHA-256 {actual} does not match {expected} "
            f"recorded in {sidecar}. Delete the file to rebuild it, or restore it from a backup."
        )
    return data


def save_torch(path: Path, payload: Any) -> None:
    """Serialise ``payload`` with torch.save and write it atomically with a checksum."""
    import torch

    buffer = io.BytesIO()
    torch.save(payload, buffer)
    write_with_checksum(path, buffer.getvalue())


def load_torch(path: Path, map_location: Any = "cpu") -> Any:
    """Load a checksummed torch file written by :func:`save_torch`."""
    import torch

    data = verify_checksum(path)
    return torch.load(io.BytesIO(data), map_location=map_location, weights_only=False)


def load_torch_or_rebuild(path: Path, build: Callable[[], Any], map_location: Any = "cpu") -> Any:
    """Load a checksummed cache file, or call ``build`` and write its result when the file is missing or invalid.

    A file that fails verification (truncated, altered, or without its
    sidecar) is reported by path in a warning and replaced, never used.
    """
    path = Path(path)
    if path.exists():
        try:
            return load_torch(path, map_location=map_location)
        except DataError as error:
            _logger.warning("Rebuilding cache file %s because it failed verification: %s", path, error)
    value = build()
    save_torch(path, value)
    return value
