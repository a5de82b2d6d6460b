"""The generated configuration reference must match the config dataclasses."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "gen_config_reference.py"


def _generator():
    spec = importlib.util.spec_from_file_location("gen_config_reference", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_reference_up_to_date() -> None:
    generator = _generator()
    current = generator.OUTPUT.read_text(encoding="utf-8")
    assert current == generator.render(), (
        f"{generator.OUTPUT} is stale: run `python scripts/gen_config_reference.py` and commit the result."
    )


def test_reference_lists_core_sections() -> None:
    text = _generator().render()
    for section in ("### trainer\n", "### eval\n", "### model\n"):
        assert section in text


def test_reference_expands_nested_fields() -> None:
    assert "`model.user_tower.history`" in _generator().render()


def test_preset_comment_becomes_description(tmp_path: Path) -> None:
    preset = tmp_path / "demo.yaml"
    preset.write_text("# @package _group_._name_\nname: demo\n# Width of the vectors.\ndim: 0\nlr: 0.1  # step size\n")
    comments = _generator().preset_comments(preset)
    assert comments == {"dim": "Width of the vectors.", "lr": "step size"}


def test_field_comment_becomes_description(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "reference_demo_config.py"
    source.write_text(
        "from dataclasses import dataclass\n"
        "@dataclass\n"
        "class Demo:\n"
        "    \"\"\"Demo settings.\"\"\"\n"
        "    # Number of layers.\n"
        "    layers: int = 2\n"
        "    dim: int = 0  # 0 uses model.dim\n"
        "    bias: bool = True\n"
    )
    spec = importlib.util.spec_from_file_location("reference_demo_config", source)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "reference_demo_config", module)
    spec.loader.exec_module(module)
    comments = _generator().dataclass_field_comments(module.Demo)
    assert comments == {"layers": "Number of layers.", "dim": "0 uses model.dim"}
