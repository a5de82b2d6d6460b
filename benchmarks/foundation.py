"""Foundation figures: BPR wall time, BPR versus popularity, evaluation time.

Usage: python benchmarks/foundation.py [--out DIR] [--seed 2020]

Runs two real `avrec train` jobs on ml-100k with the same split and seed
(matrix-factorisation BPR through `experiment=bpr`, and the `pop` head),
then times a full-ranking test evaluation of all users of the BPR run.
Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path


def train(run_dir: Path, *overrides: str) -> tuple[dict, float]:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "avrec", "train", "trainer.progress=false", f"hydra.run.dir={run_dir}", *overrides],
        check=True, capture_output=True,
    )
    seconds = time.perf_counter() - start
    return json.loads((run_dir / "metrics.json").read_text()), seconds


def time_evaluation(run_dir: Path, repeats: int = 5) -> float:
    import torch

    from avrec.run import evaluate, load_run

    experiment = load_run(run_dir)
    torch.set_num_threads(1)
    evaluate(experiment, "test")
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        evaluate(experiment, "test")
        timings.append(time.perf_counter() - start)
    return min(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmark-runs/foundation"))
    parser.add_argument("--seed", type=int, default=2020)
    args = parser.parse_args()
    bpr, bpr_seconds = train(args.out / "bpr", "experiment=bpr", f"seed={args.seed}")
    pop, pop_seconds = train(args.out / "pop", "experiment=bpr", "head=pop", f"seed={args.seed}")
    eval_seconds = time_evaluation(args.out / "bpr")
    ratio = bpr["test"]["ndcg@10"] / pop["test"]["ndcg@10"]
    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, python {platform.python_version()}")
    print("| model | test NDCG@10 | test Recall@10 | epochs (best) | wall s |")
    print("|---|---|---|---|---|")
    print(f"| pop | {pop['test']['ndcg@10']:.4f} | {pop['test']['recall@10']:.4f} | 0 | {pop_seconds:.1f} |")
    print(
        f"| BPR | {bpr['test']['ndcg@10']:.4f} | {bpr['test']['recall@10']:.4f} | "
        f"{bpr['epochs']} ({bpr['best_epoch']}) | {bpr_seconds:.1f} |"
    )
    print(f"\nBPR / pop NDCG@10: {ratio:.2f}x")
    print(f"full-ranking test evaluation of {bpr['n_users_evaluated']} users: {eval_seconds:.3f} s (best of 5)")


if __name__ == "__main__":
    main()
