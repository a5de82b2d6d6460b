"""Built-in video and image encoder plugin (timm), and the MicroLens dataset layout."""

from __future__ import annotations

from avrec.hookspecs import hookimpl
from avrec.registry import Registrar
from avrec_video.configs import MicroLensConfig, VideoEncoderConfig


@hookimpl
def avrec_register_encoders(registrar: Registrar) -> None:
    registrar.register(
        "video", "avrec_video.encoder:VideoEncoder", config=VideoEncoderConfig,
        summary="Frames of each item's video or cover images through a frozen timm model, pooled over time.",
    )


@hookimpl
def avrec_register_datasets(registrar: Registrar) -> None:
    registrar.register(
        "microlens", "avrec_video.microlens:MicroLensSource", config=MicroLensConfig,
        summary="MicroLens micro-video dataset (50k, 100k, 1M): pairs, English titles, comments, covers, videos.",
    )
