"""Loaders for MovieLens directories as GroupLens distributes them.

Two layouts are recognised:

- ml-100k: ``u.data`` (tab-separated user, item, rating, timestamp, no
  header), ``u.item`` (pipe-separated, Latin-1, 5 fields then 19 genre
  flags), optional ``u.user`` and ``u.genre``.
- ml-latest and ml-latest-small (also ml-20m, ml-25m, ml-32m): UTF-8 CSV
  files with a header, ``ratings.csv``, ``movies.csv`` with "Title (year)"
  and "A|B" genres, and optional ``tags.csv`` and ``links.csv``.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from avrec.data.assemble import ItemTable, build_dataset, year_values
from avrec.data.config import GroupLensConfig
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

ML100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
)
NO_GENRES = "(no genres listed)"
_YEAR_AT_END = re.compile(r"\((\d{4})[^()]*\)\s*$")


def load_grouplens(path: Path | str, config: GroupLensConfig | None = None) -> Dataset:
    """Detect the layout of a GroupLens MovieLens directory and load it."""
    directory = Path(path)
    config = config or GroupLensConfig()
    if (directory / "u.data").is_file():
        return _load_ml100k_raw(directory, config)
    if (directory / "ratings.csv").is_file():
        return _load_ml_latest(directory, config)
    raise DataError(
        f"No GroupLens MovieLens files found in {directory}: expected u.data (ml-100k) or ratings.csv "
        f"(ml-latest, ml-latest-small, ml-25m). Point dataset.path at the unzipped MovieLens directory."
    )


def read_delimited(
    path: Path, separator: str, field_count: int, encoding: str
) -> Iterator[tuple[int, list[str]]]:
    """Yield (line number, fields) of a file without header or quoting; blank lines are skipped."""
    with path.open(encoding=encoding, newline="") as stream:
        for number, row in enumerate(stream, start=1):
            row = row.rstrip("\r\n")
            if not row:
                continue
            values = row.split(separator)
            if len(values) != field_count:
                raise data_error(
                    path, number,
                    f"expected {field_count} fields separated by {separator!r}, found {len(values)}: {shorten(row)!r}. "
                    f"Fix the line or remove it.",
                )
            yield number, values


def read_csv_columns(path: Path, required: tuple[str, ...]) -> tuple[dict[str, list[str]], np.ndarray]:
    """Read a UTF-8 CSV file with a header into string columns and the line number of each record."""
    with path.open(encoding="utf-8-sig", newline="") as stream:
        reader = csv.reader(stream)
        header = [name.strip() for name in next(reader, [])]
        missing = [name for name in required if name not in header]
        if missing:
            raise data_error(
                path, 1,
                f"required column(s) {', '.join(missing)} missing from the header (found: {', '.join(header)}).",
            )
        columns: dict[str, list[str]] = {name: [] for name in header}
        lines: list[int] = []
        for values in reader:
            if not values:
                continue
            if len(values) != len(header):
                raise data_error(
                    path, reader.line_num,
                    f"expected {len(header)} comma-separated fields ({', '.join(header)}), found {len(values)}: "
                    f"{shorten(','.join(values))!r}. Quote fields that contain commas, or fix the line.",
                )
            for name, value in zip(header, values):
                columns[name].append(value)
            lines.append(reader.line_num)
    return columns, np.asarray(lines, dtype=np.int64)


def _year_from_title(title: str) -> str:
    match = _YEAR_AT_END.search(title)
    return match.group(1) if match else ""


# ml-100k raw layout ---------------------------------------------------------------------------


def _load_ml100k_raw(directory: Path, config: GroupLensConfig) -> Dataset:
    ratings_path = directory / "u.data"
    records = list(read_delimited(ratings_path, "\t", 4, "utf-8"))
    lines = np.asarray([number for number, _ in records], dtype=np.int64)
    columns = list(zip(*(values for _, values in records))) or [(), (), (), ()]
    frame = raw_interactions(
        columns[0], columns[1],
        parse_floats(columns[2], lines, ratings_path, "rating", required=True),
        parse_floats(columns[3], lines, ratings_path, "timestamp"),
        lines,
    )
    frame = clean_interactions(frame, config, ratings_path)
    items = _ml100k_items(directory)
    users = _ml100k_users(directory / "u.user")
    files = {name: str(directory / name) for name in ("u.data", "u.item", "u.user") if (directory / name).is_file()}
    return build_dataset(directory.name, frame, items, users, None, None, files)


def _ml100k_genre_names(directory: Path) -> tuple[str, ...]:
    path = directory / "u.genre"
    if not path.is_file():
        return ML100K_GENRES
    pairs = []
    for number, (name, position) in read_delimited(path, "|", 2, "latin-1"):
        if not position.strip().isdigit():
            raise data_error(path, number, f"genre position {position!r} is not a whole number.")
        pairs.append((int(position), name))
    return tuple(name for _, name in sorted(pairs))


def _ml100k_items(directory: Path) -> ItemTable | None:
    path = directory / "u.item"
    if not path.is_file():
        return None
    genre_names = _ml100k_genre_names(directory)
    field_count = 5 + len(genre_names)
    ids, lines, titles, dates, urls, genres = [], [], [], [], [], []
    for number, values in read_delimited(path, "|", field_count, "latin-1"):
        ids.append(values[0])
        lines.append(number)
        titles.append(values[1].strip())
        dates.append(values[2])
        urls.append(values[4])
        flags = values[5:]
        if any(flag not in ("0", "1") for flag in flags):
            raise data_error(path, number, f"genre flags must be 0 or 1, found {'|'.join(flags)!r}.")
        genres.append([name for name, flag in zip(genre_names, flags) if flag == "1"])
    check_unique_ids(ids, np.asarray(lines), path, "movie id")
    years = [_year_from_title(title) or date[-4:] for title, date in zip(titles, dates)]
    features = pd.DataFrame(
        {"title": titles, "genres": genres, "year": year_values(years), "release_date": dates, "imdb_url": urls},
        index=pd.Index(ids),
    )
    return ItemTable(ids, features)


def _ml100k_users(path: Path) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    records = list(read_delimited(path, "|", 5, "latin-1"))
    ids = [values[0] for _, values in records]
    check_unique_ids(ids, np.asarray([number for number, _ in records]), path, "user id")
    frame = pd.DataFrame(
        [values[1:] for _, values in records], columns=["age", "gender", "occupation", "zip_code"], index=pd.Index(ids)
    )
    frame["age"] = pd.to_numeric(frame["age"], errors="coerce").astype("Int64")
    return frame


# ml-latest layout -----------------------------------------------------------------------------


def _load_ml_latest(directory: Path, config: GroupLensConfig) -> Dataset:
    ratings_path = directory / "ratings.csv"
    columns, lines = read_csv_columns(ratings_path, ("userId", "movieId", "rating", "timestamp"))
    frame = raw_interactions(
        columns["userId"], columns["movieId"],
        parse_floats(columns["rating"], lines, ratings_path, "rating", required=True),
        parse_floats(columns["timestamp"], lines, ratings_path, "timestamp"),
        lines,
    )
    frame = clean_interactions(frame, config, ratings_path)
    items = _ml_latest_items(directory)
    files = {
        name: str(directory / name)
        for name in ("ratings.csv", "movies.csv", "tags.csv", "links.csv")
        if (directory / name).is_file()
    }
    return build_dataset(directory.name, frame, items, None, None, None, files)


def _ml_latest_items(directory: Path) -> ItemTable | None:
    path = directory / "movies.csv"
    if not path.is_file():
        return None
    columns, lines = read_csv_columns(path, ("movieId", "title", "genres"))
    ids = columns["movieId"]
    check_unique_ids(ids, lines, path, "movieId")
    titles = [title.strip() for title in columns["title"]]
    features = pd.DataFrame(
        {
            "title": titles,
            "genres": [_split_genres(value) for value in columns["genres"]],
            "year": year_values([_year_from_title(title) for title in titles]),
        },
        index=pd.Index(ids),
    )
    tags = _ml_latest_tags(directory / "tags.csv")
    if tags is not None:
        features["tags"] = [tags.get(item, []) for item in ids]
    links = _ml_latest_links(directory / "links.csv")
    if links is not None:
        features = features.join(links)
    return ItemTable(ids, features)


def _split_genres(value: str) -> list[str]:
    if value.strip() in ("", NO_GENRES):
        return []
    return [genre.strip() for genre in value.split("|") if genre.strip()]


def _ml_latest_tags(path: Path) -> dict[str, list[str]] | None:
    """Return each movie's distinct tags in order of first use."""
    if not path.is_file():
        return None
    columns, _ = read_csv_columns(path, ("movieId", "tag"))
    tags: dict[str, dict[str, None]] = {}
    for item, tag in zip(columns["movieId"], columns["tag"]):
        tag = tag.strip()
        if tag:
            tags.setdefault(item, {})[tag] = None
    return {item: list(values) for item, values in tags.items()}


def _ml_latest_links(path: Path) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    columns, _ = read_csv_columns(path, ("movieId", "imdbId", "tmdbId"))
    frame = pd.DataFrame({"imdb_id": columns["imdbId"], "tmdb_id": columns["tmdbId"]}, index=pd.Index(columns["movieId"]))
    return frame[~frame.index.duplicated(keep="first")]
