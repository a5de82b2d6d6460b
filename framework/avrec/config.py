"""Core config dataclasses and validation of every component config.

Validation runs before any data is loaded: each config node is compared with
its dataclass, so a misspelled key or a wrong type fails at once with the
key named and, where one is close, a suggestion.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import typing
from dataclasses import dataclass, field
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from avrec.data.config import check_choice
from avrec.errors import ConfigError, suggest
from avrec.registry import ComponentSpec, Registry

_logger = logging.getLogger(__name__)


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
    """User vector sources: an id embedding, a pooled history, or both.

    ``history_from`` names what is pooled over the user's training items:
    ``fused`` (the item vectors) or the key of one selected encoder whose
    output has width ``model.dim``, such as ``text``. With ``text`` the
    history adds the items' content but not their id embeddings. When the
    named encoder is not selected, the fused vectors are pooled and an INFO line is
    logged.
    """

    id_embedding: bool = True
    history: str = "none"
    history_weight: float = 1.0
    history_from: str = "fused"


@dataclass
class ModelConfig:
    """Shared model dimensions."""

    dim: int = 64
    user_tower: UserTowerConfig = field(default_factory=UserTowerConfig)


SINGLE_GROUPS = ("dataset", "split", "fusion", "head")
CORE_SECTIONS = {"trainer": TrainerConfig, "eval": EvalConfig, "model": ModelConfig}

# Choices checked before any work starts; trainer.py and model.py import them, so a new optimizer,
# schedule or pooling is added here and implemented there.
OPTIMIZERS = ("adam", "adamw", "sgd")
LR_SCHEDULES = ("constant", "cosine")
HISTORY_POOLING = ("none", "mean", "attention")
# Smallest valid value of each integer trainer setting; 0 epochs evaluates the untrained model and
# num_threads=0 keeps torch's default thread count.
TRAINER_MINIMUMS = {
    "epochs": 0, "batch_size": 1, "early_stopping_patience": 0, "eval_every": 1,
    "num_threads": 0, "num_workers": 0, "checkpoint_every": 0,
}


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
    check_core_values(core["trainer"], core["eval"], core["model"])
    encoders = encoder_configs(registry, cfg.get("encoder"))
    tower = core["model"].user_tower
    tower.history_from = _history_source(tower, list(encoders), registry.names("encoder"))
    return ResolvedConfig(
        components=components,
        encoders=encoders,
        trainer=core["trainer"],
        eval=core["eval"],
        model=core["model"],
        seed=_check_seed(cfg.get("seed", 0)),
        policy=policy,
    )


def _history_source(tower: UserTowerConfig, encoder_keys: list[str], registered: list[str]) -> str:
    """Return what the user tower pools: ``history_from``, or ``fused`` when that encoder is not selected.

    A preset that pools text stays usable with ``encoder=[id]``, while a name
    that is no encoder at all is rejected.
    """
    source = tower.history_from
    if source == "fused" or source in encoder_keys or tower.history == "none":
        return source
    if source in registered:
        _logger.info(
            "model.user_tower.history_from=%s names an encoder that is not selected (encoder=[%s]); the user "
            "tower pools the fused item vectors instead.", source, ",".join(encoder_keys),
        )
        return "fused"
    raise ConfigError(
        f"Invalid value for 'model.user_tower.history_from': {source!r}.{suggest(source, ['fused', *registered])} "
        f"Use fused or one of the selected encoders: {', '.join(encoder_keys)}."
    )


def _check_seed(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"Invalid value for 'seed': {value!r}. Set seed to an integer, e.g. seed=2020.")
    return value


def check_core_values(trainer: TrainerConfig, evaluation: EvalConfig, model: ModelConfig) -> None:
    """Check the ranges and choices of the core sections, so a bad value fails before any data is loaded."""
    _check_trainer(trainer)
    _check_eval(evaluation)
    if trainer.epochs > 0:
        _check_valid_metric(trainer.valid_metric, evaluation)
    if model.dim < 1:
        raise ConfigError(f"Invalid value for 'model.dim': {model.dim}. Use an integer >= 1, e.g. model.dim=64.")
    check_choice("model.user_tower.history", model.user_tower.history, HISTORY_POOLING)


def _check_trainer(config: TrainerConfig) -> None:
    for key, minimum in TRAINER_MINIMUMS.items():
        value = getattr(config, key)
        if value < minimum:
            raise ConfigError(f"Invalid value for 'trainer.{key}': {value}. Use an integer >= {minimum}.")
    if not (math.isfinite(config.lr) and config.lr > 0):
        raise ConfigError(f"Invalid value for 'trainer.lr': {config.lr}. Use a number > 0, e.g. trainer.lr=0.002.")
    for key in ("weight_decay", "grad_clip"):
        value = getattr(config, key)
        if not (math.isfinite(value) and value >= 0):
            raise ConfigError(f"Invalid value for 'trainer.{key}': {value}. Use a number >= 0.")
    check_choice("trainer.optimizer", config.optimizer, OPTIMIZERS)
    check_choice("trainer.lr_schedule", config.lr_schedule, LR_SCHEDULES)


def _check_eval(config: EvalConfig) -> None:
    # Imported here because avrec.metrics imports torch and this module must stay light.
    from avrec.metrics import get_metric, validate_ks

    validate_ks(list(config.ks))
    for name in config.metrics:
        get_metric(name)
    if config.batch_size < 1:
        raise ConfigError(f"Invalid value for 'eval.batch_size': {config.batch_size}. Use an integer >= 1.")


def _check_valid_metric(valid_metric: str, evaluation: EvalConfig) -> None:
    computed = [f"{name}@{k}" for name in evaluation.metrics for k in evaluation.ks]
    if valid_metric not in computed:
        raise ConfigError(
            f"Invalid value for 'trainer.valid_metric': '{valid_metric}'.{suggest(valid_metric, computed)} "
            f"Validation computes eval.metrics at eval.ks: {', '.join(computed)}."
        )
