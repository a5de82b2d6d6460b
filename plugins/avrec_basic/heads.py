"""Heads: BPR, click (binary cross-entropy), explicit rating (MSE) and popularity."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from avrec.errors import ConfigError, DataError
from avrec.interfaces import BuildContext, Head, Split
from avrec_basic.configs import BCEConfig, BPRConfig, PopConfig, RatingConfig

_logger = logging.getLogger(__name__)


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


class BCEHead(Head):
    """Dot-product scorer trained as a click model with binary cross-entropy.

    Each training interaction is a positive (label 1) and ``negatives``
    uniformly sampled items the user has not interacted with are negatives
    (label 0). The loss is the mean over positives and negatives together.
    """

    sampler = "pointwise"

    def __init__(self, config: BCEConfig, context: BuildContext) -> None:
        super().__init__(config, context)
        if config.negatives < 1:
            raise ConfigError(f"Invalid head.negatives {config.negatives}; use an integer >= 1.")

    def loss(self, model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        item_vectors = model.item_vectors(batch["item"])
        user_vectors = model.user_vectors(batch["user"])
        logits = self.score_pairs(user_vectors, item_vectors)
        loss = F.binary_cross_entropy_with_logits(logits, batch["label"].to(logits.dtype))
        if self.config.l2 > 0:
            norms = user_vectors.pow(2).sum() + item_vectors.pow(2).sum()
            loss = loss + self.config.l2 * norms / logits.shape[0]
        return loss


class RatingHead(Head):
    """Explicit rating prediction ``u . i + b_u + b_i + mu`` trained with mean squared error.

    ``mu`` starts at the mean training rating. Item biases start at 0 and
    items without training ratings keep that value, so a cold item's
    prediction comes from its vector alone.
    """

    sampler = "rating"

    def __init__(self, config: RatingConfig, context: BuildContext) -> None:
        super().__init__(config, context)
        ratings = _training_ratings(context)
        self.user_bias = nn.Embedding(context.dataset.n_users, 1)
        self.item_bias = nn.Embedding(context.dataset.n_items, 1)
        nn.init.zeros_(self.user_bias.weight)
        nn.init.zeros_(self.item_bias.weight)
        self.global_bias = nn.Parameter(torch.tensor(float(ratings.mean())))
        self.register_buffer("rating_range", torch.tensor([float(ratings.min()), float(ratings.max())]))

    def predict(
        self, users: torch.Tensor, items: torch.Tensor, user_vectors: torch.Tensor, item_vectors: torch.Tensor
    ) -> torch.Tensor:
        """Return predicted ratings ``[b]`` of aligned (user, item) rows and their vectors."""
        dot = self.score_pairs(user_vectors, item_vectors)
        biases = self.user_bias(users).squeeze(-1) + self.item_bias(items).squeeze(-1)
        return dot + biases + self.global_bias

    def loss(self, model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        users, items = batch["user"], batch["item"]
        user_vectors = model.user_vectors(users)
        item_vectors = model.item_vectors(items)
        predictions = self.predict(users, items, user_vectors, item_vectors)
        loss = F.mse_loss(predictions, batch["rating"].to(predictions.dtype))
        if self.config.l2 > 0:
            norms = (
                user_vectors.pow(2).sum() + item_vectors.pow(2).sum()
                + self.user_bias(users).pow(2).sum() + self.item_bias(items).pow(2).sum()
            )
            loss = loss + self.config.l2 * norms / users.shape[0]
        return loss

    def score_users(self, model, users: torch.Tensor) -> torch.Tensor:
        # NOTE: the vectors are recomputed for every batch of users, because
        # Recommender.score_users does not pass its item vectors to heads that
        # bypass them.
        item_vectors = model.item_vectors()
        user_vectors = model.user_vectors(users, item_vectors)
        scores = self.score(user_vectors, item_vectors) + self.item_bias.weight.squeeze(-1)
        return scores + self.user_bias(users) + self.global_bias

    @torch.no_grad()
    def metrics(self, model, split: Split) -> dict[str, Any]:
        """Return rmse and mae of the predicted ratings on the test interactions that carry a rating."""
        test = split.test[split.test["rating"].notna()]
        if test.empty:
            _logger.warning("The test split has no rated interactions; rmse and mae are NaN.")
            return {"rmse": float("nan"), "mae": float("nan")}
        device = self.global_bias.device
        users = torch.tensor(test["user"].to_numpy(dtype=np.int64), device=device)
        items = torch.tensor(test["item"].to_numpy(dtype=np.int64), device=device)
        ratings = torch.tensor(test["rating"].to_numpy(dtype=np.float64), device=device)
        all_items = model.item_vectors()
        predictions = self.predict(users, items, model.user_vectors(users, all_items), all_items[items]).double()
        if self.config.clip:
            predictions = predictions.clamp(float(self.rating_range[0]), float(self.rating_range[1]))
        errors = predictions - ratings
        return {"rmse": float(errors.pow(2).mean().sqrt()), "mae": float(errors.abs().mean())}


def _training_ratings(context: BuildContext) -> np.ndarray:
    ratings = context.split.train["rating"].to_numpy(dtype=np.float64)
    missing = int(np.isnan(ratings).sum())
    if len(ratings) == 0 or missing:
        raise DataError(
            f"head=rating needs an explicit rating on every training interaction of dataset "
            f"'{context.dataset.name}', but {missing} of {len(ratings)} have none. "
            f"Use head=bpr or head=bce for implicit feedback."
        )
    return ratings
