"""Validation errors name file, line and value; duplicate, threshold, max_users and k-core rules."""

from __future__ import annotations

import logging

import pytest

from avrec.data.atomic import load_atomic
from avrec.data.config import AtomicConfig
from avrec.errors import ConfigError, DataError

INTER_HEADER = ["user_id:token", "item_id:token", "rating:float", "timestamp:float"]


def load_error(directory, **config) -> str:
    with pytest.raises(DataError) as excinfo:
        load_atomic(directory, config=AtomicConfig(**config), require_rating=True)
    return str(excinfo.value)


# Errors ----------------------------------------------------------------------------------------


def test_missing_rating_column(write_atomic):
    directory = write_atomic(inter=[["user_id:token", "item_id:token", "timestamp:float"], ["u1", "a", 1]])
    message = load_error(directory)
    assert "toy.inter, line 1:" in message
    assert "rating" in message
    assert "found: user_id:token, item_id:token, timestamp:float" in message


def test_missing_item_column(write_atomic):
    directory = write_atomic(inter=[["user_id:token", "movie:token"], ["u1", "a"]])
    with pytest.raises(DataError, match=r"toy.inter, line 1: required column\(s\) item_id missing"):
        load_atomic(directory)


def test_non_numeric_rating(write_atomic):
    directory = write_atomic(inter=[INTER_HEADER, ["u1", "a", 4, 1], ["u1", "b", "four", 2]])
    message = load_error(directory)
    assert "toy.inter, line 3:" in message
    assert "'four' is not a number" in message


def test_nan_rating(write_atomic):
    directory = write_atomic(inter=[INTER_HEADER, ["u1", "a", "nan", 1]])
    message = load_error(directory)
    assert "toy.inter, line 2:" in message
    assert "'rating' is 'nan'" in message


def test_empty_rating(write_atomic):
    directory = write_atomic(inter=[INTER_HEADER, ["u1", "a", 3, 1], ["u2", "a", 3, 1], ["u3", "a", "", 1]])
    message = load_error(directory)
    assert "toy.inter, line 4:" in message
    assert "'rating' is empty" in message


def test_non_numeric_timestamp(write_atomic):
    directory = write_atomic(inter=[INTER_HEADER, ["u1", "a", 3, "2020-01-01"]])
    message = load_error(directory)
    assert "toy.inter, line 2:" in message
    assert "'timestamp' value '2020-01-01' is not a number" in message


def test_wrong_field_count(write_atomic):
    directory = write_atomic(inter=[INTER_HEADER, ["u1", "a", 3, 1], ["u1", "b", 3, 1], ["u1", "c", 3]])
    message = load_error(directory)
    assert "toy.inter, line 4:" in message
    assert "expected 4 tab-separated fields" in message
    assert "found 3: 'u1\\tc\\t3'" in message


def test_unknown_header_type(write_atomic):
    directory = write_atomic(inter=[["user_id:token", "item_id:int"], ["u1", "a"]])
    with pytest.raises(DataError, match=r"toy.inter, line 1: header cell 'item_id:int' has unknown type 'int'"):
        load_atomic(directory)


def test_invalid_utf8_names_line(write_atomic):
    directory = write_atomic(inter="user_id:token\titem_id:token\nu1\ta\n")
    (directory / "toy.inter").write_bytes(b"user_id:token\titem_id:token\nu1\ta\nu2\tcaf\xe9\n")
    with pytest.raises(DataError, match=r"toy.inter, line 3: bytes b'\\xe9' are not valid UTF-8"):
        load_atomic(directory)


def test_unknown_link_item(write_atomic):
    directory = write_atomic(
        inter=[INTER_HEADER, ["u1", "a", 5, 1]],
        link=[["item_id:token", "entity_id:token"], ["a", "m.a"], ["zz", "m.z"]],
    )
    message = load_error(directory)
    assert "toy.link, line 3:" in message
    assert "item 'zz'" in message


def test_repeated_item_id(write_atomic):
    directory = write_atomic(
        inter=[INTER_HEADER, ["u1", "a", 5, 1]],
        item=[["item_id:token", "title:token"], ["a", "One"], ["a", "Two"]],
    )
    message = load_error(directory)
    assert "toy.item, line 3:" in message
    assert "item_id 'a' appears again (first on line 2)" in message


# Duplicate rule --------------------------------------------------------------------------------

DUPLICATES = [
    INTER_HEADER,
    ["u1", "a", 1, 300],
    ["u1", "a", 5, 100],
    ["u1", "a", 3, 200],
    ["u2", "a", 4, 50],
]


