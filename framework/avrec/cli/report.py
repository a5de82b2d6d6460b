"""``avrec report SWEEP_DIR``: tables and plots of a multirun sweep.

Every directory under SWEEP_DIR that contains ``.hydra/config.yaml`` is a run.
Runs whose configs are equal except for ``seed`` form one group; a group is
labelled with its runs' command-line overrides minus ``seed=...``. For every
metric in the runs' metrics.json the report gives the mean and the sample
standard deviation (n - 1 in the denominator) over the group's seeds.

Outputs, in SWEEP_DIR unless ``--out`` names another directory:

- ``report.csv``: one row per group, mean and std of every metric.
- ``report.md``: the table of the selected metrics, plus the plots.
- ``plots/bar_<metric>.png``: one bar chart per selected metric, with
  standard-deviation error bars and the values printed on the bars.
- ``plots/training_curves.png``: training loss and the validation metric
  per epoch from each run's history.json, averaged per group.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from omegaconf import OmegaConf
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from avrec.errors import DataError
from avrec.io import atomic_write_text

_logger = logging.getLogger(__name__)

CONFIG_FILE = Path(".hydra") / "config.yaml"
OVERRIDES_FILE = Path(".hydra") / "overrides.yaml"
METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.json"
SEED_KEY = "seed"
DEFAULT_VALID_METRIC = "ndcg@10"


@dataclass
class RunRecord:
    """One run of the sweep: where it is, how it was configured and what it measured."""

    path: Path
    overrides: list[str]
    config: dict[str, Any]
    seed: int | None
    metrics: dict[str, float]
    history: list[dict[str, Any]] = field(default_factory=list)

    def label(self, shared: set[str] = frozenset()) -> str:
        """Return the run's overrides except ``seed=...`` and those in ``shared``."""
        kept = [
            text for text in self.overrides
            if text not in shared and text.split("=", 1)[0].lstrip("+~") != SEED_KEY
        ]
        return " ".join(kept) or "(defaults)"

    @property
    def group_key(self) -> str:
        without_seed = {key: value for key, value in self.config.items() if key != SEED_KEY}
        return json.dumps(without_seed, sort_keys=True, default=str)

    @property
    def valid_metric(self) -> str:
        trainer = self.config.get("trainer") or {}
        return str(trainer.get("valid_metric", DEFAULT_VALID_METRIC))


@dataclass
class Group:
    """Runs whose configs differ only in ``seed``."""

    label: str
    runs: list[RunRecord]

    @property
    def seeds(self) -> list[int | None]:
        return [run.seed for run in self.runs]


@dataclass
class SweepReport:
    """Groups of a sweep, their statistics and the runs that could not be read."""

    sweep_dir: Path
    groups: list[Group]
    stats: pd.DataFrame
    incomplete: list[Path]
    shared_overrides: list[str] = field(default_factory=list)

    def metric_names(self) -> list[str]:
        return [column[: -len(" mean")] for column in self.stats.columns if column.endswith(" mean")]


def flatten_metrics(metrics: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """Return the numeric leaves of metrics.json as ``{"test/ndcg@10": value, "wall_seconds": value}``."""
    flat: dict[str, float] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten_metrics(value, f"{name}/"))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            flat[name] = float(value)
    return flat


def _job_order(path: Path, sweep_dir: Path) -> tuple:
    parts = path.relative_to(sweep_dir).parts
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in parts)


def find_run_dirs(sweep_dir: Path) -> list[Path]:
    """Return every directory under ``sweep_dir`` (itself included) that contains .hydra/config.yaml."""
    found = {config.parent.parent for config in sweep_dir.rglob("config.yaml") if config.parent.name == ".hydra"}
    return sorted(found, key=lambda path: _job_order(path, sweep_dir))


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise DataError(f"{path} is not valid JSON (line {error.lineno}): {error.msg}. Rerun the job or delete it.") from error


def load_run(path: Path) -> RunRecord | None:
    """Read one run directory; return None when it has no metrics.json (a failed or unfinished job)."""
    metrics_path = path / METRICS_FILE
    if not metrics_path.is_file():
        return None
    config = OmegaConf.to_container(OmegaConf.load(path / CONFIG_FILE), resolve=False)
    overrides = read_overrides(path)
    history_path = path / HISTORY_FILE
    history = _read_json(history_path) if history_path.is_file() else []
    seed = config.get(SEED_KEY)
    return RunRecord(
        path=path,
        overrides=overrides,
        config=config,
        seed=int(seed) if isinstance(seed, int) else None,
        metrics=flatten_metrics(_read_json(metrics_path)),
        history=history if isinstance(history, list) else [],
    )


