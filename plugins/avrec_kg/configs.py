"""Config dataclass of the knowledge-graph encoder (kept free of torch imports)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class KGEncoderConfig:
    """Knowledge-graph embeddings trained with PyKEEN, one entity vector per item, projected to ``dim``.

    Graph sources, each switchable: ``kg_triples`` (the dataset's ``.kg``
    triples, or ``triples_path``), ``item_links`` (the dataset's ``.link``
    item-to-entity links, or ``links_path``), ``genre_triples`` and
    ``decade_triples`` (facts derived from the item features ``genres`` and
    ``year``) and ``interaction_triples`` (the training interactions as
    ``(user:<id>, avrec:interacted, item)``, so the embeddings also learn
    which items the same users watched; validation and test interactions
    never enter the graph). ``triples_path`` and ``links_path`` name a user's TSV files
    (see docs/kg.md). ``self_loops`` is ``drop`` or ``keep`` for triples
    whose head equals the tail. ``prune_leaves`` drops the triples of
    entities that are not items and touch only one other entity, since they
    cannot relate two items. ``unlinked_items`` is ``attributes`` (an item
    without a link gets its own entity when attribute triples describe it)
    or ``mask`` (such items never have this modality).

    ``model`` is any interaction model name PyKEEN's model resolver accepts
    (transe, rotate, distmult, complex, ...), built with ``model_kwargs``.
    ``embedding_dim``, ``epochs``, ``batch_size``, ``lr``, ``num_negatives``,
    ``negative_sampler`` and ``optimizer`` set PyKEEN's sLCWA training loop.
    ``seed`` seeds KG training independently of the experiment seed, so runs
    with different seeds share one cached embedding.

    ``holdout_fraction`` of the triples (at most ``holdout_max_triples``) is
    held out of training for the link-prediction check, which ranks each
    held-out head and tail among ``eval_candidates`` sampled entities.

    ``item_vectors`` is ``entity`` (an item's own entity embedding) or
    ``neighbors`` (the mean embedding of the entities that share a triple
    with the item, users excluded, so items without interactions are described
    like the others). ``dim`` of 0 uses ``model.dim``. ``finetune`` trains
    the embeddings with the recommender instead of freezing them. ``normalize``
    L2-normalizes the entity embeddings an item vector is built from (the
    item's own, or each neighbour's before the mean) before the projection.
    ``device`` of ``auto`` trains the KG model on the trainer's device.
    """

    kg_triples: bool = True
    item_links: bool = True
    genre_triples: bool = True
    decade_triples: bool = True
    interaction_triples: bool = False
    triples_path: str = ""
    links_path: str = ""
    self_loops: str = "drop"
    prune_leaves: bool = True
    unlinked_items: str = "attributes"
    model: str = "transe"
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    embedding_dim: int = 64
    epochs: int = 10
    batch_size: int = 8192
    lr: float = 0.02
    num_negatives: int = 1
    negative_sampler: str = "basic"
    optimizer: str = "adam"
    seed: int = 2020
    holdout_fraction: float = 0.01
    holdout_max_triples: int = 2000
    eval_candidates: int = 1000
    item_vectors: str = "entity"
    dim: int = 0
    finetune: bool = False
    normalize: bool = True
    device: str = "auto"
