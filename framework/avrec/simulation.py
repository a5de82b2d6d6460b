"""Online bandit simulation on held-out feedback: environment, policy context and runner.

Each round draws a user from the test users with a seeded stream that is
the same for every policy. The candidates are the items outside the user's
training history. Each recommended item pays reward 1 when the user rated
it at or above the threshold in the held-out split (valid and test
together), else 0.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from avrec.errors import ConfigError, DataError
from avrec.interfaces import Policy
from avrec.io import load_torch, save_torch

_logger = logging.getLogger(__name__)

SIMULATION_FILE = "simulation.json"
PLOT_FILE = "simulation.png"


@dataclass
class PolicyContext:
    """Inputs a policy is built from: the trained run's vectors and scores, and a seed.

    ``score_fn`` maps an array of user indices to the model's scores
    ``[len(users), n_items]``.
    """

    user_vectors: np.ndarray
    item_vectors: np.ndarray
    score_fn: Callable[[np.ndarray], np.ndarray]
    seed: int = 0

    @property
    def n_users(self) -> int:
        return self.user_vectors.shape[0]

    @property
    def n_items(self) -> int:
        return self.item_vectors.shape[0]

    def scores(self, user: int) -> np.ndarray:
        """Return the model's scores of every item for one user."""
        return np.asarray(self.score_fn(np.array([user]))[0], dtype=np.float64)

    def with_seed(self, seed: int) -> PolicyContext:
        return PolicyContext(self.user_vectors, self.item_vectors, self.score_fn, seed)


