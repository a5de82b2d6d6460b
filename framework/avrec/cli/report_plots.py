"""PNG plots of ``avrec report``: a bar chart per metric and the training curves.

Figures are drawn with matplotlib's object API on the Agg canvas, so no
display and no pyplot global state are involved.
"""

from __future__ import annotations

import math
import textwrap
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

if TYPE_CHECKING:
    from avrec.cli.report import Group, SweepReport

BAR_LABEL_WIDTH = 22
DPI = 120


def _wrapped(label: str) -> str:
    return "\n".join(textwrap.wrap(label, BAR_LABEL_WIDTH, break_on_hyphens=False)) or label


def _bar_text(mean: float, std: float) -> str:
    return f"{mean:.4f}" if math.isnan(std) else f"{mean:.4f}\n± {std:.4f}"


def plot_metric_bars(report: SweepReport, metric: str, path: Path) -> Path:
    """Save the bar chart of ``metric`` to ``path`` and return the path."""
    metric_bar_figure(report, metric).savefig(path)
    return path


def metric_bar_figure(report: SweepReport, metric: str) -> Figure:
    """Draw one bar per group: the mean over seeds, a std error bar, the seed values as dots and the numbers."""
    means = report.stats[f"{metric} mean"].to_numpy(dtype=float)
    stds = report.stats[f"{metric} std"].to_numpy(dtype=float)
    positions = np.arange(len(report.groups))
    figure = Figure(figsize=(max(4.0, 1.9 * len(positions) + 1.5), 4.8), dpi=DPI, layout="constrained")
    axes = figure.add_subplot()
    axes.bar(positions, means, yerr=np.nan_to_num(stds), capsize=6, color="#4C72B0", alpha=0.85)
    tops = []
    for position, group, mean, std in zip(positions, report.groups, means, stds):
        values = [run.metrics.get(metric, math.nan) for run in group.runs]
        axes.scatter(np.full(len(values), position), values, color="black", s=12, zorder=3)
        # The numbers go above the error bar and the highest seed, so nothing covers them.
        top = np.nanmax([mean + np.nan_to_num(std), *values])
        axes.annotate(
            _bar_text(mean, std), (position, top), xytext=(0, 4), textcoords="offset points",
            ha="center", va="bottom", fontsize=8,
        )
        tops.append(top)
    top = np.nanmax(tops) if tops else 1.0
    axes.set_ylim(0, top * 1.25 if top > 0 else 1.0)
    axes.set_xticks(positions, [_wrapped(group.label) for group in report.groups], fontsize=8)
    axes.set_ylabel(metric)
    counts = sorted({len(group.runs) for group in report.groups})
    axes.set_title(f"{metric}: mean ± std over {'/'.join(map(str, counts))} seeds (dots: single runs)", fontsize=10)
    return figure


def _curve(group: Group, key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the epochs where some run of ``group`` recorded ``key``, and the mean and std there."""
    by_epoch: dict[int, list[float]] = defaultdict(list)
    for run in group.runs:
        for record in run.history:
            value = record.get(key)
            if isinstance(value, (int, float)) and "epoch" in record:
                by_epoch[int(record["epoch"])].append(float(value))
    epochs = np.array(sorted(by_epoch))
    means = np.array([np.mean(by_epoch[e]) for e in epochs])
    stds = np.array([np.std(by_epoch[e], ddof=1) if len(by_epoch[e]) > 1 else 0.0 for e in epochs])
    return epochs, means, stds


def plot_training_curves(report: SweepReport, path: Path) -> Path | None:
    """Draw training loss and the validation metric per epoch, one line per group; None without history."""
    if not any(run.history for group in report.groups for run in group.runs):
        return None
    valid_metric = report.groups[0].runs[0].valid_metric
    figure = Figure(figsize=(12, 4.8), dpi=DPI, layout="constrained")
    panels = figure.subplots(1, 2)
    for axes, key, title in ((panels[0], "loss", "training loss"), (panels[1], valid_metric, f"valid {valid_metric}")):
        for group in report.groups:
            epochs, means, stds = _curve(group, key)
            if len(epochs) == 0:
                continue
            label = f"{group.label}: {means[-1]:.4f} at epoch {epochs[-1]}"
            line = axes.plot(epochs, means, marker="o", markersize=3, label=label)[0]
            axes.fill_between(epochs, means - stds, means + stds, color=line.get_color(), alpha=0.2)
        axes.set_xlabel("epoch")
        axes.set_ylabel(key)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_title(f"{title} (mean ± std over seeds)", fontsize=10)
        axes.grid(alpha=0.3)
        axes.legend(fontsize=7, loc="best")
    figure.savefig(path)
    return path
