"""pluggy hook specifications: one registration hook per component kind.

A plugin module implements any of these with ``@avrec.hookimpl`` and is listed
under the ``avrec`` entry-point group of its distribution.
"""

from __future__ import annotations

import pluggy

from avrec.registry import Registrar

PROJECT = "avrec"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def avrec_register_datasets(registrar: Registrar) -> None:
    """Register dataset sources with ``registrar.register(name, target, config=..., summary=...)``."""


@hookspec
def avrec_register_splits(registrar: Registrar) -> None:
    """Register split strategies."""


@hookspec
def avrec_register_encoders(registrar: Registrar) -> None:
    """Register item-side modality encoders."""


@hookspec
def avrec_register_fusions(registrar: Registrar) -> None:
    """Register fusions that combine modality embeddings into item vectors."""


@hookspec
def avrec_register_heads(registrar: Registrar) -> None:
    """Register heads that score user-item pairs and own the training loss."""


@hookspec
def avrec_register_policies(registrar: Registrar) -> None:
    """Register online policies (contextual bandits)."""


@hookspec
def avrec_config_dirs() -> list[str]:
    """Return directories of Hydra config presets that this plugin ships."""


HOOK_BY_KIND = {
    "dataset": "avrec_register_datasets",
    "split": "avrec_register_splits",
    "encoder": "avrec_register_encoders",
    "fusion": "avrec_register_fusions",
    "head": "avrec_register_heads",
    "policy": "avrec_register_policies",
}
