"""Ctrl-C and SIGTERM as a request to stop between steps, where the state is consistent."""
from __future__ import annotations

import signal
import threading
from typing import Callable


def trap_stop_signals(flag: list[int]) -> Callable[[], object]:
    """Turn SIGINT/SIGTERM into a flag checked between steps (a second signal stops at once:
    the last checkpoint on disk stays valid); returns a function that undoes it."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum, frame):  # noqa: ARG001
        if flag:
            raise KeyboardInterrupt
        flag.append(signum)

    for sig in previous:
        signal.signal(sig, handler)
    return lambda: [signal.signal(sig, h) for sig, h in previous.items()]
