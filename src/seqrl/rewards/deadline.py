"""A time limit for a reward that runs in the training process (task.reward_timeout without
worker processes).

`TimedReward(fn, seconds)` calls `fn` under a SIGALRM timer and raises `WorkerFailure("timeout")`
(the same error a worker pool raises) when the call outlives it. A timer can interrupt Python
code only: a reward stuck inside one C call (a lock, a blocking read without a timeout) is
interrupted when that call returns. For a hard limit, run the reward in workers
(task.reward_workers), which are killed instead. Off the main thread, or where SIGALRM does not
exist, the reward runs without a limit.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from seqrl.rewards.pool import WorkerFailure
from seqrl.run.alarm import OutOfTime, alarm


class TimedReward:
    """`fn` with a per-call time limit in the training process (see the module doc)."""

    def __init__(self, fn: Callable[..., Any], seconds: float) -> None:
        if not seconds > 0:
            raise ValueError(f"seconds must be > 0, got {seconds}")
        self.fn, self.seconds = fn, seconds
        self.__name__ = getattr(fn, "__name__", type(fn).__name__)

    def __call__(self, completions: Sequence[Any], references: Any, sources: Sequence[Any], **columns: Any) -> Any:
        try:
            with alarm(self.seconds, "the reward"):
                return self.fn(completions, references, sources, **columns)
        except OutOfTime:
            raise WorkerFailure("timeout", 0, len(completions),
                                f"did not return within task.reward_timeout={self.seconds:g} s") from None
