"""Bandit benchmark on ml-100k: online simulation, off-policy evaluation coverage and LinUCB speed.

Train a run first, then point the script at its directory:

    avrec train 'encoder=[id]' trainer.epochs=5
    python benchmarks/bandits.py outputs/DATE/TIME

It runs ``avrec simulate`` with every built-in policy over ``--rounds``
rounds and ``--seeds`` seeds, with ``--ope-repeats`` repeated simulated logs
for off-policy evaluation, and writes simulation.json and simulation.png
into the run directory. It then times LinUCB decisions over all items and
writes the timings to bandits_speed.json in the same directory.
"""

from __future__ import annotations

import os

# One BLAS thread: the per-decision matrices are small, and threads only contend on a shared CPU.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import json
import logging
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from avrec.cli.simulate import SimulateConfig, resolve_policies, run_simulation
from avrec.io import atomic_write_json
from avrec.run import load_run
from avrec.simulation import context_from_experiment
from avrec_bandits.configs import GreedyConfig, LinUCBConfig
from avrec_bandits.policies import GreedyPolicy, LinUCBPolicy

POLICIES = ["random", "greedy", "epsilon_greedy", "linucb", "lin_ts"]


def time_decisions(policy, users: np.ndarray, candidates: np.ndarray) -> float:
    """Return decisions per second of ``policy.select`` over ``candidates`` for each user."""
    start = time.perf_counter()
    for user in users:
        policy.select(int(user), candidates, 1)
    return len(users) / (time.perf_counter() - start)


def speed(run_dir: Path, decisions: int) -> dict:
    """Time LinUCB over all items after a warm-up of 2,000 updates; greedy is the reference in the same run."""
    experiment = load_run(run_dir)
    context = context_from_experiment(experiment)
    candidates = np.arange(context.n_items)
    users = np.random.default_rng(0).integers(0, context.n_users, size=decisions)
    result = {"n_items": int(context.n_items), "vector_dim": int(context.item_vectors.shape[1]), "decisions": decisions}
    for label, features in (("linucb_product", ["product"]), ("linucb_default", ["product", "concat", "bias"])):
        policy = LinUCBPolicy(LinUCBConfig(features=features), context)
        rng = np.random.default_rng(1)
        for user in rng.integers(0, context.n_users, size=2000):
            slate = policy.select(int(user), candidates, 1)
            policy.update(int(user), slate.items, rng.integers(0, 2, size=1).astype(float))
        result[label] = {"context_dim": policy.features.dim, "decisions_per_second": time_decisions(policy, users, candidates)}
    greedy = GreedyPolicy(GreedyConfig(), context)
    result["greedy_decisions_per_second"] = time_decisions(greedy, users, candidates)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="directory written by avrec train")
    parser.add_argument("--rounds", type=int, default=20000, help="simulation rounds per seed")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="user-stream seeds")
    parser.add_argument("--ope-repeats", type=int, default=100, help="repeated simulated logs for OPE coverage")
    parser.add_argument("--ope-logs", type=int, default=10000, help="logged decisions per repeat")
    parser.add_argument("--ope-bootstrap", type=int, default=500, help="bootstrap resamples per interval")
    parser.add_argument("--decisions", type=int, default=3000, help="timed LinUCB decisions")
    parser.add_argument("--skip-simulation", action="store_true", help="only time the decisions")
    options = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    warnings.filterwarnings("ignore", category=UserWarning)
    torch.set_num_threads(1)

    if not options.skip_simulation:
        config = SimulateConfig(
            policy=POLICIES, rounds=options.rounds, seeds=options.seeds, ope=True,
            ope_repeats=options.ope_repeats, ope_logs=options.ope_logs, ope_bootstrap=options.ope_bootstrap,
        )
        start = time.perf_counter()
        report = run_simulation(options.run_dir, config, resolve_policies(POLICIES, {}))
        print(f"simulation and OPE took {time.perf_counter() - start:.0f} s")
        for name, summary in report["policies"].items():
            per_seed = ", ".join(f"{value:.0f}" for value in summary["cumulative_reward_per_seed"])
            print(f"{name:>15}: cumulative reward {summary['cumulative_reward']:.0f} (seeds: {per_seed}), "
                  f"{summary['decisions_per_second']:.0f} decisions/s")
        for name, block in report["ope"]["targets"].items():
            coverage = {key: value["coverage"] for key, value in block["repeats"].items()}
            print(f"{name:>15}: true value {block['true_value']:.4f}, coverage {coverage}")

    timings = speed(options.run_dir, options.decisions)
    atomic_write_json(options.run_dir / "bandits_speed.json", timings)
    print(json.dumps(timings, indent=2))


if __name__ == "__main__":
    main()
