"""Splits: RecBole's ratio rounding, temporal order, leave-one-out, determinism and disjointness."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from avrec.data.atomic import load_atomic
from avrec.data.config import LeaveOneOutSplitConfig, RandomOrderSplitConfig, TemporalSplitConfig
from avrec.data.dataset import Dataset, IdMap
from avrec.errors import ConfigError, DataError
from avrec.split import LeaveOneOutSplitter, RandomOrderSplitter, TemporalSplitter, ratio_counts

RATIOS = [0.8, 0.1, 0.1]
SPLITTERS = [
    RandomOrderSplitter(RandomOrderSplitConfig()),
    TemporalSplitter(TemporalSplitConfig()),
    LeaveOneOutSplitter(LeaveOneOutSplitConfig()),
]


@pytest.fixture(scope="module")
def ml100k(ml100k_dir) -> Dataset:
    return load_atomic(ml100k_dir, "ml-100k", require_rating=True)


def make_dataset(users: list[int], timestamps: list[float]) -> Dataset:
    frame = pd.DataFrame(
        {
            "user": np.asarray(users, dtype=np.int64),
            "item": np.arange(len(users), dtype=np.int64),
            "rating": np.ones(len(users), dtype=np.float32),
            "timestamp": np.asarray(timestamps, dtype=np.float64),
        }
    )
    return Dataset(
        name="toy",
        interactions=frame,
        users=IdMap(str(user) for user in sorted(set(users))),
        items=IdMap(str(item) for item in range(len(users))),
    )


def sizes(split) -> tuple[int, int, int]:
    return len(split.train), len(split.valid), len(split.test)


@pytest.mark.parametrize(
    ("total", "expected"),
    [(10, [8, 1, 1]), (20, [16, 2, 2]), (15, [13, 1, 1]), (5, [3, 1, 1]), (2, [1, 0, 1]), (1, [1, 0, 0])],
)
def test_ratio_counts_recbole_rounding(total, expected):
    assert ratio_counts(total, RATIOS) == expected


def test_ro_ml100k_totals(ml100k):
    split = RandomOrderSplitter(RandomOrderSplitConfig()).split(ml100k, seed=2020)
    assert sizes(split) == (80_808, 9_596, 9_596)


def test_ro_per_user_counts():
    dataset = make_dataset([0] * 20 + [1] * 5, list(range(25)))
    split = RandomOrderSplitter(RandomOrderSplitConfig()).split(dataset, seed=0)
    assert split.train["user"].value_counts().to_dict() == {0: 16, 1: 3}
    assert split.test["user"].value_counts().to_dict() == {0: 2, 1: 1}


def test_ro_ungrouped_counts():
    dataset = make_dataset([0] * 20 + [1] * 5, list(range(25)))
    split = RandomOrderSplitter(RandomOrderSplitConfig(group_by_user=False)).split(dataset, seed=0)
    assert sizes(split) == (21, 2, 2)


def test_ro_same_seed_same_split(ml100k):
    splitter = RandomOrderSplitter(RandomOrderSplitConfig())
    first, second = splitter.split(ml100k, seed=7), splitter.split(ml100k, seed=7)
    assert first.test.index.equals(second.test.index)


def test_ro_seeds_differ(ml100k):
    splitter = RandomOrderSplitter(RandomOrderSplitConfig())
    assert not splitter.split(ml100k, seed=1).test.index.equals(splitter.split(ml100k, seed=2).test.index)


@pytest.mark.parametrize("splitter", SPLITTERS, ids=["ro", "temporal", "loo"])
def test_splits_disjoint(ml100k, splitter):
    split = splitter.split(ml100k, seed=3)
    indices = [set(part.index) for part in (split.train, split.valid, split.test)]
    assert not indices[0] & indices[1]
    assert not indices[0] & indices[2]
    assert not indices[1] & indices[2]


@pytest.mark.parametrize("splitter", SPLITTERS, ids=["ro", "temporal", "loo"])
def test_splits_cover_all_rows(ml100k, splitter):
    split = splitter.split(ml100k, seed=3)
    assert sum(sizes(split)) == len(ml100k.interactions)


def test_temporal_never_trains_on_future(ml100k):
    split = TemporalSplitter(TemporalSplitConfig()).split(ml100k, seed=0)
    assert split.train["timestamp"].max() < split.valid["timestamp"].min()
    assert split.valid["timestamp"].max() < split.test["timestamp"].min()


def test_temporal_ties_go_later():
    # 5 train rows by count, but the 5th and 6th rows share timestamp 5, so both go to valid.
    dataset = make_dataset([0] * 10, [1, 2, 3, 4, 5, 5, 5, 8, 9, 10])
    split = TemporalSplitter(TemporalSplitConfig(ratios=[0.5, 0.2, 0.3])).split(dataset, seed=0)
    assert sizes(split) == (4, 3, 3)


def test_temporal_needs_timestamps():
    dataset = make_dataset([0, 0, 1], [1.0, np.nan, 2.0])
    with pytest.raises(DataError, match="1 of 3 interactions have no timestamp"):
        TemporalSplitter(TemporalSplitConfig()).split(dataset, seed=0)


def test_loo_picks_latest():
    dataset = make_dataset([0, 0, 0, 0], [5, 1, 9, 3])
    split = LeaveOneOutSplitter(LeaveOneOutSplitConfig()).split(dataset, seed=0)
    assert split.test["timestamp"].tolist() == [9.0]
    assert split.valid["timestamp"].tolist() == [5.0]


def test_loo_short_history_stays_in_train():
    dataset = make_dataset([0, 0, 1, 1, 1], [1, 2, 1, 2, 3])
    split = LeaveOneOutSplitter(LeaveOneOutSplitConfig()).split(dataset, seed=0)
    assert split.train["user"].tolist() == [0, 0, 1]


def test_loo_ml100k_latest_per_user(ml100k):
    split = LeaveOneOutSplitter(LeaveOneOutSplitConfig()).split(ml100k, seed=0)
    latest = ml100k.interactions.groupby("user")["timestamp"].max()
    test_times = split.test.set_index("user")["timestamp"].sort_index()
    assert len(split.test) == 943
    assert test_times.equals(latest)


def test_loo_tie_break_follows_seed():
    dataset = make_dataset([0] * 6, [1, 1, 1, 1, 1, 1])
    splitter = LeaveOneOutSplitter(LeaveOneOutSplitConfig())
    tests = {tuple(splitter.split(dataset, seed=seed).test.index) for seed in range(10)}
    assert splitter.split(dataset, seed=4).test.index.equals(splitter.split(dataset, seed=4).test.index)
    assert len(tests) > 1


def test_invalid_ratios():
    dataset = make_dataset([0, 0], [1, 2])
    with pytest.raises(ConfigError, match=r"'split.ratios': \[0.8, 0.2\]"):
        RandomOrderSplitter(RandomOrderSplitConfig(ratios=[0.8, 0.2])).split(dataset, seed=0)
