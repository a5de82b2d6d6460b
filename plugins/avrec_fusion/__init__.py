"""Built-in fusion plugin: masked concatenation and gated fusion of modalities."""

from __future__ import annotations

from avrec.hookspecs import hookimpl
from avrec.registry import Registrar
from avrec_fusion.configs import ConcatFusionConfig, GatedFusionConfig


@hookimpl
def avrec_register_fusions(registrar: Registrar) -> None:
    registrar.register(
        "concat", "avrec_fusion.fusions:ConcatFusion", config=ConcatFusionConfig,
        summary="Concatenate the present modalities and project them linearly to model.dim.",
    )
    registrar.register(
        "gated", "avrec_fusion.fusions:GatedFusion", config=GatedFusionConfig,
        summary="Mix per-modality projections with a learned softmax gate over the present modalities.",
    )
