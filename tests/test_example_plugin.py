"""The example plugin as a user gets it: wheel built, installed non-editable, used by name.

The wheel is installed with ``pip install --no-deps --target`` into a
temporary directory that subprocesses get on PYTHONPATH, so the shared
environment is left untouched. Every command runs from a directory outside
the repository.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "avrec-tfidf"

pytestmark = pytest.mark.slow


def _run(args: list[str], cwd: Path, site: Path | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if site is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH", "")]))
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the example's wheel from a copy of its source and install it into a target directory."""
    root = tmp_path_factory.mktemp("example-plugin")
    source = root / "avrec-tfidf"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__"))
    _run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(root / "dist"), str(source)], root)
    (wheel,) = (root / "dist").glob("avrec_tfidf-*.whl")
    site = root / "site"
    _run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--target", str(site), str(wheel)], root)
    return site


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "outside-repo"
    path.mkdir()
    return path


def test_wheel_ships_presets(installed: Path) -> None:
    assert (installed / "avrec_tfidf" / "conf" / "encoder" / "tfidf.yaml").is_file()
    assert (installed / "avrec_tfidf" / "conf" / "fusion" / "masked_mean.yaml").is_file()


def test_imported_from_install(installed: Path, workdir: Path) -> None:
    result = _run([sys.executable, "-c", "import avrec_tfidf; print(avrec_tfidf.__file__)"], workdir, installed)
    assert Path(result.stdout.strip()).is_relative_to(installed)


def test_plugins_lists_example(installed: Path, workdir: Path) -> None:
    result = _run([sys.executable, "-m", "avrec", "plugins", "--json"], workdir, installed)
    plugins = {entry["name"]: entry for entry in json.loads(result.stdout)}
    example = plugins["avrec_tfidf"]
    assert example["status"] == "loaded"
    assert example["distribution"] == "avrec-tfidf"
    assert sorted((c["kind"], c["name"]) for c in example["components"]) == [("encoder", "tfidf"), ("fusion", "masked_mean")]


def test_train_with_example_components(installed: Path, workdir: Path, ml100k_slice: Path) -> None:
    run_dir = workdir / "run"
    _run(
        [
            sys.executable, "-m", "avrec", "train", "experiment=bpr", "encoder=[id,tfidf]", "fusion=masked_mean",
            f"dataset.data_dir={ml100k_slice}", "dataset.max_users=60", "trainer.epochs=1",
            "trainer.progress=false", "trainer.num_threads=1", "model.dim=16", f"hydra.run.dir={run_dir}",
        ],
        workdir, installed,
    )
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert 0.0 <= metrics["test"]["ndcg@10"] <= 1.0
    config = yaml.safe_load((run_dir / ".hydra" / "config.yaml").read_text())
    assert config["encoder"]["tfidf"]["name"] == "tfidf"
    assert config["fusion"]["name"] == "masked_mean"


def test_train_uses_shipped_preset_dir(installed: Path, workdir: Path, ml100k_slice: Path) -> None:
    run_dir = workdir / "run"
    _run(
        [
            sys.executable, "-m", "avrec", "train", "experiment=bpr", "encoder=[id,tfidf]", "fusion=masked_mean", "encoder.tfidf.svd_dim=8",
            f"dataset.data_dir={ml100k_slice}", "dataset.max_users=30", "trainer.epochs=1",
            "trainer.progress=false", "trainer.num_threads=1", "model.dim=8", f"hydra.run.dir={run_dir}",
        ],
        workdir, installed,
    )
    hydra = yaml.safe_load((run_dir / ".hydra" / "hydra.yaml").read_text())
    sources = [source["path"] for source in hydra["hydra"]["runtime"]["config_sources"]]
    assert str((installed / "avrec_tfidf" / "conf").resolve()) in sources
    config = yaml.safe_load((run_dir / ".hydra" / "config.yaml").read_text())
    assert config["encoder"]["tfidf"]["svd_dim"] == 8


def test_example_suite_passes_installed(installed: Path, workdir: Path) -> None:
    tests = workdir / "tests"
    shutil.copytree(EXAMPLE / "tests", tests, ignore=shutil.ignore_patterns("__pycache__"))
    result = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests)], workdir, installed)
    assert " passed" in result.stdout
