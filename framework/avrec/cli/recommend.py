"""``avrec recommend RUN_DIR --user U -k 10``: the top-k items for one user of a saved run.

Items in the user's training and validation history are never recommended.
When the head scores by dot product, retrieval goes through a FAISS index
over the item vectors; other heads score every item.
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avrec.errors import ConfigError, suggest

_logger = logging.getLogger(__name__)

USER_EXAMPLES = 5


@dataclass
class ItemRow:
    """One result line: rank, raw item id, title and score."""

    rank: int
    item: str
    title: str
    score: float


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="avrec recommend", description="Print the top-k items for a user of a saved run."
    )
    parser.add_argument("run_dir", type=Path, help="run directory written by `avrec train`")
    parser.add_argument("--user", "-u", required=True, help="raw user id as in the dataset")
    parser.add_argument("-k", type=int, default=10, help="number of items to print (default 10)")
    parser.add_argument("--index", choices=("flat", "ivf"), default="flat",
                        help="FAISS index kind for dot-product heads (default flat, exact)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return parser


def user_index(dataset, raw_user: str, run_dir: Path) -> int:
    """Return the index of ``raw_user``; raise ConfigError naming it and some valid ids when unknown."""
    if raw_user in dataset.users:
        return dataset.users.index(raw_user)
    raw_ids = dataset.users.raw_ids
    examples = ", ".join(raw_ids[:USER_EXAMPLES])
    raise ConfigError(
        f"Unknown user id '{raw_user}' in run {run_dir}.{_closest(raw_user, raw_ids)} "
        f"The run's dataset has {len(raw_ids)} users, for example: {examples}."
    )


def _closest(raw_user: str, raw_ids: list[str]) -> str:
    """Name the id range when all ids are integers (a near string is no hint there), else the closest id."""
    numbers = [int(raw) for raw in raw_ids if raw.lstrip("-").isdigit()]
    if len(numbers) == len(raw_ids) and raw_user.lstrip("-").isdigit():
        return f" User ids are integers between {min(numbers)} and {max(numbers)}."
    return suggest(raw_user, raw_ids)


def history_items(split, user: int) -> set[int]:
    """Return the items of ``user`` in the training and validation splits."""
    items: set[int] = set()
    for frame in (split.train, split.valid):
        items.update(int(i) for i in frame.loc[frame["user"] == user, "item"])
    return items


def _uses_dot_product(head) -> bool:
    from avrec.interfaces import Head

    return type(head).score is Head.score


def top_items(experiment, user: int, k: int, index_kind: str = "flat") -> tuple[np.ndarray, np.ndarray]:
    """Return ``(item indices, scores)`` of the best ``k`` items for ``user`` outside its history."""
    import torch

    from avrec.index import IndexConfig, ItemIndex

    model = experiment.model
    excluded = history_items(experiment.split, user)
    users = torch.tensor([user], device=experiment.context.device)
    with torch.no_grad():
        direct = model.head.score_users(model, users)
        if direct is None and _uses_dot_product(model.head):
            item_vectors = model.item_vectors()
            user_vector = model.user_vectors(users, item_vectors)
            index = ItemIndex.build(item_vectors.float().cpu().numpy(), config=IndexConfig(kind=index_kind))
            scores, items = index.search(user_vector.float().cpu().numpy(), k, [excluded])
            keep = items[0] >= 0
            return items[0][keep], scores[0][keep]
        row = (direct if direct is not None else model.score_users(users)).float().cpu().numpy()[0]
    row[list(excluded)] = -np.inf
    candidates = np.flatnonzero(np.isfinite(row))
    order = candidates[np.argsort(-row[candidates], kind="stable")][:k]
    return order, row[order]


def item_rows(dataset, items: np.ndarray, scores: np.ndarray) -> list[ItemRow]:
    titles = dataset.item_titles()
    return [
        ItemRow(rank, dataset.items.raw(item), titles[int(item)], float(score))
        for rank, (item, score) in enumerate(zip(items, scores), start=1)
    ]


def print_rows(rows: list[ItemRow], as_json: bool, header: dict) -> None:
    """Print result rows as an aligned table, or as JSON with ``header`` fields first."""
    if as_json:
        payload = {**header, "items": [row.__dict__ for row in rows]}
        print(json.dumps(payload, ensure_ascii=False, indent=2))
        return
    width = max([len("item"), *(len(row.item) for row in rows)])
    print(f"{'rank':>4}  {'item':<{width}}  {'score':>9}  title")
    for row in rows:
        print(f"{row.rank:>4}  {row.item:<{width}}  {row.score:>9.4f}  {row.title}")


def run(command: str, args: list[str]) -> int:
    """Load the run, rank the items for the user and print them."""
    options = _parser().parse_args(args)
    if options.k < 1:
        raise ConfigError(f"Invalid -k {options.k}: request at least 1 item.")
    from avrec.run import load_run

    experiment = load_run(options.run_dir)
    user = user_index(experiment.dataset, options.user, options.run_dir)
    items, scores = top_items(experiment, user, options.k, options.index)
    rows = item_rows(experiment.dataset, items, scores)
    print_rows(rows, options.json, {"run_dir": str(options.run_dir), "user": options.user, "k": options.k})
    return 0
