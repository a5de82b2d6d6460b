"""avrec plugin: a TF-IDF text encoder and a masked-mean fusion.

avrec finds this module through the ``avrec`` entry-point group declared in
pyproject.toml and calls the ``@hookimpl`` functions below. Implementations
are registered as "module:Class" strings, so they are imported only when a
run uses them.
"""

from __future__ import annotations

from pathlib import Path

from avrec import Registrar, hookimpl
from avrec_tfidf.configs import MaskedMeanFusionConfig, TfidfEncoderConfig

__version__ = "0.1.0"

CONFIG_DIR = Path(__file__).resolve().parent / "conf"


@hookimpl
def avrec_register_encoders(registrar: Registrar) -> None:
    registrar.register(
        "tfidf", "avrec_tfidf.encoder:TfidfEncoder", config=TfidfEncoderConfig,
        summary="TF-IDF of item text reduced by truncated SVD (scikit-learn), with a trained projection.",
    )


@hookimpl
def avrec_register_fusions(registrar: Registrar) -> None:
    registrar.register(
        "masked_mean", "avrec_tfidf.fusion:MaskedMeanFusion", config=MaskedMeanFusionConfig,
        summary="Weighted mean of per-modality projections over the modalities each item has.",
    )


@hookimpl
def avrec_config_dirs() -> list[str]:
    """Return the directory of this plugin's Hydra presets (conf/encoder/tfidf.yaml, ...)."""
    return [str(CONFIG_DIR)]