def ratings_and_times(directory, rule: str) -> list[tuple[float, float]]:
    frame = load_atomic(directory, config=AtomicConfig(duplicates=rule)).interactions
    return list(zip(frame["rating"].tolist(), frame["timestamp"].tolist()))


def test_duplicates_latest(write_atomic):
    assert ratings_and_times(write_atomic(inter=DUPLICATES), "latest") == [(1.0, 300.0), (4.0, 50.0)]


def test_duplicates_first(write_atomic):
    assert ratings_and_times(write_atomic(inter=DUPLICATES), "first") == [(5.0, 100.0), (4.0, 50.0)]


def test_duplicates_mean(write_atomic):
    assert ratings_and_times(write_atomic(inter=DUPLICATES), "mean") == [(3.0, 300.0), (4.0, 50.0)]


def test_duplicates_keep(write_atomic):
    kept = ratings_and_times(write_atomic(inter=DUPLICATES), "keep")
    assert kept == [(1.0, 300.0), (5.0, 100.0), (3.0, 200.0), (4.0, 50.0)]


def test_duplicates_error(write_atomic):
    message = load_error(write_atomic(inter=DUPLICATES), duplicates="error")
    assert "toy.inter, line 3:" in message
    assert "user 'u1' and item 'a' appear more than once (lines 2, 3, 4)" in message


def test_duplicates_latest_without_timestamps(write_atomic):
    rows = [["user_id:token", "item_id:token", "rating:float"], ["u1", "a", 1], ["u1", "a", 2]]
    frame = load_atomic(write_atomic(inter=rows)).interactions
    assert frame["rating"].tolist() == [2.0]


def test_duplicates_count_logged(write_atomic, caplog):
    with caplog.at_level(logging.WARNING, logger="avrec.data.validate"):
        load_atomic(write_atomic(inter=DUPLICATES))
    assert "2 duplicate (user, item) rows removed by rule duplicates=latest" in caplog.text


def test_duplicates_unknown_rule(write_atomic):
    with pytest.raises(ConfigError, match="'dataset.duplicates': 'last'"):
        load_atomic(write_atomic(inter=DUPLICATES), config=AtomicConfig(duplicates="last"))


# Rating threshold, max_users, k-core -----------------------------------------------------------


def test_rating_threshold_keeps_at_least(write_atomic):
    rows = [INTER_HEADER, ["u1", "a", 3.5, 1], ["u1", "b", 4, 2], ["u2", "a", 5, 3]]
    frame = load_atomic(write_atomic(inter=rows), config=AtomicConfig(rating_threshold=4)).interactions
    assert frame["rating"].tolist() == [4.0, 5.0]


def test_rating_threshold_needs_ratings(write_atomic):
    directory = write_atomic(inter=[["user_id:token", "item_id:token"], ["u1", "a"]])
    with pytest.raises(ConfigError, match="rating_threshold=4.0 needs ratings"):
        load_atomic(directory, config=AtomicConfig(rating_threshold=4.0))


def test_max_users_first_in_file_order(write_atomic):
    rows = [INTER_HEADER, ["u9", "a", 1, 1], ["u2", "a", 1, 1], ["u9", "b", 1, 1], ["u1", "a", 1, 1]]
    dataset = load_atomic(write_atomic(inter=rows), config=AtomicConfig(max_users=2))
    assert dataset.users.raw_ids == ["u9", "u2"]


def test_k_core_repeats_until_stable(write_atomic):
    rows = [
        INTER_HEADER,
        ["u1", "a", 1, 1], ["u1", "d", 1, 1],
        ["u2", "a", 1, 1], ["u2", "d", 1, 1],
        ["u3", "a", 1, 1], ["u3", "c", 1, 1],
    ]
    config = AtomicConfig(min_user_interactions=2, min_item_interactions=2)
    dataset = load_atomic(write_atomic(inter=rows), config=config)
    # Round 1 drops item c (1 rating). Round 2 drops u3 (1 left). Then a and d have 2 each: stable.
    assert sorted(dataset.users.raw_ids) == ["u1", "u2"]
    assert len(dataset.interactions) == 4


def test_everything_filtered_raises(write_atomic):
    rows = [INTER_HEADER, ["u1", "a", 1, 1]]
    with pytest.raises(DataError, match="no interactions are left after cleaning"):
        load_atomic(write_atomic(inter=rows), config=AtomicConfig(rating_threshold=3))
