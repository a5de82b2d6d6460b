"""User tower: id embedding plus mean or attention pooling of the user's training items."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import sparse
from torch import nn

from avrec.config import UserTowerConfig
from avrec.errors import ConfigError
from avrec.interfaces import Encoder, ModalityOutput
from avrec.model import Recommender, UserTower
from avrec_fusion.configs import ConcatFusionConfig
from avrec_fusion.fusions import ConcatFusion

# User 0 has items 0 and 1, user 1 has none, user 2 has item 2.
HISTORY = sparse.csr_matrix(np.array([[1, 1, 0], [0, 0, 0], [0, 0, 1]], dtype=np.float32))
ITEM_VECTORS = torch.tensor([[10.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
USERS = torch.tensor([0, 1, 2])


def _tower(history: str, id_embedding: bool = False, weight: float = 1.0) -> UserTower:
    config = UserTowerConfig(id_embedding=id_embedding, history=history, history_weight=weight)
    return UserTower(config, 3, 2, HISTORY)


def _set_attention(tower: UserTower, weight: list[float]) -> None:
    with torch.no_grad():
        tower.attention.weight.copy_(torch.tensor([weight]))
        tower.attention.bias.zero_()


def test_mean_pooling_by_hand():
    pooled = _tower("mean")(USERS, ITEM_VECTORS)
    assert pooled[0].tolist() == [5.0, 1.0]
    assert pooled[2].tolist() == [1.0, 1.0]


def test_empty_history_pools_to_zero():
    pooled = _tower("mean")(USERS, ITEM_VECTORS)
    assert pooled[1].tolist() == [0.0, 0.0]


def test_mean_pooling_gradient_reaches_items():
    item_vectors = ITEM_VECTORS.clone().requires_grad_()
    _tower("mean")(USERS, item_vectors).sum().backward()
    assert item_vectors.grad[:, 0].tolist() == [0.5, 0.5, 1.0]


def test_id_embedding_adds_weighted_history():
    tower = _tower("mean", id_embedding=True, weight=0.5)
    with torch.no_grad():
        tower.embedding.weight.copy_(torch.tensor([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]]))
    vectors = tower(USERS, ITEM_VECTORS)
    assert vectors[0].tolist() == [3.5, 1.5]
    assert vectors[1].tolist() == [2.0, 2.0]


def test_attention_with_zero_scorer_equals_mean():
    tower = _tower("attention")
    _set_attention(tower, [0.0, 0.0])
    assert torch.allclose(tower(USERS, ITEM_VECTORS), _tower("mean")(USERS, ITEM_VECTORS))


def test_attention_weights_by_hand():
    tower = _tower("attention")
    _set_attention(tower, [0.1, 0.0])
    # User 0: logits 1 and 0, so weights e/(e+1) and 1/(e+1).
    high = math.e / (math.e + 1)
    expected = [10.0 * high, 2.0 * (1 - high)]
    assert tower(USERS, ITEM_VECTORS)[0].tolist() == pytest.approx(expected, rel=1e-6)


def test_attention_stable_for_far_apart_users():
    tower = _tower("attention")
    # User 0's largest logit is 1000 and user 2's only logit is 100.
    _set_attention(tower, [100.0, 0.0])
    pooled = tower(USERS, ITEM_VECTORS)
    assert pooled[2].tolist() == [1.0, 1.0]


def test_attention_empty_history_is_finite_zero():
    tower = _tower("attention")
    pooled = tower(USERS, ITEM_VECTORS)
    assert pooled[1].tolist() == [0.0, 0.0]


def test_unknown_history_pooling_rejected():
    with pytest.raises(ConfigError, match="max"):
        _tower("max")


def test_tower_without_any_part_rejected():
    with pytest.raises(ConfigError, match="id_embedding"):
        _tower("none", id_embedding=False)


# --- pooling one encoder's output (history_from) ------------------------------


class _FixedEncoder(Encoder):
    """Fixed embeddings and mask: the model's plumbing is under test, not an encoder."""

    def __init__(self, embeddings: torch.Tensor, mask: torch.Tensor) -> None:
        nn.Module.__init__(self)
        self.register_buffer("embeddings", embeddings)
        self.register_buffer("mask", mask)

    @property
    def output_dim(self) -> int:
        return self.embeddings.shape[1]

    def forward(self, items: torch.Tensor | None = None) -> ModalityOutput:
        if items is None:
            return ModalityOutput(self.embeddings, self.mask)
        return ModalityOutput(self.embeddings[items], self.mask[items])


def _recommender(history_from: str) -> Recommender:
    encoders = {
        "id": _FixedEncoder(ITEM_VECTORS, torch.ones(3, dtype=torch.bool)),
        "text": _FixedEncoder(torch.tensor([[2.0, 4.0], [6.0, 6.0], [0.0, 8.0]]), torch.tensor([True, False, True])),
    }
    fusion = ConcatFusion(ConcatFusionConfig(rescale=False, project_same_dim=False), {"id": 2, "text": 2}, 2)
    config = UserTowerConfig(id_embedding=False, history="mean", history_from=history_from)
    return Recommender(encoders, fusion, UserTower(config, 3, 2, HISTORY), nn.Identity(), 3)


def test_history_from_text_pools_text_only():
    vectors = _recommender("text").user_vectors(USERS)
    # User 0: items 0 and 1, and item 1 has no text, so (2, 4) and a zero vector.
    assert vectors[0].tolist() == [1.0, 2.0]
    assert vectors[2].tolist() == [0.0, 8.0]


def test_history_from_fused_pools_item_vectors():
    model = _recommender("fused")
    expected = model.item_vectors()[[0, 1]].mean(dim=0)
    assert torch.allclose(model.user_vectors(USERS)[0], expected)
