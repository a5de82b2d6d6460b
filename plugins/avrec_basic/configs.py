"""Config dataclasses of the basic components (kept free of torch imports)."""

from __future__ import annotations

from dataclasses import dataclass, field

from avrec.data.config import check_choice, check_ratios
from avrec.errors import ConfigError

COLD_VALIDATION = ("cold", "warm")


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
    """Bayesian personalised ranking loss with uniformly sampled negatives.

    ``l2`` weighs the squared norm of the batch's user and item vectors,
    divided by the batch size.
    """

    negatives: int = 1
    l2: float = 0.005


@dataclass
class PopConfig:
    """Popularity counts over the training split."""


@dataclass
class BCEConfig:
    """Binary cross-entropy on clicks: each positive is paired with ``negatives`` uniformly sampled non-clicks."""

    negatives: int = 4
    l2: float = 0.0


@dataclass
class RatingConfig:
    """Squared error on explicit ratings with user, item and global biases.

    ``clip`` limits predictions to the training split's rating range when
    reporting rmse and mae. Ranking uses the unclipped predictions, because
    clipping would tie the top items.
    """

    l2: float = 0.0
    clip: bool = True


@dataclass
class ColdItemsSplitConfig:
    """Hold out a seeded share of items with all their interactions as the test split.

    ``cold_share`` is the fraction of items with at least one interaction that
    become cold. ``validate_on`` picks the validation split that early
    stopping and checkpoint selection read. With ``cold`` another
    ``cold_share`` of the items is held out the same way and its
    interactions form the validation split, ranked among those items only,
    so the model is selected for items it never trained on. Every other
    interaction is trained on and ``ratios`` is not used. With ``warm`` the
    interactions of the other items are cut per user, after a seeded
    shuffle, into train and validation by ``ratios`` (train, valid).
    """

    cold_share: float = 0.1
    # The preset conf/split/cold_items.yaml selects cold. The dataclass keeps
    # warm, so a run saved before the setting existed reloads with its own split.
    validate_on: str = "warm"
    ratios: list[float] = field(default_factory=lambda: [0.9, 0.1])

    def __post_init__(self) -> None:
        if not 0.0 < self.cold_share < 1.0:
            raise ConfigError(
                f"Invalid value for 'split.cold_share': {self.cold_share}. Use a fraction in (0, 1), e.g. 0.1."
            )
        check_choice("split.validate_on", self.validate_on, COLD_VALIDATION)
        check_ratios(self.ratios, 2)
