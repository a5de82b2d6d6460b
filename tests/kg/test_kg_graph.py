"""Assembly of the item graph from dataset triples, links, attribute triples and a user's files."""

from __future__ import annotations

import logging
import shutil
from dataclasses import replace

import pandas as pd
import pytest

from avrec.data.atomic import load_atomic

from avrec.errors import ConfigError, DataError
from avrec_kg.configs import KGEncoderConfig
from avrec_kg.graph import DECADE_RELATION, GENRE_RELATION, build_item_graph

TOY_STORY = "m.0dyb1"


def relation_rows(graph, relation):
    return [tuple(row) for row in graph.triples.tolist() if row[1] == relation]


def test_linked_item_takes_its_entity(tiny_dataset):
    graph = build_item_graph(tiny_dataset, KGEncoderConfig())
    assert graph.item_entities[tiny_dataset.items.index("1")] == TOY_STORY


def test_genre_triples_from_item_features(tiny_dataset):
    graph = build_item_graph(tiny_dataset, KGEncoderConfig(prune_leaves=False))
    toy_story = {row[2] for row in relation_rows(graph, GENRE_RELATION) if row[0] == TOY_STORY}
    assert toy_story == {"genre:Animation", "genre:Children's", "genre:Comedy"}


def test_decade_triples_from_year(tiny_dataset):
    graph = build_item_graph(tiny_dataset, KGEncoderConfig())
    assert (TOY_STORY, DECADE_RELATION, "decade:1990s") in relation_rows(graph, DECADE_RELATION)


def test_unlinked_item_gets_attribute_node(tiny_dataset):
    graph = build_item_graph(tiny_dataset, KGEncoderConfig())
    assert graph.item_entities[tiny_dataset.items.index("12")] == "item:12"


def test_unlinked_item_masked_under_mask_rule(tiny_dataset):
    graph = build_item_graph(tiny_dataset, KGEncoderConfig(unlinked_items="mask"))
    assert graph.item_entities[tiny_dataset.items.index("12")] is None
    assert graph.counts["items_masked"] == 1


def test_unlinked_item_masked_without_attributes(tiny_dataset):
    config = KGEncoderConfig(genre_triples=False, decade_triples=False)
    graph = build_item_graph(tiny_dataset, config)
    assert graph.item_mask.tolist() == [True] * 11 + [False]


def test_counts_items_in_log(tiny_dataset, caplog):
    with caplog.at_level(logging.INFO, logger="avrec_kg.graph"):
        build_item_graph(tiny_dataset, KGEncoderConfig(unlinked_items="mask"))
    assert "11 linked to an entity, 0 described only by attribute triples, 1 masked" in caplog.text


def test_sources_switch_off(tiny_dataset):
    config = KGEncoderConfig(genre_triples=False, decade_triples=False, prune_leaves=False)
    graph = build_item_graph(tiny_dataset, config)
    assert len(graph.triples) == len(tiny_dataset.kg_triples)


def test_without_links_only_attribute_nodes(tiny_dataset):
    graph = build_item_graph(tiny_dataset, KGEncoderConfig(item_links=False))
    assert graph.item_entities[0] == "item:1"


def test_attributes_only_graph(tiny_dataset):
    graph = build_item_graph(tiny_dataset, KGEncoderConfig(kg_triples=False, item_links=False))
    assert set(graph.triples[:, 1]) == {GENRE_RELATION, DECADE_RELATION}


def test_prune_drops_single_film_actors(tiny_dataset):
    unpruned = build_item_graph(tiny_dataset, KGEncoderConfig(prune_leaves=False))
    pruned = build_item_graph(tiny_dataset, KGEncoderConfig())
    assert len(pruned.triples) == len(unpruned.triples) - pruned.counts["leaf_triples_pruned"]
    assert pruned.counts["leaf_triples_pruned"] > 0


def test_prune_keeps_every_item_entity(tiny_dataset):
    pruned = build_item_graph(tiny_dataset, KGEncoderConfig())
    assert pruned.item_mask.all()


