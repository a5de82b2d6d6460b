"""The recommender model: encoders, fusion, user tower and head in one module."""

from __future__ import annotations

import numpy as np
import torch
from scipy import sparse
from torch import nn

from avrec.config import HISTORY_POOLING, UserTowerConfig
from avrec.errors import ConfigError
from avrec.interfaces import Encoder, Fusion, Head, ModalityOutput



def _sparse_tensor(matrix: sparse.csr_matrix) -> torch.Tensor:
    coo = matrix.tocoo()
    indices = torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))
    values = torch.from_numpy(coo.data.astype("float32"))
    # COO rather than CSR: torch.sparse.mm supports both, and CSR logs a beta warning.
    return torch.sparse_coo_tensor(indices, values, coo.shape, check_invariants=False).coalesce()


class UserTower(nn.Module):
    """User vectors from an id embedding and/or the pooled vectors of the user's training items."""

    def __init__(
        self,
        config: UserTowerConfig,
        n_users: int,
        dim: int,
        train_matrix: sparse.csr_matrix,
        *,
        encoders_model_users: bool = False,
    ) -> None:
        super().__init__()
        if config.history not in HISTORY_POOLING:
            raise ConfigError(
                f"Invalid model.user_tower.history '{config.history}'. Valid values: {', '.join(HISTORY_POOLING)}."
            )
        if not config.id_embedding and config.history == "none" and not encoders_model_users:
            raise ConfigError(
                "model.user_tower needs id_embedding=true or a history pooling; both are off and no "
                "selected encoder models users (as lightgcn does)."
            )
        self.dim = dim
        self.config = config
        self.embedding = nn.Embedding(n_users, dim) if config.id_embedding else None
        if self.embedding is not None:
            nn.init.xavier_normal_(self.embedding.weight)
        self.history_matrix = self._history_matrix(train_matrix) if config.history != "none" else None
        self.attention = nn.Linear(dim, 1) if config.history == "attention" else None

    @staticmethod
    def _history_matrix(train_matrix: sparse.csr_matrix) -> sparse.csr_matrix:
        counts = sparse.csr_matrix(train_matrix, dtype="float32")
        counts.data[:] = 1.0
        return counts

    @property
    def needs_item_vectors(self) -> bool:
        return self.history_matrix is not None

    def forward(self, users: torch.Tensor, item_vectors: torch.Tensor | None = None) -> torch.Tensor:
        parts = []
        if self.embedding is not None:
            parts.append(self.embedding(users))
        if self.history_matrix is not None:
            parts.append(self.config.history_weight * self._pool_history(users, item_vectors))
        if not parts:
            # Both parts are off: the encoders' user embeddings are the whole user vector.
            return torch.zeros(users.shape[0], self.dim, device=users.device)
        return parts[0] if len(parts) == 1 else parts[0] + parts[1]

    def _pool_history(self, users: torch.Tensor, item_vectors: torch.Tensor) -> torch.Tensor:
        rows = self.history_matrix[users.cpu().numpy()]
        if self.attention is None:
            sums = rows.sum(axis=1).A1
            sums[sums == 0] = 1.0
            weights = sparse.diags(1.0 / sums) @ rows
            return torch.sparse.mm(_sparse_tensor(weights).to(item_vectors.device), item_vectors)
        return self._attention_pool(rows, item_vectors)

    def _attention_pool(self, rows: sparse.csr_matrix, item_vectors: torch.Tensor) -> torch.Tensor:
        coo = rows.tocoo()
        row = torch.from_numpy(coo.row.astype("int64")).to(item_vectors.device)
        col = torch.from_numpy(coo.col.astype("int64")).to(item_vectors.device)
        logits = self.attention(item_vectors[col]).squeeze(-1)
        # Subtract each user's own maximum: a global maximum would underflow
        # exp() to 0 for every item of a user whose logits are all far lower.
        row_max = torch.full((rows.shape[0],), float("-inf"), device=item_vectors.device, dtype=logits.dtype)
        row_max = row_max.scatter_reduce(0, row, logits.detach(), reduce="amax")
        weights = (logits - row_max[row]).exp()
        totals = torch.zeros(rows.shape[0], device=item_vectors.device).index_add_(0, row, weights)
        weights = weights / totals[row].clamp_min(1e-12)
        pooled = torch.zeros(rows.shape[0], item_vectors.shape[1], device=item_vectors.device)
        return pooled.index_add_(0, row, weights.unsqueeze(-1) * item_vectors[col])


class Recommender(nn.Module):
    """Item vectors from fused modality encoders, user vectors from the user tower, scores from the head."""

    def __init__(
        self,
        encoders: dict[str, Encoder],
        fusion: Fusion,
        user_tower: UserTower,
        head: Head,
        n_items: int,
    ) -> None:
        super().__init__()
        self.encoders = nn.ModuleDict(encoders)
        self.fusion = fusion
        self.user_tower = user_tower
        self.head = head
        self.n_items = n_items

    def modality_outputs(self, items: torch.Tensor | None = None) -> dict[str, ModalityOutput]:
        return {name: encoder(items) for name, encoder in self.encoders.items()}

    def item_vectors(self, items: torch.Tensor | None = None) -> torch.Tensor:
        """Return fused item vectors for ``items``, or all items when None."""
        return self.fusion(self.modality_outputs(items))

    def user_vectors(self, users: torch.Tensor, item_vectors: torch.Tensor | None = None) -> torch.Tensor:
        """Return user vectors; graph encoders that model users add their user embeddings.

        ``item_vectors`` are the fused vectors of all items, when the caller
        has them already.
        """
        history_vectors = None
        if self.user_tower.needs_item_vectors:
            history_vectors = self._history_vectors(item_vectors)
        vectors = self.user_tower(users, history_vectors)
        for encoder in self.encoders.values():
            extra = encoder.user_embeddings(users)
            if extra is not None:
                vectors = vectors + extra
        return vectors

    def _history_vectors(self, item_vectors: torch.Tensor | None) -> torch.Tensor:
        """Return the vectors the user tower pools: fused item vectors, or one encoder's output."""
        source = self.user_tower.config.history_from
        if source == "fused":
            return self.item_vectors() if item_vectors is None else item_vectors
        output = self.encoders[source]()
        # Items without this modality enter the mean as zero vectors.
        return torch.where(output.mask.unsqueeze(-1), output.embeddings, output.embeddings.new_zeros(()))

    @torch.no_grad()
    def score_users(self, users: torch.Tensor, item_vectors: torch.Tensor | None = None) -> torch.Tensor:
        """Return scores ``[len(users), n_items]`` against every item."""
        direct = self.head.score_users(self, users)
        if direct is not None:
            return direct
        if item_vectors is None:
            item_vectors = self.item_vectors()
        return self.head.score(self.user_vectors(users, item_vectors), item_vectors)

    def loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.head.loss(self, batch)
