"""Dataset sources registered by the avrec_datasets plugin, loaded through the registry."""

from __future__ import annotations

import pytest

from avrec.data.config import AtomicConfig, GroupLensConfig, MovieLens100kConfig
from avrec.data.load import load_directory
from avrec.errors import ConfigError, DataError
from avrec.plugins import get_registry


def load_source(name: str, config):
    return get_registry().get("dataset", name).load()(config).load()


def test_registered_names():
    assert {"ml-100k", "atomic", "grouplens"} <= set(get_registry().names("dataset"))


def test_splits_registered():
    assert {"ro", "temporal", "loo"} <= set(get_registry().names("split"))


def test_ml100k_source_slice(ml100k_dir):
    dataset = load_source("ml-100k", MovieLens100kConfig(data_dir=str(ml100k_dir), max_users=200))
    assert dataset.n_users == 200
    assert dataset.n_items == 1682


def test_ml100k_source_k_core(ml100k_dir):
    config = MovieLens100kConfig(data_dir=str(ml100k_dir), min_item_interactions=300)
    dataset = load_source("ml-100k", config)
    counts = dataset.interactions["item"].value_counts()
    assert counts.min() >= 300


def test_atomic_source_on_slice(ml100k_slice):
    dataset = load_source("atomic", AtomicConfig(path=str(ml100k_slice), dataset="ml-100k"))
    assert dataset.n_users == 200
    assert dataset.n_items == dataset.interactions["item"].nunique()


def test_atomic_source_slice_links(ml100k_slice):
    dataset = load_source("atomic", AtomicConfig(path=str(ml100k_slice), dataset="ml-100k"))
    link_rows = len((ml100k_slice / "ml-100k.link").read_text().splitlines()) - 1
    in_graph = set(dataset.kg_triples["head"]) | set(dataset.kg_triples["tail"])
    assert len(dataset.item_entities) == link_rows
    assert dataset.item_entities.isin(in_graph).any()


def test_atomic_source_needs_path():
    with pytest.raises(ConfigError, match="dataset.path is not set for the 'atomic' dataset"):
        load_source("atomic", AtomicConfig())


def test_grouplens_source_missing_directory(tmp_path):
    with pytest.raises(DataError, match="is not a directory"):
        load_source("grouplens", GroupLensConfig(path=str(tmp_path / "absent")))


def test_load_directory_detects_atomic(ml100k_slice):
    assert load_directory(ml100k_slice).name == "ml-100k"


def test_load_directory_detects_grouplens(tmp_path):
    (tmp_path / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,10,4.0,5\n")
    assert load_directory(tmp_path).items.raw_ids == ["10"]


def test_load_directory_without_data(tmp_path):
    with pytest.raises(DataError, match="has no dataset files"):
        load_directory(tmp_path)
