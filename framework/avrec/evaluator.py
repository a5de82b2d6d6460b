"""Full-ranking evaluation with pessimistic tie-breaking.

Every user is scored against every item. Items in the ``exclude`` matrix
(training items, and validation items at test time) are masked with
``-inf``. The ranks of the relevant items are then computed in batches
without a full sort. Besides the score rows (``batch_size * n_items``
floats, briefly twice that while the evaluator copies the ``score_fn``
output), each step allocates one boolean ``[batch_size, n_items]`` buffer
or a float copy of at most half of the score rows.

Ties are broken against the model: a relevant item tied with non-relevant
items ranks after all of them, so a constant scorer cannot score well.
Relevant items tied with each other take consecutive ranks in their
column order.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from scipy import sparse

from avrec.config import EvalConfig
from avrec.errors import ConfigError, DataError
from avrec.metrics import compute_metrics, get_metric, validate_ks

_logger = logging.getLogger(__name__)

ScoreFn = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class EvalResult:
    """Mean metrics over evaluated users, keyed ``"name@k"``, with user counts and wall time."""

    metrics: dict[str, float]
    n_users_evaluated: int
    n_users_skipped: int
    seconds: float
    per_user: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    """Per-user values of each metric, aligned with ``evaluated_users``."""
    evaluated_users: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64), repr=False)


# ---------------------------------------------------------------------------
# Ranks


def pessimistic_ranks(
    scores: torch.Tensor,
    relevant_items: torch.Tensor,
    n_relevant: torch.Tensor,
    n_masked: torch.Tensor,
    max_k: int,
) -> torch.Tensor:
    """Compute the 1-based pessimistic rank of each relevant item, ``[b, m]`` float64.

    ``scores`` ``[b, n]`` already contains ``-inf`` at the ``n_masked[u]``
    masked items of each row, and no relevant item is masked.
    ``relevant_items`` ``[b, m]`` lists each row's relevant item indices in
    its first ``n_relevant[u]`` columns. The rest of each row is padding.

    The rank of relevant item ``i`` is ``#{j: s_j > s_i}`` plus the number
    of unmasked non-relevant items with ``s_j == s_i``, plus its position
    among the relevant items tied with it, plus 1. Items that score below
    the ``max_k``-th largest score of their row get ``+inf``, because at
    least ``max_k`` items rank above them. Padding also gets ``+inf``.
    """
    n_rows, n_items = scores.shape
    width = relevant_items.shape[1]
    device = scores.device
    ranks = torch.full((n_rows, width), float("inf"), dtype=torch.float64, device=device)
    if width == 0 or n_rows == 0:
        return ranks

    columns = torch.arange(width, device=device)
    valid = columns[None, :] < n_relevant[:, None]
    relevant_scores = scores.gather(1, relevant_items).masked_fill(~valid, float("-inf"))
    # The sort is stable and padding sits at the end of each row, so a relevant
    # item that really scores -inf stays ahead of the padding.
    sorted_scores, order = torch.sort(relevant_scores, dim=1, descending=True, stable=True)

    n_greater_relevant, n_tied_relevant = _relevant_ties(sorted_scores, n_relevant)
    position_in_tie = columns[None, :] - n_greater_relevant

    # Relevant items scoring below the max_k-th largest score of their row
    # cannot reach the top max_k. The others form a prefix of each sorted row.
    threshold = scores.topk(min(max_k, n_items), dim=1).values[:, -1]
    candidates = valid & (sorted_scores >= threshold[:, None])
    n_candidates = candidates.sum(dim=1)

    sorted_ranks = torch.full_like(ranks, float("inf"))
    for column in range(int(n_candidates.max().item())):
        rows = torch.nonzero(n_candidates > column).squeeze(1)
        item_scores = sorted_scores[rows, column]
        n_at_or_above = _count_at_or_above(scores, rows, item_scores)
        # Masked items are -inf, so they tie only with a relevant item scored -inf.
        n_masked_tied = torch.where(item_scores == float("-inf"), n_masked[rows], 0)
        rank = (
            n_at_or_above
            - n_tied_relevant[rows, column]
            - n_masked_tied
            + position_in_tie[rows, column]
            + 1
        )
        sorted_ranks[rows, column] = rank.to(torch.float64)

    return ranks.scatter_(1, order, sorted_ranks)


def _relevant_ties(
    sorted_scores: torch.Tensor, n_relevant: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Count, for each relevant item, the relevant items scored higher and those tied with it.

    ``sorted_scores`` is sorted in descending order with padding (``-inf``)
    after the first ``n_relevant[u]`` columns. The tie count includes the
    item itself.
    """
    ascending = (-sorted_scores).contiguous()
    n_greater = torch.searchsorted(ascending, ascending, right=False)
    end_of_tie = torch.searchsorted(ascending, ascending, right=True)
    # Padding scores -inf and would otherwise join the tie group of a relevant
    # item scored -inf.
    end_of_tie = torch.minimum(end_of_tie, n_relevant[:, None])
    return n_greater, end_of_tie - n_greater


