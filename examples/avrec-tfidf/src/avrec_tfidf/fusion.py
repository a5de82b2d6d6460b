"""Masked-mean fusion: a weighted mean of per-modality projections over the modalities an item has."""

from __future__ import annotations

import torch
from torch import nn

from avrec.errors import ConfigError
from avrec.interfaces import Fusion, ModalityOutput
from avrec_tfidf.configs import MaskedMeanFusionConfig


class MaskedMeanFusion(Fusion):
    """Projects each modality to ``output_dim`` and averages the projections of the present modalities.

    The weight of modality m for an item is ``exp(w_m)`` divided by the sum
    of ``exp(w_j)`` over the modalities j the item has, so a missing modality
    contributes nothing and the others are renormalised. Masked rows are set
    to zero before the projection only to keep NaN placeholders out of the
    gradients; their weight is zero either way.
    """

    def __init__(self, config: MaskedMeanFusionConfig, input_dims: dict[str, int], output_dim: int) -> None:
        super().__init__(config, input_dims, output_dim)
        if not input_dims:
            raise ConfigError("fusion=masked_mean received no encoder. Select at least one, e.g. encoder=[id,tfidf].")
        self.modalities = list(input_dims)
        self.projections = nn.ModuleDict({name: nn.Linear(dim, output_dim) for name, dim in input_dims.items()})
        self.logits = nn.Parameter(torch.zeros(len(self.modalities)), requires_grad=config.learned_weights)
        self.missing = nn.Parameter(torch.randn(output_dim) * 0.02)

    def forward(self, outputs: dict[str, ModalityOutput]) -> torch.Tensor:
        if set(outputs) != set(self.modalities):
            raise ValueError(f"fusion=masked_mean was built for {self.modalities} but received {sorted(outputs)}.")
        projected, masks = [], []
        for name in self.modalities:
            output = outputs[name]
            mask = output.mask.to(torch.bool)
            inputs = torch.where(mask.unsqueeze(-1), output.embeddings, output.embeddings.new_zeros(()))
            projected.append(self.projections[name](inputs))
            masks.append(mask)
        stacked = torch.stack(projected, dim=1)
        present = torch.stack(masks, dim=1)
        weights = torch.softmax(self.logits, dim=0).expand_as(present) * present
        totals = weights.sum(dim=1, keepdim=True)
        fused = (weights.unsqueeze(-1) * stacked).sum(dim=1) / totals.clamp_min(1e-12)
        return torch.where(totals > 0, fused, self.missing.expand_as(fused))
