"""Context features and the incrementally updated ridge regression behind the linear policies."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from scipy import linalg

from avrec.errors import ConfigError
from avrec_bandits.configs import FEATURE_KINDS, LinearConfig

_logger = logging.getLogger(__name__)


class ContextFeatures:
    """Builds the context vector x(user, item) from the run's user and item vectors."""

    def __init__(self, user_vectors: np.ndarray, item_vectors: np.ndarray, kinds: list[str], scale: bool) -> None:
        kinds = list(kinds)
        unknown = [kind for kind in kinds if kind not in FEATURE_KINDS]
        if not kinds or unknown or len(set(kinds)) != len(kinds):
            raise ConfigError(
                f"Invalid policy features {kinds}: list one or more of {', '.join(FEATURE_KINDS)}, each once."
            )
        if user_vectors.shape[1] != item_vectors.shape[1]:
            raise ConfigError(
                f"User vectors have width {user_vectors.shape[1]} but item vectors {item_vectors.shape[1]}. "
                f"The context features need equal widths, so train the run with one model.dim."
            )
        self.kinds = kinds
        self.users = self._scaled(user_vectors, scale)
        self.items = self._scaled(item_vectors, scale)
        width = self.users.shape[1]
        sizes = {"product": width, "concat": 2 * width, "bias": 1}
        self.dim = sum(sizes[kind] for kind in kinds)
        # Item vectors with a trailing 1: every context vector is P_u @ [v, 1].
        self.basis = np.hstack([self.items, np.ones((len(self.items), 1))]).astype(np.float32)

    @staticmethod
    def _scaled(vectors: np.ndarray, scale: bool) -> np.ndarray:
        vectors = np.asarray(vectors, dtype=np.float64)
        if not scale:
            return vectors
        mean_norm = float(np.linalg.norm(vectors, axis=1).mean())
        return vectors / mean_norm if mean_norm > 0 else vectors

    def matrix(self, user: int, items: np.ndarray) -> np.ndarray:
        """Return the context vectors ``[len(items), dim]`` of ``user`` paired with each item."""
        user_vector = self.users[user]
        item_vectors = self.items[items]
        blocks = []
        for kind in self.kinds:
            if kind == "product":
                blocks.append(item_vectors * user_vector)
            elif kind == "concat":
                blocks.append(np.broadcast_to(user_vector, item_vectors.shape))
                blocks.append(item_vectors)
            else:
                blocks.append(np.ones((len(items), 1)))
        return blocks[0] if len(blocks) == 1 else np.hstack(blocks)


    def projection(self, user: int) -> np.ndarray:
        """Return P_u ``[dim, width + 1]`` with x(user, item) = P_u @ [item vector, 1].

        Scoring through P_u costs O(width^2) per item whatever the feature
        blocks, because mean and width reduce to forms in [v, 1]:
        x . theta = [v, 1] . (P_u^T theta) and x^T A^-1 x = [v, 1]^T (P_u^T A^-1 P_u) [v, 1].
        """
        user_vector = self.users[user]
        width = len(user_vector)
        blocks = []
        for kind in self.kinds:
            if kind == "product":
                blocks.append(np.hstack([np.diag(user_vector), np.zeros((width, 1))]))
            elif kind == "concat":
                blocks.append(np.hstack([np.zeros((width, width)), user_vector[:, None]]))
                blocks.append(np.hstack([np.eye(width), np.zeros((width, 1))]))
            else:
                blocks.append(np.eye(1, width + 1, width))
        return np.vstack(blocks)

    def _rows(self, items: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Return the [v, 1] rows to compute on and where ``items`` sit among them.

        When most items are candidates, computing over the whole table and
        indexing the result afterwards is cheaper than gathering rows first.
        """
        if len(items) * 2 > len(self.basis):
            return self.basis, items
        return self.basis[items], None

    def linear_form(self, user: int, items: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Return x(user, item) @ weights for each item, where ``weights`` is ``[dim]`` or ``[dim, m]``."""
        reduced = (self.projection(user).T @ weights).astype(np.float32)
        rows, positions = self._rows(items)
        values = rows @ reduced
        return values[positions] if positions is not None else values

    def quadratic_form(self, user: int, items: np.ndarray, matrix: np.ndarray) -> np.ndarray:
        """Return x(user, item)^T matrix x(user, item) for each item."""
        projection = self.projection(user)
        reduced = (projection.T @ matrix @ projection).astype(np.float32)
        rows, positions = self._rows(items)
        values = np.einsum("ij,ij->i", rows @ reduced, rows)
        return values[positions] if positions is not None else values


class RidgeModel:
    """Bayesian linear regression kept up to date with rank-1 Sherman-Morrison updates.

    ``design`` is A = ridge * I + sum x x^T, ``inverse`` tracks A^-1 without a
    matrix inversion per step, and ``theta`` = A^-1 b with b = sum r x.
    """

    def __init__(self, dim: int, ridge: float, refactor_every: int = 0) -> None:
        if ridge <= 0:
            raise ConfigError(f"Invalid policy ridge {ridge}: the prior precision must be positive, e.g. ridge=1.0.")
        if refactor_every < 0:
            raise ConfigError(f"Invalid policy refactor_every {refactor_every}: use 0 (never) or a positive count.")
        self.ridge = float(ridge)
        self.refactor_every = int(refactor_every)
        self.design = np.eye(dim) * self.ridge
        self.inverse = np.eye(dim) / self.ridge
        self.target = np.zeros(dim)
        self.n_updates = 0
        self._theta: np.ndarray | None = None

    @property
    def dim(self) -> int:
        return self.target.shape[0]

    @property
    def theta(self) -> np.ndarray:
        """Posterior mean A^-1 b, cached until the next update."""
        if self._theta is None:
            self._theta = self.inverse @ self.target
        return self._theta

    def update(self, contexts: np.ndarray, rewards: np.ndarray) -> None:
        """Add observations one by one: A += x x^T and b += r x, with A^-1 updated in O(d^2) each."""
        for x, reward in zip(np.atleast_2d(contexts), np.atleast_1d(rewards)):
            projected = self.inverse @ x
            self.inverse -= np.outer(projected, projected) / (1.0 + x @ projected)
            self.design += np.outer(x, x)
            self.target += reward * x
            self.n_updates += 1
            if self.refactor_every and self.n_updates % self.refactor_every == 0:
                self.refactor()
        self._theta = None

    def refactor(self) -> None:
        """Recompute A^-1 from A through a Cholesky factorisation, discarding accumulated round-off."""
        factor = linalg.cho_factor(self.design, lower=True)
        self.inverse = linalg.cho_solve(factor, np.eye(self.dim))
        self._theta = None

    def mean(self, contexts: np.ndarray) -> np.ndarray:
        return contexts @ self.theta

    def width(self, contexts: np.ndarray) -> np.ndarray:
        """Return sqrt(x^T A^-1 x) for each row of ``contexts``."""
        quadratic = np.einsum("ij,ij->i", contexts @ self.inverse, contexts)
        return np.sqrt(np.maximum(quadratic, 0.0))

    def sample_theta(self, rng: np.random.Generator, scale: float, n: int) -> np.ndarray:
        """Draw ``n`` parameter vectors ``[dim, n]`` from N(theta, scale^2 A^-1).

        With A = L L^T, theta + scale * L^-T z has covariance scale^2 A^-1, so
        only a Cholesky factor of A (exact, not tracked incrementally) is needed.
        """
        lower = linalg.cholesky(self.design, lower=True)
        noise = rng.standard_normal((self.dim, n))
        return self.theta[:, None] + scale * linalg.solve_triangular(lower.T, noise, lower=False)

    def state_dict(self) -> dict[str, Any]:
        return {
            "design": self.design.copy(),
            "inverse": self.inverse.copy(),
            "target": self.target.copy(),
            "n_updates": self.n_updates,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        design = np.asarray(state["design"], dtype=np.float64)
        if design.shape != self.design.shape:
            raise ConfigError(
                f"Saved policy state has context dimension {design.shape[0]}, but this policy uses "
                f"{self.dim}. Load it with the same run and the same policy features."
            )
        self.design = design.copy()
        self.inverse = np.asarray(state["inverse"], dtype=np.float64).copy()
        self.target = np.asarray(state["target"], dtype=np.float64).copy()
        self.n_updates = int(state["n_updates"])
        self._theta = None


def build_linear(config: LinearConfig, user_vectors: np.ndarray, item_vectors: np.ndarray) -> tuple[ContextFeatures, RidgeModel]:
    """Return the feature builder and a fresh ridge model sized for it."""
    features = ContextFeatures(user_vectors, item_vectors, config.features, config.scale_vectors)
    model = RidgeModel(features.dim, config.ridge, config.refactor_every)
    _logger.debug("Linear policy over %d context features %s.", features.dim, features.kinds)
    return features, model
