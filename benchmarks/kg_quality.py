"""Knowledge-graph modality on ml-100k: does `kg` add to [id,text], and does it rank cold items?

Usage:

    python benchmarks/kg_quality.py warm  --out DIR   # [id,text] vs [id,text,kg], fusion=gated, seeds 1-3
    python benchmarks/kg_quality.py cold  --out DIR   # split=cold_items: [kg], [text], [text,kg], seeds 1-3
    python benchmarks/kg_quality.py table --out DIR   # Markdown tables of everything run so far

Each configuration runs as `avrec train` in a subprocess, once per seed,
with the trainer defaults of conf/trainer/default.yaml unless
``--trainer`` adds overrides. On the cold split, validation ranks a second
set of held-out items (``split.validate_on=cold``, the default), so early
stopping selects for items the model never trained on. A run directory that already contains a
metrics.json is reused. The KG embeddings are trained with their own fixed
seed, so only the first KG run trains a KG model and the others read the
cache. With interaction triples the graph depends on the split, so each
seed trains its own.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

NEIGHBORS = ["encoder.kg.item_vectors=neighbors"]
INTERACTIONS = ["encoder.kg.interaction_triples=true", "encoder.kg.epochs=40"]
WARM = {
    "id_text": ["encoder=[id,text]", "fusion=gated"],
    "id_text_kg": ["encoder=[id,text,kg]", "fusion=gated"],
    "id_text_kg_neighbors": ["encoder=[id,text,kg]", "fusion=gated", *NEIGHBORS],
    "id_text_kg_interactions": ["encoder=[id,text,kg]", "fusion=gated", *INTERACTIONS],
}
COLD = {
    "cold_kg": ["split=cold_items", "encoder=[kg]", "fusion=gated"],
    "cold_kg_neighbors": ["split=cold_items", "encoder=[kg]", "fusion=gated", *NEIGHBORS],
    "cold_text": ["split=cold_items", "encoder=[text]", "fusion=gated"],
    "cold_text_kg": ["split=cold_items", "encoder=[text,kg]", "fusion=gated"],
    "cold_text_kg_neighbors": ["split=cold_items", "encoder=[text,kg]", "fusion=gated", *NEIGHBORS],
    "cold_text_kg_neighbors_finetune": [
        "split=cold_items", "encoder=[text,kg]", "fusion=gated", *NEIGHBORS, "encoder.kg.finetune=true",
    ],
    "cold_text_kg_interactions": ["split=cold_items", "encoder=[text,kg]", "fusion=gated", *NEIGHBORS, *INTERACTIONS],
}
SEEDS = (1, 2, 3)


def run(out: Path, name: str, overrides: list[str], seed: int, trainer: list[str]) -> dict:
    """Train one configuration and seed unless its metrics.json exists; return the metrics."""
    run_dir = out / name / f"seed{seed}"
    metrics_file = run_dir / "metrics.json"
    if not metrics_file.exists():
        command = [
            sys.executable, "-m", "avrec", "train", "experiment=bpr", *overrides, *trainer, "trainer.progress=false",
            f"seed={seed}", f"hydra.run.dir={run_dir}",
        ]
        print("running:", " ".join(command[2:]), flush=True)
        subprocess.run(command, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    return json.loads(metrics_file.read_text())


def mean_spread(values: list[float]) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f} (n={len(values)})"


def collected(out: Path, name: str) -> list[dict]:
    files = sorted((out / name).glob("seed*/metrics.json"))
    return [json.loads(path.read_text()) for path in files]


def warm_table(out: Path) -> None:
    print("| configuration | test NDCG@10, mean ± sd | test Recall@10 | mean gate kg | epochs | run s |")
    print("|---|---|---|---|---|---|")
    for name in WARM:
        runs = collected(out, name)
        if not runs:
            continue
        gates = [m["gates"]["kg"] for m in runs if "kg" in m.get("gates", {})]
        print(
            f"| {name} | {mean_spread([m['test']['ndcg@10'] for m in runs])} "
            f"| {mean_spread([m['test']['recall@10'] for m in runs])} | {mean_spread(gates)} "
            f"| {mean_spread([m['epochs'] for m in runs])} | {mean_spread([m['wall_seconds'] for m in runs])} |"
        )


def cold_table(out: Path) -> None:
    print("| configuration | valid NDCG@10 | cold NDCG@10, mean ± sd | random NDCG@10 | ratio to random |")
    print("|---|---|---|---|---|")
    for name in COLD:
        runs = collected(out, name)
        if not runs:
            continue
        valid = [m["valid"]["ndcg@10"] for m in runs]
        cold = [m["cold_items"]["ndcg@10"] for m in runs]
        random_level = [m["cold_items"]["random_ndcg@10"] for m in runs]
        ratio = statistics.mean(cold) / statistics.mean(random_level)
        print(
            f"| {name} | {mean_spread(valid)} | {mean_spread(cold)} | {mean_spread(random_level)} | {ratio:.2f}x |"
        )


def kg_block(out: Path) -> None:
    for name in (*WARM, *COLD):
        for metrics in collected(out, name):
            if "kg" in metrics:
                block = metrics["kg"]
                print(
                    f"\nKG check ({name}): model {block['model']}, {block['triples']} triples, "
                    f"{block['entities']} entities; MRR {block['mrr']:.3f}, Hits@10 {block['hits@10']:.3f} "
                    f"on {block['eval_triples']} held-out triples against {block['eval_candidates']} sampled "
                    f"candidates; KG training {block['train_seconds']} s; trained in this run: {block['trained']}"
                )
                return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=("warm", "cold", "table"))
    parser.add_argument("--out", type=Path, default=Path("benchmark-runs/kg"))
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--only", nargs="*", default=None, help="configuration names to run (default: all of the part)")
    parser.add_argument("--trainer", nargs="*", default=[], help="extra overrides for every run, e.g. trainer.lr=0.01")
    args = parser.parse_args()
    configs = {"warm": WARM, "cold": COLD}.get(args.part, {})
    for seed in args.seeds:
        for name, overrides in configs.items():
            if args.only is None or name in args.only:
                run(args.out, name, overrides, seed, args.trainer)
    warm_table(args.out)
    print()
    cold_table(args.out)
    kg_block(args.out)


if __name__ == "__main__":
    main()
