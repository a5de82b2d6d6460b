"""GroupLens layouts: raw ml-100k (u.data, u.item) and ml-latest (ratings.csv, movies.csv, tags.csv)."""

from __future__ import annotations

import pandas as pd
import pytest

from avrec.data.config import GroupLensConfig
from avrec.data.grouplens import ML100K_GENRES, load_grouplens
from avrec.errors import DataError


def genre_flags(*names: str) -> str:
    return "|".join("1" if genre in names else "0" for genre in ML100K_GENRES)


@pytest.fixture
def ml100k_raw(tmp_path):
    directory = tmp_path / "ml-100k"
    directory.mkdir()
    (directory / "u.data").write_text("196\t242\t3\t881250949\n186\t302\t3\t891717742\n196\t302\t5\t881250950\n")
    items = [
        f"242|Kolya (1996)|24-Jan-1997||http://us.imdb.com/M/title-exact?Kolya%20(1996)|{genre_flags('Comedy')}",
        f"302|L.A. Confidential (1997)|01-Jan-1997||http://x|{genre_flags('Crime', 'Film-Noir')}",
        f"303|Misérables, Les|01-Jan-1995||http://y|{genre_flags('Drama')}",
    ]
    (directory / "u.item").write_bytes(("\n".join(items) + "\n").encode("latin-1"))
    (directory / "u.user").write_text("196|49|M|writer|55105\n186|39|F|executive|00000\n")
    return directory


def test_ml100k_raw_interactions(ml100k_raw):
    dataset = load_grouplens(ml100k_raw)
    assert dataset.users.raw_ids == ["196", "186"]
    assert dataset.interactions["rating"].tolist() == [3.0, 3.0, 5.0]


def test_ml100k_raw_items(ml100k_raw):
    features = load_grouplens(ml100k_raw).item_features
    assert features["title"].tolist() == ["Kolya (1996)", "L.A. Confidential (1997)", "Misérables, Les (1995)"]
    assert features.loc[1, "genres"] == ["Crime", "Film-Noir"]
    assert features["year"].tolist() == [1996, 1997, 1995]


def test_ml100k_raw_users(ml100k_raw):
    users = load_grouplens(ml100k_raw).user_features
    assert users.loc[0, "age"] == 49
    assert users.loc[1, "zip_code"] == "00000"


def test_ml100k_raw_bad_line(ml100k_raw):
    (ml100k_raw / "u.data").write_text("196\t242\t3\t881250949\n186\t302\t3\n")
    with pytest.raises(DataError, match=r"u.data, line 2: expected 4 fields separated by '\\t', found 3"):
        load_grouplens(ml100k_raw)


def test_ml100k_raw_bad_rating(ml100k_raw):
    (ml100k_raw / "u.data").write_text("196\t242\tx\t881250949\n")
    with pytest.raises(DataError, match=r"u.data, line 1: 'rating' value 'x' is not a number"):
        load_grouplens(ml100k_raw)


@pytest.fixture
def ml_latest(tmp_path):
    directory = tmp_path / "ml-latest-small"
    directory.mkdir()
    (directory / "ratings.csv").write_text(
        "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,3,4.5,964981247\n2,1,2.5,964982224\n"
    )
    (directory / "movies.csv").write_text(
        "movieId,title,genres\n"
        "1,Toy Story (1995),Adventure|Animation|Children\n"
        '2,"American President, The (1995)",(no genres listed)\n'
        "3,霸王别姬 🎬 (1993),Drama|Romance\n",
        encoding="utf-8",
    )
    (directory / "tags.csv").write_text(
        "userId,movieId,tag,timestamp\n2,1,pixar,1\n3,1,fun,2\n4,1,pixar,3\n5,3,经典,4\n", encoding="utf-8"
    )
    return directory


def test_ml_latest_titles_and_years(ml_latest):
    features = load_grouplens(ml_latest).item_features
    assert features["title"].tolist() == ["Toy Story (1995)", "American President, The (1995)", "霸王别姬 🎬 (1993)"]
    assert features["year"].tolist() == [1995, 1995, 1993]


def test_ml_latest_genres(ml_latest):
    features = load_grouplens(ml_latest).item_features
    assert features.loc[0, "genres"] == ["Adventure", "Animation", "Children"]
    assert features.loc[1, "genres"] == []


def test_ml_latest_tags(ml_latest):
    features = load_grouplens(ml_latest).item_features
    assert features["tags"].tolist() == [["pixar", "fun"], [], ["经典"]]


def test_ml_latest_unrated_movie_kept(ml_latest):
    dataset = load_grouplens(ml_latest)
    assert dataset.items.raw_ids == ["1", "2", "3"]
    assert len(dataset.interactions) == 3


def test_ml_latest_threshold(ml_latest):
    dataset = load_grouplens(ml_latest, GroupLensConfig(rating_threshold=4.0))
    assert dataset.interactions["rating"].tolist() == [4.0, 4.5]


def test_ml_latest_missing_column(ml_latest):
    (ml_latest / "ratings.csv").write_text("userId,movieId,score,timestamp\n1,1,4.0,1\n")
    with pytest.raises(DataError, match=r"ratings.csv, line 1: required column\(s\) rating missing"):
        load_grouplens(ml_latest)


def test_ml_latest_wrong_field_count(ml_latest):
    (ml_latest / "movies.csv").write_text("movieId,title,genres\n1,Toy Story (1995),Animation\n2,Heat, The (1995),Crime\n")
    with pytest.raises(DataError, match=r"movies.csv, line 3: expected 3 comma-separated fields"):
        load_grouplens(ml_latest)


def test_ml_latest_without_year(ml_latest):
    (ml_latest / "movies.csv").write_text("movieId,title,genres\n1,Untitled,Drama\n")
    features = load_grouplens(ml_latest).item_features
    assert pd.isna(features.loc[0, "year"])


def test_unknown_layout(tmp_path):
    with pytest.raises(DataError, match="expected u.data .ml-100k. or ratings.csv"):
        load_grouplens(tmp_path)


def test_ml100k_raw_genre_file(ml100k_raw):
    names = ["Comedy", "Crime", "Drama"]
    (ml100k_raw / "u.genre").write_text("".join(f"{name}|{index}\n" for index, name in enumerate(names)) + "\n")
    flags = {"242": "1|0|0", "302": "0|1|0", "303": "0|0|1"}
    (ml100k_raw / "u.item").write_text("".join(f"{item}|T{item} (1990)|||u|{flags[item]}\n" for item in flags))
    assert load_grouplens(ml100k_raw).item_features["genres"].tolist() == [["Comedy"], ["Crime"], ["Drama"]]
