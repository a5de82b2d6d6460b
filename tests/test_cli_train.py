"""``avrec train`` output: where the run went, and an error printed once."""

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


@pytest.fixture
def tiny_atomic(tmp_path: Path) -> Path:
    """Six users who each rated the same ten items, as RecBole atomic files."""
    directory = tmp_path / "tiny"
    directory.mkdir()
    rows = [f"u{user}\ti{item}\t{1 + (user + item) % 5}\t{1000 + item}" for user in range(6) for item in range(10)]
    header = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
    (directory / "tiny.inter").write_text(header + "\n".join(rows) + "\n", encoding="utf-8")
    return directory


def test_train_names_run_directory(tiny_atomic: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = _avrec(
        "train", "experiment=bpr", "dataset=atomic", f"dataset.path={tiny_atomic}", "head=pop", "trainer.epochs=0",
        "trainer.tensorboard=false", f"hydra.run.dir={run_dir}", cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"Wrote the run directory {run_dir}" in result.stdout + result.stderr


def test_train_error_printed_once(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    missing = tmp_path / "missing"
    result = _avrec("train", "experiment=bpr", "dataset=atomic", f"dataset.path={missing}", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 2
    assert output.count(f"dataset.path {missing} is not a directory") == 1
    assert f"dataset.path {missing} is not a directory" in (run_dir / "train.log").read_text(encoding="utf-8")


def test_unavailable_cuda_device_is_config_error():
    import torch

    from avrec.errors import ConfigError
    from avrec.trainer import resolve_device

    index = torch.cuda.device_count()
    with pytest.raises(ConfigError) as excinfo:
        resolve_device(f"cuda:{index}")
    assert f"cuda:{index}" in str(excinfo.value)


@pytest.mark.parametrize(
    "override,message",
    [
        ("dataset.max_users=0", "'dataset.max_users': 0"),
        ("split.ratios=[0.8,0.2]", "'split.ratios': [0.8, 0.2]"),
        ("dataset.duplicates=newest", "'dataset.duplicates': 'newest'"),
    ],
)
def test_bad_data_setting_fails_before_the_run_starts(tmp_path: Path, override: str, message: str) -> None:
    run_dir = tmp_path / "run"
    result = _avrec("train", "experiment=bpr", override, f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert not run_dir.exists()
