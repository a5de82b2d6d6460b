"""Weights: the packaged EfficientNet-Lite0 classifies real photos, and checkpoints load in any layout."""

from __future__ import annotations

from pathlib import Path

import pytest
import timm
import torch
from media_builders import photo
from PIL import Image

from avrec.errors import ConfigError
from avrec_video.configs import VideoEncoderConfig
from avrec_video.preprocess import FramePreprocessor, model_data_config
from avrec_video.weights import create_model, rename_prefixes, weights_source

CAT_CLASSES = set(range(281, 286))  # ImageNet: tabby, tiger cat, Persian, Siamese, Egyptian cat
ESPRESSO = 967
TINY_MODEL = "test_efficientnet"


@pytest.fixture(scope="module")
def lite0() -> torch.nn.Module:
    config = VideoEncoderConfig()
    return create_model(config, weights_source(config))


def top5(model: torch.nn.Module, name: str) -> set[int]:
    preprocessor = FramePreprocessor(model_data_config("efficientnet_lite0"))
    batch = preprocessor([Image.fromarray(photo(name))])
    with torch.inference_mode():
        logits = model(batch)
    return set(logits.topk(5).indices[0].tolist())


def test_packaged_weights_classify_cat(lite0: torch.nn.Module) -> None:
    assert top5(lite0, "chelsea") & CAT_CLASSES


def test_packaged_weights_classify_espresso(lite0: torch.nn.Module) -> None:
    assert ESPRESSO in top5(lite0, "coffee")


def test_packaged_weights_source_is_package_file() -> None:
    source = weights_source(VideoEncoderConfig())
    assert source.path.name == "efficientnet-lite0-57934424.pth"


@pytest.fixture(scope="module")
def tiny_state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return timm.create_model(TINY_MODEL).state_dict()


def tiny_config(path: Path, **overrides) -> VideoEncoderConfig:
    return VideoEncoderConfig(model_name=TINY_MODEL, checkpoint=str(path), **overrides)


def load_tiny(path: Path, **overrides) -> torch.nn.Module:
    config = tiny_config(path, **overrides)
    return create_model(config, weights_source(config))


def same_weights(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> bool:
    loaded = model.state_dict()
    return all(torch.equal(loaded[key], value) for key, value in state.items())


def test_timm_state_dict_loads(tiny_state, tmp_path: Path) -> None:
    torch.save(tiny_state, tmp_path / "tiny.pth")
    assert same_weights(load_tiny(tmp_path / "tiny.pth", checkpoint_layout="timm"), tiny_state)


def test_nested_and_prefixed_checkpoint_loads(tiny_state, tmp_path: Path) -> None:
    wrapped = {"epoch": 3, "state_dict": {f"module.{key}": value for key, value in tiny_state.items()}}
    torch.save(wrapped, tmp_path / "wrapped.pt")
    assert same_weights(load_tiny(tmp_path / "wrapped.pt"), tiny_state)


def test_positional_layout_loads_other_names(tiny_state, tmp_path: Path) -> None:
    renamed = {f"_layer{index}.{key.rsplit('.', 1)[-1]}": value for index, (key, value) in enumerate(tiny_state.items())}
    torch.save(renamed, tmp_path / "other.pth")
    assert same_weights(load_tiny(tmp_path / "other.pth"), tiny_state)


def test_key_map_renames_prefixes(tiny_state, tmp_path: Path) -> None:
    renamed = {key.replace("blocks.", "_stages.", 1): value for key, value in tiny_state.items()}
    torch.save(renamed, tmp_path / "stages.pth")
    model = load_tiny(tmp_path / "stages.pth", checkpoint_layout="timm", key_map={"_stages.": "blocks."})
    assert same_weights(model, tiny_state)


def test_safetensors_checkpoint_loads(tiny_state, tmp_path: Path) -> None:
    from safetensors.torch import save_file

    save_file({key: value.contiguous() for key, value in tiny_state.items()}, str(tmp_path / "tiny.safetensors"))
    assert same_weights(load_tiny(tmp_path / "tiny.safetensors"), tiny_state)


def test_timm_layout_rejects_other_names(tiny_state, tmp_path: Path) -> None:
    renamed = {f"x.{key}": value for key, value in tiny_state.items()}
    torch.save(renamed, tmp_path / "other.pth")
    with pytest.raises(ConfigError, match="checkpoint_layout=positional"):
        load_tiny(tmp_path / "other.pth", checkpoint_layout="timm")


def test_positional_rejects_wrong_count(tiny_state, tmp_path: Path) -> None:
    partial = dict(list(tiny_state.items())[:-1])
    torch.save({f"p{index}": value for index, value in enumerate(partial.values())}, tmp_path / "short.pth")
    with pytest.raises(ConfigError, match=f"has {len(partial)} tensors but the model has {len(tiny_state)}"):
        load_tiny(tmp_path / "short.pth")


def test_positional_rejects_wrong_shape(tiny_state, tmp_path: Path) -> None:
    values = list(tiny_state.values())
    values[0] = torch.zeros(1)
    torch.save({f"p{index}": value for index, value in enumerate(values)}, tmp_path / "bad.pth")
    with pytest.raises(ConfigError, match="tensor 0 'p0' has shape"):
        load_tiny(tmp_path / "bad.pth")


def test_checkpoint_without_tensors_rejected(tmp_path: Path) -> None:
    torch.save({"note": "no weights here"}, tmp_path / "empty.pth")
    with pytest.raises(ConfigError, match="contains no state dict"):
        load_tiny(tmp_path / "empty.pth")


def test_missing_checkpoint_file_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        weights_source(tiny_config(tmp_path / "absent.pth"))


def test_model_without_weights_rejected() -> None:
    with pytest.raises(ConfigError, match="has no weights"):
        weights_source(VideoEncoderConfig(model_name=TINY_MODEL))


def test_checkpoint_and_pretrained_rejected(tmp_path: Path) -> None:
    (tmp_path / "w.pth").write_bytes(b"")
    with pytest.raises(ConfigError, match="both checkpoint and pretrained"):
        weights_source(tiny_config(tmp_path / "w.pth", pretrained=True))


def test_unknown_layout_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="checkpoint_layout 'lukemelas'"):
        weights_source(VideoEncoderConfig(checkpoint_layout="lukemelas"))


def test_rename_prefixes_prefers_longest() -> None:
    state = {"a.b.weight": torch.zeros(1), "a.c": torch.zeros(1), "z": torch.zeros(1)}
    renamed = rename_prefixes(state, {"a.": "x.", "a.b.": "y."})
    assert list(renamed) == ["y.weight", "x.c", "z"]
