"""Dataset model, loaders for common file layouts, and splits."""

from avrec.data.dataset import INTERACTION_COLUMNS, Dataset, IdMap

__all__ = ["INTERACTION_COLUMNS", "Dataset", "IdMap"]
