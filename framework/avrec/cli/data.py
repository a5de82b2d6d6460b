"""``avrec data fetch NAME`` and ``avrec data validate PATH``."""

from __future__ import annotations

import argparse
from pathlib import Path

from avrec.errors import ConfigError, suggest


def _fetch(name: str, data_dir: Path | None, cache_root: Path | None) -> int:
    from avrec.data.fetch import DEFINITIONS, fetch_dataset

    if name not in DEFINITIONS:
        raise ConfigError(
            f"Unknown dataset '{name}'.{suggest(name, DEFINITIONS)} Datasets that can be fetched: {', '.join(DEFINITIONS)}."
        )
    directory = fetch_dataset(DEFINITIONS[name], data_dir=data_dir, cache_root=cache_root)
    print(f"{name}: files are in {directory}")
    return 0


def _validate(path: Path) -> int:
    from avrec.data.load import load_directory

    dataset = load_directory(path)
    kg = 0 if dataset.kg_triples is None else len(dataset.kg_triples)
    print(
        f"{path}: valid. {dataset.n_users} users, {dataset.n_items} items, "
        f"{len(dataset.interactions)} interactions, {kg} knowledge-graph triples."
    )
    return 0


def run(command: str, args: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="avrec data", description="Fetch or validate a dataset.")
    sub = parser.add_subparsers(dest="action", required=True)
    fetch = sub.add_parser("fetch", help="download a dataset into the user cache")
    fetch.add_argument("name", help="dataset name, e.g. ml-100k")
    fetch.add_argument("--data-dir", type=Path, help="use the files in this directory when it has them all")
    fetch.add_argument("--cache-dir", type=Path, help="cache root instead of $AVREC_CACHE_DIR or ~/.cache/avrec")
    validate = sub.add_parser("validate", help="load and validate a dataset directory")
    validate.add_argument("path", type=Path, help="directory with RecBole atomic files or a GroupLens layout")
    options = parser.parse_args(args)
    if options.action == "fetch":
        return _fetch(options.name, options.data_dir, options.cache_dir)
    return _validate(options.path)