def _count_at_or_above(scores: torch.Tensor, rows: torch.Tensor, item_scores: torch.Tensor) -> torch.Tensor:
    """Count, per selected row, the items scoring at least that row's ``item_scores`` value."""
    n_rows = scores.shape[0]
    if rows.numel() * 2 > n_rows:
        # Comparing every row avoids copying most of the score matrix, and the
        # rows not selected are discarded.
        full_thresholds = torch.full((n_rows,), float("inf"), dtype=scores.dtype, device=scores.device)
        full_thresholds[rows] = item_scores
        return (scores >= full_thresholds[:, None]).sum(dim=1)[rows]
    return (scores.index_select(0, rows) >= item_scores[:, None]).sum(dim=1)


# ---------------------------------------------------------------------------
# Sparse inputs


def _binary_csr(matrix: sparse.spmatrix, name: str, n_items: int) -> sparse.csr_matrix:
    """Return a copy of ``matrix`` as CSR with one stored 1 per nonzero entry."""
    csr = sparse.csr_matrix(matrix, copy=True)
    if csr.shape[1] != n_items:
        raise ValueError(
            f"{name} has {csr.shape[1]} item columns but n_items is {n_items}; "
            f"build it with shape (n_users, n_items)."
        )
    csr.sum_duplicates()
    csr.eliminate_zeros()
    csr.data = np.ones_like(csr.data, dtype=np.int8)
    return csr


def _drop_masked_relevant(relevant: sparse.csr_matrix, exclude: sparse.csr_matrix) -> sparse.csr_matrix:
    """Remove relevant items that are also masked, because a masked item can never be ranked."""
    overlap = relevant.multiply(exclude).tocsr()
    overlap.eliminate_zeros()
    if overlap.nnz == 0:
        return relevant
    _logger.warning(
        "%d relevant (user, item) pairs are also masked (for example a test item the "
        "user also has in training); they are left out of the relevant items.",
        overlap.nnz,
    )
    remaining = (relevant - overlap).tocsr()
    remaining.eliminate_zeros()
    return remaining


def _select_users(users: np.ndarray | None, n_users: int) -> np.ndarray:
    if users is None:
        return np.arange(n_users, dtype=np.int64)
    selected = np.asarray(users)
    if selected.ndim != 1 or not np.issubdtype(selected.dtype, np.integer):
        raise ValueError(f"users must be a 1-D integer array, got dtype {selected.dtype} and shape {selected.shape}.")
    out_of_range = selected[(selected < 0) | (selected >= n_users)]
    if out_of_range.size:
        raise ValueError(
            f"users contains index {int(out_of_range[0])}, outside 0..{n_users - 1} "
            f"(the ground-truth matrix has {n_users} rows)."
        )
    return selected.astype(np.int64, copy=False)