def read_overrides(path: Path) -> list[str]:
    """Return the overrides of the run in ``path`` from .hydra/overrides.yaml, or [] without that file."""
    overrides_path = path / OVERRIDES_FILE
    return [str(item) for item in OmegaConf.load(overrides_path)] if overrides_path.is_file() else []


def shared_overrides(runs: list[RunRecord], unfinished: list[list[str]] = ()) -> list[str]:
    """Return the overrides that every run has, in the first run's order (seed excluded).

    ``unfinished`` contains the overrides of jobs without metrics: an override they lack still varies
    across the sweep, so it stays in the labels.
    """
    common = set.intersection(*(set(run.overrides) for run in runs), *(set(item) for item in unfinished))
    return [text for text in runs[0].overrides if text in common and text.split("=", 1)[0].lstrip("+~") != SEED_KEY]


def group_runs(runs: list[RunRecord], shared: set[str] = frozenset()) -> list[Group]:
    """Group runs with equal configs apart from ``seed``, in order of their first run.

    A group's label is its overrides minus ``seed=...`` and minus ``shared``.
    """
    by_key: dict[str, Group] = {}
    labels: dict[str, int] = {}
    for run in runs:
        group = by_key.get(run.group_key)
        if group is None:
            base = run.label(shared)
            count = labels.get(base, 0) + 1
            labels[base] = count
            # Two configs can share a label when the sweep's base config changed between jobs.
            label = base if count == 1 else f"{base} #{count}"
            group = by_key[run.group_key] = Group(label, [])
        group.runs.append(run)
    return list(by_key.values())


def group_statistics(groups: list[Group]) -> pd.DataFrame:
    """Return one row per group: run count, seeds, and mean and std of every metric."""
    rows = []
    for group in groups:
        frame = pd.DataFrame([run.metrics for run in group.runs])
        row: dict[str, Any] = {
            "group": group.label,
            "runs": len(group.runs),
            "seeds": " ".join(str(seed) for seed in group.seeds),
        }
        for metric in frame.columns:
            values = frame[metric].dropna()
            row[f"{metric} mean"] = values.mean() if len(values) else math.nan
            row[f"{metric} std"] = values.std(ddof=1) if len(values) > 1 else math.nan
        rows.append(row)
    return pd.DataFrame(rows)


def build_report(sweep_dir: Path) -> SweepReport:
    """Read and group every run under ``sweep_dir``; raise DataError when there is nothing to report."""
    run_dirs = find_run_dirs(sweep_dir)
    if not run_dirs:
        raise DataError(
            f"No runs found under {sweep_dir}: no directory contains {CONFIG_FILE}. "
            f"Pass the directory of a sweep, for example multirun/<date>/<time>."
        )
    runs, incomplete = [], []
    for path in run_dirs:
        record = load_run(path)
        if record is None:
            incomplete.append(path)
        else:
            runs.append(record)
    for path in incomplete:
        _logger.warning("Skipping %s: it has no %s (the job failed or has not finished).", path, METRICS_FILE)
    if not runs:
        raise DataError(f"None of the {len(run_dirs)} runs under {sweep_dir} has a {METRICS_FILE}; no job finished.")
    shared = shared_overrides(runs, [read_overrides(path) for path in incomplete])
    groups = group_runs(runs, set(shared))
    return SweepReport(sweep_dir, groups, group_statistics(groups), incomplete, shared)


def default_metrics(report: SweepReport) -> list[str]:
    """Return the test metrics at the k of the validation metric (k=10 by default), plus test metrics without k."""
    names = report.metric_names()
    valid_metric = report.groups[0].runs[0].valid_metric
    k = valid_metric.split("@", 1)[1] if "@" in valid_metric else "10"
    chosen = [name for name in names if name.startswith("test/") and (name.endswith(f"@{k}") or "@" not in name)]
    return chosen or [name for name in names if name.startswith("test/")] or names


def resolve_metric_names(report: SweepReport, requested: list[str]) -> list[str]:
    """Map names such as ``ndcg@10`` to ``test/ndcg@10``; raise DataError naming an unknown one."""
    from avrec.errors import suggest

    names = report.metric_names()
    resolved = []
    for name in requested:
        full = name if name in names else f"test/{name}"
        if full not in names:
            raise DataError(
                f"Unknown metric '{name}' in --metrics.{suggest(name, names)} Metrics in this sweep: {', '.join(names)}."
            )
        resolved.append(full)
    return resolved


