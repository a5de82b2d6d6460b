"""Click (bce) and rating heads: losses, rankings and rmse/mae on hand-computed tiny tensors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from avrec.cli.hydra_app import compose_config
from avrec.config import UserTowerConfig, component_config
from avrec.data.dataset import Dataset, IdMap, empty_item_features
from avrec.errors import ConfigError, DataError
from avrec.interfaces import BuildContext, Split
from avrec.model import Recommender, UserTower
from avrec.plugins import get_registry
from avrec.sampling import NegativeSampler, iterate_batches, train_matrix
from avrec_basic.configs import BCEConfig, BPRConfig, IdEncoderConfig, PassThroughConfig, RatingConfig
from avrec_basic.fusion import PassThroughFusion
from avrec_basic.heads import BCEHead, BPRHead, RatingHead
from avrec_basic.id_encoder import IdEncoder

USER_VECTORS = [[1.0, 0.0], [0.0, 1.0]]
ITEM_VECTORS = [[1.0, 1.0], [2.0, 0.0], [0.0, -1.0]]


def _frame(rows: list[tuple[int, int, float]]) -> pd.DataFrame:
    users, items, ratings = zip(*rows) if rows else ((), (), ())
    return pd.DataFrame({
        "user": np.array(users, dtype=np.int64),
        "item": np.array(items, dtype=np.int64),
        "rating": np.array(ratings, dtype=np.float32),
        "timestamp": np.full(len(rows), np.nan),
    })


def _context(train_rows, test_rows=((0, 1, 5.0), (1, 2, 1.0))) -> BuildContext:
    train, test = _frame(list(train_rows)), _frame(list(test_rows))
    interactions = pd.concat([train, test], ignore_index=True)
    dataset = Dataset("tiny", interactions, IdMap(["u0", "u1"]), IdMap(["a", "b", "c"]), empty_item_features(3))
    split = Split(train, train.iloc[:0], test)
    return BuildContext(
        dataset=dataset, split=split, train_matrix=train_matrix(train, 2, 3), dim=2,
        cache_dir=None, device=torch.device("cpu"), seed=0,
    )


def _model(head_class, head_config, train_rows=((0, 0, 4.0), (1, 1, 2.0)), **context_args) -> Recommender:
    context = _context(train_rows, **context_args)
    encoder = IdEncoder(IdEncoderConfig(), context)
    tower = UserTower(UserTowerConfig(), 2, 2, context.train_matrix)
    with torch.no_grad():
        encoder.embedding.weight.copy_(torch.tensor(ITEM_VECTORS))
        tower.embedding.weight.copy_(torch.tensor(USER_VECTORS))
    fusion = PassThroughFusion(PassThroughConfig(), {"id": 2}, 2)
    model = Recommender({"id": encoder}, fusion, tower, head_class(head_config, context), 3)
    model.head_split = context.split
    return model


def _rating_model(clip: bool = True) -> Recommender:
    model = _model(RatingHead, RatingConfig(clip=clip))
    with torch.no_grad():
        model.head.user_bias.weight.copy_(torch.tensor([[0.5], [0.0]]))
        model.head.item_bias.weight.copy_(torch.tensor([[0.0], [-1.0], [0.0]]))
    return model


# --- bce ---------------------------------------------------------------------


def test_bce_loss_by_hand():
    model = _model(BCEHead, BCEConfig(negatives=1))
    batch = {"user": torch.tensor([0, 0, 1]), "item": torch.tensor([0, 2, 1]), "label": torch.tensor([1.0, 0.0, 0.0])}
    # Logits 1, 0, 0: softplus(-1) for the positive, log 2 for each negative.
    expected = (math.log1p(math.exp(-1.0)) + 2 * math.log(2.0)) / 3
    assert model.loss(batch).item() == pytest.approx(expected, rel=1e-6)


def test_bce_l2_adds_squared_norms():
    model = _model(BCEHead, BCEConfig(negatives=1, l2=0.1))
    batch = {"user": torch.tensor([0]), "item": torch.tensor([1]), "label": torch.tensor([1.0])}
    # Logit 2; norms |u0|^2 + |i1|^2 = 1 + 4.
    expected = math.log1p(math.exp(-2.0)) + 0.1 * 5.0
    assert model.loss(batch).item() == pytest.approx(expected, rel=1e-6)


def test_bce_rejects_zero_negatives():
    with pytest.raises(ConfigError, match="negatives"):
        _model(BCEHead, BCEConfig(negatives=0))


def test_bce_trains_on_pointwise_batches():
    torch.manual_seed(0)
    model = _model(BCEHead, BCEConfig(negatives=1), train_rows=((0, 0, 4.0), (1, 1, 2.0), (1, 2, 3.0)))
    train = _frame([(0, 0, 4.0), (1, 1, 2.0), (1, 2, 3.0)])
    rng = np.random.default_rng(0)
    sampler = NegativeSampler(train_matrix(train, 2, 3), rng)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    losses = []
    for _ in range(20):
        for batch in iterate_batches(train, sampler, model.head.sampler, 8, rng, negatives=1):
            loss = model.loss(batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    assert losses[-1] < losses[0]


# --- rating ------------------------------------------------------------------


def test_rating_global_bias_starts_at_train_mean():
    model = _model(RatingHead, RatingConfig())
    assert model.head.global_bias.item() == pytest.approx(3.0)


def test_rating_loss_by_hand():
    model = _rating_model()
    batch = {"user": torch.tensor([0, 1]), "item": torch.tensor([0, 1]), "rating": torch.tensor([4.0, 2.5])}
    # Predictions 1 + 0.5 + 0 + 3 = 4.5 and 0 + 0 - 1 + 3 = 2, errors 0.5 and -0.5.
    assert model.loss(batch).item() == pytest.approx(0.25)


def test_rating_full_scores_include_biases():
    model = _rating_model()
    scores = model.score_users(torch.tensor([0]))
    # u0 . [i0, i1, i2] = [1, 2, 0] plus b_u 0.5, b_i [0, -1, 0] and mu 3.
    assert scores[0].tolist() == pytest.approx([4.5, 4.5, 3.5])


def test_rating_metrics_without_clip():
    model = _rating_model(clip=False)
    metrics = model.head.metrics(model, model.head_split)
    # Test (0, 1, 5): 2 + 0.5 - 1 + 3 = 4.5, error -0.5. Test (1, 2, 1): -1 + 3 = 2, error 1.
    assert metrics["rmse"] == pytest.approx(math.sqrt((0.25 + 1.0) / 2))
    assert metrics["mae"] == pytest.approx(0.75)


def test_rating_metrics_clip_to_train_range():
    model = _rating_model(clip=True)
    metrics = model.head.metrics(model, model.head_split)
    # The training ratings span [2, 4], so 4.5 becomes 4 (error -1) and 2 stays (error 1).
    assert metrics["rmse"] == pytest.approx(1.0)
    assert metrics["mae"] == pytest.approx(1.0)


def test_rating_metrics_skip_unrated_test_rows():
    model = _rating_model(clip=False)
    split = _context([(0, 0, 4.0)], test_rows=[(0, 1, 5.0), (1, 0, float("nan"))]).split
    assert model.head.metrics(model, split)["mae"] == pytest.approx(0.5)


def test_rating_rejects_implicit_feedback():
    with pytest.raises(DataError, match="head=bce"):
        _model(RatingHead, RatingConfig(), train_rows=((0, 0, float("nan")), (1, 1, 2.0)))


def test_bpr_still_scores_by_dot_product():
    model = _model(BPRHead, BPRConfig())
    assert model.score_users(torch.tensor([1]))[0].tolist() == [1.0, 0.0, -1.0]


# --- config ------------------------------------------------------------------


@pytest.mark.parametrize(("head", "config_class"), [("bce", BCEConfig), ("rating", RatingConfig)])
def test_head_presets_validate(head, config_class):
    node = compose_config([f"head={head}"]).head
    spec, config = component_config(get_registry(), "head", node, "head")
    assert isinstance(config, config_class)
