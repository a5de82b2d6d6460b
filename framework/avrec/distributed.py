"""torch.distributed helpers: process group set-up, data sharding and rank-0 coordination.

``torchrun --nproc_per_node=N -m avrec train trainer=ddp ...`` starts N
processes with ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and
``MASTER_PORT`` set. :func:`prepare_launch` joins the process group before
Hydra starts and makes every rank write to the run directory that rank 0
picked. Every helper here is a no-op in a single process.
"""

from __future__ import annotations

import atexit
import logging
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from avrec.errors import ConfigError

_logger = logging.getLogger(__name__)

BACKENDS = ("auto", "gloo", "nccl")


def launched_with_several_processes() -> bool:
    """Return True when a launcher such as torchrun started more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main_process() -> bool:
    return rank() == 0


def choose_backend(name: str, device: str) -> str:
    """Map ``auto`` to nccl when the run uses CUDA, else gloo; check explicit names."""
    if name not in BACKENDS:
        raise ConfigError(f"Invalid trainer.dist_backend '{name}'. Valid values: {', '.join(BACKENDS)}.")
    if name != "auto":
        return name
    uses_cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    return "nccl" if uses_cuda else "gloo"


def init_process_group(backend: str) -> None:
    """Join the process group described by torchrun's environment variables."""
    if dist.is_initialized():
        return
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend=backend)
    atexit.register(_destroy)
    _logger.info("Joined process group: rank %d of %d, backend %s.", dist.get_rank(), dist.get_world_size(), backend)


def _destroy() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def shard_order(order: np.ndarray, shard: int, shards: int) -> np.ndarray:
    """Return the rows of ``order`` that rank ``shard`` of ``shards`` visits.

    Same semantics as ``torch.utils.data.DistributedSampler`` with
    ``drop_last=False``: ``order`` is padded with its own first rows to a
    multiple of ``shards``, then rank r takes positions r, r + shards, ...
    so every rank runs the same number of steps.
    """
    if shards <= 1:
        return order
    total = -(-len(order) // shards) * shards
    padding = total - len(order)
    if padding:
        order = np.concatenate([order, np.resize(order, padding)])
    return order[shard:total:shards]


def broadcast_object(value: Any) -> Any:
    """Return rank 0's ``value`` on every rank."""
    if not is_distributed():
        return value
    holder = [value]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]


def gather_objects(value: Any) -> list[Any]:
    """Return every rank's ``value`` as a list indexed by rank (on every rank)."""
    if not is_distributed():
        return [value]
    values: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(values, value)
    return values


def mean_over_ranks(value: float) -> float:
    if not is_distributed():
        return value
    tensor = torch.tensor([value], dtype=torch.float64)
    if dist.get_backend() == "nccl":
        tensor = tensor.cuda()
    dist.all_reduce(tensor)
    return float(tensor.item()) / dist.get_world_size()


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def _override_value(overrides: list[str], key: str) -> str | None:
    for text in overrides:
        if text.startswith(f"{key}="):
            return text.split("=", 1)[1]
    return None


def prepare_launch(args: list[str], overrides: list[str]) -> list[str]:
    """Return extra Hydra overrides for a resumed or multi-process ``avrec train``.

    A resumed run writes into the directory it resumes unless
    ``hydra.run.dir`` names another one. Under torchrun every rank joins the
    process group here, rank 0 picks the run directory and broadcasts it,
    and ranks other than 0 write their log to ``train_rank<r>.log`` and skip
    Hydra's ``.hydra`` config copy.
    """
    extra: list[str] = []
    run_dir = _override_value(overrides, "hydra.run.dir")
    resume = _override_value(overrides, "trainer.resume")
    if resume not in (None, "null"):
        if not (Path(resume) / ".hydra" / "config.yaml").exists():
            from avrec.errors import ResumeError

            raise ResumeError(
                f"Cannot resume {resume}: it is not an avrec run directory ({resume}/.hydra/config.yaml is missing)."
            )
        if run_dir is None:
            run_dir = resume
            extra.append(f"hydra.run.dir={resume}")
    if not launched_with_several_processes():
        return extra
    return extra + _join_and_share_run_dir(args, overrides, run_dir)


def _join_and_share_run_dir(args: list[str], overrides: list[str], run_dir: str | None) -> list[str]:
    from avrec.cli.hydra_app import compose_config

    if "-m" in args or "--multirun" in args:
        raise ConfigError("A multirun sweep cannot run under torchrun; launch one torchrun per configuration.")
    cfg = compose_config([o for o in overrides if not o.startswith("hydra")])
    if not cfg.trainer.get("distributed", False):
        raise ConfigError(
            f"avrec train was started as {os.environ['WORLD_SIZE']} processes but trainer.distributed is false. "
            f"Add trainer=ddp (or trainer.distributed=true)."
        )
    init_process_group(choose_backend(str(cfg.trainer.dist_backend), str(cfg.trainer.device)))
    chosen = run_dir or datetime.now().strftime("outputs/%Y-%m-%d/%H-%M-%S")
    chosen = broadcast_object(chosen)
    extra = [] if run_dir is not None else [f"hydra.run.dir={chosen}"]
    if not is_main_process():
        extra += [
            "hydra.output_subdir=null",
            f"hydra.job_logging.handlers.file.filename={Path(chosen) / f'train_rank{rank()}.log'}",
        ]
    return extra
