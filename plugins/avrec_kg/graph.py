"""Assembly of the item knowledge graph: dataset or user triples, item links and attribute triples."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from avrec.data.atomic import ENTITY_FIELD, KG_FIELDS, read_atomic_file
from avrec.data.dataset import Dataset
from avrec.data.kg import (
    LINK_COLUMNS,
    TRIPLE_COLUMNS,
    LabelTable,
    TripleStats,
    clean_triples,
    link_items,
    read_label_tsv,
    require_triples,
)
from avrec.errors import ConfigError, DataError
from avrec_kg.configs import KGEncoderConfig

_logger = logging.getLogger(__name__)

UNLINKED_RULES = ("attributes", "mask")
GENRE_RELATION = "avrec:genre"
DECADE_RELATION = "avrec:release_decade"
INTERACTION_RELATION = "avrec:interacted"
USER_PREFIX = "user:"


@dataclass
class ItemGraph:
    """Unique triples ``[n, 3]`` (sorted, strings) and the entity of every item, None where it has none."""

    triples: np.ndarray
    item_entities: list[str | None]
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def item_mask(self) -> np.ndarray:
        return np.array([entity is not None for entity in self.item_entities], dtype=bool)


def build_item_graph(dataset: Dataset, config: KGEncoderConfig, train: pd.DataFrame | None = None) -> ItemGraph:
    """Collect the configured sources into one validated graph and map every item to its entity.

    ``train`` contains the training interactions (columns ``user`` and
    ``item``, as indices). With ``interaction_triples`` they join the graph
    as ``(user:<id>, avrec:interacted, item)``; validation and test
    interactions never do.
    """
    if config.unlinked_items not in UNLINKED_RULES:
        raise ConfigError(
            f"Invalid encoder.kg.unlinked_items {config.unlinked_items!r}. Valid values: {', '.join(UNLINKED_RULES)}."
        )

    sources: list[str] = []
    counts: dict[str, int] = {}
    base = pd.DataFrame(columns=list(TRIPLE_COLUMNS), dtype=object)
    if config.kg_triples:
        table = _triple_table(dataset, config)
        sources.append(table.source)
        base, stats = clean_triples(table, config.self_loops)
        counts.update(_triple_counts(stats))

    entities = set(base["head"]).union(base["tail"])
    linked: dict[int, str] = {}
    if config.item_links:
        table = _link_table(dataset, config)
        if table is not None:
            linked = link_items(table, _item_ids(dataset), entities)

    nodes = _item_nodes(dataset, linked, config)
    attributes = _attribute_triples(dataset, nodes, config)
    if config.interaction_triples:
        attributes["interaction"] = _interaction_triples(dataset, nodes, train)
    sources += [f"{name} triples of dataset {dataset.name}" for name in attributes]
    parts = [base, *attributes.values()]
    frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else base
    frame = frame.drop_duplicates(ignore_index=True)
    if config.prune_leaves:
        frame = _prune_leaves(frame, nodes, counts)
    require_triples(frame, sources)
    graph = _finish(frame, nodes, linked, counts, attributes)
    _log_graph(graph, dataset)
    return graph


def _triple_table(dataset: Dataset, config: KGEncoderConfig) -> LabelTable:
    if config.triples_path:
        return read_label_tsv(Path(config.triples_path).expanduser(), TRIPLE_COLUMNS)
    if dataset.kg_triples is None:
        raise ConfigError(
            f"Dataset {dataset.name} has no knowledge-graph triples (.kg file). Set encoder.kg.triples_path to "
            f"a TSV file of triples, or set encoder.kg.kg_triples=false to use only attribute triples."
        )
    path = dataset.source_files.get("kg")
    frame = dataset.kg_triples[list(TRIPLE_COLUMNS)].astype(str)
    if path is None:
        return LabelTable(frame, f"knowledge graph of dataset {dataset.name}")
    return LabelTable(frame, path, _atomic_lines(Path(path), KG_FIELDS))


def _link_table(dataset: Dataset, config: KGEncoderConfig) -> LabelTable | None:
    if config.links_path:
        return read_label_tsv(Path(config.links_path).expanduser(), LINK_COLUMNS)
    if dataset.item_entities is None:
        _logger.warning(
            "Dataset %s has no item links (.link file), so no item is linked to a knowledge-graph entity. "
            "Set encoder.kg.links_path to a TSV file of links.", dataset.name,
        )
        return None
    series = dataset.item_entities
    items = [dataset.items.raw(index) for index in series.index]
    frame = pd.DataFrame({"item": items, "entity": series.astype(str).to_numpy()}, dtype=object)
    # The loader already dropped repeated and filtered-out links, so rows no longer match file lines.
    return LabelTable(frame, dataset.source_files.get("link", f"item links of dataset {dataset.name}"))


def _atomic_lines(path: Path, required: tuple[str, ...]):
    """Return a function that reads the file lines of an atomic file's rows, once, on first call."""
    memo: list[np.ndarray | None] = []

    def lines() -> np.ndarray | None:
        if not memo:
            try:
                memo.append(read_atomic_file(path, required).lines)
            except (OSError, DataError) as error:
                _logger.warning("Could not reread %s to name line numbers: %s", path, error)
                memo.append(None)
        return memo[0]

    return lines


def _item_ids(dataset: Dataset) -> dict[str, int]:
    return {raw: index for index, raw in enumerate(dataset.items.raw_ids)}


