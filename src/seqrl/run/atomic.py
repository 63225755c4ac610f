"""Files replaced atomically: write a temporary file next to the target, then rename over it."""
from __future__ import annotations

import os
import secrets
from pathlib import Path


def temporary_name(path: Path) -> Path:
    """A temporary file next to `path`, unique to this writer (pid + random), so two processes
    never write the same temporary file."""
    return path.with_name(f"{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
