"""A time limit for a call that runs in this process: `with alarm(seconds, what): ...` raises
OutOfTime (a TimeoutError) naming `what` when the block outlives `seconds` (a SIGALRM timer on the main thread).
A timer interrupts Python code only: a call stuck inside one C function is interrupted when it
returns. Off the main thread, where SIGALRM does not exist, or with seconds <= 0, no limit."""
from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator


class _Expired(BaseException):
    """Raised by the timer; a BaseException so that `except Exception` in the timed code cannot
    swallow it (alarm turns it into OutOfTime at the block's edge)."""


class OutOfTime(TimeoutError):
    """The block outlived its alarm (told apart from a TimeoutError the timed code raises itself)."""


@contextlib.contextmanager
def alarm(seconds: float, what: str) -> Iterator[None]:
    if seconds <= 0 or not hasattr(signal, "SIGALRM") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum, frame):  # noqa: ANN001, ARG001
        raise _Expired

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except _Expired:
        raise OutOfTime(f"{what} did not return within {seconds:g} s") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
