"""Top-k ranking metrics computed from the ranks of each user's relevant items.

Every metric takes three arguments and returns one float64 value per user.
``ranks`` ``[b, m]`` is the 1-based rank of each relevant item of ``b``
users, with ``+inf`` for padding and for items known to rank below the
largest cut-off. ``n_relevant`` ``[b]`` counts each user's relevant items,
and ``k`` is the cut-off. Relevance is binary. A user with
``n_relevant == 0`` gets NaN from recall and ndcg, because those metrics
are undefined for that user.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch

from avrec.errors import ConfigError, suggest

_logger = logging.getLogger(__name__)

MetricFn = Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]


def _hits(ranks: torch.Tensor, k: int) -> torch.Tensor:
    """Return the number of relevant items ranked within the top ``k``, per user."""
    return (ranks <= k).sum(dim=1).to(torch.float64)


def recall_at_k(ranks: torch.Tensor, n_relevant: torch.Tensor, k: int) -> torch.Tensor:
    """Compute hits in the top ``k`` divided by all relevant items (RecBole's convention).

    The denominator is ``n_relevant``, not ``min(n_relevant, k)``, so a user
    with more than ``k`` relevant items cannot reach 1.
    """
    return _hits(ranks, k) / n_relevant.to(torch.float64)


def precision_at_k(ranks: torch.Tensor, n_relevant: torch.Tensor, k: int) -> torch.Tensor:
    """Compute hits in the top ``k`` divided by ``k``, even when ``k`` exceeds the item count."""
    return _hits(ranks, k) / float(k)


def hit_at_k(ranks: torch.Tensor, n_relevant: torch.Tensor, k: int) -> torch.Tensor:
    """Compute 1.0 when at least one relevant item is in the top ``k``, else 0.0."""
    return (_hits(ranks, k) > 0).to(torch.float64)


def mrr_at_k(ranks: torch.Tensor, n_relevant: torch.Tensor, k: int) -> torch.Tensor:
    """Compute the reciprocal rank of the best-ranked relevant item, or 0 when it ranks below ``k``."""
    best = ranks.to(torch.float64).min(dim=1).values
    return torch.where(best <= k, 1.0 / best, torch.zeros_like(best))


def _discounts(k: int, device: torch.device) -> torch.Tensor:
    """Return ``1 / log2(p + 1)`` for positions ``p = 1..k``."""
    positions = torch.arange(1, k + 1, dtype=torch.float64, device=device)
    return 1.0 / torch.log2(positions + 1.0)


def ndcg_at_k(ranks: torch.Tensor, n_relevant: torch.Tensor, k: int) -> torch.Tensor:
    """Compute NDCG with binary gains, ``1 / log2(rank + 1)`` per hit.

    The ideal DCG places ``min(n_relevant, k)`` relevant items at the top.
    """
    ranks = ranks.to(torch.float64)
    in_top_k = ranks <= k
    # Ranks beyond k (including +inf) are replaced by 1 before the log so that
    # no inf or NaN enters the discarded branch of torch.where.
    safe_ranks = torch.where(in_top_k, ranks, torch.ones_like(ranks))
    gains = torch.where(in_top_k, 1.0 / torch.log2(safe_ranks + 1.0), torch.zeros_like(ranks))
    dcg = gains.sum(dim=1)

    ideal_cumulative = torch.cumsum(_discounts(k, ranks.device), dim=0)
    n_ideal = n_relevant.to(torch.long).clamp(min=0, max=k)
    idcg = torch.where(
        n_ideal > 0,
        ideal_cumulative[(n_ideal - 1).clamp(min=0)],
        torch.zeros_like(dcg),
    )
    return dcg / idcg


METRICS: dict[str, MetricFn] = {
    "recall": recall_at_k,
    "ndcg": ndcg_at_k,
    "mrr": mrr_at_k,
    "hit": hit_at_k,
    "precision": precision_at_k,
}


def get_metric(name: str) -> MetricFn:
    """Look up a metric function by its lower-case name; raise ConfigError for an unknown name."""
    try:
        return METRICS[name]
    except KeyError:
        raise ConfigError(
            f"eval.metrics: unknown metric '{name}'. Known metrics: "
            f"{', '.join(sorted(METRICS))}.{suggest(name, METRICS)}"
        ) from None


def validate_ks(ks: list[int]) -> list[int]:
    """Return ``ks`` as sorted unique ints; raise ConfigError unless every cut-off is a positive int."""
    for k in ks:
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ConfigError(f"eval.ks: cut-off {k!r} is invalid; every k must be an integer >= 1.")
    if not ks:
        raise ConfigError("eval.ks is empty; give at least one cut-off, for example [10].")
    return sorted(set(ks))


def compute_metrics(
    ranks: torch.Tensor,
    n_relevant: torch.Tensor,
    metrics: list[str],
    ks: list[int],
) -> dict[str, torch.Tensor]:
    """Compute every metric at every cut-off, keyed ``"name@k"``, as per-user float64 tensors."""
    functions = {name: get_metric(name) for name in metrics}
    results: dict[str, torch.Tensor] = {}
    for name, function in functions.items():
        for k in validate_ks(ks):
            results[f"{name}@{k}"] = function(ranks, n_relevant, k)
    return results

