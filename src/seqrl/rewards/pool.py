"""Run a slow reward in worker processes that cannot hang, crash or outlive the trainer.

`PooledReward(fn, workers, group, timeout)` has the reward contract `fn(completions, references,
sources, **columns)`. A call is split into one contiguous chunk per worker, cut only at
multiples of `group` (the k samples of an input, when the call holds whole groups), and each
chunk is ONE call of `fn` in a worker process: rewards that batch internally (a model, an
external scorer) keep their batching. Results come back in order, so for a reward that scores
each sample on its own the values are exactly those of an in-process call. Every call runs in a
worker, a one-sample call too (the checked wrapper's search for a culprit stays isolated).

Failures:
* `fn` raises: the exception is re-raised in the caller with its original type (when it can be
  pickled), after every worker has answered, so the checked wrapper can blame the sample;
  `sys.exit` inside `fn` comes back as `RewardExit`.
* a worker dies (`os._exit`, a segfault, the OOM killer) or a call outlives `timeout` seconds:
  every worker is killed and `WorkerFailure` names the samples of the chunk (the next call starts
  fresh workers).
* the trainer is stopping (`should_stop()` turns true: Ctrl-C or SIGTERM) and the call is still
  running STOP_GRACE seconds later: the workers are killed and KeyboardInterrupt is raised, so a
  stuck reward cannot keep a stopping run alive.

Workers are started with "spawn" (safe next to PyTorch's thread pools) on the first call, so
`fn` must be picklable: a module-level function or a picklable object, not a lambda or closure.
They ignore SIGINT (Ctrl-C in a terminal reaches the whole process group: the trainer decides
how to stop) and exit when the trainer dies, even by SIGKILL (PR_SET_PDEATHSIG on Linux, and a
watchdog thread that polls the parent's pid everywhere).
"""
from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import pickle
import signal
import sys
import threading
import time
import weakref
from multiprocessing.connection import Connection, wait
from typing import Any, Callable, NamedTuple, Optional, Sequence

WATCHDOG_SECONDS = 0.5
STOP_GRACE = 5.0  # seconds a call may still take once `should_stop` says the run is stopping


class WorkerFailure(Exception):
    """A reward call that did not come back: `kind` is "timeout" or "died"; samples [start, end)."""

    def __init__(self, kind: str, start: int, end: int, detail: str) -> None:
        super().__init__(detail)
        self.kind, self.start, self.end, self.detail = kind, start, end, detail


class RewardExit(Exception):
    """The reward function called sys.exit (or raised SystemExit)."""


def chunk_bounds(n: int, workers: int, group: int = 1) -> list[tuple[int, int]]:
    """Split range(n) into <= workers contiguous, non-empty (start, end) chunks of whole groups
    (of `group` samples) when n is a multiple of group, else of single samples."""
    unit = group if group > 1 and n % group == 0 else 1
    units = n // unit
    parts = max(1, min(workers, units))
    bounds, start = [], 0
    for i in range(parts):
        size = units // parts + (1 if i < units % parts else 0)
        bounds.append((start * unit, (start + size) * unit))
        start += size
    return [b for b in bounds if b[1] > b[0]] or [(0, n)]


def call_reward(fn: Callable[..., Any], args: tuple, columns: dict[str, Any]) -> Any:
    """`fn(*args, **columns)`; sys.exit inside it becomes RewardExit."""
    try:
        return fn(*args, **columns)
    except SystemExit as err:
        raise RewardExit(f"the reward called sys.exit({err.code!r})") from None


# -- the worker process ----------------------------------------------------------------------
def _die_with_parent(parent: int) -> None:
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):  # pragma: no cover - no libc prctl: the watchdog remains
            pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(WATCHDOG_SECONDS)
        os._exit(1)

    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)
    threading.Thread(target=watch, daemon=True).start()


def _portable(err: BaseException) -> BaseException:
    """The exception itself when it survives pickling, else a RuntimeError with its text."""
    try:
        pickle.loads(pickle.dumps(err))
        return err
    except Exception:  # noqa: BLE001 - any failure to pickle means the same thing
        return RuntimeError(f"{type(err).__name__}: {err}")


