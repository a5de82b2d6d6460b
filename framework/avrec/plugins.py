"""Discover plugins through the ``avrec`` entry-point group and build the registry.

Built-in plugins are listed in avrec's own distribution metadata and load
exactly like third-party ones. A plugin that fails to import is recorded
with its error and the others still load, unless strict mode is on.

Environment variables:

- ``AVREC_DISABLE_PLUGIN_AUTOLOAD=1`` loads only the plugins that ship with avrec.
- ``AVREC_BLOCK_PLUGINS=name1,name2`` skips the named entry points.
- ``AVREC_STRICT_PLUGINS=1`` raises :class:`PluginError` when a plugin fails to import.
"""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

import pluggy

from avrec import hookspecs
from avrec.errors import PluginError
from avrec.registry import KINDS, ComponentSpec, Registrar, Registry

_logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "avrec"
BUILTIN_DISTRIBUTION = "avrec"


@dataclass
class PluginInfo:
    """A discovered plugin: its entry point, distribution and load outcome."""

    name: str
    distribution: str
    version: str
    module: str
    error: str | None = None
    components: list[ComponentSpec] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "module": self.module,
            "status": "failed" if self.error else "loaded",
            "error": self.error,
            "components": [
                {"kind": spec.kind, "name": spec.name, "summary": spec.summary, "target": spec.target_path}
                for spec in self.components
            ],
        }


class PluginManager:
    """pluggy manager plus the registry that its registration hooks filled."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.registry = Registry()
        self.plugins: dict[str, PluginInfo] = {}

    def register_module(self, module: object, info: PluginInfo) -> None:
        """Register an imported plugin module and collect its components."""
        self.pm.register(module, name=info.name)
        self.plugins[info.name] = info
        for kind in KINDS:
            self._collect(module, kind, info)

    def failed(self) -> list[PluginInfo]:
        return [info for info in self.plugins.values() if info.error]

    def config_dirs(self) -> list[Path]:
        """Config preset directories from every loaded plugin, in load order."""
        dirs: list[Path] = []
        for result in self.pm.hook.avrec_config_dirs():
            dirs.extend(Path(path) for path in result or [])
        return dirs

    def _collect(self, module: object, kind: str, info: PluginInfo) -> None:
        hook = getattr(self.pm.hook, hookspecs.HOOK_BY_KIND[kind])
        for impl in hook.get_hookimpls():
            if impl.plugin is not module:
                continue
            before = {(spec.kind, spec.name) for spec in self.registry}
            impl.function(registrar=Registrar(self.registry, kind, info.name))
            info.components.extend(
                spec for spec in self.registry if (spec.kind, spec.name) not in before
            )


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _blocked_names() -> set[str]:
    raw = os.environ.get("AVREC_BLOCK_PLUGINS", "")
    return {name.strip() for name in raw.split(",") if name.strip()}


def _distribution_of(entry_point: EntryPoint) -> tuple[str, str]:
    dist = entry_point.dist
    if dist is None:
        return "unknown", "unknown"
    return dist.metadata["Name"], dist.version


def _load_entry_point(manager: PluginManager, entry_point: EntryPoint, strict: bool) -> None:
    dist_name, version = _distribution_of(entry_point)
    info = PluginInfo(entry_point.name, dist_name, version, entry_point.value)
    try:
        module = entry_point.load()
        manager.register_module(module, info)
    except PluginError:
        raise
    except Exception as error:  # a broken plugin must not take the others down
        info.error = f"{type(error).__name__}: {error}"
        manager.plugins[info.name] = info
        if strict:
            raise PluginError(
                f"Plugin '{info.name}' ({dist_name} {version}) failed to import: {info.error}. "
                f"Unset AVREC_STRICT_PLUGINS to skip it, or fix or uninstall the plugin."
            ) from error
        _logger.warning("Plugin '%s' failed to import and was skipped: %s", info.name, info.error)


def load_plugins() -> PluginManager:
    """Load every plugin of the ``avrec`` entry-point group, honouring the environment controls."""
    manager = PluginManager()
    builtin_only = _env_flag("AVREC_DISABLE_PLUGIN_AUTOLOAD")
    blocked = _blocked_names()
    strict = _env_flag("AVREC_STRICT_PLUGINS")
    seen: set[str] = set()
    for entry_point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name):
        if entry_point.name in seen or entry_point.name in blocked:
            continue
        seen.add(entry_point.name)
        if builtin_only and _distribution_of(entry_point)[0] != BUILTIN_DISTRIBUTION:
            continue
        _load_entry_point(manager, entry_point, strict)
    return manager


@functools.lru_cache(maxsize=1)
def get_plugin_manager() -> PluginManager:
    """Return the process-wide plugin manager, loading plugins on first use."""
    return load_plugins()


def get_registry() -> Registry:
    return get_plugin_manager().registry


def reset_plugins() -> None:
    """Forget loaded plugins so that the next call discovers them again (for tests)."""
    get_plugin_manager.cache_clear()
