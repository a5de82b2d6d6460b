"""``avrec simulate RUN_DIR [key=value ...]``: online bandit simulation and off-policy evaluation.

Overrides use OmegaConf dotlist syntax, for example
``avrec simulate outputs/run policy=[random,linucb] rounds=20000 seeds=[0,1,2] ope=true``.
Keys prefixed with a selected policy's name set that policy's config, for
example ``linucb.alpha=0.5``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from avrec.config import component_config, validate_node
from avrec.errors import ConfigError, suggest
from avrec.io import atomic_write_json
from avrec.paths import config_dir
from avrec.plugins import get_plugin_manager
from avrec.registry import ComponentSpec

_logger = logging.getLogger(__name__)

POLICY_STATE_DIR = "policies"


@dataclass
class SimulateConfig:
    """Settings of ``avrec simulate``. The module docstring shows the override syntax.

    ``policy`` lists policy presets (conf/policy/NAME.yaml) or component
    names. ``seeds`` fixes one user stream each, and all policies share it.
    ``k`` is the slate size. ``exclude_shown`` offers each item to a user at
    most once per run. ``save_policies`` writes each policy's state after
    the first seed to RUN_DIR/policies/NAME.pt, and ``load_policies`` names
    such a directory to resume from. The ``ope_*`` keys configure
    off-policy evaluation: ``ope_logs`` rows from ``ope_logging`` (a
    stochastic policy preset) or the rows of ``ope_log_file``, repeated
    ``ope_repeats`` times with fresh simulated logs.
    """

    policy: list[str] = field(default_factory=lambda: ["random", "greedy", "epsilon_greedy", "linucb", "lin_ts"])
    rounds: int = 20000
    seeds: list[int] = field(default_factory=lambda: [0])
    k: int = 1
    threshold: float = 4.0
    exclude_shown: bool = True
    blocks: int = 20
    num_threads: int = 1
    save_policies: bool = True
    load_policies: str | None = None
    ope: bool = False
    ope_logging: str = "softmax"
    ope_logs: int = 10000
    ope_log_file: str | None = None
    ope_repeats: int = 1
    ope_bootstrap: int = 1000
    ope_confidence: float = 0.95
    ope_reward_range: list[float] = field(default_factory=lambda: [0.0, 1.0])
    ope_ridge: float = 1.0


def _format_default(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ",".join(str(item) for item in value) + "]"
    if isinstance(value, bool):
        return str(value).lower()
    return "null" if value is None else str(value)


def _usage() -> str:
    defaults = dataclasses.asdict(SimulateConfig())
    fields = "\n".join(f"  {name}={_format_default(value)}" for name, value in defaults.items())
    policies = ", ".join(get_plugin_manager().registry.names("policy"))
    return (
        "usage: avrec simulate RUN_DIR [key=value ...]\n\n"
        "Runs bandit policies on held-out feedback of a trained run and writes simulation.json\n"
        "and simulation.png into RUN_DIR.\n\nkeys (defaults):\n"
        f"{fields}\n  POLICY.key=value  set a key of a selected policy, e.g. linucb.alpha=0.5\n\n"
        f"registered policies: {policies}"
    )


def parse_overrides(args: list[str]) -> tuple[SimulateConfig, dict[str, DictConfig]]:
    """Split ``key=value`` overrides into the simulate config and per-policy config overrides."""
    bad = [arg for arg in args if "=" not in arg]
    if bad:
        raise ConfigError(f"Invalid argument '{bad[0]}': overrides take the form key=value, e.g. rounds=20000.")
    try:
        node = OmegaConf.from_dotlist(args)
    except OmegaConfBaseException as error:
        raise ConfigError(f"Invalid override in {args}: {error}") from None
    own = [f.name for f in dataclasses.fields(SimulateConfig)]
    simulate_node = OmegaConf.masked_copy(node, [key for key in node.keys() if key in own])
    config = validate_node(simulate_node, SimulateConfig, "simulate")
    registry_names = get_plugin_manager().registry.names("policy")
    policy_overrides = {}
    selected = [*config.policy, config.ope_logging]
    for key in node.keys():
        if key in own:
            continue
        if key not in selected or not isinstance(node[key], DictConfig):
            choices = own + selected
            raise ConfigError(
                f"Unknown simulate key '{key}'.{suggest(str(key), choices)} Valid keys: {', '.join(own)}, "
                f"or POLICY.key for a selected policy ({', '.join(selected)}). Registered policies: "
                f"{', '.join(registry_names)}."
            )
        policy_overrides[str(key)] = node[key]
    return config, policy_overrides


def _preset(name: str) -> DictConfig:
    dirs = [config_dir(), *get_plugin_manager().config_dirs()]
    for directory in dirs:
        path = Path(directory) / "policy" / f"{name}.yaml"
        if path.exists():
            return OmegaConf.load(path)
    return OmegaConf.create({"name": name})


def resolve_policies(names: list[str], overrides: dict[str, DictConfig]) -> dict[str, tuple[ComponentSpec, Any]]:
    """Validate each selected policy's preset plus overrides against its config dataclass."""
    if len(set(names)) != len(names):
        raise ConfigError(f"Invalid policy list {names}: each policy may appear once.")
    registry = get_plugin_manager().registry
    resolved = {}
    for name in names:
        node = OmegaConf.merge(_preset(name), overrides.get(name, OmegaConf.create({})))
        resolved[name] = component_config(registry, "policy", node, f"policy.{name}")
    return resolved


