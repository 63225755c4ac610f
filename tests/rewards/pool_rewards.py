"""Module-level rewards for the worker-pool tests (workers import them by name)."""
import multiprocessing
import os


def call_size_in_child(completions, references, sources, **columns):
    """Each value is the size of the call it came from, negated when run in the main process."""
    sign = 1.0 if multiprocessing.parent_process() is not None else -1.0
    return [sign * len(completions)] * len(completions)


def length(completions, references, sources, **columns):
    return [float(len(c)) for c in completions]


def raises_on_seven(completions, references, sources, **columns):
    if any(7 in c for c in completions):
        raise ValueError(f"seven in pid {os.getpid()}")
    return [1.0] * len(completions)


def echo_column(completions, references, sources, tag=None, **columns):
    return [float(t) for t in tag]


def hangs_on_seven(completions, references, sources, **columns):
    """Never returns when a completion holds a 7 (a stuck external scorer)."""
    import time

    while any(7 in c for c in completions):
        time.sleep(0.05)
    return [1.0] * len(completions)


def exits_on_seven(completions, references, sources, **columns):
    """The process vanishes (os._exit) when a completion holds a 7."""
    if any(7 in c for c in completions):
        os._exit(3)
    return [1.0] * len(completions)


def segfaults_on_seven(completions, references, sources, **columns):
    if any(7 in c for c in completions):
        import ctypes

        ctypes.string_at(0)  # reads address 0: SIGSEGV
    return [1.0] * len(completions)


def sys_exit(completions, references, sources, **columns):
    import sys

    sys.exit(4)


def worker_pid(completions, references, sources, **columns):
    return [float(os.getpid())] * len(completions)
