"""Reading and validation of knowledge-graph triples and item-to-entity links.

A user's own graph is two UTF-8 TSV files, each with a header line:

- triples: columns ``head``, ``relation``, ``tail``, one fact per line;
- links: columns ``item``, ``entity``, mapping an item id of the dataset to
  an entity label that occurs in the triples.

Labels are arbitrary non-empty strings without tabs or line breaks, kept
exactly as written apart from leading and trailing spaces. Empty lines are
skipped. The same checks apply to the ``.kg`` and ``.link`` files of an
atomic dataset, whose rows are traced back to their file lines for messages.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from avrec.data.validate import data_error, shorten
from avrec.errors import ConfigError, DataError

_logger = logging.getLogger(__name__)

TRIPLE_COLUMNS = ("head", "relation", "tail")
LINK_COLUMNS = ("item", "entity")
SELF_LOOP_RULES = ("drop", "keep")


@dataclass
class LabelTable:
    """Rows of string labels plus where each row came from, for messages that name a file and line.

    ``lines`` returns the 1-based file line of every row (header = line 1).
    It is called only when a message needs it, because tracing the rows of a
    dataset's file back to its lines means reading the file again.
    """

    frame: pd.DataFrame
    source: str
    lines: Callable[[], np.ndarray | None] = field(default=lambda: None)

    def where(self, row: int) -> str:
        """Return ``"<file>, line <n>"`` for positional ``row``, or ``"<source>, row <n>"`` without lines."""
        lines = self.lines()
        if lines is not None and len(lines) == len(self.frame):
            return f"{self.source}, line {int(lines[row])}"
        return f"{self.source}, row {row + 1}"


@dataclass
class TripleStats:
    """Counts from cleaning one triple table."""

    read: int = 0
    duplicates: int = 0
    self_loops: int = 0
    self_loops_dropped: int = 0


def read_label_tsv(path: Path | str, columns: tuple[str, ...]) -> LabelTable:
    """Read a TSV file whose header names exactly ``columns``, raising DataError at the first bad line."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"Knowledge-graph file not found: {path}. Check the path in the encoder.kg config.")
    rows = _read_text(path).split("\n")
    _check_header(path, rows[0].rstrip("\r"), columns)
    values: list[list[str]] = []
    lines: list[int] = []
    for number, row in enumerate(rows[1:], start=2):
        row = row.rstrip("\r")
        if not row.strip():
            continue
        cells = [cell.strip() for cell in row.split("\t")]
        if len(cells) != len(columns):
            raise data_error(
                path, number,
                f"expected {len(columns)} tab-separated fields ({', '.join(columns)}), found {len(cells)}: "
                f"{shorten(row)!r}. Fix the line or remove it.",
            )
        for name, cell in zip(columns, cells):
            if not cell:
                raise data_error(path, number, f"empty {name} in {shorten(row)!r}. Every field needs a label.")
        values.append(cells)
        lines.append(number)
    frame = pd.DataFrame(values, columns=list(columns), dtype=object)
    line_array = np.asarray(lines, dtype=np.int64)
    return LabelTable(frame, str(path), lambda: line_array)


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise data_error(
            path, line, f"bytes {data[error.start:error.end]!r} are not valid UTF-8. Save the file as UTF-8."
        ) from error


def _check_header(path: Path, header: str, columns: tuple[str, ...]) -> None:
    cells = [cell.strip() for cell in header.split("\t")]
    if cells != list(columns):
        raise data_error(
            path, 1,
            f"header {shorten(header)!r} must name the tab-separated columns {', '.join(columns)} in that order. "
            f"Add or fix the header line.",
        )


