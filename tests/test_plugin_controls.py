"""Plugin discovery controls: autoload off, blocked plugins, strict mode, and failed plugins in `avrec plugins`.

Each test puts a throwaway distribution on sys.path: a ``.dist-info``
directory whose entry_points.txt lists one plugin that registers a head
and one whose import raises ImportError. Nothing is pip-installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from avrec.cli.main import main
from avrec.errors import PluginError
from avrec.plugins import load_plugins, reset_plugins

GOOD_MODULE = '''
from dataclasses import dataclass

from avrec import hookimpl


@dataclass
class ThrowawayHeadConfig:
    """Settings of a head that exists only in this test."""

    scale: float = 1.0


@hookimpl
def avrec_register_heads(registrar):
    registrar.register(
        "throwaway_head", "avrec_throwaway_good:Missing", config=ThrowawayHeadConfig,
        summary="A head registered by a throwaway test plugin.",
    )
'''

BAD_MODULE = 'raise ImportError("libthrowaway.so: cannot open shared object file")\n'

ENTRY_POINTS = "[avrec]\nthrowaway_good = avrec_throwaway_good\nthrowaway_bad = avrec_throwaway_bad\n"

MODULES = ("avrec_throwaway_good", "avrec_throwaway_bad")


def write_distribution(site: Path) -> Path:
    """Write modules and a .dist-info for the distribution ``avrec-throwaway`` 0.3 into ``site``."""
    site.mkdir(parents=True, exist_ok=True)
    (site / "avrec_throwaway_good.py").write_text(GOOD_MODULE)
    (site / "avrec_throwaway_bad.py").write_text(BAD_MODULE)
    info = site / "avrec_throwaway-0.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: avrec-throwaway\nVersion: 0.3\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    return site


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The throwaway distribution on sys.path, with the plugin environment variables cleared."""
    for name in ("AVREC_DISABLE_PLUGIN_AUTOLOAD", "AVREC_BLOCK_PLUGINS", "AVREC_STRICT_PLUGINS"):
        monkeypatch.delenv(name, raising=False)
    path = write_distribution(tmp_path / "site")
    monkeypatch.syspath_prepend(str(path))
    reset_plugins()
    yield path
    for module in MODULES:
        sys.modules.pop(module, None)
    reset_plugins()


def test_good_plugin_loaded(site: Path) -> None:
    manager = load_plugins()
    info = manager.plugins["throwaway_good"]
    assert info.error is None
    assert info.distribution == "avrec-throwaway"
    assert info.version == "0.3"
    assert manager.registry.get("head", "throwaway_head").plugin == "throwaway_good"


def test_failed_plugin_recorded_with_error(site: Path) -> None:
    info = load_plugins().plugins["throwaway_bad"]
    assert info.error == "ImportError: libthrowaway.so: cannot open shared object file"


def test_failed_plugin_spares_builtins(site: Path) -> None:
    manager = load_plugins()
    assert manager.plugins["avrec_basic"].error is None
    assert manager.registry.get("head", "bpr").plugin == "avrec_basic"


def test_disable_autoload_keeps_builtins_only(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AVREC_DISABLE_PLUGIN_AUTOLOAD", "1")
    plugins = load_plugins().plugins
    assert "throwaway_good" not in plugins
    assert "throwaway_bad" not in plugins
    assert "avrec_basic" in plugins


@pytest.mark.parametrize("value", ["0", "false", "no", ""])
def test_disable_autoload_off_values(site: Path, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("AVREC_DISABLE_PLUGIN_AUTOLOAD", value)
    assert "throwaway_good" in load_plugins().plugins


def test_block_skips_named_plugin(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AVREC_BLOCK_PLUGINS", "throwaway_bad")
    plugins = load_plugins().plugins
    assert "throwaway_bad" not in plugins
    assert plugins["throwaway_good"].error is None


def test_block_list_with_spaces(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AVREC_BLOCK_PLUGINS", " throwaway_good , avrec_video ")
    plugins = load_plugins().plugins
    assert "throwaway_good" not in plugins
    assert "avrec_video" not in plugins
    assert "throwaway_bad" in plugins


def test_strict_raises_naming_plugin(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AVREC_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match=r"Plugin 'throwaway_bad' \(avrec-throwaway 0.3\) failed to import") as caught:
        load_plugins()
    assert "libthrowaway.so" in str(caught.value)


def test_strict_passes_when_broken_plugin_blocked(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AVREC_STRICT_PLUGINS", "true")
    monkeypatch.setenv("AVREC_BLOCK_PLUGINS", "throwaway_bad")
    assert "throwaway_good" in load_plugins().plugins


def test_plugins_table_shows_failure(site: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["plugins"]) == 0
    printed = capsys.readouterr().out
    assert "throwaway_bad" in printed
    assert "failed: ImportError" in printed
    assert "head:throwaway_head" in printed


def test_plugins_json_shows_failure(site: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["plugins", "--json"]) == 0
    listed = {entry["name"]: entry for entry in json.loads(capsys.readouterr().out)}
    assert listed["throwaway_bad"]["status"] == "failed"
    assert listed["throwaway_bad"]["error"] == "ImportError: libthrowaway.so: cannot open shared object file"
    assert listed["throwaway_good"]["components"][0]["name"] == "throwaway_head"


def _plugins_subprocess(site: Path, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    python_path = os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH", "")]))
    environment = {**os.environ, "PYTHONPATH": python_path, **env}
    return subprocess.run(
        [sys.executable, "-m", "avrec", "plugins", "--json"],
        cwd=cwd, env=environment, capture_output=True, text=True, timeout=120,
    )


def test_plugins_command_via_pythonpath(site: Path, tmp_path: Path) -> None:
    result = _plugins_subprocess(site, tmp_path)
    assert result.returncode == 0, result.stderr
    statuses = {entry["name"]: entry["status"] for entry in json.loads(result.stdout)}
    assert statuses["throwaway_bad"] == "failed"
    assert statuses["throwaway_good"] == "loaded"
    assert "Plugin 'throwaway_bad' failed to import" in result.stderr


def test_plugins_command_strict_exit_status(site: Path, tmp_path: Path) -> None:
    result = _plugins_subprocess(site, tmp_path, AVREC_STRICT_PLUGINS="1")
    assert result.returncode == 2
    assert "throwaway_bad" in result.stderr
