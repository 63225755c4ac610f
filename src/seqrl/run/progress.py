"""A live progress bar: step, reward, throughput and time left."""
from __future__ import annotations

import math
from typing import Any, Optional

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


class ProgressBar:
    """Thin wrapper over rich.progress; a no-op when disabled."""

    def __init__(self, total: int, start: int, enabled: bool, console: Optional[Console] = None) -> None:
        self.enabled = enabled
        # soft_wrap: a validation line stays one line, whatever the width (redirected output has none)
        self._console = console or Console(stderr=True, soft_wrap=True)
        self._progress = Progress(
            BarColumn(bar_width=20),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=self._console,
            disable=not enabled,
            transient=False,
        )
        self._task = self._progress.add_task("train", total=total, completed=start, info="")

    def __enter__(self) -> "ProgressBar":
        self._progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._progress.stop()

    def update(self, step: int, info: str) -> None:
        self._progress.update(self._task, completed=step, info=info)

    def finish(self, why: str) -> None:
        """The run stopped before optim.steps (run.stop_at, run.time_limit): say so where the time
        left was shown."""
        self._progress.columns = (BarColumn(bar_width=20), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
                                  TextColumn(why))

    def log(self, message: str) -> None:
        """A line above the bar; printed to stderr even with the bar switched off (run.progress:
        false silences the bar, not validation results or warnings). One line, never wrapped."""
        self._console.print(message, highlight=False, markup=False, soft_wrap=True)


def step_summary(m: dict[str, Any]) -> str:
    """Compact progress text of a step's metrics: mode, task reward (or cross-entropy), throughput."""
    reward = m.get("reward_mean")
    if "env_steps" in m:  # an environment: the mean episode return, environment steps per second
        return f"return {reward:.2f} {m['tok_per_s']:,.0f} env steps/s"
    if m["mode"] == "reinforce" and reward is not None and math.isfinite(reward):
        head = f"RL reward {reward:.3f}"
    else:
        head = f"XE loss {m.get('xent', 0.0):.3f}"
    return f"{head} {m['seq_per_s'] / 1000:.1f}k seq/s {m['tok_per_s'] / 1000:.0f}k tok/s"
