"""Bandit policies over a trained run: random, greedy, softmax, epsilon-greedy, LinUCB and linear Thompson sampling.

Every policy is built as ``Policy(config, context)`` with an
:class:`avrec.simulation.PolicyContext`. Propensities are the marginal
probability that each chosen item appears in the slate, given the policy's
current state. A policy returns None where that has no closed form.
:meth:`BanditPolicy.action_probabilities` gives the full single-item
(k = 1) distribution over the candidates, which off-policy evaluation needs.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from avrec.errors import ConfigError
from avrec.interfaces import Policy, Slate
from avrec.simulation import PolicyContext
from avrec_bandits.configs import (
    EpsilonGreedyConfig,
    GreedyConfig,
    LinTSConfig,
    LinUCBConfig,
    RandomConfig,
    SoftmaxConfig,
)
from avrec_bandits.linear import build_linear

_logger = logging.getLogger(__name__)

EPSILON_SCORES = ("linear", "model")


def top_k(values: np.ndarray, k: int) -> np.ndarray:
    """Return the positions of the ``k`` largest values, best first, with ties going to the lower position."""
    if k == 1:
        return np.array([int(np.argmax(values))])
    part = np.argpartition(-values, k - 1)[:k]
    return part[np.lexsort((part, -values[part]))]


def one_hot(n: int, position: int) -> np.ndarray:
    probabilities = np.zeros(n)
    probabilities[position] = 1.0
    return probabilities


def _check_k(candidates: np.ndarray, k: int) -> None:
    if not 1 <= k <= len(candidates):
        raise ValueError(f"Cannot choose a slate of {k} items from {len(candidates)} candidates.")


class BanditPolicy(Policy):
    """Base of the built-in policies: a seeded generator whose state is saved with the policy."""

    def __init__(self, config: Any, context: PolicyContext) -> None:
        super().__init__(config, context)
        self.context = context
        self.rng = np.random.default_rng(context.seed)

    def action_probabilities(self, user: int, candidates: np.ndarray) -> np.ndarray:
        """Return the probability of choosing each candidate when ``k`` is 1, without changing state."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]


class RandomPolicy(BanditPolicy):
    """Uniformly random slates without replacement."""

    def __init__(self, config: RandomConfig, context: PolicyContext) -> None:
        super().__init__(config, context)

    def select(self, user: int, candidates: np.ndarray, k: int) -> Slate:
        _check_k(candidates, k)
        chosen = self.rng.choice(len(candidates), size=k, replace=False)
        return Slate(candidates[chosen], np.full(k, k / len(candidates)))

    def action_probabilities(self, user: int, candidates: np.ndarray) -> np.ndarray:
        return np.full(len(candidates), 1.0 / len(candidates))


class GreedyPolicy(BanditPolicy):
    """Top-k by the trained model's scores, without online learning."""

    def __init__(self, config: GreedyConfig, context: PolicyContext) -> None:
        super().__init__(config, context)

    def select(self, user: int, candidates: np.ndarray, k: int) -> Slate:
        _check_k(candidates, k)
        chosen = top_k(self.context.scores(user)[candidates], k)
        return Slate(candidates[chosen], np.ones(k))

    def action_probabilities(self, user: int, candidates: np.ndarray) -> np.ndarray:
        return one_hot(len(candidates), int(np.argmax(self.context.scores(user)[candidates])))


class SoftmaxPolicy(BanditPolicy):
    """Softmax sampling over the model's standardised scores, the usual stochastic logging policy."""

    def __init__(self, config: SoftmaxConfig, context: PolicyContext) -> None:
        super().__init__(config, context)
        if not config.temperature > 0:
            raise ConfigError(
                f"Invalid policy temperature {config.temperature}: it must be positive, e.g. temperature=0.5."
            )

    def _logits(self, user: int, candidates: np.ndarray) -> np.ndarray:
        scores = self.context.scores(user)[candidates]
        spread = scores.std()
        standardised = (scores - scores.mean()) / spread if spread > 0 else np.zeros_like(scores)
        return standardised / self.config.temperature

    def action_probabilities(self, user: int, candidates: np.ndarray) -> np.ndarray:
        logits = self._logits(user, candidates)
        weights = np.exp(logits - logits.max())
        return weights / weights.sum()

    def select(self, user: int, candidates: np.ndarray, k: int) -> Slate:
        _check_k(candidates, k)
        if k == 1:
            probabilities = self.action_probabilities(user, candidates)
            chosen = int(self.rng.choice(len(candidates), p=probabilities))
            return Slate(candidates[[chosen]], probabilities[[chosen]])
        # Gumbel top-k samples k items without replacement (Plackett-Luce). Their
        # marginal inclusion probabilities have no closed form.
        noisy = self._logits(user, candidates) + self.rng.gumbel(size=len(candidates))
        return Slate(candidates[top_k(noisy, k)], None)


