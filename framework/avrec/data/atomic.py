"""Loader for RecBole's atomic files: ``<name>.inter``, ``.item``, ``.user``, ``.kg`` and ``.link``.

Each file is UTF-8, tab-separated, with a header of ``field:type`` cells
where type is ``token``, ``token_seq`` (space-separated tokens), ``float``
or ``float_seq``. Fields are not quoted, so a tab or line break can never
occur inside a value.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd

from avrec.data.assemble import ItemTable, build_dataset, year_values
from avrec.data.config import AtomicConfig, InteractionFilterConfig
from avrec.data.dataset import Dataset
from avrec.data.validate import (
    check_unique_ids,
    clean_interactions,
    data_error,
    parse_floats,
    raw_interactions,
    shorten,
)
from avrec.errors import DataError

_logger = logging.getLogger(__name__)

FIELD_TYPES = ("token", "token_seq", "float", "float_seq")
SUFFIXES = ("inter", "item", "user", "kg", "link")
TITLE_FIELDS = ("title", "movie_title", "item_title", "item_name", "name")
GENRE_FIELDS = ("genres", "genre", "class", "categories", "category")
YEAR_FIELDS = ("year", "release_year")
KG_FIELDS = ("head_id", "relation_id", "tail_id")
ENTITY_FIELD = "entity_id"


@dataclass
class AtomicFile:
    """One parsed atomic file: declared field types, raw string columns and source lines."""

    path: Path
    types: dict[str, str]
    columns: dict[str, list[str]]
    lines: np.ndarray

    def __len__(self) -> int:
        return len(self.lines)

    def tokens(self, field: str) -> list[str]:
        return self.columns[field]

    def token_lists(self, field: str) -> list[list[str]]:
        return [value.split() for value in self.columns[field]]

    def floats(self, field: str, *, required: bool = False) -> np.ndarray:
        return parse_floats(self.columns[field], self.lines, self.path, field, required=required)

    def float_lists(self, field: str) -> list[list[float]]:
        result = []
        for value, line in zip(self.columns[field], self.lines):
            tokens = value.split()
            parsed = parse_floats(tokens, np.full(len(tokens), line), self.path, field)
            result.append(parsed.tolist())
        return result

    def typed(self, field: str) -> list | np.ndarray:
        """Return a column converted according to its declared type."""
        kind = self.types[field]
        if kind == "token":
            return self.tokens(field)
        if kind == "token_seq":
            return self.token_lists(field)
        if kind == "float":
            return self.floats(field)
        return self.float_lists(field)


def read_atomic_file(path: Path, required: tuple[str, ...] = ()) -> AtomicFile:
    """Parse an atomic file, raising DataError that names the file, line and value of the first problem."""
    text = _read_utf8(path)
    rows = text.split("\n")
    types = _parse_header(path, rows[0].rstrip("\r"))
    _check_required(path, types, required)
    names = list(types)
    columns: dict[str, list[str]] = {name: [] for name in names}
    lines: list[int] = []
    for number, row in enumerate(rows[1:], start=2):
        row = row.rstrip("\r")
        if not row:
            continue
        values = row.split("\t")
        if len(values) != len(names):
            raise data_error(
                path, number,
                f"expected {len(names)} tab-separated fields ({', '.join(names)}), found {len(values)}: "
                f"{shorten(row)!r}. Fix the line or remove it.",
            )
        for name, value in zip(names, values):
            columns[name].append(value)
        lines.append(number)
    return AtomicFile(path, types, columns, np.asarray(lines, dtype=np.int64))


def _read_utf8(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise data_error(
            path, line,
            f"bytes {data[error.start:error.end]!r} are not valid UTF-8. Atomic files must be UTF-8; "
            f"convert the file, for example with `iconv -f latin1 -t utf-8`.",
        ) from error


def _parse_header(path: Path, header: str) -> dict[str, str]:
    types: dict[str, str] = {}
    for cell in header.split("\t"):
        name, separator, kind = cell.strip().rpartition(":")
        if not separator or not name:
            raise data_error(path, 1, f"header cell {shorten(cell)!r} is not of the form 'field:type'.")
        if kind not in FIELD_TYPES:
            raise data_error(
                path, 1, f"header cell {shorten(cell)!r} has unknown type {kind!r}; valid types: {', '.join(FIELD_TYPES)}."
            )
        if name in types:
            raise data_error(path, 1, f"field {name!r} appears twice in the header.")
        types[name] = kind
    return types


def _check_required(path: Path, types: dict[str, str], required: tuple[str, ...]) -> None:
    missing = [name for name in required if name not in types]
    if missing:
        found = ", ".join(f"{name}:{kind}" for name, kind in types.items())
        raise data_error(
            path, 1,
            f"required column(s) {', '.join(missing)} missing from the header (found: {found}). "
            f"Add the column or set the matching dataset.*_field key.",
        )


def atomic_path(directory: Path, dataset: str, suffix: str) -> Path:
    return directory / f"{dataset}.{suffix}"


def load_atomic(
    directory: Path | str,
    dataset: str | None = None,
    config: AtomicConfig | None = None,
    *,
    require_rating: bool = False,
) -> Dataset:
    """Load ``<directory>/<dataset>.*`` atomic files into a Dataset.

    Only ``.inter`` is mandatory. ``require_rating`` makes the rating and
    timestamp columns mandatory (MovieLens); otherwise a missing rating
    column means implicit feedback (NaN ratings).
    """
    directory = Path(directory)
    config = config or AtomicConfig()
    name = dataset or directory.name
    inter_path = atomic_path(directory, name, "inter")
    if not inter_path.is_file():
        raise DataError(
            f"Atomic dataset '{name}' not found: {inter_path} does not exist. Put {name}.inter "
            f"(and optionally .item, .user, .kg, .link) into {directory}, or set dataset.path and dataset.dataset."
        )
    interactions, known_items = _read_interactions(inter_path, config, require_rating)
    items = _read_items(atomic_path(directory, name, "item"), config)
    users = _read_user_features(atomic_path(directory, name, "user"), config.user_field)
    kg = _read_kg(atomic_path(directory, name, "kg"))
    item_universe = known_items | (set(items.ids) if items is not None else set())
    links = _read_links(atomic_path(directory, name, "link"), config.item_field, item_universe, kg)
    source_files = {suffix: str(atomic_path(directory, name, suffix)) for suffix in SUFFIXES
                    if atomic_path(directory, name, suffix).is_file()}
    return build_dataset(name, interactions, items, users, kg, links, source_files)


def _read_interactions(
    path: Path, config: AtomicConfig, require_rating: bool
) -> tuple[pd.DataFrame, set[str]]:
    required = (config.user_field, config.item_field)
    if require_rating:
        required += (config.rating_field, config.time_field)
    table = read_atomic_file(path, required)
    ratings = None
    if config.rating_field in table.types:
        ratings = table.floats(config.rating_field, required=True)
    timestamps = table.floats(config.time_field) if config.time_field in table.types else None
    users = table.tokens(config.user_field)
    items = table.tokens(config.item_field)
    frame = raw_interactions(users, items, ratings, timestamps, table.lines)
    _logger.info("%s: read %d interactions.", path, len(frame))
    return clean_interactions(frame, _filter_config(config), path), set(items)


def _filter_config(config: InteractionFilterConfig) -> InteractionFilterConfig:
    names = [f.name for f in fields(InteractionFilterConfig)]
    return InteractionFilterConfig(**{name: getattr(config, name) for name in names})


def _read_items(path: Path, config: AtomicConfig) -> ItemTable | None:
    if not path.is_file():
        return None
    table = read_atomic_file(path, (config.item_field,))
    ids = table.tokens(config.item_field)
    check_unique_ids(ids, table.lines, path, config.item_field)
    title_field = _first_present(table, TITLE_FIELDS)
    genre_field = _first_present(table, GENRE_FIELDS)
    year_field = _first_present(table, YEAR_FIELDS)
    features: dict[str, object] = {}
    if title_field:
        features["title"] = [value.strip() for value in table.tokens(title_field)]
    if genre_field:
        features["genres"] = _genres(table, genre_field)
    if year_field:
        features["year"] = year_values(table.tokens(year_field))
    consumed = {config.item_field, title_field, genre_field, year_field}
    # The standard names come first in the candidate lists, so no remaining field can be called
    # title, genres or year.
    for name in table.types:
        if name not in consumed:
            features[name] = table.typed(name)
    return ItemTable(ids, pd.DataFrame(features, index=pd.Index(ids)), add_year_to_title=config.title_with_year)


def _first_present(table: AtomicFile, candidates: tuple[str, ...]) -> str | None:
    return next((name for name in candidates if name in table.types), None)


def _genres(table: AtomicFile, field: str) -> list[list[str]]:
    if table.types[field] == "token":
        return [[value] if value.strip() else [] for value in table.tokens(field)]
    return table.token_lists(field)


def _read_user_features(path: Path, user_field: str) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    table = read_atomic_file(path, (user_field,))
    ids = table.tokens(user_field)
    check_unique_ids(ids, table.lines, path, user_field)
    features = {name: table.typed(name) for name in table.types if name != user_field}
    return pd.DataFrame(features, index=pd.Index(ids))


def _read_kg(path: Path) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    table = read_atomic_file(path, KG_FIELDS)
    return pd.DataFrame(
        {
            "head": table.tokens("head_id"),
            "relation": table.tokens("relation_id"),
            "tail": table.tokens("tail_id"),
        }
    )


def _read_links(
    path: Path, item_field: str, known_items: set[str], kg: pd.DataFrame | None
) -> pd.Series | None:
    """Read item-to-entity links; unknown items raise, entities absent from the KG are counted."""
    if not path.is_file():
        return None
    table = read_atomic_file(path, (item_field, ENTITY_FIELD))
    items = table.tokens(item_field)
    entities = table.tokens(ENTITY_FIELD)
    for item, line in zip(items, table.lines):
        if item not in known_items:
            raise data_error(
                path, int(line),
                f"item {shorten(item)!r} is linked to an entity but appears in neither the .item nor "
                f"the .inter file. Remove the line or add the item.",
            )
    links = pd.Series(entities, index=pd.Index(items), dtype=object)
    repeated = links.index.duplicated(keep="first")
    if repeated.any():
        _logger.warning("%s: %d items are linked more than once; the first link of each is kept.", path, int(repeated.sum()))
        links = links[~repeated]
    _warn_unlinked_entities(path, links, kg)
    return links


def _warn_unlinked_entities(path: Path, links: pd.Series, kg: pd.DataFrame | None) -> None:
    if kg is None:
        _logger.warning("%s: %d item links but no .kg file; the links have no graph to point into.", path, len(links))
        return
    in_graph = set(kg["head"]).union(kg["tail"])
    absent = int((~links.isin(in_graph)).sum())
    if absent:
        _logger.warning(
            "%s: %d of %d linked entities do not occur in the .kg triples; those items get no KG features.",
            path, absent, len(links),
        )
