"""Run a slow reward in a pool of worker processes.

`PooledReward(fn, workers, group)` has the reward contract `fn(completions, references,
sources, **columns)`. A call is split into one contiguous chunk per worker, cut only at
multiples of `group` (the k samples of an input, when the call holds whole groups), and each
chunk is ONE call of `fn` in a worker process: rewards that batch internally (a model, an
external scorer) keep their batching. Results come back in order, so for a reward that scores
each sample on its own the values are exactly those of an in-process call.

Workers are started with "spawn" (safe next to PyTorch's thread pools) on the first call, so
`fn` must be picklable: a module-level function or a picklable object, not a lambda or closure.
An exception raised in a worker is re-raised in the caller with its original type, so the
checked reward wrapper can still blame the sample. Columns that are not lists of one value
per sample are passed to every chunk unchanged.
"""
from __future__ import annotations

import multiprocessing as mp
import pickle
import weakref
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Callable, Optional, Sequence


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


def _call(fn: Callable[..., Any], args: tuple, columns: dict[str, Any]) -> list[Any]:
    return list(fn(*args, **columns))


class PooledReward:
    """A reward callable that fans each call out to worker processes (see the module doc)."""

    def __init__(self, fn: Callable[..., Any], workers: int, group: int = 1) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        try:
            pickle.dumps(fn)
        except Exception as err:  # noqa: BLE001 - any pickling failure means the same thing
            raise ValueError(f"a reward run in worker processes must be picklable (a module-level "
                             f"function, not a lambda or closure): {err}") from None
        self.fn, self.workers, self.group = fn, workers, group
        self.__name__ = getattr(fn, "__name__", type(fn).__name__)
        self._pool: Optional[ProcessPoolExecutor] = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=mp.get_context("spawn"))
            weakref.finalize(self, self._pool.shutdown, wait=False, cancel_futures=True)
        return self._pool

    def __call__(self, completions: Sequence[Any], references: Sequence[Any], sources: Sequence[Any],
                 **columns: Any) -> list[Any]:
        n = len(completions)
        bounds = chunk_bounds(n, self.workers, self.group)
        if len(bounds) == 1:  # nothing to split: no inter-process round trip
            return _call(self.fn, (completions, references, sources), columns)
        pool = self._executor()
        futures = []
        for a, b in bounds:
            cols = {k: (v[a:b] if isinstance(v, (list, tuple)) and len(v) == n else v) for k, v in columns.items()}
            futures.append(pool.submit(_call, self.fn, (list(completions[a:b]), list(references[a:b]),
                                                        list(sources[a:b])), cols))
        out: list[Any] = []
        for f in futures:
            out.extend(f.result())  # re-raises a worker's exception with its type
        return out

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __getstate__(self) -> dict[str, Any]:  # the pool itself never travels
        return {**self.__dict__, "_pool": None}
