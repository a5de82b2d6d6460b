"""avrec: a plugin-based recommender framework for audio and video catalogues.

The top-level package stays free of torch imports so that listing plugins
and components is fast; import model code from its own module.
"""

from __future__ import annotations

from avrec.errors import AvrecError, ConfigError, DataError, NonFiniteLossError, PluginError
from avrec.hookspecs import hookimpl
from avrec.registry import KINDS, ComponentSpec, Registrar

__version__ = "0.1.0"

__all__ = [
    "KINDS",
    "AvrecError",
    "ComponentSpec",
    "ConfigError",
    "DataError",
    "NonFiniteLossError",
    "PluginError",
    "Registrar",
    "__version__",
    "hookimpl",
]
