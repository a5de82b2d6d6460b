"""``avrec search RUN_DIR "free text" -k 10``: the catalogue items closest to a text query.

The query is encoded by the run's text encoder with the same language model
and pooling as the items. By default (``--space lm``) it is compared by
cosine similarity with the language-model embeddings of each item's search
text (the encoder's ``search_fields``), which needs no training to be
meaningful. ``--space projected`` compares the projected query with the
text encoder's trained item embeddings instead.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from avrec.cli.recommend import item_rows, print_rows
from avrec.errors import ConfigError

_logger = logging.getLogger(__name__)

SPACES = ("lm", "projected")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="avrec search", description="Print the items of a saved run that best match a free-text query."
    )
    parser.add_argument("run_dir", type=Path, help="run directory written by `avrec train` with a text encoder")
    parser.add_argument("query", help="free text, for example \"Star Wars\"")
    parser.add_argument("-k", type=int, default=10, help="number of items to print (default 10)")
    parser.add_argument("--space", choices=SPACES, default="lm",
                        help="lm: raw language-model similarity (default); projected: trained text projection")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return parser


def _is_text_encoder(encoder_class: type) -> bool:
    return all(hasattr(encoder_class, name) for name in ("encode_texts", "search_embeddings", "project"))


def _no_text_encoder(run_dir: Path, names: list[str]) -> ConfigError:
    return ConfigError(
        f"Run {run_dir} has no text encoder (its encoders: {', '.join(names) or 'none'}), so it cannot "
        f"encode a query. Search a run trained with a text encoder, e.g. `avrec train encoder=[id,text]`."
    )


def check_run_has_text_encoder(run_dir: Path) -> None:
    """Raise ConfigError when the run's saved config selects no text encoder, before loading any data."""
    from avrec.plugins import get_registry

    config_file = Path(run_dir) / ".hydra" / "config.yaml"
    if not config_file.exists():
        return
    encoders = OmegaConf.load(config_file).get("encoder") or {}
    registry = get_registry()
    names = []
    for key in encoders:
        node = encoders[key]
        name = str(node.get("name", key)) if OmegaConf.is_dict(node) else str(key)
        names.append(name)
        if name in registry.names("encoder") and _is_text_encoder(registry.get("encoder", name).load()):
            return
    raise _no_text_encoder(run_dir, names)


def text_encoder(experiment):
    """Return the first encoder of the run that can encode free text."""
    for encoder in experiment.model.encoders.values():
        if _is_text_encoder(type(encoder)):
            return encoder
    raise _no_text_encoder(experiment.context.run_dir, list(experiment.model.encoders))


def search_items(encoder, query: str, k: int, space: str = "lm") -> tuple[np.ndarray, np.ndarray]:
    """Return ``(item indices, scores)`` of the ``k`` items closest to ``query``.

    Items without search text (``lm``) or without the text modality
    (``projected``) are left out.
    """
    import torch

    from avrec.index import IndexConfig, ItemIndex

    query_vector = encoder.encode_texts([query])
    if space == "lm":
        embeddings, mask = encoder.search_embeddings()
    else:
        query_vector = encoder.project(query_vector)
        with torch.no_grad():
            output = encoder()
        embeddings, mask = output.embeddings.float().cpu().numpy(), output.mask.cpu().numpy()
    ids = np.flatnonzero(mask)
    if len(ids) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    index = ItemIndex.build(embeddings[ids], ids, IndexConfig(normalize=True))
    scores, items = index.search(query_vector, k)
    keep = items[0] >= 0
    return items[0][keep], scores[0][keep]


def run(command: str, args: list[str]) -> int:
    """Load the run, encode the query and print the closest items."""
    options = _parser().parse_args(args)
    query = options.query.strip()
    if not query:
        raise ConfigError('The search query is empty. Pass some text, for example: avrec search RUN_DIR "space opera".')
    if options.k < 1:
        raise ConfigError(f"Invalid -k {options.k}: request at least 1 item.")
    check_run_has_text_encoder(options.run_dir)
    from avrec.run import load_run

    experiment = load_run(options.run_dir)
    encoder = text_encoder(experiment)
    items, scores = search_items(encoder, query, options.k, options.space)
    rows = item_rows(experiment.dataset, items, scores)
    print_rows(rows, options.json, {"run_dir": str(options.run_dir), "query": query, "k": options.k})
    return 0
