"""Small synthetic runs for the bandit tests: random user and item vectors with rewards linear in their product."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from avrec.simulation import Environment, PolicyContext, score_matrix_fn

N_USERS, N_ITEMS, DIM = 40, 120, 8


@pytest.fixture(scope="module")
def synthetic() -> tuple[PolicyContext, Environment]:
    """Hits are the pairs whose true affinity u . W v is in the top 15% of each user's items.

    The trained model's scores are plain u . v, so they are informative but
    not the truth; W is a fixed random reweighting the linear policies can learn.
    """
    rng = np.random.default_rng(0)
    users = rng.normal(size=(N_USERS, DIM))
    items = rng.normal(size=(N_ITEMS, DIM))
    weights = np.diag(rng.uniform(0.0, 2.0, size=DIM))
    affinity = users @ weights @ items.T
    hits = affinity >= np.quantile(affinity, 0.85, axis=1, keepdims=True)
    train_rows = [(u, i) for u in range(N_USERS) for i in rng.choice(N_ITEMS, size=10, replace=False)]
    train = pd.DataFrame(train_rows, columns=["user", "item"]).assign(rating=3.0, timestamp=0.0)
    held_users, held_items = np.nonzero(hits)
    heldout = pd.DataFrame({"user": held_users, "item": held_items, "rating": 5.0, "timestamp": 0.0})
    env = Environment(train, heldout, np.arange(N_USERS), N_ITEMS, threshold=4.0, exclude_shown=False)
    context = PolicyContext(users, items, score_matrix_fn(users @ items.T), seed=0)
    return context, env
