"""Core config dataclasses and validation of every component config.

Validation runs before any data is loaded: each config node is compared with
its dataclass, so a misspelled key or a wrong type fails at once with the
key named and, where one is close, a suggestion.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from avrec.errors import ConfigError, suggest
from avrec.registry import ComponentSpec, Registry


@dataclass
class TrainerConfig:
    """Optimisation loop settings."""

    epochs: int = 200
    batch_size: int = 2048
    lr: float = 0.002
    weight_decay: float = 0.0
    optimizer: str = "adam"
    device: str = "auto"
    early_stopping_patience: int = 10
    valid_metric: str = "ndcg@10"
    eval_every: int = 1
    num_threads: int = 1
    grad_clip: float = 0.0
    progress: bool = True
    deterministic: bool = False
    resume: str | None = None
    num_workers: int = 0
    distributed: bool = False
    checkpoint_every: int = 0
    tensorboard: bool = True
    lr_schedule: str = "constant"
    dist_backend: str = "auto"
    find_unused_parameters: bool = False


@dataclass
class EvalConfig:
    """Full-ranking evaluation settings."""

    ks: list[int] = field(default_factory=lambda: [5, 10, 20])
    metrics: list[str] = field(default_factory=lambda: ["recall", "ndcg", "mrr", "hit", "precision"])
    batch_size: int = 1024
    mask_valid_in_test: bool = True


@dataclass
class UserTowerConfig:
    """User vector sources: an id embedding, a pooled history, or both."""

    id_embedding: bool = True
    history: str = "none"
    history_weight: float = 1.0


@dataclass
class ModelConfig:
    """Shared model dimensions."""

    dim: int = 64
    user_tower: UserTowerConfig = field(default_factory=UserTowerConfig)


SINGLE_GROUPS = ("dataset", "split", "fusion", "head")
CORE_SECTIONS = {"trainer": TrainerConfig, "eval": EvalConfig, "model": ModelConfig}


def _known_keys(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def _check_keys(node: DictConfig, cls: type, path: str) -> None:
    hints = typing.get_type_hints(cls)
    valid = _known_keys(cls)
    for key in node.keys():
        if key not in valid:
            raise ConfigError(
                f"Unknown config key '{path}.{key}'.{suggest(str(key), valid)} "
                f"Valid keys under '{path}': {', '.join(valid)}."
            )
        child = node._get_node(key)
        nested = hints.get(key)
        if isinstance(child, DictConfig) and dataclasses.is_dataclass(nested):
            _check_keys(child, nested, f"{path}.{key}")


def validate_node(node: Any, cls: type, path: str, *, drop: tuple[str, ...] = ()) -> Any:
    """Check ``node`` against dataclass ``cls`` and return a typed instance of it."""
    if node is None:
        node = OmegaConf.create({})
    if not isinstance(node, DictConfig):
        raise ConfigError(f"Config '{path}' must be a mapping of keys to values, got {node!r}.")
    node = OmegaConf.masked_copy(node, [k for k in node.keys() if k not in drop])
    _check_keys(node, cls, path)
    try:
        merged = OmegaConf.merge(OmegaConf.structured(cls), node)
        return OmegaConf.to_object(merged)
    except OmegaConfBaseException as error:
        key = getattr(error, "full_key", "") or ""
        field_key = key.split("[")[0]
        reason = str(getattr(error, "msg", error)).splitlines()[0].rstrip(".")
        raise ConfigError(
            f"Invalid value for '{path}.{key}': {reason}. "
            f"Set {path}.{field_key} to a value of type {_expected_type(cls, field_key)}."
        ) from error


def _expected_type(cls: type, field_key: str) -> str:
    """Name the type that dataclass ``cls`` declares for a dotted ``field_key`` such as ``user_tower.history``."""
    hint: Any = cls
    for part in field_key.split("."):
        if not (dataclasses.is_dataclass(hint) and part in _known_keys(hint)):
            return f"the type {cls.__name__} declares"
        hint = typing.get_type_hints(hint)[part]
    return hint.__name__ if isinstance(hint, type) else str(hint).replace("typing.", "")


def component_config(registry: Registry, kind: str, node: Any, path: str) -> tuple[ComponentSpec, Any]:
    """Resolve the component named in ``node.name`` and validate the rest of the node."""
    if not isinstance(node, DictConfig) or "name" not in node:
        raise ConfigError(f"Config '{path}' must name a {kind}, e.g. {kind}=<name>; got {node!r}.")
    spec = registry.get(kind, str(node.name))
    return spec, validate_node(node, spec.config_class, path, drop=("name",))


def encoder_configs(registry: Registry, node: Any) -> dict[str, tuple[ComponentSpec, Any]]:
    """Validate the multi-select ``encoder`` group: one sub-node per selected encoder."""
    if isinstance(node, ListConfig) or node is None or len(node) == 0:
        raise ConfigError("Config 'encoder' selects no encoder. Select at least one, e.g. encoder=[id].")
    result = {}
    for key in node.keys():
        sub = node[key]
        name = str(sub.get("name", key)) if isinstance(sub, DictConfig) else str(key)
        spec = registry.get("encoder", name)
        result[str(key)] = (spec, validate_node(sub, spec.config_class, f"encoder.{key}", drop=("name",)))
    return result


@dataclass
class ResolvedConfig:
    """The validated experiment: typed configs and the specs they name."""

    components: dict[str, tuple[ComponentSpec, Any]]
    encoders: dict[str, tuple[ComponentSpec, Any]]
    trainer: TrainerConfig
    eval: EvalConfig
    model: ModelConfig
    seed: int
    policy: tuple[ComponentSpec, Any] | None = None


def resolve(cfg: DictConfig, registry: Registry) -> ResolvedConfig:
    """Validate the whole experiment config against the registry and core dataclasses."""
    for group in SINGLE_GROUPS:
        if group not in cfg:
            raise ConfigError(f"Config has no '{group}' section. Select one, e.g. {group}=<name>.")
    components = {group: component_config(registry, group, cfg[group], group) for group in SINGLE_GROUPS}
    core = {name: validate_node(cfg.get(name), cls, name) for name, cls in CORE_SECTIONS.items()}
    policy = None
    if cfg.get("policy") is not None and "name" in cfg.policy:
        policy = component_config(registry, "policy", cfg.policy, "policy")
    return ResolvedConfig(
        components=components,
        encoders=encoder_configs(registry, cfg.get("encoder")),
        trainer=core["trainer"],
        eval=core["eval"],
        model=core["model"],
        seed=_check_seed(cfg.get("seed", 0)),
        policy=policy,
    )


def _check_seed(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"Invalid value for 'seed': {value!r}. Set seed to an integer, e.g. seed=2020.")
    return value
