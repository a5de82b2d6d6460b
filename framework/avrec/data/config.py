"""Config dataclasses of the built-in dataset sources and splits.

This module imports nothing heavy, so plugins can register these configs
without importing torch. Hydra presets live in ``conf/dataset`` and
``conf/split``; each adds ``name: <registered name>`` to these keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from avrec.errors import ConfigError, suggest

DUPLICATE_RULES = ("latest", "first", "mean", "keep", "error")
RATIO_PARTS = {2: "(train, valid)", 3: "(train, valid, test)"}
RATIO_EXAMPLES = {2: "[0.9, 0.1]", 3: "[0.8, 0.1, 0.1]"}


def check_ratios(ratios: Sequence[float], count: int, key: str = "split.ratios") -> list[float]:
    """Return ``ratios`` as floats when they are ``count`` non-negative numbers with a positive sum."""
    values = [float(value) for value in ratios]
    if len(values) != count or any(value < 0 for value in values) or sum(values) <= 0:
        raise ConfigError(
            f"Invalid value for '{key}': {list(ratios)}. Give {count} non-negative numbers "
            f"{RATIO_PARTS[count]} with a positive sum, e.g. {RATIO_EXAMPLES[count]}."
        )
    return values


def check_choice(key: str, value: str, choices: Sequence[str]) -> None:
    """Raise ConfigError naming ``key``, ``value`` and the valid choices when ``value`` is not one of them."""
    if value not in choices:
        raise ConfigError(
            f"Invalid value for '{key}': '{value}'.{suggest(value, choices)} Use one of: {', '.join(choices)}."
        )


@dataclass
class InteractionFilterConfig:
    """Cleaning steps applied to the interactions of every built-in source, in this order.

    ``duplicates`` decides what happens to repeated (user, item) rows:
    ``latest`` keeps the row with the largest timestamp, ``first`` the row with
    the smallest (file order breaks ties and replaces missing timestamps),
    ``mean`` keeps one row with the mean rating and the latest timestamp,
    ``keep`` keeps every row and ``error`` raises DataError. Then
    ``rating_threshold`` keeps rows with rating >= threshold (None keeps all,
    so every rating counts as positive feedback). ``max_users`` keeps the
    first N users in file order. Finally the k-core filter removes users and
    items with fewer interactions than the minimums until none is left (0 turns
    it off).
    """

    duplicates: str = "latest"
    rating_threshold: float | None = None
    max_users: int | None = None
    min_user_interactions: int = 0
    min_item_interactions: int = 0

    def __post_init__(self) -> None:
        # Checked here, so that a bad value fails before a run starts.
        check_choice("dataset.duplicates", self.duplicates, DUPLICATE_RULES)
        if self.max_users is not None and self.max_users < 1:
            raise ConfigError(f"Invalid value for 'dataset.max_users': {self.max_users}. Use a positive number or null.")
        for key in ("min_user_interactions", "min_item_interactions"):
            if getattr(self, key) < 0:
                raise ConfigError(f"Invalid value for 'dataset.{key}': {getattr(self, key)}. Use 0 or more.")


@dataclass
class MovieLens100kConfig(InteractionFilterConfig):
    """MovieLens-100k in RecBole's atomic files.

    ``data_dir`` is used when it contains all five ``ml-100k.*`` files.
    Otherwise the files come from the user cache, which is filled from the
    RecBole 1.2.1 wheel on PyPI when empty.
    """

    data_dir: str | None = None


@dataclass
class AtomicConfig(InteractionFilterConfig):
    """A dataset in RecBole's atomic file format: ``<path>/<dataset>.inter`` and companions.

    ``dataset`` defaults to the directory name. The ``*_field`` keys name the
    atomic fields (without their ``:type`` suffix) that carry user, item,
    rating and timestamp. ``title_with_year`` appends " (year)" to titles
    that lack it when the item file has a year column.
    """

    path: str | None = None
    dataset: str | None = None
    user_field: str = "user_id"
    item_field: str = "item_id"
    rating_field: str = "rating"
    time_field: str = "timestamp"
    title_with_year: bool = True


@dataclass
class GroupLensConfig(InteractionFilterConfig):
    """A MovieLens download as GroupLens ships it: ml-100k (``u.data``) or ml-latest (``ratings.csv``)."""

    path: str | None = None


@dataclass
class RandomOrderSplitConfig:
    """Shuffle, then cut each user's interactions by ``ratios`` (train, valid, test), as RecBole's RS split."""

    ratios: list[float] = field(default_factory=lambda: [0.8, 0.1, 0.1])
    group_by_user: bool = True

    def __post_init__(self) -> None:
        check_ratios(self.ratios, 3)


@dataclass
class TemporalSplitConfig:
    """Cut all interactions at two global timestamps so that train < valid < test in time."""

    ratios: list[float] = field(default_factory=lambda: [0.8, 0.1, 0.1])

    def __post_init__(self) -> None:
        check_ratios(self.ratios, 3)


@dataclass
class LeaveOneOutSplitConfig:
    """Per user: latest interaction to test, second latest to valid, the rest to train.

    Users with fewer than ``min_interactions`` interactions keep all of them
    in train.
    """

    min_interactions: int = 3
