"""RecBole atomic files: parsing, id mapping, item features, KG links, and the real ml-100k files."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from avrec.data.atomic import load_atomic, read_atomic_file
from avrec.data.config import AtomicConfig
from avrec.errors import DataError

@pytest.fixture(scope="module")
def ml100k(ml100k_dir):
    return load_atomic(ml100k_dir, "ml-100k", require_rating=True)


INTER_HEADER = ["user_id:token", "item_id:token", "rating:float", "timestamp:float"]
ITEM_HEADER = ["item_id:token", "movie_title:token_seq", "release_year:token", "class:token_seq"]


def test_ml100k_sizes(ml100k):
    dataset = ml100k
    assert dataset.n_users == 943
    assert dataset.n_items == 1682
    assert len(dataset.interactions) == 100_000


def test_ml100k_title_gets_year(ml100k):
    dataset = ml100k
    star_wars = dataset.items.index("50")
    assert dataset.item_features.loc[star_wars, "title"] == "Star Wars (1977)"
    assert dataset.item_features.loc[star_wars, "year"] == 1977
    assert dataset.item_features.loc[star_wars, "genres"] == ["Action", "Adventure", "Romance", "Sci-Fi", "War"]


def test_ml100k_title_with_year_kept(ml100k):
    # Item 1412 already ends in "(1995)" and its release_year is "V", which is not a year.
    dataset = ml100k
    row = dataset.item_features.loc[dataset.items.index("1412")]
    assert row["title"] == "Land Before Time III: The Time of the Great Giving (1995)"
    assert pd.isna(row["year"])


def test_ml100k_accented_title(ml100k):
    dataset = ml100k
    assert dataset.item_features.loc[dataset.items.index("543"), "title"] == "Misérables, Les (1995)"


def test_ml100k_kg_and_links(ml100k):
    dataset = ml100k
    assert len(dataset.kg_triples) == 91_631
    assert len(dataset.item_entities) == 1_598
    assert dataset.item_entities[dataset.items.index("476")] == "m.08gjyx"


def test_ml100k_user_features(ml100k):
    dataset = ml100k
    first = dataset.user_features.loc[dataset.users.index("1")]
    assert first["occupation"] == "technician"
    assert first["zip_code"] == "85711"


def test_interaction_dtypes(write_atomic):
    directory = write_atomic(inter=[INTER_HEADER, ["u1", "i1", 4, 100]])
    frame = load_atomic(directory).interactions
    assert frame["user"].dtype == np.int64
    assert frame["item"].dtype == np.int64
    assert frame["rating"].dtype == np.float32
    assert frame["timestamp"].dtype == np.float64


def test_chinese_and_emoji_titles(write_atomic):
    directory = write_atomic(
        inter=[INTER_HEADER, ["u1", "i1", 5, 1], ["u1", "i2", 4, 2]],
        item=[ITEM_HEADER, ["i1", "霸王别姬", "1993", "剧情 爱情"], ["i2", "🎬 Cats 😺 café", "", "Comedy"]],
    )
    features = load_atomic(directory).item_features
    assert features.loc[0, "title"] == "霸王别姬 (1993)"
    assert features.loc[0, "genres"] == ["剧情", "爱情"]
    assert features.loc[1, "title"] == "🎬 Cats 😺 café"


def test_string_and_sparse_ids(write_atomic):
    directory = write_atomic(
        inter=[INTER_HEADER, ["alice", "1000", 5, 1], ["bob", "7", 3, 2], ["alice", "x9", 1, 3]]
    )
    dataset = load_atomic(directory)
    assert dataset.users.raw_ids == ["alice", "bob"]
    assert dataset.items.raw_ids == ["1000", "7", "x9"]
    assert dataset.interactions["user"].tolist() == [0, 1, 0]
    assert dataset.interactions["item"].tolist() == [0, 1, 2]


def test_items_without_interactions_kept(write_atomic):
    directory = write_atomic(
        inter=[INTER_HEADER, ["u1", "b", 5, 1], ["u1", "new", 5, 2]],
        item=[ITEM_HEADER, ["a", "Unrated", "2001", "Drama"], ["b", "Rated", "2002", "Drama"]],
    )
    dataset = load_atomic(directory)
    assert dataset.items.raw_ids == ["a", "b", "new"]
    assert dataset.item_features.loc[2, "title"] == ""
    assert dataset.item_features.loc[2, "genres"] == []
    assert pd.isna(dataset.item_features.loc[2, "year"])


def test_extra_item_columns_typed(write_atomic):
    directory = write_atomic(
        inter=[INTER_HEADER, ["u1", "a", 5, 1]],
        item=[
            ["item_id:token", "title:token", "price:float", "tags:token_seq", "scores:float_seq"],
            ["a", "Podcast", "2.5", "news daily", "0.5 1.5"],
        ],
    )
    row = load_atomic(directory).item_features.loc[0]
    assert row["price"] == 2.5
    assert row["tags"] == ["news", "daily"]
    assert row["scores"] == [0.5, 1.5]


def test_title_year_can_be_off(write_atomic):
    directory = write_atomic(
        inter=[INTER_HEADER, ["u1", "a", 5, 1]],
        item=[ITEM_HEADER, ["a", "Heat", "1995", "Crime"]],
    )
    features = load_atomic(directory, config=AtomicConfig(title_with_year=False)).item_features
    assert features.loc[0, "title"] == "Heat"


def test_implicit_feedback_has_nan_rating(write_atomic):
    directory = write_atomic(inter=[["user_id:token", "item_id:token"], ["u1", "a"]])
    assert np.isnan(load_atomic(directory).interactions.loc[0, "rating"])


def test_custom_field_names(write_atomic):
    directory = write_atomic(
        inter=[["session:token", "track:token", "label:float"], ["s1", "t1", "1"], ["s2", "t1", "0"]]
    )
    config = AtomicConfig(user_field="session", item_field="track", rating_field="label")
    dataset = load_atomic(directory, config=config)
    assert dataset.interactions["rating"].tolist() == [1.0, 0.0]


def test_kg_triples_and_entities(write_atomic):
    directory = write_atomic(
        inter=[INTER_HEADER, ["u1", "a", 5, 1], ["u1", "b", 4, 2]],
        kg=[["head_id:token", "relation_id:token", "tail_id:token"], ["m.a", "film.director", "m.d"]],
        link=[["item_id:token", "entity_id:token"], ["b", "m.b"], ["a", "m.a"]],
    )
    dataset = load_atomic(directory)
    assert dataset.kg_triples.to_dict("records") == [{"head": "m.a", "relation": "film.director", "tail": "m.d"}]
    assert dataset.item_entities.to_dict() == {0: "m.a", 1: "m.b"}


def test_unlinked_entities_warned(write_atomic, caplog):
    directory = write_atomic(
        inter=[INTER_HEADER, ["u1", "a", 5, 1], ["u1", "b", 4, 2]],
        kg=[["head_id:token", "relation_id:token", "tail_id:token"], ["m.a", "film.director", "m.d"]],
        link=[["item_id:token", "entity_id:token"], ["b", "m.b"], ["a", "m.a"]],
    )
    with caplog.at_level(logging.WARNING, logger="avrec.data.atomic"):
        load_atomic(directory)
    assert "1 of 2 linked entities do not occur in the .kg triples" in caplog.text


def test_blank_lines_skipped_and_counted(write_atomic):
    text = "user_id:token\titem_id:token\n\nu1\ta\n\nu1\tb\n"
    directory = write_atomic(inter=text)
    table = read_atomic_file(directory / "toy.inter")
    assert table.lines.tolist() == [3, 5]


def test_missing_inter_file(tmp_path):
    with pytest.raises(DataError, match="toy.inter does not exist"):
        load_atomic(tmp_path, "toy")