def _padded_rows(matrix: sparse.csr_matrix, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Return each row's column indices left-aligned in ``[rows, max_len]``, and the row lengths."""
    lengths = np.diff(matrix.indptr)
    width = int(lengths.max()) if lengths.size else 0
    padded = np.zeros((matrix.shape[0], width), dtype=np.int64)
    row_of_entry = np.repeat(np.arange(matrix.shape[0]), lengths)
    column_of_entry = np.arange(matrix.nnz) - np.repeat(matrix.indptr[:-1], lengths)
    padded[row_of_entry, column_of_entry] = matrix.indices
    return torch.from_numpy(padded).to(device), torch.from_numpy(lengths.astype(np.int64)).to(device)


# ---------------------------------------------------------------------------
# Scores


def _checked_scores(scores: object, batch: np.ndarray, n_items: int) -> torch.Tensor:
    """Validate one batch of scores and return a copy the evaluator may mask in place."""
    if not isinstance(scores, torch.Tensor):
        raise TypeError(f"score_fn must return a torch.Tensor, got {type(scores).__name__}.")
    expected_shape = (len(batch), n_items)
    if tuple(scores.shape) != expected_shape:
        raise ValueError(
            f"score_fn returned scores of shape {tuple(scores.shape)}, expected {expected_shape} "
            f"(one row per requested user, one column per item)."
        )
    if not scores.is_floating_point():
        raise TypeError(f"score_fn must return floating-point scores, got dtype {scores.dtype}.")
    nan_entries = torch.isnan(scores)
    if bool(nan_entries.any()):
        row, item = (int(i) for i in torch.nonzero(nan_entries)[0])
        raise ValueError(
            f"score_fn returned NaN for user {int(batch[row])} at item {item} "
            f"({int(nan_entries.sum())} NaN scores in this batch); check the model for "
            f"diverged weights or invalid inputs."
        )
    # A copy, because score_fn may return a view of model state that masking
    # must not overwrite. The score_fn output is freed once the copy exists.
    return scores.detach().clone()


def _evaluate_batch(
    score_fn: ScoreFn,
    batch: np.ndarray,
    n_items: int,
    relevant: sparse.csr_matrix,
    exclude: sparse.csr_matrix,
    metrics: list[str],
    ks: list[int],
) -> dict[str, torch.Tensor]:
    with torch.no_grad():
        raw_scores = score_fn(torch.from_numpy(batch))
    scores = _checked_scores(raw_scores, batch, n_items)
    del raw_scores
    device = scores.device

    masked = exclude[batch]
    n_masked = torch.from_numpy(np.diff(masked.indptr).astype(np.int64)).to(device)
    masked_rows = torch.from_numpy(np.repeat(np.arange(len(batch)), np.diff(masked.indptr))).to(device)
    masked_items = torch.from_numpy(masked.indices.astype(np.int64)).to(device)
    scores[masked_rows, masked_items] = float("-inf")

    relevant_items, n_relevant = _padded_rows(relevant[batch], device)
    ranks = pessimistic_ranks(scores, relevant_items, n_relevant, n_masked, max(ks))
    return compute_metrics(ranks, n_relevant, metrics, ks)


def evaluate(
    score_fn: ScoreFn,
    *,
    n_items: int,
    ground_truth: sparse.spmatrix,
    exclude: sparse.spmatrix,
    ks: Sequence[int],
    metrics: Sequence[str],
    batch_size: int,
    users: np.ndarray | None = None,
) -> EvalResult:
    """Rank all items for each user and average the metrics over users with relevant items.

    ``score_fn(user_indices)`` receives a CPU ``LongTensor`` ``[b]`` and
    returns float scores ``[b, n_items]`` on any device. ``ground_truth``
    and ``exclude`` are ``(n_users, n_items)`` sparse matrices of relevant
    and masked items. A relevant item that is also masked is left out of
    the relevant items. Users without relevant items are skipped and
    counted in ``n_users_skipped``. NaN scores raise ValueError. When no
    user is evaluated, every metric is NaN.
    """
    started = time.perf_counter()
    ks = validate_ks(list(ks))
    metrics = list(metrics)
    for name in metrics:
        get_metric(name)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"eval.batch_size: {batch_size!r} is invalid; use an integer >= 1.")

    relevant = _binary_csr(ground_truth, "ground_truth", n_items)
    excluded = _binary_csr(exclude, "exclude", n_items)
    if relevant.shape != excluded.shape:
        raise ValueError(
            f"ground_truth has shape {relevant.shape} but exclude has shape {excluded.shape}; "
            f"both must be (n_users, n_items)."
        )
    relevant = _drop_masked_relevant(relevant, excluded)

    selected = _select_users(users, relevant.shape[0])
    has_relevant = np.diff(relevant.indptr)[selected] > 0
    evaluated = selected[has_relevant]

    per_user_batches: dict[str, list[np.ndarray]] = {}
    for start in range(0, len(evaluated), batch_size):
        batch = evaluated[start : start + batch_size]
        batch_metrics = _evaluate_batch(score_fn, batch, n_items, relevant, excluded, metrics, ks)
        for key, values in batch_metrics.items():
            per_user_batches.setdefault(key, []).append(values.cpu().numpy())

    per_user = {key: np.concatenate(chunks) for key, chunks in per_user_batches.items()}
    means = _mean_metrics(per_user, metrics, ks)
    result = EvalResult(
        metrics=means,
        n_users_evaluated=int(len(evaluated)),
        n_users_skipped=int(len(selected) - len(evaluated)),
        seconds=time.perf_counter() - started,
        per_user=per_user,
        evaluated_users=evaluated,
    )
    _logger.info(
        "Evaluated %d users (%d skipped without relevant items) in %.2f s.",
        result.n_users_evaluated,
        result.n_users_skipped,
        result.seconds,
    )
    return result


def _mean_metrics(per_user: dict[str, np.ndarray], metrics: list[str], ks: list[int]) -> dict[str, float]:
    if not per_user:
        _logger.warning("No user has relevant items; every metric is NaN.")
        return {f"{name}@{k}": float("nan") for name in metrics for k in ks}
    return {key: float(values.mean()) for key, values in per_user.items()}


