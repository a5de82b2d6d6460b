"""Off-policy estimators on hand-computed logs, their unbiasedness on a simulated environment, and log validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from avrec.data.dataset import IdMap
from avrec.errors import DataError
from avrec.ope import (
    compare_with_truth,
    direct_method,
    doubly_robust,
    estimate_all,
    evaluate_offline,
    ips,
    read_log_file,
    simulate_logs,
    snips,
    true_value,
    validate_logs,
)
from avrec_bandits.configs import EpsilonGreedyConfig, GreedyConfig, SoftmaxConfig
from avrec_bandits.policies import EpsilonGreedyPolicy, GreedyPolicy, SoftmaxPolicy

# Four logged decisions: rewards, logging propensities and the target's probability of each logged item.
REWARDS = np.array([1.0, 0.0, 1.0, 1.0])
PROPENSITIES = np.array([0.5, 0.25, 0.2, 0.8])
TARGET = np.array([1.0, 0.5, 0.0, 0.4])
# sum over actions of pi(a | x_i) q(x_i, a), and q(x_i, a_i) of the logged item.
EXPECTED = np.array([0.6, 0.3, 0.5, 0.4])
LOGGED_PREDICTIONS = np.array([0.6, 0.2, 0.5, 0.5])


def test_ips_by_hand() -> None:
    # Weights 2, 2, 0, 0.5; weighted rewards 2, 0, 0, 0.5; mean 2.5 / 4.
    assert ips(REWARDS, PROPENSITIES, TARGET) == pytest.approx(0.625)


def test_snips_by_hand() -> None:
    # Weighted rewards sum to 2.5 and weights to 4.5.
    assert snips(REWARDS, PROPENSITIES, TARGET) == pytest.approx(2.5 / 4.5)


def test_direct_method_by_hand() -> None:
    assert direct_method(EXPECTED) == pytest.approx(0.45)


def test_doubly_robust_by_hand() -> None:
    # Residual terms: 2 * 0.4, 2 * -0.2, 0 * 0.5, 0.5 * 0.5 = 0.8, -0.4, 0, 0.25; their mean 0.1625 adds to DM 0.45.
    value = doubly_robust(REWARDS, PROPENSITIES, TARGET, EXPECTED, LOGGED_PREDICTIONS)
    assert value == pytest.approx(0.6125)


def test_ips_of_logging_policy_is_mean_reward() -> None:
    assert ips(REWARDS, PROPENSITIES, PROPENSITIES) == pytest.approx(REWARDS.mean())


def test_snips_of_zero_weights_is_zero() -> None:
    assert snips(REWARDS, PROPENSITIES, np.zeros(4)) == 0.0


def test_doubly_robust_with_exact_model_is_direct_method() -> None:
    value = doubly_robust(REWARDS, PROPENSITIES, TARGET, EXPECTED, REWARDS)
    assert value == pytest.approx(direct_method(EXPECTED))


def test_bootstrap_interval_contains_estimate() -> None:
    rng = np.random.default_rng(0)
    estimates = estimate_all(
        np.tile(REWARDS, 50), np.tile(PROPENSITIES, 50), np.tile(TARGET, 50),
        np.tile(EXPECTED, 50), np.tile(LOGGED_PREDICTIONS, 50), n_bootstrap=300, rng=rng,
    )
    for name, estimate in estimates.items():
        assert estimate.ci_low <= estimate.value <= estimate.ci_high, name


def test_bootstrap_interval_of_constant_rewards_is_a_point() -> None:
    ones = np.ones(20)
    estimates = estimate_all(ones, ones * 0.5, ones * 0.5, ones, ones, n_bootstrap=50)
    assert (estimates["ips"].ci_low, estimates["ips"].ci_high) == (1.0, 1.0)


# ---------------------------------------------------------------------------
# Unbiasedness on the synthetic environment


@pytest.fixture(scope="module")
def ope_setting(synthetic):
    context, env = synthetic
    logging_policy = SoftmaxPolicy(SoftmaxConfig(temperature=1.0), context)
    targets = {
        "greedy": GreedyPolicy(GreedyConfig(), context),
        "epsilon_greedy": EpsilonGreedyPolicy(EpsilonGreedyConfig(epsilon=0.3, scores="model"), context),
        "softmax": logging_policy,
    }
    return context, env, logging_policy, targets


def _estimate(ope_setting, seed: int, cache=None) -> dict:
    context, env, logging_policy, targets = ope_setting
    logs = simulate_logs(logging_policy, env, 2000, seed)
    return evaluate_offline(
        logs, targets, context.user_vectors, context.item_vectors, env.base_candidates,
        n_bootstrap=200, seed=seed, probability_cache=cache,
    )


def test_ips_of_logging_policy_equals_logged_mean(ope_setting) -> None:
    context, env, logging_policy, _ = ope_setting
    logs = simulate_logs(logging_policy, env, 500, seed=1)
    estimates = evaluate_offline(logs, {"softmax": logging_policy}, context.user_vectors, context.item_vectors, env.base_candidates, n_bootstrap=20)
    assert estimates["softmax"]["ips"].value == pytest.approx(logs.rewards.mean())


def test_true_value_of_greedy_by_hand(ope_setting) -> None:
    context, env, _, targets = ope_setting
    hits = [env.rewards(u, [env.base_candidates(u)[np.argmax(context.scores(u)[env.base_candidates(u)])]])[0] for u in env.users]
    assert true_value(targets["greedy"], env) == pytest.approx(np.mean(hits))


@pytest.mark.parametrize("estimator", ["ips", "snips", "dr"])
@pytest.mark.parametrize("target", ["greedy", "epsilon_greedy", "softmax"])
def test_estimate_interval_covers_true_value(ope_setting, estimator: str, target: str) -> None:
    _, env, _, targets = ope_setting
    estimate = _estimate(ope_setting, seed=11)[target][estimator]
    truth = true_value(targets[target], env)
    assert estimate.ci_low <= truth <= estimate.ci_high


def test_direct_method_with_true_rewards_covers_true_value(ope_setting) -> None:
    # DM is unbiased when its reward model is exact: use the true rewards as q.
    context, env, logging_policy, targets = ope_setting
    logs = simulate_logs(logging_policy, env, 2000, seed=5)
    policy = targets["epsilon_greedy"]
    expected = np.array([policy.action_probabilities(u, env.base_candidates(u)) @ env.rewards(u, env.base_candidates(u)) for u in logs.users])
    target = np.array([
        policy.action_probabilities(u, env.base_candidates(u))[np.searchsorted(env.base_candidates(u), item)]
        for u, item in zip(logs.users, logs.items)
    ])
    estimate = estimate_all(logs.rewards, logs.propensities, target, expected, logs.rewards, n_bootstrap=200)["dm"]
    assert estimate.ci_low <= true_value(policy, env) <= estimate.ci_high


def test_doubly_robust_coverage_over_repeats(ope_setting) -> None:
    _, env, _, targets = ope_setting
    report = compare_with_truth(targets, env, lambda seed, cache: _estimate(ope_setting, seed, cache), repeats=20, seed=100)
    for name, block in report.items():
        assert block["repeats"]["dr"]["coverage"] >= 0.8, name


# ---------------------------------------------------------------------------
# Log validation

USERS = IdMap(["u1", "u2", "u3"])
ITEMS = IdMap(["i1", "i2", "i3", "i4"])


def _log(**changes) -> pd.DataFrame:
    frame = pd.DataFrame({
        "user": ["u1", "u2", "u3", "u1"],
        "item": ["i1", "i2", "i3", "i4"],
        "reward": [1.0, 0.0, 1.0, 0.0],
        "propensity": [0.5, 0.25, 0.2, 0.8],
    })
    for column, (row, value) in changes.items():
        if column not in frame:
            frame[column] = None
        frame[column] = frame[column].astype(object)
        frame.at[row, column] = value
    return frame


def test_valid_log_maps_ids() -> None:
    logs = validate_logs(_log(), USERS, ITEMS)
    assert logs.items.tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"propensity": (2, 0.0)}, r"row 2: propensity 0\.0 is not in \(0, 1\]"),
        ({"propensity": (1, -0.1)}, r"row 1: propensity -0\.1"),
        ({"propensity": (3, 1.5)}, r"row 3: propensity 1\.5"),
        ({"user": (1, "u9")}, r"row 1: unknown user 'u9'"),
        ({"item": (3, "i9")}, r"row 3: unknown item 'i9'"),
        ({"reward": (2, 2.0)}, r"row 2: reward 2\.0 is outside the declared range \[0\.0, 1\.0\]"),
        ({"position": (1, -1)}, r"row 1: position -1"),
    ],
)
def test_invalid_row_named(changes: dict, message: str) -> None:
    frame = _log(**changes)
    if "position" in frame:
        frame["position"] = frame["position"].fillna(0)
    with pytest.raises(DataError, match=message):
        validate_logs(frame, USERS, ITEMS)


def test_context_dimension_mismatch_named() -> None:
    frame = _log()
    frame["context"] = ["0.1 0.2", "0.3 0.4", "0.5", "0.7 0.8"]
    with pytest.raises(DataError, match="row 2: context has dimension 1, expected 2"):
        validate_logs(frame, USERS, ITEMS, context_dim=2)


def test_logged_item_outside_candidates_named() -> None:
    frame = _log()
    frame["candidates"] = ["i1 i2", "i2 i3", "i1 i2", "i4"]
    with pytest.raises(DataError, match="row 2: the logged item is not in the row's candidate set"):
        validate_logs(frame, USERS, ITEMS)


def test_missing_column_named() -> None:
    with pytest.raises(DataError, match=r"missing the columns \['propensity'\]"):
        validate_logs(_log().drop(columns="propensity"), USERS, ITEMS)


def test_several_bad_rows_counted() -> None:
    frame = _log()
    frame["propensity"] = [0.0, 0.0, 0.5, 0.0]
    with pytest.raises(DataError, match="row 0: .*2 more rows"):
        validate_logs(frame, USERS, ITEMS)


def test_csv_error_names_file_line(tmp_path) -> None:
    path = tmp_path / "logs.csv"
    _log(propensity=(2, 0.0)).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"logs\.csv row 2 \(line 4\): propensity"):
        read_log_file(path, USERS, ITEMS)


def test_parquet_log_with_candidates_and_context(tmp_path) -> None:
    frame = _log()
    frame["candidates"] = [["i1", "i2"], ["i2"], ["i3", "i4"], ["i4", "i1"]]
    frame["context"] = [[0.1, 0.2]] * 4
    path = tmp_path / "logs.parquet"
    frame.to_parquet(path)
    logs = read_log_file(path, USERS, ITEMS, context_dim=2)
    assert logs.candidates[3].tolist() == [0, 3]
    assert logs.contexts.shape == (4, 2)


def test_explicit_candidates_and_contexts_match_defaults(ope_setting) -> None:
    context, env, logging_policy, targets = ope_setting
    logs = simulate_logs(logging_policy, env, 300, seed=2)
    explicit = simulate_logs(logging_policy, env, 300, seed=2)
    explicit.candidates = [env.base_candidates(user) for user in explicit.users]
    explicit.contexts = context.user_vectors[explicit.users]
    chosen = {"greedy": targets["greedy"]}
    arguments = (context.user_vectors, context.item_vectors, env.base_candidates)
    default = evaluate_offline(logs, chosen, *arguments, n_bootstrap=10)["greedy"]
    given = evaluate_offline(explicit, chosen, *arguments, n_bootstrap=10)["greedy"]
    for estimator in ("ips", "dr"):
        assert given[estimator].value == pytest.approx(default[estimator].value), estimator


def test_logged_item_outside_default_candidates_named(ope_setting) -> None:
    context, env, logging_policy, targets = ope_setting
    logs = simulate_logs(logging_policy, env, 50, seed=3)
    trained_item = int(np.flatnonzero(~env.allowed[env.row(logs.users[7])])[0])
    logs.items[7] = trained_item
    with pytest.raises(DataError, match="row 7: the logged item is not among the user's candidates"):
        evaluate_offline(logs, {"greedy": targets["greedy"]}, context.user_vectors, context.item_vectors, env.base_candidates, n_bootstrap=10)
