"""Off-policy evaluation: logged feedback, its validation, and the IPS, SNIPS, DM and DR estimators.

Each logged row is one decision: a user, the item the logging policy chose
(with the probability it chose it), and the observed reward. The estimators
evaluate a target policy that chooses one item per decision (k = 1).

NOTE: slate logs are read row by row. A row's propensity is then the
logging policy's probability of that item in that position, and the
estimates assume each position's reward depends only on its own item.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from avrec.data.dataset import IdMap
from avrec.errors import ConfigError, DataError
from avrec.interfaces import Policy

_logger = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("user", "item", "reward", "propensity")
OPTIONAL_COLUMNS = ("position", "candidates", "context")
ESTIMATORS = ("ips", "snips", "dm", "dr")


@dataclass
class LoggedFeedback:
    """Validated logs as index arrays.

    ``candidates`` contains each row's sorted candidate items (None: the
    environment's default candidates), ``contexts`` each row's user context
    vector ``[n, d]`` (None: the run's user vectors).
    """

    users: np.ndarray
    items: np.ndarray
    rewards: np.ndarray
    propensities: np.ndarray
    positions: np.ndarray | None = None
    candidates: list[np.ndarray] | None = None
    contexts: np.ndarray | None = None
    source: str = "simulated logs"

    def __len__(self) -> int:
        return len(self.users)


# ---------------------------------------------------------------------------
# Reading and validating logs


def read_log_file(
    path: Path,
    users: IdMap,
    items: IdMap,
    reward_range: tuple[float, float] = (0.0, 1.0),
    context_dim: int | None = None,
) -> LoggedFeedback:
    """Read a Parquet or CSV log with raw user and item ids and validate every row."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"Log file not found: {path}.")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        frame = pd.read_parquet(path)
        first_line = None
    elif suffix in (".csv", ".tsv"):
        frame = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", dtype={"user": str, "item": str})
        first_line = 2
    else:
        raise DataError(f"Unsupported log file {path}: use a .parquet, .csv or .tsv file.")
    return validate_logs(frame, users, items, reward_range, context_dim, source=str(path), first_line=first_line)


def _where(source: str, row: int, first_line: int | None) -> str:
    line = f" (line {row + first_line})" if first_line is not None else ""
    return f"{source} row {row}{line}"


def _first_bad(mask: np.ndarray) -> int | None:
    bad = np.flatnonzero(mask)
    return int(bad[0]) if len(bad) else None


def _raise_at(mask: np.ndarray, source: str, first_line: int | None, describe: Callable[[int], str]) -> None:
    row = _first_bad(mask)
    if row is None:
        return
    others = int(mask.sum()) - 1
    more = f" ({others} more rows have the same problem.)" if others else ""
    raise DataError(f"{_where(source, row, first_line)}: {describe(row)}{more}")


def _map_ids(values: pd.Series, id_map: IdMap | None, kind: str, source: str, first_line: int | None) -> np.ndarray:
    raw = values.to_numpy()
    if id_map is None:
        return raw.astype(np.int64)
    known = np.fromiter((str(value) in id_map for value in raw), dtype=bool, count=len(raw))
    _raise_at(
        ~known, source, first_line,
        lambda row: f"unknown {kind} '{raw[row]}'; it is not in the run's dataset. Drop the row or use the run's {kind} ids.",
    )
    return id_map.indices(raw)


def _parse_list(value: Any) -> list[str]:
    """Split a list cell: a Parquet list, or a CSV string such as "1 2 3" or "[1, 2, 3]"."""
    if isinstance(value, str):
        return [part for part in re.split(r"[\s,;\[\]]+", value) if part]
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    return [str(part) for part in value]


def validate_logs(
    frame: pd.DataFrame,
    users: IdMap | None,
    items: IdMap | None,
    reward_range: tuple[float, float] = (0.0, 1.0),
    context_dim: int | None = None,
    source: str = "logs",
    first_line: int | None = None,
) -> LoggedFeedback:
    """Check every row of a log and return it as index arrays, or raise DataError naming the first bad row.

    ``users`` and ``items`` map raw ids to indices. None means the columns
    already contain indices. ``first_line`` is the file line of row 0 (2 for a
    CSV with a header), so messages can name the line too.
    """
    missing = [column for column in REQUIRED_COLUMNS if column not in frame.columns]
    if missing:
        raise DataError(
            f"{source} is missing the columns {missing}. A log needs {', '.join(REQUIRED_COLUMNS)}, "
            f"and may add {', '.join(OPTIONAL_COLUMNS)}."
        )
    if len(frame) == 0:
        raise DataError(f"{source} has no rows.")
    frame = frame.reset_index(drop=True)
    propensities = pd.to_numeric(frame["propensity"], errors="coerce").to_numpy(dtype=np.float64)
    _raise_at(
        ~((propensities > 0) & (propensities <= 1)), source, first_line,
        lambda row: f"propensity {frame['propensity'][row]!r} is not in (0, 1]. Log the probability with which "
        f"the logging policy chose the item; rows it could never have chosen cannot be evaluated.",
    )
    rewards = pd.to_numeric(frame["reward"], errors="coerce").to_numpy(dtype=np.float64)
    low, high = reward_range
    _raise_at(
        ~((rewards >= low) & (rewards <= high)), source, first_line,
        lambda row: f"reward {frame['reward'][row]!r} is outside the declared range [{low}, {high}]. "
        f"Fix the row or declare the range with ope_reward_range=[LOW,HIGH].",
    )
    user_index = _map_ids(frame["user"], users, "user", source, first_line)
    item_index = _map_ids(frame["item"], items, "item", source, first_line)
    logs = LoggedFeedback(user_index, item_index, rewards, propensities, source=source)
    if "position" in frame.columns:
        logs.positions = _positions(frame["position"], source, first_line)
    if "candidates" in frame.columns:
        logs.candidates = _candidates(frame["candidates"], item_index, items, source, first_line)
    if "context" in frame.columns:
        logs.contexts = _contexts(frame["context"], context_dim, source, first_line)
    return logs


def _positions(column: pd.Series, source: str, first_line: int | None) -> np.ndarray:
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
    _raise_at(
        ~((values >= 0) & (np.floor(values) == values)), source, first_line,
        lambda row: f"position {column[row]!r} is not a non-negative integer (0 is the top of the slate).",
    )
    return values.astype(np.int64)


def _candidates(
    column: pd.Series, logged: np.ndarray, items: IdMap | None, source: str, first_line: int | None
) -> list[np.ndarray]:
    result = []
    for row, cell in enumerate(column):
        raw = _parse_list(cell)
        unknown = [value for value in raw if items is not None and value not in items]
        where = _where(source, row, first_line)
        if not raw:
            raise DataError(f"{where}: the candidate set is empty. List the items offered, separated by spaces.")
        if unknown:
            raise DataError(f"{where}: unknown candidate item '{unknown[0]}', which is not in the run's dataset.")
        indices = np.unique(items.indices(raw) if items is not None else np.asarray(raw, dtype=np.int64))
        if logged[row] not in indices:
            raise DataError(f"{where}: the logged item is not in the row's candidate set.")
        result.append(indices)
    return result


def _contexts(column: pd.Series, context_dim: int | None, source: str, first_line: int | None) -> np.ndarray:
    rows = []
    for row, cell in enumerate(column):
        try:
            vector = np.asarray([float(value) for value in _parse_list(cell)])
        except ValueError:
            vector = np.array([np.nan])
        if not np.isfinite(vector).all():
            raise DataError(f"{_where(source, row, first_line)}: context {cell!r} is not a list of finite numbers.")
        if context_dim is not None:
            expected = context_dim
        else:
            expected = len(rows[0]) if rows else len(vector)
        if len(vector) != expected:
            raise DataError(
                f"{_where(source, row, first_line)}: context has dimension {len(vector)}, expected {expected} "
                f"(the width of the run's user vectors)."
            )
        rows.append(vector)
    return np.vstack(rows)


# ---------------------------------------------------------------------------
# Estimators over per-row terms


@dataclass
class Estimate:
    """A point estimate of a policy's value per decision, with a bootstrap interval."""

    value: float
    ci_low: float
    ci_high: float

    def to_dict(self) -> dict[str, float]:
        return {"value": self.value, "ci_low": self.ci_low, "ci_high": self.ci_high}


def importance_weights(target_probabilities: np.ndarray, propensities: np.ndarray) -> np.ndarray:
    """Return pi(a_i | x_i) / mu(a_i | x_i) for each logged row."""
    return np.asarray(target_probabilities, dtype=np.float64) / np.asarray(propensities, dtype=np.float64)


def ips(rewards: np.ndarray, propensities: np.ndarray, target_probabilities: np.ndarray) -> float:
    """Inverse propensity scoring: mean of w_i * r_i."""
    return float(np.mean(importance_weights(target_probabilities, propensities) * rewards))


def snips(rewards: np.ndarray, propensities: np.ndarray, target_probabilities: np.ndarray) -> float:
    """Self-normalised IPS: sum of w_i * r_i over sum of w_i (0 when every weight is 0)."""
    weights = importance_weights(target_probabilities, propensities)
    total = weights.sum()
    return float((weights * rewards).sum() / total) if total > 0 else 0.0


def direct_method(expected_rewards: np.ndarray) -> float:
    """Direct method: mean over rows of sum_a pi(a | x_i) * q(x_i, a), passed in as ``expected_rewards``."""
    return float(np.mean(expected_rewards))


def doubly_robust(
    rewards: np.ndarray,
    propensities: np.ndarray,
    target_probabilities: np.ndarray,
    expected_rewards: np.ndarray,
    logged_predictions: np.ndarray,
) -> float:
    """Doubly robust: the direct method plus the IPS-weighted residual w_i * (r_i - q(x_i, a_i))."""
    weights = importance_weights(target_probabilities, propensities)
    return float(np.mean(expected_rewards + weights * (rewards - logged_predictions)))


def bootstrap_ratio(
    numerators: np.ndarray,
    denominators: np.ndarray | None,
    n_bootstrap: int,
    confidence: float,
    rng: np.random.Generator,
    chunk: int = 100,
) -> tuple[float, float]:
    """Percentile bootstrap interval of sum(numerators) / sum(denominators) over resampled rows.

    With ``denominators`` None the statistic is the mean of ``numerators``.
    """
    n = len(numerators)
    values = []
    for start in range(0, n_bootstrap, chunk):
        rows = rng.integers(0, n, size=(min(chunk, n_bootstrap - start), n))
        top = numerators[rows].sum(axis=1)
        bottom = denominators[rows].sum(axis=1) if denominators is not None else np.full(len(rows), n)
        values.append(np.divide(top, bottom, out=np.zeros_like(top), where=bottom > 0))
    values = np.concatenate(values)
    tail = (1.0 - confidence) / 2
    return float(np.quantile(values, tail)), float(np.quantile(values, 1.0 - tail))


def estimate_all(
    rewards: np.ndarray,
    propensities: np.ndarray,
    target_probabilities: np.ndarray,
    expected_rewards: np.ndarray,
    logged_predictions: np.ndarray,
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    rng: np.random.Generator | None = None,
) -> dict[str, Estimate]:
    """IPS, SNIPS, DM and DR with percentile bootstrap intervals over the logged rows.

    The reward model behind ``expected_rewards`` and ``logged_predictions`` is
    held fixed across bootstrap samples, so the DM and DR intervals leave out
    the reward model's fitting noise.
    """
    if n_bootstrap < 1 or not 0 < confidence < 1:
        raise ConfigError(
            f"Invalid bootstrap settings: n_bootstrap={n_bootstrap} must be >= 1 and confidence={confidence} in (0, 1)."
        )
    rng = rng or np.random.default_rng(0)
    rewards = np.asarray(rewards, dtype=np.float64)
    weights = importance_weights(target_probabilities, propensities)
    dr_terms = expected_rewards + weights * (rewards - logged_predictions)
    terms = {
        "ips": (weights * rewards, None, ips(rewards, propensities, target_probabilities)),
        "snips": (weights * rewards, weights, snips(rewards, propensities, target_probabilities)),
        "dm": (np.asarray(expected_rewards, dtype=np.float64), None, direct_method(expected_rewards)),
        "dr": (dr_terms, None, float(dr_terms.mean())),
    }
    result = {}
    for name, (numerators, denominators, value) in terms.items():
        low, high = bootstrap_ratio(numerators, denominators, n_bootstrap, confidence, rng)
        result[name] = Estimate(value, low, high)
    return result


# ---------------------------------------------------------------------------
# Reward model for DM and DR


class RewardModel:
    """Ridge regression of the reward on [c * v, c, v, 1] for user context c and item vector v.

    Predictions are clipped to the reward range. A misspecified model biases
    DM, while DR stays unbiased as long as the propensities are right.
    """

    def __init__(self, item_vectors: np.ndarray, ridge: float = 1.0, reward_range: tuple[float, float] = (0.0, 1.0)) -> None:
        if ridge <= 0:
            raise ConfigError(f"Invalid ope_ridge {ridge}: it must be positive, e.g. ope_ridge=1.0.")
        self.item_vectors = np.asarray(item_vectors, dtype=np.float64)
        self.ridge = ridge
        self.reward_range = reward_range
        self.coefficients: np.ndarray | None = None

    def _design(self, contexts: np.ndarray, items: np.ndarray) -> np.ndarray:
        vectors = self.item_vectors[items]
        return np.hstack([contexts * vectors, contexts, vectors, np.ones((len(items), 1))])

    def fit(self, contexts: np.ndarray, items: np.ndarray, rewards: np.ndarray) -> RewardModel:
        design = self._design(contexts, items)
        gram = design.T @ design + self.ridge * np.eye(design.shape[1])
        self.coefficients = np.linalg.solve(gram, design.T @ rewards)
        return self

    def predict(self, context: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Return predicted rewards of one context paired with each of ``items``."""
        width = self.item_vectors.shape[1]
        product, user_part, item_part = (self.coefficients[i * width:(i + 1) * width] for i in range(3))
        bias = self.coefficients[-1]
        vectors = self.item_vectors[items]
        predictions = vectors @ (context * product + item_part) + context @ user_part + bias
        return np.clip(predictions, *self.reward_range)


# ---------------------------------------------------------------------------
# Target policies, simulated logs and true values


def action_probabilities(policy: Policy, user: int, candidates: np.ndarray, samples: int = 200) -> np.ndarray:
    """Return the policy's probability of choosing each candidate as a single item, without changing it.

    Policies without an ``action_probabilities`` method are estimated from
    ``samples`` single-item choices of a copy of the policy.
    """
    method = getattr(policy, "action_probabilities", None)
    if method is not None:
        try:
            return np.asarray(method(user, candidates), dtype=np.float64)
        except NotImplementedError:
            pass
    clone = copy.deepcopy(policy)
    counts = np.zeros(len(candidates))
    positions = {int(item): i for i, item in enumerate(candidates)}
    for _ in range(samples):
        counts[positions[int(clone.select(user, candidates, 1).items[0])]] += 1
    return counts / samples


class CachedProbabilities:
    """Memoises a frozen policy's action probabilities per user and candidate set."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._cache: dict[tuple[int, bytes], np.ndarray] = {}

    def __call__(self, user: int, candidates: np.ndarray) -> np.ndarray:
        key = (int(user), np.asarray(candidates, dtype=np.int64).tobytes())
        if key not in self._cache:
            self._cache[key] = action_probabilities(self.policy, user, candidates)
        return self._cache[key]


def simulate_logs(logging_policy: Policy, env: Any, n_rows: int, seed: int) -> LoggedFeedback:
    """Log ``n_rows`` single-item decisions of a stochastic policy on the environment, with exact propensities.

    Users come from the environment's seeded stream. Candidates are the
    items outside each user's training history, and nothing is excluded as
    shown, so the logged environment is stationary.
    """
    rng = np.random.default_rng([seed, 3])
    users = env.user_stream(seed, n_rows)
    probabilities = CachedProbabilities(logging_policy)
    items = np.empty(n_rows, dtype=np.int64)
    propensities = np.empty(n_rows)
    for user in np.unique(users):
        rows = np.flatnonzero(users == user)
        candidates = env.base_candidates(user)
        distribution = probabilities(user, candidates)
        chosen = rng.choice(len(candidates), size=len(rows), p=distribution)
        items[rows] = candidates[chosen]
        propensities[rows] = distribution[chosen]
    rewards = np.array([env.rewards(user, [item])[0] for user, item in zip(users, items)])
    if (propensities <= 0).any():
        raise ConfigError("The logging policy chose an item with probability 0. Use a logging policy that gives every candidate a positive probability.")
    return LoggedFeedback(users.astype(np.int64), items, rewards, propensities)


def true_value(policy: Policy, env: Any) -> float:
    """Return the exact expected reward per decision of a frozen policy: the mean over users of sum pi(a|u) r(u, a)."""
    probabilities = CachedProbabilities(policy)
    values = []
    for user in env.users:
        candidates = env.base_candidates(user)
        values.append(float(probabilities(user, candidates) @ env.rewards(user, candidates)))
    return float(np.mean(values))


def _row_groups(logs: LoggedFeedback) -> dict[tuple[int, bytes], list[int]]:
    groups: dict[tuple[int, bytes], list[int]] = {}
    for row, user in enumerate(logs.users):
        key = (int(user), logs.candidates[row].tobytes() if logs.candidates is not None else b"")
        groups.setdefault(key, []).append(row)
    return groups


def policy_terms(
    logs: LoggedFeedback,
    targets: dict[str, Callable[[int, np.ndarray], np.ndarray]],
    reward_model: RewardModel,
    user_contexts: np.ndarray,
    default_candidates: Callable[[int], np.ndarray],
) -> dict[str, dict[str, np.ndarray]]:
    """Per-row target probability of the logged item, expected reward under the target, and q(x_i, a_i)."""
    n = len(logs)
    terms = {name: {"target": np.zeros(n), "expected": np.zeros(n)} for name in targets}
    logged_predictions = np.zeros(n)
    for (user, _), rows in _row_groups(logs).items():
        candidates = logs.candidates[rows[0]] if logs.candidates is not None else default_candidates(user)
        positions = np.searchsorted(candidates, logs.items[rows])
        valid = (positions < len(candidates)) & (candidates[np.minimum(positions, len(candidates) - 1)] == logs.items[rows])
        if not valid.all():
            row = rows[int(np.flatnonzero(~valid)[0])]
            raise DataError(
                f"{logs.source} row {row}: the logged item is not among the user's candidates (items outside "
                f"the training history). Add a candidates column or drop the row."
            )
        contexts = logs.contexts[rows] if logs.contexts is not None else user_contexts[[user]]
        predictions = np.vstack([reward_model.predict(context, candidates) for context in contexts])
        predictions = np.broadcast_to(predictions, (len(rows), len(candidates)))
        logged_predictions[rows] = predictions[np.arange(len(rows)), positions]
        for name, probabilities_of in targets.items():
            distribution = probabilities_of(user, candidates)
            terms[name]["target"][rows] = distribution[positions]
            terms[name]["expected"][rows] = predictions @ distribution
    for name in targets:
        terms[name]["logged_prediction"] = logged_predictions
    return terms


def evaluate_offline(
    logs: LoggedFeedback,
    targets: dict[str, Policy],
    user_vectors: np.ndarray,
    item_vectors: np.ndarray,
    default_candidates: Callable[[int], np.ndarray],
    reward_range: tuple[float, float] = (0.0, 1.0),
    ridge: float = 1.0,
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    probability_cache: dict[str, CachedProbabilities] | None = None,
) -> dict[str, dict[str, Estimate]]:
    """Estimate each frozen target policy's value per decision from the logs with all four estimators."""
    contexts = logs.contexts if logs.contexts is not None else user_vectors[logs.users]
    reward_model = RewardModel(item_vectors, ridge, reward_range).fit(contexts, logs.items, logs.rewards)
    cache = probability_cache if probability_cache is not None else {}
    for name, policy in targets.items():
        cache.setdefault(name, CachedProbabilities(policy))
    terms = policy_terms(logs, {name: cache[name] for name in targets}, reward_model, user_vectors, default_candidates)
    rng = np.random.default_rng([seed, 4])
    return {
        name: estimate_all(
            logs.rewards, logs.propensities, parts["target"], parts["expected"], parts["logged_prediction"],
            n_bootstrap, confidence, rng,
        )
        for name, parts in terms.items()
    }


# ---------------------------------------------------------------------------
# Reports


def _estimates_block(estimates: dict[str, Estimate], truth: float) -> dict[str, Any]:
    return {
        name: {**estimate.to_dict(), "covers_true_value": bool(estimate.ci_low <= truth <= estimate.ci_high)}
        for name, estimate in estimates.items()
    }


def compare_with_truth(
    targets: dict[str, Policy],
    env: Any,
    estimate_once: Callable[[int, dict[str, CachedProbabilities]], dict[str, dict[str, Estimate]]],
    repeats: int,
    seed: int,
) -> dict[str, Any]:
    """Estimate every target ``repeats`` times and compare each estimator with the exact true value.

    ``estimate_once(repeat_seed, cache)`` returns the estimates of one set of
    logs. The report keeps the first repeat's estimates and, over all repeats,
    how often each interval covered the true value, the mean estimate and the
    root mean squared error.
    """
    cache = {name: CachedProbabilities(policy) for name, policy in targets.items()}
    truths = {name: true_value(policy, env) for name, policy in targets.items()}
    collected: dict[str, dict[str, list[Estimate]]] = {name: {e: [] for e in ESTIMATORS} for name in targets}
    for repeat in range(repeats):
        for name, estimates in estimate_once(seed + repeat, cache).items():
            for estimator, estimate in estimates.items():
                collected[name][estimator].append(estimate)
    report = {}
    for name, per_estimator in collected.items():
        truth = truths[name]
        first = {estimator: values[0] for estimator, values in per_estimator.items()}
        block = {"true_value": truth, "estimates": _estimates_block(first, truth)}
        if repeats > 1:
            block["repeats"] = {
                estimator: {
                    "coverage": float(np.mean([v.ci_low <= truth <= v.ci_high for v in values])),
                    "mean": float(np.mean([v.value for v in values])),
                    "rmse": float(np.sqrt(np.mean([(v.value - truth) ** 2 for v in values]))),
                }
                for estimator, values in per_estimator.items()
            }
        report[name] = block
    return report
