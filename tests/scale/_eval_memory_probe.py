"""Evaluate a synthetic catalogue and print peak-RSS figures as JSON (run as a subprocess).

Usage: python _eval_memory_probe.py N_ITEMS N_USERS BATCH_SIZE DIM
"""

from __future__ import annotations

import json
import resource
import sys

import numpy as np
import torch
from scipy import sparse

from avrec.evaluator import evaluate


def _peak_rss_bytes() -> int:
    # Linux reports ru_maxrss in kilobytes.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _interactions(rng: np.random.Generator, n_users: int, n_items: int, per_user: int) -> sparse.csr_matrix:
    rows = np.repeat(np.arange(n_users), per_user)
    columns = rng.integers(0, n_items, size=n_users * per_user)
    return sparse.csr_matrix((np.ones(len(rows), dtype=np.int8), (rows, columns)), shape=(n_users, n_items))


def main() -> None:
    n_items, n_users, batch_size, dim = (int(value) for value in sys.argv[1:5])
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    generator = torch.Generator().manual_seed(0)
    item_vectors = torch.randn(n_items, dim, generator=generator)
    user_vectors = torch.randn(n_users, dim, generator=generator)
    train = _interactions(rng, n_users, n_items, 20)
    test = _interactions(rng, n_users, n_items, 5)

    def score(users: torch.Tensor) -> torch.Tensor:
        return user_vectors[users] @ item_vectors.T

    # Warm up torch's allocator and kernels on one small batch so that the baseline includes them.
    evaluate(score, n_items=n_items, ground_truth=test[:1], exclude=train[:1], ks=[10], metrics=["ndcg"], batch_size=1)
    baseline = _peak_rss_bytes()
    result = evaluate(
        score, n_items=n_items, ground_truth=test, exclude=train, ks=[10, 20], metrics=["recall", "ndcg"],
        batch_size=batch_size,
    )
    print(json.dumps({
        "baseline_bytes": baseline,
        "peak_bytes": _peak_rss_bytes(),
        "n_users_evaluated": result.n_users_evaluated,
        "ndcg@10": result.metrics["ndcg@10"],
    }))


if __name__ == "__main__":
    main()
