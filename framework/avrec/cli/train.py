"""``avrec train``: a Hydra application over the bundled config tree."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from avrec.cli.hydra_app import VERSION_BASE, preflight, register_structured_presets, search_path_override
from avrec.distributed import prepare_launch
from avrec.errors import AvrecError
from avrec.paths import config_dir

_logger = logging.getLogger(__name__)

HYDRA_FLAGS_WITH_VALUE = {
    "--config-path", "-cp", "--config-name", "-cn", "--config-dir", "-cd",
    "--info", "-i", "--cfg", "-c", "--package", "-p", "--experimental-rerun",
}


def _overrides(args: list[str]) -> list[str]:
    overrides, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg in HYDRA_FLAGS_WITH_VALUE:
            skip = True
        elif not arg.startswith("-"):
            overrides.append(arg)
    return overrides


def _task(cfg: DictConfig) -> float:
    from avrec.run import train

    run_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        metrics = train(cfg, run_dir)
    except AvrecError as error:
        _log_to_files(f"avrec train: error: {error}")
        print(f"avrec train: error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    _logger.info("Wrote the run directory %s (metrics.json, checkpoints/best.pt, train.log).", run_dir)
    metric = cfg.trainer.get("valid_metric", "ndcg@10")
    return float(metrics["test"].get(metric, float("nan")))


def _log_to_files(message: str) -> None:
    """Write an error record to the log files only, because stderr already shows the message once."""
    record = _logger.makeRecord(_logger.name, logging.ERROR, __file__, 0, message, (), None)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)


def run(command: str, args: list[str]) -> int:
    """Validate the overrides, then hand the arguments to Hydra."""
    wants_help = any(a in ("--help", "-h", "--hydra-help", "--cfg", "-c", "--info", "-i") for a in args)
    if not wants_help:
        preflight(_overrides(args))
        args = [*args, *prepare_launch(args, _overrides(args))]
    register_structured_presets()
    app = hydra.main(config_path=str(config_dir()), config_name="config", version_base=VERSION_BASE)(_task)
    sys.argv = ["avrec train", *args, search_path_override()]
    app()
    return 0
