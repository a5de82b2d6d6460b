"""Exceptions for mistakes a user can fix: bad config, bad data, missing files.

Every user-facing error derives from :class:`AvrecError`, so the command line
prints its message without a traceback and exits with status 2.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class AvrecError(Exception):
    """Base class of errors caused by user input rather than by a bug."""


class ConfigError(AvrecError):
    """Invalid configuration: unknown key, wrong type or unknown component."""


class DataError(AvrecError):
    """Invalid or missing data; the message names the file, line and value."""


class PluginError(AvrecError):
    """A plugin could not be loaded, or two plugins clash."""


class NonFiniteLossError(AvrecError):
    """Training produced a NaN or infinite loss."""


class ResumeError(AvrecError):
    """A run directory cannot be resumed or reloaded."""


def suggest(value: str, choices: Iterable[str]) -> str:
    """Return ' Did you mean X?' for the closest choice, or '' when none is close."""
    matches = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" Did you mean '{matches[0]}'?" if matches else ""