def _item_nodes(dataset: Dataset, linked: dict[int, str], config: KGEncoderConfig) -> list[str | None]:
    """Return each item's graph node: its linked entity, else ``item:<id>`` or None under ``mask``."""
    nodes: list[str | None] = []
    for index, raw in enumerate(dataset.items.raw_ids):
        if index in linked:
            nodes.append(linked[index])
        elif config.unlinked_items == "attributes":
            nodes.append(f"item:{raw}")
        else:
            nodes.append(None)
    return nodes


def _attribute_triples(dataset: Dataset, nodes: list[str | None], config: KGEncoderConfig) -> dict[str, pd.DataFrame]:
    features = dataset.item_features
    result: dict[str, pd.DataFrame] = {}
    if config.genre_triples and "genres" in features:
        rows = [
            (node, GENRE_RELATION, f"genre:{genre}")
            for node, genres in zip(nodes, features["genres"])
            if node is not None and isinstance(genres, list)
            for genre in dict.fromkeys(str(g).strip() for g in genres)
            if genre
        ]
        result["genre"] = pd.DataFrame(rows, columns=list(TRIPLE_COLUMNS), dtype=object)
    if config.decade_triples and "year" in features:
        years = pd.to_numeric(features["year"], errors="coerce").to_numpy(dtype=float)
        rows = [
            (node, DECADE_RELATION, f"decade:{int(year) // 10 * 10}s")
            for node, year in zip(nodes, years)
            if node is not None and np.isfinite(year)
        ]
        result["decade"] = pd.DataFrame(rows, columns=list(TRIPLE_COLUMNS), dtype=object)
    return result


def _interaction_triples(dataset: Dataset, nodes: list[str | None], train: pd.DataFrame | None) -> pd.DataFrame:
    """Return ``(user:<id>, avrec:interacted, item)`` for each training interaction of an item with a node."""
    if train is None:
        raise ConfigError(
            "encoder.kg.interaction_triples=true needs the training interactions, but none were given. "
            "Build the encoder through avrec train, or set encoder.kg.interaction_triples=false."
        )
    pairs = train[["user", "item"]].drop_duplicates()
    rows = [
        (f"{USER_PREFIX}{dataset.users.raw(user)}", INTERACTION_RELATION, nodes[item])
        for user, item in zip(pairs["user"].tolist(), pairs["item"].tolist())
        if nodes[item] is not None
    ]
    return pd.DataFrame(rows, columns=list(TRIPLE_COLUMNS), dtype=object)


def _prune_leaves(frame: pd.DataFrame, nodes: list[str | None], counts: dict[str, int]) -> pd.DataFrame:
    """Drop triples of non-item entities that touch only one other entity.

    Such an entity (an actor of a single film, say) cannot relate two items,
    yet it costs an embedding row and training steps. Item entities are
    never pruned. Pruning makes one pass, so it can leave new leaves.
    """
    pairs = pd.concat(
        [
            pd.DataFrame({"entity": frame["head"], "neighbor": frame["tail"]}),
            pd.DataFrame({"entity": frame["tail"], "neighbor": frame["head"]}),
        ],
        ignore_index=True,
    ).drop_duplicates()
    neighbors = pairs.groupby("entity").size()
    leaves = set(neighbors.index[neighbors.to_numpy() == 1]) - {node for node in nodes if node is not None}
    keep = ~(frame["head"].isin(leaves) | frame["tail"].isin(leaves))
    counts["leaf_entities_pruned"] = len(leaves)
    counts["leaf_triples_pruned"] = int((~keep).sum())
    return frame[keep].reset_index(drop=True)


def _finish(
    frame: pd.DataFrame,
    nodes: list[str | None],
    linked: dict[int, str],
    counts: dict[str, int],
    attributes: dict[str, pd.DataFrame],
) -> ItemGraph:
    triples = frame[list(TRIPLE_COLUMNS)].to_numpy(dtype=str)
    order = np.lexsort((triples[:, 2], triples[:, 1], triples[:, 0]))
    triples = triples[order]
    in_graph = set(triples[:, 0]).union(triples[:, 2])
    entities = [node if node is not None and node in in_graph else None for node in nodes]
    counts = dict(counts)
    for name, table in attributes.items():
        counts[f"{name}_triples"] = len(table)
    counts["triples"] = len(triples)
    counts["entities"] = len(in_graph)
    counts["relations"] = len(set(triples[:, 1]))
    counts["items_linked"] = sum(1 for i, e in enumerate(entities) if e is not None and i in linked)
    counts["items_attribute_only"] = sum(1 for i, e in enumerate(entities) if e is not None and i not in linked)
    counts["items_masked"] = sum(1 for e in entities if e is None)
    return ItemGraph(triples, entities, counts)


def _triple_counts(stats: TripleStats) -> dict[str, int]:
    return {
        "triples_read": stats.read,
        "duplicates_dropped": stats.duplicates,
        "self_loops": stats.self_loops,
        "self_loops_dropped": stats.self_loops_dropped,
    }


def _log_graph(graph: ItemGraph, dataset: Dataset) -> None:
    counts = graph.counts
    _logger.info(
        "Knowledge graph: %d triples, %d entities, %d relations (%d genre, %d decade and %d interaction "
        "triples added).",
        counts["triples"], counts["entities"], counts["relations"],
        counts.get("genre_triples", 0), counts.get("decade_triples", 0), counts.get("interaction_triples", 0),
    )
    if "leaf_entities_pruned" in counts:
        _logger.info(
            "Pruned %d leaf entities (touching one other entity, not items) with their %d triples.",
            counts["leaf_entities_pruned"], counts["leaf_triples_pruned"],
        )
    _logger.info(
        "Items of %s: %d linked to an entity, %d described only by attribute triples, %d masked (no KG entity).",
        dataset.name, counts["items_linked"], counts["items_attribute_only"], counts["items_masked"],
    )
