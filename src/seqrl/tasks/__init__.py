"""Task registry: build a task by name with `make_task("reverse", base=8)`."""
from __future__ import annotations

import difflib
from typing import Any, Callable

from seqrl.tasks.algorithmic import AdditionTask, CopyTask, RepeatCopyTask, ReverseTask, SortTask
from seqrl.tasks.base import Example, Task
from seqrl.tasks.data import TaskData, collate
from seqrl.tasks.digit_sum import DigitSumTask

TASKS: dict[str, Callable[..., Task]] = {
    "copy": CopyTask,
    "reverse": ReverseTask,
    "repeat_copy": RepeatCopyTask,
    "sort": SortTask,
    "addition": AdditionTask,
    "digit_sum": DigitSumTask,
}


def make_task(name: str, **options: Any) -> Task:
    """The registered task `name`, built with `options`; ValueError for unknown names or options."""
    if name not in TASKS:
        close = difflib.get_close_matches(name, list(TASKS), n=1) if isinstance(name, str) else []
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown task {name!r}{hint} (available: {', '.join(sorted(TASKS))})")
    try:
        return TASKS[name](**options)
    except TypeError as e:
        raise ValueError(f"invalid options {sorted(options)} for task {name!r}: {e}") from None


def describe_tasks() -> list[tuple[str, str]]:
    """(name, description) of every registered task, sorted by name."""
    return [(name, TASKS[name]().description) for name in sorted(TASKS)]


__all__ = [
    "TASKS",
    "AdditionTask",
    "CopyTask",
    "DigitSumTask",
    "Example",
    "RepeatCopyTask",
    "ReverseTask",
    "SortTask",
    "Task",
    "TaskData",
    "collate",
    "describe_tasks",
    "make_task",
]
