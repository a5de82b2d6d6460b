"""End-to-end ``avrec train`` and ``avrec evaluate`` on a small real slice of ml-100k."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SLICE = ["experiment=bpr", "dataset=ml-100k", "dataset.max_users=120", "trainer.progress=false"]
CONTRACT_KEYS = {"test", "valid", "n_users_evaluated", "n_users_skipped", "wall_seconds", "epochs", "best_epoch"}


def _avrec(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "avrec", *args], cwd=cwd, capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


@pytest.fixture(scope="module")
def bpr_run(ml100k_dir, tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("bpr") / "run"
    result = _avrec("train", *SLICE, "trainer.epochs=3", f"hydra.run.dir={run_dir}", cwd=run_dir.parent)
    assert result.returncode == 0, result.stderr[-3000:]
    return run_dir


def test_run_dir_contract(bpr_run):
    assert (bpr_run / ".hydra" / "config.yaml").exists()
    assert (bpr_run / "checkpoints" / "best.pt").exists()
    assert (bpr_run / "checkpoints" / "best.pt.sha256").exists()
    assert any(bpr_run.glob("*.log"))


def test_metrics_json_contract(bpr_run):
    metrics = json.loads((bpr_run / "metrics.json").read_text())
    assert CONTRACT_KEYS <= set(metrics)
    for phase in ("test", "valid"):
        for name in ("recall", "ndcg", "mrr", "hit", "precision"):
            assert 0.0 <= metrics[phase][f"{name}@10"] <= 1.0
    assert metrics["n_users_evaluated"] + metrics["n_users_skipped"] == 120
    assert 1 <= metrics["best_epoch"] <= metrics["epochs"] == 3


def test_evaluate_reproduces_test_metrics(bpr_run):
    result = _avrec("evaluate", str(bpr_run), cwd=bpr_run)
    assert result.returncode == 0, result.stderr[-3000:]
    trained = json.loads((bpr_run / "metrics.json").read_text())
    evaluated = json.loads((bpr_run / "evaluation.json").read_text())
    assert evaluated["test"]["ndcg@10"] == pytest.approx(trained["test"]["ndcg@10"], abs=1e-9)


def test_bpr_beats_pop_on_slice(bpr_run, tmp_path):
    run_dir = tmp_path / "pop"
    result = _avrec("train", *SLICE, "head=pop", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    pop = json.loads((run_dir / "metrics.json").read_text())
    assert pop["epochs"] == 0
    assert pop["test"]["ndcg@10"] > 0.0


def test_multirun_writes_one_dir_per_job(ml100k_dir, tmp_path):
    sweep = tmp_path / "sweep"
    result = _avrec(
        "train", "-m", *SLICE, "trainer.epochs=1", "trainer.lr=0.01,0.001", f"hydra.sweep.dir={sweep}", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = sorted(sweep.glob("*/metrics.json"))
    assert len(metrics) == 2
    overrides = {(m.parent / ".hydra" / "overrides.yaml").read_text() for m in metrics}
    assert any("trainer.lr=0.01" in text for text in overrides)
    assert any("trainer.lr=0.001" in text for text in overrides)


def test_misspelled_override_exits_nonzero(tmp_path):
    result = _avrec("train", "trainer.epocs=3", cwd=tmp_path)
    assert result.returncode != 0
    assert "trainer.epocs" in result.stderr
    assert "epochs" in result.stderr


def test_unknown_head_exits_nonzero(tmp_path):
    result = _avrec("train", "head=bprr", cwd=tmp_path)
    assert result.returncode != 0
    assert "Did you mean 'bpr'?" in result.stderr


def test_non_finite_loss_names_epoch_and_step(ml100k_dir, tmp_path):
    run_dir = tmp_path / "nan"
    result = _avrec("train", *SLICE, "trainer.lr=1e30", "trainer.epochs=3", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert result.returncode != 0
    assert "epoch 1, step" in result.stderr
