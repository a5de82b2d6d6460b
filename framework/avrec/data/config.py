"""Config dataclasses of the built-in dataset sources and splits.

This module imports nothing heavy, so plugins can register these configs
without importing torch. Hydra presets live in ``conf/dataset`` and
``conf/split``; each adds ``name: <registered name>`` to these keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DUPLICATE_RULES = ("latest", "first", "mean", "keep", "error")


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


@dataclass
class TemporalSplitConfig:
    """Cut all interactions at two global timestamps so that train < valid < test in time."""

    ratios: list[float] = field(default_factory=lambda: [0.8, 0.1, 0.1])


@dataclass
class LeaveOneOutSplitConfig:
    """Per user: latest interaction to test, second latest to valid, the rest to train.

    Users with fewer than ``min_interactions`` interactions keep all of them
    in train.
    """

    min_interactions: int = 3
