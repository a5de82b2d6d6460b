"""Config dataclasses of the bandit policies (kept free of torch imports)."""

from __future__ import annotations

from dataclasses import dataclass, field

FEATURE_KINDS = ("product", "concat", "bias")


@dataclass
class RandomConfig:
    """Uniformly random slates; no parameters."""


@dataclass
class GreedyConfig:
    """Top-k items by the trained model's scores; no parameters."""


@dataclass
class SoftmaxConfig:
    """Samples items with probability proportional to exp(z / temperature).

    ``z`` is the model's score standardised over the candidates of one user
    (zero mean, unit variance), so the temperature means the same for every
    model. Low temperatures approach greedy, high ones approach random.
    """

    temperature: float = 0.5


@dataclass
class LinearConfig:
    """Shared ridge regression over context features built from user and item vectors.

    ``features`` selects the blocks of the context vector: ``product`` is the
    element-wise product of user and item vector, ``concat`` is the user
    vector followed by the item vector, ``bias`` is a constant 1. ``ridge`` is
    the prior precision lambda (the design matrix starts as lambda * I).
    ``scale_vectors`` divides user and item vectors by their mean L2 norm so
    that ``ridge`` and the exploration strength mean the same for any model.
    ``refactor_every`` recomputes the inverse from the design matrix after
    that many rank-1 updates to stop round-off from accumulating (0 never does).
    """

    features: list[str] = field(default_factory=lambda: ["product", "concat", "bias"])
    ridge: float = 1.0
    scale_vectors: bool = True
    refactor_every: int = 2000


@dataclass
class EpsilonGreedyConfig(LinearConfig):
    """Exploits the best-scoring slate, except with probability ``epsilon`` a uniform random one.

    ``scores`` is ``linear`` (the online ridge model, learning from rewards)
    or ``model`` (the trained model's fixed scores).
    """

    epsilon: float = 0.1
    scores: str = "linear"


@dataclass
class LinUCBConfig(LinearConfig):
    """Upper confidence bound: mean + alpha * sqrt(x^T A^-1 x)."""

    alpha: float = 1.0


@dataclass
class LinTSConfig(LinearConfig):
    """Thompson sampling from the Gaussian posterior N(theta, posterior_scale^2 * A^-1).

    ``ope_samples`` posterior draws per user estimate the action
    probabilities that off-policy evaluation needs, because they have no
    closed form.
    """

    posterior_scale: float = 0.1
    ope_samples: int = 100
