"""Fusion for a single modality."""

from __future__ import annotations

import torch

from avrec.errors import ConfigError
from avrec.interfaces import Fusion, ModalityOutput
from avrec_basic.configs import PassThroughConfig


class PassThroughFusion(Fusion):
    """Returns the one modality's embeddings as the item vectors."""

    def __init__(self, config: PassThroughConfig, input_dims: dict[str, int], output_dim: int) -> None:
        if len(input_dims) != 1:
            raise ConfigError(
                f"fusion=none takes exactly one encoder, got {sorted(input_dims)}. "
                f"Select a fusion that combines modalities, e.g. fusion=concat or fusion=gated."
            )
        (dim,) = input_dims.values()
        super().__init__(config, input_dims, dim)

    def forward(self, outputs: dict[str, ModalityOutput]) -> torch.Tensor:
        (output,) = outputs.values()
        return output.embeddings
