"""Built-in knowledge-graph encoder plugin (PyKEEN)."""

from __future__ import annotations

from avrec.hookspecs import hookimpl
from avrec.registry import Registrar
from avrec_kg.configs import KGEncoderConfig


@hookimpl
def avrec_register_encoders(registrar: Registrar) -> None:
    registrar.register(
        "kg", "avrec_kg.encoder:KGEncoder", config=KGEncoderConfig,
        summary="Knowledge-graph entity embeddings trained with PyKEEN, cached, with a trained projection.",
    )
