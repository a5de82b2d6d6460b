"""Gate export and gate metrics on a small model with an id encoder and a content modality."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from avrec.config import UserTowerConfig
from avrec.data.dataset import Dataset, IdMap, empty_item_features
from avrec.errors import ConfigError
from avrec.interfaces import BuildContext, Encoder, ModalityOutput, Split
from avrec.model import Recommender, UserTower
from avrec.sampling import train_matrix
from avrec_basic.configs import BPRConfig, IdEncoderConfig
from avrec_basic.heads import BPRHead
from avrec_basic.id_encoder import IdEncoder
from avrec_fusion.configs import ConcatFusionConfig, GatedFusionConfig
from avrec_fusion.fusions import ConcatFusion, GatedFusion, export_gates


class TableEncoder(Encoder):
    """Fixed content embeddings with a fixed mask, standing in for a text encoder."""

    def __init__(self, embeddings: torch.Tensor, mask: torch.Tensor) -> None:
        super().__init__(None, None)
        self.register_buffer("table", embeddings)
        self.register_buffer("present", mask)

    @property
    def output_dim(self) -> int:
        return self.table.shape[1]

    def forward(self, items: torch.Tensor | None = None) -> ModalityOutput:
        if items is None:
            return ModalityOutput(self.table, self.present)
        return ModalityOutput(self.table[items], self.present[items])


def _context(tmp_path: Path) -> BuildContext:
    # Items 0..2 appear in training; item 3 is cold.
    train = pd.DataFrame({"user": [0, 0, 1, 1], "item": [0, 1, 1, 2], "rating": np.nan, "timestamp": np.nan})
    empty = train.iloc[:0]
    test = pd.DataFrame({"user": [0], "item": [3], "rating": np.nan, "timestamp": np.nan})
    interactions = pd.concat([train, test], ignore_index=True)
    dataset = Dataset("tiny", interactions, IdMap(["u0", "u1"]), IdMap(["a", "b", "c", "d"]), empty_item_features(4))
    split = Split(train, empty, test, cold_items=np.array([3]))
    return BuildContext(
        dataset=dataset, split=split, train_matrix=train_matrix(train, 2, 4), dim=4,
        cache_dir=tmp_path, device=torch.device("cpu"), seed=0,
    )


def _model(tmp_path: Path, fusion_class=GatedFusion, config=None) -> Recommender:
    torch.manual_seed(0)
    context = _context(tmp_path)
    text_mask = torch.tensor([True, False, True, True])
    encoders = {"id": IdEncoder(IdEncoderConfig(), context), "text": TableEncoder(torch.randn(4, 3), text_mask)}
    fusion = fusion_class(config or GatedFusionConfig(gate_hidden=4), {"id": 4, "text": 3}, 4)
    tower = UserTower(UserTowerConfig(), 2, 4, context.train_matrix)
    return Recommender(encoders, fusion, tower, BPRHead(BPRConfig(), context), 4)


def test_export_gates_shape_and_columns(tmp_path):
    frame = export_gates(_model(tmp_path))
    assert frame.shape == (4, 2)
    assert list(frame.columns) == ["id", "text"]


def test_export_gates_item_without_text_uses_id(tmp_path):
    frame = export_gates(_model(tmp_path))
    assert frame.loc[1].tolist() == [1.0, 0.0]


def test_cold_item_is_scored_from_text_alone(tmp_path):
    frame = export_gates(_model(tmp_path))
    assert frame.loc[3].tolist() == [0.0, 1.0]


def test_cold_item_vector_ignores_id_embedding(tmp_path):
    model = _model(tmp_path)
    before = model.item_vectors()[3].detach().clone()
    with torch.no_grad():
        model.encoders["id"].embedding.weight[3] = 100.0
    assert torch.equal(model.item_vectors()[3], before)


def test_gate_metrics_sum_to_one(tmp_path):
    model = _model(tmp_path)
    means = model.fusion.metrics(model)["gates"]
    assert sum(means.values()) == pytest.approx(1.0)


def test_gate_metrics_match_exported_mean(tmp_path):
    model = _model(tmp_path)
    frame = export_gates(model)
    assert model.fusion.metrics(model)["gates"]["text"] == pytest.approx(frame["text"].mean())


def test_export_gates_rejects_concat(tmp_path):
    model = _model(tmp_path, ConcatFusion, ConcatFusionConfig())
    with pytest.raises(ConfigError, match="fusion=gated"):
        export_gates(model)


def test_export_gates_restores_training_mode(tmp_path):
    model = _model(tmp_path).train()
    export_gates(model)
    assert model.training
