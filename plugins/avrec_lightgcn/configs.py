"""Config dataclass of the LightGCN encoder (kept free of torch imports)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class LightGCNConfig:
    """LightGCN propagation over the user-item training graph.

    ``layers`` is the number of propagation steps K; the output is the mean of
    the K + 1 layer embeddings. ``dim`` of 0 uses ``model.dim``; ``init_std`` of 0
    uses Xavier-normal initialisation, else a normal with that standard deviation.
    """

    layers: int = 2
    dim: int = 0
    init_std: float = 0.0


@dataclass
class FixedSplitConfig:
    """A split read from ``<path>/train.tsv``, ``valid.tsv`` and ``test.tsv``.

    Each file is tab-separated with a header naming ``user_field`` and
    ``item_field``; rows hold raw user and item ids as the dataset spells them.
    """

    path: str | None = None
    user_field: str = "user_id"
    item_field: str = "item_id"
