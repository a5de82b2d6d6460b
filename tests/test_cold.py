"""Cold-items split and the cold_items metrics block, with the random-ranking NDCG level."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from avrec.cli.hydra_app import compose_config
from avrec.cold import evaluate_among, evaluate_cold_items
from avrec.config import component_config
from avrec.data.atomic import load_atomic
from avrec.data.dataset import Dataset
from avrec.errors import ConfigError, DataError
from avrec.evaluator import random_ndcg_at_k
from avrec.plugins import get_registry
from avrec.split_cold import ColdItemsSplitter, choose_cold_items
from avrec_basic.configs import ColdItemsSplitConfig

EMPTY = pd.DataFrame({"user": np.zeros(0, dtype=np.int64), "item": np.zeros(0, dtype=np.int64)})


@pytest.fixture(scope="module")
def slice_dataset(ml100k_slice) -> Dataset:
    return load_atomic(ml100k_slice, "ml-100k", require_rating=True)


@pytest.fixture(scope="module")
def cold_split(slice_dataset):
    return ColdItemsSplitter(ColdItemsSplitConfig(validate_on="warm")).split(slice_dataset, seed=7)


@pytest.fixture(scope="module")
def cold_valid_split(slice_dataset):
    return ColdItemsSplitter(ColdItemsSplitConfig(validate_on="cold")).split(slice_dataset, seed=7)


def _frame(pairs: list[tuple[int, int]]) -> pd.DataFrame:
    users, items = zip(*pairs)
    return pd.DataFrame({"user": np.array(users, dtype=np.int64), "item": np.array(items, dtype=np.int64)})


def _table_scorer(table: list[list[float]]):
    scores = torch.tensor(table)
    return lambda users: scores[users]


# --- split -------------------------------------------------------------------


def test_no_cold_item_in_train(cold_split):
    assert not np.isin(cold_split.train["item"].to_numpy(), cold_split.cold_items).any()


def test_no_cold_item_in_valid(cold_split):
    assert not np.isin(cold_split.valid["item"].to_numpy(), cold_split.cold_items).any()


def test_test_holds_only_cold_items(cold_split):
    assert np.isin(cold_split.test["item"].to_numpy(), cold_split.cold_items).all()


def test_every_cold_interaction_in_test(cold_split, slice_dataset):
    is_cold = np.isin(slice_dataset.interactions["item"].to_numpy(), cold_split.cold_items)
    assert int(is_cold.sum()) == len(cold_split.test)


def test_splits_partition_interactions(cold_split, slice_dataset):
    labels = np.concatenate([cold_split.train.index, cold_split.valid.index, cold_split.test.index])
    assert sorted(labels) == sorted(slice_dataset.interactions.index)


def test_cold_share_of_items(cold_split, slice_dataset):
    n_items = slice_dataset.interactions["item"].nunique()
    assert len(cold_split.cold_items) == round(0.1 * n_items)


def test_valid_share_near_ratio(cold_split):
    warm = len(cold_split.train) + len(cold_split.valid)
    assert len(cold_split.valid) / warm == pytest.approx(0.1, abs=0.02)


def test_split_deterministic_per_seed(slice_dataset):
    splitter = ColdItemsSplitter(ColdItemsSplitConfig())
    first, second = splitter.split(slice_dataset, seed=3), splitter.split(slice_dataset, seed=3)
    assert np.array_equal(first.cold_items, second.cold_items)
    assert first.train.index.equals(second.train.index)
    assert first.valid.index.equals(second.valid.index)


def test_split_differs_across_seeds(slice_dataset):
    splitter = ColdItemsSplitter(ColdItemsSplitConfig())
    first, second = splitter.split(slice_dataset, seed=3), splitter.split(slice_dataset, seed=4)
    assert not np.array_equal(first.cold_items, second.cold_items)


def test_cold_validation_items_disjoint_from_test_items(cold_valid_split):
    assert not np.intersect1d(cold_valid_split.valid_cold_items, cold_valid_split.cold_items).size


def test_cold_validation_contains_only_its_items(cold_valid_split):
    assert np.isin(cold_valid_split.valid["item"].to_numpy(), cold_valid_split.valid_cold_items).all()


def test_no_validation_item_in_train(cold_valid_split):
    assert not np.isin(cold_valid_split.train["item"].to_numpy(), cold_valid_split.valid_cold_items).any()


def test_cold_validation_same_size_as_test_items(cold_valid_split):
    assert len(cold_valid_split.valid_cold_items) == len(cold_valid_split.cold_items)


def test_both_validations_test_the_same_items(cold_split, cold_valid_split):
    assert np.array_equal(cold_split.cold_items, cold_valid_split.cold_items)
    assert cold_split.test.index.equals(cold_valid_split.test.index)


def test_cold_validation_partitions_interactions(cold_valid_split, slice_dataset):
    parts = [cold_valid_split.train, cold_valid_split.valid, cold_valid_split.test]
    assert sorted(np.concatenate([part.index for part in parts])) == sorted(slice_dataset.interactions.index)


def test_warm_validation_lists_no_validation_items(cold_split):
    assert cold_split.valid_cold_items is None


def test_unknown_validate_on_rejected(slice_dataset):
    with pytest.raises(ConfigError, match="validate_on"):
        ColdItemsSplitter(ColdItemsSplitConfig(validate_on="test")).split(slice_dataset, seed=0)


def test_oversized_share_rejected_with_cold_validation(slice_dataset):
    with pytest.raises(DataError, match="validate_on=warm"):
        ColdItemsSplitter(ColdItemsSplitConfig(cold_share=0.5, validate_on="cold")).split(slice_dataset, seed=0)


def test_small_share_keeps_one_cold_item():
    cold = choose_cold_items(np.array([0, 1, 2]), 0.01, np.random.default_rng(0))
    assert len(cold) == 1


def test_share_leaving_no_training_item_rejected():
    with pytest.raises(DataError, match="cold_share"):
        choose_cold_items(np.array([0, 1]), 0.9, np.random.default_rng(0))


@pytest.mark.parametrize("share", [0.0, 1.0, -0.1])
def test_share_outside_unit_interval_rejected(slice_dataset, share):
    with pytest.raises(ConfigError, match="cold_share"):
        ColdItemsSplitter(ColdItemsSplitConfig(cold_share=share)).split(slice_dataset, seed=0)


def test_three_ratios_rejected(slice_dataset):
    with pytest.raises(ConfigError, match="split.ratios"):
        ColdItemsSplitter(ColdItemsSplitConfig(ratios=[0.8, 0.1, 0.1])).split(slice_dataset, seed=0)


def test_cold_items_preset_validates():
    node = compose_config(["split=cold_items"]).split
    _, config = component_config(get_registry(), "split", node, "split")
    assert (config.cold_share, config.validate_on) == (0.1, "cold")


# --- random NDCG -------------------------------------------------------------


def test_random_ndcg_single_relevant_by_hand():
    # One relevant item among 3: each position has probability 1/3.
    expected = (1 + 1 / math.log2(3) + 1 / math.log2(4)) / 3
    assert random_ndcg_at_k(np.array([3]), np.array([1]), 10)[0] == pytest.approx(expected)


def test_random_ndcg_matches_monte_carlo():
    rng = np.random.default_rng(0)
    n_candidates, n_relevant, k = 40, 3, 10
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = discounts[:n_relevant].sum()
    relevant = np.zeros(n_candidates, dtype=bool)
    relevant[:n_relevant] = True
    samples = [discounts[relevant[rng.permutation(n_candidates)][:k]].sum() / ideal for _ in range(20_000)]
    closed_form = random_ndcg_at_k(np.array([n_candidates]), np.array([n_relevant]), k)[0]
    assert closed_form == pytest.approx(np.mean(samples), abs=3 * np.std(samples) / math.sqrt(len(samples)))


# --- cold_items block --------------------------------------------------------


def _block(table, test_pairs, cold, train_pairs=((0, 0),), valid=EMPTY):
    return evaluate_cold_items(
        _table_scorer(table), cold_items=np.array(cold), train=_frame(list(train_pairs)), valid=valid,
        test=_frame(test_pairs), n_users=2, n_items=5, ks=[1, 2], metrics=["ndcg", "hit"], batch_size=8,
    )


def test_block_ranks_only_cold_items():
    # Warm item 0 scores highest but is not a candidate; among cold items 3 and 4 the relevant 4 ranks first.
    block = _block([[9.0, 8.0, 7.0, 1.0, 2.0], [0.0] * 5], [(0, 4)], cold=[3, 4])
    assert block["hit@1"] == 1.0


def test_block_misses_when_other_cold_item_wins():
    block = _block([[9.0, 8.0, 7.0, 3.0, 2.0], [0.0] * 5], [(0, 4)], cold=[3, 4])
    assert block["ndcg@2"] == pytest.approx(1 / math.log2(3))


def test_block_random_level_by_hand():
    # User 0 has one relevant item among two candidates: (1 + 1/log2 3) / 2 at k=2 and 1/2 at k=1.
    block = _block([[0.0] * 5, [0.0] * 5], [(0, 4)], cold=[3, 4])
    assert block["random_ndcg@2"] == pytest.approx((1 + 1 / math.log2(3)) / 2)
    assert block["random_ndcg@1"] == pytest.approx(0.5)


def test_block_ignores_warm_test_items():
    block = _block([[0.0, 0.0, 5.0, 1.0, 2.0], [0.0] * 5], [(0, 4), (0, 2)], cold=[3, 4])
    assert block["hit@1"] == 1.0


def test_block_counts_cold_items_and_users():
    block = _block([[0.0] * 5, [0.0] * 5], [(0, 4), (1, 3)], cold=[3, 4])
    assert block["n_cold_items"] == 2
    assert block["n_users_evaluated"] == 2


def test_block_random_level_excludes_masked_candidates():
    # Cold item 3 is in user 0's validation items, so only item 4 is a candidate.
    block = _block([[0.0] * 5, [0.0] * 5], [(0, 4)], cold=[3, 4], valid=_frame([(0, 3)]))
    assert block["random_ndcg@2"] == pytest.approx(1.0)


def test_among_masks_seen_candidates():
    # Candidate 3 was seen in training, so the relevant candidate 4 is ranked first despite its lower score.
    result, _, _ = evaluate_among(
        _table_scorer([[9.0, 8.0, 7.0, 5.0, 2.0], [0.0] * 5]), candidates=np.array([3, 4]),
        truth=_frame([(0, 4)]), seen=[_frame([(0, 3)])], n_users=2, n_items=5, ks=[1], metrics=["hit"], batch_size=8,
    )
    assert result.metrics["hit@1"] == 1.0
