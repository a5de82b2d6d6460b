"""``avrec plugins`` and ``avrec components``: what is installed and where it came from."""

from __future__ import annotations

import argparse
import json

from rich.console import Console
from rich.table import Table

from avrec.errors import ConfigError, suggest
from avrec.plugins import get_plugin_manager
from avrec.registry import KINDS


def _plugins(args: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="avrec plugins", description="List installed avrec plugins.")
    parser.add_argument("--json", action="store_true", help="print a JSON list of plugin objects")
    options = parser.parse_args(args)
    manager = get_plugin_manager()
    infos = sorted(manager.plugins.values(), key=lambda info: info.name)
    if options.json:
        print(json.dumps([info.to_dict() for info in infos], indent=2, ensure_ascii=False))
        return 0
    table = Table(title="avrec plugins")
    for column in ("plugin", "distribution", "version", "status", "components"):
        table.add_column(column)
    for info in infos:
        status = f"failed: {info.error}" if info.error else "loaded"
        components = ", ".join(f"{spec.kind}:{spec.name}" for spec in info.components)
        table.add_row(info.name, info.distribution, info.version, status, components)
    Console(width=160).print(table)
    return 1 if manager.failed() and not infos else 0


def _components(args: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="avrec components", description="List registered components.")
    parser.add_argument("kind", nargs="?", help=f"one of: {', '.join(KINDS)}")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    options = parser.parse_args(args)
    if options.kind and options.kind not in KINDS:
        raise ConfigError(f"Unknown kind '{options.kind}'.{suggest(options.kind, KINDS)} Kinds: {', '.join(KINDS)}.")
    specs = [s for s in get_plugin_manager().registry if not options.kind or s.kind == options.kind]
    if options.json:
        rows = [{"kind": s.kind, "name": s.name, "plugin": s.plugin, "summary": s.summary, "target": s.target_path} for s in specs]
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    table = Table(title="avrec components")
    for column in ("kind", "name", "plugin", "summary"):
        table.add_column(column)
    for spec in specs:
        table.add_row(spec.kind, spec.name, spec.plugin, spec.summary)
    Console(width=160).print(table)
    return 0


def run(command: str, args: list[str]) -> int:
    return _plugins(args) if command == "plugins" else _components(args)
