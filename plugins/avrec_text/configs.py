"""Config dataclass of the text encoder (kept free of torch imports)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TextEncoderConfig:
    """A BERT-family language model over each item's text, with a trained projection to ``dim``.

    ``model_name_or_path`` is a local model directory, the name of a model
    shipped in an installed package (``all-MiniLM-L6-v2``), or a Hugging Face
    hub name, which is downloaded unless ``HF_HUB_OFFLINE=1`` is set.
    ``fields`` are item feature columns; list values are joined with ", ".
    ``template`` is a Python format string over those fields, for example
    ``"{title}. Genres: {genres}"``; an empty template joins the non-empty
    fields with ". ". ``pooling`` is ``mean`` (over the attention mask) or
    ``cls``. ``dim`` of 0 uses ``model.dim``. ``unfreeze_top_layers`` > 0
    fine-tunes that many top transformer layers, and the embeddings are then
    computed in every forward pass instead of only once from the cache.
    ``mask_empty`` marks items whose text is empty as not having this
    modality. ``search_fields`` and ``search_template`` build the item text
    that ``avrec search`` compares queries with; empty ``search_fields`` use
    ``fields`` and ``template``, whose embeddings are already cached.
    ``device`` of ``auto`` uses the trainer's device.
    """

    model_name_or_path: str = "all-MiniLM-L6-v2"
    pooling: str = "mean"
    fields: list[str] = field(default_factory=lambda: ["title", "genres"])
    template: str = ""
    max_length: int = 128
    batch_size: int = 64
    device: str = "auto"
    dim: int = 0
    normalize: bool = True
    unfreeze_top_layers: int = 0
    mask_empty: bool = True
    search_fields: list[str] = field(default_factory=list)
    search_template: str = ""
