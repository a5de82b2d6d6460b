"""``avrec evaluate RUN_DIR``: re-evaluate a saved run with its own config and checkpoint."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from avrec.io import atomic_write_json


def run(command: str, args: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="avrec evaluate", description="Re-evaluate a saved run directory.")
    parser.add_argument("run_dir", type=Path, help="directory written by avrec train")
    parser.add_argument("--output", type=Path, help="write the metrics JSON here instead of RUN_DIR/evaluation.json")
    options = parser.parse_args(args)

    from avrec.run import collect_metrics, load_run

    experiment = load_run(options.run_dir)
    metrics = collect_metrics(experiment)
    target = options.output or options.run_dir / "evaluation.json"
    atomic_write_json(target, metrics)
    print(json.dumps(metrics, indent=2))
    return 0
