"""Built-in LightGCN graph encoder plugin."""

from __future__ import annotations

from avrec.hookspecs import hookimpl
from avrec.registry import Registrar
from avrec_lightgcn.configs import LightGCNConfig


@hookimpl
def avrec_register_encoders(registrar: Registrar) -> None:
    registrar.register(
        "lightgcn", "avrec_lightgcn.encoder:LightGCNEncoder", config=LightGCNConfig,
        summary="LightGCN: user and item id embeddings smoothed over the normalised interaction graph.",
    )
