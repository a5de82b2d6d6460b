"""Text fusion and cold-start benchmark on ml-100k: [id] vs [id,text]+gated, and cold items from text.

Each configuration is trained with ``avrec train`` in a subprocess, once per
seed, and the test figures are read back from each run's metrics.json.

    python benchmarks/issue3_text_fusion.py tune  --out /tmp/issue3   # pick lr per config on valid, seed 1
    python benchmarks/issue3_text_fusion.py final --out /tmp/issue3   # 3 seeds with the chosen lr
    python benchmarks/issue3_text_fusion.py defaults --out /tmp/issue3  # 3 seeds, trainer defaults

``tune`` writes ``tuned.json`` (the lr with the best valid ndcg@10 per
configuration), which ``final`` reads. ``defaults`` repeats the [id] and
[id,text]+gated comparison with the trainer's default lr, epochs and
patience. Each phase prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
from pathlib import Path

_logger = logging.getLogger(__name__)

CONFIGS = {
    "id": ["encoder=[id]"],
    "id_text_gated": ["encoder=[id,text]", "fusion=gated"],
    "cold_text": ["split=cold_items", "encoder=[text]", "fusion=none"],
}
RUN_OPTIONS = ["trainer.num_threads=1", "trainer.progress=false"]
SMALL_BUDGET = ["trainer.early_stopping_patience=3"]
LEARNING_RATES = ["0.005", "0.01"]
FINAL_SEEDS = [1, 2, 3]
TUNE_SEED = 1


def run_once(out: Path, name: str, lr: str | None, seed: int, epochs: int | None) -> dict:
    """Train one configuration (or reuse its metrics.json) and return the metrics.

    ``lr`` and ``epochs`` of None keep the trainer defaults and its default
    early-stopping patience.
    """
    if lr is None:
        run_dir = out / name / "defaults" / f"seed{seed}"
        overrides = [*CONFIGS[name], *RUN_OPTIONS, f"seed={seed}"]
    else:
        run_dir = out / name / f"epochs{epochs}_lr{lr}" / f"seed{seed}"
        overrides = [*CONFIGS[name], *RUN_OPTIONS, *SMALL_BUDGET, f"trainer.lr={lr}", f"trainer.epochs={epochs}", f"seed={seed}"]
    metrics_file = run_dir / "metrics.json"
    if not metrics_file.exists():
        command = ["avrec", "train", "experiment=bpr", *overrides, f"hydra.run.dir={run_dir}"]
        _logger.info("Running %s", " ".join(command))
        subprocess.run(command, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    return json.loads(metrics_file.read_text())


def figures(metrics: dict) -> dict[str, float]:
    row = {
        "valid ndcg@10": metrics["valid"]["ndcg@10"],
        "test ndcg@10": metrics["test"]["ndcg@10"],
        "test recall@10": metrics["test"]["recall@10"],
        "epochs": metrics["epochs"],
        "best epoch": metrics["best_epoch"],
        "seconds": metrics["wall_seconds"],
    }
    if "cold_items" in metrics:
        cold = metrics["cold_items"]
        row["cold ndcg@10"] = cold["ndcg@10"]
        row["cold random_ndcg@10"] = cold["random_ndcg@10"]
        row["cold ratio"] = cold["ndcg@10"] / cold["random_ndcg@10"]
    if "gates" in metrics:
        row.update({f"gate {name}": value for name, value in metrics["gates"].items()})
    return row


def tune(out: Path, epochs: int) -> None:
    chosen = {}
    for name in CONFIGS:
        scores = {lr: figures(run_once(out, name, lr, TUNE_SEED, epochs)) for lr in LEARNING_RATES}
        for lr, row in scores.items():
            print(f"| {name} | {lr} | {row['valid ndcg@10']:.4f} | {row['best epoch']} |")
        chosen[name] = max(scores, key=lambda lr: scores[lr]["valid ndcg@10"])
    (out / "tuned.json").write_text(json.dumps(chosen, indent=2))
    print(json.dumps(chosen))


def final(out: Path, epochs: int) -> None:
    chosen = json.loads((out / "tuned.json").read_text())
    summary = {name: summarize(out, name, chosen[name], epochs) for name in CONFIGS}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))


def defaults(out: Path) -> None:
    summary = {name: summarize(out, name, None, None) for name in ("id", "id_text_gated")}
    (out / "summary_defaults.json").write_text(json.dumps(summary, indent=2))


def summarize(out: Path, name: str, lr: str | None, epochs: int | None) -> dict:
    """Run ``name`` for every final seed and print mean, sample standard deviation and values per figure."""
    rows = [figures(run_once(out, name, lr, seed, epochs)) for seed in FINAL_SEEDS]
    for key in rows[0]:
        values = [row[key] for row in rows]
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        print(f"| {name} | lr {lr or 'default'} | {key} | {statistics.mean(values):.4f} | {spread:.4f} "
              f"| {', '.join(f'{value:.4f}' for value in values)} |")
    return {"lr": lr, "rows": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("phase", choices=["tune", "final", "defaults"])
    parser.add_argument("--out", type=Path, required=True, help="directory for the run directories")
    parser.add_argument("--epochs", type=int, default=30, help="maximum epochs per run (early stopping may end sooner)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.phase == "tune":
        tune(args.out, args.epochs)
    elif args.phase == "final":
        final(args.out, args.epochs)
    else:
        defaults(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
