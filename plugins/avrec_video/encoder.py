"""The video encoder: frozen timm features of each item's frames, pooled over time and projected."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

from avrec.data.dataset import Dataset
from avrec.errors import ConfigError
from avrec.interfaces import BuildContext, Encoder, ModalityOutput
from avrec_video.configs import MEDIA_KINDS, POOLINGS, VideoEncoderConfig
from avrec_video.features import FeatureExtractor, FrameFeatures
from avrec_video.media import is_video

_logger = logging.getLogger(__name__)


def media_candidates(dataset: Dataset, config: VideoEncoderConfig) -> list[list[list[Path]]]:
    """Return, per item, its groups of media files in order of preference for ``config.media``."""
    table = media_table(dataset, config)
    videos: list[list[Path]] = [[] for _ in range(dataset.n_items)]
    images: list[list[Path]] = [[] for _ in range(dataset.n_items)]
    for item, path, kind in zip(table["item"], table["path"], table["kind"]):
        (videos if kind == "video" else images)[int(item)].append(Path(path))
    candidates = []
    for item_videos, item_images in zip(videos, images):
        if config.media == "video":
            groups = [item_videos]
        elif config.media == "image":
            groups = [item_images]
        else:
            groups = [item_videos, item_images]
        candidates.append([group for group in groups if group])
    return candidates


def media_table(dataset: Dataset, config: VideoEncoderConfig) -> pd.DataFrame:
    """Return the media rows (columns item, path, kind) from the configured source or the dataset."""
    if config.media not in MEDIA_KINDS:
        raise ConfigError(f"Invalid encoder.video.media {config.media!r}. Valid values: {', '.join(MEDIA_KINDS)}.")
    if config.media_column:
        return _media_from_column(dataset, config.media_column, config.media_dir)
    if config.media_dir:
        return _scan_media_dir(dataset, Path(config.media_dir).expanduser(), config.extensions)
    media = dataset.media
    if media is None or len(media) == 0:
        raise ConfigError(
            f"Dataset {dataset.name!r} lists no media files, so encoder.video has nothing to encode. "
            f"Set encoder.video.media_dir=<folder with files named <item id><extension>>, or use a dataset "
            f"with media (for example dataset=microlens)."
        )
    frame = media.reset_index()
    if "item" not in frame:
        frame = frame.rename(columns={frame.columns[0]: "item"})
    if "kind" not in frame:
        frame["kind"] = ["video" if is_video(Path(p)) else "image" for p in frame["path"]]
    return frame[["item", "path", "kind"]]


def _media_from_column(dataset: Dataset, column: str, media_dir: str | None) -> pd.DataFrame:
    features = dataset.item_features
    if column not in features:
        available = ", ".join(str(name) for name in features.columns) or "(none)"
        raise ConfigError(
            f"encoder.video.media_column {column!r} is not an item feature column of dataset {dataset.name!r}. "
            f"Available columns: {available}."
        )
    root = Path(media_dir).expanduser() if media_dir else None
    rows = []
    for index, value in enumerate(features[column].tolist()):
        values = value if isinstance(value, (list, tuple)) else [value]
        for text in values:
            if not isinstance(text, str) or not text.strip():
                continue
            path = Path(text.strip()).expanduser()
            path = root / path if root is not None and not path.is_absolute() else path
            rows.append((index, str(path), "video" if is_video(path) else "image"))
    return pd.DataFrame(rows, columns=["item", "path", "kind"])


def _scan_media_dir(dataset: Dataset, folder: Path, extensions: list[str]) -> pd.DataFrame:
    if not folder.is_dir():
        raise ConfigError(f"encoder.video.media_dir {folder} is not a directory. Give the directory that contains the media files.")
    rows = []
    for index, raw in enumerate(dataset.items.raw_ids):
        for extension in extensions:
            path = folder / f"{raw}{extension}"
            if path.exists():
                rows.append((index, str(path), "video" if is_video(path) else "image"))
    _logger.info("Found media files for %d of %d items in %s.", len({r[0] for r in rows}), dataset.n_items, folder)
    return pd.DataFrame(rows, columns=["item", "path", "kind"])


class VideoEncoder(Encoder):
    """Visual modality: cached frame features of a frozen timm model, pooled over time, then projected.

    Mean pooling averages the cached frame features once. Attention pooling
    keeps every frame's features and learns a score per projected frame
    together with the recommender. A softmax over the item's real frames
    turns the scores into weights. Items without usable media are masked and
    embed as zeros.
    """

    def __init__(self, config: VideoEncoderConfig, context: BuildContext) -> None:
        super().__init__(config, context)
        if config.pooling not in POOLINGS:
            raise ConfigError(f"Invalid encoder.video.pooling {config.pooling!r}. Valid values: {', '.join(POOLINGS)}.")
        device = context.device if config.device == "auto" else torch.device(config.device)
        extractor = FeatureExtractor(config, Path(context.cache_dir), device)
        features = extractor.extract(media_candidates(context.dataset, config))
        self.stats = features.stats
        self._dim = config.dim or context.dim
        self.register_buffer("item_mask", torch.from_numpy(features.item_mask), persistent=False)
        self._store_features(features)
        self.norm = nn.LayerNorm(features.dim)
        self.projection = nn.Linear(features.dim, self._dim)
        self.attention = nn.Linear(self._dim, 1) if config.pooling == "attention" else None

    def _store_features(self, features: FrameFeatures) -> None:
        if self.config.pooling == "mean":
            self.register_buffer("pooled", torch.from_numpy(features.pooled()), persistent=False)
            return
        frames, mask = features.padded()
        self.register_buffer("frames", torch.from_numpy(frames), persistent=False)
        self.register_buffer("frame_mask", torch.from_numpy(mask), persistent=False)

    @property
    def output_dim(self) -> int:
        return self._dim

    def forward(self, items: torch.Tensor | None = None) -> ModalityOutput:
        mask = self.item_mask if items is None else self.item_mask[items]
        if self.attention is None:
            pooled = self.pooled if items is None else self.pooled[items]
            embeddings = self.projection(self.norm(pooled))
        else:
            embeddings = self._attention_pool(items)
        return ModalityOutput(embeddings * mask.unsqueeze(-1), mask)

    def _attention_pool(self, items: torch.Tensor | None) -> torch.Tensor:
        frames = self.frames if items is None else self.frames[items]
        frame_mask = self.frame_mask if items is None else self.frame_mask[items]
        projected = self.projection(self.norm(frames.float()))
        logits = self.attention(torch.tanh(projected)).squeeze(-1)
        logits = logits.masked_fill(~frame_mask, float("-inf"))
        # Masked items have no real frame, so they get uniform weights and the softmax stays finite.
        logits = torch.where(frame_mask.any(-1, keepdim=True), logits, torch.zeros_like(logits))
        weights = torch.softmax(logits, dim=-1)
        return (weights.unsqueeze(-1) * projected).sum(1)

    def metrics(self) -> dict[str, Any]:
        return {"video": self.stats.to_dict()}

