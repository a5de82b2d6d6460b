"""Dataset sources registered by the avrec_datasets plugin."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from avrec.data.atomic import load_atomic
from avrec.data.config import AtomicConfig, GroupLensConfig, InteractionFilterConfig, MovieLens100kConfig
from avrec.data.dataset import Dataset
from avrec.data.fetch import ML_100K, fetch_dataset
from avrec.data.grouplens import load_grouplens
from avrec.errors import ConfigError, DataError
from avrec.interfaces import DatasetSource


def _filter_fields(config: InteractionFilterConfig) -> dict[str, object]:
    return {field.name: getattr(config, field.name) for field in dataclasses.fields(InteractionFilterConfig)}


def _existing_directory(path: str | None, source: str) -> Path:
    if path is None:
        raise ConfigError(f"dataset.path is not set for the '{source}' dataset. Add dataset.path=/path/to/directory.")
    directory = Path(path).expanduser()
    if not directory.is_dir():
        raise DataError(f"dataset.path {directory} is not a directory. Point it at the directory with the data files.")
    return directory


class MovieLens100kSource(DatasetSource):
    """MovieLens-100k from RecBole's atomic files, fetched into the user cache on first use."""

    config: MovieLens100kConfig

    def load(self) -> Dataset:
        directory = fetch_dataset(ML_100K, data_dir=self.config.data_dir)
        atomic = AtomicConfig(**_filter_fields(self.config))
        return load_atomic(directory, ML_100K.name, atomic, require_rating=True)


class AtomicSource(DatasetSource):
    """Any dataset in RecBole's atomic file format."""

    config: AtomicConfig

    def load(self) -> Dataset:
        directory = _existing_directory(self.config.path, "atomic")
        return load_atomic(directory, self.config.dataset, self.config)


class GroupLensSource(DatasetSource):
    """A MovieLens directory as GroupLens distributes it (ml-100k or ml-latest layout)."""

    config: GroupLensConfig

    def load(self) -> Dataset:
        return load_grouplens(_existing_directory(self.config.path, "grouplens"), self.config)