class LinearPolicy(BanditPolicy):
    """Base of the policies that learn a shared ridge model over context features."""

    def __init__(self, config: Any, context: PolicyContext) -> None:
        super().__init__(config, context)
        self.features, self.model = build_linear(config, context.user_vectors, context.item_vectors)

    def update(self, user: int, items: np.ndarray, rewards: np.ndarray) -> None:
        self.model.update(self.features.matrix(user, np.asarray(items)), np.asarray(rewards, dtype=np.float64))

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "model": self.model.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.model.load_state_dict(state["model"])


class EpsilonGreedyPolicy(LinearPolicy):
    """Best slate by the ridge model's mean (or the model's scores), or with probability epsilon a uniform random slate."""

    def __init__(self, config: EpsilonGreedyConfig, context: PolicyContext) -> None:
        super().__init__(config, context)
        if not 0.0 <= config.epsilon <= 1.0:
            raise ConfigError(f"Invalid policy epsilon {config.epsilon}: it must lie in [0, 1], e.g. epsilon=0.1.")
        if config.scores not in EPSILON_SCORES:
            raise ConfigError(
                f"Invalid policy scores '{config.scores}'. Valid values: {', '.join(EPSILON_SCORES)}."
            )

    def _scores(self, user: int, candidates: np.ndarray) -> np.ndarray:
        if self.config.scores == "model":
            return self.context.scores(user)[candidates]
        return self.features.linear_form(user, candidates, self.model.theta)

    def select(self, user: int, candidates: np.ndarray, k: int) -> Slate:
        _check_k(candidates, k)
        n, epsilon = len(candidates), self.config.epsilon
        best = top_k(self._scores(user, candidates), k)
        explore = self.rng.random() < epsilon
        chosen = self.rng.choice(n, size=k, replace=False) if explore else best
        # An item of the best slate is shown when exploiting, and by chance when exploring.
        in_best = np.isin(chosen, best)
        propensities = np.where(in_best, 1.0 - epsilon + epsilon * k / n, epsilon * k / n)
        return Slate(candidates[chosen], propensities)

    def update(self, user: int, items: np.ndarray, rewards: np.ndarray) -> None:
        if self.config.scores == "linear":
            super().update(user, items, rewards)

    def action_probabilities(self, user: int, candidates: np.ndarray) -> np.ndarray:
        n, epsilon = len(candidates), self.config.epsilon
        best = int(np.argmax(self._scores(user, candidates)))
        return np.full(n, epsilon / n) + one_hot(n, best) * (1.0 - epsilon)


class LinUCBPolicy(LinearPolicy):
    """LinUCB with a shared model (Li et al., 2010, "A contextual-bandit approach to news recommendation")."""

    def __init__(self, config: LinUCBConfig, context: PolicyContext) -> None:
        super().__init__(config, context)
        if config.alpha < 0:
            raise ConfigError(f"Invalid policy alpha {config.alpha}: the exploration strength must be >= 0.")

    def upper_bounds(self, user: int, candidates: np.ndarray) -> np.ndarray:
        means = self.features.linear_form(user, candidates, self.model.theta)
        variances = self.features.quadratic_form(user, candidates, self.model.inverse)
        return means + self.config.alpha * np.sqrt(np.maximum(variances, 0.0))

    def select(self, user: int, candidates: np.ndarray, k: int) -> Slate:
        _check_k(candidates, k)
        chosen = top_k(self.upper_bounds(user, candidates), k)
        return Slate(candidates[chosen], np.ones(k))

    def action_probabilities(self, user: int, candidates: np.ndarray) -> np.ndarray:
        return one_hot(len(candidates), int(np.argmax(self.upper_bounds(user, candidates))))


class LinTSPolicy(LinearPolicy):
    """Linear Thompson sampling (Agrawal and Goyal, 2013) with a Gaussian posterior over the shared weights."""

    def __init__(self, config: LinTSConfig, context: PolicyContext) -> None:
        super().__init__(config, context)
        if config.posterior_scale < 0:
            raise ConfigError(f"Invalid policy posterior_scale {config.posterior_scale}: it must be >= 0.")
        if config.ope_samples < 1:
            raise ConfigError(f"Invalid policy ope_samples {config.ope_samples}: draw at least 1 sample.")

    def select(self, user: int, candidates: np.ndarray, k: int) -> Slate:
        _check_k(candidates, k)
        theta = self.model.sample_theta(self.rng, self.config.posterior_scale, 1)[:, 0]
        chosen = top_k(self.features.linear_form(user, candidates, theta), k)
        return Slate(candidates[chosen], None)

    def action_probabilities(self, user: int, candidates: np.ndarray) -> np.ndarray:
        """Estimate the choice frequencies from ``ope_samples`` posterior draws.

        NOTE: this is a Monte Carlo estimate. Its generator is seeded from the
        policy seed and the user, so the online stream is left untouched and
        repeated calls return the same distribution.
        """
        rng = np.random.default_rng([self.context.seed, int(user), 1])
        thetas = self.model.sample_theta(rng, self.config.posterior_scale, self.config.ope_samples)
        winners = np.argmax(self.features.linear_form(user, candidates, thetas), axis=0)
        return np.bincount(winners, minlength=len(candidates)) / self.config.ope_samples
