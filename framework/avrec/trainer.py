"""Mini-batch training with early stopping, exact resume, TensorBoard scalars and DDP.

``checkpoints/last.pt`` contains everything a resumed run needs to continue
bit for bit: model, optimiser and scheduler states, the Python, NumPy and
torch random states, the trainer's and the negative sampler's NumPy
generators, the epoch, the step within it and the early-stopping record.
It is written atomically with a SHA-256 sidecar at every epoch end and,
with ``trainer.checkpoint_every=N``, every N training steps.

Under torchrun with ``trainer.distributed=true`` each rank trains on its own
shard of every epoch's permutation through DistributedDataParallel;
validation, checkpoints and TensorBoard run on rank 0 only.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from avrec import distributed
from avrec.config import LR_SCHEDULES, OPTIMIZERS, TrainerConfig
from avrec.errors import ConfigError, DataError, NonFiniteLossError, ResumeError
from avrec.interfaces import Split
from avrec.io import load_torch, save_torch
from avrec.model import Recommender
from avrec.sampling import NegativeSampler, iterate_batches

_logger = logging.getLogger(__name__)

BEST_CHECKPOINT = "checkpoints/best.pt"
LAST_CHECKPOINT = "checkpoints/last.pt"
TENSORBOARD_DIR = "tensorboard"
# Config sections that must match between a checkpoint and the run that resumes it.
RESUME_MUST_MATCH = ("dataset", "split", "encoder", "fusion", "head", "model", "seed")


def resolve_device(name: str) -> torch.device:
    """Map ``auto`` to CUDA when available, else CPU; pass other names to torch."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise ConfigError(f"Invalid trainer.device '{name}': {error}. Use auto, cpu or cuda.") from error
    if device.type == "cuda":
        count = torch.cuda.device_count()
        if count == 0 or (device.index is not None and device.index >= count):
            raise ConfigError(
                f"trainer.device '{name}' is not available: this machine has {count} CUDA device(s). "
                f"Use trainer.device=auto or cpu."
            )
    return device


def make_optimizer(config: TrainerConfig, params) -> torch.optim.Optimizer:
    optimizers = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}
    if config.optimizer not in optimizers:
        raise ConfigError(
            f"Invalid trainer.optimizer '{config.optimizer}'. Valid values: {', '.join(OPTIMIZERS)}."
        )
    return optimizers[config.optimizer](params, lr=config.lr, weight_decay=config.weight_decay)


def make_scheduler(
    config: TrainerConfig, optimizer: torch.optim.Optimizer, total_steps: int
) -> torch.optim.lr_scheduler.LRScheduler | None:
    """Return the per-step learning-rate schedule, or None for a constant rate."""
    if config.lr_schedule not in LR_SCHEDULES:
        raise ConfigError(
            f"Invalid trainer.lr_schedule '{config.lr_schedule}'. Valid values: {', '.join(LR_SCHEDULES)}."
        )
    if config.lr_schedule == "constant":
        return None
    return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(total_steps, 1))


@dataclass
class TrainResult:
    """Outcome of :meth:`Trainer.fit`."""

    epochs: int = 0
    best_epoch: int = 0
    best_score: float = float("-inf")
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class Progress:
    """Position in training, saved in every checkpoint.

    ``epoch`` counts completed epochs and ``step_in_epoch`` the steps done in
    the next one. ``epoch_rng_state`` is the trainer generator's state before
    that epoch's permutation was drawn, so a resumed run redraws the same one.
    """

    epoch: int = 0
    step_in_epoch: int = 0
    global_step: int = 0
    stale_evaluations: int = 0
    epoch_losses: list[float] = field(default_factory=list)
    epoch_rng_state: dict | None = None


class LossModule(nn.Module):
    """Computes the training loss in ``forward`` so that DistributedDataParallel can wrap it."""

    def __init__(self, model: Recommender) -> None:
        super().__init__()
        self.model = model

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.model.loss(batch)


