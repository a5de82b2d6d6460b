"""Compare avrec with RecBole 1.2.1 on ml-100k under RecBole's default protocol.

RecBole lives in its own venv (never an avrec dependency). The script

1. creates that venv when it is missing (``--venv``, default /tmp/recbole-venv),
2. runs RecBole's BPR and LightGCN there with their shipped settings (random
   order 8:1:1 split per user, full ranking, embedding size 64, seed 2020),
   except that the best epoch is chosen on validation NDCG@10 as on avrec's
   side, and dumps the exact train/valid/test split RecBole used, as raw ids,
3. trains avrec's BPR, LightGCN and default multimodal model on that same
   split (``split=fixed``),
4. writes one Markdown table and a JSON file of all figures to ``--out``.

Run it from the repository root with avrec's venv active:

    python benchmarks/recbole_compare.py --out benchmarks/results/recbole

Both sides use ``--threads`` torch threads (default 1). Peak memory is the
maximum resident set size of the process that loaded the data, trained and
evaluated, as ``getrusage`` reports it. The ``worker`` subcommand runs inside
the RecBole venv and imports nothing from avrec.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

_logger = logging.getLogger("recbole_compare")

RECBOLE_VERSION = "1.2.1"
# Pins that make RecBole 1.2.1 import and run with current Python and torch.
RECBOLE_DEPENDENCIES = [
    "numpy<2", "pandas<2.2", "scipy<1.13", "scikit-learn<1.5", "torch==2.14.1",
    "colorlog==4.7.2", "colorama", "tensorboard", "thop", "tabulate", "texttable",
    "psutil", "pyyaml", "tqdm", "plotly", "ray[tune]==2.6.3", "setuptools==80.10.2",
]
RECBOLE_MODELS = ("BPR", "LightGCN")
SPLIT_FILES = ("train", "valid", "test")


# RecBole side: runs inside the RecBole venv ------------------------------------------------


def recbole_worker(model_name: str, out_dir: Path, threads: int) -> None:
    """Train and test one RecBole model with its shipped settings; write figures and the split it used."""
    import resource

    import torch
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.utils import get_model, get_trainer, init_logger, init_seed

    torch.set_num_threads(threads)
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    config = Config(
        model=model_name,
        dataset="ml-100k",
        config_dict={
            "checkpoint_dir": str(out_dir / "saved"),
            "show_progress": False,
            "use_gpu": False,
            # RecBole 1.2.1 ships valid_metric MRR@10. Its LightGCN then stops after about 25 of its
            # 300 epochs at a far lower test NDCG@10, so both sides select the best epoch on NDCG@10.
            "valid_metric": "NDCG@10",
        },
    )
    init_seed(config["seed"], config["reproducibility"])
    init_logger(config)
    dataset = create_dataset(config)
    train_data, valid_data, test_data = data_preparation(config, dataset)
    _dump_recbole_split(dataset, {"train": train_data, "valid": valid_data, "test": test_data}, out_dir / "split")
    init_seed(config["seed"] + config["local_rank"], config["reproducibility"])
    model = get_model(config["model"])(config, train_data._dataset).to(config["device"])
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
    epoch_seconds, epoch_cpu_seconds = _time_train_epochs(trainer)
    trainer.fit(train_data, valid_data, saved=True, show_progress=False)
    test_result = trainer.evaluate(test_data, load_best_model=True, show_progress=False)
    eval_seconds, eval_cpu_seconds = [], []
    for _ in range(3):
        eval_start, eval_cpu_start = time.perf_counter(), time.process_time()
        trainer.evaluate(test_data, load_best_model=False, show_progress=False)
        eval_seconds.append(time.perf_counter() - eval_start)
        eval_cpu_seconds.append(time.process_time() - eval_cpu_start)
    figures = {
        "model": model_name,
        "recall@10": float(test_result["recall@10"]),
        "ndcg@10": float(test_result["ndcg@10"]),
        "epochs": len(epoch_seconds),
        "best_epoch": len(epoch_seconds) - trainer.cur_step,
        "epoch_seconds": epoch_seconds,
        "epoch_cpu_seconds": epoch_cpu_seconds,
        "eval_seconds": eval_seconds,
        "eval_cpu_seconds": eval_cpu_seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "wall_seconds": time.perf_counter() - start,
        "split_sizes": {name: len(data._dataset.inter_feat) for name, data in
                        (("train", train_data), ("valid", valid_data), ("test", test_data))},
    }
    (out_dir / "figures.json").write_text(json.dumps(figures, indent=2))


def _time_train_epochs(trainer) -> tuple[list[float], list[float]]:
    """Wrap the trainer's ``_train_epoch`` so that each call's wall and CPU seconds are recorded."""
    seconds: list[float] = []
    cpu_seconds: list[float] = []
    original = trainer._train_epoch

    def timed(*args, **kwargs):
        begin, cpu_begin = time.perf_counter(), time.process_time()
        result = original(*args, **kwargs)
        seconds.append(time.perf_counter() - begin)
        cpu_seconds.append(time.process_time() - cpu_begin)
        return result

    trainer._train_epoch = timed
    return seconds, cpu_seconds


def _dump_recbole_split(dataset, loaders: dict, target: Path) -> None:
    """Write each split's (user, item) rows as RecBole's raw tokens, one TSV per split."""
    target.mkdir(parents=True, exist_ok=True)
    uid, iid = dataset.uid_field, dataset.iid_field
    for name, loader in loaders.items():
        inter = loader._dataset.inter_feat
        users = dataset.id2token(uid, inter[uid].numpy())
        items = dataset.id2token(iid, inter[iid].numpy())
        lines = ["user_id\titem_id"] + [f"{u}\t{i}" for u, i in zip(users, items)]
        (target / f"{name}.tsv").write_text("\n".join(lines) + "\n")


# Driver: runs in avrec's venv ----------------------------------------------------------------


def ensure_recbole_venv(venv: Path) -> Path:
    """Create the RecBole venv when ``recbole`` does not import there; return its python."""
    python = venv / "bin" / "python"
    if python.exists() and subprocess.run([python, "-c", "import recbole, ray"], capture_output=True).returncode == 0:
        return python
    _logger.info("Creating RecBole %s venv in %s.", RECBOLE_VERSION, venv)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "--no-deps", f"recbole=={RECBOLE_VERSION}"], check=True)
    subprocess.run([*pip, *RECBOLE_DEPENDENCIES], check=True)
    return python


def _run_measured(command: list[str], env: dict[str, str], log_file: Path) -> tuple[float, float]:
    """Run ``command`` to completion; return (wall seconds, peak RSS in MB) of that child alone."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with open(log_file, "w") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, command))} failed with status {process.returncode}; see {log_file}.")
    return time.perf_counter() - start, usage.ru_maxrss / 1024


