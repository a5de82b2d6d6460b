"""Held-out feedback environment, simulation runner, A/B comparison and the ``avrec simulate`` command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from avrec.errors import ConfigError
from avrec.simulation import Environment, PolicyRun, compare_runs, plot_cumulative, simulate, summarise_runs
from avrec_bandits.configs import GreedyConfig, RandomConfig
from avrec_bandits.policies import GreedyPolicy, RandomPolicy


def _frame(rows: list[tuple[int, int, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["user", "item", "rating"]).assign(timestamp=0.0)


@pytest.fixture()
def small_env() -> Environment:
    # User 0 trained on item 0; held out: item 1 rated 5, item 2 rated 3, item 3 without rating.
    train = _frame([(0, 0, 4.0), (1, 1, 4.0), (2, 2, 4.0)])
    heldout = _frame([(0, 1, 5.0), (0, 2, 3.0), (0, 3, float("nan")), (1, 0, 4.0)])
    return Environment(train, heldout, np.array([0, 1]), n_items=5, threshold=4.0, exclude_shown=True)


def test_candidates_exclude_training_items(small_env: Environment) -> None:
    assert small_env.candidates(0).tolist() == [1, 2, 3, 4]


def test_reward_needs_rating_at_threshold(small_env: Environment) -> None:
    assert small_env.rewards(0, np.array([1, 2, 4])).tolist() == [1.0, 0.0, 0.0]


def test_unrated_heldout_item_is_a_hit(small_env: Environment) -> None:
    assert small_env.rewards(0, np.array([3])).tolist() == [1.0]


def test_rating_of_four_is_a_hit(small_env: Environment) -> None:
    assert small_env.rewards(1, np.array([0])).tolist() == [1.0]


def test_only_test_users_drawn(small_env: Environment) -> None:
    assert set(small_env.user_stream(0, 200).tolist()) == {0, 1}


def test_user_stream_fixed_by_seed(small_env: Environment) -> None:
    assert small_env.user_stream(4, 50).tolist() == small_env.user_stream(4, 50).tolist()


def test_shown_items_leave_candidates(small_env: Environment) -> None:
    small_env.record(0, np.array([1, 4]))
    assert small_env.candidates(0).tolist() == [2, 3]


def test_reset_restores_candidates(small_env: Environment) -> None:
    small_env.record(0, np.array([1, 4]))
    small_env.reset()
    assert small_env.candidates(0).tolist() == [1, 2, 3, 4]


def test_from_split_uses_valid_and_test() -> None:
    split = type("SplitLike", (), {})()
    split.train = _frame([(0, 0, 4.0)])
    split.valid = _frame([(0, 1, 5.0)])
    split.test = _frame([(0, 2, 5.0)])
    env = Environment.from_split(split, n_items=3)
    assert env.rewards(0, np.array([1, 2])).tolist() == [1.0, 1.0]


def _run(name: str, rewards: list[float]) -> PolicyRun:
    return PolicyRun(name, 0, np.asarray(rewards, dtype=float), 1.0, 1.0)


def test_summary_by_hand() -> None:
    summary = summarise_runs([_run("a", [1, 0, 1, 1]), _run("a", [0, 0, 1, 0])], k=1, points=2)
    assert summary["cumulative_reward"] == 2.0
    assert summary["reward_rate"] == 0.5
    assert summary["curve"]["round"] == [2, 4]
    assert summary["curve"]["reward_rate"] == [0.25, 0.75]


def test_comparison_of_equal_runs_is_zero() -> None:
    runs = [_run("a", [1, 0, 1, 0] * 10)]
    comparison = compare_runs(runs, [_run("b", [1, 0, 1, 0] * 10)], k=1, blocks=4)
    assert (comparison["difference"], comparison["ci_low"], comparison["ci_high"]) == (0.0, 0.0, 0.0)


def test_comparison_by_hand() -> None:
    # Block means of a - b over two blocks: 1.0 and 0.5; mean 0.75, sd 0.3536, t(0.975, 1) = 12.706.
    comparison = compare_runs([_run("a", [1, 1, 1, 1])], [_run("b", [0, 0, 0, 1])], k=1, blocks=2)
    assert comparison["difference"] == pytest.approx(0.75)
    assert comparison["ci_high"] - 0.75 == pytest.approx(12.7062 * 0.353553 / np.sqrt(2), rel=1e-4)


def test_simulation_report_and_plot(synthetic, tmp_path: Path) -> None:
    context, env = synthetic
    factories = {"random": lambda c: RandomPolicy(RandomConfig(), c), "greedy": lambda c: GreedyPolicy(GreedyConfig(), c)}
    result = simulate(factories, context, env, rounds=200, seeds=[0, 1], k=2)
    plot_cumulative(result.runs, tmp_path / "simulation.png")
    assert set(result.report["policies"]) == {"random", "greedy"}
    assert [(c["a"], c["b"]) for c in result.report["comparisons"]] == [("random", "greedy")]
    assert (tmp_path / "simulation.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_policies_share_user_stream(synthetic) -> None:
    context, env = synthetic
    seen = []

    class Recording(RandomPolicy):
        def select(self, user, candidates, k):
            seen.append(user)
            return super().select(user, candidates, k)

    factories = {"a": lambda c: Recording(RandomConfig(), c), "b": lambda c: Recording(RandomConfig(), c)}
    simulate(factories, context, env, rounds=30, seeds=[3])
    assert seen[:30] == seen[30:]


# ---------------------------------------------------------------------------
# Command line


def test_overrides_split_by_policy() -> None:
    from avrec.cli.simulate import parse_overrides, resolve_policies

    config, overrides = parse_overrides(["policy=[random,linucb]", "rounds=50", "linucb.alpha=0.25"])
    policies = resolve_policies(config.policy, overrides)
    assert policies["linucb"][1].alpha == 0.25


def test_unknown_key_suggests_closest() -> None:
    from avrec.cli.simulate import parse_overrides

    with pytest.raises(ConfigError, match="Did you mean 'rounds'"):
        parse_overrides(["round=50"])


def test_unknown_policy_key_named() -> None:
    from avrec.cli.simulate import parse_overrides, resolve_policies

    config, overrides = parse_overrides(["policy=[linucb]", "linucb.alpah=1"])
    with pytest.raises(ConfigError, match="policy.linucb.alpah"):
        resolve_policies(config.policy, overrides)


def test_unknown_policy_named() -> None:
    from avrec.cli.simulate import parse_overrides, resolve_policies

    config, overrides = parse_overrides(["policy=[linucbb]"])
    with pytest.raises(ConfigError, match="Unknown policy 'linucbb'"):
        resolve_policies(config.policy, overrides)


@pytest.fixture(scope="module")
def trained_slice_run(ml100k_slice: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from avrec.cli.hydra_app import compose_config
    from avrec.run import train

    run_dir = tmp_path_factory.mktemp("simulate-run")
    cfg = compose_config(["experiment=bpr", 
        f"dataset.data_dir={ml100k_slice}", "encoder=[id]", "trainer.epochs=1", "trainer.progress=false",
        "trainer.device=cpu", f"cache_dir={tmp_path_factory.mktemp('cache')}",
    ])
    train(cfg, run_dir)
    (run_dir / ".hydra").mkdir(exist_ok=True)
    OmegaConf.save(cfg, run_dir / ".hydra" / "config.yaml")
    return run_dir


@pytest.mark.slow
def test_simulate_command_writes_results(trained_slice_run: Path) -> None:
    from avrec.cli.main import main

    status = main([
        "simulate", str(trained_slice_run), "policy=[random,greedy,linucb]", "rounds=300", "seeds=[0,1]",
        "ope=true", "ope_logs=400", "ope_bootstrap=50",
    ])
    report = json.loads((trained_slice_run / "simulation.json").read_text())
    assert status == 0
    assert report["rounds"] == 300
    assert set(report["policies"]) == {"random", "greedy", "linucb"}
    assert len(report["comparisons"]) == 3
    assert set(report["ope"]["targets"]["linucb"]["estimates"]) == {"ips", "snips", "dm", "dr"}
    assert (trained_slice_run / "simulation.png").exists()
    assert (trained_slice_run / "policies" / "linucb.pt").exists()


@pytest.mark.slow
def test_simulate_resumes_saved_policy(trained_slice_run: Path) -> None:
    from avrec.cli.main import main

    from avrec.io import load_torch

    state_dir = trained_slice_run / "policies"
    main(["simulate", str(trained_slice_run), "policy=[linucb]", "rounds=100", "save_policies=true"])
    main(["simulate", str(trained_slice_run), "policy=[linucb]", "rounds=100", f"load_policies={state_dir}"])
    # The resumed policy continued from 100 updates, so the state saved after it records 200.
    assert load_torch(state_dir / "linucb.pt")["state"]["model"]["n_updates"] == 200


@pytest.mark.parametrize("preset", sorted(p.stem for p in (Path(__file__).parents[2] / "conf" / "policy").glob("*.yaml")))
def test_policy_preset_validates(preset: str) -> None:
    from avrec.cli.simulate import resolve_policies

    spec, _ = resolve_policies([preset], {})[preset]
    assert spec.name == preset


@pytest.mark.slow
def test_simulate_evaluates_log_file(trained_slice_run: Path, tmp_path: Path) -> None:
    from avrec.cli.main import main
    from avrec.ope import simulate_logs
    from avrec.run import load_run
    from avrec.simulation import context_from_experiment
    from avrec_bandits.configs import SoftmaxConfig
    from avrec_bandits.policies import SoftmaxPolicy

    experiment = load_run(trained_slice_run)
    env = Environment.from_split(experiment.split, experiment.dataset.n_items)
    logs = simulate_logs(SoftmaxPolicy(SoftmaxConfig(), context_from_experiment(experiment)), env, 300, seed=0)
    frame = pd.DataFrame({
        "user": [experiment.dataset.users.raw(u) for u in logs.users],
        "item": [experiment.dataset.items.raw(i) for i in logs.items],
        "reward": logs.rewards,
        "propensity": logs.propensities,
    })
    frame.to_csv(tmp_path / "logs.csv", index=False)
    status = main([
        "simulate", str(trained_slice_run), "policy=[greedy]", "rounds=50", "ope=true",
        f"ope_log_file={tmp_path / 'logs.csv'}", "ope_bootstrap=50",
    ])
    report = json.loads((trained_slice_run / "simulation.json").read_text())
    assert status == 0
    assert report["ope"]["rows"] == 300
    assert report["ope"]["targets"]["greedy"]["estimates"]["dr"]["ci_low"] <= report["ope"]["targets"]["greedy"]["estimates"]["dr"]["ci_high"]


@pytest.mark.parametrize(
    ("override", "expected"),
    [("policy=[]", "policy=[] must name one or more policies"), ("blocks=1", "blocks=1 must be >= 2")],
)
def test_simulate_rejects_setting(tmp_path: Path, capsys: pytest.CaptureFixture[str], override: str, expected: str) -> None:
    from avrec.cli.main import main

    status = main(["simulate", str(tmp_path), override])
    assert status == 2
    assert expected in capsys.readouterr().err
