"""split=fixed: a split read from TSV files of raw ids."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from avrec.data.dataset import Dataset, IdMap
from avrec.errors import ConfigError, DataError
from avrec.split_fixed import FixedSplitter
from avrec_lightgcn.configs import FixedSplitConfig


def _dataset() -> Dataset:
    # Raw user ids u1, u2; raw item ids 10, 20, 30. Ratings mark each row.
    frame = pd.DataFrame(
        {
            "user": np.array([0, 0, 0, 1, 1], dtype=np.int64),
            "item": np.array([0, 1, 2, 0, 2], dtype=np.int64),
            "rating": np.array([1, 2, 3, 4, 5], dtype=np.float32),
            "timestamp": np.arange(5, dtype=np.float64),
        }
    )
    return Dataset("toy", frame, IdMap(["u1", "u2"]), IdMap(["10", "20", "30"]))


def _write(directory: Path, train: list, valid: list, test: list) -> Path:
    for name, rows in (("train", train), ("valid", valid), ("test", test)):
        lines = ["user_id\titem_id"] + [f"{u}\t{i}" for u, i in rows]
        (directory / f"{name}.tsv").write_text("\n".join(lines) + "\n")
    return directory


def _split(directory: Path):
    return FixedSplitter(FixedSplitConfig(path=str(directory))).split(_dataset(), seed=0)


def test_rows_follow_files(tmp_path):
    split = _split(_write(tmp_path, [("u1", "10"), ("u2", "30"), ("u1", "20")], [("u2", "10")], [("u1", "30")]))
    assert split.train["rating"].tolist() == [1.0, 5.0, 2.0]
    assert split.valid["rating"].tolist() == [4.0]
    assert split.test["rating"].tolist() == [3.0]
    assert split.test["user"].tolist() == [0]
    assert split.test["item"].tolist() == [2]


def test_unknown_item_names_file_and_line(tmp_path):
    _write(tmp_path, [("u1", "10"), ("u1", "99")], [], [])
    with pytest.raises(DataError, match=r"train\.tsv, line 3: unknown item id '99'"):
        _split(tmp_path)


def test_pair_not_in_dataset_rejected(tmp_path):
    _write(tmp_path, [("u2", "20")], [], [])
    with pytest.raises(DataError, match=r"line 2: the pair \(u2, 20\)"):
        _split(tmp_path)


def test_overlapping_files_rejected(tmp_path):
    _write(tmp_path, [("u1", "10")], [("u1", "10")], [])
    with pytest.raises(DataError, match="disjoint"):
        _split(tmp_path)


def test_missing_file_reported(tmp_path):
    _write(tmp_path, [("u1", "10")], [], [])
    (tmp_path / "test.tsv").unlink()
    with pytest.raises(DataError, match="test.tsv"):
        _split(tmp_path)


def test_missing_path_rejected():
    with pytest.raises(ConfigError, match="split.path"):
        FixedSplitter(FixedSplitConfig()).split(_dataset(), seed=0)
