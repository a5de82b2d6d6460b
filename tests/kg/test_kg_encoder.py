"""The KG encoder on a tiny real ml-100k graph: training, cache, masks, fine-tuning, metrics."""

from __future__ import annotations

import logging
import random

import numpy as np
import pytest
import torch

from avrec.errors import ConfigError
from avrec_kg.configs import KGEncoderConfig
from avrec_kg.embedding import cache_key, entity_vectors, load_cached
from avrec_kg.encoder import KGEncoder
from avrec_kg.graph import build_item_graph

# Small and fast: the tiny graph has about 200 triples after pruning.
FAST = {"embedding_dim": 8, "epochs": 2, "batch_size": 64, "holdout_fraction": 0.05, "eval_candidates": 20}


def fast_config(**overrides) -> KGEncoderConfig:
    return KGEncoderConfig(**{**FAST, **overrides})


@pytest.fixture
def encoder(tiny_dataset, make_context):
    return KGEncoder(fast_config(), make_context(tiny_dataset))


def test_output_shape_follows_model_dim(encoder, tiny_dataset):
    output = encoder()
    assert output.embeddings.shape == (tiny_dataset.n_items, 8)


def test_every_item_has_entity_with_attributes(encoder):
    assert encoder().mask.all()


def test_masked_item_under_mask_rule(tiny_dataset, make_context):
    encoder = KGEncoder(fast_config(unlinked_items="mask"), make_context(tiny_dataset))
    assert encoder().mask.tolist() == [True] * 11 + [False]


def test_masked_item_has_zero_input(tiny_dataset, make_context):
    encoder = KGEncoder(fast_config(unlinked_items="mask"), make_context(tiny_dataset))
    assert torch.count_nonzero(encoder.item_embeddings[11]) == 0


def test_item_subset_matches_full_rows(encoder):
    items = torch.tensor([3, 0])
    full = encoder()
    assert torch.allclose(encoder(items).embeddings, full.embeddings[items], atol=1e-6)


def test_normalized_item_rows(encoder):
    norms = encoder.item_embeddings.norm(dim=1)
    assert torch.allclose(norms, torch.ones_like(norms), atol=1e-5)


def test_frozen_embeddings_are_not_parameters(encoder):
    names = [name for name, _ in encoder.named_parameters()]
    assert names == ["projection.weight", "projection.bias"]


def test_finetune_makes_embeddings_trainable(tiny_dataset, make_context):
    encoder = KGEncoder(fast_config(finetune=True), make_context(tiny_dataset))
    encoder().embeddings.sum().backward()
    assert encoder.item_embeddings.grad is not None


def test_metrics_report_link_prediction(encoder):
    block = encoder.metrics()["kg"]
    assert 0.0 < block["mrr"] <= 1.0
    assert 0.0 <= block["hits@10"] <= 1.0
    assert block["eval_candidates"] == 20
    assert block["trained"] is True


def test_second_build_trains_nothing(tiny_dataset, make_context, caplog):
    context = make_context(tiny_dataset)
    first = KGEncoder(fast_config(), context)
    with caplog.at_level(logging.INFO, logger="avrec_kg.embedding"):
        second = KGEncoder(fast_config(), context)
    assert second.trained is False
    assert "no KG model trained" in caplog.text
    assert torch.equal(first.item_embeddings, second.item_embeddings)


def test_projection_change_reuses_cache(tiny_dataset, make_context):
    context = make_context(tiny_dataset)
    KGEncoder(fast_config(), context)
    assert KGEncoder(fast_config(dim=4, finetune=True), context).trained is False


def test_training_change_retrains(tiny_dataset, make_context):
    context = make_context(tiny_dataset)
    KGEncoder(fast_config(), context)
    assert KGEncoder(fast_config(lr=0.05), context).trained is True


def test_cache_key_follows_triples(tiny_dataset):
    triples = build_item_graph(tiny_dataset, KGEncoderConfig()).triples
    assert cache_key(triples, fast_config()) != cache_key(triples[1:], fast_config())


def test_corrupt_cache_is_rebuilt(tiny_dataset, make_context):
    context = make_context(tiny_dataset)
    KGEncoder(fast_config(), context)
    (cache_file,) = (context.cache_dir / "kg").glob("*.npz")
    cache_file.write_bytes(b"truncated")
    assert load_cached(cache_file) is None
    assert KGEncoder(fast_config(), context).trained is True


def draws_after_build(context) -> tuple[float, float, float]:
    torch.manual_seed(7)
    random.seed(7)
    np.random.seed(7)
    KGEncoder(fast_config(), context)
    return torch.rand(1).item(), random.random(), float(np.random.rand())


def test_random_state_same_with_cache(tiny_dataset, make_context):
    context = make_context(tiny_dataset)
    trained = draws_after_build(context)
    cached = draws_after_build(context)
    assert trained == cached


@pytest.mark.parametrize("model, width", [("distmult", 8), ("complex", 16), ("rotate", 16)])
def test_models_by_name(tiny_dataset, make_context, model, width):
    encoder = KGEncoder(fast_config(model=model), make_context(tiny_dataset))
    assert encoder.item_embeddings.shape[1] == width


def test_complex_model_real_view():
    from pykeen.models import ComplEx
    from pykeen.triples import TriplesFactory

    factory = TriplesFactory.from_labeled_triples(np.array([["a", "r", "b"], ["b", "r", "c"]]))
    model = ComplEx(triples_factory=factory, embedding_dim=3, random_seed=1)
    complex_rows = model.entity_representations[0](indices=None).detach()
    vectors = entity_vectors(model)
    assert np.allclose(vectors[:, 0::2], complex_rows.real.numpy())
    assert np.allclose(vectors[:, 1::2], complex_rows.imag.numpy())


def test_unknown_model_lists_choices(tiny_dataset, make_context):
    with pytest.raises(ConfigError, match="Unknown encoder.kg.model 'transx'.*transe"):
        KGEncoder(fast_config(model="transx"), make_context(tiny_dataset))


def test_bad_model_kwargs_rejected(tiny_dataset, make_context):
    with pytest.raises(ConfigError, match="model_kwargs"):
        KGEncoder(fast_config(model_kwargs={"no_such_option": 1}), make_context(tiny_dataset))


@pytest.mark.parametrize("field, value", [("epochs", -1), ("lr", 0.0), ("embedding_dim", 0), ("holdout_fraction", 0.6)])
def test_invalid_training_values_rejected(tiny_dataset, make_context, field, value):
    with pytest.raises(ConfigError, match=f"encoder.kg.{field}"):
        KGEncoder(fast_config(**{field: value}), make_context(tiny_dataset))
