"""How the benchmarks measure: phase timers wrapped around callables, and the CPU they ran on."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable


class Timers:
    """Wrap callables with perf_counter accumulators (`acc[name]`, seconds); undo() restores them."""

    def __init__(self) -> None:
        self.acc: dict[str, float] = {}
        self._undo: list[Callable[[], None]] = []

    def wrap(self, name: str, fn: Callable) -> Callable:
        def timed(*a, **kw):
            t0 = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                self.acc[name] = self.acc.get(name, 0.0) + time.perf_counter() - t0
        return timed

    def patch(self, obj: Any, attr: str, name: str, instance: bool) -> None:
        """instance=True shadows a bound method of one object; False replaces a class's or module's attribute."""
        original = getattr(obj, attr)
        if instance:
            obj.__dict__[attr] = self.wrap(name, original)
            self._undo.append(lambda: obj.__dict__.pop(attr, None))
        else:
            setattr(obj, attr, self.wrap(name, original))
            self._undo.append(lambda: setattr(obj, attr, original))

    def undo(self) -> None:
        for f in reversed(self._undo):
            f()
        self._undo.clear()


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo ('unknown' where there is none)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"
