"""The ``cold_items`` metrics block: ranking among the cold items only, with the random-ranking level.

When a split lists cold items (items held out of training), each test user
ranks only the cold items: the candidate set is the cold items, and every
other item is left out of the ranking. ``random_ndcg@k`` is the expected
NDCG@k of a uniformly random ranking of the same candidates for the same
users, so a model at chance level scores about 1x that value.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch
from scipy import sparse

from avrec.evaluator import EvalResult, evaluate, interactions_to_csr, random_ndcg_at_k

if TYPE_CHECKING:
    from avrec.run import Experiment

_logger = logging.getLogger(__name__)

BLOCK = "cold_items"


def evaluate_among(
    score_fn: Callable[[torch.Tensor], torch.Tensor],
    *,
    candidates: np.ndarray,
    truth: pd.DataFrame,
    seen: Sequence[pd.DataFrame],
    n_users: int,
    n_items: int,
    ks: Sequence[int],
    metrics: Sequence[str],
    batch_size: int,
) -> tuple[EvalResult, sparse.csr_matrix, sparse.csr_matrix]:
    """Rank only ``candidates`` for every user with an interaction in ``truth``.

    ``score_fn`` returns scores ``[b, n_items]`` over the whole catalogue; its
    candidate columns are ranked. Items of the ``seen`` interactions are
    masked, and ``truth`` items that are not candidates are not relevant.
    Returns the result with the ground truth and mask restricted to the
    candidates.
    """
    columns = np.unique(np.asarray(candidates, dtype=np.int64))

    def candidate_scores(users: torch.Tensor) -> torch.Tensor:
        scores = score_fn(users)
        return scores[:, torch.from_numpy(columns).to(scores.device)]

    masked = sparse.csr_matrix((n_users, n_items), dtype=np.float32)
    for frame in seen:
        masked = masked + interactions_to_csr(frame, n_users, n_items, "seen")
    exclude = sparse.csr_matrix(masked[:, columns])
    ground_truth = interactions_to_csr(truth, n_users, n_items, "truth")[:, columns]
    result = evaluate(
        candidate_scores, n_items=len(columns), ground_truth=ground_truth, exclude=exclude,
        ks=ks, metrics=metrics, batch_size=batch_size,
    )
    return result, ground_truth, exclude


def evaluate_cold_items(
    score_fn: Callable[[torch.Tensor], torch.Tensor],
    *,
    cold_items: np.ndarray,
    train: pd.DataFrame,
    valid: pd.DataFrame,
    test: pd.DataFrame,
    n_users: int,
    n_items: int,
    ks: Sequence[int],
    metrics: Sequence[str],
    batch_size: int,
) -> dict[str, Any]:
    """Rank only ``cold_items`` for every test user and return the metrics with the random levels.

    The user's training and validation items are masked, and test items
    that are not cold are not relevant.
    """
    result, ground_truth, exclude = evaluate_among(
        score_fn, candidates=cold_items, truth=test, seen=[train, valid], n_users=n_users, n_items=n_items,
        ks=ks, metrics=metrics, batch_size=batch_size,
    )
    n_cold = len(np.unique(cold_items))
    block: dict[str, Any] = {key: float(value) for key, value in result.metrics.items()}
    block.update(_random_levels(result, ground_truth, exclude, n_cold, ks))
    block.update(n_cold_items=int(n_cold), n_users_evaluated=result.n_users_evaluated)
    return block


def _random_levels(
    result: EvalResult, ground_truth: sparse.csr_matrix, exclude: sparse.csr_matrix, n_cold: int, ks: Sequence[int]
) -> dict[str, float]:
    """Return ``random_ndcg@k`` averaged over the evaluated users, for each k in ``ks``."""
    users = result.evaluated_users
    if len(users) == 0:
        return {f"random_ndcg@{k}": float("nan") for k in ks}
    truth = ground_truth[users] > 0
    masked = exclude[users] > 0
    # The evaluator drops relevant items that are also masked, so they are not counted here either.
    n_relevant = truth.getnnz(axis=1) - truth.multiply(masked).getnnz(axis=1)
    n_candidates = n_cold - masked.getnnz(axis=1)
    return {f"random_ndcg@{k}": float(random_ndcg_at_k(n_candidates, n_relevant, k).mean()) for k in ks}


def cold_items_metrics(experiment: Experiment) -> dict[str, Any]:
    """Return ``{"cold_items": {...}}`` for a split with cold items, else an empty dict."""
    split = experiment.split
    if split.cold_items is None or len(split.cold_items) == 0:
        return {}
    model = experiment.model
    model.eval()
    with torch.no_grad():
        item_vectors = model.item_vectors()

    def score(users: torch.Tensor) -> torch.Tensor:
        return model.score_users(users.to(experiment.context.device), item_vectors).float()

    config = experiment.resolved.eval
    block = evaluate_cold_items(
        score, cold_items=split.cold_items, train=split.train, valid=split.valid, test=split.test,
        n_users=experiment.dataset.n_users, n_items=experiment.dataset.n_items,
        ks=config.ks, metrics=config.metrics, batch_size=config.batch_size,
    )
    _logger.info("Cold items: ndcg@10 %s, random_ndcg@10 %s.", block.get("ndcg@10"), block.get("random_ndcg@10"))
    return {BLOCK: block}
