"""Train, validation and test splits of a dataset's interactions.

Every splitter returns frames that keep the row labels of
``Dataset.interactions``, sorted, so the three splits are disjoint subsets
of the original rows. Randomness comes from ``numpy.random.default_rng(seed)``
only, so a seed fixes the split.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from avrec.data.config import LeaveOneOutSplitConfig, RandomOrderSplitConfig, TemporalSplitConfig
from avrec.data.dataset import Dataset
from avrec.data.config import check_ratios
from avrec.errors import DataError
from avrec.interfaces import Split, Splitter

_logger = logging.getLogger(__name__)

TRAIN, VALID, TEST = 0, 1, 2


def normalized_ratios(ratios: Sequence[float], key: str = "split.ratios") -> list[float]:
    """Check that ``ratios`` are three non-negative numbers with a positive sum and scale them to sum 1."""
    values = check_ratios(ratios, 3, key)
    total = sum(values)
    return [value / total for value in values]


def ratio_counts(total: int, ratios: Sequence[float]) -> list[int]:
    """Return the size of each part when ``total`` rows are cut by normalized ``ratios``.

    The rounding follows RecBole 1.2.1 (``Dataset._calcu_split_ids``): every
    part but the first gets ``int(ratio * total)`` rows and the first gets the
    rest. Then, walking from the last part backwards while the first part
    keeps more than one row, a part whose exact share is strictly between
    0 and 1 row takes one row from the first part.
    """
    counts = [int(ratio * total) for ratio in ratios]
    counts[0] = total - sum(counts[1:])
    for position in range(len(ratios) - 1, 0, -1):
        if counts[0] <= 1:
            break
        if 0 < ratios[position] * total < 1:
            counts[position] += 1
            counts[0] -= 1
    return counts


def _split_from_labels(interactions: pd.DataFrame, labels: np.ndarray) -> Split:
    parts = [interactions.iloc[np.flatnonzero(labels == part)] for part in (TRAIN, VALID, TEST)]
    for name, part in zip(("train", "valid", "test"), parts):
        if part.empty:
            _logger.warning("The %s split is empty (%d interactions in total).", name, len(interactions))
    return Split(train=parts[0], valid=parts[1], test=parts[2])


def _group_positions(groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For rows sorted by group, return each row's position inside its group and its group's size."""
    count = len(groups)
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]]) if count else np.zeros(0, dtype=np.int64)
    sizes = np.diff(np.r_[starts, count])
    start_of_row = np.repeat(starts, sizes)
    return np.arange(count) - start_of_row, np.repeat(sizes, sizes)


def random_order_labels(
    users: np.ndarray, ratios: Sequence[float], seed: int, group_by_user: bool = True
) -> np.ndarray:
    """Label rows TRAIN/VALID/TEST after a seeded shuffle, cutting each user's rows by ``ratios``."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(users))
    if group_by_user:
        order = order[np.argsort(users[order], kind="stable")]
        positions, sizes = _group_positions(users[order])
    else:
        positions, sizes = np.arange(len(users)), np.full(len(users), len(users))
    unique_sizes, size_index = np.unique(sizes, return_inverse=True)
    cuts = np.array([np.cumsum(ratio_counts(int(size), ratios))[:2] for size in unique_sizes]).reshape(-1, 2)
    first_cut, second_cut = cuts[size_index, 0], cuts[size_index, 1]
    labels_in_order = np.where(positions < first_cut, TRAIN, np.where(positions < second_cut, VALID, TEST))
    labels = np.empty(len(users), dtype=np.int64)
    labels[order] = labels_in_order
    return labels


def temporal_labels(timestamps: np.ndarray, ratios: Sequence[float]) -> np.ndarray:
    """Label rows by two global time cuts so that every train row is older than every valid row, and so on.

    Each cut is the timestamp of the first row past a ratio count. Rows that
    share a cut timestamp all go to the later split.
    """
    count = len(timestamps)
    sorted_times = np.sort(timestamps, kind="stable")
    train_count, valid_count, _ = ratio_counts(count, ratios)
    first_cut = sorted_times[train_count] if train_count < count else np.inf
    second_end = train_count + valid_count
    second_cut = sorted_times[second_end] if second_end < count else np.inf
    return np.where(timestamps < first_cut, TRAIN, np.where(timestamps < second_cut, VALID, TEST))


def leave_one_out_labels(
    users: np.ndarray, timestamps: np.ndarray, seed: int, min_interactions: int = 3
) -> np.ndarray:
    """Label each user's latest row TEST and second latest VALID; users below ``min_interactions`` stay in TRAIN.

    Rows with equal timestamps are ordered by a seeded random key.
    """
    rng = np.random.default_rng(seed)
    tie_break = rng.random(len(users))
    order = np.lexsort((tie_break, timestamps, users))
    positions, sizes = _group_positions(users[order])
    from_end = sizes - 1 - positions
    eligible = sizes >= min_interactions
    labels_in_order = np.where(eligible & (from_end == 0), TEST, np.where(eligible & (from_end == 1), VALID, TRAIN))
    labels = np.empty(len(users), dtype=np.int64)
    labels[order] = labels_in_order
    return labels


def _timestamps(dataset: Dataset, split_name: str) -> np.ndarray:
    timestamps = dataset.interactions["timestamp"].to_numpy(dtype=np.float64)
    missing = int(np.isnan(timestamps).sum())
    if missing:
        raise DataError(
            f"Dataset {dataset.name}: {missing} of {len(timestamps)} interactions have no timestamp, "
            f"but the {split_name} split orders by time. Use split=ro or add timestamps."
        )
    return timestamps


class RandomOrderSplitter(Splitter):
    """RecBole's default split: shuffle, then cut each user's interactions 8:1:1."""

    config: RandomOrderSplitConfig

    def split(self, dataset: Dataset, seed: int) -> Split:
        ratios = normalized_ratios(self.config.ratios)
        users = dataset.interactions["user"].to_numpy()
        labels = random_order_labels(users, ratios, seed, self.config.group_by_user)
        return _split_from_labels(dataset.interactions, labels)


class TemporalSplitter(Splitter):
    """Global time cut: train before valid before test, with no timestamp in two splits."""

    config: TemporalSplitConfig

    def split(self, dataset: Dataset, seed: int) -> Split:
        ratios = normalized_ratios(self.config.ratios)
        labels = temporal_labels(_timestamps(dataset, "temporal"), ratios)
        return _split_from_labels(dataset.interactions, labels)


class LeaveOneOutSplitter(Splitter):
    """Per user: latest interaction to test, second latest to validation."""

    config: LeaveOneOutSplitConfig

    def split(self, dataset: Dataset, seed: int) -> Split:
        users = dataset.interactions["user"].to_numpy()
        labels = leave_one_out_labels(users, _timestamps(dataset, "loo"), seed, self.config.min_interactions)
        return _split_from_labels(dataset.interactions, labels)
