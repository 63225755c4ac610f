"""The errors shown to users as one line: a bad configuration, the run directory and its files."""
from __future__ import annotations


class RunError(RuntimeError):
    """The run directory cannot be used or written (in use, read-only, full, not a directory);
    the message names the path and the system error."""


class CheckpointError(RunError):
    """A checkpoint file is damaged or does not belong to this run; the message names the file."""


class ConfigError(ValueError):
    """A configuration problem; the message names the key and what is allowed (defined here, at
    the bottom of the package, so every layer can raise it; seqrl.config re-exports it)."""
