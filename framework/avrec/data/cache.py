"""The user cache directory and atomic file writes.

The cache root is ``$AVREC_CACHE_DIR`` when set, else ``$XDG_CACHE_HOME/avrec``,
else ``~/.cache/avrec``. Files are written to a temporary file in the target
directory and moved into place with :func:`os.replace`, so a reader never
sees a half-written file, even when two processes write the same path.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

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


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory and os.replace."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        # mkstemp creates the file with mode 0600; give it the mode a plain open() would.
        os.chmod(temporary, 0o666 & ~_current_umask())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` as UTF-8 to ``path`` atomically (see :func:`atomic_write_bytes`)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
