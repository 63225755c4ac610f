"""Ctrl-C and SIGTERM as a request to stop between steps, where the state is consistent.

Inside an `interruptible()` block (an environment's step, a reward running in this process: user
code that may hang) the first signal stops at once instead: the step is abandoned and the last
checkpoint on disk is the one a resume uses."""
from __future__ import annotations

import contextlib
import signal
import threading
from typing import Callable, Iterator

_WAITING = [0]  # how many interruptible() blocks are open in this process


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Mark a call into code that may hang: a stop signal raises KeyboardInterrupt in it at once."""
    _WAITING[0] += 1
    try:
        yield
    finally:
        _WAITING[0] -= 1


def trap_stop_signals(flag: list[int]) -> Callable[[], object]:
    """Turn SIGINT/SIGTERM into a flag checked between steps (a second signal, or the first inside
    an interruptible() block, stops at once: the last checkpoint on disk stays valid); returns a
    function that undoes it."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum, frame):  # noqa: ARG001
        if flag:
            raise KeyboardInterrupt
        flag.append(signum)
        if _WAITING[0]:
            raise KeyboardInterrupt("stopped while an environment or a reward was still running")

    for sig in previous:
        signal.signal(sig, handler)
    return lambda: [signal.signal(sig, h) for sig, h in previous.items()]
