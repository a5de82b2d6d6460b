"""The built wheel carries the config tree and the built-in plugins.

The wheel is installed without dependencies into a fresh venv whose
``sys.path`` reaches the test environment's site-packages through a .pth
line, so torch and friends are shared but avrec itself, its plugins and
its configs come from the wheel. Commands run from a directory outside
the repository.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def _site_packages(venv: Path) -> Path:
    return next((venv / "lib").glob("python*/site-packages"))


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(root / "dist"), str(REPO)],
        check=True, capture_output=True,
    )
    wheel = next((root / "dist").glob("avrec-*.whl"))
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = _site_packages(venv)
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), str(wheel)],
        check=True, capture_output=True,
    )
    (site / "shared-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def _avrec(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [str(venv / "bin" / "python"), "-m", "avrec", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
    )


def test_wheel_imports_from_wheel(wheel_venv, tmp_path):
    result = subprocess.run(
        [str(wheel_venv / "bin" / "python"), "-c", "import avrec, avrec.paths; print(avrec.paths.config_dir())"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    )
    config_dir = Path(result.stdout.strip())
    assert str(wheel_venv) in str(config_dir)
    assert (config_dir / "config.yaml").exists()
    source_groups = {path.relative_to(REPO / "conf") for path in (REPO / "conf").glob("*/*.yaml")}
    wheel_groups = {path.relative_to(config_dir) for path in config_dir.glob("*/*.yaml")}
    assert source_groups <= wheel_groups, f"missing from the wheel: {sorted(map(str, source_groups - wheel_groups))}"


def test_wheel_lists_builtin_plugins(wheel_venv, tmp_path):
    result = _avrec(wheel_venv, "plugins", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    plugins = {entry["name"]: entry for entry in json.loads(result.stdout)}
    assert plugins["avrec_basic"]["status"] == "loaded"
    assert plugins["avrec_datasets"]["status"] == "loaded"
    kinds = {(c["kind"], c["name"]) for c in plugins["avrec_basic"]["components"]}
    assert ("head", "bpr") in kinds


def test_wheel_train_help_shows_groups(wheel_venv, tmp_path):
    result = _avrec(wheel_venv, "train", "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for group in ("dataset", "encoder", "head", "trainer"):
        assert group in result.stdout
