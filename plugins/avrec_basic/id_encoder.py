"""Learned item id embeddings."""

from __future__ import annotations

import torch
from torch import nn

from avrec.interfaces import BuildContext, Encoder, ModalityOutput
from avrec_basic.configs import IdEncoderConfig


class IdEncoder(Encoder):
    """One trainable vector per item; every item has this modality.

    Items held out of training (cold items) keep their random initial vector,
    so the mask marks only items that appear in the training split.
    """

    def __init__(self, config: IdEncoderConfig, context: BuildContext) -> None:
        super().__init__(config, context)
        self._dim = config.dim or context.dim
        self.embedding = nn.Embedding(context.dataset.n_items, self._dim)
        if config.init_std > 0:
            nn.init.normal_(self.embedding.weight, std=config.init_std)
        else:
            nn.init.xavier_normal_(self.embedding.weight)
        seen = torch.zeros(context.dataset.n_items, dtype=torch.bool)
        seen[torch.as_tensor(context.split.train["item"].to_numpy(copy=True))] = True
        self.register_buffer("seen", seen, persistent=False)

    @property
    def output_dim(self) -> int:
        return self._dim

    def forward(self, items: torch.Tensor | None = None) -> ModalityOutput:
        if items is None:
            return ModalityOutput(self.embedding.weight, self.seen)
        return ModalityOutput(self.embedding(items), self.seen[items])