def score_matrix_fn(scores: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Return a ``score_fn`` that reads rows of a precomputed ``[n_users, n_items]`` matrix."""
    return lambda users: scores[np.asarray(users)]


def context_from_experiment(experiment: Any, seed: int = 0, batch_size: int = 1024) -> PolicyContext:
    """Build a policy context from a loaded run: its item vectors, user vectors and full score matrix.

    The score matrix takes n_users x n_items x 4 bytes (6 MB for ml-100k).
    """
    import torch

    model = experiment.model
    device = experiment.context.device
    n_users = experiment.dataset.n_users
    model.eval()
    with torch.no_grad():
        item_vectors = model.item_vectors()
        user_rows, score_rows = [], []
        for start in range(0, n_users, batch_size):
            users = torch.arange(start, min(start + batch_size, n_users), device=device)
            user_rows.append(model.user_vectors(users, item_vectors).float().cpu().numpy())
            score_rows.append(model.score_users(users, item_vectors).float().cpu().numpy())
    return PolicyContext(
        user_vectors=np.concatenate(user_rows),
        item_vectors=item_vectors.detach().float().cpu().numpy(),
        score_fn=score_matrix_fn(np.concatenate(score_rows)),
        seed=seed,
    )


class Environment:
    """Rewards from held-out feedback for the users of the test split.

    A held-out interaction counts as a hit when its rating is at least
    ``threshold``, or when it has no rating (implicit feedback). With
    ``exclude_shown`` an item is offered to the same user at most once per
    run, so a policy cannot collect one hit over and over.
    """

    def __init__(
        self,
        train: pd.DataFrame,
        heldout: pd.DataFrame,
        users: np.ndarray,
        n_items: int,
        threshold: float = 4.0,
        exclude_shown: bool = True,
    ) -> None:
        users = np.unique(np.asarray(users, dtype=np.int64))
        self.n_items = n_items
        self.threshold = threshold
        self.exclude_shown = exclude_shown
        self._rows = {int(user): row for row, user in enumerate(users)}
        self.allowed = np.ones((len(users), n_items), dtype=bool)
        self._mark(self.allowed, train, False)
        self.positives = np.zeros((len(users), n_items), dtype=bool)
        ratings = heldout["rating"].to_numpy(dtype=np.float64)
        self._mark(self.positives, heldout[np.isnan(ratings) | (ratings >= threshold)], True)
        self.positives &= self.allowed
        empty = ~self.allowed.any(axis=1)
        if empty.any():
            _logger.warning("%d test users have no item outside their training history and are never drawn.", int(empty.sum()))
        self.users = users[~empty]
        if len(self.users) == 0:
            raise DataError("The test split has no user with a candidate item, so there is nothing to simulate.")
        self.shown = np.zeros_like(self.allowed)

    @classmethod
    def from_split(cls, split: Any, n_items: int, threshold: float = 4.0, exclude_shown: bool = True) -> Environment:
        """Environment over the test users, with valid and test interactions as held-out feedback."""
        heldout = pd.concat([split.valid, split.test], ignore_index=True)
        return cls(split.train, heldout, split.test["user"].unique(), n_items, threshold, exclude_shown)

    def _mark(self, matrix: np.ndarray, frame: pd.DataFrame, value: bool) -> None:
        users = frame["user"].to_numpy()
        keep = np.fromiter((int(u) in self._rows for u in users), dtype=bool, count=len(users))
        rows = np.fromiter((self._rows[int(u)] for u in users[keep]), dtype=np.int64)
        matrix[rows, frame["item"].to_numpy()[keep]] = value

    def row(self, user: int) -> int:
        return self._rows[int(user)]

    def user_stream(self, seed: int, rounds: int) -> np.ndarray:
        """Return the users of ``rounds`` rounds, drawn uniformly with replacement. Equal seeds give equal streams."""
        return np.random.default_rng(seed).choice(self.users, size=rounds, replace=True)

    def reset(self) -> None:
        """Forget which items were shown, before the next policy runs."""
        self.shown[:] = False

    def base_candidates(self, user: int) -> np.ndarray:
        """Return the items outside the user's training history, whatever was shown."""
        return np.flatnonzero(self.allowed[self.row(user)])

    def candidates(self, user: int) -> np.ndarray:
        row = self.row(user)
        if self.exclude_shown:
            return np.flatnonzero(self.allowed[row] & ~self.shown[row])
        return np.flatnonzero(self.allowed[row])

    def rewards(self, user: int, items: np.ndarray) -> np.ndarray:
        return self.positives[self.row(user), items].astype(np.float64)

    def record(self, user: int, items: np.ndarray) -> None:
        if self.exclude_shown:
            self.shown[self.row(user), items] = True


@dataclass
class PolicyRun:
    """Per-round slate rewards of one policy on one seed's user stream."""

    name: str
    seed: int
    rewards: np.ndarray
    select_seconds: float
    total_seconds: float
    skipped_rounds: int = 0


def run_policy(name: str, policy: Policy, env: Environment, stream: np.ndarray, k: int, seed: int = 0) -> PolicyRun:
    """Play ``policy`` on the user stream: select, observe rewards, update, once per round."""
    env.reset()
    rewards = np.zeros(len(stream))
    skipped = 0
    select_seconds = 0.0
    start = time.perf_counter()
    for round_index, user in enumerate(stream):
        candidates = env.candidates(user)
        if len(candidates) == 0:
            skipped += 1
            continue
        before = time.perf_counter()
        slate = policy.select(int(user), candidates, min(k, len(candidates)))
        select_seconds += time.perf_counter() - before
        slate_rewards = env.rewards(user, slate.items)
        env.record(user, slate.items)
        policy.update(int(user), slate.items, slate_rewards)
        rewards[round_index] = slate_rewards.sum()
    total = time.perf_counter() - start
    if skipped:
        _logger.warning("Policy %s: %d of %d rounds drew a user with no candidate left.", name, skipped, len(stream))
    return PolicyRun(name, seed, rewards, select_seconds, total, skipped)


def compare_runs(first: list[PolicyRun], second: list[PolicyRun], k: int, blocks: int = 20, confidence: float = 0.95) -> dict[str, Any]:
    """A/B comparison of two policies on the same streams: difference of reward rates with a t interval.

    Rounds within one run are not independent (both policies learn), so the
    interval uses batch means: each seed's per-round differences are cut into
    ``blocks`` consecutive blocks and the block means are treated as independent.
    """
    means = []
    for run_a, run_b in zip(first, second, strict=True):
        differences = (run_a.rewards - run_b.rewards) / k
        n_blocks = max(1, min(blocks, len(differences)))
        means.extend(chunk.mean() for chunk in np.array_split(differences, n_blocks))
    means = np.asarray(means)
    difference = float(means.mean())
    if len(means) > 1:
        half_width = float(stats.t.ppf(0.5 + confidence / 2, len(means) - 1) * means.std(ddof=1) / np.sqrt(len(means)))
    else:
        half_width = float("nan")
    low, high = difference - half_width, difference + half_width
    return {
        "a": first[0].name,
        "b": second[0].name,
        "difference": difference,
        "ci_low": low,
        "ci_high": high,
        "confidence": confidence,
        "method": f"batch means over {len(means)} blocks",
        "significant": bool(low > 0 or high < 0),
    }


def _curve_points(rounds: int, points: int) -> np.ndarray:
    return np.unique(np.linspace(0, rounds, min(points, rounds) + 1).astype(np.int64))[1:]


def summarise_runs(runs: list[PolicyRun], k: int, points: int = 100) -> dict[str, Any]:
    """Cumulative reward, reward rate and their curves over time, averaged over seeds."""
    rounds = len(runs[0].rewards)
    totals = np.array([run.rewards.sum() for run in runs])
    cumulative = np.array([np.cumsum(run.rewards) for run in runs])
    checkpoints = _curve_points(rounds, points)
    at_checkpoints = cumulative[:, checkpoints - 1].mean(axis=0)
    window_rewards = np.diff(np.concatenate([[0.0], at_checkpoints]))
    window_rounds = np.diff(np.concatenate([[0], checkpoints]))
    selected = sum(len(run.rewards) - run.skipped_rounds for run in runs)
    return {
        "cumulative_reward": float(totals.mean()),
        "cumulative_reward_std": float(totals.std(ddof=1)) if len(runs) > 1 else 0.0,
        "cumulative_reward_per_seed": totals.tolist(),
        "reward_rate": float(totals.mean() / (rounds * k)),
        "reward_rate_per_seed": (totals / (rounds * k)).tolist(),
        "curve": {
            "round": checkpoints.tolist(),
            "cumulative_reward": at_checkpoints.tolist(),
            "reward_rate": (window_rewards / (window_rounds * k)).tolist(),
        },
        "decisions_per_second": selected / max(sum(run.select_seconds for run in runs), 1e-12),
        "seconds": sum(run.total_seconds for run in runs),
        "skipped_rounds": sum(run.skipped_rounds for run in runs),
    }


def plot_cumulative(runs: dict[str, list[PolicyRun]], path: Path, title: str = "") -> None:
    """Write a PNG of each policy's cumulative reward: the mean over seeds, shaded between min and max."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5), dpi=120)
    for name, policy_runs in runs.items():
        curves = np.array([np.cumsum(run.rewards) for run in policy_runs])
        rounds = np.arange(1, curves.shape[1] + 1)
        axes.plot(rounds, curves.mean(axis=0), label=name)
        if len(policy_runs) > 1:
            axes.fill_between(rounds, curves.min(axis=0), curves.max(axis=0), alpha=0.2)
    axes.set_xlabel("round")
    axes.set_ylabel("cumulative reward")
    axes.set_title(title or "Cumulative reward")
    axes.legend(loc="upper left")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)


PolicyFactory = Callable[[PolicyContext], Policy]


@dataclass
class SimulationResult:
    """The JSON report and the raw per-round runs behind it."""

    report: dict[str, Any]
    runs: dict[str, list[PolicyRun]] = field(default_factory=dict)
    policies: dict[str, Policy] = field(default_factory=dict)


def policy_seed(seed: int, index: int) -> int:
    """Seed of the ``index``-th policy's own generator, independent of the shared user stream."""
    return int(np.random.SeedSequence([seed, index, 2]).generate_state(1)[0])


def simulate(
    factories: dict[str, PolicyFactory],
    context: PolicyContext,
    env: Environment,
    rounds: int,
    seeds: list[int],
    k: int = 1,
    blocks: int = 20,
) -> SimulationResult:
    """Run every policy on every seed's user stream and compare them pairwise.

    ``result.policies`` contains each policy as it ended the first seed's run,
    for saving its state or evaluating it off-policy.
    """
    if rounds < 1 or k < 1 or not seeds:
        raise ConfigError(f"Invalid simulation: rounds={rounds} and k={k} must be >= 1, and seeds={seeds} must not be empty.")
    runs: dict[str, list[PolicyRun]] = {name: [] for name in factories}
    final: dict[str, Policy] = {}
    for seed in seeds:
        stream = env.user_stream(seed, rounds)
        for index, (name, factory) in enumerate(factories.items()):
            policy = factory(context.with_seed(policy_seed(seed, index)))
            run = run_policy(name, policy, env, stream, k, seed)
            runs[name].append(run)
            final.setdefault(name, policy)
            _logger.info(
                "Seed %d, policy %s: cumulative reward %.0f over %d rounds (%.1f s).",
                seed, name, run.rewards.sum(), rounds, run.total_seconds,
            )
    names = list(factories)
    report = {
        "rounds": rounds,
        "k": k,
        "seeds": list(seeds),
        "n_users": int(len(env.users)),
        "n_items": int(env.n_items),
        "threshold": env.threshold,
        "exclude_shown": env.exclude_shown,
        "policies": {name: summarise_runs(runs[name], k) for name in names},
        "comparisons": [
            compare_runs(runs[a], runs[b], k, blocks) for i, a in enumerate(names) for b in names[i + 1:]
        ],
    }
    return SimulationResult(report, runs, final)


def save_policy_state(path: Path, name: str, policy: Policy) -> None:
    """Write ``policy.state_dict()`` atomically with a checksum."""
    save_torch(Path(path), {"policy": name, "class": type(policy).__qualname__, "state": policy.state_dict()})


def load_policy_state(path: Path, name: str, policy: Policy) -> None:
    """Restore a state written by :func:`save_policy_state` into a freshly built ``policy``."""
    payload = load_torch(Path(path))
    saved_class = payload.get("class")
    if saved_class != type(policy).__qualname__:
        raise ConfigError(
            f"{path} contains the state of a {saved_class} policy ('{payload.get('policy')}'), "
            f"which cannot be loaded into policy '{name}' ({type(policy).__qualname__})."
        )
    policy.load_state_dict(payload["state"])
