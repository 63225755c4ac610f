"""Errors about the run directory and its files, shown to users as one line."""
from __future__ import annotations


class RunError(RuntimeError):
    """The run directory cannot be used or written (in use, read-only, full, not a directory);
    the message names the path and the system error."""


class CheckpointError(RunError):
    """A checkpoint file is damaged or does not belong to this run; the message names the file."""
