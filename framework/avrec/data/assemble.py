"""Turn cleaned raw tables into the Dataset model: id maps, indices and item feature columns."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from avrec.data.dataset import Dataset, IdMap

_logger = logging.getLogger(__name__)

_TITLE_YEAR = re.compile(r"\(\s*\d{4}\s*\)\s*$")


@dataclass
class ItemTable:
    """Item side data indexed by raw item id, in file order.

    ``features`` may hold ``title`` (str), ``genres`` (list[str]), ``year``
    (nullable Int64) and any other columns.
    """

    ids: list[str]
    features: pd.DataFrame
    add_year_to_title: bool = True


def year_values(values: Sequence[object]) -> pd.array:
    """Parse release years into a nullable Int64 array; anything but a whole number becomes NA."""
    numbers = pd.to_numeric(pd.Series(list(values), dtype=object), errors="coerce").astype("float64")
    whole = numbers.where(np.isfinite(numbers) & (numbers == np.round(numbers)))
    return pd.array(whole, dtype="Int64")


def title_with_year(title: str, year: object) -> str:
    """Return ``title`` with " (year)" appended unless the year is missing or the title ends with one."""
    if not title or pd.isna(year) or _TITLE_YEAR.search(title):
        return title
    return f"{title} ({int(year)})"


def build_dataset(
    name: str,
    interactions: pd.DataFrame,
    items: ItemTable | None,
    user_features: pd.DataFrame | None,
    kg: pd.DataFrame | None,
    links: pd.Series | None,
    source_files: dict[str, str],
) -> Dataset:
    """Map raw ids to indices and return the Dataset.

    Item indices follow the item table's file order, then items that occur
    only in the interactions. User indices follow first appearance.
    """
    catalogue = items.ids if items is not None else []
    item_map = IdMap.from_values([*catalogue, *interactions["item"]])
    user_map = IdMap.from_values(interactions["user"])
    frame = pd.DataFrame(
        {
            "user": user_map.indices(interactions["user"]),
            "item": item_map.indices(interactions["item"]),
            "rating": interactions["rating"].to_numpy(dtype=np.float32),
            "timestamp": interactions["timestamp"].to_numpy(dtype=np.float64),
        }
    )
    dataset = Dataset(
        name=name,
        interactions=frame,
        users=user_map,
        items=item_map,
        item_features=_item_features(item_map, items),
        user_features=_reindex(user_features, user_map, "user"),
        kg_triples=kg,
        item_entities=_item_entities(links, item_map),
        source_files=source_files,
    )
    _logger.info(
        "Dataset %s: %d users, %d items, %d interactions.", name, dataset.n_users, dataset.n_items, len(frame)
    )
    return dataset


def _item_features(item_map: IdMap, items: ItemTable | None) -> pd.DataFrame:
    source = items.features if items is not None else pd.DataFrame(index=pd.Index([], dtype=object))
    frame = source.reindex(item_map.raw_ids)
    frame.index = pd.RangeIndex(len(item_map), name="item")
    title = frame["title"] if "title" in frame else pd.Series([""] * len(frame), dtype=object)
    title = title.fillna("").astype(str)
    if "year" in frame:
        frame["year"] = frame["year"].astype("Int64")
        if items is not None and items.add_year_to_title:
            title = pd.Series([title_with_year(t, y) for t, y in zip(title, frame["year"])], dtype=str)
    else:
        frame["year"] = pd.array([pd.NA] * len(frame), dtype="Int64")
    frame["title"] = title.to_numpy()
    genres = frame["genres"] if "genres" in frame else pd.Series([None] * len(frame))
    frame["genres"] = [list(value) if isinstance(value, list) else [] for value in genres]
    ordered = ["title", "genres", "year"]
    return frame[ordered + [column for column in frame.columns if column not in ordered]]


def _reindex(features: pd.DataFrame | None, id_map: IdMap, index_name: str) -> pd.DataFrame | None:
    if features is None:
        return None
    dropped = len(set(features.index) - set(id_map.raw_ids))
    if dropped:
        _logger.info("%d %ss with side features but no interactions were dropped.", dropped, index_name)
    frame = features.reindex(id_map.raw_ids)
    frame.index = pd.RangeIndex(len(id_map), name=index_name)
    return frame


def _item_entities(links: pd.Series | None, item_map: IdMap) -> pd.Series | None:
    if links is None:
        return None
    present = links[[raw in item_map for raw in links.index]]
    if len(present) < len(links):
        _logger.info("%d item links point to items removed by filtering and were dropped.", len(links) - len(present))
    series = pd.Series(present.to_numpy(dtype=object), index=item_map.indices(present.index), dtype=object)
    series.index.name = "item"
    return series.sort_index()
