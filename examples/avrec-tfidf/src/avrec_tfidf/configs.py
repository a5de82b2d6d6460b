"""Config dataclasses of the plugin, kept free of torch and scikit-learn imports.

``avrec plugins`` and ``avrec components`` import only this module and the
package's ``__init__``, so listing components stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TfidfEncoderConfig:
    """TF-IDF of each item's text, reduced by truncated SVD, with a trained linear projection.

    The item text joins the ``fields`` columns of the dataset's item features
    (list values such as genres are joined with spaces). Items whose text
    yields no term are masked as not having this modality.
    """

    # Item feature columns that make up the item text.
    fields: list[str] = field(default_factory=lambda: ["title", "genres"])
    # Number of SVD components, capped at the vocabulary size and at the item count minus one.
    svd_dim: int = 64
    # Width of the output embeddings; 0 uses model.dim.
    dim: int = 0
    # Keep at most this many terms, the most frequent first; 0 keeps all.
    max_features: int = 20000
    # Ignore terms that appear in fewer items than this.
    min_df: int = 1
    # Maximum n-gram length in words: 2 adds word pairs.
    ngram_max: int = 1
    # Use 1 + log(tf) in place of raw term counts.
    sublinear_tf: bool = True
    # Scale each item's SVD vector to unit length before the projection.
    normalize: bool = True


@dataclass
class MaskedMeanFusionConfig:
    """Weighted mean of per-modality linear projections over the modalities each item has.

    With ``learned_weights`` every modality gets a trained weight (a softmax
    over the modalities the item has); without it the mean is unweighted.
    Items with no modality get a trained "missing" vector.
    """

    # Learn one weight per modality; false gives every present modality the same weight.
    learned_weights: bool = True
