"""Append-only JSON-lines files that a resumed run can cut back to its checkpoint."""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Iterator

from seqrl.run.atomic import temporary_name
from seqrl.run.errors import RunError


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def append(path: Path, record: dict[str, Any]) -> None:
    """Append one record as a line, flushed to disk. A failed write (a full disk) is cut back
    off, so the file never keeps a torn line, and raised as RunError naming the file."""
    line = json.dumps({k: _clean(v) for k, v in record.items()}, allow_nan=False)
    size = path.stat().st_size if path.exists() else 0
    try:
        with open(path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())
    except OSError as err:
        try:
            os.truncate(path, size)
        except OSError:
            pass
        raise RunError(f"cannot append to {path}: {err.strerror or err}") from None


def read(path: Path) -> Iterator[dict[str, Any]]:
    """Records of a JSON-lines file; a torn last line (process killed mid-write) is ignored."""
    if not path.exists():
        return
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines):
                return
            raise RunError(f"{path}:{number}: not valid JSON (only a torn last line is skipped); repair or remove "
                           "that line") from None


def truncate_after(path: Path, step: int) -> None:
    """Keep only records with record['step'] <= step (atomic rewrite)."""
    if not path.exists():
        return
    kept = [r for r in read(path) if r.get("step", 0) <= step]
    tmp = temporary_name(path)
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            for r in kept:
                f.write(json.dumps(r, allow_nan=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
