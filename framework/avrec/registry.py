"""Typed registry of components contributed by plugins.

A plugin registers each component under a kind (encoder, fusion, ...) and a
name, with its config dataclass and a one-line summary. The implementation
may be a class or a lazy ``"module:Class"`` string, so listing components
never imports heavy modules such as torch models.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from avrec.errors import ConfigError, PluginError, suggest

KINDS = ("dataset", "split", "encoder", "fusion", "head", "policy")


@dataclass(frozen=True)
class ComponentSpec:
    """One registered component: where it lives and how it is configured."""

    kind: str
    name: str
    target: Any
    config_class: type
    summary: str
    plugin: str

    def load(self) -> type:
        """Import the implementation when it was registered as a string."""
        if not isinstance(self.target, str):
            return self.target
        module_name, _, attribute = self.target.partition(":")
        try:
            module = importlib.import_module(module_name)
            return getattr(module, attribute)
        except (ImportError, AttributeError) as error:
            raise PluginError(
                f"{self.kind} '{self.name}' from plugin '{self.plugin}' could not be "
                f"imported from '{self.target}': {error}. Install the plugin's extra "
                f"dependencies, for example `pip install 'avrec[all]'`."
            ) from error

    @property
    def target_path(self) -> str:
        if isinstance(self.target, str):
            return self.target
        return f"{self.target.__module__}:{self.target.__qualname__}"


class Registry:
    """All components by kind and name, with the plugin that registered each."""

    def __init__(self) -> None:
        self._specs: dict[str, dict[str, ComponentSpec]] = {kind: {} for kind in KINDS}

    def add(self, spec: ComponentSpec) -> None:
        table = self._table(spec.kind)
        existing = table.get(spec.name)
        if existing is not None:
            raise PluginError(
                f"{spec.kind} '{spec.name}' is registered by two plugins: "
                f"'{existing.plugin}' and '{spec.plugin}'. Uninstall one of them or "
                f"rename the component in one plugin."
            )
        table[spec.name] = spec

    def get(self, kind: str, name: str) -> ComponentSpec:
        table = self._table(kind)
        if name not in table:
            valid = ", ".join(sorted(table)) or "(none)"
            raise ConfigError(
                f"Unknown {kind} '{name}'.{suggest(name, table)} Valid {kind} names: {valid}."
            )
        return table[name]

    def names(self, kind: str) -> list[str]:
        return sorted(self._table(kind))

    def __iter__(self) -> Iterator[ComponentSpec]:
        for kind in KINDS:
            yield from self._specs[kind].values()

    def by_plugin(self, plugin: str) -> list[ComponentSpec]:
        return [spec for spec in self if spec.plugin == plugin]

    def _table(self, kind: str) -> dict[str, ComponentSpec]:
        if kind not in self._specs:
            raise ConfigError(f"Unknown component kind '{kind}'.{suggest(kind, KINDS)} Kinds: {', '.join(KINDS)}.")
        return self._specs[kind]


class Registrar:
    """Handed to a plugin's registration hook; records components for one kind."""

    def __init__(self, registry: Registry, kind: str, plugin: str) -> None:
        self._registry = registry
        self.kind = kind
        self.plugin = plugin

    def register(self, name: str, target: Any, *, config: type, summary: str) -> None:
        """Register component ``name``; ``target`` is a class or a "module:Class" string."""
        if not dataclasses.is_dataclass(config):
            raise PluginError(
                f"Plugin '{self.plugin}' registered {self.kind} '{name}' with config "
                f"{config!r}, which is not a dataclass."
            )
        if not summary or "\n" in summary:
            raise PluginError(
                f"Plugin '{self.plugin}' registered {self.kind} '{name}' without a one-line summary."
            )
        self._registry.add(ComponentSpec(self.kind, name, target, config, summary.strip(), self.plugin))
