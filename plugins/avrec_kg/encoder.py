"""Knowledge-graph encoder: each item's PyKEEN entity embedding, or the mean of its neighbours', projected."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from avrec.errors import ConfigError
from avrec.interfaces import BuildContext, Encoder, ModalityOutput
from avrec.trainer import resolve_device
from avrec_kg.configs import KGEncoderConfig
from avrec_kg.embedding import EntityEmbeddings, load_or_train
from avrec_kg.graph import USER_PREFIX, ItemGraph, build_item_graph

_logger = logging.getLogger(__name__)

ITEM_VECTORS = ("entity", "neighbors")


class KGEncoder(Encoder):
    """Item vectors from trained entity embeddings, with a trained linear projection to ``dim``.

    ``item_vectors=entity`` takes the item's own entity embedding.
    ``item_vectors=neighbors`` takes the mean embedding of the entities the
    item shares a triple with (its genres, director, cast, ...; users never
    count). Such a vector describes an item by its facts alone, so an item
    without interactions gets a vector built the same way as a popular one.
    The embeddings are trained once per graph and training config, cached
    on disk, and kept frozen unless ``finetune`` is set, in which case the
    recommender trains them. Items without an entity, or without
    neighbours under ``neighbors``, are masked for this modality.
    """

    def __init__(self, config: KGEncoderConfig, context: BuildContext) -> None:
        super().__init__(config, context)
        if config.item_vectors not in ITEM_VECTORS:
            raise ConfigError(
                f"Invalid encoder.kg.item_vectors {config.item_vectors!r}. Valid values: {', '.join(ITEM_VECTORS)}."
            )
        device = context.device if config.device == "auto" else resolve_device(config.device)
        graph = build_item_graph(context.dataset, config, context.split.train)
        embeddings, self.trained = load_or_train(graph.triples, config, Path(context.cache_dir), device)
        if config.item_vectors == "entity":
            vectors, found = embeddings.rows(graph.item_entities)
            vectors = _normalized(vectors) if config.normalize else vectors
        else:
            vectors, found = self._neighbor_table(graph, embeddings, config.normalize)
        table = torch.from_numpy(vectors)
        if config.finetune:
            self.item_embeddings = nn.Parameter(table)
        else:
            self.register_buffer("item_embeddings", table, persistent=False)
        self.register_buffer("has_entity", torch.from_numpy(found), persistent=False)
        self._dim = config.dim or context.dim
        self.projection = nn.Linear(table.shape[1], self._dim)
        self._metrics = {
            **embeddings.metrics, **graph.counts, "trained": self.trained, "finetune": config.finetune,
            "item_vectors": config.item_vectors,
        }

    def _neighbor_table(
        self, graph: ItemGraph, embeddings: EntityEmbeddings, normalize: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """Store each item's neighbour rows and return the neighbour entity table and the mask of items with any."""
        entities = [str(label) for label in embeddings.labels.tolist()]
        rows, columns = neighbor_pairs(graph, entities)
        found = np.bincount(rows, minlength=len(graph.item_entities)) > 0
        self.register_buffer("neighbor_items", torch.from_numpy(rows), persistent=False)
        self.register_buffer("neighbor_entities", torch.from_numpy(columns), persistent=False)
        counts = np.maximum(np.bincount(rows, minlength=len(graph.item_entities)), 1).astype(np.float32)
        self.register_buffer("neighbor_counts", torch.from_numpy(counts), persistent=False)
        _logger.info(
            "KG item vectors: mean of %.1f neighbour entities per item on average; %d items have none.",
            len(rows) / max(int(found.sum()), 1), int((~found).sum()),
        )
        return (_normalized(embeddings.vectors) if normalize else embeddings.vectors), found

    @property
    def output_dim(self) -> int:
        return self._dim

    def forward(self, items: torch.Tensor | None = None) -> ModalityOutput:
        vectors = self.item_embeddings if not hasattr(self, "neighbor_items") else self._neighbor_means()
        if items is None:
            return ModalityOutput(self.projection(vectors), self.has_entity)
        return ModalityOutput(self.projection(vectors[items]), self.has_entity[items])

    def _neighbor_means(self) -> torch.Tensor:
        n_items = self.has_entity.shape[0]
        sums = torch.zeros(n_items, self.item_embeddings.shape[1], device=self.item_embeddings.device)
        sums = sums.index_add(0, self.neighbor_items, self.item_embeddings[self.neighbor_entities])
        return sums / self.neighbor_counts.unsqueeze(1)

    def metrics(self) -> dict[str, Any]:
        """Return ``{"kg": ...}``: the link-prediction check, training time and graph counts."""
        return {"kg": dict(self._metrics)}


def neighbor_pairs(graph: ItemGraph, entities: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(item, entity row)`` pairs for every entity an item shares a triple with, users excluded."""
    row_of = {label: row for row, label in enumerate(entities)}
    items_of: dict[str, list[int]] = {}
    for item, node in enumerate(graph.item_entities):
        if node is not None:
            items_of.setdefault(node, []).append(item)
    pairs: set[tuple[int, int]] = set()
    for head, _, tail in graph.triples.tolist():
        for node, other in ((head, tail), (tail, head)):
            if node in items_of and not other.startswith(USER_PREFIX) and other in row_of:
                pairs.update((item, row_of[other]) for item in items_of[node])
    ordered = np.array(sorted(pairs), dtype=np.int64).reshape(-1, 2)
    return ordered[:, 0], ordered[:, 1]


def _normalized(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0).astype(np.float32)
