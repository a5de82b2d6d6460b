"""The in-memory dataset model shared by every component.

Raw ids (strings or numbers) are mapped once to contiguous indices; the
mappings travel with every checkpoint so that a saved run can translate
indices back to the raw ids.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from avrec.errors import DataError

INTERACTION_COLUMNS = ("user", "item", "rating", "timestamp")


class IdMap:
    """Bidirectional mapping between raw ids (kept as strings) and indices 0..n-1."""

    def __init__(self, raw_ids: Iterable[object]) -> None:
        self._raw: list[str] = [str(raw) for raw in raw_ids]
        self._index: dict[str, int] = {raw: i for i, raw in enumerate(self._raw)}
        if len(self._index) != len(self._raw):
            raise DataError("IdMap received duplicate raw ids; each id must appear once.")

    @classmethod
    def from_values(cls, values: Iterable[object]) -> IdMap:
        """Build a map from raw ids in order of first appearance."""
        return cls(dict.fromkeys(str(v) for v in values))

    def __len__(self) -> int:
        return len(self._raw)

    def __contains__(self, raw: object) -> bool:
        return str(raw) in self._index

    def index(self, raw: object) -> int:
        try:
            return self._index[str(raw)]
        except KeyError:
            raise KeyError(str(raw)) from None

    def indices(self, raws: Iterable[object]) -> np.ndarray:
        return np.fromiter((self._index[str(r)] for r in raws), dtype=np.int64)

    def raw(self, index: int) -> str:
        return self._raw[int(index)]

    @property
    def raw_ids(self) -> list[str]:
        return list(self._raw)

    def to_json(self) -> list[str]:
        return list(self._raw)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IdMap) and self._raw == other._raw


@dataclass
class Dataset:
    """Interactions plus optional item, user, knowledge-graph and media side data.

    ``interactions`` has int64 columns ``user`` and ``item`` (indices into
    ``users``/``items``), float32 ``rating`` (NaN for implicit feedback) and
    float64 ``timestamp`` (NaN when absent). ``item_features`` is indexed by
    item index 0..n_items-1 with at least a ``title`` column (string, may be
    empty) and ``genres`` (list of strings); other columns are free text,
    tags or numbers. ``kg_triples`` has string columns ``head``, ``relation``,
    ``tail``; ``item_entities`` maps item index to a KG entity id.
    ``media`` maps item index to a file path (column ``path``; optional
    ``kind`` of "video" or "image").
    """

    name: str
    interactions: pd.DataFrame
    users: IdMap
    items: IdMap
    item_features: pd.DataFrame = field(default_factory=pd.DataFrame)
    user_features: pd.DataFrame | None = None
    kg_triples: pd.DataFrame | None = None
    item_entities: pd.Series | None = None
    media: pd.DataFrame | None = None
    source_files: dict[str, str] = field(default_factory=dict)

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    def item_titles(self) -> list[str]:
        if "title" not in self.item_features:
            return [self.items.raw(i) for i in range(self.n_items)]
        return self.item_features["title"].fillna("").astype(str).tolist()

    def save_id_maps(self, path: Path) -> None:
        payload = {"users": self.users.to_json(), "items": self.items.to_json()}
        path.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")


def empty_item_features(n_items: int) -> pd.DataFrame:
    """Item features with empty titles and genres, for datasets that carry none."""
    frame = pd.DataFrame({"title": [""] * n_items, "genres": [[] for _ in range(n_items)]})
    frame.index.name = "item"
    return frame
