"""Config dataclasses of the fusion plugin (kept free of torch imports)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ConcatFusionConfig:
    """Concatenation of the present modalities followed by a linear projection to ``model.dim``.

    ``rescale`` multiplies the sum of the present modalities' projections by
    ``n_modalities / n_present``, so an item with fewer modalities keeps the
    same expected scale. ``dropout`` applies to the projected embeddings in
    training. ``modality_dropout`` is the probability, in
    training only, that a present modality of an item is hidden from the
    fusion. An item never loses all its modalities this way.
    ``project_same_dim`` false lets a modality whose width already equals
    ``model.dim`` (such as id embeddings) enter the sum unprojected, so the
    fusion adds the other modalities' projections to it.
    """

    rescale: bool = True
    dropout: float = 0.0
    modality_dropout: float = 0.0
    project_same_dim: bool = True


@dataclass
class GatedFusionConfig:
    """Per-modality projections mixed by a softmax gate over the modalities an item has.

    ``gate_hidden`` is the width of the gate scorer's hidden layer and
    ``temperature`` divides the gate logits before the softmax.
    ``dropout`` applies to the projected embeddings in training.
    ``modality_dropout`` is the probability, in training only, that a present
    modality of an item is hidden from the fusion. An item never loses all
    its modalities this way. Dropout keeps the gate from shutting off a modality
    that is still untrained, such as id embeddings next to text.
    ``project_same_dim`` also projects modalities whose width already equals
    ``model.dim``. When false they enter the gate unchanged, because such an
    encoder output is either a free embedding or already has its own trained
    projection, and a second linear map only reparametrizes it.
    """

    gate_hidden: int = 64
    temperature: float = 1.0
    dropout: float = 0.0
    modality_dropout: float = 0.0
    project_same_dim: bool = False
