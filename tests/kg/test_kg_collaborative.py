"""Interaction triples (training interactions only) and item vectors built from an item's neighbours."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from avrec.errors import ConfigError
from avrec.interfaces import Split
from avrec.testing import small_context
from avrec_kg.configs import KGEncoderConfig
from avrec_kg.encoder import KGEncoder, neighbor_pairs
from avrec_kg.graph import INTERACTION_RELATION, USER_PREFIX, build_item_graph

FAST = {"embedding_dim": 8, "epochs": 2, "batch_size": 64, "holdout_fraction": 0.0}


@pytest.fixture
def thirds(tiny_dataset) -> Split:
    """Every third interaction to valid, the next to test, the rest to train."""
    frame = tiny_dataset.interactions
    position = np.arange(len(frame)) % 3
    return Split(frame[position == 0], frame[position == 1], frame[position == 2])


def interaction_pairs(graph) -> set[tuple[str, str]]:
    return {(head, tail) for head, relation, tail in graph.triples.tolist() if relation == INTERACTION_RELATION}


def raw_pairs(dataset, frame, graph) -> set[tuple[str, str]]:
    return {
        (f"{USER_PREFIX}{dataset.users.raw(user)}", graph.item_entities[item])
        for user, item in zip(frame["user"].tolist(), frame["item"].tolist())
    }


def test_interaction_triples_are_the_training_pairs(tiny_dataset, thirds):
    config = KGEncoderConfig(interaction_triples=True, prune_leaves=False)
    graph = build_item_graph(tiny_dataset, config, thirds.train)
    assert interaction_pairs(graph) == raw_pairs(tiny_dataset, thirds.train, graph)


def test_no_validation_or_test_pair_enters_the_graph(tiny_dataset, thirds):
    config = KGEncoderConfig(interaction_triples=True, prune_leaves=False)
    graph = build_item_graph(tiny_dataset, config, thirds.train)
    held_out = raw_pairs(tiny_dataset, thirds.valid, graph) | raw_pairs(tiny_dataset, thirds.test, graph)
    assert not interaction_pairs(graph) & (held_out - raw_pairs(tiny_dataset, thirds.train, graph))


def test_interaction_triples_off_by_default(tiny_dataset, thirds):
    graph = build_item_graph(tiny_dataset, KGEncoderConfig(), thirds.train)
    assert not interaction_pairs(graph)


def test_interaction_triples_need_training_interactions(tiny_dataset):
    with pytest.raises(ConfigError, match="interaction_triples"):
        build_item_graph(tiny_dataset, KGEncoderConfig(interaction_triples=True))


def test_neighbors_skip_users(tiny_dataset, thirds):
    graph = build_item_graph(tiny_dataset, KGEncoderConfig(interaction_triples=True), thirds.train)
    labels = sorted(set(graph.triples[:, 0]) | set(graph.triples[:, 2]))
    _, columns = neighbor_pairs(graph, labels)
    assert not any(labels[column].startswith(USER_PREFIX) for column in columns)


def test_neighbors_of_toy_story_include_its_genres(tiny_dataset):
    graph = build_item_graph(tiny_dataset, KGEncoderConfig(prune_leaves=False))
    labels = sorted(set(graph.triples[:, 0]) | set(graph.triples[:, 2]))
    rows, columns = neighbor_pairs(graph, labels)
    toy_story = tiny_dataset.items.index("1")
    names = {labels[column] for row, column in zip(rows, columns) if row == toy_story}
    assert {"genre:Animation", "genre:Children's", "genre:Comedy", "decade:1990s"} <= names


def neighbor_encoder(dataset, tmp_path, **overrides) -> KGEncoder:
    split = Split(dataset.interactions, dataset.interactions.iloc[:0], dataset.interactions.iloc[:0])
    context = small_context(tmp_path / "cache", dim=8, dataset=dataset, split=split)
    return KGEncoder(KGEncoderConfig(**{**FAST, "item_vectors": "neighbors", **overrides}), context)


def test_neighbor_vector_is_the_mean_of_neighbor_rows(tiny_dataset, tmp_path):
    encoder = neighbor_encoder(tiny_dataset, tmp_path)
    item = tiny_dataset.items.index("1")
    rows = encoder.neighbor_entities[encoder.neighbor_items == item]
    expected = encoder.projection(encoder.item_embeddings[rows].mean(dim=0))
    assert torch.allclose(encoder(torch.tensor([item])).embeddings[0], expected, atol=1e-6)


def test_neighbor_vectors_for_every_item_with_attributes(tiny_dataset, tmp_path):
    assert neighbor_encoder(tiny_dataset, tmp_path)().mask.all()


def test_item_without_neighbors_is_masked(tiny_dataset, tmp_path):
    encoder = neighbor_encoder(tiny_dataset, tmp_path, genre_triples=False, decade_triples=False)
    assert encoder().mask.tolist() == [True] * 11 + [False]


def test_finetuned_neighbor_rows_get_gradients(tiny_dataset, tmp_path):
    encoder = neighbor_encoder(tiny_dataset, tmp_path, finetune=True)
    encoder().embeddings.sum().backward()
    touched = torch.unique(encoder.neighbor_entities)
    assert encoder.item_embeddings.grad[touched].abs().sum(dim=1).gt(0).all()


def test_unknown_item_vectors_rejected(tiny_dataset, tmp_path):
    with pytest.raises(ConfigError, match="item_vectors"):
        neighbor_encoder(tiny_dataset, tmp_path, item_vectors="relations")
