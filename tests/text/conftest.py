"""Fixtures for the text encoder: small real datasets and build contexts with a private cache."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

# Nothing in these tests may reach the Hugging Face hub; set before transformers is imported.
os.environ["HF_HUB_OFFLINE"] = "1"

import numpy as np
import pandas as pd
import pytest

from avrec.data.dataset import Dataset, IdMap
from avrec.interfaces import BuildContext, Split
from avrec.testing import small_context

ContextFactory = Callable[..., BuildContext]


def make_dataset(titles: Sequence[str], genres: Sequence[list[str]] | None = None) -> Dataset:
    """Return a dataset with one item per title and two users who rated the first items."""
    n_items = len(titles)
    genres = [[] for _ in titles] if genres is None else list(genres)
    features = pd.DataFrame({"title": list(titles), "genres": genres})
    features.index.name = "item"
    interactions = pd.DataFrame(
        {
            "user": np.array([0, 0, 1], dtype=np.int64),
            "item": np.array([0, 1 % n_items, 0], dtype=np.int64),
            "rating": np.ones(3, dtype=np.float32),
            "timestamp": np.zeros(3),
        }
    )
    return Dataset(
        name="titles",
        interactions=interactions,
        users=IdMap(["u1", "u2"]),
        items=IdMap([f"i{i}" for i in range(n_items)]),
        item_features=features,
    )


@pytest.fixture
def make_context(tmp_path: Path) -> ContextFactory:
    """Build contexts over given titles that share one cache directory per test."""

    def build(titles: Sequence[str], genres: Sequence[list[str]] | None = None, dim: int = 8) -> BuildContext:
        dataset = make_dataset(titles, genres)
        split = Split(dataset.interactions, dataset.interactions.iloc[:0], dataset.interactions.iloc[:0])
        return small_context(tmp_path / "cache", dim=dim, dataset=dataset, split=split)

    return build


@pytest.fixture(scope="session")
def ml100k_titles(ml100k_dir: Path) -> dict[str, str]:
    """Real ml-100k titles with their year, by raw item id, as the dataset presents them."""
    titles = {}
    for line in (ml100k_dir / "ml-100k.item").read_text(encoding="utf-8").splitlines()[1:]:
        item, title, year = line.split("\t")[:3]
        titles[item] = f"{title} ({year})" if year else title
    return titles