class Trainer:
    """Trains a :class:`Recommender`, evaluating on validation after each epoch."""

    def __init__(
        self,
        model: Recommender,
        config: TrainerConfig,
        split: Split,
        sampler: NegativeSampler,
        validate: Callable[[Recommender], dict[str, float]],
        run_dir: Path,
        seed: int,
        device: torch.device,
        checkpoint_extra: dict | None = None,
    ) -> None:
        self.model = model
        self.config = config
        self.split = split
        self.sampler = sampler
        self.validate = validate
        self.run_dir = Path(run_dir)
        self.device = device
        self.rng = np.random.default_rng(seed)
        self.checkpoint_extra = dict(checkpoint_extra or {})
        self.rank = distributed.rank()
        self.world_size = distributed.world_size()
        if self.world_size > 1:
            # Every rank draws the same permutation from self.rng but its own negatives.
            self.sampler.rng = np.random.default_rng([seed + 1, self.rank])
        self.optimizer: torch.optim.Optimizer | None = None
        self.scheduler: torch.optim.lr_scheduler.LRScheduler | None = None
        self.loss_module: nn.Module | None = None

    @property
    def trainable(self) -> bool:
        has_params = any(p.requires_grad for p in self.model.parameters())
        return has_params and self.model.head.sampler != "none" and self.config.epochs > 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def rank_batch_size(self) -> int:
        """Rows per step on each rank: ``trainer.batch_size`` is the global batch, split over the ranks."""
        return max(1, self.config.batch_size // self.world_size)

    def steps_per_epoch(self) -> int:
        rows = math.ceil(len(self.split.train) / self.world_size)
        return math.ceil(rows / self.rank_batch_size)

    def fit(self) -> TrainResult:
        """Train until ``epochs`` or early stopping; keep the best model in memory and on disk."""
        result = TrainResult()
        start = time.perf_counter()
        if not self.trainable:
            if self.is_main:
                self._save_best(result)
            return result
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = make_optimizer(self.config, params)
        self.scheduler = make_scheduler(self.config, self.optimizer, self.config.epochs * self.steps_per_epoch())
        progress, best_state = Progress(), None
        if self.config.resume:
            progress, best_state = self._resume(result)
        self.loss_module = self._wrap_for_ddp(LossModule(self.model))
        writer = self._open_writer(purge_step=progress.epoch + 1 if self.config.resume else None)
        try:
            while progress.epoch < self.config.epochs and not self._should_stop(progress):
                best_state = self._run_epoch(progress, result, best_state, writer)
        finally:
            if writer is not None:
                writer.close()
        if best_state is not None:
            self.model.load_state_dict(best_state)
        result.seconds = time.perf_counter() - start
        return result

    def _should_stop(self, progress: Progress) -> bool:
        patience = self.config.early_stopping_patience
        return bool(patience) and progress.stale_evaluations >= patience

    def _run_epoch(self, progress: Progress, result: TrainResult, best_state: dict | None, writer) -> dict | None:
        epoch = progress.epoch + 1
        start, cpu_start = time.perf_counter(), time.process_time()
        loss = self._train_epoch(epoch, progress, result, best_state)
        record: dict[str, Any] = {
            "epoch": epoch,
            "loss": loss,
            "seconds": round(time.perf_counter() - start, 4),
            "cpu_seconds": round(time.process_time() - cpu_start, 4),
        }
        progress.epoch, progress.step_in_epoch = epoch, 0
        progress.epoch_losses, progress.epoch_rng_state = [], None
        if epoch % self.config.eval_every == 0 or epoch == self.config.epochs:
            scores = self._validate()
            record.update(scores)
            score = self._valid_score(scores)
            if score > result.best_score:
                result.best_score, result.best_epoch, progress.stale_evaluations = score, epoch, 0
                best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
                if self.is_main:
                    self._save_best(result)
            else:
                progress.stale_evaluations += 1
            _logger.info("epoch %d loss %.4f valid %s %.4f", epoch, loss, self.config.valid_metric, score)
        result.history.append(record)
        result.epochs = epoch
        self._write_scalars(writer, record)
        self._save_last(progress, result, best_state)
        if self._should_stop(progress):
            _logger.info("Early stopping at epoch %d; best epoch %d.", epoch, result.best_epoch)
        return best_state

    def _valid_score(self, scores: dict[str, float]) -> float:
        key = self.config.valid_metric
        if key not in scores:
            raise ConfigError(
                f"trainer.valid_metric '{key}' is not computed. Computed metrics: {', '.join(sorted(scores))}."
            )
        return scores[key]

    def _validate(self) -> dict[str, float]:
        scores = self.validate(self.model) if self.is_main else None
        return distributed.broadcast_object(scores)

    def _epoch_order(self, progress: Progress) -> np.ndarray:
        """Draw this epoch's permutation and return this rank's shard, minus the steps already done."""
        if progress.epoch_rng_state is None:
            progress.epoch_rng_state = self.rng.bit_generator.state
        else:
            self.rng.bit_generator.state = progress.epoch_rng_state
        order = self.rng.permutation(len(self.split.train))
        order = distributed.shard_order(order, self.rank, self.world_size)
        return order[progress.step_in_epoch * self.rank_batch_size :]

    def _train_epoch(self, epoch: int, progress: Progress, result: TrainResult, best_state: dict | None) -> float:
        self.model.train()
        batches = iterate_batches(
            self.split.train, self.sampler, self.model.head.sampler, self.rank_batch_size, self.rng,
            negatives=getattr(self.model.head.config, "negatives", 1), device=self.device,
            order=self._epoch_order(progress),
        )
        total = self.steps_per_epoch()
        show = self.config.progress and self.is_main
        bar = tqdm(batches, total=total, initial=progress.step_in_epoch, desc=f"epoch {epoch}", disable=not show, leave=False)
        every = self.config.checkpoint_every
        for batch in bar:
            progress.epoch_losses.append(self._step(batch, epoch, progress.step_in_epoch + 1))
            progress.step_in_epoch += 1
            progress.global_step += 1
            if every > 0 and progress.global_step % every == 0 and progress.step_in_epoch < total:
                self._save_last(progress, result, best_state)
        self.model.eval()
        loss = float(np.mean(progress.epoch_losses)) if progress.epoch_losses else float("nan")
        return distributed.mean_over_ranks(loss)

    def _step(self, batch: dict[str, torch.Tensor], epoch: int, step: int) -> float:
        loss = self.loss_module(batch)
        if not torch.isfinite(loss):
            raise NonFiniteLossError(
                f"Loss became {loss.item()} at epoch {epoch}, step {step}. "
                f"Lower trainer.lr (now {self.config.lr}) or set trainer.grad_clip."
            )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.config.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()
        return loss.item()

    def _wrap_for_ddp(self, module: LossModule) -> nn.Module:
        if not distributed.is_distributed():
            return module
        from torch.nn.parallel import DistributedDataParallel

        # Buffers (graph adjacency, masks, popularity) are derived from the same data on every
        # rank, and sparse ones cannot be broadcast, so DDP synchronises parameters only.
        buffers = [name for name, _ in module.named_buffers()]
        DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(module, buffers)
        device_ids = None
        if self.device.type == "cuda":
            device_ids = [self.device.index if self.device.index is not None else torch.cuda.current_device()]
        return DistributedDataParallel(
            module,
            device_ids=device_ids,
            find_unused_parameters=self.config.find_unused_parameters,
            broadcast_buffers=False,
        )

    # Checkpoints ----------------------------------------------------------------------------

    def _save_best(self, result: TrainResult) -> None:
        payload = {
            "model": self.model.state_dict(),
            "epoch": result.best_epoch,
            "score": result.best_score,
            **self.checkpoint_extra,
        }
        save_torch(self.run_dir / BEST_CHECKPOINT, payload)

    def _random_states(self) -> dict[str, Any]:
        return {
            "python": random.getstate(),
            "numpy": np.random.get_state(),
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            "sampler": self.sampler.rng.bit_generator.state,
        }

    def _save_last(self, progress: Progress, result: TrainResult, best_state: dict | None) -> None:
        """Write ``checkpoints/last.pt`` from rank 0 with every rank's random states."""
        states_by_rank = distributed.gather_objects(self._random_states())
        if not self.is_main:
            return
        payload = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "progress": dataclasses.asdict(progress),
            "result": {
                "epochs": result.epochs,
                "best_epoch": result.best_epoch,
                "best_score": result.best_score,
                "history": result.history,
            },
            "best_state": best_state,
            "trainer_rng": self.rng.bit_generator.state,
            "random_states": states_by_rank,
            "world_size": self.world_size,
            **self.checkpoint_extra,
        }
        save_torch(self.run_dir / LAST_CHECKPOINT, payload)

    def _resume(self, result: TrainResult) -> tuple[Progress, dict | None]:
        """Restore the state saved in ``<trainer.resume>/checkpoints/last.pt``."""
        path = Path(self.config.resume) / LAST_CHECKPOINT
        if not path.exists():
            _logger.warning("No checkpoint at %s, so the resumed run starts at epoch 1.", path)
            return Progress(), None
        try:
            state = load_torch(path, map_location="cpu")
        except DataError as error:
            raise ResumeError(f"Cannot resume from {path}: {error}") from None
        self._check_compatible(state, path)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state["scheduler"] is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        for key, value in state["result"].items():
            setattr(result, key, value)
        self.rng.bit_generator.state = state["trainer_rng"]
        self._restore_random_states(state["random_states"], state["world_size"], path)
        progress = Progress(**state["progress"])
        _logger.info("Resumed from %s after epoch %d, step %d.", path, progress.epoch, progress.step_in_epoch)
        return progress, state["best_state"]

    def _restore_random_states(self, states_by_rank: list[dict], saved_world_size: int, path: Path) -> None:
        if saved_world_size != self.world_size:
            _logger.warning(
                "%s was written by %d processes and this run has %d, so only rank 0's random states are restored "
                "and the run will not repeat the interrupted one exactly.",
                path, saved_world_size, self.world_size,
            )
        states = states_by_rank[self.rank] if self.rank < len(states_by_rank) else states_by_rank[0]
        random.setstate(states["python"])
        np.random.set_state(states["numpy"])
        torch.set_rng_state(states["torch"])
        if states["cuda"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(states["cuda"])
        self.sampler.rng.bit_generator.state = states["sampler"]

    def _check_compatible(self, state: dict, path: Path) -> None:
        saved, current = state.get("config") or {}, self.checkpoint_extra.get("config") or {}
        changed = [key for key in RESUME_MUST_MATCH if saved.get(key) != current.get(key)]
        if changed:
            raise ResumeError(
                f"Cannot resume from {path}: the config sections {', '.join(changed)} differ from the "
                f"checkpoint's. Resume with the original overrides, or start a new run."
            )
        saved_items = (state.get("id_maps") or {}).get("items")
        current_items = (self.checkpoint_extra.get("id_maps") or {}).get("items")
        if saved_items is not None and current_items is not None and saved_items != current_items:
            raise ResumeError(f"Cannot resume from {path}: the dataset's item ids changed since it was written.")

    # TensorBoard ----------------------------------------------------------------------------

    def _open_writer(self, purge_step: int | None):
        if not (self.config.tensorboard and self.is_main):
            return None
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            _logger.warning("tensorboard is not installed, so no scalars are written. Install it with pip install tensorboard.")
            return None
        # purge_step drops events a killed run logged after its last checkpoint.
        return SummaryWriter(log_dir=str(self.run_dir / TENSORBOARD_DIR), purge_step=purge_step)

    def _write_scalars(self, writer, record: dict[str, Any]) -> None:
        if writer is None:
            return
        epoch = record["epoch"]
        writer.add_scalar("train/loss", record["loss"], epoch)
        writer.add_scalar("train/lr", self.optimizer.param_groups[0]["lr"], epoch)
        writer.add_scalar("train/epoch_seconds", record["seconds"], epoch)
        for key, value in record.items():
            if key not in ("epoch", "loss", "seconds", "cpu_seconds"):
                writer.add_scalar(f"valid/{key}", value, epoch)
        writer.flush()
