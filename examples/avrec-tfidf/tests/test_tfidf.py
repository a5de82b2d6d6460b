"""Tests of the avrec-tfidf plugin: avrec's contract cases plus checks computed by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from omegaconf import OmegaConf

import avrec_tfidf
from avrec.config import validate_node
from avrec.data.dataset import Dataset, IdMap
from avrec.errors import ConfigError
from avrec.interfaces import ModalityOutput
from avrec.plugins import PluginInfo, PluginManager
from avrec.testing import EncoderContract, FusionContract, small_context
from avrec_tfidf.configs import MaskedMeanFusionConfig, TfidfEncoderConfig
from avrec_tfidf.encoder import TfidfEncoder, item_texts, tfidf_svd_features
from avrec_tfidf.fusion import MaskedMeanFusion


class TestTfidfEncoder(EncoderContract):
    component_class = TfidfEncoder
    config_class = TfidfEncoderConfig

    def expected_mask(self, context):
        # Only the last catalogue item has neither a title nor genres.
        return [bool(title) for title in context.dataset.item_features["title"]]


class TestTfidfEncoderBigrams(EncoderContract):
    component_class = TfidfEncoder
    config_class = TfidfEncoderConfig
    config_overrides = {"fields": ["title", "description"], "ngram_max": 2, "svd_dim": 4, "dim": 6}


class TestMaskedMeanFusion(FusionContract):
    component_class = MaskedMeanFusion
    config_class = MaskedMeanFusionConfig


class TestMaskedMeanFusionFixedWeights(FusionContract):
    component_class = MaskedMeanFusion
    config_class = MaskedMeanFusionConfig
    config_overrides = {"learned_weights": False}
    input_dims = {"id": 8, "tfidf": 6, "kg": 4}


def _catalogue(titles: list[str]) -> Dataset:
    interactions = pd.DataFrame({"user": [0, 0], "item": [0, 1], "rating": [4.0, 5.0], "timestamp": [1.0, 2.0]})
    features = pd.DataFrame({"title": titles, "genres": [[] for _ in titles]})
    return Dataset("titles", interactions, IdMap(["u0"]), IdMap(f"i{i}" for i in range(len(titles))), features)


def test_identical_texts_cosine_one() -> None:
    features, _ = tfidf_svd_features(["night train", "night train", "space jazz"], TfidfEncoderConfig(), seed=0)
    assert features[0] @ features[1] == pytest.approx(1.0, abs=1e-6)


def test_disjoint_texts_orthogonal() -> None:
    # Rows 0 and 2 share no term, so their TF-IDF rows are orthogonal, and the
    # SVD keeps inner products when it keeps the full rank (2 here).
    features, _ = tfidf_svd_features(["night train", "night train", "space jazz"], TfidfEncoderConfig(), seed=0)
    assert features[0] @ features[2] == pytest.approx(0.0, abs=1e-6)


def test_text_without_terms_masked() -> None:
    # The default token pattern keeps words of two or more characters, so "M" yields no term.
    _, mask = tfidf_svd_features(["night train", "M", "", "space jazz"], TfidfEncoderConfig(), seed=0)
    assert mask.tolist() == [True, False, False, True]


def test_genre_lists_joined() -> None:
    features = pd.DataFrame({"title": ["Orbit", ""], "genres": [["Sci-Fi", "Drama"], ["Comedy"]]})
    assert item_texts(features, ["title", "genres"], 2) == ["Orbit Sci-Fi Drama", "Comedy"]


def test_unknown_field_names_columns(tmp_path) -> None:
    context = small_context(tmp_path)
    with pytest.raises(ConfigError, match="plot"):
        TfidfEncoder(TfidfEncoderConfig(fields=["plot"]), context)


def test_svd_dim_capped_by_vocabulary(tmp_path) -> None:
    dataset = _catalogue(["night train", "space jazz"])
    encoder = TfidfEncoder(TfidfEncoderConfig(svd_dim=64, dim=3), small_context(tmp_path, dataset=dataset))
    assert encoder.features.shape == (2, 1)


def _modality(rows: list[list[float]], mask: list[bool]) -> ModalityOutput:
    return ModalityOutput(torch.tensor(rows), torch.tensor(mask))


def test_fusion_weights_renormalised() -> None:
    fusion = MaskedMeanFusion(MaskedMeanFusionConfig(learned_weights=False), {"a": 1, "b": 1}, 1)
    for projection in fusion.projections.values():
        torch.nn.init.ones_(projection.weight)
        torch.nn.init.zeros_(projection.bias)
    outputs = {
        "a": _modality([[2.0], [2.0]], [True, True]),
        "b": _modality([[4.0], [99.0]], [True, False]),
    }
    # Item 0 has both modalities: (2 + 4) / 2 = 3. Item 1 lacks b: 2 alone.
    assert fusion(outputs).squeeze(-1).tolist() == [3.0, 2.0]


def test_registers_components() -> None:
    manager = PluginManager()
    manager.register_module(avrec_tfidf, PluginInfo("avrec_tfidf", "avrec-tfidf", "0.1.0", "avrec_tfidf"))
    names = sorted((spec.kind, spec.name) for spec in manager.registry)
    assert names == [("encoder", "tfidf"), ("fusion", "masked_mean")]


@pytest.mark.parametrize(
    ("relative", "config_class"),
    [("encoder/tfidf.yaml", TfidfEncoderConfig), ("fusion/masked_mean.yaml", MaskedMeanFusionConfig)],
)
def test_presets_match_defaults(relative: str, config_class: type) -> None:
    node = OmegaConf.load(avrec_tfidf.CONFIG_DIR / relative)
    assert validate_node(node, config_class, relative, drop=("name",)) == config_class()


def test_encoder_preset_package_header() -> None:
    # encoder is a multi-select group, so each encoder's preset must place itself under encoder.<name>.
    first_line = (avrec_tfidf.CONFIG_DIR / "encoder" / "tfidf.yaml").read_text().splitlines()[0]
    assert first_line == "# @package encoder.tfidf"


def test_config_dirs_hook() -> None:
    assert avrec_tfidf.avrec_config_dirs() == [str(avrec_tfidf.CONFIG_DIR)]


def test_features_restored_from_state_dict(tmp_path) -> None:
    context = small_context(tmp_path)
    source = TfidfEncoder(TfidfEncoderConfig(svd_dim=3), context)
    target = TfidfEncoder(TfidfEncoderConfig(svd_dim=3), context)
    with torch.no_grad():
        source.features.mul_(-1.0)
    target.load_state_dict(source.state_dict())
    assert np.array_equal(target.features.numpy(), source.features.numpy())
