"""Tests of ``avrec report``: grouping by seed, statistics, tables, plots, and sweeps end to end."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from avrec.cli import report
from avrec.cli.report_plots import metric_bar_figure
from avrec.errors import DataError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def write_run(
    directory: Path,
    *,
    fusion: str,
    seed: int,
    ndcg: float,
    overrides: list[str] | None = None,
    history: list[dict] | None = None,
    finished: bool = True,
) -> Path:
    """Write a run directory in the layout `avrec train` produces: .hydra files, metrics.json, history.json."""
    (directory / ".hydra").mkdir(parents=True)
    config = {"seed": seed, "fusion": {"name": fusion}, "trainer": {"epochs": 2, "valid_metric": "ndcg@10"}}
    (directory / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    listed = overrides if overrides is not None else [f"fusion={fusion}", f"seed={seed}", "trainer.epochs=2"]
    (directory / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(listed))
    if finished:
        metrics = {"test": {"ndcg@10": ndcg, "recall@10": ndcg / 2, "ndcg@20": 1.0}, "valid": {"ndcg@10": ndcg}, "epochs": 2}
        (directory / "metrics.json").write_text(json.dumps(metrics))
    records = history if history is not None else [{"epoch": 1, "loss": 0.7, "ndcg@10": 0.1}, {"epoch": 2, "loss": 0.5, "ndcg@10": ndcg}]
    (directory / "history.json").write_text(json.dumps(records))
    return directory


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    """A 2 fusion x 3 seed sweep with test ndcg@10 of 0.1, 0.2, 0.3 (concat) and 0.4, 0.4, 0.4 (gated)."""
    root = tmp_path / "multirun"
    values = {"concat": [0.1, 0.2, 0.3], "gated": [0.4, 0.4, 0.4]}
    job = 0
    for fusion, ndcgs in values.items():
        for seed, ndcg in zip((1, 2, 3), ndcgs):
            write_run(root / str(job), fusion=fusion, seed=seed, ndcg=ndcg)
            job += 1
    return root


def test_flatten_metrics_nested_blocks() -> None:
    flat = report.flatten_metrics({"test": {"ndcg@10": 0.5}, "cold_items": {"ndcg@10": 0.1}, "epochs": 3})
    assert flat == {"test/ndcg@10": 0.5, "cold_items/ndcg@10": 0.1, "epochs": 3.0}


def test_flatten_metrics_skips_non_numbers() -> None:
    assert report.flatten_metrics({"ok": True, "name": "x", "value": 1}) == {"value": 1.0}


def test_runs_grouped_by_seed(sweep: Path) -> None:
    groups = report.build_report(sweep).groups
    assert [group.label for group in groups] == ["fusion=concat", "fusion=gated"]
    assert [group.seeds for group in groups] == [[1, 2, 3], [1, 2, 3]]


def test_mean_and_sample_std(sweep: Path) -> None:
    stats = report.build_report(sweep).stats.set_index("group")
    # 0.1, 0.2, 0.3: mean 0.2; squared deviations sum to 0.02, / (3 - 1) = 0.01, sqrt = 0.1.
    assert stats.loc["fusion=concat", "test/ndcg@10 mean"] == pytest.approx(0.2)
    assert stats.loc["fusion=concat", "test/ndcg@10 std"] == pytest.approx(0.1)
    assert stats.loc["fusion=gated", "test/ndcg@10 std"] == pytest.approx(0.0)


def test_single_run_std_undefined(tmp_path: Path) -> None:
    write_run(tmp_path / "0", fusion="concat", seed=1, ndcg=0.25)
    stats = report.build_report(tmp_path).stats
    assert math.isnan(stats.loc[0, "test/ndcg@10 std"])
    assert report.format_cell(0.25, math.nan) == "0.2500"


def test_config_difference_splits_groups(tmp_path: Path) -> None:
    write_run(tmp_path / "0", fusion="concat", seed=1, ndcg=0.1, overrides=["seed=1"])
    write_run(tmp_path / "1", fusion="gated", seed=1, ndcg=0.2, overrides=["seed=1"])
    groups = report.build_report(tmp_path).groups
    assert [group.label for group in groups] == ["(defaults)", "(defaults) #2"]


def test_shared_overrides_left_out_of_labels(sweep: Path) -> None:
    built = report.build_report(sweep)
    assert built.shared_overrides == ["trainer.epochs=2"]


def test_jobs_ordered_numerically(tmp_path: Path) -> None:
    for job in (10, 2, 1):
        write_run(tmp_path / str(job), fusion=f"f{job}", seed=1, ndcg=0.1, overrides=[f"fusion=f{job}"])
    labels = [group.label for group in report.build_report(tmp_path).groups]
    assert labels == ["fusion=f1", "fusion=f2", "fusion=f10"]


def test_unfinished_run_listed(sweep: Path) -> None:
    write_run(sweep / "6", fusion="concat", seed=4, ndcg=0.0, finished=False)
    built = report.build_report(sweep)
    assert built.incomplete == [sweep / "6"]
    assert built.groups[0].seeds == [1, 2, 3]


def test_empty_directory_rejected(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="No runs found"):
        report.build_report(tmp_path)


def test_default_metrics_at_valid_k(sweep: Path) -> None:
    assert report.default_metrics(report.build_report(sweep)) == ["test/ndcg@10", "test/recall@10"]


def test_unknown_metric_suggests_name(sweep: Path) -> None:
    with pytest.raises(DataError, match="Did you mean 'test/ndcg@10'"):
        report.resolve_metric_names(report.build_report(sweep), ["ndcg@1O"])


def test_short_metric_name_means_test(sweep: Path) -> None:
    built = report.build_report(sweep)
    assert report.resolve_metric_names(built, ["ndcg@20", "valid/ndcg@10"]) == ["test/ndcg@20", "valid/ndcg@10"]


def test_plot_file_name_safe() -> None:
    assert report.plot_file_name("test/ndcg@10") == "bar_test_ndcg_at_10.png"


def test_bar_chart_prints_numbers(sweep: Path) -> None:
    figure = metric_bar_figure(report.build_report(sweep), "test/ndcg@10")
    texts = [text.get_text() for text in figure.axes[0].texts]
    assert texts == ["0.2000\n± 0.1000", "0.4000\n± 0.0000"]


def test_bar_heights_are_means(sweep: Path) -> None:
    figure = metric_bar_figure(report.build_report(sweep), "test/ndcg@10")
    heights = [patch.get_height() for patch in figure.axes[0].patches]
    assert heights == pytest.approx([0.2, 0.4])


def test_command_writes_outputs(sweep: Path, capsys: pytest.CaptureFixture) -> None:
    assert report.run("report", [str(sweep)]) == 0
    for name in ("report.md", "report.csv", "plots/bar_test_ndcg_at_10.png", "plots/training_curves.png"):
        assert (sweep / name).is_file(), name
    printed = capsys.readouterr().out
    assert "fusion=concat" in printed
    assert "0.2000 ± 0.1000" in printed


def test_pngs_are_images(sweep: Path) -> None:
    report.run("report", [str(sweep)])
    for path in (sweep / "plots").glob("*.png"):
        assert path.read_bytes()[:8] == PNG_SIGNATURE, path


def test_markdown_table_row(sweep: Path) -> None:
    report.run("report", [str(sweep), "--metrics", "ndcg@10"])
    text = (sweep / "report.md").read_text()
    assert "| fusion=concat | 3 | 1 2 3 | 0.2000 ± 0.1000 |" in text
    assert "![bar_test_ndcg_at_10](plots/bar_test_ndcg_at_10.png)" in text


def test_csv_has_every_metric(sweep: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    report.run("report", [str(sweep), "--out", str(out)])
    table = pd.read_csv(out / "report.csv")
    assert list(table["group"]) == ["fusion=concat", "fusion=gated"]
    assert table.loc[1, "test/recall@10 mean"] == pytest.approx(0.2)
    assert table.loc[0, "valid/ndcg@10 std"] == pytest.approx(0.1)


def test_curves_average_uneven_histories(tmp_path: Path) -> None:
    from avrec.cli.report_plots import _curve

    short = [{"epoch": 1, "loss": 0.8}]
    long = [{"epoch": 1, "loss": 0.6}, {"epoch": 2, "loss": 0.4}]
    write_run(tmp_path / "0", fusion="concat", seed=1, ndcg=0.1, history=short, overrides=["seed=1"])
    write_run(tmp_path / "1", fusion="concat", seed=2, ndcg=0.1, history=long, overrides=["seed=2"])
    epochs, means, _ = _curve(report.build_report(tmp_path).groups[0], "loss")
    assert epochs.tolist() == [1, 2]
    assert means.tolist() == pytest.approx([0.7, 0.4])


def _avrec(args: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "AVREC_STRICT_PLUGINS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "avrec", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
    )


def test_misspelled_sweep_option_fails_first(tmp_path: Path) -> None:
    result = _avrec(["train", "-m", "fusion=concat,gatd", f"hydra.sweep.dir={tmp_path / 'sweep'}"], tmp_path)
    assert result.returncode != 0
    assert "gatd" in result.stderr
    assert "Did you mean 'gated'" in result.stderr
    assert not (tmp_path / "sweep").exists()


@pytest.mark.slow
def test_sweep_then_report(ml100k_slice: Path, tmp_path: Path) -> None:
    sweep_dir = tmp_path / "sweep"
    trained = _avrec(
        [
            "train", "-m", "experiment=bpr", "encoder=[id]", "fusion=none", "head=bpr,bce", "seed=1,2",
            f"dataset.data_dir={ml100k_slice}", "dataset.max_users=60", "trainer.epochs=2",
            "trainer.progress=false", "trainer.num_threads=1", "model.dim=16", f"hydra.sweep.dir={sweep_dir}",
        ],
        tmp_path,
    )
    assert trained.returncode == 0, trained.stderr[-3000:]
    result = _avrec(["report", str(sweep_dir), "--metrics", "ndcg@10"], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "head=bpr" in result.stdout
    table = pd.read_csv(sweep_dir / "report.csv")
    assert table["runs"].tolist() == [2, 2]
    assert (sweep_dir / "plots" / "training_curves.png").read_bytes()[:8] == PNG_SIGNATURE


def test_failed_job_keeps_swept_label(tmp_path: Path) -> None:
    write_run(tmp_path / "0", fusion="concat", seed=1, ndcg=0.1, overrides=["fusion=concat", "trainer.epochs=2"])
    write_run(tmp_path / "1", fusion="gated", seed=1, ndcg=0.0, overrides=["fusion=gated", "trainer.epochs=2"], finished=False)
    built = report.build_report(tmp_path)
    assert [group.label for group in built.groups] == ["fusion=concat"]
    assert built.shared_overrides == ["trainer.epochs=2"]
