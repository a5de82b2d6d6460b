"""Ranking metrics on hand-built ranks; expected values are worked out in comments."""

from __future__ import annotations

import math

import pytest
import torch

from avrec.errors import ConfigError
from avrec.metrics import (
    METRICS,
    compute_metrics,
    get_metric,
    hit_at_k,
    mrr_at_k,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    validate_ks,
)

INF = float("inf")


def _ranks(*rows: list[float]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float64)


def _counts(*values: int) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.long)


def test_ndcg_single_hit_at_rank_two() -> None:
    # DCG = 1 / log2(2 + 1) = 0.6309; IDCG = 1 / log2(2) = 1.
    value = ndcg_at_k(_ranks([2.0]), _counts(1), 10)
    assert value.item() == pytest.approx(0.6309, abs=1e-4)


def test_ndcg_two_hits_ranks_one_and_three() -> None:
    # DCG = 1/log2(2) + 1/log2(4) = 1 + 0.5 = 1.5
    # IDCG = 1/log2(2) + 1/log2(3) = 1 + 0.6309 = 1.6309, so NDCG = 0.9197.
    value = ndcg_at_k(_ranks([1.0, 3.0]), _counts(2), 10)
    assert value.item() == pytest.approx(1.5 / (1.0 + 1.0 / math.log2(3)), rel=1e-12)


def test_ndcg_ideal_capped_at_k() -> None:
    # Five relevant items, k = 2: IDCG counts only two positions, so hits at
    # ranks 1 and 2 give a perfect 1.0 although three items are missed.
    value = ndcg_at_k(_ranks([1.0, 2.0, 3.0, 4.0, 5.0]), _counts(5), 2)
    assert value.item() == pytest.approx(1.0, rel=1e-12)


def test_ndcg_rank_beyond_k_is_zero() -> None:
    value = ndcg_at_k(_ranks([11.0]), _counts(1), 10)
    assert value.item() == 0.0


def test_ndcg_ignores_padding() -> None:
    # Second user: one item at rank 1 and a padded +inf column. DCG = IDCG = 1.
    values = ndcg_at_k(_ranks([1.0, 3.0], [1.0, INF]), _counts(2, 1), 10)
    assert values[1].item() == pytest.approx(1.0, rel=1e-12)


def test_recall_divides_by_all_relevant() -> None:
    # Hits at ranks 1 and 4 within k = 5, third relevant item at rank 9: 2 / 3.
    value = recall_at_k(_ranks([1.0, 4.0, 9.0]), _counts(3), 5)
    assert value.item() == pytest.approx(2.0 / 3.0, rel=1e-12)


def test_recall_more_relevant_than_k() -> None:
    # 20 relevant items, the first ten at ranks 1..10: 10 / 20, not 10 / 10.
    ranks = torch.arange(1, 21, dtype=torch.float64)[None, :]
    value = recall_at_k(ranks, _counts(20), 10)
    assert value.item() == pytest.approx(0.5, rel=1e-12)


def test_recall_without_relevant_is_nan() -> None:
    value = recall_at_k(_ranks([INF]), _counts(0), 10)
    assert math.isnan(value.item())


def test_precision_counts_hits_over_k() -> None:
    # Hits at ranks 2 and 5 within k = 5: 2 / 5.
    value = precision_at_k(_ranks([2.0, 5.0, 6.0]), _counts(3), 5)
    assert value.item() == pytest.approx(0.4, rel=1e-12)


def test_precision_k_above_item_count() -> None:
    # Three items in the catalogue, one relevant at rank 3: still 1 / k = 1 / 10.
    value = precision_at_k(_ranks([3.0]), _counts(1), 10)
    assert value.item() == pytest.approx(0.1, rel=1e-12)


def test_mrr_uses_best_rank() -> None:
    # Best relevant item at rank 3: 1 / 3.
    value = mrr_at_k(_ranks([7.0, 3.0]), _counts(2), 10)
    assert value.item() == pytest.approx(1.0 / 3.0, rel=1e-12)


def test_mrr_best_rank_beyond_k_is_zero() -> None:
    value = mrr_at_k(_ranks([11.0, INF]), _counts(2), 10)
    assert value.item() == 0.0


def test_hit_one_when_any_in_top_k() -> None:
    values = hit_at_k(_ranks([4.0, 12.0], [6.0, 12.0]), _counts(2, 2), 5)
    assert values.tolist() == [1.0, 0.0]


def test_registry_lists_five_metrics() -> None:
    assert sorted(METRICS) == ["hit", "mrr", "ndcg", "precision", "recall"]


def test_unknown_metric_suggests_name() -> None:
    with pytest.raises(ConfigError, match="Did you mean 'ndcg'"):
        get_metric("ndgc")


@pytest.mark.parametrize("ks", [[0], [10, -1], [2.5], [True], []])
def test_invalid_ks_raise(ks: list[object]) -> None:
    with pytest.raises(ConfigError, match="eval.ks"):
        validate_ks(ks)  # type: ignore[arg-type]


def test_compute_metrics_keys() -> None:
    results = compute_metrics(_ranks([1.0]), _counts(1), ["ndcg", "hit"], [10, 5, 10])
    assert list(results) == ["ndcg@5", "ndcg@10", "hit@5", "hit@10"]


def test_compute_metrics_values_per_user() -> None:
    # User 0: hit at rank 1. User 1: only item at rank 8, outside k = 5.
    results = compute_metrics(_ranks([1.0], [8.0]), _counts(1, 1), ["hit"], [5])
    assert results["hit@5"].tolist() == [1.0, 0.0]
