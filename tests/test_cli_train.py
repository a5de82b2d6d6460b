"""``avrec train`` output: an error printed once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def _avrec(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "avrec", *args], cwd=cwd, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def test_train_error_printed_once(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    missing = tmp_path / "missing"
    result = _avrec("train", "dataset=atomic", f"dataset.path={missing}", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 2
    assert output.count(f"dataset.path {missing} is not a directory") == 1
    assert f"dataset.path {missing} is not a directory" in (run_dir / "train.log").read_text(encoding="utf-8")
