"""Config presets of the video encoder and MicroLens, and an end-to-end training run on the fixture."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from avrec.cli.hydra_app import compose_config
from avrec.config import resolve
from avrec.errors import ConfigError
from avrec.plugins import get_plugin_manager


def test_microlens_preset_selects_loo_split() -> None:
    assert compose_config(["dataset=microlens"]).split.name == "loo"


def test_split_override_beats_microlens_default() -> None:
    assert compose_config(["dataset=microlens", "split=temporal"]).split.name == "temporal"


def test_other_datasets_keep_default_split() -> None:
    assert compose_config([]).split.name == "ro"


def test_video_preset_validates_with_id() -> None:
    cfg = compose_config(["experiment=bpr", "dataset=microlens", "encoder=[id,video]", "fusion=gated"])
    encoders = resolve(cfg, get_plugin_manager().registry).encoders
    assert encoders["video"][1].model_name == "efficientnet_lite0"


def test_video_key_typo_names_key() -> None:
    with pytest.raises(ConfigError, match="Did you mean 'frames'"):
        compose_config(["encoder=[video]", "encoder.video.frame=4"])


@pytest.mark.slow
def test_train_microlens_with_video(microlens_dir: Path, tmp_path: Path) -> None:
    from avrec.run import train

    cfg = compose_config(
        [
            "experiment=bpr",
            "dataset=microlens",
            f"dataset.data_dir={microlens_dir}",
            "encoder=[id,video]",
            "encoder.video.frames=4",
            "encoder.video.progress=false",
            "fusion=gated",
            "trainer.epochs=2",
            "trainer.progress=false",
            f"cache_dir={tmp_path / 'cache'}",
        ]
    )
    train(cfg, tmp_path / "run")
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["n_users_evaluated"] == 6
    assert metrics["video"]["items_masked"] == 1
    assert metrics["video"]["frames_encoded"] == 13
