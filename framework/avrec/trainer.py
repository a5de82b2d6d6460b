"""Mini-batch training with early stopping on a validation metric."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from avrec.config import TrainerConfig
from avrec.errors import ConfigError, NonFiniteLossError
from avrec.interfaces import Split
from avrec.io import save_torch
from avrec.model import Recommender
from avrec.sampling import NegativeSampler, iterate_batches

_logger = logging.getLogger(__name__)

BEST_CHECKPOINT = "checkpoints/best.pt"


def resolve_device(name: str) -> torch.device:
    """Map ``auto`` to CUDA when available, else CPU; pass other names to torch."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(name)
    except RuntimeError as error:
        raise ConfigError(f"Invalid trainer.device '{name}': {error}. Use auto, cpu or cuda.") from error


def make_optimizer(config: TrainerConfig, params) -> torch.optim.Optimizer:
    optimizers = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}
    if config.optimizer not in optimizers:
        raise ConfigError(
            f"Invalid trainer.optimizer '{config.optimizer}'. Valid values: {', '.join(optimizers)}."
        )
    return optimizers[config.optimizer](params, lr=config.lr, weight_decay=config.weight_decay)


@dataclass
class TrainResult:
    """Outcome of :meth:`Trainer.fit`."""

    epochs: int = 0
    best_epoch: int = 0
    best_score: float = float("-inf")
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0


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

    @property
    def trainable(self) -> bool:
        has_params = any(p.requires_grad for p in self.model.parameters())
        return has_params and self.model.head.sampler != "none" and self.config.epochs > 0

    def fit(self) -> TrainResult:
        """Train until ``epochs`` or early stopping; keep the best model in memory and on disk."""
        result = TrainResult()
        start = time.perf_counter()
        if not self.trainable:
            self._save_best(result)
            return result
        optimizer = make_optimizer(self.config, [p for p in self.model.parameters() if p.requires_grad])
        best_state, stale = None, 0
        for epoch in range(1, self.config.epochs + 1):
            loss = self._train_epoch(optimizer, epoch)
            result.epochs = epoch
            record = {"epoch": epoch, "loss": loss}
            if epoch % self.config.eval_every == 0 or epoch == self.config.epochs:
                scores = self.validate(self.model)
                record.update(scores)
                score = self._valid_score(scores)
                if score > result.best_score:
                    result.best_score, result.best_epoch, stale = score, epoch, 0
                    best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
                    self._save_best(result)
                else:
                    stale += 1
                _logger.info("epoch %d loss %.4f valid %s %.4f", epoch, loss, self.config.valid_metric, score)
            result.history.append(record)
            if self.config.early_stopping_patience and stale >= self.config.early_stopping_patience:
                _logger.info("Early stopping at epoch %d; best epoch %d.", epoch, result.best_epoch)
                break
        if best_state is not None:
            self.model.load_state_dict(best_state)
        result.seconds = time.perf_counter() - start
        return result

    def _valid_score(self, scores: dict[str, float]) -> float:
        key = self.config.valid_metric
        if key not in scores:
            raise ConfigError(
                f"trainer.valid_metric '{key}' is not computed. Computed metrics: {', '.join(sorted(scores))}."
            )
        return scores[key]

    def _train_epoch(self, optimizer: torch.optim.Optimizer, epoch: int) -> float:
        self.model.train()
        batches = iterate_batches(
            self.split.train, self.sampler, self.model.head.sampler, self.config.batch_size, self.rng,
            negatives=getattr(self.model.head.config, "negatives", 1), device=self.device,
        )
        total = math.ceil(len(self.split.train) / self.config.batch_size)
        progress = tqdm(batches, total=total, desc=f"epoch {epoch}", disable=not self.config.progress, leave=False)
        losses = []
        for step, batch in enumerate(progress, start=1):
            loss = self.model.loss(batch)
            if not torch.isfinite(loss):
                raise NonFiniteLossError(
                    f"Loss became {loss.item()} at epoch {epoch}, step {step}. "
                    f"Lower trainer.lr (now {self.config.lr}) or set trainer.grad_clip."
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if self.config.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
            optimizer.step()
            losses.append(loss.item())
        self.model.eval()
        return float(np.mean(losses)) if losses else float("nan")

    def _save_best(self, result: TrainResult) -> None:
        payload = {
            "model": self.model.state_dict(),
            "epoch": result.best_epoch,
            "score": result.best_score,
            **self.checkpoint_extra,
        }
        save_torch(self.run_dir / BEST_CHECKPOINT, payload)
