"""Kill a real ``avrec train`` mid-epoch, resume it, and compare with an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from avrec.io import load_torch

STEP_CHECKPOINT_EVERY = 5


def _overrides(slice_dir: Path, cache_dir: Path) -> list[str]:
    return [
        "encoder=[lightgcn]", "head=bpr", "model.user_tower.id_embedding=false",
        f"dataset.data_dir={slice_dir}", f"cache_dir={cache_dir}",
        "trainer.epochs=3", "trainer.batch_size=256", "trainer.early_stopping_patience=0",
        "trainer.deterministic=true", "trainer.num_threads=1", "trainer.progress=false",
        "trainer.device=cpu", "trainer.lr_schedule=cosine",
        f"trainer.checkpoint_every={STEP_CHECKPOINT_EVERY}",
    ]


def _command(overrides: list[str], run_dir: Path) -> list[str]:
    return [sys.executable, "-m", "avrec", "train", "experiment=bpr", *overrides, f"hydra.run.dir={run_dir}"]


def _environment() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}


def _kill_after_first_checkpoint(command: list[str], checkpoint: Path, timeout: float = 300.0) -> None:
    process = subprocess.Popen(command, env=_environment(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    while not checkpoint.exists():
        if process.poll() is not None:
            raise AssertionError(f"avrec train exited with {process.returncode} before its first checkpoint: "
                                 f"{process.stderr.read().decode()[-2000:]}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"No checkpoint at {checkpoint} after {timeout} s.")
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()


def _run(command: list[str]) -> None:
    completed = subprocess.run(command, env=_environment(), capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]


def _without_times(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in record.items() if k not in ("seconds", "cpu_seconds")} for record in history]


@pytest.mark.slow
def test_killed_run_resumes_exactly(ml100k_slice, tmp_path):
    overrides = _overrides(ml100k_slice, tmp_path / "cache")
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    _run(_command(overrides, whole))
    _kill_after_first_checkpoint(_command(overrides, killed), killed / "checkpoints" / "last.pt")

    state = load_torch(killed / "checkpoints" / "last.pt")
    assert state["progress"]["epoch"] == 0
    assert state["progress"]["step_in_epoch"] >= STEP_CHECKPOINT_EVERY
    assert not (killed / "metrics.json").exists()

    _run([sys.executable, "-m", "avrec", "train", "experiment=bpr", *overrides, f"trainer.resume={killed}"])
    expected = json.loads((whole / "metrics.json").read_text())
    resumed = json.loads((killed / "metrics.json").read_text())
    assert resumed["test"] == expected["test"]
    assert resumed["valid"] == expected["valid"]
    assert resumed["epochs"] == expected["epochs"] == 3
    assert resumed["best_epoch"] == expected["best_epoch"]
    expected_history = _without_times(json.loads((whole / "history.json").read_text()))
    resumed_history = _without_times(json.loads((killed / "history.json").read_text()))
    assert resumed_history == expected_history
    assert list((killed / "tensorboard").iterdir())
