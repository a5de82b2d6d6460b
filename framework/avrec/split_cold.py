"""Cold-items split: a seeded share of items is held out of training and forms the test split.

Every interaction of a cold item goes to test, so test contains only cold
items and no cold item appears in train or validation. Validation is
either a second set of held-out items (``validate_on=cold``) or a per-user
cut of the other items' interactions (``validate_on=warm``).
"""

from __future__ import annotations

import logging

import numpy as np

from avrec.data.dataset import Dataset
from avrec.data.config import check_ratios
from avrec.errors import DataError
from avrec.interfaces import Split, Splitter
from avrec.split import TEST, TRAIN, VALID, random_order_labels

_logger = logging.getLogger(__name__)


def choose_cold_items(items: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """Return a sorted random ``share`` of the distinct values in ``items`` (at least one when share > 0)."""
    candidates = np.unique(items)
    count = int(round(share * len(candidates)))
    if share > 0:
        count = max(count, 1)
    if count >= len(candidates):
        raise DataError(
            f"split.cold_share={share} would hold out {count} of the {len(candidates)} items that have "
            f"interactions, leaving none for training. Lower split.cold_share."
        )
    return np.sort(rng.choice(candidates, size=count, replace=False))


def cold_items_labels(
    users: np.ndarray, items: np.ndarray, share: float, ratios: list[float], seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Label rows TRAIN/VALID/TEST and return the labels with the sorted cold item indices."""
    rng = np.random.default_rng(seed)
    cold = choose_cold_items(items, share, rng)
    is_cold = np.isin(items, cold)
    labels = np.full(len(items), TEST, dtype=np.int64)
    warm_rows = np.flatnonzero(~is_cold)
    warm_seed = int(rng.integers(2**62))
    warm_ratios = [ratios[0], ratios[1], 0.0]
    labels[warm_rows] = random_order_labels(users[warm_rows], warm_ratios, warm_seed)
    return labels, cold


def cold_validation_labels(items: np.ndarray, share: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Label rows TRAIN/VALID/TEST with two disjoint held-out item sets; return labels, test and valid items.

    The test items are drawn exactly as :func:`cold_items_labels` draws
    them, so both ``validate_on`` settings test on the same cold items.
    """
    rng = np.random.default_rng(seed)
    cold = choose_cold_items(items, share, rng)
    n_items = len(np.unique(items))
    remaining = np.setdiff1d(items, cold)
    count = max(int(round(share * n_items)), 1)
    if count >= len(remaining):
        raise DataError(
            f"split.cold_share={share} with split.validate_on=cold would hold out {2 * count} of the "
            f"{n_items} items that have interactions, leaving none for training. Lower "
            f"split.cold_share or set split.validate_on=warm."
        )
    valid_cold = np.sort(rng.choice(remaining, size=count, replace=False))
    labels = np.full(len(items), TRAIN, dtype=np.int64)
    labels[np.isin(items, valid_cold)] = VALID
    labels[np.isin(items, cold)] = TEST
    return labels, cold, valid_cold


class ColdItemsSplitter(Splitter):
    """Hold out ``cold_share`` of the items with all their interactions; split the rest per user."""

    def split(self, dataset: Dataset, seed: int) -> Split:
        # The config dataclass has checked the share, the ratios and validate_on.
        share = float(self.config.cold_share)
        ratios = self._ratios()
        interactions = dataset.interactions
        users, items = interactions["user"].to_numpy(), interactions["item"].to_numpy()
        valid_cold = None
        if self.config.validate_on == "cold":
            labels, cold, valid_cold = cold_validation_labels(items, share, seed)
        else:
            labels, cold = cold_items_labels(users, items, share, ratios, seed)
        train, valid, test = (interactions.iloc[np.flatnonzero(labels == part)] for part in (TRAIN, VALID, TEST))
        self._log(cold, valid_cold, users, train, test)
        return Split(train=train, valid=valid, test=test, cold_items=cold, valid_cold_items=valid_cold)

    def _ratios(self) -> list[float]:
        ratios = check_ratios(self.config.ratios, 2)
        return [value / sum(ratios) for value in ratios]

    @staticmethod
    def _log(cold: np.ndarray, valid_cold: np.ndarray | None, users: np.ndarray, train, test) -> None:
        test_only = np.setdiff1d(np.unique(test["user"].to_numpy()), train["user"].to_numpy())
        validation = (
            f"validation on {len(valid_cold)} other held-out items" if valid_cold is not None
            else "validation on the warm items"
        )
        _logger.info(
            "Cold items split: %d cold items with %d test interactions, %s; %d of %d users have no training "
            "interaction.",
            len(cold), len(test), validation, len(test_only), len(np.unique(users)),
        )