def _check(config: SimulateConfig) -> None:
    problems = []
    if not config.policy:
        problems.append("policy=[] must name one or more policies, e.g. policy=[random,linucb]")
    if config.rounds < 1:
        problems.append(f"rounds={config.rounds} must be >= 1")
    if config.k < 1:
        problems.append(f"k={config.k} must be >= 1")
    if not config.seeds or min(config.seeds) < 0:
        problems.append(f"seeds={config.seeds} must list one or more non-negative integers")
    if config.blocks < 2:
        problems.append(f"blocks={config.blocks} must be >= 2, because the confidence interval needs two batch means")
    if config.ope and config.ope_logs < 1:
        problems.append(f"ope_logs={config.ope_logs} must be >= 1")
    if config.ope_repeats < 1:
        problems.append(f"ope_repeats={config.ope_repeats} must be >= 1")
    if len(config.ope_reward_range) != 2 or config.ope_reward_range[0] >= config.ope_reward_range[1]:
        problems.append(f"ope_reward_range={config.ope_reward_range} must be [LOW, HIGH] with LOW < HIGH")
    if problems:
        raise ConfigError("Invalid simulate settings: " + ". ".join(problems) + ".")


def _factory(spec: ComponentSpec, policy_config: Any, name: str, state_dir: Path | None):
    from avrec.simulation import load_policy_state

    policy_class = spec.load()

    def build(context):
        policy = policy_class(policy_config, context)
        if state_dir is not None and (state_dir / f"{name}.pt").exists():
            load_policy_state(state_dir / f"{name}.pt", name, policy)
        return policy

    return build


def run_simulation(
    run_dir: Path,
    config: SimulateConfig,
    policies: dict[str, tuple[ComponentSpec, Any]],
    overrides: dict[str, DictConfig] | None = None,
) -> dict[str, Any]:
    """Load the run, simulate every policy, optionally evaluate them off-policy, and write the results."""
    import torch

    from avrec.run import load_run
    from avrec.simulation import (
        PLOT_FILE, SIMULATION_FILE, Environment, context_from_experiment, plot_cumulative, save_policy_state, simulate,
    )

    if config.num_threads > 0:
        torch.set_num_threads(config.num_threads)
    experiment = load_run(run_dir)
    context = context_from_experiment(experiment, seed=config.seeds[0])
    env = Environment.from_split(experiment.split, experiment.dataset.n_items, config.threshold, config.exclude_shown)
    state_dir = Path(config.load_policies) if config.load_policies else None
    if state_dir is not None and not state_dir.is_dir():
        raise ConfigError(f"load_policies={state_dir} is not a directory of saved policy states.")
    factories = {name: _factory(spec, policy_config, name, state_dir) for name, (spec, policy_config) in policies.items()}
    result = simulate(factories, context, env, config.rounds, list(config.seeds), config.k, config.blocks)
    report = result.report
    report["run_dir"] = str(run_dir)
    report["dataset"] = experiment.dataset.name
    report["policy_configs"] = {name: {"name": spec.name, **dataclasses.asdict(cfg)} for name, (spec, cfg) in policies.items()}
    if config.save_policies:
        for name, policy in result.policies.items():
            save_policy_state(run_dir / POLICY_STATE_DIR / f"{name}.pt", name, policy)
    if config.ope:
        report["ope"] = run_ope(config, experiment, context, env, result.policies, overrides)
    atomic_write_json(run_dir / SIMULATION_FILE, report)
    title = f"{experiment.dataset.name}: {config.rounds} rounds, seeds {list(config.seeds)}"
    plot_cumulative(result.runs, run_dir / PLOT_FILE, title)
    return report


