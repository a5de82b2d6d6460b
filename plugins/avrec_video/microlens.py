"""Loader for the MicroLens content-driven micro-video dataset in its published layout.

Files in ``data_dir`` (prefix ``MicroLens-100k`` for the 100k release):

- ``<prefix>_pairs.csv``: header ``user,item,timestamp``, one interaction per line.
- ``<prefix>_title_en.csv``: ``item,title`` without a header; a title may
  contain commas.
- ``<prefix>_comment_en.txt`` (optional): ``user<TAB>item<TAB>comment``.
- ``covers/<item>.jpg`` and ``videos/<item>.mp4`` (folder names configurable).

Every item in the title file or the pairs gets a media row for its cover and
one for its video whenever that folder exists. Rows are listed even for
absent files, so the video encoder can count and mask the missing ones.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from avrec.data.assemble import ItemTable, build_dataset
from avrec.data.dataset import Dataset
from avrec.data.grouplens import read_csv_columns
from avrec.data.validate import check_unique_ids, clean_interactions, data_error, parse_floats, raw_interactions, shorten
from avrec.errors import ConfigError, DataError
from avrec.interfaces import DatasetSource
from avrec_video.configs import MICROLENS_VARIANTS, MicroLensConfig

_logger = logging.getLogger(__name__)

# Header words that some copies of the title file carry on line 1.
_TITLE_HEADERS = {"item", "item_id", "video_id", "videoid"}


class MicroLensSource(DatasetSource):
    """Reads MicroLens pairs, English titles, optional comments and the media folders."""

    def __init__(self, config: MicroLensConfig) -> None:
        super().__init__(config)

    def load(self) -> Dataset:
        return load_microlens(self.config)


def file_prefix(variant: str) -> str:
    """Return the file prefix of a MicroLens release, for example ``MicroLens-100k``."""
    if variant not in MICROLENS_VARIANTS:
        raise ConfigError(
            f"Invalid dataset.variant {variant!r}. Valid values: {', '.join(MICROLENS_VARIANTS)}."
        )
    return f"MicroLens-{variant}"


def load_microlens(config: MicroLensConfig) -> Dataset:
    """Load the MicroLens files in ``config.data_dir`` into the Dataset model."""
    directory = _data_dir(config)
    prefix = file_prefix(config.variant)
    pairs_path = _required_file(directory, config.pairs_file.format(prefix=prefix), "pairs_file")
    titles_path = _required_file(directory, config.titles_file.format(prefix=prefix), "titles_file")
    interactions = clean_interactions(read_pairs(pairs_path), config, pairs_path)
    ids, titles = read_titles(titles_path)
    features = pd.DataFrame({"title": titles}, index=pd.Index(ids, dtype=object))
    files = {"pairs": str(pairs_path), "titles": str(titles_path)}
    comments_path = _optional_file(directory, config.comments_file, prefix)
    if comments_path is not None:
        features = _with_comments(features, read_comments(comments_path), config.max_comments_per_item)
        files["comments"] = str(comments_path)
    items = ItemTable(ids, features, add_year_to_title=False)
    dataset = build_dataset(prefix, interactions, items, None, None, None, files)
    dataset.media = media_rows(dataset.items.raw_ids, directory, config)
    return dataset


def _data_dir(config: MicroLensConfig) -> Path:
    if not config.data_dir:
        raise ConfigError("dataset.data_dir is not set. Add dataset.data_dir=/path/to/MicroLens-100k.")
    directory = Path(config.data_dir).expanduser()
    if not directory.is_dir():
        raise DataError(f"dataset.data_dir {directory} is not a directory. Point it at the unpacked MicroLens folder.")
    return directory


def _required_file(directory: Path, name: str, key: str) -> Path:
    path = directory / name
    if not path.is_file():
        raise DataError(
            f"MicroLens file not found: {path}. Check dataset.data_dir and dataset.variant, or set dataset.{key}."
        )
    return path


def _optional_file(directory: Path, template: str | None, prefix: str) -> Path | None:
    if not template:
        return None
    path = directory / template.format(prefix=prefix)
    if not path.is_file():
        _logger.info("No MicroLens comments file at %s; items get no comments column.", path)
        return None
    return path


def read_pairs(path: Path) -> pd.DataFrame:
    """Read ``user,item,timestamp`` rows into the raw interaction frame; raise DataError naming the line."""
    columns, lines = read_csv_columns(path, ("user", "item", "timestamp"))
    for field in ("user", "item"):
        empty = [position for position, value in enumerate(columns[field]) if not value.strip()]
        if empty:
            raise data_error(path, int(lines[empty[0]]), f"'{field}' is empty. Every pair needs a user and an item.")
    timestamps = parse_floats(columns["timestamp"], lines, path, "timestamp", required=True)
    users = [value.strip() for value in columns["user"]]
    items = [value.strip() for value in columns["item"]]
    return raw_interactions(users, items, None, timestamps, lines)


def read_titles(path: Path) -> tuple[list[str], list[str]]:
    """Read ``item,title`` rows (no header); commas after the first belong to the title."""
    ids, titles, lines = [], [], []
    with path.open(encoding="utf-8-sig", newline="") as stream:
        reader = csv.reader(stream)
        for values in reader:
            number = reader.line_num
            if not values or values == [""]:
                continue
            if number == 1 and values[0].strip().lower() in _TITLE_HEADERS:
                continue
            if len(values) < 2 or not values[0].strip():
                raise data_error(
                    path, number,
                    f"expected 'item,title', found {shorten(','.join(values))!r}. Fix the line or remove it.",
                )
            ids.append(values[0].strip())
            titles.append(",".join(values[1:]).strip())
            lines.append(number)
    check_unique_ids(ids, np.asarray(lines, dtype=np.int64), path, "item")
    return ids, titles


def read_comments(path: Path) -> pd.DataFrame:
    """Read ``user<TAB>item<TAB>comment`` lines into columns item and comment, in file order."""
    items, comments = [], []
    with path.open(encoding="utf-8", newline="") as stream:
        for number, row in enumerate(stream, start=1):
            row = row.rstrip("\r\n")
            if not row:
                continue
            values = row.split("\t", 2)
            if len(values) < 2 or not values[1].strip():
                raise data_error(
                    path, number,
                    f"expected 'user<TAB>item<TAB>comment', found {shorten(row)!r}. Fix the line or remove it.",
                )
            items.append(values[1].strip())
            comments.append(values[2].strip() if len(values) == 3 else "")
    return pd.DataFrame({"item": items, "comment": comments})


def _with_comments(features: pd.DataFrame, comments: pd.DataFrame, limit: int) -> pd.DataFrame:
    first_comments = comments[comments["comment"] != ""].groupby("item", sort=False).head(max(limit, 0))
    joined = first_comments.groupby("item", sort=False)["comment"].agg("\n".join)
    result = features.copy()
    result["comments"] = joined.reindex(result.index).fillna("").to_numpy()
    return result


def media_rows(raw_ids: list[str], directory: Path, config: MicroLensConfig) -> pd.DataFrame:
    """Return one row per item and media folder: columns path and kind, indexed by item."""
    rows = []
    for folder, extension, kind in (
        (config.cover_dir, config.cover_extension, "image"),
        (config.video_dir, config.video_extension, "video"),
    ):
        if not folder:
            continue
        path = Path(folder).expanduser()
        path = path if path.is_absolute() else directory / path
        if not path.is_dir():
            _logger.info("MicroLens %s folder %s does not exist; no %s files are listed.", kind, path, kind)
            continue
        rows.extend((index, str(path / f"{raw}{extension}"), kind) for index, raw in enumerate(raw_ids))
    frame = pd.DataFrame(rows, columns=["item", "path", "kind"])
    return frame.set_index("item")
