"""Built-in text encoder plugin (BERT-family language models through transformers)."""

from __future__ import annotations

from avrec.hookspecs import hookimpl
from avrec.registry import Registrar
from avrec_text.configs import TextEncoderConfig


@hookimpl
def avrec_register_encoders(registrar: Registrar) -> None:
    registrar.register(
        "text", "avrec_text.encoder:TextEncoder", config=TextEncoderConfig,
        summary="BERT-family language model over item text, cached, with a trained projection.",
    )