def _logging_policy(config: SimulateConfig, overrides: dict[str, DictConfig], context: Any) -> tuple[Any, dict[str, Any]]:
    name = config.ope_logging
    spec, policy_config = resolve_policies([name], overrides)[name]
    policy = spec.load()(policy_config, context.with_seed(config.seeds[0]))
    return policy, {"name": name, "component": spec.name, **dataclasses.asdict(policy_config)}


def run_ope(
    config: SimulateConfig,
    experiment: Any,
    context: Any,
    env: Any,
    targets: dict[str, Any],
    overrides: dict[str, DictConfig] | None = None,
) -> dict[str, Any]:
    """Estimate each frozen target policy from logs and compare it with its exact value on ``env``."""
    from avrec.ope import compare_with_truth, evaluate_offline, read_log_file, simulate_logs

    reward_range = (float(config.ope_reward_range[0]), float(config.ope_reward_range[1]))
    settings = {
        "reward_range": reward_range, "ridge": config.ope_ridge,
        "n_bootstrap": config.ope_bootstrap, "confidence": config.ope_confidence,
    }
    report: dict[str, Any] = {
        "note": "Targets are the policies frozen after the first seed's online run. Values are rewards per decision (k=1).",
        "bootstrap": config.ope_bootstrap,
        "confidence": config.ope_confidence,
    }
    if config.ope_log_file:
        dataset = experiment.dataset
        logs = read_log_file(Path(config.ope_log_file), dataset.users, dataset.items, reward_range, context.user_vectors.shape[1])
        report.update(source=str(config.ope_log_file), rows=len(logs), repeats=1)

        def estimate_once(seed: int, cache: dict) -> dict:
            return evaluate_offline(
                logs, targets, context.user_vectors, context.item_vectors, env.base_candidates,
                seed=seed, probability_cache=cache, **settings,
            )

        repeats = 1
    else:
        logging_policy, logging_config = _logging_policy(config, overrides or {}, context)
        report.update(source="simulated", logging_policy=logging_config, rows=config.ope_logs, repeats=config.ope_repeats)

        def estimate_once(seed: int, cache: dict) -> dict:
            logs = simulate_logs(logging_policy, env, config.ope_logs, seed)
            return evaluate_offline(
                logs, targets, context.user_vectors, context.item_vectors, env.base_candidates,
                seed=seed, probability_cache=cache, **settings,
            )

        repeats = config.ope_repeats
    report["targets"] = compare_with_truth(targets, env, estimate_once, repeats, seed=1000 + config.seeds[0])
    return report


def _limit_blas_threads(args: list[str]) -> None:
    """Cap OpenBLAS threads at ``num_threads`` (default 1) before numpy loads.

    The policies multiply matrices of about 2,000 x 65 per decision, too
    small to gain from threads. Threaded BLAS on a busy machine made LinUCB
    about 8 times slower in one measurement on a shared 2-core CPU. An
    OPENBLAS_NUM_THREADS already set in the environment wins.
    """
    values = [arg.split("=", 1)[1] for arg in args if arg.startswith("num_threads=")]
    threads = values[-1] if values and values[-1].isdigit() and int(values[-1]) > 0 else "1"
    if "numpy" in sys.modules:
        _logger.debug("numpy is already loaded, so OPENBLAS_NUM_THREADS can no longer take effect.")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", threads)


def run(command: str, args: list[str]) -> int:
    """Parse ``RUN_DIR`` and overrides, run the simulation and print where the results went."""
    _limit_blas_threads(args[1:])
    if not args or args[0] in ("-h", "--help"):
        print(_usage())
        return 0 if args else 2
    run_dir, overrides = Path(args[0]), args[1:]
    config, policy_overrides = parse_overrides(overrides)
    _check(config)
    policies = resolve_policies(config.policy, policy_overrides)
    report = run_simulation(run_dir, config, policies, policy_overrides)
    for name, summary in report["policies"].items():
        print(f"{name:>16}: cumulative reward {summary['cumulative_reward']:.1f}, reward rate {summary['reward_rate']:.4f}")
    for name, block in report.get("ope", {}).get("targets", {}).items():
        dr = block["estimates"]["dr"]
        print(f"{name:>16}: true value {block['true_value']:.4f}, DR {dr['value']:.4f} [{dr['ci_low']:.4f}, {dr['ci_high']:.4f}]")
    print(f"Wrote {run_dir / 'simulation.json'} and {run_dir / 'simulation.png'}.")
    return 0
