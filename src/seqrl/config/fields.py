"""`meta(doc, lo, hi)`: a config field with a description (the CLI help) and an inclusive
numeric range that `seqrl.config.validate` enforces before any compute."""
from __future__ import annotations

from dataclasses import field
from typing import Any


def meta(doc: str, lo: float | None = None, hi: float | None = None, default: Any = None,
         factory: Any = None) -> Any:
    md = {"doc": doc, "lo": lo, "hi": hi}
    if factory is not None:
        return field(default_factory=factory, metadata=md)
    return field(default=default, metadata=md)
