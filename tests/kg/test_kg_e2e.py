"""End-to-end `avrec train` with the KG encoder on a tiny real cut of ml-100k, run twice on one cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

FAST_KG = ["encoder.kg.embedding_dim=8", "encoder.kg.epochs=2", "encoder.kg.batch_size=64", "encoder.kg.eval_candidates=20"]


def train(data_dir: Path, cache_dir: Path, run_dir: Path) -> subprocess.CompletedProcess:
    command = [
        sys.executable, "-m", "avrec", "train", "experiment=bpr", "dataset=ml-100k", f"dataset.data_dir={data_dir}",
        "encoder=[id,kg]", "fusion=gated", "trainer.epochs=2", "trainer.progress=false", "model.dim=8",
        f"cache_dir={cache_dir}", f"hydra.run.dir={run_dir}", *FAST_KG,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=run_dir.parent,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})


@pytest.fixture(scope="module")
def two_runs(ml100k_kg_tiny, tmp_path_factory) -> tuple[dict, dict, str]:
    root = tmp_path_factory.mktemp("kg-e2e")
    first = train(ml100k_kg_tiny, root / "cache", root / "first")
    assert first.returncode == 0, first.stderr[-3000:]
    second = train(ml100k_kg_tiny, root / "cache", root / "second")
    assert second.returncode == 0, second.stderr[-3000:]
    metrics = [json.loads((root / name / "metrics.json").read_text()) for name in ("first", "second")]
    return metrics[0], metrics[1], second.stdout + second.stderr


def test_metrics_json_has_kg_block(two_runs):
    first, _, _ = two_runs
    assert 0.0 < first["kg"]["mrr"] <= 1.0
    assert first["kg"]["trained"] is True


def test_gate_reported_for_kg(two_runs):
    first, _, _ = two_runs
    assert 0.0 <= first["gates"]["kg"] <= 1.0


def test_rerun_trains_no_kg_model(two_runs):
    _, second, log = two_runs
    assert second["kg"]["trained"] is False
    assert "no KG model trained" in log


def test_rerun_reproduces_test_metrics(two_runs):
    first, second, _ = two_runs
    assert second["test"]["ndcg@10"] == pytest.approx(first["test"]["ndcg@10"], abs=1e-9)
