"""Config dataclasses of the fusion plugin (kept free of torch imports)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ConcatFusionConfig:
    """Concatenation of the present modalities followed by a linear projection to ``model.dim``.

    ``rescale`` multiplies the sum of the present modalities' projections by
    ``n_modalities / n_present``, so an item with fewer modalities keeps the
    same expected scale.
    """

    rescale: bool = True
    dropout: float = 0.0


@dataclass
class GatedFusionConfig:
    """Per-modality projections mixed by a softmax gate over the modalities an item has.

    ``gate_hidden`` is the width of the gate scorer's hidden layer and
    ``temperature`` divides the gate logits before the softmax.
    """

    gate_hidden: int = 64
    temperature: float = 1.0
    dropout: float = 0.0
