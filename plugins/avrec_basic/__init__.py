"""Built-in basic components: id embeddings, single-modality fusion, heads and the cold-items split."""

from __future__ import annotations

from avrec.hookspecs import hookimpl
from avrec.registry import Registrar
from avrec_basic.configs import (
    BCEConfig,
    BPRConfig,
    ColdItemsSplitConfig,
    IdEncoderConfig,
    PassThroughConfig,
    PopConfig,
    RatingConfig,
)


@hookimpl
def avrec_register_encoders(registrar: Registrar) -> None:
    registrar.register(
        "id", "avrec_basic.id_encoder:IdEncoder", config=IdEncoderConfig,
        summary="Learned item id embeddings (matrix factorisation).",
    )


@hookimpl
def avrec_register_fusions(registrar: Registrar) -> None:
    registrar.register(
        "none", "avrec_basic.fusion:PassThroughFusion", config=PassThroughConfig,
        summary="Pass a single modality through unchanged; rejects several modalities.",
    )


@hookimpl
def avrec_register_heads(registrar: Registrar) -> None:
    registrar.register(
        "bpr", "avrec_basic.heads:BPRHead", config=BPRConfig,
        summary="Dot-product scores trained with the pairwise BPR loss.",
    )
    registrar.register(
        "bce", "avrec_basic.heads:BCEHead", config=BCEConfig,
        summary="Dot-product click scores trained with binary cross-entropy on sampled negatives.",
    )
    registrar.register(
        "rating", "avrec_basic.heads:RatingHead", config=RatingConfig,
        summary="Explicit rating prediction with biases, trained with MSE; reports rmse and mae.",
    )
    registrar.register(
        "pop", "avrec_basic.heads:PopHead", config=PopConfig,
        summary="Scores items by training popularity; no parameters.",
    )


@hookimpl
def avrec_register_splits(registrar: Registrar) -> None:
    registrar.register(
        "cold_items", "avrec.split_cold:ColdItemsSplitter", config=ColdItemsSplitConfig,
        summary="Hold out a seeded share of items with all their interactions as the test split.",
    )
