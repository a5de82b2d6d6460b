"""Text encoder: pooled language-model embeddings of each item's text, projected to the model width."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from avrec.errors import ConfigError
from avrec.interfaces import BuildContext, Encoder, ModalityOutput
from avrec.trainer import resolve_device
from avrec_text.cache import CacheStats, EmbeddingCache, cached_embeddings, entry_key
from avrec_text.configs import TextEncoderConfig
from avrec_text.item_text import item_texts
from avrec_text.language_model import LanguageModel

_logger = logging.getLogger(__name__)

CACHE_SUBDIR = "text"


def transformer_layers(model: nn.Module) -> nn.ModuleList:
    """Return the stack of transformer layers of a BERT-family model (BERT, RoBERTa, DistilBERT, ...)."""
    for path in ("encoder.layer", "transformer.layer", "encoder.layers", "layers"):
        module = model
        for part in path.split("."):
            module = getattr(module, part, None)
            if module is None:
                break
        if isinstance(module, nn.ModuleList):
            return module
    raise ConfigError(
        f"encoder.text.unfreeze_top_layers needs a BERT-family model with encoder.layer or "
        f"transformer.layer; {type(model).__name__} has neither. Set unfreeze_top_layers=0."
    )


def embed_texts(language_model: LanguageModel, texts: Sequence[str], cache_root: Path) -> tuple[np.ndarray, CacheStats]:
    """Return raw pooled embeddings of ``texts``, reusing and extending the cache under ``cache_root``."""
    identity = language_model.identity
    cache = EmbeddingCache(cache_root / CACHE_SUBDIR / identity[:16], language_model.hidden_size)
    keys = [entry_key(identity, language_model.pooling, language_model.max_length, text) for text in texts]
    embeddings, stats = cached_embeddings(texts, keys, cache, language_model.encode)
    _logger.info(
        "Text embeddings (%s): reused %d cached embeddings, encoded %d.",
        language_model.name_or_path, stats.reused, stats.encoded,
    )
    return embeddings, stats


class TextEncoder(Encoder):
    """Language-model embeddings of item text with a trained linear projection to ``dim``.

    With a frozen language model (the default) the pooled embeddings are
    computed once, cached on disk and kept as a buffer, and the language
    model's weights are neither trained nor saved in checkpoints. With
    ``unfreeze_top_layers`` > 0 the model is a submodule, its top layers
    train with the rest, and embeddings are computed in every forward pass.
    """

    def __init__(self, config: TextEncoderConfig, context: BuildContext) -> None:
        super().__init__(config, context)
        if config.unfreeze_top_layers < 0:
            raise ConfigError(
                f"Invalid encoder.text.unfreeze_top_layers {config.unfreeze_top_layers}: use 0 (frozen) or more."
            )
        device = context.device if config.device == "auto" else resolve_device(config.device)
        self.cache_root = Path(context.cache_dir)
        self.language = LanguageModel(
            config.model_name_or_path, config.pooling, config.max_length, config.batch_size, device
        )
        self._build_texts(config, context)

        self._dim = config.dim or context.dim
        self.projection = nn.Linear(self.language.hidden_size, self._dim)
        self.cache_stats = CacheStats()
        self.transformer: nn.Module | None = None
        self._token_ids: list[list[int]] | None = None
        self._eval_memo: torch.Tensor | None = None

        if config.unfreeze_top_layers > 0:
            self._unfreeze(config.unfreeze_top_layers)
            self.register_buffer("raw_embeddings", torch.zeros(0), persistent=False)
        else:
            raw, self.cache_stats = embed_texts(self.language, self.texts, self.cache_root)
            self.register_buffer("raw_embeddings", torch.from_numpy(raw), persistent=False)

    def _build_texts(self, config: TextEncoderConfig, context: BuildContext) -> None:
        dataset = context.dataset
        self.texts = item_texts(dataset.item_features, dataset.n_items, config.fields, config.template)
        self._search_texts = self.texts
        if config.search_fields:
            self._search_texts = item_texts(
                dataset.item_features, dataset.n_items, config.search_fields, config.search_template, "search_fields"
            )
        has_text = torch.tensor([bool(text.strip()) for text in self.texts], dtype=torch.bool)
        if not config.mask_empty:
            has_text = torch.ones_like(has_text)
        self.register_buffer("has_text", has_text, persistent=False)

    @property
    def output_dim(self) -> int:
        return self._dim

    def _unfreeze(self, n_layers: int) -> None:
        model = self.language.model
        layers = transformer_layers(model)
        if n_layers > len(layers):
            raise ConfigError(
                f"Invalid encoder.text.unfreeze_top_layers {n_layers}: the model has only {len(layers)} layers."
            )
        for layer in layers[len(layers) - n_layers :]:
            layer.requires_grad_(True)
        self.transformer = model
        self._token_ids = self.language.tokenize(self.texts)

    def _normalize(self, embeddings: torch.Tensor) -> torch.Tensor:
        return F.normalize(embeddings, dim=-1) if self.config.normalize else embeddings

    def train(self, mode: bool = True) -> TextEncoder:
        self._eval_memo = None
        return super().train(mode)

    def _fine_tuned_embeddings(self, items: torch.Tensor | None) -> torch.Tensor:
        if items is None and not self.training:
            if self._eval_memo is None:
                with torch.no_grad():
                    self._eval_memo = self._forward_rows(range(len(self.texts)))
            return self._eval_memo
        rows = range(len(self.texts)) if items is None else items.tolist()
        return self._forward_rows(rows)

    def _forward_rows(self, rows: Sequence[int]) -> torch.Tensor:
        batch_size = self.config.batch_size
        parts = []
        for start in range(0, len(rows), batch_size):
            chunk = rows[start : start + batch_size]
            parts.append(self.language.forward_ids([self._token_ids[i] for i in chunk]))
        return torch.cat(parts).to(self.projection.weight.device)

    def raw(self, items: torch.Tensor | None = None) -> torch.Tensor:
        """Return the (normalized) language-model embeddings of ``items``, or of all items when None."""
        if self.transformer is not None:
            return self._normalize(self._fine_tuned_embeddings(items))
        embeddings = self.raw_embeddings if items is None else self.raw_embeddings[items]
        return self._normalize(embeddings)

    def forward(self, items: torch.Tensor | None = None) -> ModalityOutput:
        mask = self.has_text if items is None else self.has_text[items]
        return ModalityOutput(self.projection(self.raw(items)), mask)

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Return language-model embeddings of free texts, pooled and normalized like the items'."""
        with torch.no_grad():
            embeddings = torch.from_numpy(self.language.encode(list(texts)))
            return self._normalize(embeddings).numpy()

    def project(self, embeddings: np.ndarray) -> np.ndarray:
        """Map embeddings from :meth:`encode_texts` into this encoder's output space."""
        weight = self.projection.weight
        with torch.no_grad():
            tensor = torch.as_tensor(embeddings, dtype=weight.dtype, device=weight.device)
            return self.projection(tensor).cpu().numpy()

    def search_embeddings(self) -> tuple[np.ndarray, np.ndarray]:
        """Return language-model embeddings ``[n_items, h]`` of the search text and a mask of items that have one.

        NOTE: with unfrozen layers the cache is keyed by the pretrained files,
        not the fine-tuned weights, so the search texts are encoded afresh.
        """
        if self.transformer is not None:
            embeddings = self.language.encode(self._search_texts)
        else:
            embeddings, _ = embed_texts(self.language, self._search_texts, self.cache_root)
        normalized = self._normalize(torch.from_numpy(embeddings)).numpy()
        mask = np.array([bool(text.strip()) for text in self._search_texts])
        return normalized, mask
