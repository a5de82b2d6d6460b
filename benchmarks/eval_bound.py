"""Full-ranking evaluation speed against a bare torch matmul plus top-k over the same vectors.

The bound scores every user against every item in batches (``u @ V.T``) and
takes ``torch.topk`` of each row, nothing else: no masking of training
items, no metrics. avrec's evaluator does the same scoring through the same
function, then masks training items, computes pessimistic ranks and
metrics. The ratio bound / avrec is the fraction of the bound's speed that
avrec reaches (1.0 is as fast as the bound).

    python benchmarks/eval_bound.py --threads 1

Sizes: ml-100k's shape (943 users x 1,682 items, 80,808 training and
9,596 test interactions as in RecBole's 8:1:1 split) and a synthetic
20,000 x 100,000 catalogue with 50 training and 5 test items per user.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import numpy as np
import torch
from scipy import sparse

from avrec.evaluator import evaluate

K = 20
METRICS = ["recall", "ndcg", "mrr", "hit", "precision"]
KS = [5, 10, 20]


def _interactions(rng: np.random.Generator, n_users: int, n_items: int, per_user: int) -> sparse.csr_matrix:
    rows = np.repeat(np.arange(n_users), per_user)
    columns = rng.integers(0, n_items, size=n_users * per_user)
    matrix = sparse.csr_matrix((np.ones(len(rows), dtype=np.int8), (rows, columns)), shape=(n_users, n_items))
    matrix.sum_duplicates()
    matrix.data[:] = 1
    return matrix


def bound_seconds(user_vectors: torch.Tensor, item_vectors: torch.Tensor, batch_size: int) -> float:
    start = time.perf_counter()
    with torch.no_grad():
        for first in range(0, user_vectors.shape[0], batch_size):
            scores = user_vectors[first : first + batch_size] @ item_vectors.T
            torch.topk(scores, K, dim=1)
    return time.perf_counter() - start


def avrec_seconds(
    user_vectors: torch.Tensor, item_vectors: torch.Tensor, train: sparse.csr_matrix,
    test: sparse.csr_matrix, batch_size: int,
) -> float:
    def score(users: torch.Tensor) -> torch.Tensor:
        return user_vectors[users] @ item_vectors.T

    start = time.perf_counter()
    evaluate(
        score, n_items=item_vectors.shape[0], ground_truth=test, exclude=train,
        ks=KS, metrics=METRICS, batch_size=batch_size,
    )
    return time.perf_counter() - start


def measure(name: str, n_users: int, n_items: int, train_per_user: int, test_per_user: int,
            dim: int, batch_size: int, repeats: int) -> dict:
    rng = np.random.default_rng(0)
    generator = torch.Generator().manual_seed(0)
    user_vectors = torch.randn(n_users, dim, generator=generator)
    item_vectors = torch.randn(n_items, dim, generator=generator)
    train = _interactions(rng, n_users, n_items, train_per_user)
    test = _interactions(rng, n_users, n_items, test_per_user)
    # Drop test pairs that also fall in training, as a real split has none.
    test = sparse.csr_matrix(test - test.multiply(train))
    test.eliminate_zeros()
    bound = [bound_seconds(user_vectors, item_vectors, batch_size) for _ in range(repeats)]
    ours = [avrec_seconds(user_vectors, item_vectors, train, test, batch_size) for _ in range(repeats)]
    return {
        "catalogue": name,
        "users": n_users,
        "items": n_items,
        "dim": dim,
        "batch_size": batch_size,
        "bound_seconds": statistics.median(bound),
        "avrec_seconds": statistics.median(ours),
        "ratio": statistics.median(bound) / statistics.median(ours),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads.")
    parser.add_argument("--repeats", type=int, default=3, help="Timed repetitions; the median is reported.")
    parser.add_argument("--batch-size", type=int, default=1024, help="Users per scoring batch (eval.batch_size).")
    parser.add_argument("--json", action="store_true", help="Print JSON instead of a Markdown table.")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    results = [
        # ml-100k under RecBole's 8:1:1 split: about 86 training and 10 test items per user.
        measure("ml-100k shape", 943, 1682, 86, 10, 64, args.batch_size, args.repeats),
        measure("synthetic", 20_000, 100_000, 50, 5, 64, args.batch_size, args.repeats),
    ]
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print("| catalogue | users x items | bound s (matmul + top-k) | avrec evaluator s | bound / avrec |")
    print("|---|---|---|---|---|")
    for row in results:
        print(
            f"| {row['catalogue']} | {row['users']:,} x {row['items']:,} | {row['bound_seconds']:.3f} "
            f"| {row['avrec_seconds']:.3f} | {row['ratio']:.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