def _worker_main(conn: Connection, fn_bytes: bytes, parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent(parent)
    fn: Optional[Callable[..., Any]] = None
    load_error: Optional[BaseException] = None
    try:
        fn = pickle.loads(fn_bytes)  # imports the reward's module here, where a failure is reported
    except BaseException as err:  # noqa: BLE001 - reported to the trainer on the first call
        load_error = RuntimeError(f"cannot load the reward in a worker process: {type(err).__name__}: {err}")
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        try:
            if load_error is not None:
                raise load_error
            reply: tuple[str, Any] = ("ok", list(call_reward(fn, *request)))  # type: ignore[arg-type]
        except BaseException as err:  # noqa: BLE001 - everything goes back to the trainer
            reply = ("error", _portable(err))
        try:
            conn.send(reply)
        except Exception as err:  # noqa: BLE001 - e.g. a value that cannot be pickled
            conn.send(("error", RuntimeError(f"the reward's return value cannot be sent back: {err}")))


class _Worker(NamedTuple):
    process: Any  # multiprocessing.Process
    conn: Connection


def _kill(workers: Sequence[_Worker], grace: float = 0.0) -> None:
    for w in workers:
        if grace:
            w.process.join(grace)
    for w in workers:
        if w.process.is_alive():
            w.process.kill()
    for w in workers:
        w.process.join(5)
        w.conn.close()


def _describe_exit(code: Optional[int]) -> str:
    if code is not None and code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


class PooledReward:
    """A reward callable that fans each call out to worker processes (see the module doc)."""

    def __init__(self, fn: Callable[..., Any], workers: int, group: int = 1,
                 timeout: Optional[float] = None) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        if timeout is not None and not timeout > 0:
            raise ValueError(f"timeout must be > 0 seconds or None, got {timeout}")
        try:
            self._fn_bytes = pickle.dumps(fn)
        except Exception as err:  # noqa: BLE001 - any pickling failure means the same thing
            raise ValueError(f"a reward run in worker processes must be picklable (a module-level "
                             f"function, not a lambda or closure): {err}") from None
        self.fn, self.workers, self.group, self.timeout = fn, workers, group, timeout
        self.should_stop: Optional[Callable[[], bool]] = None  # the trainer's "a stop signal came"
        self.__name__ = getattr(fn, "__name__", type(fn).__name__)
        self._pool: list[_Worker] = []

    def _start(self) -> list[_Worker]:
        if self._pool and all(w.process.is_alive() for w in self._pool):
            return self._pool
        self.close()
        ctx = mp.get_context("spawn")
        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None  # inherited: no Ctrl-C
        try:  # tracebacks from a worker still importing
            for _ in range(self.workers):
                ours, theirs = ctx.Pipe()
                proc = ctx.Process(target=_worker_main, args=(theirs, self._fn_bytes, os.getpid()), daemon=True,
                                   name="seqrl-reward")
                proc.start()
                theirs.close()
                self._pool.append(_Worker(proc, ours))
        finally:
            if main:
                signal.signal(signal.SIGINT, previous)
        weakref.finalize(self, _kill, list(self._pool))
        return self._pool

    def __call__(self, completions: Sequence[Any], references: Sequence[Any], sources: Sequence[Any],
                 **columns: Any) -> list[Any]:
        n = len(completions)
        bounds = chunk_bounds(n, self.workers, self.group)
        pool = self._start()
        try:
            for (a, b), w in zip(bounds, pool):
                cols = {k: (v[a:b] if isinstance(v, (list, tuple)) and len(v) == n else v) for k, v in columns.items()}
                args = (list(completions[a:b]), list(references[a:b]) if references is not None else None,
                        list(sources[a:b]))
                try:
                    w.conn.send((args, cols))
                except (BrokenPipeError, OSError):
                    raise WorkerFailure("died", a, b, self._death(w, "before it got its samples")) from None
            replies = self._collect(pool[: len(bounds)], bounds)
        except BaseException:  # a timeout, a dead worker, Ctrl-C: no worker is left behind
            pool, self._pool = self._pool, []
            _kill(pool)
            raise
        out: list[Any] = []
        for kind, value in replies:
            if kind == "error":
                raise value  # the reward's own exception, with its type
            out.extend(value)
        return out

    def _collect(self, workers: list[_Worker], bounds: list[tuple[int, int]]) -> list[tuple[str, Any]]:
        """Every worker's reply, in order; raises WorkerFailure on a death or the timeout."""
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        stopping: Optional[float] = None
        replies: dict[int, tuple[str, Any]] = {}
        while len(replies) < len(workers):
            pending = [i for i in range(len(workers)) if i not in replies]
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                a, b = bounds[pending[0]]
                raise WorkerFailure("timeout", a, b, f"did not return within task.reward_timeout={self.timeout:g} s")
            if self.should_stop is not None and self.should_stop():
                stopping = stopping or time.monotonic()
                if time.monotonic() - stopping > STOP_GRACE:  # a stop signal must not wait on a stuck reward
                    raise KeyboardInterrupt("stopped while reward workers were still scoring")
            if self.should_stop is not None:  # look at the stop flag twice a second
                left = 0.5 if left is None else min(left, 0.5)
            handles = [workers[i].conn for i in pending] + [workers[i].process.sentinel for i in pending]
            ready = set(wait(handles, left))
            for i in pending:
                w = workers[i]
                if w.conn in ready or w.conn.poll():
                    try:
                        replies[i] = w.conn.recv()
                        continue
                    except (EOFError, OSError):
                        pass
                if w.process.sentinel in ready or not w.process.is_alive():
                    raise WorkerFailure("died", *bounds[i], self._death(w, "while scoring them"))
        return [replies[i] for i in range(len(workers))]

    @staticmethod
    def _death(w: _Worker, when: str) -> str:
        w.process.join(1)
        return f"the reward worker (pid {w.process.pid}) {_describe_exit(w.process.exitcode)} {when}"

    def close(self) -> None:
        """Stop every worker now (a running call is abandoned)."""
        pool, self._pool = self._pool, []
        for w in pool:
            try:
                w.conn.send(None)
            except (BrokenPipeError, OSError):
                pass
        _kill(pool, grace=1.0)

    def __getstate__(self) -> dict[str, Any]:  # the workers (and the trainer's hook) never travel
        return {**self.__dict__, "_pool": [], "should_stop": None}
