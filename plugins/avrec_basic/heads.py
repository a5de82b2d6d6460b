"""BPR and popularity heads."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from avrec.interfaces import BuildContext, Head
from avrec_basic.configs import BPRConfig, PopConfig


class BPRHead(Head):
    """Dot-product scorer trained with -log sigmoid(s(u, pos) - s(u, neg))."""

    sampler = "pairwise"

    def __init__(self, config: BPRConfig, context: BuildContext) -> None:
        super().__init__(config, context)
        self.negatives = config.negatives

    def loss(self, model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        items = torch.cat([batch["pos"], batch["neg"].reshape(-1)])
        item_vectors = model.item_vectors(items)
        user_vectors = model.user_vectors(batch["user"])
        n = batch["pos"].shape[0]
        pos = self.score_pairs(user_vectors, item_vectors[:n])
        neg_vectors = item_vectors[n:].reshape(n, -1, item_vectors.shape[-1])
        neg = (user_vectors.unsqueeze(1) * neg_vectors).sum(-1)
        loss = -F.logsigmoid(pos.unsqueeze(1) - neg).mean()
        if self.config.l2 > 0:
            loss = loss + self.config.l2 * (user_vectors.pow(2).sum() + item_vectors.pow(2).sum()) / n
        return loss


class PopHead(Head):
    """Scores every item by its number of training interactions, the same for every user."""

    sampler = "none"

    def __init__(self, config: PopConfig, context: BuildContext) -> None:
        super().__init__(config, context)
        counts = np.asarray(context.train_matrix.sum(axis=0)).ravel().astype(np.float32)
        self.register_buffer("popularity", torch.from_numpy(counts))

    def score_users(self, model, users: torch.Tensor) -> torch.Tensor:
        return self.popularity.unsqueeze(0).expand(users.shape[0], -1).clone()

    def loss(self, model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        raise RuntimeError("The pop head has no parameters and is never trained.")
