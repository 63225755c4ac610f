"""Optional dependencies: import one where a feature needs it, or say which extra installs it.

The core install (`pip install seqrl`) runs the built-in tasks; text data, NLG rewards, Hugging
Face models, saved datasets and trackers live in extras and are imported only when used.
"""
from __future__ import annotations

import importlib
from types import ModuleType


class MissingExtra(ImportError):
    """A feature's optional package is not installed; the message names the extra."""


def install_hint(extra: str) -> str:
    return f"pip install -e \".[{extra}]\" in the seqrl checkout (seqrl is installed from its source)"


def require(module: str, extra: str, feature: str) -> ModuleType:
    """`import module`, or MissingExtra naming the feature and the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise MissingExtra(f"{feature} needs the optional package {module.split('.')[0]!r} ({err}): "
                           f"{install_hint(extra)}") from None
