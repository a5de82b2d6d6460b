"""Trainer checkpoints: exact resume after a crash, rejection of bad checkpoints, TensorBoard scalars."""

from __future__ import annotations

import logging

import pytest
import torch

from avrec.config import TrainerConfig
from avrec.errors import ResumeError
from avrec.io import load_torch, load_torch_or_rebuild, save_torch
from avrec.trainer import LAST_CHECKPOINT, TENSORBOARD_DIR, Trainer
from scale_toy import toy_trainer


def _config(**overrides) -> TrainerConfig:
    # 12 training rows in batches of 4: three steps per epoch.
    settings = dict(
        epochs=3, batch_size=4, lr=0.05, progress=False, tensorboard=False, checkpoint_every=1,
        early_stopping_patience=0, lr_schedule="cosine", device="cpu",
    )
    settings.update(overrides)
    return TrainerConfig(**settings)


def _crash_at_step(monkeypatch, crash_step: int) -> None:
    original = Trainer._step
    calls = {"count": 0}

    def crashing(self, *args):
        calls["count"] += 1
        if calls["count"] == crash_step:
            raise KeyboardInterrupt
        return original(self, *args)

    monkeypatch.setattr(Trainer, "_step", crashing)


def test_crash_mid_epoch_resumes_exactly(tmp_path, monkeypatch):
    whole = toy_trainer(tmp_path, tmp_path / "whole", _config())
    whole_result = whole.fit()
    crashed = toy_trainer(tmp_path, tmp_path / "crashed", _config())
    _crash_at_step(monkeypatch, crash_step=5)
    with pytest.raises(KeyboardInterrupt):
        crashed.fit()
    monkeypatch.undo()
    saved = load_torch(tmp_path / "crashed" / LAST_CHECKPOINT)
    # Steps 1-4 finished: epoch 1 (three steps) plus one step of epoch 2.
    assert saved["progress"]["epoch"] == 1
    assert saved["progress"]["step_in_epoch"] == 1

    resumed = toy_trainer(tmp_path, tmp_path / "crashed", _config(resume=str(tmp_path / "crashed")))
    resumed_result = resumed.fit()
    for name, value in whole.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[name], value), name
    assert [r["loss"] for r in resumed_result.history] == [r["loss"] for r in whole_result.history]
    assert resumed_result.best_epoch == whole_result.best_epoch
    assert resumed.optimizer.param_groups[0]["lr"] == whole.optimizer.param_groups[0]["lr"]


def test_truncated_checkpoint_rejected_by_path(tmp_path):
    toy_trainer(tmp_path, tmp_path / "run", _config()).fit()
    checkpoint = tmp_path / "run" / LAST_CHECKPOINT
    checkpoint.write_bytes(checkpoint.read_bytes()[:100])
    resumed = toy_trainer(tmp_path, tmp_path / "run", _config(resume=str(tmp_path / "run")))
    with pytest.raises(ResumeError, match="truncated") as error:
        resumed.fit()
    assert str(checkpoint) in str(error.value)


def test_missing_sidecar_rejected(tmp_path):
    toy_trainer(tmp_path, tmp_path / "run", _config()).fit()
    (tmp_path / "run" / (LAST_CHECKPOINT + ".sha256")).unlink()
    resumed = toy_trainer(tmp_path, tmp_path / "run", _config(resume=str(tmp_path / "run")))
    with pytest.raises(ResumeError, match="sha256"):
        resumed.fit()


def test_changed_config_rejected(tmp_path):
    toy_trainer(tmp_path, tmp_path / "run", _config()).fit()
    other = {"config": {"seed": 1, "model": {"dim": 4}}}
    resumed = toy_trainer(tmp_path, tmp_path / "run", _config(resume=str(tmp_path / "run")), extra=other)
    with pytest.raises(ResumeError, match="seed"):
        resumed.fit()


def test_finished_run_resume_trains_nothing(tmp_path):
    whole = toy_trainer(tmp_path, tmp_path / "run", _config())
    whole.fit()
    resumed = toy_trainer(tmp_path, tmp_path / "run", _config(resume=str(tmp_path / "run")))
    result = resumed.fit()
    assert result.epochs == 3
    for name, value in whole.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[name], value), name


def test_resume_without_checkpoint_starts_over(tmp_path, caplog):
    (tmp_path / "empty").mkdir()
    trainer = toy_trainer(tmp_path, tmp_path / "empty", _config(resume=str(tmp_path / "empty")))
    with caplog.at_level(logging.WARNING, logger="avrec.trainer"):
        result = trainer.fit()
    assert result.epochs == 3
    assert "starts at epoch 1" in caplog.text


def test_tensorboard_scalars_per_epoch(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    toy_trainer(tmp_path, tmp_path / "run", _config(tensorboard=True)).fit()
    events = EventAccumulator(str(tmp_path / "run" / TENSORBOARD_DIR))
    events.Reload()
    assert [event.step for event in events.Scalars("train/loss")] == [1, 2, 3]
    assert [event.step for event in events.Scalars("valid/ndcg@10")] == [1, 2, 3]


def test_invalid_cache_rebuilt(tmp_path, caplog):
    path = tmp_path / "features.pt"
    save_torch(path, torch.ones(3))
    path.write_bytes(path.read_bytes()[:-5])
    with caplog.at_level(logging.WARNING, logger="avrec.io"):
        value = load_torch_or_rebuild(path, lambda: torch.zeros(2))
    assert torch.equal(value, torch.zeros(2))
    assert str(path) in caplog.text
    assert torch.equal(load_torch(path), torch.zeros(2))


def test_valid_cache_loaded_without_rebuild(tmp_path):
    path = tmp_path / "features.pt"
    save_torch(path, torch.ones(3))

    def fail() -> torch.Tensor:
        raise AssertionError("build called for a valid cache file")

    assert torch.equal(load_torch_or_rebuild(path, fail), torch.ones(3))
