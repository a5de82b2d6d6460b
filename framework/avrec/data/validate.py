"""Checks and cleaning steps shared by the dataset loaders.

Loaders build a raw interaction frame with string columns ``user`` and
``item``, float64 ``rating`` and ``timestamp`` and int64 ``line`` (the
1-based line of the row in its file, header = line 1), so that every error
can name the file, the line and the value.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from avrec.data.config import DUPLICATE_RULES, InteractionFilterConfig, check_choice
from avrec.errors import ConfigError, DataError

_logger = logging.getLogger(__name__)

PAIR = ["user", "item"]
_MAX_VALUE_CHARS = 120
_NAN_WORDS = ("nan", "na", "null", "none")


def shorten(value: str) -> str:
    """Return ``value`` cut to a length that fits in an error message."""
    if len(value) <= _MAX_VALUE_CHARS:
        return value
    return value[:_MAX_VALUE_CHARS] + "..."


def data_error(path: Path | str, line: int | None, message: str) -> DataError:
    """Build a DataError whose message starts with ``<path>, line <n>:``."""
    where = f"{path}, line {line}" if line is not None else f"{path}"
    return DataError(f"{where}: {message}")


def parse_floats(
    values: Sequence[str],
    lines: np.ndarray,
    path: Path,
    field: str,
    *,
    required: bool = False,
) -> np.ndarray:
    """Parse strings into float64, raising DataError on the first invalid value.

    An empty string becomes NaN unless ``required``, in which case empty,
    NaN and infinite values are invalid too.
    """
    raw = pd.Series(list(values), dtype=object)
    parsed = pd.to_numeric(raw, errors="coerce").astype("float64").to_numpy()
    stripped = raw.str.strip()
    if required:
        invalid = ~np.isfinite(parsed)
    else:
        # An empty field or an explicit "nan" marks a missing value in an optional column.
        missing = (stripped == "") | stripped.str.lower().isin(_NAN_WORDS)
        invalid = np.isnan(parsed) & ~missing.to_numpy()
    if invalid.any():
        position = int(np.argmax(invalid))
        value = str(raw.iloc[position])
        raise data_error(path, int(lines[position]), _float_problem(field, value) + " Fix or remove the line.")
    return parsed


def _float_problem(field: str, value: str) -> str:
    if value.strip() == "":
        return f"'{field}' is empty, but every row needs a number."
    if value.strip().lower() in {"nan", "inf", "-inf", "+inf", "infinity", "-infinity"}:
        return f"'{field}' is {value.strip()!r}, but it must be a finite number."
    return f"'{field}' value {shorten(value)!r} is not a number."


def raw_interactions(
    users: Sequence[str],
    items: Sequence[str],
    ratings: np.ndarray | None,
    timestamps: np.ndarray | None,
    lines: np.ndarray,
) -> pd.DataFrame:
    """Assemble the raw interaction frame that the cleaning steps below expect."""
    count = len(lines)
    nan = np.full(count, np.nan)
    return pd.DataFrame(
        {
            "user": pd.array(list(users), dtype=object),
            "item": pd.array(list(items), dtype=object),
            "rating": nan if ratings is None else np.asarray(ratings, dtype="float64"),
            "timestamp": nan if timestamps is None else np.asarray(timestamps, dtype="float64"),
            "line": np.asarray(lines, dtype="int64"),
        }
    )


def resolve_duplicates(frame: pd.DataFrame, rule: str, path: Path) -> pd.DataFrame:
    """Apply the duplicate rule (see InteractionFilterConfig) to repeated (user, item) rows."""
    check_choice("dataset.duplicates", rule, DUPLICATE_RULES)
    repeated = frame.duplicated(PAIR, keep=False)
    if rule == "keep" or not repeated.any():
        return frame
    if rule == "error":
        raise _duplicate_error(frame[repeated], path)
    if rule == "mean":
        result = _mean_of_duplicates(frame)
    else:
        by_time = frame.sort_values(["timestamp", "line"], na_position="first", kind="stable")
        keep = "last" if rule == "latest" else "first"
        result = by_time.drop_duplicates(PAIR, keep=keep).sort_values("line", kind="stable")
    _logger.warning(
        "%s: %d duplicate (user, item) rows removed by rule duplicates=%s (%d pairs were repeated).",
        path, len(frame) - len(result), rule, frame[repeated].drop_duplicates(PAIR).shape[0],
    )
    return result.reset_index(drop=True)


def _duplicate_error(repeated: pd.DataFrame, path: Path) -> DataError:
    first = repeated.iloc[0]
    same = repeated[(repeated["user"] == first["user"]) & (repeated["item"] == first["item"])]
    lines = ", ".join(str(line) for line in same["line"].tolist())
    return data_error(
        path,
        int(same["line"].iloc[1]),
        f"user {first['user']!r} and item {first['item']!r} appear more than once (lines {lines}). "
        f"Remove the repeated rows or choose a rule with dataset.duplicates=latest|first|mean|keep.",
    )


def _mean_of_duplicates(frame: pd.DataFrame) -> pd.DataFrame:
    grouped = frame.groupby(PAIR, sort=False, as_index=False)
    result = grouped.agg(rating=("rating", "mean"), timestamp=("timestamp", "max"), line=("line", "min"))
    return result.sort_values("line", kind="stable")


def apply_rating_threshold(frame: pd.DataFrame, threshold: float | None, path: Path) -> pd.DataFrame:
    """Keep rows with rating >= ``threshold``; None keeps every row."""
    if threshold is None:
        return frame
    if frame["rating"].isna().all():
        raise ConfigError(
            f"dataset.rating_threshold={threshold} needs ratings, but {path} has none. "
            f"Remove rating_threshold for implicit feedback."
        )
    kept = frame[frame["rating"] >= threshold]
    _logger.info("%s: rating_threshold=%s kept %d of %d interactions.", path, threshold, len(kept), len(frame))
    return kept.reset_index(drop=True)


def limit_users(frame: pd.DataFrame, max_users: int | None) -> pd.DataFrame:
    """Keep the interactions of the first ``max_users`` users in file order."""
    if max_users is None:
        return frame
    if max_users < 1:
        raise ConfigError(f"Invalid value for 'dataset.max_users': {max_users}. Use a positive number or null.")
    first_users = pd.unique(frame["user"])[:max_users]
    return frame[frame["user"].isin(first_users)].reset_index(drop=True)


def k_core(frame: pd.DataFrame, min_user: int, min_item: int) -> pd.DataFrame:
    """Drop users and items below the minimum interaction counts, repeating until none is left."""
    if min_user <= 0 and min_item <= 0:
        return frame
    before = len(frame)
    while True:
        user_counts = frame["user"].map(frame["user"].value_counts())
        item_counts = frame["item"].map(frame["item"].value_counts())
        keep = (user_counts >= min_user) & (item_counts >= min_item)
        if keep.all():
            break
        frame = frame[keep]
    _logger.info(
        "k-core filter (users >= %d, items >= %d) kept %d of %d interactions.",
        min_user, min_item, len(frame), before,
    )
    return frame.reset_index(drop=True)


def clean_interactions(frame: pd.DataFrame, config: InteractionFilterConfig, path: Path) -> pd.DataFrame:
    """Apply duplicates, rating_threshold, max_users and the k-core filter, in this order."""
    frame = resolve_duplicates(frame, config.duplicates, path)
    frame = apply_rating_threshold(frame, config.rating_threshold, path)
    frame = limit_users(frame, config.max_users)
    frame = k_core(frame, config.min_user_interactions, config.min_item_interactions)
    if frame.empty:
        raise DataError(
            f"{path}: no interactions are left after cleaning (duplicates={config.duplicates}, "
            f"rating_threshold={config.rating_threshold}, max_users={config.max_users}, "
            f"min_user_interactions={config.min_user_interactions}, "
            f"min_item_interactions={config.min_item_interactions}). Relax these settings."
        )
    return frame


def check_unique_ids(ids: Sequence[str], lines: np.ndarray, path: Path, field: str) -> None:
    """Raise DataError on the first id that appears twice in a file that must list each id once."""
    seen: dict[str, int] = {}
    for raw, line in zip(ids, lines):
        if raw in seen:
            raise data_error(
                path, int(line),
                f"{field} {shorten(raw)!r} appears again (first on line {seen[raw]}). Each {field} must appear once.",
            )
        seen[raw] = int(line)
