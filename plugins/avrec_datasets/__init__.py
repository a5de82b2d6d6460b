"""Built-in dataset sources (MovieLens-100k, RecBole atomic files, GroupLens layouts) and splits.

Targets are "module:Class" strings, so listing these components does not import
torch.
"""

from __future__ import annotations

from avrec.data.config import (
    AtomicConfig,
    GroupLensConfig,
    LeaveOneOutSplitConfig,
    MovieLens100kConfig,
    RandomOrderSplitConfig,
    TemporalSplitConfig,
)
from avrec.hookspecs import hookimpl
from avrec.registry import Registrar


@hookimpl
def avrec_register_datasets(registrar: Registrar) -> None:
    registrar.register(
        "ml-100k", "avrec_datasets.sources:MovieLens100kSource", config=MovieLens100kConfig,
        summary="MovieLens-100k (RecBole atomic files with KG links), fetched from the recbole wheel on PyPI.",
    )
    registrar.register(
        "atomic", "avrec_datasets.sources:AtomicSource", config=AtomicConfig,
        summary="A dataset in RecBole's atomic file format (<name>.inter, .item, .user, .kg, .link).",
    )
    registrar.register(
        "grouplens", "avrec_datasets.sources:GroupLensSource", config=GroupLensConfig,
        summary="A MovieLens directory as GroupLens ships it (u.data or ratings.csv layout).",
    )


@hookimpl
def avrec_register_splits(registrar: Registrar) -> None:
    registrar.register(
        "ro", "avrec.split:RandomOrderSplitter", config=RandomOrderSplitConfig,
        summary="Random order, per user 8:1:1 with RecBole's rounding (RecBole's default RS split).",
    )
    registrar.register(
        "temporal", "avrec.split:TemporalSplitter", config=TemporalSplitConfig,
        summary="Global time cut: train before valid before test; no timestamp spans two splits.",
    )
    registrar.register(
        "loo", "avrec.split:LeaveOneOutSplitter", config=LeaveOneOutSplitConfig,
        summary="Per-user leave-one-out by time: latest to test, second latest to valid.",
    )
