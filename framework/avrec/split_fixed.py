"""A split read from files, to train on exactly the split another tool used.

``<path>/train.tsv``, ``valid.tsv`` and ``test.tsv`` list raw (user, item)
ids. Each row must match one interaction of the dataset; ratings and
timestamps come from the dataset.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from avrec.data.dataset import Dataset
from avrec.errors import ConfigError, DataError
from avrec.interfaces import Split, Splitter

_logger = logging.getLogger(__name__)

SPLIT_NAMES = ("train", "valid", "test")


class FixedSplitter(Splitter):
    """Reads train, validation and test interactions from TSV files; ignores the seed."""

    def split(self, dataset: Dataset, seed: int) -> Split:
        if not self.config.path:
            raise ConfigError("split=fixed needs split.path, the directory holding train.tsv, valid.tsv and test.tsv.")
        directory = Path(self.config.path)
        keys = _interaction_keys(dataset)
        parts, assigned = {}, np.zeros(len(dataset.interactions), dtype=bool)
        for name in SPLIT_NAMES:
            rows = self._read_rows(directory / f"{name}.tsv", dataset, keys)
            if assigned[rows].any():
                raise DataError(
                    f"{directory / f'{name}.tsv'} repeats {int(assigned[rows].sum())} interactions of an earlier split file; "
                    f"the split files must be disjoint."
                )
            assigned[rows] = True
            parts[name] = dataset.interactions.iloc[rows].reset_index(drop=True)
        unused = int((~assigned).sum())
        if unused:
            _logger.warning("%d dataset interactions appear in no file under %s and are left out.", unused, directory)
        return Split(parts["train"], parts["valid"], parts["test"])

    def _read_rows(self, path: Path, dataset: Dataset, keys: pd.Series) -> np.ndarray:
        if not path.exists():
            raise DataError(f"Split file not found: {path}. split=fixed needs train.tsv, valid.tsv and test.tsv there.")
        frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
        for column in (self.config.user_field, self.config.item_field):
            if column not in frame.columns:
                raise DataError(
                    f"{path} has no column '{column}' (columns: {', '.join(frame.columns)}). "
                    f"Set split.user_field and split.item_field to its header names."
                )
        users = _indices(frame[self.config.user_field], dataset.users, path, "user", 2)
        items = _indices(frame[self.config.item_field], dataset.items, path, "item", 2)
        found = keys.reindex(users * dataset.n_items + items)
        missing = np.flatnonzero(found.isna().to_numpy())
        if len(missing):
            line = int(missing[0]) + 2
            raise DataError(
                f"{path}, line {line}: the pair ({frame.iloc[missing[0], 0]}, {frame.iloc[missing[0], 1]}) "
                f"is not an interaction of dataset {dataset.name} ({len(missing)} such rows)."
            )
        return found.to_numpy(dtype=np.int64)


def _interaction_keys(dataset: Dataset) -> pd.Series:
    """Map user * n_items + item to the row of that interaction (the first when repeated)."""
    frame = dataset.interactions
    keys = frame["user"].to_numpy(dtype=np.int64) * dataset.n_items + frame["item"].to_numpy(dtype=np.int64)
    series = pd.Series(np.arange(len(frame)), index=keys)
    return series[~series.index.duplicated(keep="first")]


def _indices(raw: pd.Series, id_map: Any, path: Path, kind: str, first_line: int) -> np.ndarray:
    known = np.fromiter((value in id_map for value in raw), dtype=bool, count=len(raw))
    if not known.all():
        position = int(np.flatnonzero(~known)[0])
        raise DataError(
            f"{path}, line {position + first_line}: unknown {kind} id '{raw.iloc[position]}' "
            f"({int((~known).sum())} rows name ids the dataset does not have)."
        )
    return id_map.indices(raw)
