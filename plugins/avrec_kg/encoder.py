"""Knowledge-graph encoder: each item's PyKEEN entity embedding, projected to the model width."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from avrec.interfaces import BuildContext, Encoder, ModalityOutput
from avrec.trainer import resolve_device
from avrec_kg.configs import KGEncoderConfig
from avrec_kg.embedding import load_or_train
from avrec_kg.graph import build_item_graph

_logger = logging.getLogger(__name__)


class KGEncoder(Encoder):
    """Entity embeddings of linked items with a trained linear projection to ``dim``.

    The entity embeddings are trained once per graph and training config,
    cached on disk, and kept frozen unless ``finetune`` is set, in which case
    the item rows become parameters trained with the recommender. Items
    without an entity in the graph are masked for this modality.
    """

    def __init__(self, config: KGEncoderConfig, context: BuildContext) -> None:
        super().__init__(config, context)
        device = context.device if config.device == "auto" else resolve_device(config.device)
        graph = build_item_graph(context.dataset, config)
        embeddings, self.trained = load_or_train(graph.triples, config, Path(context.cache_dir), device)
        rows, found = embeddings.rows(graph.item_entities)
        if config.normalize:
            norms = np.linalg.norm(rows, axis=1, keepdims=True)
            rows = np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)
        vectors = torch.from_numpy(rows)
        if config.finetune:
            self.item_embeddings = nn.Parameter(vectors)
        else:
            self.register_buffer("item_embeddings", vectors, persistent=False)
        self.register_buffer("has_entity", torch.from_numpy(found), persistent=False)
        self._dim = config.dim or context.dim
        self.projection = nn.Linear(vectors.shape[1], self._dim)
        self._metrics = {**embeddings.metrics, **graph.counts, "trained": self.trained, "finetune": config.finetune}

    @property
    def output_dim(self) -> int:
        return self._dim

    def forward(self, items: torch.Tensor | None = None) -> ModalityOutput:
        if items is None:
            return ModalityOutput(self.projection(self.item_embeddings), self.has_entity)
        return ModalityOutput(self.projection(self.item_embeddings[items]), self.has_entity[items])

    def metrics(self) -> dict[str, Any]:
        """Return ``{"kg": ...}``: the link-prediction check, training time and graph counts."""
        return {"kg": dict(self._metrics)}
