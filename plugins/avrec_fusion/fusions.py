"""Masked fusions of several modalities into one item vector.

Both fusions project each modality separately, so a modality an item lacks
is simply left out of its sum or softmax. Before projecting, the embeddings
of masked rows are replaced by zeros. That replacement only keeps NaN or
infinite placeholders out of the forward pass and the weight gradients.
The projection of a masked row is then dropped, so it never reaches the
output.
An item with no modality at all gets a learned "missing" vector.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import pandas as pd
import torch
from torch import nn

from avrec.errors import ConfigError
from avrec.interfaces import Fusion, ModalityOutput
from avrec_fusion.configs import ConcatFusionConfig, GatedFusionConfig

if TYPE_CHECKING:
    from avrec.model import Recommender

_logger = logging.getLogger(__name__)


def _projection(input_dim: int, output_dim: int, bias: bool) -> nn.Linear:
    """Return a linear map with (semi-)orthogonal initial weights and zero bias.

    An orthogonal map keeps the norm of the modality embeddings. PyTorch's
    default Linear init divides the variance by about 3, which slowed the
    training of id embeddings behind the fusion in ml-100k runs.
    """
    layer = nn.Linear(input_dim, output_dim, bias=bias)
    nn.init.orthogonal_(layer.weight)
    if bias:
        nn.init.zeros_(layer.bias)
    return layer


class _MaskedFusion(Fusion):
    """Base of the masked fusions: one linear projection per modality and a vector for items without any."""

    def __init__(
        self, config: Any, input_dims: dict[str, int], output_dim: int, *, bias: bool, project_same_dim: bool = True
    ) -> None:
        super().__init__(config, input_dims, output_dim)
        if not input_dims:
            raise ConfigError("The fusion received no encoder. Select at least one, e.g. encoder=[id,text].")
        for key in ("dropout", "modality_dropout"):
            value = getattr(config, key)
            if not 0.0 <= value < 1.0:
                raise ConfigError(f"Invalid fusion.{key} {value}; use a value in [0, 1).")
        self.modalities = list(input_dims)
        self.projections = nn.ModuleDict({
            name: _projection(dim, output_dim, bias) if project_same_dim or dim != output_dim else nn.Identity()
            for name, dim in input_dims.items()
        })
        self.missing = nn.Parameter(torch.randn(output_dim) * 0.02)
        self.dropout = nn.Dropout(config.dropout)

    def project(self, outputs: dict[str, ModalityOutput]) -> tuple[torch.Tensor, torch.Tensor]:
        """Return projected embeddings ``[n, M, output_dim]`` and the modality mask ``[n, M]``."""
        if set(outputs) != set(self.modalities):
            raise ValueError(
                f"The fusion was built for modalities {self.modalities} but received {sorted(outputs)}."
            )
        projected, masks = [], []
        for name in self.modalities:
            output = outputs[name]
            mask = output.mask.to(torch.bool)
            inputs = torch.where(mask.unsqueeze(-1), output.embeddings, output.embeddings.new_zeros(()))
            projected.append(self.projections[name](inputs))
            masks.append(mask)
        mask = torch.stack(masks, dim=1)
        if self.training and self.config.modality_dropout > 0:
            mask = self._drop_modalities(mask)
        return self.dropout(torch.stack(projected, dim=1)), mask

    def _drop_modalities(self, mask: torch.Tensor) -> torch.Tensor:
        """Hide each present modality with probability ``modality_dropout``, keeping at least one per item."""
        keep = torch.rand(mask.shape, device=mask.device) >= self.config.modality_dropout
        dropped = mask & keep
        # Items that would lose every modality keep their original mask.
        return torch.where(dropped.any(dim=1, keepdim=True), dropped, mask)

    def _fill_missing(self, fused: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        has_any = mask.any(dim=1, keepdim=True)
        return torch.where(has_any, fused, self.missing.expand_as(fused))


class ConcatFusion(_MaskedFusion):
    """Linear projection of the concatenated present modalities.

    A linear map of a concatenation ``[x_1, ..., x_M]`` equals the sum of
    per-modality maps ``W_1 x_1 + ... + W_M x_M`` plus one bias. This fusion
    computes that sum over the present modalities only and, with
    ``rescale``, multiplies it by ``M / n_present``, as if each missing block
    were replaced by the average of the present ones.
    """

    def __init__(self, config: ConcatFusionConfig, input_dims: dict[str, int], output_dim: int) -> None:
        super().__init__(config, input_dims, output_dim, bias=False, project_same_dim=config.project_same_dim)
        self.bias = nn.Parameter(torch.zeros(output_dim))

    def forward(self, outputs: dict[str, ModalityOutput]) -> torch.Tensor:
        projected, mask = self.project(outputs)
        weights = mask.to(projected.dtype)
        if self.config.rescale:
            n_present = weights.sum(dim=1, keepdim=True).clamp_min(1.0)
            weights = weights * (len(self.modalities) / n_present)
        fused = (weights.unsqueeze(-1) * projected).sum(dim=1) + self.bias
        return self._fill_missing(fused, mask)


class GatedFusion(_MaskedFusion):
    """Softmax-gated mixture of per-modality projections.

    Each present modality ``m`` of an item gets the logit
    ``v^T tanh(W h_m) + c_m``, where ``h_m`` is its projection to
    ``output_dim`` (the embedding itself when it already has that width and
    ``project_same_dim`` is false) and ``c_m`` a learned per-modality bias. Absent
    modalities get ``-inf``, so the gates of an item sum to 1 over the
    modalities it has and are exactly 0 elsewhere.
    """

    def __init__(self, config: GatedFusionConfig, input_dims: dict[str, int], output_dim: int) -> None:
        super().__init__(config, input_dims, output_dim, bias=True, project_same_dim=config.project_same_dim)
        if config.temperature <= 0:
            raise ConfigError(f"Invalid fusion.temperature {config.temperature}; use a value > 0.")
        if config.gate_hidden < 1:
            raise ConfigError(f"Invalid fusion.gate_hidden {config.gate_hidden}; use an integer >= 1.")
        self.gate_hidden = nn.Linear(output_dim, config.gate_hidden)
        self.gate_out = nn.Linear(config.gate_hidden, 1, bias=False)
        self.modality_bias = nn.Parameter(torch.zeros(len(self.modalities)))

    def forward(self, outputs: dict[str, ModalityOutput]) -> torch.Tensor:
        projected, mask = self.project(outputs)
        gates = self._gates(projected, mask)
        fused = (gates.unsqueeze(-1) * projected).sum(dim=1)
        return self._fill_missing(fused, mask)

    def gates(self, outputs: dict[str, ModalityOutput]) -> torch.Tensor:
        """Return the gate weights ``[n, M]`` in the order of :attr:`modalities`."""
        projected, mask = self.project(outputs)
        return self._gates(projected, mask)

    def _gates(self, projected: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        logits = self.gate_out(torch.tanh(self.gate_hidden(projected))).squeeze(-1) + self.modality_bias
        logits = logits / self.config.temperature
        # An item without any modality would softmax over -inf only (NaN), so
        # its logits stay finite here and its gates are zeroed by the mask.
        has_any = mask.any(dim=1, keepdim=True)
        logits = logits.masked_fill(~mask & has_any, float("-inf"))
        return torch.softmax(logits, dim=1) * mask.to(logits.dtype)

    def metrics(self, model: Recommender) -> dict[str, Any]:
        """Return ``{"gates": {modality: mean gate}}`` over items that have at least one modality."""
        frame = export_gates(model)
        present = frame[frame.sum(axis=1) > 0]
        return {"gates": {name: float(present[name].mean()) for name in self.modalities}}


def export_gates(model: Recommender) -> pd.DataFrame:
    """Return the gate weights of every item, one row per item index and one column per modality.

    Modalities an item lacks have weight 0; an item without any modality has
    a row of zeros.
    """
    fusion = model.fusion
    if not isinstance(fusion, GatedFusion):
        raise ConfigError(
            f"Gate weights exist only for fusion=gated; this model uses {type(fusion).__name__}."
        )
    was_training = model.training
    model.eval()
    with torch.no_grad():
        gates = fusion.gates(model.modality_outputs()).float().cpu().numpy()
    model.train(was_training)
    frame = pd.DataFrame(gates, columns=fusion.modalities)
    frame.index.name = "item"
    return frame
