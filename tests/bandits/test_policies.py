"""Bandit policies: propensities by hand, learning on a synthetic linear bandit, state round trips."""

from __future__ import annotations

import numpy as np
import pytest

from avrec.errors import ConfigError
from avrec.simulation import PolicyContext, load_policy_state, save_policy_state, score_matrix_fn, simulate
from avrec_bandits.configs import (
    EpsilonGreedyConfig,
    GreedyConfig,
    LinTSConfig,
    LinUCBConfig,
    RandomConfig,
    SoftmaxConfig,
)
from avrec_bandits.policies import (
    EpsilonGreedyPolicy,
    GreedyPolicy,
    LinTSPolicy,
    LinUCBPolicy,
    RandomPolicy,
    SoftmaxPolicy,
    top_k,
)

# One user; the model's scores rank item 2 first, then item 0.
SCORES = np.array([[0.5, -1.0, 2.0, 0.0, 0.1]])


@pytest.fixture()
def tiny() -> PolicyContext:
    vectors = np.eye(5)[:, :3]
    return PolicyContext(np.ones((1, 3)), vectors, score_matrix_fn(SCORES), seed=3)


def test_top_k_orders_best_first() -> None:
    assert top_k(np.array([0.1, 0.9, 0.5, 0.9]), 3).tolist() == [1, 3, 2]


def test_greedy_takes_model_top_k(tiny: PolicyContext) -> None:
    slate = GreedyPolicy(GreedyConfig(), tiny).select(0, np.arange(5), 2)
    assert slate.items.tolist() == [2, 0]


def test_greedy_respects_candidates(tiny: PolicyContext) -> None:
    slate = GreedyPolicy(GreedyConfig(), tiny).select(0, np.array([1, 3, 4]), 1)
    assert slate.items.tolist() == [4]


def test_random_propensity_is_k_over_n(tiny: PolicyContext) -> None:
    slate = RandomPolicy(RandomConfig(), tiny).select(0, np.arange(5), 2)
    np.testing.assert_allclose(slate.propensities, [0.4, 0.4])


def test_epsilon_greedy_propensities_by_hand(tiny: PolicyContext) -> None:
    # epsilon = 0.2 over 4 candidates: the best item 1 - 0.2 + 0.2 / 4 = 0.85, any other 0.2 / 4 = 0.05.
    policy = EpsilonGreedyPolicy(EpsilonGreedyConfig(epsilon=0.2, scores="model"), tiny)
    candidates = np.array([0, 1, 2, 3])
    seen = {}
    for _ in range(200):
        slate = policy.select(0, candidates, 1)
        seen[int(slate.items[0])] = float(slate.propensities[0])
    assert seen[2] == pytest.approx(0.85)
    assert seen[1] == pytest.approx(0.05)
    assert seen[3] == pytest.approx(0.05)


def test_epsilon_greedy_slate_propensities_by_hand(tiny: PolicyContext) -> None:
    # k = 2 of 4: an item of the best slate {2, 0} appears with 0.8 + 0.2 * 2 / 4 = 0.9, any other with 0.1.
    policy = EpsilonGreedyPolicy(EpsilonGreedyConfig(epsilon=0.2, scores="model"), tiny)
    seen = {}
    for _ in range(300):
        slate = policy.select(0, np.array([0, 1, 2, 3]), 2)
        seen.update(zip(slate.items.tolist(), slate.propensities.tolist()))
    assert seen[2] == pytest.approx(0.9)
    assert seen[0] == pytest.approx(0.9)
    assert seen[1] == pytest.approx(0.1)


def test_epsilon_greedy_choice_frequency_matches_propensity(tiny: PolicyContext) -> None:
    policy = EpsilonGreedyPolicy(EpsilonGreedyConfig(epsilon=0.2, scores="model"), tiny)
    chosen = [int(policy.select(0, np.array([0, 1, 2, 3]), 1).items[0]) for _ in range(4000)]
    assert np.mean(np.array(chosen) == 2) == pytest.approx(0.85, abs=0.02)


def test_epsilon_greedy_action_probabilities_by_hand(tiny: PolicyContext) -> None:
    policy = EpsilonGreedyPolicy(EpsilonGreedyConfig(epsilon=0.2, scores="model"), tiny)
    np.testing.assert_allclose(policy.action_probabilities(0, np.array([0, 1, 2, 3])), [0.05, 0.05, 0.85, 0.05])


def test_softmax_probabilities_by_hand(tiny: PolicyContext) -> None:
    # Scores 0.5 and -1.0 standardise to +1 and -1; at temperature 1 the odds are e^2 : 1.
    policy = SoftmaxPolicy(SoftmaxConfig(temperature=1.0), tiny)
    probabilities = policy.action_probabilities(0, np.array([0, 1]))
    np.testing.assert_allclose(probabilities, [np.e**2 / (np.e**2 + 1), 1 / (np.e**2 + 1)])


def test_softmax_propensity_is_its_probability(tiny: PolicyContext) -> None:
    policy = SoftmaxPolicy(SoftmaxConfig(temperature=0.7), tiny)
    candidates = np.arange(5)
    probabilities = policy.action_probabilities(0, candidates)
    slate = policy.select(0, candidates, 1)
    assert slate.propensities[0] == pytest.approx(probabilities[slate.items[0]])


