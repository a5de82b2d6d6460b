"""Reading and validation of a user's triples and links TSV files."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from avrec.data.kg import (
    LINK_COLUMNS,
    TRIPLE_COLUMNS,
    clean_triples,
    link_items,
    read_label_tsv,
    require_triples,
)
from avrec.errors import ConfigError, DataError

# Lines of the ml-100k .kg file: Toy Story (item 1, entity m.0dyb1) with an actor and a genre.
TOY_STORY_ACTOR = "m.0dyb1\tfilm.film.actor\tm.01lx_z"
TOY_STORY_GENRE = "m.0dyb1\tfilm.film.genre\tm.01hmnh"


def write(tmp_path: Path, name: str, lines: list[str]) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def triples_file(tmp_path: Path, rows: list[str]) -> Path:
    return write(tmp_path, "triples.tsv", ["head\trelation\ttail", *rows])


def test_reads_triples_with_header(tmp_path):
    table = read_label_tsv(triples_file(tmp_path, [TOY_STORY_ACTOR, TOY_STORY_GENRE]), TRIPLE_COLUMNS)
    assert table.frame.values.tolist() == [["m.0dyb1", "film.film.actor", "m.01lx_z"], ["m.0dyb1", "film.film.genre", "m.01hmnh"]]


def test_skips_empty_lines_and_keeps_line_numbers(tmp_path):
    table = read_label_tsv(triples_file(tmp_path, [TOY_STORY_ACTOR, "", TOY_STORY_GENRE]), TRIPLE_COLUMNS)
    assert table.where(1).endswith("line 4")


def test_missing_file_names_path(tmp_path):
    with pytest.raises(DataError, match="missing.tsv"):
        read_label_tsv(tmp_path / "missing.tsv", TRIPLE_COLUMNS)


def test_wrong_header_is_rejected(tmp_path):
    path = write(tmp_path, "triples.tsv", ["subject\tpredicate\tobject", TOY_STORY_ACTOR])
    with pytest.raises(DataError, match=r"line 1: header 'subject\\tpredicate\\tobject'"):
        read_label_tsv(path, TRIPLE_COLUMNS)


def test_malformed_line_names_line_and_value(tmp_path):
    path = triples_file(tmp_path, [TOY_STORY_ACTOR, "m.0dyb1\tfilm.film.genre"])
    with pytest.raises(DataError, match=r"triples.tsv, line 3: expected 3 tab-separated fields .* found 2: 'm.0dyb1"):
        read_label_tsv(path, TRIPLE_COLUMNS)


def test_empty_label_is_rejected(tmp_path):
    path = triples_file(tmp_path, ["m.0dyb1\t \tm.01hmnh"])
    with pytest.raises(DataError, match="line 2: empty relation"):
        read_label_tsv(path, TRIPLE_COLUMNS)


def test_invalid_utf8_names_line(tmp_path):
    path = tmp_path / "triples.tsv"
    path.write_bytes(b"head\trelation\ttail\n" + TOY_STORY_ACTOR.encode() + b"\nAm\xe9lie\tfilm.film.genre\tm.01hmnh\n")
    with pytest.raises(DataError, match="line 3: bytes"):
        read_label_tsv(path, TRIPLE_COLUMNS)


def test_duplicates_dropped_and_counted(tmp_path, caplog):
    path = triples_file(tmp_path, [TOY_STORY_ACTOR, TOY_STORY_GENRE, TOY_STORY_ACTOR, TOY_STORY_ACTOR])
    with caplog.at_level(logging.WARNING):
        frame, stats = clean_triples(read_label_tsv(path, TRIPLE_COLUMNS), "drop")
    assert len(frame) == 2
    assert stats.duplicates == 2
    assert "2 repeated triples were dropped" in caplog.text
    assert "line 4" in caplog.text


def test_self_loops_dropped_by_default_rule(tmp_path, caplog):
    path = triples_file(tmp_path, [TOY_STORY_ACTOR, "m.0dyb1\tfilm.film.sequel\tm.0dyb1"])
    with caplog.at_level(logging.WARNING):
        frame, stats = clean_triples(read_label_tsv(path, TRIPLE_COLUMNS), "drop")
    assert frame["tail"].tolist() == ["m.01lx_z"]
    assert stats.self_loops_dropped == 1
    assert "self-loops (head = tail) were dropped" in caplog.text
    assert "line 3" in caplog.text


def test_self_loops_kept_when_asked(tmp_path, caplog):
    path = triples_file(tmp_path, [TOY_STORY_ACTOR, "m.0dyb1\tfilm.film.sequel\tm.0dyb1"])
    with caplog.at_level(logging.WARNING):
        frame, stats = clean_triples(read_label_tsv(path, TRIPLE_COLUMNS), "keep")
    assert len(frame) == 2
    assert stats.self_loops == 1
    assert stats.self_loops_dropped == 0
    assert "were kept" in caplog.text


def test_unknown_self_loop_rule_rejected(tmp_path):
    table = read_label_tsv(triples_file(tmp_path, [TOY_STORY_ACTOR]), TRIPLE_COLUMNS)
    with pytest.raises(ConfigError, match="self_loops 'remove'"):
        clean_triples(table, "remove")


def links_file(tmp_path: Path, rows: list[str]) -> Path:
    return write(tmp_path, "links.tsv", ["item\tentity", *rows])


ITEM_IDS = {"1": 0, "2": 1, "3": 2}
ENTITIES = {"m.0dyb1", "m.09w353"}


def test_links_map_items_to_entities(tmp_path):
    table = read_label_tsv(links_file(tmp_path, ["1\tm.0dyb1", "2\tm.09w353"]), LINK_COLUMNS)
    assert link_items(table, ITEM_IDS, ENTITIES) == {0: "m.0dyb1", 1: "m.09w353"}


def test_link_to_unknown_item_names_line(tmp_path):
    table = read_label_tsv(links_file(tmp_path, ["1\tm.0dyb1", "99\tm.09w353"]), LINK_COLUMNS)
    with pytest.raises(DataError, match=r"links.tsv, line 3: 1 links name items that are not in the dataset, the first is '99'"):
        link_items(table, ITEM_IDS, ENTITIES)


def test_unknown_item_skipped_in_warn_mode(tmp_path, caplog):
    table = read_label_tsv(links_file(tmp_path, ["1\tm.0dyb1", "99\tm.09w353"]), LINK_COLUMNS)
    with caplog.at_level(logging.WARNING):
        linked = link_items(table, ITEM_IDS, ENTITIES, unknown_items="warn")
    assert linked == {0: "m.0dyb1"}
    assert "line 3" in caplog.text


def test_link_to_unknown_entity_counted(tmp_path, caplog):
    table = read_label_tsv(links_file(tmp_path, ["1\tm.0dyb1", "2\tm.nowhere", "3\tm.elsewhere"]), LINK_COLUMNS)
    with caplog.at_level(logging.WARNING):
        linked = link_items(table, ITEM_IDS, ENTITIES)
    assert linked == {0: "m.0dyb1"}
    assert "2 links name entities that occur in no triple, the first is 'm.nowhere'" in caplog.text
    assert "line 3" in caplog.text


def test_item_linked_twice_keeps_first(tmp_path, caplog):
    table = read_label_tsv(links_file(tmp_path, ["1\tm.0dyb1", "1\tm.09w353"]), LINK_COLUMNS)
    with caplog.at_level(logging.WARNING):
        linked = link_items(table, ITEM_IDS, ENTITIES)
    assert linked == {0: "m.0dyb1"}
    assert "1 items are linked more than once" in caplog.text
    assert "line 3" in caplog.text


def test_empty_graph_names_sources(tmp_path):
    table = read_label_tsv(triples_file(tmp_path, []), TRIPLE_COLUMNS)
    with pytest.raises(DataError, match="knowledge graph is empty: .*triples.tsv yielded no triples"):
        require_triples(table.frame, [table.source])
