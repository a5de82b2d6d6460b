"""Built-in policy plugin: contextual bandits over a trained run's user and item vectors."""

from __future__ import annotations

from avrec.hookspecs import hookimpl
from avrec.registry import Registrar
from avrec_bandits.configs import (
    EpsilonGreedyConfig,
    GreedyConfig,
    LinTSConfig,
    LinUCBConfig,
    RandomConfig,
    SoftmaxConfig,
)

_POLICIES = (
    ("random", "RandomPolicy", RandomConfig, "Uniformly random slates; the baseline every policy must beat."),
    ("greedy", "GreedyPolicy", GreedyConfig, "Top-k by the trained model's scores; does not learn online."),
    ("softmax", "SoftmaxPolicy", SoftmaxConfig, "Samples from a softmax over the model's scores; a logging policy."),
    ("epsilon_greedy", "EpsilonGreedyPolicy", EpsilonGreedyConfig,
     "Online ridge model's best slate, a random slate with probability epsilon."),
    ("linucb", "LinUCBPolicy", LinUCBConfig, "LinUCB over user-item context features with a shared ridge model."),
    ("lin_ts", "LinTSPolicy", LinTSConfig, "Linear Thompson sampling over user-item context features."),
)


@hookimpl
def avrec_register_policies(registrar: Registrar) -> None:
    for name, class_name, config, summary in _POLICIES:
        registrar.register(name, f"avrec_bandits.policies:{class_name}", config=config, summary=summary)
