"""Fixtures of real media built at test time from scikit-image's CC0 photos (see media_builders)."""

from __future__ import annotations

from pathlib import Path

import pytest
from media_builders import make_clip, photo, write_microlens


@pytest.fixture(scope="session")
def clip_factory(tmp_path_factory: pytest.TempPathFactory):
    """Return a function that builds (and memoises) a clip of ``frames`` frames of a named photo."""
    folder = tmp_path_factory.mktemp("clips")
    clips: dict[tuple[str, int], Path] = {}

    def build(name: str, frames: int) -> Path:
        if (name, frames) not in clips:
            clips[(name, frames)] = make_clip(folder / f"{name}-{frames}.mp4", photo(name), frames)
        return clips[(name, frames)]

    return build


@pytest.fixture(scope="session")
def microlens_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A MicroLens-100k-layout folder with real clips and covers (read-only: copy it before changing files)."""
    return write_microlens(tmp_path_factory.mktemp("microlens") / "MicroLens-100k")

