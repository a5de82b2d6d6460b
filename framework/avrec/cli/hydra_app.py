"""Hydra integration: config search path, structured presets and config pre-flight checks.

Plugins contribute config directories and registered components without a
YAML preset get a generated one, so ``encoder=<name>`` works for any
installed component. Before Hydra starts a run, the overrides are composed
once here so that a typo fails fast with the key named and a suggestion.
"""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import ConfigCompositionException, MissingConfigException, OverrideParseException
from omegaconf import DictConfig, OmegaConf

from avrec.config import resolve
from avrec.errors import ConfigError, suggest
from avrec.paths import config_dir
from avrec.plugins import get_plugin_manager
from avrec.registry import KINDS

VERSION_BASE = "1.3"
MULTI_SELECT_GROUPS = ("encoder",)


def search_path_override() -> str:
    dirs = [d for d in get_plugin_manager().config_dirs() if Path(d).is_dir()]
    entries = ",".join(f"file://{Path(d).resolve()}" for d in dirs)
    return f"hydra.searchpath=[{entries}]"


def _preset_exists(kind: str, name: str, dirs: list[Path]) -> bool:
    return any((d / kind / f"{name}.yaml").exists() for d in dirs)


def register_structured_presets() -> None:
    """Store a config for every registered component that ships no YAML preset."""
    manager = get_plugin_manager()
    dirs = [config_dir(), *manager.config_dirs()]
    store = ConfigStore.instance()
    for spec in manager.registry:
        if _preset_exists(spec.kind, spec.name, dirs):
            continue
        defaults = OmegaConf.to_container(OmegaConf.structured(spec.config_class()))
        node = {"name": spec.name, **defaults}
        package = f"{spec.kind}.{spec.name}" if spec.kind in MULTI_SELECT_GROUPS else spec.kind
        store.store(group=spec.kind, name=spec.name, node=node, package=package, provider=spec.plugin)


def _sweep_choices(override) -> list[str]:
    if override.is_sweep_override():
        return list(override.sweep_string_iterator())
    return [override.get_value_element_as_str()]


def expand_first_choices(overrides: list[str]) -> list[list[str]]:
    """Return override lists covering every sweep value at least once (not the full grid)."""
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except OverrideParseException as error:
        raise _parse_error(error) from None
    options = []
    for override in parsed:
        key = override.get_key_element()
        options.append([f"{key}={value}" for value in _sweep_choices(override)])
    width = max((len(o) for o in options), default=1)
    return [[o[min(i, len(o) - 1)] for o in options] for i in range(width)]


def compose_config(overrides: list[str]) -> DictConfig:
    """Compose the run config for ``overrides`` exactly as ``avrec train`` would."""
    register_structured_presets()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(config_dir()), version_base=VERSION_BASE):
        try:
            return compose("config", overrides=[*overrides, search_path_override()])
        except MissingConfigException as error:
            raise _missing_option_error(error) from None
        except ConfigCompositionException as error:
            raise _override_error(error, overrides) from None
        except OverrideParseException as error:
            raise _parse_error(error) from None


def _parse_error(error: OverrideParseException) -> ConfigError:
    reason = error.message.splitlines()[0]
    return ConfigError(
        f"Invalid override '{error.override}': {reason}. Write key=value, quote values with spaces or "
        f"brackets, and close every bracket, e.g. \"encoder=[id,text]\"."
    )


def _missing_option_error(error: MissingConfigException) -> ConfigError:
    missing = error.missing_cfg_file or ""
    group, _, option = missing.rpartition("/")
    options = list(error.options or []) or _group_options(group)
    if group in KINDS or group in ("trainer", "eval", "experiment"):
        return ConfigError(
            f"Unknown {group} '{option}'.{suggest(option, options)} "
            f"Available {group} options: {', '.join(sorted(options)) or '(none)'}."
        )
    return ConfigError(f"Config '{missing}' not found. Available options: {', '.join(sorted(options))}.")


def _group_options(group: str) -> list[str]:
    """Options of a config group from the YAML presets and the registry (Hydra omits them for lists)."""
    manager = get_plugin_manager()
    names = {path.stem for d in [config_dir(), *manager.config_dirs()] for path in (d / group).glob("*.yaml")}
    if group in KINDS:
        names.update(manager.registry.names(group))
    return sorted(names)


def _override_error(error: ConfigCompositionException, overrides: list[str]) -> ConfigError:
    message = str(error)
    for text in overrides:
        key = text.split("=", 1)[0].lstrip("+~")
        if f"'{key}'" not in message:
            continue
        others = [o for o in overrides if o != text]
        parent, leaf, known = _first_unknown_key(key, others)
        unknown = f"{parent}.{leaf}" if parent else leaf
        where = f"'{parent}'" if parent else "the top level"
        return ConfigError(
            f"Unknown config key '{unknown}' in override {text}.{suggest(leaf, known)} "
            f"Valid keys under {where}: {', '.join(known) or '(none)'}."
        )
    return ConfigError(message.splitlines()[0])


def _first_unknown_key(key: str, overrides: list[str]) -> tuple[str, str, list[str]]:
    """Split dotted ``key`` at its first segment missing from the config: (parent path, segment, keys of parent)."""
    try:
        node = compose_config(overrides)
    except ConfigError:
        return key.rpartition(".")[0], key.rpartition(".")[2], []
    parts = key.split(".")
    for depth, part in enumerate(parts):
        known = sorted(str(k) for k in node.keys()) if isinstance(node, DictConfig) else []
        if part not in known:
            return ".".join(parts[:depth]), part, known
        node = node[part]
    return ".".join(parts[:-1]), parts[-1], []


def preflight(overrides: list[str]) -> None:
    """Compose and validate the config for every sweep value; raise ConfigError on the first problem."""
    plain = [o for o in overrides if not o.startswith("hydra.") and not o.startswith("hydra/")]
    registry = get_plugin_manager().registry
    top_level = _top_level_keys()
    for combination in expand_first_choices(plain):
        cfg = compose_config(combination)
        _check_top_level(cfg, top_level)
        resolve(cfg, registry)


def _top_level_keys() -> set[str]:
    """Top-level keys a run config may hold: those of the default config plus every config group."""
    return {str(key) for key in compose_config([]).keys()} | set(KINDS) | {"trainer", "eval"}


def _check_top_level(cfg: DictConfig, allowed: set[str]) -> None:
    # Hydra adds any top-level key given as +key=value; nothing in avrec would read it.
    for key in cfg.keys():
        if str(key) not in allowed:
            raise ConfigError(
                f"Unknown config key '{key}' at the top level.{suggest(str(key), allowed)} "
                f"Valid top-level keys: {', '.join(sorted(allowed))}."
            )
