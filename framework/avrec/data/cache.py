"""The user cache directory.

The cache root is ``$AVREC_CACHE_DIR`` when set, else ``$XDG_CACHE_HOME/avrec``,
else ``~/.cache/avrec``. Atomic writes into it live in :mod:`avrec.io`.
"""

from __future__ import annotations

import os
from pathlib import Path

from avrec.io import atomic_write_bytes, atomic_write_text

__all__ = ["CACHE_ENV", "atomic_write_bytes", "atomic_write_text", "dataset_cache_dir", "user_cache_dir"]

CACHE_ENV = "AVREC_CACHE_DIR"


def user_cache_dir() -> Path:
    """Return the root of avrec's user cache (the directory may not exist yet)."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg).expanduser() / "avrec"
    return Path.home() / ".cache" / "avrec"


def dataset_cache_dir(name: str, cache_root: Path | None = None) -> Path:
    """Return the cache directory of dataset ``name``: ``<cache root>/datasets/<name>``."""
    root = cache_root if cache_root is not None else user_cache_dir()
    return root / "datasets" / name
