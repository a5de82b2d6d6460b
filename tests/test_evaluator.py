"""Full-ranking evaluator: pessimistic ties, masking, skipped users, batching, splits."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import sparse

from avrec.errors import ConfigError, DataError
from avrec.evaluator import (
    evaluate,
    evaluate_split,
    interactions_to_csr,
    pessimistic_ranks,
    random_ndcg_at_k,
)

ALL_METRICS = ["recall", "ndcg", "mrr", "hit", "precision"]
INV_LOG2_3 = 1.0 / math.log2(3)


def _csr(rows: list[list[int]]) -> sparse.csr_matrix:
    return sparse.csr_matrix(np.array(rows, dtype=np.int8))


def _fixed_scorer(table: list[list[float]] | torch.Tensor):
    """Return a score_fn that looks up rows of a fixed score table."""
    scores = torch.as_tensor(table, dtype=torch.float32)

    def score_fn(users: torch.Tensor) -> torch.Tensor:
        return scores[users]

    return score_fn


def _ranks_for_row(scores: list[float], relevant: list[int], masked: list[int], max_k: int = 10) -> list[float]:
    row = torch.tensor([scores], dtype=torch.float32)
    row[0, masked] = float("-inf")
    return pessimistic_ranks(
        row,
        torch.tensor([relevant]),
        torch.tensor([len(relevant)]),
        torch.tensor([len(masked)]),
        max_k,
    )[0].tolist()


# ---------------------------------------------------------------------------
# Pessimistic ranks


def test_constant_scores_rank_last() -> None:
    # Five items all tied, item 2 relevant: the four non-relevant items go first.
    assert _ranks_for_row([0.0] * 5, [2], []) == [5.0]


def test_relevant_ties_take_consecutive_ranks() -> None:
    # All five tied, items 1 and 3 relevant: three non-relevant items first,
    # then the relevant ones in column order at ranks 4 and 5.
    assert _ranks_for_row([0.0] * 5, [1, 3], []) == [4.0, 5.0]


def test_relevant_tie_above_lower_items() -> None:
    # Scores [3, 3, 3, 1, 0], items 0 and 2 relevant. Item 1 (non-relevant,
    # tied at 3) goes first, then item 0 at rank 2 and item 2 at rank 3.
    assert _ranks_for_row([3.0, 3.0, 3.0, 1.0, 0.0], [0, 2], []) == [2.0, 3.0]


def test_relevant_tie_order_follows_columns() -> None:
    # Columns list item 2 before item 0, so item 2 takes the first tied rank.
    assert _ranks_for_row([3.0, 3.0, 3.0, 1.0, 0.0], [2, 0], []) == [2.0, 3.0]


def test_masked_items_not_counted() -> None:
    # Items 0 and 1 score highest but are masked, so relevant item 2 ranks 1st.
    assert _ranks_for_row([5.0, 4.0, 3.0, 2.0, 1.0], [2], [0, 1]) == [1.0]


def test_masked_items_not_tied_with_minus_inf() -> None:
    # The model scores relevant item 1 at -inf, the same value as masked item 0.
    # Items 2 and 3 rank above it and the masked item is not a tie: rank 3.
    assert _ranks_for_row([0.0, float("-inf"), 1.0, 1.0], [1], [0]) == [3.0]


def test_minus_inf_relevant_not_tied_with_padding() -> None:
    # Row 0 has two relevant items, one of them scored -inf. Row 1 has one, so
    # its second column is -inf padding, which must not tie with item 0.
    scores = torch.tensor([[2.0, float("-inf"), 1.0], [float("-inf"), 2.0, 1.0]])
    ranks = pessimistic_ranks(
        scores,
        relevant_items=torch.tensor([[0, 1], [0, 0]]),
        n_relevant=torch.tensor([2, 1]),
        n_masked=torch.tensor([0, 0]),
        max_k=10,
    )
    # Row 0: item 0 first, item 2 second, item 1 (at -inf) third.
    assert ranks[0].tolist() == [1.0, 3.0]
    # Row 1: item 0 at -inf below items 1 and 2, rank 3; padding stays inf.
    assert ranks[1].tolist() == [3.0, float("inf")]


def test_below_threshold_rank_is_inf() -> None:
    # Scores 10..1, relevant item 9 scores lowest; with max_k = 3 at least three
    # items rank above it, so its rank is reported as inf.
    scores = [float(10 - i) for i in range(10)]
    assert _ranks_for_row(scores, [9], [], max_k=3) == [float("inf")]


def test_k_above_item_count_ranks_exactly() -> None:
    # Three items, max_k = 10: relevant item 0 has the lowest score, rank 3.
    assert _ranks_for_row([0.1, 0.5, 0.9], [0], [], max_k=10) == [3.0]


# ---------------------------------------------------------------------------
# evaluate()


def test_constant_scorer_scores_low() -> None:
    # Five items, one relevant, constant scores: rank 5, so mrr@10 = 1/5 and
    # ndcg@10 = 1 / log2(6) = 0.3869.
    result = evaluate(
        lambda users: torch.zeros(len(users), 5),
        n_items=5,
        ground_truth=_csr([[0, 0, 1, 0, 0]]),
        exclude=_csr([[0, 0, 0, 0, 0]]),
        ks=[10],
        metrics=ALL_METRICS,
        batch_size=8,
    )
    assert result.metrics["mrr@10"] == pytest.approx(0.2, rel=1e-12)
    assert result.metrics["ndcg@10"] == pytest.approx(1.0 / math.log2(6), rel=1e-12)


def test_k_above_item_count() -> None:
    # Three items, relevant item 0 at rank 3, k = 10:
    # ndcg = 1 / log2(4) = 0.5, recall = 1, precision = 1 / 10.
    result = evaluate(
        _fixed_scorer([[0.1, 0.5, 0.9]]),
        n_items=3,
        ground_truth=_csr([[1, 0, 0]]),
        exclude=_csr([[0, 0, 0]]),
        ks=[10],
        metrics=ALL_METRICS,
        batch_size=8,
    )
    assert result.metrics["ndcg@10"] == pytest.approx(0.5, rel=1e-12)
    assert result.metrics["recall@10"] == pytest.approx(1.0, rel=1e-12)
    assert result.metrics["precision@10"] == pytest.approx(0.1, rel=1e-12)


def test_two_users_metric_means() -> None:
    # User 0: scores [4, 3, 2, 1, 0], item 1 relevant, rank 2.
    # User 1: scores [4, 3, 2, 1, 0], items 0 and 2 relevant, ranks 1 and 3.
    # ndcg@10: user 0 = 0.6309; user 1 = 1.5 / (1 + 0.6309). Mean of both.
    # recall@2: user 0 = 1/1, user 1 = 1/2, mean 0.75.
    # precision@2: user 0 = 1/2, user 1 = 1/2, mean 0.5.
    # mrr@2: user 0 = 1/2, user 1 = 1, mean 0.75.
    # hit@1: user 0 = 0, user 1 = 1, mean 0.5.
    row = [4.0, 3.0, 2.0, 1.0, 0.0]
    result = evaluate(
        _fixed_scorer([row, row]),
        n_items=5,
        ground_truth=_csr([[0, 1, 0, 0, 0], [1, 0, 1, 0, 0]]),
        exclude=_csr([[0] * 5, [0] * 5]),
        ks=[1, 2, 10],
        metrics=ALL_METRICS,
        batch_size=8,
    )
    expected_ndcg = (INV_LOG2_3 + 1.5 / (1.0 + INV_LOG2_3)) / 2
    assert result.metrics["ndcg@10"] == pytest.approx(expected_ndcg, rel=1e-12)
    assert result.metrics["recall@2"] == pytest.approx(0.75, rel=1e-12)
    assert result.metrics["precision@2"] == pytest.approx(0.5, rel=1e-12)
    assert result.metrics["mrr@2"] == pytest.approx(0.75, rel=1e-12)
    assert result.metrics["hit@1"] == pytest.approx(0.5, rel=1e-12)


def test_masked_items_removed_before_ranking() -> None:
    # Items 0 and 1 are masked training items with the highest scores;
    # relevant item 2 therefore ranks first: ndcg@1 = 1.
    result = evaluate(
        _fixed_scorer([[9.0, 8.0, 3.0, 2.0]]),
        n_items=4,
        ground_truth=_csr([[0, 0, 1, 0]]),
        exclude=_csr([[1, 1, 0, 0]]),
        ks=[1],
        metrics=["ndcg"],
        batch_size=8,
    )
    assert result.metrics["ndcg@1"] == pytest.approx(1.0, rel=1e-12)


def test_masked_relevant_item_dropped() -> None:
    # User 0's only relevant item is also masked, so the user has nothing to
    # rank and is skipped. User 1's relevant item 3 ranks first.
    result = evaluate(
        _fixed_scorer([[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]]),
        n_items=4,
        ground_truth=_csr([[1, 0, 0, 0], [0, 0, 0, 1]]),
        exclude=_csr([[1, 0, 0, 0], [0, 0, 0, 0]]),
        ks=[1],
        metrics=["hit"],
        batch_size=8,
    )
    assert result.n_users_skipped == 1
    assert result.metrics["hit@1"] == pytest.approx(1.0, rel=1e-12)


def test_users_without_relevant_skipped() -> None:
    # User 1 has no relevant item. Users 0 and 2 hit at rank 1 and rank 2,
    # so mrr@10 averages over two users: (1 + 1/2) / 2 = 0.75, not / 3.
    called: list[int] = []
    scores = torch.tensor([[2.0, 1.0, 0.0]] * 3)

    def score_fn(users: torch.Tensor) -> torch.Tensor:
        called.extend(users.tolist())
        return scores[users]

    result = evaluate(
        score_fn,
        n_items=3,
        ground_truth=_csr([[1, 0, 0], [0, 0, 0], [0, 1, 0]]),
        exclude=_csr([[0, 0, 0]] * 3),
        ks=[10],
        metrics=["mrr"],
        batch_size=8,
    )
    assert result.n_users_evaluated == 2
    assert result.n_users_skipped == 1
    assert result.metrics["mrr@10"] == pytest.approx(0.75, rel=1e-12)
    assert called == [0, 2]


def test_users_subset() -> None:
    # Only user 2 is requested; user 0 would score a hit but is not evaluated.
    result = evaluate(
        _fixed_scorer([[2.0, 1.0, 0.0]] * 3),
        n_items=3,
        ground_truth=_csr([[1, 0, 0], [0, 0, 0], [0, 0, 1]]),
        exclude=_csr([[0, 0, 0]] * 3),
        ks=[1],
        metrics=["hit"],
        batch_size=8,
        users=np.array([2]),
    )
    assert result.n_users_evaluated == 1
    assert result.metrics["hit@1"] == 0.0


def test_no_user_evaluated_gives_nan() -> None:
    result = evaluate(
        _fixed_scorer([[1.0, 0.0]]),
        n_items=2,
        ground_truth=_csr([[0, 0]]),
        exclude=_csr([[0, 0]]),
        ks=[5],
        metrics=["ndcg"],
        batch_size=8,
    )
    assert math.isnan(result.metrics["ndcg@5"])


def test_nan_scores_name_user() -> None:
    scores = torch.zeros(8, 4)
    scores[7, 2] = float("nan")
    with pytest.raises(ValueError, match="NaN for user 7 at item 2"):
        evaluate(
            _fixed_scorer(scores),
            n_items=4,
            ground_truth=sparse.csr_matrix(np.eye(8, 4, dtype=np.int8) + np.eye(8, 4, k=-4, dtype=np.int8)),
            exclude=sparse.csr_matrix((8, 4), dtype=np.int8),
            ks=[2],
            metrics=["ndcg"],
            batch_size=3,
        )


def test_scorer_output_not_modified() -> None:
    # The evaluator masks a copy, so a score_fn returning cached state keeps it intact.
    cached = torch.tensor([[3.0, 2.0, 1.0]])
    evaluate(
        lambda users: cached,
        n_items=3,
        ground_truth=_csr([[0, 0, 1]]),
        exclude=_csr([[1, 0, 0]]),
        ks=[2],
        metrics=["hit"],
        batch_size=8,
    )
    assert cached.tolist() == [[3.0, 2.0, 1.0]]


def test_wrong_score_shape_raises() -> None:
    with pytest.raises(ValueError, match=r"expected \(1, 3\)"):
        evaluate(
            lambda users: torch.zeros(len(users), 4),
            n_items=3,
            ground_truth=_csr([[1, 0, 0]]),
            exclude=_csr([[0, 0, 0]]),
            ks=[2],
            metrics=["hit"],
            batch_size=8,
        )


def test_unknown_metric_raises() -> None:
    with pytest.raises(ConfigError, match="unknown metric 'auc'"):
        evaluate(
            _fixed_scorer([[1.0]]),
            n_items=1,
            ground_truth=_csr([[1]]),
            exclude=_csr([[0]]),
            ks=[1],
            metrics=["auc"],
            batch_size=8,
        )


def _random_problem(seed: int, n_users: int, n_items: int, score_levels: int):
    """Build integer-valued scores with many ties, plus disjoint relevant and masked sets."""
    generator = np.random.default_rng(seed)
    scores = generator.integers(0, score_levels, size=(n_users, n_items)).astype(np.float32)
    draw = generator.random((n_users, n_items))
    relevant_density = generator.uniform(0.0, 0.4, size=(n_users, 1))
    relevant = draw < relevant_density
    masked = (draw > 0.75) & ~relevant
    return scores, sparse.csr_matrix(relevant.astype(np.int8)), sparse.csr_matrix(masked.astype(np.int8))


def test_batch_size_does_not_change_results() -> None:
    scores, relevant, masked = _random_problem(seed=3, n_users=60, n_items=40, score_levels=5)
    results = [
        evaluate(
            _fixed_scorer(scores),
            n_items=40,
            ground_truth=relevant,
            exclude=masked,
            ks=[1, 5, 10, 50],
            metrics=ALL_METRICS,
            batch_size=batch_size,
        ).metrics
        for batch_size in (1, 7, 1000)
    ]
    assert results[0] == results[2]
    assert results[1] == results[2]


def _reference_ranks(scores: np.ndarray, relevant: set[int], masked: set[int]) -> dict[int, int]:
    """Rank unmasked items by sorting with the pessimistic key, one Python sort per user.

    The key sorts by descending score, puts non-relevant items before relevant
    ones at equal score, and orders tied relevant items by item index.
    """
    candidates = [item for item in range(len(scores)) if item not in masked]
    ordered = sorted(candidates, key=lambda item: (-float(scores[item]), item in relevant, item))
    return {item: position + 1 for position, item in enumerate(ordered) if item in relevant}


def _reference_metrics(ranks: list[int], k: int) -> dict[str, float]:
    n_relevant = len(ranks)
    hits = [rank for rank in ranks if rank <= k]
    dcg = sum(1.0 / math.log2(rank + 1) for rank in hits)
    idcg = sum(1.0 / math.log2(position + 1) for position in range(1, min(n_relevant, k) + 1))
    best = min(ranks)
    return {
        f"recall@{k}": len(hits) / n_relevant,
        f"ndcg@{k}": dcg / idcg,
        f"mrr@{k}": 1.0 / best if best <= k else 0.0,
        f"hit@{k}": 1.0 if hits else 0.0,
        f"precision@{k}": len(hits) / k,
    }


@pytest.mark.parametrize("seed", range(5))
def test_matches_reference_sort(seed: int) -> None:
    n_users, n_items, ks = 50, 30, [1, 3, 10, 40]
    scores, relevant, masked = _random_problem(seed, n_users, n_items, score_levels=4)
    result = evaluate(
        _fixed_scorer(scores),
        n_items=n_items,
        ground_truth=relevant,
        exclude=masked,
        ks=ks,
        metrics=ALL_METRICS,
        batch_size=16,
    )

    per_user: list[dict[str, float]] = []
    for user in range(n_users):
        relevant_items = set(relevant[user].indices.tolist())
        if not relevant_items:
            continue
        ranks = _reference_ranks(scores[user], relevant_items, set(masked[user].indices.tolist()))
        merged: dict[str, float] = {}
        for k in ks:
            merged.update(_reference_metrics(list(ranks.values()), k))
        per_user.append(merged)

    assert result.n_users_evaluated == len(per_user)
    for key, value in result.metrics.items():
        expected = sum(user_metrics[key] for user_metrics in per_user) / len(per_user)
        assert value == pytest.approx(expected, rel=1e-12), key


@pytest.mark.parametrize("seed", range(5))
def test_ranks_match_reference_sort(seed: int) -> None:
    # Compares the ranks themselves; ranks beyond max_k may be reported as inf.
    n_users, n_items, max_k = 40, 25, 6
    scores, relevant, masked = _random_problem(seed + 100, n_users, n_items, score_levels=3)
    for user in range(n_users):
        relevant_items = relevant[user].indices.tolist()
        if not relevant_items:
            continue
        masked_items = masked[user].indices.tolist()
        expected = _reference_ranks(scores[user], set(relevant_items), set(masked_items))
        actual = _ranks_for_row(scores[user].tolist(), relevant_items, masked_items, max_k=max_k)
        clipped_expected = [expected[item] if expected[item] <= max_k else max_k + 1 for item in relevant_items]
        clipped_actual = [rank if rank <= max_k else max_k + 1 for rank in actual]
        assert clipped_actual == clipped_expected, f"user {user}"


# ---------------------------------------------------------------------------
# evaluate_split()


def _frame(pairs: list[tuple[int, int]]) -> pd.DataFrame:
    return pd.DataFrame(pairs, columns=["user", "item"]).astype("int64")


# One user and five items; the scorer prefers low item indices.
SPLIT_TRAIN = _frame([(0, 0)])
SPLIT_VALID = _frame([(0, 2)])
SPLIT_TEST = _frame([(0, 3)])
DESCENDING = _fixed_scorer([[5.0, 4.0, 3.0, 2.0, 1.0]])


def _split_mrr(phase: str, mask_valid_in_test: bool = True) -> float:
    result = evaluate_split(
        DESCENDING,
        SPLIT_TRAIN,
        SPLIT_VALID,
        SPLIT_TEST,
        n_users=1,
        n_items=5,
        phase=phase,
        mask_valid_in_test=mask_valid_in_test,
        ks=[10],
        metrics=["mrr"],
        batch_size=4,
    )
    return result.metrics["mrr@10"]


def test_split_valid_masks_train_only() -> None:
    # Item 0 (train) masked; item 1 ranks first, valid item 2 second: mrr 1/2.
    assert _split_mrr("valid") == pytest.approx(0.5, rel=1e-12)


def test_split_test_masks_train_and_valid() -> None:
    # Items 0 and 2 masked; item 1 first, test item 3 second: mrr 1/2.
    assert _split_mrr("test") == pytest.approx(0.5, rel=1e-12)


def test_split_test_keeps_valid_unmasked() -> None:
    # Only item 0 masked; items 1 and 2 rank above test item 3: mrr 1/3.
    assert _split_mrr("test", mask_valid_in_test=False) == pytest.approx(1.0 / 3.0, rel=1e-12)


def test_split_invalid_phase_raises() -> None:
    with pytest.raises(ConfigError, match="phase 'train'"):
        _split_mrr("train")


def test_interactions_to_csr_rejects_out_of_range() -> None:
    with pytest.raises(DataError, match="column 'item' contains index 7"):
        interactions_to_csr(_frame([(0, 7)]), n_users=1, n_items=5, name="test")


def test_interactions_to_csr_deduplicates() -> None:
    matrix = interactions_to_csr(_frame([(0, 1), (0, 1), (1, 2)]), n_users=2, n_items=3)
    assert matrix.toarray().tolist() == [[0, 1, 0], [0, 0, 1]]


# ---------------------------------------------------------------------------
# random_ndcg_at_k()


def test_random_ndcg_one_relevant() -> None:
    # 5 candidates, 1 relevant, k = 10: each of the 5 positions contains it with
    # probability 1/5. Sum of 1/log2(p+1) for p = 1..5:
    # 1 + 0.63093 + 0.5 + 0.43068 + 0.38685 = 2.94846, so E[NDCG] = 0.58969.
    value = random_ndcg_at_k(np.array([5]), np.array([1]), 10)
    assert value[0] == pytest.approx(0.58969, abs=1e-5)


def test_random_ndcg_matches_enumeration() -> None:
    # 4 candidates, 2 relevant, k = 2: average NDCG@2 over the 6 equally likely
    # placements of the two relevant items (positions a < b).
    idcg = 1.0 + INV_LOG2_3
    discounts = {1: 1.0, 2: INV_LOG2_3}
    placements = [(a, b) for a in range(1, 5) for b in range(a + 1, 5)]
    expected = sum(sum(discounts.get(p, 0.0) for p in pair) / idcg for pair in placements) / len(placements)
    value = random_ndcg_at_k(np.array([4]), np.array([2]), 2)
    assert value[0] == pytest.approx(expected, rel=1e-12)


def test_random_ndcg_all_relevant_is_one() -> None:
    value = random_ndcg_at_k(np.array([3, 20]), np.array([3, 20]), 10)
    assert value.tolist() == pytest.approx([1.0, 1.0], rel=1e-12)


def test_random_ndcg_no_relevant_is_nan() -> None:
    value = random_ndcg_at_k(np.array([10]), np.array([0]), 5)
    assert math.isnan(value[0])


def test_random_ndcg_rejects_too_many_relevant() -> None:
    with pytest.raises(ValueError, match="n_relevant=6 and n_candidates=5"):
        random_ndcg_at_k(np.array([5]), np.array([6]), 5)
