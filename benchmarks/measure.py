"""How the benchmarks measure: phase timers wrapped around callables, and the CPU they ran on."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable


def child_env(root: Path, threads: int) -> dict[str, str]:
    """The environment of a benchmark's child process: the checkout's packages first, then the
    PYTHONPATH this process was given (an offline machine may bring its packages that way)."""
    import os

    inherited = os.environ.get("PYTHONPATH")
    path = f"{root}:{root / 'src'}" + (f":{inherited}" if inherited else "")
    return {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": str(threads)}


class Timers:
    """Wrap callables with perf_counter accumulators (`acc[name]`, seconds); undo() restores them.
    sync_cuda=True synchronises the GPU before each reading, so a phase is billed its own kernels
    (GPU work is asynchronous: without it, a phase's time lands on whichever phase syncs next)."""

    def __init__(self, sync_cuda: bool = False) -> None:
        self.acc: dict[str, float] = {}
        self._undo: list[Callable[[], None]] = []
        self._sync: Callable[[], None] = lambda: None
        if sync_cuda:
            import torch

            self._sync = torch.cuda.synchronize

    def wrap(self, name: str, fn: Callable) -> Callable:
        def timed(*a, **kw):
            self._sync()
            t0 = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                self._sync()
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


def write_results(res: dict[str, Any], out: Path, markdown: Callable[[dict[str, Any]], str],
                  echo: bool = True) -> None:
    """A benchmark's results: `out` (JSON) and its Markdown beside it (same stem), the Markdown
    printed when `echo` (a benchmark rewriting its files after each run echoes only the last)."""
    import json

    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1) + "\n")
    out.with_suffix(".md").write_text(markdown(res))
    if echo:
        print(markdown(res))


def read_reports(paths: list[Path], flag: str) -> list[dict[str, Any]]:
    """The JSON results files given to `flag` (e.g. --pool); one line naming the file if one is unreadable."""
    import json

    reports = []
    for path in paths:
        try:
            reports.append(json.loads(path.read_text()))
        except (OSError, ValueError) as err:
            raise SystemExit(f"{flag}: {path}: {err}") from None
    return reports


def finish_figure(fig: Any, axes: Any, xlabels: tuple[str, ...], ylabel: str, line: float, title: str, path: Path,
                  legend: bool = True) -> None:
    """The benchmarks' plots end alike: a dotted line at the target `line` on each panel, its x label and a
    grid, the y label (and the legend) on the first, the title; saved to `path` and closed."""
    import matplotlib.pyplot as plt

    for ax, label in zip(axes, xlabels):
        ax.axhline(line, color="grey", ls=":", lw=0.8)
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(ylabel)
    if legend:
        axes[0].legend(fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo ('unknown' where there is none)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


# Instruction-set extensions that change which kernels (and so which float roundings) a CPU uses.
ISA_FLAGS = ("avx512f", "avx512_bf16", "avx512_vnni", "amx_tile", "avx2", "fma")


def cpu_flags() -> list[str]:
    """The ISA_FLAGS this CPU reports in /proc/cpuinfo (empty where there is none)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                have = set(line.split(":", 1)[1].split())
                return [f for f in ISA_FLAGS if f in have]
    except OSError:
        pass
    return []


def machine() -> dict[str, Any]:
    """What a results file records about where it was measured: CPU model, float-relevant ISA
    flags, usable cores and the UTC date."""
    import os
    from datetime import datetime, timezone

    return {"cpu_model": cpu_model(), "isa": cpu_flags(), "cores": len(os.sched_getaffinity(0)),
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d")}
