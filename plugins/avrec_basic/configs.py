"""Config dataclasses of the basic components (kept free of torch imports)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class IdEncoderConfig:
    """Learned item embeddings; ``dim`` of 0 uses ``model.dim``."""

    dim: int = 0
    init_std: float = 0.0


@dataclass
class PassThroughConfig:
    """The single modality's embeddings become the item vectors."""


@dataclass
class BPRConfig:
    """Bayesian personalised ranking loss with uniformly sampled negatives."""

    negatives: int = 1
    l2: float = 0.0


@dataclass
class PopConfig:
    """Popularity counts over the training split."""
