"""Fixtures for the data-layer tests: small atomic datasets written from rows."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

Rows = list[list[object]]


@pytest.fixture
def write_atomic(tmp_path: Path) -> Callable[..., Path]:
    """Return ``write(name="toy", inter=rows, item=rows, ...)`` that writes ``<tmp>/<name>/<name>.<suffix>``.

    Each file is given as rows (the first row is the header); cells are joined
    with tabs and rows with newlines, UTF-8. A plain string is written as it is.
    """

    def write(name: str = "toy", **files: Rows | str) -> Path:
        directory = tmp_path / name
        directory.mkdir(exist_ok=True)
        for suffix, content in files.items():
            if not isinstance(content, str):
                content = "".join("\t".join(str(cell) for cell in row) + "\n" for row in content)
            (directory / f"{name}.{suffix}").write_text(content, encoding="utf-8")
        return directory

    return write