def test_triples_are_sorted_and_unique(tiny_dataset):
    triples = build_item_graph(tiny_dataset, KGEncoderConfig()).triples.tolist()
    assert triples == sorted(triples)
    assert len({tuple(row) for row in triples}) == len(triples)


def test_dataset_without_kg_rejected(tiny_dataset):
    dataset = replace(tiny_dataset, kg_triples=None)
    with pytest.raises(ConfigError, match="has no knowledge-graph triples"):
        build_item_graph(dataset, KGEncoderConfig())


def test_empty_graph_rejected(tiny_dataset):
    config = KGEncoderConfig(kg_triples=False, genre_triples=False, decade_triples=False)
    with pytest.raises(DataError, match="knowledge graph is empty"):
        build_item_graph(tiny_dataset, config)


def test_unknown_unlinked_rule_rejected(tiny_dataset):
    with pytest.raises(ConfigError, match="unlinked_items 'zero'"):
        build_item_graph(tiny_dataset, KGEncoderConfig(unlinked_items="zero"))


def test_user_files_replace_dataset_graph(tiny_dataset, tmp_path):
    triples = tmp_path / "triples.tsv"
    triples.write_text("head\trelation\ttail\nToy Story\tdirected_by\tJohn Lasseter\n"
                       "A Bug's Life\tdirected_by\tJohn Lasseter\n", encoding="utf-8")
    links = tmp_path / "links.tsv"
    links.write_text("item\tentity\n1\tToy Story\n", encoding="utf-8")
    config = KGEncoderConfig(triples_path=str(triples), links_path=str(links), genre_triples=False,
                             decade_triples=False, prune_leaves=False)
    graph = build_item_graph(tiny_dataset, config)
    assert graph.item_entities[0] == "Toy Story"
    assert graph.counts["triples"] == 2


def test_user_link_to_unknown_item_names_line(tiny_dataset, tmp_path):
    triples = tmp_path / "triples.tsv"
    triples.write_text("head\trelation\ttail\nToy Story\tdirected_by\tJohn Lasseter\n", encoding="utf-8")
    links = tmp_path / "links.tsv"
    links.write_text("item\tentity\n1\tToy Story\n4242\tToy Story\n", encoding="utf-8")
    config = KGEncoderConfig(triples_path=str(triples), links_path=str(links))
    with pytest.raises(DataError, match=r"links.tsv, line 3: .* the first is '4242'"):
        build_item_graph(tiny_dataset, config)


def test_in_memory_duplicate_names_row(tiny_dataset, caplog):
    frame = pd.concat([tiny_dataset.kg_triples, tiny_dataset.kg_triples.iloc[[0]]], ignore_index=True)
    dataset = replace(tiny_dataset, kg_triples=frame, source_files={})
    with caplog.at_level(logging.WARNING):
        graph = build_item_graph(dataset, KGEncoderConfig(prune_leaves=False))
    assert graph.counts["duplicates_dropped"] == 1
    assert f"row {len(frame)}" in caplog.text


def test_kg_file_problems_name_file_lines(ml100k_kg_tiny, tmp_path, caplog):
    for path in ml100k_kg_tiny.iterdir():
        shutil.copy(path, tmp_path / path.name)
    kg = tmp_path / "ml-100k.kg"
    lines = kg.read_text(encoding="utf-8").splitlines()
    lines.insert(3, lines[1])
    lines.append("m.0dyb1\tfilm.film.sequel\tm.0dyb1")
    kg.write_text("\n".join(lines) + "\n", encoding="utf-8")
    dataset = load_atomic(tmp_path, "ml-100k", require_rating=True)
    with caplog.at_level(logging.WARNING):
        build_item_graph(dataset, KGEncoderConfig())
    assert f"{kg}: 1 repeated triples were dropped; the first is 'm." in caplog.text
    assert f"at {kg}, line 4." in caplog.text
    assert f"at {kg}, line {len(lines)}." in caplog.text