def clean_triples(table: LabelTable, self_loops: str) -> tuple[pd.DataFrame, TripleStats]:
    """Drop repeated triples and, when ``self_loops`` is ``drop``, triples whose head equals the tail.

    Repeats and self-loops are counted, and each kind is logged once as a
    warning that names the first such line and its value.
    """
    if self_loops not in SELF_LOOP_RULES:
        raise ConfigError(f"Invalid encoder.kg.self_loops {self_loops!r}. Valid values: {', '.join(SELF_LOOP_RULES)}.")
    frame = table.frame.reset_index(drop=True)
    stats = TripleStats(read=len(frame))
    repeated = frame.duplicated(list(TRIPLE_COLUMNS), keep="first").to_numpy()
    stats.duplicates = int(repeated.sum())
    if stats.duplicates:
        _warn_rows(table, repeated, f"{stats.duplicates} repeated triples were dropped; the first is")
    loops = (frame["head"] == frame["tail"]).to_numpy() & ~repeated
    stats.self_loops = int(loops.sum())
    if stats.self_loops and self_loops == "drop":
        stats.self_loops_dropped = stats.self_loops
        _warn_rows(table, loops, f"{stats.self_loops} self-loops (head = tail) were dropped (self_loops=drop); the first is")
    elif stats.self_loops:
        _warn_rows(table, loops, f"{stats.self_loops} self-loops (head = tail) were kept (self_loops=keep); the first is")
    keep = ~repeated
    if self_loops == "drop":
        keep &= ~loops
    return frame[keep].reset_index(drop=True), stats


def _warn_rows(table: LabelTable, flags: np.ndarray, message: str) -> None:
    row = int(np.flatnonzero(flags)[0])
    value = "\t".join(str(v) for v in table.frame.iloc[row])
    _logger.warning("%s: %s %r at %s.", table.source, message, shorten(value), table.where(row))


def link_items(
    table: LabelTable,
    item_ids: dict[str, int],
    entities: set[str],
    *,
    unknown_items: str = "error",
) -> dict[int, str]:
    """Map item indices to entity labels from a link table with columns ``item`` and ``entity``.

    ``item_ids`` maps raw item ids to indices. A link to an item the dataset
    lacks raises DataError when ``unknown_items`` is ``error``; with
    ``warn`` such links are counted and skipped instead. Links to entities that occur
    in no triple are counted, logged and skipped, so those items stay
    unlinked. An item linked twice keeps its first link, and the repeats are
    counted.
    """
    frame = table.frame.reset_index(drop=True)
    known = frame["item"].map(item_ids)
    missing_item = known.isna().to_numpy()
    if missing_item.any():
        row = int(np.flatnonzero(missing_item)[0])
        message = (
            f"{int(missing_item.sum())} links name items that are not in the dataset, the first is "
            f"{shorten(str(frame['item'].iloc[row]))!r}"
        )
        if unknown_items == "error":
            raise DataError(f"{table.where(row)}: {message}. Use the dataset's item ids, or remove the line.")
        _logger.warning("%s at %s; those links were skipped.", message, table.where(row))
    missing_entity = ~frame["entity"].isin(entities).to_numpy() & ~missing_item
    if missing_entity.any():
        row = int(np.flatnonzero(missing_entity)[0])
        _logger.warning(
            "%s: %d links name entities that occur in no triple, the first is %r at %s; those items stay unlinked.",
            table.source, int(missing_entity.sum()), shorten(str(frame["entity"].iloc[row])), table.where(row),
        )
    usable = ~missing_item & ~missing_entity
    indices = known[usable].astype(np.int64).to_numpy()
    repeated = pd.Series(indices).duplicated(keep="first").to_numpy()
    if repeated.any():
        rows = np.flatnonzero(usable)
        _logger.warning(
            "%s: %d items are linked more than once; the first link of each is kept. The first repeat is at %s.",
            table.source, int(repeated.sum()), table.where(int(rows[np.flatnonzero(repeated)[0]])),
        )
    entity_labels = frame["entity"][usable].to_numpy()
    return {int(i): str(e) for i, e, r in zip(indices, entity_labels, repeated) if not r}


def require_triples(frame: pd.DataFrame, sources: list[str]) -> None:
    """Raise DataError when no triple is left to train on, naming every source that was read."""
    if len(frame):
        return
    named = ", ".join(sources) if sources else "no source"
    raise DataError(
        f"The knowledge graph is empty: {named} yielded no triples after validation. Add triples, "
        f"or turn on attribute triples (encoder.kg.genre_triples, encoder.kg.decade_triples)."
    )
