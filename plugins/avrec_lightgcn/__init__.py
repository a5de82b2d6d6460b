"""Built-in LightGCN graph encoder plugin, and the ``fixed`` split that reads a split from files."""

from __future__ import annotations

from avrec.hookspecs import hookimpl
from avrec.registry import Registrar
from avrec_lightgcn.configs import FixedSplitConfig, LightGCNConfig


@hookimpl
def avrec_register_encoders(registrar: Registrar) -> None:
    registrar.register(
        "lightgcn", "avrec_lightgcn.encoder:LightGCNEncoder", config=LightGCNConfig,
        summary="LightGCN: user and item id embeddings smoothed over the normalised interaction graph.",
    )


@hookimpl
def avrec_register_splits(registrar: Registrar) -> None:
    registrar.register(
        "fixed", "avrec.split_fixed:FixedSplitter", config=FixedSplitConfig,
        summary="Train, valid and test read from TSV files of raw ids (to reuse another tool's split).",
    )