def run_recbole(python: Path, model: str, out_dir: Path, threads: int) -> dict:
    env = {**os.environ, "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1", "OMP_NUM_THREADS": str(threads)}
    command = [str(python), str(Path(__file__).resolve()), "worker", "--model", model,
               "--out", str(out_dir), "--threads", str(threads)]
    _run_measured(command, env, out_dir / "worker.log")
    return json.loads((out_dir / "figures.json").read_text())


# avrec configurations compared: the overrides of each table row.
AVREC_RUNS = {
    "BPR": ["encoder=[id]", "head=bpr"],
    # lr 0.005 and l2 0 scored the best validation NDCG@10 among lr 0.001, 0.005, 0.01 and l2 0, 0.001, 0.005.
    "LightGCN": ["encoder=[lightgcn]", "head=bpr", "model.user_tower.id_embedding=false", "trainer.lr=0.005", "head.l2=0.0"],
    "multimodal (default)": ["encoder=[id,text]", "fusion=gated", "head=bpr"],
}


def run_avrec(name: str, overrides: list[str], split_dir: Path, out_dir: Path, threads: int) -> dict:
    run_dir = out_dir / name.split()[0]
    command = [
        sys.executable, "-m", "avrec", "train", "experiment=bpr", *overrides,
        "dataset=ml-100k", "split=fixed", f"split.path={split_dir}", "seed=2020",
        f"trainer.num_threads={threads}", "trainer.progress=false", "trainer.device=cpu",
        f"hydra.run.dir={run_dir}",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    wall, peak = _run_measured(command, env, out_dir / f"{name.split()[0]}.log")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    history = json.loads((run_dir / "history.json").read_text())
    return {
        "model": name,
        "recall@10": metrics["test"]["recall@10"],
        "ndcg@10": metrics["test"]["ndcg@10"],
        "epochs": metrics["epochs"],
        "best_epoch": metrics["best_epoch"],
        "epoch_seconds": [record["seconds"] for record in history],
        "epoch_cpu_seconds": [record["cpu_seconds"] for record in history],
        **time_avrec_evaluation(run_dir, threads),
        "peak_rss_mb": peak,
        "wall_seconds": wall,
        "overrides": overrides,
    }


def time_avrec_evaluation(run_dir: Path, threads: int, repeats: int = 3) -> dict[str, list[float]]:
    """Return wall and CPU seconds of ``repeats`` full test evaluations of a saved run (item vectors included)."""
    import torch

    from avrec.run import evaluate, load_run

    torch.set_num_threads(threads)
    experiment = load_run(run_dir)
    seconds, cpu_seconds = [], []
    for _ in range(repeats):
        start, cpu_start = time.perf_counter(), time.process_time()
        evaluate(experiment, "test")
        seconds.append(time.perf_counter() - start)
        cpu_seconds.append(time.process_time() - cpu_start)
    return {"eval_seconds": seconds, "eval_cpu_seconds": cpu_seconds}


def _ratio(value: float, reference: float) -> str:
    return f"{value / reference:.2f}" if reference else "n/a"


def _median(figures: dict, key: str) -> float:
    return statistics.median(figures[key]) if figures.get(key) else float("nan")


TABLE_HEADER = (
    "| library | model | Recall@10 | NDCG@10 | epochs (best) | s/epoch wall | s/epoch CPU | eval s wall "
    "| eval s CPU | peak RSS MB | NDCG@10 ratio | epoch CPU ratio | epoch wall ratio |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
)


def _table_row(library: str, name: str, figures: dict, reference: dict | None) -> str:
    cells = [
        library, name, f"{figures['recall@10']:.4f}", f"{figures['ndcg@10']:.4f}",
        f"{figures['epochs']} ({figures['best_epoch']})",
        f"{_median(figures, 'epoch_seconds'):.3f}", f"{_median(figures, 'epoch_cpu_seconds'):.3f}",
        f"{_median(figures, 'eval_seconds'):.3f}", f"{_median(figures, 'eval_cpu_seconds'):.3f}",
        f"{figures['peak_rss_mb']:.0f}",
    ]
    if reference is None:
        cells += ["", "", ""]
    else:
        cells += [
            _ratio(figures["ndcg@10"], reference["ndcg@10"]),
            _ratio(_median(figures, "epoch_cpu_seconds"), _median(reference, "epoch_cpu_seconds")),
            _ratio(_median(figures, "epoch_seconds"), _median(reference, "epoch_seconds")),
        ]
    return "| " + " | ".join(cells) + " |"


def render_table(recbole: dict[str, dict], avrec: dict[str, dict]) -> str:
    """Return the Markdown table; avrec rows carry ratios against RecBole's model of the same name.

    Times are medians over epochs (training only, validation excluded) and
    over three full test evaluations. CPU seconds are the process's CPU
    time, which a shared machine distorts less than wall time.
    """
    rows = [_table_row("RecBole 1.2.1", name, figures, None) for name, figures in recbole.items()]
    rows += [_table_row("avrec", name, figures, recbole.get(name)) for name, figures in avrec.items()]
    return TABLE_HEADER + "\n".join(rows) + "\n"


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    worker = sub.add_parser("worker", help="Run one RecBole model (inside the RecBole venv).")
    worker.add_argument("--model", required=True, choices=RECBOLE_MODELS)
    worker.add_argument("--out", type=Path, required=True)
    worker.add_argument("--threads", type=int, default=1)
    parser.add_argument("--venv", type=Path, default=Path("/tmp/recbole-venv"), help="RecBole venv directory.")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/recbole"), help="Output directory.")
    parser.add_argument("--threads", type=int, default=1, help="torch threads on both sides.")
    parser.add_argument("--skip-recbole", action="store_true", help="Reuse RecBole figures already in --out.")
    parser.add_argument("--only", nargs="*", default=None, help="avrec rows to run, by first word (default: all).")
    return parser.parse_args(argv)


def _recbole_figures(args: argparse.Namespace, out: Path) -> dict[str, dict]:
    figures = {}
    for model in RECBOLE_MODELS:
        target = out / "recbole" / model
        if args.skip_recbole:
            if (target / "figures.json").exists():
                figures[model] = json.loads((target / "figures.json").read_text())
            else:
                _logger.warning("No RecBole %s figures in %s, so its rows have no reference.", model, target)
            continue
        python = ensure_recbole_venv(args.venv)
        _logger.info("Running RecBole %s.", model)
        figures[model] = run_recbole(python, model, target, args.threads)
    return figures


def _check_same_split(out: Path) -> Path:
    """Return the split directory after checking that every RecBole model drew the same split."""
    split_dir = out / "recbole" / RECBOLE_MODELS[0] / "split"
    for model in RECBOLE_MODELS[1:]:
        for name in SPLIT_FILES:
            other = out / "recbole" / model / "split" / f"{name}.tsv"
            if other.read_bytes() != (split_dir / f"{name}.tsv").read_bytes():
                raise RuntimeError(f"RecBole's {name} split differs between {RECBOLE_MODELS[0]} and {model}.")
    return split_dir


def _avrec_figures(args: argparse.Namespace, out: Path, split_dir: Path) -> dict[str, dict]:
    previous = out / "avrec.json"
    figures = json.loads(previous.read_text()) if previous.exists() and args.only else {}
    for name, overrides in AVREC_RUNS.items():
        if args.only and name.split()[0] not in args.only:
            continue
        _logger.info("Running avrec %s.", name)
        figures[name] = run_avrec(name, overrides, split_dir, out / "avrec", args.threads)
    previous.write_text(json.dumps(figures, indent=2))
    return figures


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.command == "worker":
        recbole_worker(args.model, args.out, args.threads)
        return 0

    out = args.out.resolve()
    recbole = _recbole_figures(args, out)
    (out / "recbole.json").write_text(json.dumps(recbole, indent=2))
    avrec = _avrec_figures(args, out, _check_same_split(out))

    table = render_table(recbole, avrec)
    (out / "table.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
