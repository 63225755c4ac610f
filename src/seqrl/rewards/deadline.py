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

import signal
import threading
from typing import Any, Callable, Sequence

from seqrl.rewards.pool import WorkerFailure


class _Expired(BaseException):
    """Raised by the timer inside the reward; a BaseException so `except Exception` in the reward
    cannot swallow it."""


class TimedReward:
    """`fn` with a per-call time limit in the training process (see the module doc)."""

    def __init__(self, fn: Callable[..., Any], seconds: float) -> None:
        if not seconds > 0:
            raise ValueError(f"seconds must be > 0, got {seconds}")
        self.fn, self.seconds = fn, seconds
        self.__name__ = getattr(fn, "__name__", type(fn).__name__)

    def __call__(self, completions: Sequence[Any], references: Any, sources: Sequence[Any], **columns: Any) -> Any:
        if not hasattr(signal, "SIGALRM") or threading.current_thread() is not threading.main_thread():
            return self.fn(completions, references, sources, **columns)

        def expire(signum, frame):  # noqa: ARG001
            raise _Expired

        previous = signal.signal(signal.SIGALRM, expire)
        signal.setitimer(signal.ITIMER_REAL, self.seconds)
        try:
            return self.fn(completions, references, sources, **columns)
        except _Expired:
            raise WorkerFailure("timeout", 0, len(completions),
                                f"did not return within task.reward_timeout={self.seconds:g} s") from None
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
