"""Registry and plugin manager: registration, duplicates, unknown names, failed imports."""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass

import pytest

from avrec.errors import ConfigError, PluginError
from avrec.hookspecs import hookimpl
from avrec.plugins import PluginInfo, PluginManager, get_plugin_manager
from avrec.registry import Registrar, Registry


@dataclass
class _Config:
    size: int = 1


def _plugin_module(name: str, component: str) -> types.ModuleType:
    module = types.ModuleType(name)

    @hookimpl
    def avrec_register_heads(registrar: Registrar) -> None:
        registrar.register(component, "avrec_basic.heads:BPRHead", config=_Config, summary="A test head.")

    module.avrec_register_heads = avrec_register_heads
    return module


def _info(name: str) -> PluginInfo:
    return PluginInfo(name=name, distribution=name, version="1.0", module=name)


def test_registered_component_records_plugin():
    manager = PluginManager()
    manager.register_module(_plugin_module("first", "mine"), _info("first"))
    spec = manager.registry.get("head", "mine")
    assert spec.plugin == "first"
    assert spec.summary == "A test head."
    assert spec.config_class is _Config


def test_duplicate_name_names_both_plugins():
    manager = PluginManager()
    manager.register_module(_plugin_module("first", "same"), _info("first"))
    with pytest.raises(PluginError) as excinfo:
        manager.register_module(_plugin_module("second", "same"), _info("second"))
    assert "'first'" in str(excinfo.value)
    assert "'second'" in str(excinfo.value)


def test_unknown_name_lists_valid_and_suggests():
    registry = get_plugin_manager().registry
    with pytest.raises(ConfigError) as excinfo:
        registry.get("head", "bprr")
    message = str(excinfo.value)
    assert "Did you mean 'bpr'?" in message
    assert "pop" in message


def test_lazy_target_not_imported_until_load():
    sys.modules.pop("avrec_basic.heads", None)
    spec = get_plugin_manager().registry.get("head", "bpr")
    assert isinstance(spec.target, str)
    assert "avrec_basic.heads" not in sys.modules
    assert spec.load().__name__ == "BPRHead"


def test_lazy_target_import_failure_names_plugin():
    registry = Registry()
    Registrar(registry, "head", "broken_plugin").register(
        "ghost", "no_such_module_xyz:Head", config=_Config, summary="Missing module."
    )
    with pytest.raises(PluginError) as excinfo:
        registry.get("head", "ghost").load()
    assert "broken_plugin" in str(excinfo.value)
    assert "no_such_module_xyz" in str(excinfo.value)


def test_config_must_be_dataclass():
    registrar = Registrar(Registry(), "head", "p")
    with pytest.raises(PluginError, match="not a dataclass"):
        registrar.register("x", "m:C", config=dict, summary="s")


def test_summary_must_be_one_line():
    registrar = Registrar(Registry(), "head", "p")
    with pytest.raises(PluginError, match="one-line summary"):
        registrar.register("x", "m:C", config=_Config, summary="two\nlines")


def test_builtins_load_through_entry_points():
    manager = get_plugin_manager()
    basic = manager.plugins["avrec_basic"]
    assert basic.distribution == "avrec"
    assert basic.error is None
    assert {("encoder", "id"), ("head", "bpr"), ("head", "pop")} <= {(s.kind, s.name) for s in basic.components}
