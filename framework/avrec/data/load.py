"""Load a dataset directory whose layout is detected from its file names (for `avrec data validate`)."""

from __future__ import annotations

from pathlib import Path

from avrec.data.atomic import load_atomic
from avrec.data.config import AtomicConfig, GroupLensConfig
from avrec.data.dataset import Dataset
from avrec.data.grouplens import load_grouplens
from avrec.errors import DataError


def load_directory(path: Path | str) -> Dataset:
    """Load ``path`` as RecBole atomic files (one ``*.inter``) or as a GroupLens MovieLens directory.

    Default cleaning applies (duplicates=latest, no threshold or filters), so
    every validation error of the loaders surfaces as a DataError.
    """
    directory = Path(path)
    if not directory.is_dir():
        raise DataError(f"{directory} is not a directory. Pass the directory that contains the data files.")
    inter_files = sorted(directory.glob("*.inter"))
    if len(inter_files) > 1:
        names = ", ".join(file.name for file in inter_files)
        raise DataError(f"{directory} contains several .inter files ({names}). Keep one dataset per directory.")
    if inter_files:
        return load_atomic(directory, inter_files[0].stem, AtomicConfig())
    if (directory / "u.data").is_file() or (directory / "ratings.csv").is_file():
        return load_grouplens(directory, GroupLensConfig())
    raise DataError(
        f"{directory} has no dataset files: expected <name>.inter (RecBole atomic files), u.data (MovieLens-100k) "
        f"or ratings.csv (MovieLens latest)."
    )
