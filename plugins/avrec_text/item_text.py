"""Build one text per item from item feature columns and an optional format template."""

from __future__ import annotations

import math
import string
from collections.abc import Sequence

import numpy as np
import pandas as pd

from avrec.errors import ConfigError


def field_text(value: object) -> str:
    """Return a feature value as text: lists joined with ", ", missing values as ""."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple, np.ndarray, pd.Series)):
        return ", ".join(part for part in (field_text(v) for v in value) if part)
    if isinstance(value, float) and math.isnan(value):
        return ""
    if value is pd.NA or value is pd.NaT:
        return ""
    return str(value).strip()


def template_fields(template: str) -> list[str]:
    """Return the field names a format template refers to."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as error:
        raise ConfigError(f"Invalid encoder.text template '{template}': {error}.") from error
    return [name for _, name, _, _ in parsed if name is not None]


def _check_fields(features: pd.DataFrame, fields: Sequence[str], template: str, key: str) -> None:
    if not fields:
        raise ConfigError(f"encoder.text.{key} is empty. List item feature columns, e.g. [title, genres].")
    available = ", ".join(str(c) for c in features.columns) or "(none)"
    for name in fields:
        if name not in features.columns:
            raise ConfigError(
                f"encoder.text.{key} names '{name}', which is not an item feature column of this dataset. "
                f"Available columns: {available}."
            )
    for name in template_fields(template):
        if name not in fields:
            raise ConfigError(
                f"encoder.text template '{template}' uses '{{{name}}}', which is not in encoder.text.{key} "
                f"{list(fields)}. Add it to {key} or remove it from the template."
            )


def item_texts(
    features: pd.DataFrame, n_items: int, fields: Sequence[str], template: str = "", key: str = "fields"
) -> list[str]:
    """Return the text of every item 0..n_items-1.

    Without a template, the non-empty fields are joined with ". ". With one,
    ``template.format(**fields)`` is used, except that an item whose fields
    are all empty gets "" so that it is masked like an item without text.
    """
    _check_fields(features, fields, template, key)
    columns = features.reindex(range(n_items))
    values = {name: [field_text(v) for v in columns[name].tolist()] for name in fields}
    texts = []
    for item in range(n_items):
        row = {name: values[name][item] for name in fields}
        if not any(row.values()):
            texts.append("")
        elif template:
            texts.append(template.format(**row))
        else:
            texts.append(". ".join(v for v in row.values() if v))
    return texts
