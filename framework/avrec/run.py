"""Build an experiment from a config, train it, evaluate it and write the run directory."""

from __future__ import annotations

import json
import logging
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from avrec import distributed
from avrec.cold import cold_items_metrics, evaluate_among
from avrec.config import ResolvedConfig, resolve
from avrec.data.dataset import Dataset
from avrec.errors import ConfigError
from avrec.evaluator import EvalResult, evaluate_split
from avrec.interfaces import BuildContext, Encoder, Split
from avrec.io import atomic_write_json, load_torch
from avrec.model import Recommender, UserTower
from avrec.plugins import get_registry
from avrec.sampling import NegativeSampler, train_matrix
from avrec.trainer import BEST_CHECKPOINT, Trainer, resolve_device

_logger = logging.getLogger(__name__)

METRICS_FILE = "metrics.json"


def seed_everything(seed: int, deterministic: bool = False) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)


def default_cache_dir() -> Path:
    from avrec.data.cache import user_cache_dir

    return user_cache_dir()


@dataclass
class Experiment:
    """Everything built from one config: data, split and model."""

    config: DictConfig
    resolved: ResolvedConfig
    dataset: Dataset
    split: Split
    context: BuildContext
    model: Recommender


def load_data(resolved: ResolvedConfig) -> tuple[Dataset, Split]:
    source_spec, source_config = resolved.components["dataset"]
    dataset = source_spec.load()(source_config).load()
    split_spec, split_config = resolved.components["split"]
    split = split_spec.load()(split_config).split(dataset, resolved.seed)
    _logger.info(
        "Dataset %s: %d users, %d items, %d interactions; split %d/%d/%d.",
        dataset.name, dataset.n_users, dataset.n_items, len(dataset.interactions),
        len(split.train), len(split.valid), len(split.test),
    )
    return dataset, split


def build_model(resolved: ResolvedConfig, context: BuildContext) -> Recommender:
    encoders = {key: spec.load()(config, context) for key, (spec, config) in resolved.encoders.items()}
    fusion_spec, fusion_config = resolved.components["fusion"]
    input_dims = {key: encoder.output_dim for key, encoder in encoders.items()}
    fusion = fusion_spec.load()(fusion_config, input_dims, resolved.model.dim)
    encoders_model_users = any(type(e).user_embeddings is not Encoder.user_embeddings for e in encoders.values())
    _check_history_source(resolved.model.user_tower.history_from, input_dims, fusion.output_dim)
    user_tower = UserTower(
        resolved.model.user_tower, context.dataset.n_users, fusion.output_dim, context.train_matrix,
        encoders_model_users=encoders_model_users,
    )
    head_spec, head_config = resolved.components["head"]
    head = head_spec.load()(head_config, context)
    model = Recommender(encoders, fusion, user_tower, head, context.dataset.n_items)
    return model.to(context.device)


def _check_history_source(source: str, input_dims: dict[str, int], dim: int) -> None:
    # resolve() has checked that the source is fused or a selected encoder.
    if source != "fused" and input_dims[source] != dim:
        raise ConfigError(
            f"Invalid model.user_tower.history_from {source!r}: its output has width {input_dims[source]}, "
            f"the user vectors {dim}. Set encoder.{source}.dim=0 or pool the fused vectors (history_from=fused)."
        )


def build_experiment(cfg: DictConfig, run_dir: Path | None = None) -> Experiment:
    """Validate ``cfg``, load the data, split it and build the model."""
    resolved = resolve(cfg, get_registry())
    seed_everything(resolved.seed, resolved.trainer.deterministic)
    if cfg.get("cache_dir"):
        # Dataset sources and feature caches read the cache root from the environment.
        os.environ["AVREC_CACHE_DIR"] = str(Path(cfg.cache_dir).expanduser().resolve())
    dataset, split = load_data(resolved)
    cache_dir = default_cache_dir()
    context = BuildContext(
        dataset=dataset,
        split=split,
        train_matrix=train_matrix(split.train, dataset.n_users, dataset.n_items),
        dim=resolved.model.dim,
        cache_dir=cache_dir,
        device=resolve_device(resolved.trainer.device),
        seed=resolved.seed,
        run_dir=run_dir,
    )
    model = build_model(resolved, context)
    if resolved.trainer.num_threads > 0:
        torch.set_num_threads(resolved.trainer.num_threads)
    return Experiment(cfg, resolved, dataset, split, context, model)


