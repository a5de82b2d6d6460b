"""Training batches: positive pairs with uniformly sampled negatives.

Negatives are drawn uniformly from all items and redrawn while they fall
among the user's training positives, so a negative is never a known positive.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import torch
from scipy import sparse


class NegativeSampler:
    """Draws items that the user has not interacted with in training."""

    def __init__(self, train_matrix: sparse.csr_matrix, rng: np.random.Generator) -> None:
        self.n_items = train_matrix.shape[1]
        coo = train_matrix.tocoo()
        self._keys = np.unique(coo.row.astype(np.int64) * self.n_items + coo.col)
        self._full_users = np.flatnonzero(np.diff(train_matrix.indptr) >= self.n_items)
        self.rng = rng

    def sample(self, users: np.ndarray, n_per_user: int = 1) -> np.ndarray:
        users = np.repeat(users, n_per_user)
        if np.isin(users, self._full_users).any():
            raise ValueError("A user interacted with every item, so no negative item exists for them.")
        items = self.rng.integers(0, self.n_items, size=users.shape[0])
        bad = self._is_positive(users, items)
        while bad.any():
            items[bad] = self.rng.integers(0, self.n_items, size=int(bad.sum()))
            bad[bad] = self._is_positive(users[bad], items[bad])
        return items.reshape(-1, n_per_user) if n_per_user > 1 else items

    def _is_positive(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        keys = users.astype(np.int64) * self.n_items + items
        positions = np.searchsorted(self._keys, keys)
        positions = np.minimum(positions, len(self._keys) - 1)
        return self._keys[positions] == keys


def train_matrix(train: pd.DataFrame, n_users: int, n_items: int) -> sparse.csr_matrix:
    """Binary users x items matrix of training interactions."""
    data = np.ones(len(train), dtype=np.float32)
    matrix = sparse.csr_matrix((data, (train["user"].to_numpy(), train["item"].to_numpy())), shape=(n_users, n_items))
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


def iterate_batches(
    train: pd.DataFrame,
    sampler: NegativeSampler,
    kind: str,
    batch_size: int,
    rng: np.random.Generator,
    *,
    negatives: int = 1,
    device: torch.device | str = "cpu",
    order: np.ndarray | None = None,
) -> Iterator[dict[str, torch.Tensor]]:
    """Yield shuffled training batches of the form a head's ``sampler`` names.

    ``order`` lists the training rows to visit, in order (a shard of a
    permutation in distributed training); None visits a fresh permutation
    drawn from ``rng``.
    """
    users = train["user"].to_numpy()
    items = train["item"].to_numpy()
    ratings = train["rating"].to_numpy(dtype=np.float32)
    if order is None:
        order = rng.permutation(len(train))
    for start in range(0, len(order), batch_size):
        index = order[start : start + batch_size]
        batch = _make_batch(kind, users[index], items[index], ratings[index], sampler, negatives)
        yield {key: torch.from_numpy(value).to(device) for key, value in batch.items()}


def _make_batch(kind, users, items, ratings, sampler, negatives) -> dict[str, np.ndarray]:
    if kind == "pairwise":
        return {"user": users, "pos": items, "neg": sampler.sample(users, negatives)}
    if kind == "pointwise":
        neg = sampler.sample(users, negatives).reshape(-1)
        all_users = np.concatenate([users, np.repeat(users, negatives)])
        all_items = np.concatenate([items, neg])
        labels = np.concatenate([np.ones(len(items)), np.zeros(len(neg))]).astype(np.float32)
        return {"user": all_users, "item": all_items, "label": labels}
    if kind == "rating":
        return {"user": users, "item": items, "rating": ratings}
    raise ValueError(f"Unknown sampler kind '{kind}'; expected pairwise, pointwise or rating.")
