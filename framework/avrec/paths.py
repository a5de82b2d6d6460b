"""Locations of the bundled Hydra config tree."""

from __future__ import annotations

from pathlib import Path

import avrec


def config_dir() -> Path:
    """Return the core config directory: inside the installed wheel, or conf/ of a checkout."""
    package_dir = Path(avrec.__file__).resolve().parent
    for candidate in (package_dir / "conf", package_dir.parents[1] / "conf"):
        if (candidate / "config.yaml").exists():
            return candidate
    raise FileNotFoundError(
        f"avrec's config tree was not found next to {package_dir}. Reinstall avrec: pip install --force-reinstall avrec"
    )