def evaluate(experiment: Experiment, phase: str) -> EvalResult:
    """Full-ranking evaluation of the experiment's model on ``phase`` (valid or test).

    When the split holds out validation items (``split=cold_items`` with
    ``validate_on=cold``), validation ranks only those items.
    """
    model = experiment.model
    model.eval()
    with torch.no_grad():
        item_vectors = model.item_vectors()

    def score(users: torch.Tensor) -> torch.Tensor:
        return model.score_users(users.to(experiment.context.device), item_vectors).float().cpu()

    cfg = experiment.resolved.eval
    split = experiment.split
    if phase == "valid" and split.valid_cold_items is not None:
        result, _, _ = evaluate_among(
            score, candidates=split.valid_cold_items, truth=split.valid, seen=[split.train],
            n_users=experiment.dataset.n_users, n_items=experiment.dataset.n_items,
            ks=cfg.ks, metrics=cfg.metrics, batch_size=cfg.batch_size,
        )
        return result
    return evaluate_split(
        score,
        train=split.train,
        valid=split.valid,
        test=split.test,
        n_users=experiment.dataset.n_users,
        n_items=experiment.dataset.n_items,
        phase=phase,
        mask_valid_in_test=cfg.mask_valid_in_test,
        ks=cfg.ks,
        metrics=cfg.metrics,
        batch_size=cfg.batch_size,
    )


def _metric_block(result) -> dict[str, float | None]:
    """Metric values as JSON-safe floats; NaN (no user could be evaluated) becomes null."""
    return {key: (None if np.isnan(value) else float(value)) for key, value in result.metrics.items()}


def checkpoint_extra(experiment: Experiment) -> dict[str, Any]:
    return {
        "id_maps": {"users": experiment.dataset.users.to_json(), "items": experiment.dataset.items.to_json()},
        "config": OmegaConf.to_container(experiment.config, resolve=True),
    }


def train(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    """Train and evaluate one experiment, writing the checkpoint and metrics.json to ``run_dir``."""
    start = time.perf_counter()
    run_dir = Path(run_dir)
    experiment = build_experiment(cfg, run_dir)
    trainer = Trainer(
        experiment.model,
        experiment.resolved.trainer,
        experiment.split,
        NegativeSampler(experiment.context.train_matrix, np.random.default_rng(experiment.resolved.seed + 1)),
        lambda _model: _metric_block(evaluate(experiment, "valid")),
        run_dir,
        experiment.resolved.seed,
        experiment.context.device,
        checkpoint_extra=checkpoint_extra(experiment),
    )
    result = trainer.fit()
    if not distributed.is_main_process():
        # Under torchrun rank 0 alone evaluates and writes; the other ranks return its metrics.
        return distributed.broadcast_object(None)
    metrics = collect_metrics(experiment)
    metrics.update(
        wall_seconds=round(time.perf_counter() - start, 3),
        epochs=result.epochs,
        best_epoch=result.best_epoch,
    )
    atomic_write_json(run_dir / METRICS_FILE, metrics)
    atomic_write_json(run_dir / "history.json", result.history)
    _logger.info("Test %s", json.dumps(metrics["test"]))
    return distributed.broadcast_object(metrics)


def collect_metrics(experiment: Experiment) -> dict[str, Any]:
    """Evaluate valid and test and gather the extra blocks heads and encoders report."""
    test = evaluate(experiment, "test")
    valid = evaluate(experiment, "valid")
    metrics: dict[str, Any] = {
        "test": _metric_block(test),
        "valid": _metric_block(valid),
        "n_users_evaluated": test.n_users_evaluated,
        "n_users_skipped": test.n_users_skipped,
    }
    metrics["test"].update(experiment.model.head.metrics(experiment.model, experiment.split))
    for encoder in experiment.model.encoders.values():
        metrics.update(encoder.metrics())
    metrics.update(experiment.model.fusion.metrics(experiment.model))
    metrics.update(cold_items_metrics(experiment))
    return metrics


def load_run(run_dir: Path, overrides: dict[str, Any] | None = None) -> Experiment:
    """Rebuild a saved run's experiment from its resolved config and load its best checkpoint."""
    from avrec.errors import ResumeError

    run_dir = Path(run_dir)
    config_file = run_dir / ".hydra" / "config.yaml"
    if not config_file.exists():
        raise ResumeError(f"{run_dir} is not an avrec run directory: {config_file} is missing.")
    cfg = OmegaConf.load(config_file)
    for key, value in (overrides or {}).items():
        OmegaConf.update(cfg, key, value, force_add=True)
    experiment = build_experiment(cfg, run_dir)
    state = load_torch(run_dir / BEST_CHECKPOINT, map_location=experiment.context.device)
    saved_items = state.get("id_maps", {}).get("items")
    if saved_items is not None and saved_items != experiment.dataset.items.to_json():
        raise ResumeError(
            f"The item ids in {run_dir / BEST_CHECKPOINT} differ from the dataset's; "
            f"the data changed since the run was trained."
        )
    experiment.model.load_state_dict(state["model"])
    experiment.model.eval()
    return experiment
