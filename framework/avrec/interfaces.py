"""Interfaces that plugins implement: dataset sources, splits, encoders, fusions, heads, policies.

Each implementation is constructed as ``Class(config, context)`` where
``config`` is an instance of the dataclass it was registered with. Dataset
sources and splitters take only ``config``.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch
from scipy import sparse
from torch import nn

from avrec.data.dataset import Dataset

if TYPE_CHECKING:
    from avrec.model import Recommender


@dataclass
class Split:
    """Train, validation and test interactions (same columns as ``Dataset.interactions``).

    ``cold_items`` lists item indices that were held out of training entirely.
    ``valid_cold_items``, when set, lists the items of the validation split,
    also held out of training; validation then ranks only those items.
    """

    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame
    cold_items: np.ndarray | None = None
    valid_cold_items: np.ndarray | None = None


class DatasetSource(abc.ABC):
    """Loads one dataset into the :class:`Dataset` model."""

    def __init__(self, config: Any) -> None:
        self.config = config

    @abc.abstractmethod
    def load(self) -> Dataset:
        """Read, validate and return the dataset; raise DataError naming file, line and value."""


class Splitter(abc.ABC):
    """Splits interactions into train, validation and test, deterministically per seed."""

    def __init__(self, config: Any) -> None:
        self.config = config

    @abc.abstractmethod
    def split(self, dataset: Dataset, seed: int) -> Split:
        """Return disjoint splits of ``dataset.interactions``."""


@dataclass
class BuildContext:
    """Data, split and settings handed to a model component when it is built."""

    dataset: Dataset
    split: Split
    train_matrix: sparse.csr_matrix
    dim: int
    cache_dir: Path
    device: torch.device
    seed: int
    run_dir: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ModalityOutput:
    """One modality's item embeddings ``[n, d]`` and a bool mask ``[n]`` of items that have it."""

    embeddings: torch.Tensor
    mask: torch.Tensor


class Encoder(nn.Module, abc.ABC):
    """Turns one item-side modality into embeddings plus a mask of items that have it."""

    def __init__(self, config: Any, context: BuildContext) -> None:
        super().__init__()
        self.config = config

    @property
    @abc.abstractmethod
    def output_dim(self) -> int:
        """Width ``d`` of the embeddings returned by :meth:`forward`."""

    @abc.abstractmethod
    def forward(self, items: torch.Tensor | None = None) -> ModalityOutput:
        """Return embeddings for ``items`` (indices), or for all items when None."""

    def user_embeddings(self, users: torch.Tensor) -> torch.Tensor | None:
        """Return user embeddings when the encoder also models users (graph encoders), else None."""
        return None

    def metrics(self) -> dict[str, Any]:
        """Extra figures for metrics.json (for example a KG sanity check)."""
        return {}


class Fusion(nn.Module, abc.ABC):
    """Combines modality outputs into one item vector of width ``output_dim``."""

    def __init__(self, config: Any, input_dims: dict[str, int], output_dim: int) -> None:
        super().__init__()
        self.config = config
        self.input_dims = dict(input_dims)
        self.output_dim = output_dim

    @abc.abstractmethod
    def forward(self, outputs: dict[str, ModalityOutput]) -> torch.Tensor:
        """Return fused item vectors ``[n, output_dim]``; masked modalities contribute nothing."""

    def metrics(self, model: Recommender) -> dict[str, Any]:
        """Extra figures for metrics.json (for example the mean gate weight per modality)."""
        return {}


class Head(nn.Module, abc.ABC):
    """Scores user-item pairs and owns the training loss.

    ``sampler`` names the training batches the head needs: ``"pairwise"``
    (user, pos, neg), ``"pointwise"`` (user, item, label), ``"rating"``
    (user, item, rating) or ``"none"`` for heads fitted without gradients.
    """

    sampler: str = "pairwise"

    def __init__(self, config: Any, context: BuildContext) -> None:
        super().__init__()
        self.config = config

    def score(self, user_vectors: torch.Tensor, item_vectors: torch.Tensor) -> torch.Tensor:
        """Return scores ``[b, n]`` of every user against every item (dot product by default)."""
        return user_vectors @ item_vectors.T

    def score_pairs(self, user_vectors: torch.Tensor, item_vectors: torch.Tensor) -> torch.Tensor:
        """Return scores ``[b]`` of aligned user and item rows."""
        return (user_vectors * item_vectors).sum(-1)

    def score_users(self, model: Recommender, users: torch.Tensor) -> torch.Tensor | None:
        """Return full score rows for ``users`` when the head bypasses the vectors (popularity)."""
        return None

    @abc.abstractmethod
    def loss(self, model: Recommender, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Return the scalar training loss of one batch."""

    def metrics(self, model: Recommender, split: Split) -> dict[str, Any]:
        """Extra test figures for metrics.json (for example rmse and mae)."""
        return {}


@dataclass
class Slate:
    """Items a policy chose for one user, with the probability of each choice where defined."""

    items: np.ndarray
    propensities: np.ndarray | None = None


class Policy(abc.ABC):
    """A contextual bandit that chooses slates from candidates and learns from rewards."""

    def __init__(self, config: Any, context: Any) -> None:
        self.config = config

    @abc.abstractmethod
    def select(self, user: int, candidates: np.ndarray, k: int) -> Slate:
        """Choose ``k`` items among ``candidates`` for ``user``."""

    def update(self, user: int, items: np.ndarray, rewards: np.ndarray) -> None:
        """Learn from the rewards of a slate; stateless policies ignore it."""

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore state saved by :meth:`state_dict`."""
