"""Fixtures for the KG encoder: a tiny real cut of ml-100k with its Freebase triples, and build contexts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from avrec.data.atomic import load_atomic
from avrec.data.dataset import Dataset
from avrec.interfaces import BuildContext, Split
from avrec.testing import small_context

TINY_ITEMS = 12


def _rows(path: Path) -> tuple[str, list[list[str]]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return lines[0], [line.split("\t") for line in lines[1:] if line]


def _write(path: Path, header: str, rows: list[list[str]]) -> None:
    path.write_text("\n".join([header, *("\t".join(row) for row in rows)]) + "\n", encoding="utf-8")


@pytest.fixture(scope="session")
def ml100k_kg_tiny(ml100k_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ml-100k atomic files cut to items 1-12 (their ratings, links and every triple touching their entities).

    Item 12 keeps its ratings and genres but loses its link, so one item is
    unlinked. The cut contains several hundred real Freebase triples.
    """
    target = tmp_path_factory.mktemp("ml100k-kg-tiny")
    items = {str(i) for i in range(1, TINY_ITEMS + 1)}
    for suffix, keep in (("inter", lambda row: row[1] in items), ("item", lambda row: row[0] in items)):
        header, rows = _rows(ml100k_dir / f"ml-100k.{suffix}")
        _write(target / f"ml-100k.{suffix}", header, [row for row in rows if keep(row)])
    header, links = _rows(ml100k_dir / "ml-100k.link")
    links = [row for row in links if row[0] in items and row[0] != str(TINY_ITEMS)]
    _write(target / "ml-100k.link", header, links)
    entities = {row[1] for row in links}
    header, triples = _rows(ml100k_dir / "ml-100k.kg")
    _write(target / "ml-100k.kg", header, [row for row in triples if row[0] in entities or row[2] in entities])
    return target


@pytest.fixture(scope="session")
def tiny_dataset(ml100k_kg_tiny: Path) -> Dataset:
    return load_atomic(ml100k_kg_tiny, "ml-100k", require_rating=True)


ContextFactory = Callable[..., BuildContext]


@pytest.fixture
def make_context(tmp_path: Path) -> ContextFactory:
    """Build contexts over a dataset, sharing one cache directory per test."""

    def build(dataset: Dataset, dim: int = 8) -> BuildContext:
        split = Split(dataset.interactions, dataset.interactions.iloc[:0], dataset.interactions.iloc[:0])
        return small_context(tmp_path / "cache", dim=dim, dataset=dataset, split=split)

    return build
