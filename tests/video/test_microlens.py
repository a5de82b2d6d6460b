"""The MicroLens layout loader on the fixture folder and on hand-written malformed files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from media_builders import MICROLENS_PAIRS, write_microlens

from avrec.errors import ConfigError, DataError
from avrec_video.configs import MicroLensConfig
from avrec_video.microlens import load_microlens


def load(data_dir: Path, **overrides):
    return load_microlens(MicroLensConfig(data_dir=str(data_dir), **overrides))


@pytest.fixture
def editable_dir(microlens_dir: Path, tmp_path: Path) -> Path:
    return shutil.copytree(microlens_dir, tmp_path / "MicroLens-100k", ignore=shutil.ignore_patterns("videos", "covers"))


def test_counts_users_items_pairs(microlens_dir: Path) -> None:
    dataset = load(microlens_dir)
    assert dataset.n_users == 6
    assert dataset.n_items == 6
    assert len(dataset.interactions) == len(MICROLENS_PAIRS)


def test_items_follow_title_file_order(microlens_dir: Path) -> None:
    assert load(microlens_dir).items.raw_ids == ["101", "102", "103", "104", "105", "106"]


def test_title_keeps_commas(microlens_dir: Path) -> None:
    assert load(microlens_dir).item_features["title"][1] == "Espresso, served in a white cup"


def test_timestamps_and_implicit_feedback(microlens_dir: Path) -> None:
    interactions = load(microlens_dir).interactions
    assert interactions["timestamp"].tolist()[:2] == [10.0, 20.0]
    assert interactions["rating"].isna().all()


def test_comments_joined_per_item(microlens_dir: Path) -> None:
    comments = load(microlens_dir).item_features["comments"]
    assert comments[0] == "lovely cat\nso fluffy"
    assert comments[2] == ""


def test_comments_limited_per_item(microlens_dir: Path) -> None:
    comments = load(microlens_dir, max_comments_per_item=1).item_features["comments"]
    assert comments[0] == "lovely cat"


def test_comments_file_optional(editable_dir: Path) -> None:
    (editable_dir / "MicroLens-100k_comment_en.txt").unlink()
    assert "comments" not in load(editable_dir).item_features


def test_media_rows_per_item_and_kind(microlens_dir: Path) -> None:
    media = load(microlens_dir).media
    assert len(media) == 12
    assert sorted(media["kind"].unique()) == ["image", "video"]
    assert Path(media[media["kind"] == "video"].loc[3, "path"]) == microlens_dir / "videos" / "104.mp4"


def test_media_folders_configurable(microlens_dir: Path) -> None:
    media = load(microlens_dir, video_dir=None, cover_dir=str(microlens_dir / "covers")).media
    assert media["kind"].tolist() == ["image"] * 6


def test_variant_picks_prefix(tmp_path: Path) -> None:
    dataset = load(write_microlens(tmp_path / "MicroLens-50k", variant="50k"), variant="50k")
    assert dataset.name == "MicroLens-50k"


def test_unknown_variant_rejected(microlens_dir: Path) -> None:
    with pytest.raises(ConfigError, match="Invalid dataset.variant '10k'"):
        load(microlens_dir, variant="10k")


def test_missing_pairs_file_names_path(microlens_dir: Path) -> None:
    with pytest.raises(DataError, match="MicroLens-50k_pairs.csv"):
        load(microlens_dir, variant="50k")


def test_missing_data_dir_rejected(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="is not a directory"):
        load(tmp_path / "absent")


def test_unset_data_dir_rejected() -> None:
    with pytest.raises(ConfigError, match="dataset.data_dir is not set"):
        load_microlens(MicroLensConfig())


def append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as stream:
        stream.write(text)


def test_pairs_bad_timestamp_names_line(editable_dir: Path) -> None:
    pairs = editable_dir / "MicroLens-100k_pairs.csv"
    append(pairs, "u9,101,yesterday\n")
    line = len(MICROLENS_PAIRS) + 2  # header is line 1
    with pytest.raises(DataError, match=rf"MicroLens-100k_pairs.csv, line {line}: 'timestamp' value 'yesterday'"):
        load(editable_dir)


def test_pairs_missing_field_names_line(editable_dir: Path) -> None:
    append(editable_dir / "MicroLens-100k_pairs.csv", "u9,101\n")
    with pytest.raises(DataError, match=rf"line {len(MICROLENS_PAIRS) + 2}: expected 3 comma-separated fields"):
        load(editable_dir)


def test_pairs_empty_item_names_line(editable_dir: Path) -> None:
    append(editable_dir / "MicroLens-100k_pairs.csv", "u9,,55\n")
    with pytest.raises(DataError, match=rf"line {len(MICROLENS_PAIRS) + 2}: 'item' is empty"):
        load(editable_dir)


def test_pairs_wrong_header_rejected(editable_dir: Path) -> None:
    pairs = editable_dir / "MicroLens-100k_pairs.csv"
    pairs.write_text("user_id,video_id,time\nu1,101,1\n", encoding="utf-8")
    with pytest.raises(DataError, match="line 1: required column"):
        load(editable_dir)


def test_titles_line_without_title_names_line(editable_dir: Path) -> None:
    append(editable_dir / "MicroLens-100k_title_en.csv", "107\n")
    with pytest.raises(DataError, match=r"MicroLens-100k_title_en.csv, line 7: expected 'item,title'"):
        load(editable_dir)


def test_titles_duplicate_item_names_line(editable_dir: Path) -> None:
    append(editable_dir / "MicroLens-100k_title_en.csv", "101,Another cat\n")
    with pytest.raises(DataError, match=r"line 7: item '101' appears again \(first on line 1\)"):
        load(editable_dir)


def test_titles_header_line_skipped(editable_dir: Path) -> None:
    titles = editable_dir / "MicroLens-100k_title_en.csv"
    titles.write_text("item,title\n" + titles.read_text(encoding="utf-8"), encoding="utf-8")
    assert load(editable_dir).items.raw_ids[0] == "101"


def test_comments_line_without_item_names_line(editable_dir: Path) -> None:
    append(editable_dir / "MicroLens-100k_comment_en.txt", "u4 only a user\n")
    with pytest.raises(DataError, match=r"MicroLens-100k_comment_en.txt, line 4: expected 'user<TAB>item<TAB>comment'"):
        load(editable_dir)


def test_item_only_in_pairs_gets_empty_title(editable_dir: Path) -> None:
    append(editable_dir / "MicroLens-100k_pairs.csv", "u1,200,99\n")
    dataset = load(editable_dir)
    assert dataset.item_features["title"][dataset.items.index("200")] == ""