# ---------------------------------------------------------------------------
# Splits


def interactions_to_csr(frame: pd.DataFrame, n_users: int, n_items: int, name: str = "interactions") -> sparse.csr_matrix:
    """Build a binary ``(n_users, n_items)`` CSR matrix from the ``user`` and ``item`` columns."""
    for column, size in (("user", n_users), ("item", n_items)):
        if column not in frame:
            raise DataError(f"{name}: column '{column}' is missing; columns are {list(frame.columns)}.")
        values = frame[column].to_numpy()
        bad = values[(values < 0) | (values >= size)] if len(values) else values
        if bad.size:
            raise DataError(
                f"{name}: column '{column}' contains index {bad[0]}, outside 0..{size - 1}; "
                f"map raw ids to indices with the dataset's IdMap first."
            )
    users = frame["user"].to_numpy(dtype=np.int64)
    items = frame["item"].to_numpy(dtype=np.int64)
    ones = np.ones(len(frame), dtype=np.int8)
    matrix = sparse.csr_matrix((ones, (users, items)), shape=(n_users, n_items))
    matrix.sum_duplicates()
    matrix.data[:] = 1
    return matrix


def evaluate_split(
    model_score_fn: ScoreFn,
    train: pd.DataFrame,
    valid: pd.DataFrame,
    test: pd.DataFrame,
    n_users: int,
    n_items: int,
    phase: str = "valid",
    mask_valid_in_test: bool = True,
    *,
    ks: Sequence[int] | None = None,
    metrics: Sequence[str] | None = None,
    batch_size: int | None = None,
    users: np.ndarray | None = None,
) -> EvalResult:
    """Evaluate one phase of a split.

    For ``phase="valid"`` the validation items are relevant and training
    items are masked. Test items stay in the ranking and count as misses.
    For ``phase="test"`` the test items are relevant and training items are
    masked, plus validation items when ``mask_valid_in_test`` is true.
    ``ks``, ``metrics`` and ``batch_size`` default to :class:`EvalConfig`.
    """
    defaults = EvalConfig()
    train_matrix = interactions_to_csr(train, n_users, n_items, "train")
    if phase == "valid":
        ground_truth = interactions_to_csr(valid, n_users, n_items, "valid")
        exclude = train_matrix
    elif phase == "test":
        ground_truth = interactions_to_csr(test, n_users, n_items, "test")
        exclude = train_matrix
        if mask_valid_in_test:
            exclude = train_matrix + interactions_to_csr(valid, n_users, n_items, "valid")
    else:
        raise ConfigError(f"evaluation phase '{phase}' is invalid; use 'valid' or 'test'.")

    return evaluate(
        model_score_fn,
        n_items=n_items,
        ground_truth=ground_truth,
        exclude=exclude,
        ks=defaults.ks if ks is None else ks,
        metrics=defaults.metrics if metrics is None else metrics,
        batch_size=defaults.batch_size if batch_size is None else batch_size,
        users=users,
    )


# ---------------------------------------------------------------------------
# Chance level


def random_ndcg_at_k(n_candidates: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """Compute the expected NDCG@k of a uniformly random ranking, per user.

    Each of the first ``min(k, n_candidates)`` positions contains a relevant
    item with probability ``n_relevant / n_candidates``, so by linearity the
    expected DCG is that probability times the sum of ``1 / log2(p + 1)``.
    The ideal DCG places ``min(n_relevant, k)`` relevant items first. Users
    with ``n_relevant == 0`` get NaN.
    """
    candidates = np.asarray(n_candidates, dtype=np.int64)
    relevant = np.asarray(n_relevant, dtype=np.int64)
    candidates, relevant = np.broadcast_arrays(candidates, relevant)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}.")
    invalid = (relevant < 0) | (relevant > candidates)
    if invalid.any():
        index = int(np.flatnonzero(invalid.ravel())[0])
        raise ValueError(
            f"n_relevant must lie in 0..n_candidates; entry {index} has n_relevant="
            f"{int(relevant.ravel()[index])} and n_candidates={int(candidates.ravel()[index])}."
        )

    cumulative = np.concatenate([[0.0], np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))])
    with np.errstate(divide="ignore", invalid="ignore"):
        probability = relevant / candidates
        expected_dcg = probability * cumulative[np.minimum(candidates, k)]
        ideal_dcg = cumulative[np.minimum(relevant, k)]
        return np.where(relevant > 0, expected_dcg / ideal_dcg, np.nan)