def test_softmax_slate_has_no_propensities(tiny: PolicyContext) -> None:
    assert SoftmaxPolicy(SoftmaxConfig(), tiny).select(0, np.arange(5), 3).propensities is None


@pytest.mark.parametrize(
    ("policy_class", "config", "message"),
    [
        (SoftmaxPolicy, SoftmaxConfig(temperature=0.0), "temperature 0.0"),
        (EpsilonGreedyPolicy, EpsilonGreedyConfig(epsilon=1.5), "epsilon 1.5"),
        (EpsilonGreedyPolicy, EpsilonGreedyConfig(scores="oracle"), "scores 'oracle'"),
        (LinUCBPolicy, LinUCBConfig(alpha=-1.0), "alpha -1.0"),
        (LinTSPolicy, LinTSConfig(posterior_scale=-0.1), "posterior_scale -0.1"),
    ],
)
def test_invalid_config_rejected(tiny: PolicyContext, policy_class, config, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        policy_class(config, tiny)


def test_slate_larger_than_candidates_rejected(tiny: PolicyContext) -> None:
    with pytest.raises(ValueError, match="slate of 3 items from 2"):
        GreedyPolicy(GreedyConfig(), tiny).select(0, np.array([0, 1]), 3)


FACTORIES = {
    "random": lambda c: RandomPolicy(RandomConfig(), c),
    "epsilon_greedy": lambda c: EpsilonGreedyPolicy(EpsilonGreedyConfig(), c),
    "linucb": lambda c: LinUCBPolicy(LinUCBConfig(), c),
    "lin_ts": lambda c: LinTSPolicy(LinTSConfig(), c),
}


@pytest.fixture(scope="module")
def synthetic_report(synthetic) -> dict:
    context, env = synthetic
    return simulate(FACTORIES, context, env, rounds=1500, seeds=[0], k=1).report


@pytest.mark.parametrize("name", ["linucb", "lin_ts"])
def test_linear_policy_beats_random(synthetic_report: dict, name: str) -> None:
    rates = {key: value["reward_rate"] for key, value in synthetic_report["policies"].items()}
    # Random hits about 15% of the time (the top 15% of items are hits).
    assert rates[name] > rates["random"] + 0.5


@pytest.mark.parametrize("name", ["linucb", "lin_ts"])
def test_linear_policy_beats_epsilon_greedy(synthetic_report: dict, name: str) -> None:
    rates = {key: value["reward_rate"] for key, value in synthetic_report["policies"].items()}
    assert rates[name] > rates["epsilon_greedy"]


def _trained(factory, context: PolicyContext, env) -> object:
    policy = factory(context)
    for user in env.user_stream(5, 60):
        candidates = env.candidates(user)
        slate = policy.select(int(user), candidates, 2)
        policy.update(int(user), slate.items, env.rewards(user, slate.items))
    return policy


@pytest.mark.parametrize("name", ["random", "epsilon_greedy", "linucb", "lin_ts"])
def test_state_round_trip_gives_same_next_choices(synthetic, tmp_path, name: str) -> None:
    context, env = synthetic
    trained = _trained(FACTORIES[name], context, env)
    save_policy_state(tmp_path / f"{name}.pt", name, trained)
    restored = FACTORIES[name](context.with_seed(99))
    load_policy_state(tmp_path / f"{name}.pt", name, restored)
    for user in env.user_stream(6, 20):
        candidates = env.candidates(user)
        expected = trained.select(int(user), candidates, 3).items
        assert restored.select(int(user), candidates, 3).items.tolist() == expected.tolist()


def test_state_of_other_policy_rejected(synthetic, tmp_path) -> None:
    context, env = synthetic
    save_policy_state(tmp_path / "ucb.pt", "linucb", FACTORIES["linucb"](context))
    with pytest.raises(ConfigError, match="LinUCBPolicy"):
        load_policy_state(tmp_path / "ucb.pt", "lin_ts", FACTORIES["lin_ts"](context))


def test_state_of_other_dimension_rejected(synthetic, tmp_path) -> None:
    context, _ = synthetic
    save_policy_state(tmp_path / "ucb.pt", "linucb", FACTORIES["linucb"](context))
    narrower = LinUCBPolicy(LinUCBConfig(features=["product", "bias"]), context)
    # The default features are product (8), concat (16) and bias (1).
    with pytest.raises(ConfigError, match="context dimension 25"):
        load_policy_state(tmp_path / "ucb.pt", "linucb", narrower)


def test_lin_ts_action_probabilities_sum_to_one(synthetic) -> None:
    context, env = synthetic
    policy = _trained(FACTORIES["lin_ts"], context, env)
    probabilities = policy.action_probabilities(3, env.candidates(3))
    assert probabilities.sum() == pytest.approx(1.0)


def test_lin_ts_action_probabilities_leave_stream_alone(synthetic) -> None:
    context, env = synthetic
    first, second = FACTORIES["lin_ts"](context), FACTORIES["lin_ts"](context)
    first.action_probabilities(3, env.candidates(3))
    candidates = env.candidates(4)
    assert first.select(4, candidates, 2).items.tolist() == second.select(4, candidates, 2).items.tolist()