def format_cell(mean: float, std: float) -> str:
    """Format ``mean ± std``, or the mean alone when std is undefined (one run)."""
    if math.isnan(mean):
        return "n/a"
    digits = 4 if abs(mean) < 100 else 1
    if math.isnan(std):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def table_rows(report: SweepReport, metrics: list[str]) -> tuple[list[str], list[list[str]]]:
    """Return the header and the rows of the summary table."""
    header = ["group", "runs", "seeds", *metrics]
    rows = []
    for _, stats in report.stats.iterrows():
        cells = [format_cell(stats.get(f"{m} mean", math.nan), stats.get(f"{m} std", math.nan)) for m in metrics]
        rows.append([str(stats["group"]), str(stats["runs"]), str(stats["seeds"]), *cells])
    return header, rows


def plot_file_name(metric: str) -> str:
    """Return a file name for the bar chart of ``metric`` ("test/ndcg@10" -> "bar_test_ndcg_at_10.png")."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", metric.replace("@", "_at_"))
    return f"bar_{safe}.png"


def render_markdown(report: SweepReport, metrics: list[str], plots: list[Path], out_dir: Path) -> str:
    header, rows = table_rows(report, metrics)
    n_runs = sum(len(group.runs) for group in report.groups)
    lines = [
        f"# Sweep report: {report.sweep_dir}",
        "",
        f"{n_runs} runs in {len(report.groups)} groups. Each cell is the mean ± sample standard deviation "
        f"over the group's seeds; report.csv has every metric.",
        "",
        f"Overrides shared by every run: `{' '.join(report.shared_overrides) or '(none)'}`",
        "",
        "| " + " | ".join(header) + " |",
        "| " + " | ".join("---" for _ in header) + " |",
        *("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows),
        "",
    ]
    if report.incomplete:
        lines += ["Runs without metrics.json (failed or unfinished), left out:", ""]
        lines += [f"- {path}" for path in report.incomplete] + [""]
    for plot in plots:
        lines += [f"![{plot.stem}]({plot.relative_to(out_dir).as_posix()})", ""]
    return "\n".join(lines)


def print_table(report: SweepReport, metrics: list[str], console: Console) -> None:
    header, rows = table_rows(report, metrics)
    # Labels such as encoder=[id,text] would otherwise be read as rich markup tags.
    table = Table(title=escape(f"avrec report: {report.sweep_dir}"))
    for column in header:
        table.add_column(escape(column), justify="right" if column in metrics else "left")
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    console.print(table)


def write_report(report: SweepReport, out_dir: Path, metrics: list[str]) -> list[Path]:
    """Write report.csv, the plots and report.md to ``out_dir``; return the paths written."""
    from avrec.cli.report_plots import plot_metric_bars, plot_training_curves

    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = out_dir / "report.csv"
    atomic_write_text(csv_path, report.stats.to_csv(index=False))
    plot_dir = out_dir / "plots"
    plot_dir.mkdir(exist_ok=True)
    plots = [plot_metric_bars(report, metric, plot_dir / plot_file_name(metric)) for metric in metrics]
    curves = plot_training_curves(report, plot_dir / "training_curves.png")
    if curves is not None:
        plots.append(curves)
    markdown_path = out_dir / "report.md"
    atomic_write_text(markdown_path, render_markdown(report, metrics, plots, out_dir))
    return [csv_path, markdown_path, *plots]


def run(command: str, args: list[str]) -> int:
    """Parse the arguments of ``avrec report``, write the report and print its table."""
    parser = argparse.ArgumentParser(prog="avrec report", description="Summarise a multirun sweep as tables and plots.")
    parser.add_argument("sweep_dir", type=Path, help="directory of a sweep, e.g. multirun/2024-05-01/12-00-00")
    parser.add_argument("--out", type=Path, default=None, help="directory for report.md, report.csv and plots/ (default: SWEEP_DIR)")
    parser.add_argument(
        "--metrics", default="",
        help="comma-separated metrics for the table and bar charts, e.g. ndcg@10,recall@20,valid/ndcg@10 "
        "(default: test metrics at the k of trainer.valid_metric)",
    )
    options = parser.parse_args(args)
    sweep_dir = options.sweep_dir.expanduser().resolve()
    if not sweep_dir.is_dir():
        raise DataError(f"Sweep directory {sweep_dir} not found. Pass the directory Hydra printed for the sweep.")
    report = build_report(sweep_dir)
    requested = [name.strip() for name in options.metrics.split(",") if name.strip()]
    metrics = resolve_metric_names(report, requested) if requested else default_metrics(report)
    out_dir = (options.out or sweep_dir).expanduser().resolve()
    written = write_report(report, out_dir, metrics)
    console = Console(width=200)
    print_table(report, metrics, console)
    names = ", ".join(path.relative_to(out_dir).as_posix() for path in written)
    console.print(escape(f"Wrote {len(written)} files to {out_dir}: {names}"))
    return 0
