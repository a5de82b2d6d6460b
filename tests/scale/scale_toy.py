"""A toy LightGCN recommender on a handful of interactions, for fast trainer tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from avrec.config import TrainerConfig, UserTowerConfig
from avrec.data.dataset import Dataset, IdMap
from avrec.interfaces import BuildContext, Split
from avrec.model import Recommender, UserTower
from avrec.sampling import NegativeSampler, train_matrix
from avrec.trainer import Trainer
from avrec_basic.configs import BPRConfig, PassThroughConfig
from avrec_basic.fusion import PassThroughFusion
from avrec_basic.heads import BPRHead
from avrec_lightgcn.configs import LightGCNConfig
from avrec_lightgcn.encoder import LightGCNEncoder

N_USERS, N_ITEMS = 4, 6
# Each user rated three of the six items.
TRAIN_ROWS = [(0, 0), (0, 1), (0, 2), (1, 1), (1, 3), (1, 4), (2, 0), (2, 4), (2, 5), (3, 2), (3, 3), (3, 5)]


def toy_context(tmp_path: Path) -> BuildContext:
    frame = pd.DataFrame(
        {
            "user": np.array([u for u, _ in TRAIN_ROWS], dtype=np.int64),
            "item": np.array([i for _, i in TRAIN_ROWS], dtype=np.int64),
            "rating": np.full(len(TRAIN_ROWS), np.nan, dtype=np.float32),
            "timestamp": np.full(len(TRAIN_ROWS), np.nan),
        }
    )
    dataset = Dataset("toy", frame, IdMap(range(N_USERS)), IdMap(range(N_ITEMS)))
    empty = frame.iloc[:0]
    return BuildContext(
        dataset=dataset, split=Split(frame, empty, empty), train_matrix=train_matrix(frame, N_USERS, N_ITEMS),
        dim=4, cache_dir=tmp_path, device=torch.device("cpu"), seed=0,
    )


def toy_trainer(tmp_path: Path, run_dir: Path, config: TrainerConfig, extra: dict | None = None) -> Trainer:
    """Build a fresh LightGCN + BPR model and its trainer; the same seed gives the same start."""
    torch.manual_seed(0)
    context = toy_context(tmp_path)
    encoder = LightGCNEncoder(LightGCNConfig(layers=1), context)
    fusion = PassThroughFusion(PassThroughConfig(), {"lightgcn": 4}, 4)
    tower = UserTower(UserTowerConfig(id_embedding=False), N_USERS, 4, context.train_matrix, encoders_model_users=True)
    model = Recommender({"lightgcn": encoder}, fusion, tower, BPRHead(BPRConfig(), context), N_ITEMS)
    sampler = NegativeSampler(context.train_matrix, np.random.default_rng(1))
    extra = extra if extra is not None else {"config": {"seed": 0, "model": {"dim": 4}}}
    return Trainer(model, config, context.split, sampler, _score_by_loss_free_metric, run_dir, 0, torch.device("cpu"), extra)


def _score_by_loss_free_metric(model: Recommender) -> dict[str, float]:
    """A validation stand-in: the mean item vector norm, which changes with every step."""
    with torch.no_grad():
        return {"ndcg@10": float(model.item_vectors().norm(dim=1).mean())}
